"""Ranking metrics, exactly as the LARP paper defines them, plus the capped recall.

Notation for one playlist: ``GT`` its ground-truth set, ``hit_r = 1`` if the item at
rank ``r`` (1-based) of the top-K list is in ``GT``, ``hits@K = Σ_{r≤K} hit_r``.

- ``recall@K = hits@K / |GT|`` — the paper's definition; it is capped near ``K/|GT|``.
- ``recall_capped@K = hits@K / min(|GT|, K)`` — the common variant, reaching 1.
- ``ndcg@K = DCG@K / IDCG@K`` with binary gains, ``DCG@K = Σ_{r≤K} hit_r / log2(r+1)`` and
  ``IDCG@K = Σ_{r≤min(|GT|,K)} 1 / log2(r+1)``.

Each is averaged over playlists with non-empty ground truth. Per-playlist values are
kept so that confidence intervals and paired tests can be computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KS: tuple[int, ...] = (10, 20, 40)
METRICS: tuple[str, ...] = ("recall", "ndcg", "recall_capped")


def hit_matrix(topk: np.ndarray, ground_truth: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean ``[n, K]``: ``hit[q, r]`` iff ``topk[q, r]`` is in ``ground_truth[q]`` (-1 never hits)."""
    hits = np.zeros(topk.shape, dtype=bool)
    for q, gt in enumerate(ground_truth):
        hits[q] = np.isin(topk[q], gt) & (topk[q] >= 0)
    return hits


def recall_at_k(hits: np.ndarray, n_gt: np.ndarray, k: int) -> np.ndarray:
    """Per playlist ``hits@k / |GT|`` (paper definition)."""
    return hits[:, :k].sum(axis=1) / n_gt


def recall_capped_at_k(hits: np.ndarray, n_gt: np.ndarray, k: int) -> np.ndarray:
    """Per playlist ``hits@k / min(|GT|, k)``."""
    return hits[:, :k].sum(axis=1) / np.minimum(n_gt, k)


def ndcg_at_k(hits: np.ndarray, n_gt: np.ndarray, k: int) -> np.ndarray:
    """Per playlist ``Σ_{r≤k} hit_r/log2(r+1)`` divided by ``Σ_{r≤min(|GT|,k)} 1/log2(r+1)``."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts).sum(axis=1)
    ideal_cum = np.cumsum(discounts)
    idcg = ideal_cum[np.minimum(n_gt, k) - 1]
    return dcg / idcg


def evaluate(topk: np.ndarray, ground_truth: Sequence[np.ndarray],
             ks: Sequence[int] = KS) -> dict[str, np.ndarray]:
    """Per-playlist ``recall@K``, ``ndcg@K``, ``recall_capped@K`` for every K.

    Playlists with empty ground truth are dropped (they have no defined value);
    ``topk`` must have at least ``max(ks)`` columns.
    """
    if topk.shape[0] != len(ground_truth):
        raise ValueError(f"{topk.shape[0]} rankings for {len(ground_truth)} ground-truth sets")
    if ks and topk.shape[1] < max(ks):
        raise ValueError(f"rankings have {topk.shape[1]} columns, need {max(ks)}")
    n_gt = np.array([len(g) for g in ground_truth], dtype=np.int64)
    keep = n_gt > 0
    hits = hit_matrix(topk[keep], [g for g, k in zip(ground_truth, keep) if k])
    n_gt = n_gt[keep]
    out: dict[str, np.ndarray] = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(hits, n_gt, k)
        out[f"ndcg@{k}"] = ndcg_at_k(hits, n_gt, k)
        out[f"recall_capped@{k}"] = recall_capped_at_k(hits, n_gt, k)
    return out


def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (resampling playlists)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_permutation_test(a: np.ndarray, b: np.ndarray, n_perm: int = 10000,
                            seed: int = 0) -> float:
    """Two-sided paired sign-flip permutation test of mean(a - b) = 0; returns the p-value.

    ``p = (1 + #{|mean(s·d)| ≥ |mean(d)|}) / (1 + n_perm)`` over random sign vectors ``s``.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size == 0:
        return float("nan")
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_perm, d.size))
    null = np.abs((signs * d).mean(axis=1))
    return float((1 + np.count_nonzero(null >= observed - 1e-15)) / (1 + n_perm))
