"""``larpbench results stale``: records made on another build of their dataset are found and
moved out of the results folder (never deleted); records of the current build, of datasets
not built here, and training logs a current cell uses stay."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark.core.profiles import get_profile
from benchmark.core.results import write_record
from benchmark.harness import stale as stale_mod


def _cell(dataset: str, hash_: str, run: str = "") -> dict:
    return {"kind": "cell", "status": "ok", "cell_key": f"k-{dataset}-{hash_[:4]}-{run}",
            "cell": {"dataset": dataset, "encoder": "e", "recommender": "r", "seed": 0, "profile": "ci"},
            "dataset": {"hash": hash_}, "metrics": {"recall@10": 0.1},
            "encoder_fit": {"stage_dir": run} if run else {}}


@pytest.fixture
def tiny_profile(monkeypatch):
    """The ci profile pointed at the tiny world the session fixture builds."""
    monkeypatch.setattr(stale_mod, "get_profile",
                        lambda name: dataclasses.replace(get_profile("ci"), dataset_size="tiny"))


def test_stale_records_are_found_and_moved(tiny_dataset, tiny_profile, tmp_path):
    results = tmp_path / "results"
    current = tiny_dataset.content_hash
    write_record(results / "ci/synth-mpd/fresh/r/seed0.json", _cell("synth-mpd", current, run="run-kept"))
    write_record(results / "ci/synth-mpd/old/r/seed0.json", _cell("synth-mpd", "0" * 64, run="run-old"))
    write_record(results / "ci/folk21/e/r/seed0.json", _cell("folk21", "1" * 64))  # not built here: not judged
    for run in ("run-kept", "run-old"):
        write_record(results / f"ci/training/{run}.json",
                     {"kind": "training_log", "status": "ok", "cell": {"run": run, "profile": "ci"}, "epochs": []})

    found = stale_mod.stale_records(results, "ci")
    assert [s.path.relative_to(results).as_posix() for s in found] == [
        "ci/synth-mpd/old/r/seed0.json", "ci/training/run-old.json"]
    assert f"the current build is {current[:12]}" in found[0].reason

    with pytest.raises(ValueError, match="inside the results folder"):
        stale_mod.move_records(found, results, results / "attic")
    attic = tmp_path / "attic"
    moved = stale_mod.move_records(found, results, attic)
    assert [new.relative_to(attic).as_posix() for _, new in moved] == [
        "ci/synth-mpd/old/r/seed0.json", "ci/training/run-old.json"]
    assert not (results / "ci/synth-mpd/old").exists()  # the emptied cell folder is gone
    assert (results / "ci/synth-mpd/fresh/r/seed0.json").exists()
    assert (results / "ci/folk21/e/r/seed0.json").exists()
    assert stale_mod.stale_records(results, "ci") == []
