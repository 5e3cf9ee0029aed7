"""Regression check: rerun the committed ci grid and compare.

Fails when any metric moves beyond ``benchmark.harness.regression.DEFAULT_TOLERANCE`` or a row of
the committed baseline (``results/ci``) disappears.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.core.dataref import is_variant
from benchmark.core.results import STATS_FILE, iter_results, write_record
from benchmark.harness.datastats import write_dataset_stats
from benchmark.harness.embeddings import EmbeddingStore
from benchmark.harness.grid import GridConfig, GridRunner, make_encoder
from benchmark.harness.regression import (
    DEFAULT_TOLERANCE,
    TRAINED_TOLERANCE,
    Drift,
    compare,
    gradient_trained,
)

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "results"


def _baseline_cells():
    cells = set()
    for _, res in iter_results(BASELINE, "ci"):
        c = res["cell"]
        if is_variant(c["dataset"]):
            continue  # study worlds (the caption sweep), not the ci grid
        cells.add((c["dataset"], c["encoder"], c["recommender"], c["seed"]))
    return sorted(cells)


def test_compare_detects_drift_and_missing_rows(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    res = {"kind": "cell", "cell_key": "k", "status": "ok", "cell": {},
           "metrics": {"recall@10": 0.10, "ndcg@10": 0.20}}
    write_record(a / "ci/d/e/r/seed0.json", res)
    write_record(a / "ci/d/e2/r/seed0.json", res)
    variant = {**res, "cell": {"dataset": "synth-mpd[caption_vocab=0.5]"}}
    write_record(a / "ci/synth-mpd[caption_vocab=0.5]/e/r/seed0.json", variant)  # a study world: not compared
    write_record(b / "ci/d/e/r/seed0.json", {**res, "metrics": {"recall@10": 0.10 + DEFAULT_TOLERANCE / 2,
                                                                 "ndcg@10": 0.25}})
    drifts = compare(a, b, "ci")
    assert [d.what for d in drifts] == ["ndcg@10 moved by more than 0.002", "missing (row disappeared)"]
    assert all(isinstance(d, Drift) for d in drifts)
    assert compare(a, a, "ci") == []


def test_compare_covers_dataset_statistics(tmp_path):
    """A changed Table 1 statistic (here one split's track count) is a drift."""
    a, b = tmp_path / "a", tmp_path / "b"
    stats = {"kind": "dataset_stats", "cell": {"profile": "ci", "dataset": "d"},
             "stats": {"train_tracks": 800, "homogeneity": 0.31,
                       "per_split": {"train": {"tracks": 800}, "test": {"tracks": 200}}}}
    write_record(a / "ci/d" / STATS_FILE, stats)
    write_record(b / "ci/d" / STATS_FILE, stats)
    assert compare(a, b, "ci") == []
    changed = {**stats, "stats": {**stats["stats"], "per_split": {"train": {"tracks": 800}, "test": {"tracks": 190}}}}
    write_record(b / "ci/d" / STATS_FILE, changed)
    (drift,) = compare(a, b, "ci")
    assert drift.cell == f"ci/d/{STATS_FILE}" and drift.what.startswith("per_split.test.tracks moved")
    assert (drift.baseline, drift.new) == (200.0, 190.0)


def test_committed_baseline_includes_dataset_statistics():
    from benchmark.core.results import iter_records

    kinds = {r.kind for r in iter_records(BASELINE, "ci")}
    assert {"cell", "dataset_stats"} <= kinds  # (the throughput study's records sit there too)


def test_trained_cells_get_the_wider_tolerance(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    moved = (DEFAULT_TOLERANCE + TRAINED_TOLERANCE) / 2  # beyond the default, inside the trained bound
    frozen = {"kind": "cell", "cell_key": "k", "status": "ok", "cell": {}, "metrics": {"recall@10": 0.1},
              "encoder_fit": None, "recommender": {"meta": {"name": "itemknn", "trains": False}}}
    trained_rec = {**frozen, "recommender": {"meta": {"name": "dropoutnet", "trains": True}}}
    trained_enc = {**frozen, "encoder_fit": {"steps": 120, "loss_first": 5.0}}
    larp = {**frozen, "encoder_fit": {"stages": [{"stage": 1}]}}
    for name, res in (("frozen", frozen), ("rec", trained_rec), ("enc", trained_enc), ("larp", larp)):
        write_record(a / f"ci/d/{name}/r/seed0.json", res)
        write_record(b / f"ci/d/{name}/r/seed0.json", {**res, "metrics": {"recall@10": 0.1 + moved}})
    assert [gradient_trained(r) for r in (frozen, trained_rec, trained_enc, larp)] == [False, True, True, True]
    drifts = compare(a, b, "ci")
    assert [d.cell for d in drifts] == ["ci/d/frozen/r/seed0.json"]
    assert drifts[0].what == f"recall@10 moved by more than {DEFAULT_TOLERANCE}"
    # one bound for all cells when both tolerances are the same
    assert len(compare(a, b, "ci", tolerance=DEFAULT_TOLERANCE, trained_tolerance=DEFAULT_TOLERANCE)) == 4


@pytest.mark.slow
def test_ci_grid_matches_committed_baseline(tmp_path):
    cells = _baseline_cells()
    assert cells, "results/ci holds no committed baseline"
    new = tmp_path / "results"
    runner = GridRunner(GridConfig(
        profile="ci", datasets=sorted({c[0] for c in cells}), encoders=sorted({c[1] for c in cells}),
        recommenders=sorted({c[2] for c in cells}), seeds=sorted({c[3] for c in cells}),
        results_dir=new, progress=False, fail_fast=True))
    for cell in runner.cells():
        if (cell.dataset, cell.encoder, cell.recommender, cell.seed) in cells:
            runner.run_cell(cell)
    for d in runner.cfg.datasets:  # Table 1's statistics are part of the baseline too
        ds = runner.dataset(d)
        write_dataset_stats(ds, "ci", d, new, EmbeddingStore(make_encoder("melstats", "ci", 0), ds, 0,
                                                            progress=False))
    drifts = compare(BASELINE, new, "ci")
    if drifts:
        shutil.copytree(new, ROOT / ".cache" / "regression-failed", dirs_exist_ok=True)
    assert not drifts, "\n".join(map(str, drifts))
