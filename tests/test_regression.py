"""Regression check: rerun the committed ci grid and compare.

Fails when any metric moves beyond ``benchmark.harness.regression.DEFAULT_TOLERANCE`` or a row of
the committed baseline (``results/ci``) disappears.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.core.results import iter_results, write_result
from benchmark.harness.grid import GridConfig, GridRunner
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
        if res.get("kind") == "dataset_stats":
            continue
        c = res["cell"]
        cells.add((c["dataset"], c["encoder"], c["recommender"], c["seed"]))
    return sorted(cells)


def test_compare_detects_drift_and_missing_rows(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    res = {"schema": "larpbench-result/1", "status": "ok", "cell": {},
           "metrics": {"recall@10": 0.10, "ndcg@10": 0.20}}
    write_result(a / "ci/d/e/r/seed0.json", res)
    write_result(a / "ci/d/e2/r/seed0.json", res)
    write_result(b / "ci/d/e/r/seed0.json", {**res, "metrics": {"recall@10": 0.10 + DEFAULT_TOLERANCE / 2,
                                                                 "ndcg@10": 0.25}})
    drifts = compare(a, b, "ci")
    assert [d.what for d in drifts] == ["ndcg@10 moved by more than 0.002", "missing (row disappeared)"]
    assert all(isinstance(d, Drift) for d in drifts)
    assert compare(a, a, "ci") == []


def test_trained_cells_get_the_wider_tolerance(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    moved = (DEFAULT_TOLERANCE + TRAINED_TOLERANCE) / 2  # beyond the default, inside the trained bound
    frozen = {"schema": "larpbench-result/1", "status": "ok", "cell": {}, "metrics": {"recall@10": 0.1},
              "encoder_fit": None, "recommender": {"meta": {"name": "itemknn", "trains": False}}}
    trained_rec = {**frozen, "recommender": {"meta": {"name": "dropoutnet", "trains": True}}}
    trained_enc = {**frozen, "encoder_fit": {"steps": 120, "loss_first": 5.0}}
    larp = {**frozen, "encoder_fit": {"stages": [{"stage": 1}]}}
    for name, res in (("frozen", frozen), ("rec", trained_rec), ("enc", trained_enc), ("larp", larp)):
        write_result(a / f"ci/d/{name}/r/seed0.json", res)
        write_result(b / f"ci/d/{name}/r/seed0.json", {**res, "metrics": {"recall@10": 0.1 + moved}})
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
    drifts = [d for d in compare(BASELINE, new, "ci") if "dataset_stats" not in d.cell]
    if drifts:
        shutil.copytree(new, ROOT / ".cache" / "regression-failed", dirs_exist_ok=True)
    assert not drifts, "\n".join(map(str, drifts))
