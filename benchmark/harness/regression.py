"""Regression check: compare a fresh set of result files against a committed baseline.

A problem is reported when a baseline cell is missing from the new results (a row
disappeared), changed status, or when any mean metric moved by more than the tolerance
(absolute). On the same machine with the same seed the numbers are identical. Between
CPUs they are not: torch and OpenBLAS pick kernels by instruction set, so sums run in a
different order. Cells without gradient training (frozen encoder + ItemKNN) then move by
ranking ties at most, and ``DEFAULT_TOLERANCE`` applies; cells where an encoder or a
recommender was trained by gradient descent amplify those last bits over the epochs, and
``TRAINED_TOLERANCE`` applies (see ``docs/recommenders.md``, "Regression tolerance",
for the drift measured between AVX2 and AVX-512 kernels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.core.dataref import is_variant
from benchmark.core.results import iter_records

DEFAULT_TOLERANCE = 2e-3
TRAINED_TOLERANCE = 3e-2
#: what the check compares: grid cells (metrics) and dataset statistics (Table 1's numbers)
COMPARED_KINDS = ("cell", "dataset_stats")


def gradient_trained(result: dict) -> bool:
    """Whether an encoder or recommender of this cell was trained by gradient descent.

    Recommenders declare it in their metadata (``RecommenderMeta.trains``); for encoders
    it is read from the fit report the grid stores: optimiser ``steps`` (or LARP's ``stages``).
    """
    enc = result.get("encoder_fit") or {}
    rec_meta = (result.get("recommender") or {}).get("meta") or {}
    return bool("steps" in enc or "stages" in enc or rec_meta.get("trains"))


def _flatten(values: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in values.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


def compared_numbers(record) -> dict[str, float]:
    """The numbers the check compares: a cell's mean metrics, or every number of a dataset
    statistics record (nested per-split counts as ``per_split.train.tracks``)."""
    if record.get("kind", "cell") == "dataset_stats":
        return _flatten(record.get("stats") or {})
    return dict(record.get("metrics") or {})


@dataclass(frozen=True)
class Drift:
    cell: str
    what: str
    baseline: float | str | None
    new: float | str | None

    def __str__(self) -> str:
        return f"{self.cell}: {self.what}: baseline {self.baseline} → new {self.new}"


def _index(results_dir: Path, profile: str | None) -> dict[str, dict]:
    """The compared records, by path. Cells of dataset variants (worlds with generator
    overrides, e.g. the caption sweep's) are study outputs, not part of the ci grid: skipped."""
    out = {}
    for res in iter_records(results_dir, profile, kinds=COMPARED_KINDS):
        assert res.path is not None
        if is_variant(str((res.get("cell") or {}).get("dataset") or res.get("dataset") or "")):
            continue
        rel = res.path.relative_to(results_dir).as_posix()
        out[rel] = res
    return out


def compare(baseline_dir: Path, new_dir: Path, profile: str | None = None,
            tolerance: float = DEFAULT_TOLERANCE,
            trained_tolerance: float = TRAINED_TOLERANCE) -> list[Drift]:
    """Every drift of ``new_dir`` from ``baseline_dir`` (empty list = no regression).

    ``trained_tolerance`` replaces ``tolerance`` for cells the baseline marks as
    gradient-trained (:func:`gradient_trained`); pass the same value twice for one bound.
    """
    base = _index(Path(baseline_dir), profile)
    new = _index(Path(new_dir), profile)
    if not base:
        raise FileNotFoundError(f"no result files under {Path(baseline_dir) / (profile or '')}")
    drifts: list[Drift] = []
    for rel, b in sorted(base.items()):
        n = new.get(rel)
        if n is None:
            drifts.append(Drift(rel, "missing (row disappeared)", "present", None))
            continue
        if b.get("status", "ok") != n.get("status", "ok"):
            drifts.append(Drift(rel, "status", b.get("status"), n.get("status")))
            continue
        bm, nm = compared_numbers(b), compared_numbers(n)
        tol = trained_tolerance if gradient_trained(b) else tolerance
        for m, bv in sorted(bm.items()):
            nv = nm.get(m)
            if nv is None:
                drifts.append(Drift(rel, f"metric {m} missing", bv, None))
            elif bv is None or abs(float(nv) - float(bv)) > tol:
                drifts.append(Drift(rel, f"{m} moved by more than {tol}", bv, nv))
    return drifts
