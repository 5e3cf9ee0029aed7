"""Dataset variants: ``NAME[key=value,...]`` references name a builder's world with overrides.
They round-trip through their folder name, different overrides never share a folder or a
cell key, and unknown names or bad values are refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.core.dataref import (
    DatasetRef,
    DatasetRefError,
    format_value,
    parse_folder,
    parse_value,
)
from benchmark.core.dataset import DatasetError
from benchmark.core.registry import RegistryError
from benchmark.core.results import Cell, cell_key
from benchmark.data import catalog
from benchmark.harness.grid import GridConfig, GridRunner

REFS = [
    "synth-mpd[artist_affinity=0.25,seed=1]",
    "synth-mpd[artist_affinity=0.0]",
    "synth-lfm[curator_genres=0.5+0.5,seed=3]",
    "synth-mpd[n_genres=4,outlier_rate=1e-05]",
    "folk21[seed=2]",
    "synth-mpd",
]


@pytest.mark.parametrize("text", REFS)
def test_a_reference_round_trips_through_its_folder_name(text):
    ref = catalog.reference(text)
    assert ref.label() == text  # these are written canonically already
    folder = catalog.dataset_path(text, "ci").name
    assert folder == f"{text}-ci"
    back, size = parse_folder(folder)
    assert size == "ci" and back == ref and catalog.reference(back.label()) == ref
    assert all(c.isalnum() or c in "_.-+=,[]" for c in folder)  # valid on Linux, macOS and Windows


@pytest.mark.parametrize("text", ["0.25", "-3", "7", "1e-05", "1e16", "true", "word_x.1", "0.5+0.25+0.25"])
def test_values_round_trip(text):
    v = parse_value(text)
    assert parse_value(format_value(v)) == v


def test_spellings_of_one_world_share_a_folder_and_different_worlds_do_not():
    same = ["synth-mpd[seed=1,artist_affinity=.25]", "synth-mpd[artist_affinity=0.250,seed=1]",
            "synth-mpd[artist_affinity=2.5e-1,seed=1]"]
    assert {catalog.label(t) for t in same} == {"synth-mpd[artist_affinity=0.25,seed=1]"}
    # a float field given an integer is the same world as the float
    assert catalog.label("synth-mpd[artist_affinity=1]") == catalog.label("synth-mpd[artist_affinity=1.0]")
    worlds = ["synth-mpd", "synth-mpd[seed=1]", "synth-mpd[artist_affinity=0.25]",
              "synth-mpd[artist_affinity=0.25,seed=1]", "synth-mpd[artist_affinity=0.5,seed=1]",
              "synth-lfm[artist_affinity=0.25,seed=1]"]
    assert len({catalog.dataset_path(w, "ci") for w in worlds}) == len(worlds)


def test_two_overrides_never_share_a_cell_key_or_result_path():
    """Even with the same dataset hash (an override that changed no table), the dataset
    label is part of the cell's identity, so the keys and result folders differ."""
    a, b = catalog.label("synth-mpd[artist_affinity=0.25]"), catalog.label("synth-mpd[artist_affinity=0.5]")
    cells = [Cell("ci", d, "random", "itemknn", 0) for d in (a, b, "synth-mpd")]
    keys = {cell_key(c, dataset_hash="h", encoder_version="1", encoder_config={}, recommender_version="1",
                     recommender_config={}, shuffle_seed=0, selection_split="valid") for c in cells}
    assert len(keys) == 3
    assert len({c.path(Path("r")) for c in cells}) == 3
    assert cells[0].path(Path("r")).parts[2] == "synth-mpd[artist_affinity=0.25]"


def test_unknown_override_is_refused_naming_dataset_and_field():
    with pytest.raises(DatasetRefError, match=r"'synth-mpd' takes no override 'artist_afinity'; "
                                              r"did you mean 'artist_affinity'"):
        catalog.reference("synth-mpd[artist_afinity=0.2]")
    with pytest.raises(DatasetRefError, match=r"'folk21' takes no override 'artist_affinity' \(it takes only seed\)"):
        catalog.reference("folk21[artist_affinity=0.2]")
    with pytest.raises(RegistryError, match="unknown dataset 'synth-mdp'"):
        catalog.reference("synth-mdp[seed=1]")


@pytest.mark.parametrize("text, message", [
    ("synth-mpd[artist_affinity=abc]", r"artist_affinity takes a number, got 'abc'"),
    ("synth-mpd[n_genres=3.5]", r"n_genres takes an integer, got 3.5"),
    ("synth-mpd[seed=-1]", r"seed takes an integer >= 0"),
    ("synth-mpd[seed=1", r"one\s+closing '\]'"),
    ("synth-mpd[seed]", r"'seed' is not key=value"),
    ("synth-mpd[seed=1,seed=2]", r"'seed' is given twice"),
    ("synth-mpd[artist_affinity=1/2]", r"value '1/2' is not a number"),
])
def test_malformed_references_and_values_name_the_field(text, message):
    with pytest.raises(DatasetRefError, match=message):
        catalog.reference(text)


def test_out_of_range_values_are_refused_with_the_field_and_its_range():
    with pytest.raises(DatasetRefError, match=r"synth-mpd\[artist_affinity=1.5\]' at size 'tiny'.*"
                                              r"artist_affinity=[0-9.]+ is outside its allowed range \[0, 1\]"):
        catalog.check_reference("synth-mpd[artist_affinity=1.5]", "tiny")
    with pytest.raises(DatasetRefError, match=r"outlier_rate must be in \[0, 1\)"):
        catalog.build("synth-mpd[outlier_rate=1.0]", "tiny", progress=False)
    assert not list(catalog.data_root().glob("*outlier_rate*"))  # refused before anything is written


def test_the_grid_refuses_a_bad_override_before_any_cell(tmp_path):
    with pytest.raises(DatasetRefError, match=r"artist_affinity=[0-9.]+ is outside its allowed range \[0, 1\]"):
        GridRunner(GridConfig(profile="ci", datasets=["synth-mpd[artist_affinity=2]"], encoders=["random"],
                              recommenders=["itemknn"], results_dir=tmp_path, progress=False))


def test_a_seed_flag_other_than_the_default_is_the_references_seed():
    with pytest.raises(DatasetError, match=r"seed 2 contradicts the reference's seed=1"):
        catalog.build("synth-mpd[seed=1]", "tiny", seed=2, progress=False)


def test_pending_encoders_are_skipped_with_a_reason_and_typos_are_errors(tmp_path):
    base = dict(profile="ci", datasets=["synth-mpd"], recommenders=["itemknn"], seeds=[0], results_dir=tmp_path,
                progress=False)
    runner = GridRunner(GridConfig(encoders=["random", "oracle-unwritten"], pending_encoders=["oracle-unwritten"],
                                   **base))
    assert list(runner.cfg.encoders) == ["random"]
    assert "'oracle-unwritten' is not registered" in runner.unregistered["oracle-unwritten"]
    assert [c.encoder for c in runner.skipped_cells()] == ["oracle-unwritten"]
    with pytest.raises(RegistryError, match="oracle-unwritten"):
        GridRunner(GridConfig(encoders=["random", "oracle-unwritten"], **base))


def test_a_variant_is_built_and_run_through_the_grid(tmp_path, tiny_dataset, monkeypatch):
    """The variant's world is built in its own folder with the overrides in its manifest, and
    its cells sit beside (never on) the default world's."""
    from benchmark.core import profiles
    from benchmark.core.results import read_record

    monkeypatch.setitem(profiles.PROFILES, "ci", profiles.Profile("ci", "tiny", ("synth-mpd",), (0,), "test"))
    spelled = "synth-mpd[seed=1,artist_affinity=0.2]"
    runner = GridRunner(GridConfig(profile="ci", datasets=["synth-mpd", spelled], encoders=["random"],
                                   recommenders=["itemknn"], seeds=[0], results_dir=tmp_path, progress=False,
                                   fail_fast=True))
    out = runner.run()
    assert len(out["ok"]) == 2 and not out["unregistered"]
    variant = next(c for c in out["ok"] if c.dataset != "synth-mpd")
    assert variant.dataset == "synth-mpd[artist_affinity=0.2,seed=1]"
    folder = catalog.data_root() / "synth-mpd[artist_affinity=0.2,seed=1]-tiny"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["name"] == folder.name
    assert manifest["params"]["artist_affinity"] == 0.2 and manifest["params"]["seed"] == 1
    recs = {c.dataset: read_record(c.path(tmp_path)) for c in out["ok"]}
    assert recs["synth-mpd"]["cell_key"] != recs[variant.dataset]["cell_key"]
    assert recs["synth-mpd"]["dataset"]["hash"] != recs[variant.dataset]["dataset"]["hash"]
    assert recs[variant.dataset]["dataset"]["paper_column"] is None  # a variant stands for no paper column
    assert recs["synth-mpd"]["dataset"]["paper_column"] == "MPD"
    # the folder, used by path, goes by its manifest name: a name of its own
    assert GridRunner(GridConfig(profile="ci", datasets=[str(folder)], encoders=["random"],
                                 recommenders=["itemknn"], results_dir=tmp_path, progress=False)
                      ).cells()[0].dataset == folder.name
    assert DatasetRef.parse(variant.dataset).values == {"artist_affinity": 0.2, "seed": 1}
