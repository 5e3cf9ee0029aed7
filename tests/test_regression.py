"""Regression check: rerun the committed ci grid and compare.

Fails when any metric moves beyond ``benchmark.regression.DEFAULT_TOLERANCE`` or a row of
the committed baseline (``results/ci``) disappears.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.grid import GridConfig, GridRunner
from benchmark.regression import DEFAULT_TOLERANCE, Drift, compare
from benchmark.results import iter_results, write_result

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
