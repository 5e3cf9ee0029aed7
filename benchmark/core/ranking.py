"""Batched top-K ranking with seed masking and deterministic tie-breaking.

Ties are broken by candidate position (lower index first), so rankings never depend
on the sorting algorithm: among equal scores, the candidate listed first in the
split's track table wins.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from benchmark.core.runtime import cpu_count

ScoreFn = Callable[[Sequence[np.ndarray], np.ndarray], np.ndarray]

#: blocks per row per kept entry in :func:`topk_masked` (more blocks: a tighter threshold,
#: fewer entries read in the last pass, a slower first pass; 8 measured best at 100,000)
_BLOCKS_PER_KEPT = 8


#: rows per range below which :func:`topk_masked` stays on one thread
_MIN_ROWS_PER_THREAD = 32


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """One pool for the process, a thread per CPU it may use (made at first use)."""
    return ThreadPoolExecutor(max_workers=cpu_count(), thread_name_prefix="topk")


def topk_masked(scores: np.ndarray, masks: Sequence[np.ndarray], k: int, threads: int | None = None) -> np.ndarray:
    """Top-``k`` candidate indices per row of ``scores`` after excluding ``masks[row]``.

    Rows are independent, so large batches are cut into ``threads`` row ranges (default: the
    CPUs this process may use) ranked on a pool of one thread per CPU (numpy releases the GIL
    in its passes); the result is the same for any number of ranges.

    Returns int64 ``[n_rows, k]`` ordered by (score descending, index ascending). If a row
    has fewer than ``k`` unmasked candidates, the tail is filled with -1. Scores of
    ``-inf`` count as masked; scores must not be NaN. ``scores`` is neither copied nor
    modified.

    Exact by construction, in three vectorised passes over the batch: (1) the maximum of
    each of ``nb`` blocks of a row (block ``b``: the columns ``b, b + nb, b + 2 nb, ...``); (2) the threshold ``tau``, the ``k + L``-th
    largest block maximum (``L``: the longest mask), so at least ``k + L`` entries of the
    row are ``>= tau``; (3) every entry ``>= tau``, found by one comparison of the
    batch with the rows' thresholds. Those entries hold every unmasked candidate at least as large as
    the k-th best, ties at the k-th value included, so one sort of them by (row, score
    descending, index ascending) gives the answer: the result never depends on how a
    selection algorithm orders ties.
    """
    s = np.ascontiguousarray(scores, dtype=np.result_type(scores.dtype, np.float32))
    n, m = s.shape
    if len(masks) != n:
        raise ValueError(f"{len(masks)} masks for {n} rows")
    t = min(threads or cpu_count(), n // _MIN_ROWS_PER_THREAD)
    if t <= 1 or k == 0 or m == 0:
        return _topk_rows(s, masks, k, 0)
    bounds = [round(i * n / t) for i in range(t + 1)]
    parts = [_pool().submit(_topk_rows, s[a:b], masks[a:b], k, a) for a, b in itertools.pairwise(bounds)]
    return np.concatenate([f.result() for f in parts])


def _topk_rows(s: np.ndarray, masks: Sequence[np.ndarray], k: int, first_row: int) -> np.ndarray:
    """:func:`topk_masked` on one range of rows (``first_row``: its first row's number, for messages)."""
    n, m = s.shape
    out = np.full((n, k), -1, dtype=np.int64)
    if n == 0 or k == 0 or m == 0:
        return out
    mask_list = [np.asarray(x, dtype=np.int64).ravel() for x in masks]
    lens = np.fromiter((len(x) for x in mask_list), dtype=np.int64, count=n)
    mask_cols = np.concatenate(mask_list) if lens.sum() else np.zeros(0, dtype=np.int64)
    if mask_cols.size and (mask_cols.min() < -m or mask_cols.max() >= m):
        bad = first_row + int(np.repeat(np.arange(n), lens)[(mask_cols < -m) | (mask_cols >= m)][0])
        raise IndexError(f"mask of row {bad} holds an index outside 0..{m - 1}")
    mask_cols = np.where(mask_cols < 0, mask_cols + m, mask_cols)
    kp = k + int(lens.max())
    if kp >= m:  # small rows: every entry is a candidate
        rows = np.repeat(np.arange(n, dtype=np.int64), m)
        cols = np.tile(np.arange(m, dtype=np.int64), n)
    else:
        nb = min(m, _BLOCKS_PER_KEPT * kp)
        width = m // nb
        body = nb * width
        # block b of a row holds its columns b, b + nb, b + 2 nb, ...: the block maxima are
        # then an element-wise maximum of contiguous runs of nb entries (vectorised), where
        # contiguous blocks would need a short reduction per block (about 5x slower)
        block_max = s[:, :body].reshape(n, width, nb).max(axis=1)
        tau = np.partition(block_max, nb - kp, axis=1)[:, nb - kp]
        # one comparison of the whole batch (the last m % nb columns, in no block, included)
        # and a flat index pass: cheaper than gathering the selected interleaved blocks,
        # whose entries lie nb apart (a cache line each), or than a 2-D np.nonzero
        hit = np.flatnonzero(s >= tau[:, None])
        rows = hit // m
        cols = hit - rows * m
    vals = s[rows, cols]
    keep = vals > -np.inf
    if mask_cols.size:  # drop masked candidates: binary search in the sorted masked keys
        masked = np.sort(np.repeat(np.arange(n, dtype=np.int64), lens) * m + mask_cols)
        keys = rows * m + cols
        at = np.minimum(np.searchsorted(masked, keys), masked.size - 1)
        keep &= masked[at] != keys
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    order = np.lexsort((cols, -vals, rows))
    rows, cols = rows[order], cols[order]
    pos = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows]
    first = pos < k
    out[rows[first], pos[first]] = cols[first]
    return out


def _all_finite(s: np.ndarray) -> bool:
    """``np.isfinite(s).all()`` without its boolean temporary when the sum is finite (a
    NaN or infinity anywhere makes the sum non-finite; a finite overflow takes the slow check)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(s.sum())) or bool(np.isfinite(s).all())


def rank(score_fn: ScoreFn, seeds: Sequence[np.ndarray], candidate_vectors: np.ndarray,
         k: int = 40, batch_size: int = 256) -> np.ndarray:
    """Score queries in batches of ``batch_size`` and keep the masked top-``k`` of each."""
    rows = []
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start:start + batch_size]
        s = np.asarray(score_fn(chunk, candidate_vectors))
        if s.shape != (len(chunk), candidate_vectors.shape[0]):
            raise ValueError(f"score() returned shape {s.shape}, expected {(len(chunk), candidate_vectors.shape[0])}")
        if not _all_finite(s):
            raise FloatingPointError("score() returned NaN or infinite scores")
        rows.append(topk_masked(s, chunk, k))
    return np.concatenate(rows) if rows else np.zeros((0, k), dtype=np.int64)
