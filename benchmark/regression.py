"""Regression check: compare a fresh set of result files against a committed baseline.

A problem is reported when a baseline cell is missing from the new results (a row
disappeared), changed status, or when any mean metric moved by more than ``tolerance``
(absolute). On the same machine with the same seed the numbers are identical; the
default tolerance (``DEFAULT_TOLERANCE``) absorbs floating-point differences between
CPUs (a few ranking ties flipping), not real changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.results import iter_results

DEFAULT_TOLERANCE = 2e-3


@dataclass(frozen=True)
class Drift:
    cell: str
    what: str
    baseline: float | str | None
    new: float | str | None

    def __str__(self) -> str:
        return f"{self.cell}: {self.what}: baseline {self.baseline} → new {self.new}"


def _index(results_dir: Path, profile: str | None) -> dict[str, dict]:
    out = {}
    for path, res in iter_results(results_dir, profile):
        rel = path.relative_to(results_dir).as_posix()
        out[rel] = res
    return out


def compare(baseline_dir: Path, new_dir: Path, profile: str | None = None,
            tolerance: float = DEFAULT_TOLERANCE) -> list[Drift]:
    """Every drift of ``new_dir`` from ``baseline_dir`` (empty list = no regression)."""
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
        bm = b.get("metrics") or (b.get("stats") and {k: v for k, v in b["stats"].items()
                                                    if isinstance(v, (int, float))}) or {}
        nm = n.get("metrics") or (n.get("stats") and {k: v for k, v in n["stats"].items()
                                                    if isinstance(v, (int, float))}) or {}
        for m, bv in sorted(bm.items()):
            nv = nm.get(m)
            if nv is None:
                drifts.append(Drift(rel, f"metric {m} missing", bv, None))
            elif bv is None or abs(float(nv) - float(bv)) > tolerance:
                drifts.append(Drift(rel, f"{m} moved by more than {tolerance}", bv, nv))
    return drifts
