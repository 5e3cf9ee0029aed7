"""Studies as data: every declared study names registered parts and renderers that exist;
running one writes ordinary result records; rendering reads records only."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark import studies
from benchmark.core.dataref import DatasetRef
from benchmark.core.results import iter_records
from benchmark.core.study import Block, Output, Study
from benchmark.data import catalog
from benchmark.harness.studies import block_config, run_study
from benchmark.reports.studies import render_study, renderer
from encoders import REGISTRY as ENCODERS
from recommenders import REGISTRY as RECOMMENDERS

ROOT = Path(__file__).resolve().parents[1]
ALL = sorted(studies.studies())


def test_the_papers_studies_are_declared():
    assert {"table1", "table2", "table3", "table4", "figures"} <= set(ALL)
    with pytest.raises(LookupError, match="did you mean 'table2'"):
        studies.get("tabel2")


@pytest.mark.parametrize("name", ALL)
def test_study_names_registered_parts(name):
    study = studies.get(name)
    known_datasets = set(catalog.builders())
    for block in study.blocks:
        for e in block.encoders:
            if e not in study.pending:  # pending: declared ahead of its code, skipped until registered
                ENCODERS.get(e)
        for r in block.recommenders:
            RECOMMENDERS.get(r)
        # a variant reference names a builder and overrides it takes (values: checked at run time,
        # since a dial may land on main before the study's branch sees it)
        assert {DatasetRef.parse(d).name for d in block.datasets} <= known_datasets
        assert all(catalog.label(d) == d for d in block.datasets if d in catalog.REGISTRY or _takes(d)), \
            "declare variant references in their canonical spelling"
        assert block.train_dataset in known_datasets | {None}
    assert set(study.stats_datasets) <= known_datasets
    assert study.outputs, "a study renders at least one output"
    for output in study.outputs:
        assert callable(renderer(output))


@pytest.mark.parametrize("name", ["table1", "table2", "table2-folk21", "table3", "table4", "figures", "ceilings",
                                  "artist-gnn", "throughput"])
def test_rendering_the_committed_quick_results_reproduces_the_committed_files(name, tmp_path):
    """Outputs are rendered from records only: the committed quick records give back the
    committed tables and figures byte for byte."""
    import shutil

    from benchmark.core.results import iter_records

    study = studies.get(name)
    if study.training_logs and not any(True for _ in iter_records(ROOT / "results", "quick", kinds=("training_log",))):
        assert not any((ROOT / "results" / "quick" / o.file).exists() for o in study.outputs), \
            f"{name}: outputs are committed without the records they are rendered from"
        pytest.skip(f"{name}: no committed quick training logs (LARP's quick cells are recomputed by issue #13 "
                    "on the current worlds)")
    shutil.copytree(ROOT / "results" / "quick", tmp_path / "quick",
                    ignore=shutil.ignore_patterns("*.md", "*.png"))
    for path, _ in render_study(study, "quick", tmp_path):
        assert path.read_bytes() == (ROOT / "results" / "quick" / path.name).read_bytes(), path.name


def _takes(ref: str) -> bool:
    """Whether the builder takes every override of ``ref`` on this checkout."""
    r = DatasetRef.parse(ref)
    names = {"seed", *catalog.get_builder(r.name).override_names()}
    return set(r.values) <= names


def test_renderers_must_live_in_reports():
    with pytest.raises(ValueError, match=r"benchmark\.reports"):
        renderer(Output("x.md", "os:remove"))


def test_block_restriction():
    block = Block(datasets=("synth-mpd", "synth-lfm"), encoders=("larp",))
    cfg = block_config(block, "ci", Path("r"), datasets=["synth-lfm"])
    assert cfg is not None and list(cfg.datasets) == ["synth-lfm"] and list(cfg.encoders) == ["larp"]
    assert block_config(block, "ci", Path("r"), datasets=["folk21"]) is None
    open_block = block_config(Block(), "ci", Path("r"), encoders=["melstats"])
    assert open_block is not None and list(open_block.encoders) == ["melstats"] and not open_block.datasets


def test_run_study_writes_records_and_renders(tmp_path, tiny_dataset, monkeypatch):
    from benchmark.core import profiles

    monkeypatch.setitem(profiles.PROFILES, "ci", profiles.Profile("ci", "tiny", ("synth-mpd",), (0,), "test"))
    study = Study(name="mini", title="mini",
                  blocks=(Block(encoders=("melstats",), recommenders=("itemknn",)),
                          Block(encoders=("melstats",), recommenders=("itemknn",), variants=("n_mels=32",))),
                  stats_datasets=("synth-mpd",), stats_also=("melstats", "precomputed"),
                  outputs=(Output("table2.md", "benchmark.reports.tables:write_table2"),
                           Output("table1.md", "benchmark.reports.tables:write_table1")))
    out = run_study(study, "ci", tmp_path, progress=False, fail_fast=True)
    assert len(out["ok"]) == 2 and not out["failed"]
    kinds = sorted(r.kind for r in iter_records(tmp_path, "ci"))
    assert kinds == ["cell", "cell", "dataset_stats"]
    variant = next(r for r in iter_records(tmp_path, "ci", kinds=("cell",)) if r["cell"]["variant"])
    assert variant["encoder"]["config"]["n_mels"] == 32
    assert run_study(study, "ci", tmp_path, progress=False)["cached"]  # finished cells are reused
    rendered = dict(render_study(study, "ci", tmp_path))
    table2 = rendered[tmp_path / "ci" / "table2.md"]
    assert "melstats" in table2 and (tmp_path / "ci" / "table2.md").read_text() == table2 + "\n"
    assert "n_mels" not in table2  # a variant is not a Table 2 row
    table1 = rendered[tmp_path / "ci" / "table1.md"]
    assert "synth-mpd" in table1
    # the extra homogeneity encoders: the same encoder gives the same number; one that cannot
    # run here (no feature file) is recorded with its reason and shown as n/a
    (stats,) = iter_records(tmp_path, "ci", kinds=("dataset_stats",))
    also = stats["stats"]["homogeneity_also"]
    assert also["melstats"]["value"] == stats["stats"]["homogeneity"]
    assert also["precomputed"]["status"] == "unavailable" and "config.path" in also["precomputed"]["reason"]
    assert "Homogeneity (melstats)" in table1 and "Homogeneity (precomputed)" in table1
    row = next(line for line in table1.splitlines() if line.startswith("| synth-mpd"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    bg = stats["stats"]["homogeneity_background"]
    assert also["melstats"]["background"] == bg
    assert cells[6] == cells[7] == f"{stats['stats']['homogeneity']:.2f} ({bg:.2f})" and cells[8] == "n/a"


def test_background_cosine_is_the_mean_over_all_pairs():
    """The O(n·d) background against the pairwise definition, and on a hand-worked case:
    unit vectors (1,0), (0,1), (1,1)/√2 have cosines 0, 1/√2, 1/√2 → mean √2/3."""
    import numpy as np

    from benchmark.harness.datastats import background_cosine, mean_pairwise_cosine

    v = np.random.default_rng(0).normal(size=(40, 7)) + 0.5
    assert background_cosine(v) == pytest.approx(mean_pairwise_cosine(v), rel=1e-9)
    assert background_cosine(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])) == pytest.approx(2 ** 0.5 / 3)
    with pytest.raises(ValueError, match="at least 2"):
        background_cosine(np.ones((1, 3)))


def test_table_alias_prints_the_studys_output(tmp_path, capsys):
    from benchmark.cli import main

    assert main(["table", "2", "--profile", "ci", "--results", str(ROOT / "results"),
                 "--out", str(tmp_path / "t2.md")]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "t2.md").read_text() == (ROOT / "results" / "ci" / "table2.md").read_text()
    assert printed.strip() == (ROOT / "results" / "ci" / "table2.md").read_text().strip()


def test_cpu_shares_are_disjoint_and_cover_every_cpu():
    from benchmark.harness.studies import cpu_shares

    assert cpu_shares(2, [0, 1, 2]) == [[0, 2], [1]]
    assert cpu_shares(4, [5]) == [[5]]  # never an empty share
    assert cpu_shares(1, [0, 1]) == [[0, 1]]
    shares = cpu_shares(3, list(range(8)))
    assert sorted(c for s in shares for c in s) == list(range(8)) and len(shares) == 3


def test_split_tasks_gives_each_dataset_encoder_pair_its_blocks_slices_alternating_datasets():
    from benchmark.harness.grid import GridConfig
    from benchmark.harness.studies import split_tasks

    a = GridConfig(profile="ci", datasets=("synth-mpd", "synth-lfm"), encoders=("melstats", "random"))
    b = GridConfig(profile="ci", encoders=("melstats",), variants=("n_mels=32",))  # the profile's datasets
    tasks = split_tasks([a, b])
    got = [[(list(c.datasets), list(c.encoders), list(c.variants)) for c in t] for t in tasks]
    assert got == [
        [(["synth-mpd"], ["melstats"], []), (["synth-mpd"], ["melstats"], ["n_mels=32"])],
        [(["synth-lfm"], ["melstats"], []), (["synth-lfm"], ["melstats"], ["n_mels=32"])],
        [(["synth-mpd"], ["random"], [])],
        [(["synth-lfm"], ["random"], [])]]


def test_study_jobs_run_datasets_in_pinned_workers_with_the_same_numbers(tmp_path):
    """``--jobs 2``: one spawned worker per dataset, pinned to its own CPUs; a training-free
    cell's numbers equal the one-process run's."""
    import os

    try:
        from tests._fixture_tiny import write_tiny_dataset
    except ImportError:  # pragma: no cover - run from tests/
        from _fixture_tiny import write_tiny_dataset

    import json

    roots = []
    for name in ("tiny-a", "tiny-b"):  # results are filed under the manifest's name
        root = write_tiny_dataset(tmp_path / name).root
        manifest = json.loads((root / "manifest.json").read_text())
        (root / "manifest.json").write_text(json.dumps({**manifest, "name": name}))
        roots.append(str(root))
    study = Study(name="mini", title="mini",
                  blocks=(Block(datasets=tuple(roots), encoders=("melstats",), recommenders=("itemknn",)),))
    serial = run_study(study, "ci", tmp_path / "serial", progress=False, fail_fast=True)
    parallel = run_study(study, "ci", tmp_path / "parallel", progress=False, fail_fast=True, jobs=2)
    assert len(serial["ok"]) == len(parallel["ok"]) == 2

    def metrics(results):
        return {r.cell.dataset: (r["metrics"], r["provenance"]["device"]["torch_threads"])
                for r in iter_records(results, "ci", kinds=("cell",))}

    one, two = metrics(tmp_path / "serial"), metrics(tmp_path / "parallel")
    assert {k: m for k, (m, _) in one.items()} == {k: m for k, (m, _) in two.items()}
    n_cpus = len(os.sched_getaffinity(0))
    if n_cpus >= 2:  # each worker ran on its share of the CPUs
        assert {t for _, t in two.values()} == {n_cpus // 2, n_cpus - n_cpus // 2}
