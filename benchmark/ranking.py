"""Batched top-K ranking with seed masking and deterministic tie-breaking.

Ties are broken by candidate position (lower index first), so rankings never depend
on the sorting algorithm: among equal scores, the candidate listed first in the
split's track table wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

ScoreFn = Callable[[Sequence[np.ndarray], np.ndarray], np.ndarray]


def topk_masked(scores: np.ndarray, masks: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Top-``k`` candidate indices per row of ``scores`` after excluding ``masks[row]``.

    Returns int64 ``[n_rows, k]`` ordered by (score descending, index ascending). If a row
    has fewer than ``k`` unmasked candidates, the tail is filled with -1.
    """
    scores = np.array(scores, dtype=np.result_type(scores.dtype, np.float32), copy=True)
    n, m = scores.shape
    for r, mask in enumerate(masks):
        scores[r, mask] = -np.inf
    kk = min(k, m)
    out = np.full((n, k), -1, dtype=np.int64)
    if kk == 0:
        return out
    # the kk-th largest value per row, then every candidate at least that large (ties included)
    part = np.partition(scores, m - kk, axis=1)[:, m - kk]
    for r in range(n):
        cand = np.flatnonzero(scores[r] >= part[r])
        cand = cand[np.isfinite(scores[r, cand])]
        order = np.lexsort((cand, -scores[r, cand]))
        top = cand[order][:kk]
        out[r, : len(top)] = top
    return out


def rank(score_fn: ScoreFn, seeds: Sequence[np.ndarray], candidate_vectors: np.ndarray,
         k: int = 40, batch_size: int = 256) -> np.ndarray:
    """Score queries in batches of ``batch_size`` and keep the masked top-``k`` of each."""
    rows = []
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start:start + batch_size]
        s = np.asarray(score_fn(chunk, candidate_vectors))
        if s.shape != (len(chunk), candidate_vectors.shape[0]):
            raise ValueError(f"score() returned shape {s.shape}, expected {(len(chunk), candidate_vectors.shape[0])}")
        if not np.all(np.isfinite(s)):
            raise FloatingPointError("score() returned NaN or infinite scores")
        rows.append(topk_masked(s, chunk, k))
    return np.concatenate(rows) if rows else np.zeros((0, k), dtype=np.int64)
