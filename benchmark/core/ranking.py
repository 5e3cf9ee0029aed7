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

    ``torch.topk`` finds each row's k best; a row where equal scores straddle the k-th
    value falls back to an exact selection of every candidate at least that large, so
    the result never depends on how the selection algorithm orders ties.
    """
    import torch

    s = np.array(scores, dtype=np.result_type(scores.dtype, np.float32), copy=True)
    n, m = s.shape
    out = np.full((n, k), -1, dtype=np.int64)
    kk = min(k, m)
    if n == 0 or kk == 0:
        return out
    lens = np.fromiter((len(x) for x in masks), dtype=np.int64, count=n)
    if lens.sum():
        rows = np.repeat(np.arange(n), lens)
        cols = np.concatenate([np.asarray(x, dtype=np.int64) for x in masks])
        s[rows, cols] = -np.inf
    vals_t, idx_t = torch.topk(torch.from_numpy(s), kk, dim=1, sorted=False)
    vals, idx = vals_t.numpy(), idx_t.numpy()
    kth = vals.min(axis=1)
    n_at_least = (s >= kth[:, None]).sum(axis=1)
    for r in range(n):
        if n_at_least[r] == kk and np.isfinite(kth[r]):
            order = np.lexsort((idx[r], -vals[r]))
            out[r, :kk] = idx[r][order]
        else:  # ties at the k-th value, or masked (-inf) entries inside the top k
            cand = np.flatnonzero(s[r] >= kth[r])
            cand = cand[np.isfinite(s[r, cand])]
            top = cand[np.lexsort((cand, -s[r, cand]))][:kk]
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
