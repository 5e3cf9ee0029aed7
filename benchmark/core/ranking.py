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


class NonFiniteScores(FloatingPointError):
    """A row of scores holds NaN or ``+inf``; ``row`` is its number in the batch."""

    def __init__(self, row: int) -> None:
        super().__init__(f"scores of row {row} hold NaN or +inf")
        self.row = row


#: blocks per row per kept entry in :func:`topk_masked` (more blocks: a tighter threshold,
#: fewer entries read in the last pass, a slower threshold; 8 measured best at 100,000)
_BLOCKS_PER_KEPT = 8

#: contiguous runs of a row folded by :func:`topk_masked`'s one full read (more runs: a
#: smaller column maximum to scan, more entries gathered per selected column; 5-10 measured
#: alike at 100,000)
_RUNS = 7


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
    ``-inf`` count as masked; NaN and ``+inf`` raise :class:`NonFiniteScores`. ``scores`` is neither copied nor
    modified.

    Exact by construction, with one full read of the batch. A row's first ``W * C`` columns
    are ``W`` contiguous runs of ``C`` (the last ``m - W * C < W`` columns are read directly).
    (1) ``col_max[c]``, the maximum of column ``c`` of every run (an element-wise maximum of
    the ``W`` runs: the one full read); (2) the maxima of ``nb`` blocks of ``col_max`` and the
    threshold ``tau``, the ``k + L``-th largest of them (``L``: the longest mask), so at
    least ``k + L`` entries of the row are ``>= tau``; (3) every entry ``>= tau``: it lies in
    a column with ``col_max >= tau``, so only those columns' ``W`` entries are read. Those
    entries hold every unmasked candidate at least as large as the k-th best, ties at the
    k-th value included, so one sort of them by (row, score descending, index ascending)
    gives the answer: the result never depends on how a selection algorithm orders ties.
    NaN and ``+inf`` propagate into the block maxima, so they are found without a further
    pass.
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
    flat_s = s.reshape(-1)
    if kp * _BLOCKS_PER_KEPT >= m:  # short rows: every entry is a candidate
        bad = ~(s < np.inf).all(axis=1)  # NaN or +inf
        if bad.any():
            raise NonFiniteScores(first_row + int(np.argmax(bad)))
        flat, vals = np.arange(n * m, dtype=np.int64), flat_s
    else:
        n_runs = max(1, min(_RUNS, m // (_BLOCKS_PER_KEPT * kp)))
        c = m // n_runs
        body = n_runs * c
        col_max = s[:, :body].reshape(n, n_runs, c).max(axis=1)
        nb = _BLOCKS_PER_KEPT * kp
        in_blocks = c // nb * nb
        block_max = col_max[:, :in_blocks].reshape(n, c // nb, nb).max(axis=1)
        # NaN or +inf anywhere in the row's body (they propagate into the maxima)
        bad = ~((block_max < np.inf).all(axis=1) & (col_max[:, in_blocks:] < np.inf).all(axis=1))
        if bad.any():
            raise NonFiniteScores(first_row + int(np.argmax(bad)))
        tau = np.partition(block_max, nb - kp, axis=1)[:, nb - kp]
        # the columns whose maximum reaches tau (flat index pass: cheaper than a 2-D
        # np.nonzero), then their entries in each run
        hit = np.flatnonzero(col_max >= tau[:, None])
        c_rows = hit // c
        flat = (hit + c_rows * (m - c))[:, None] + c * np.arange(n_runs)  # row * m + column
        got = flat_s.take(flat)
        sel = got >= tau[c_rows, None]
        flat, vals = flat[sel], got[sel]
        if body < m:  # the last m - body columns, in no run
            tail = (np.arange(n)[:, None] * m + np.arange(body, m)).ravel()
            t_vals = flat_s.take(tail)
            t_bad = ~(t_vals < np.inf)  # NaN or +inf
            if t_bad.any():
                raise NonFiniteScores(first_row + int(tail[t_bad][0] // m))
            t_sel = t_vals >= np.repeat(tau, m - body)
            flat, vals = np.concatenate([flat, tail[t_sel]]), np.concatenate([vals, t_vals[t_sel]])
    rows = flat // m
    cols = flat - rows * m
    keep = vals > -np.inf
    if mask_cols.size:  # drop masked candidates: binary search in the sorted masked keys (row * m + column)
        masked = np.sort(np.repeat(np.arange(n, dtype=np.int64), lens) * m + mask_cols)
        at = np.minimum(np.searchsorted(masked, flat), masked.size - 1)
        keep &= masked[at] != flat
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    rows, cols = _sort_by_row_score_index(rows, cols, vals, n, m)
    pos = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows]
    first = pos < k
    out[rows[first], pos[first]] = cols[first]
    return out


def _sort_by_row_score_index(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int,
                             m: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` and ``cols`` ordered by (row, score descending, column ascending).

    float32 scores with row and column numbers that fit beside them in 64 bits are sorted as
    one unsigned key (row | descending order of the score's bits | column), one ``np.sort``
    of distinct keys; otherwise ``np.lexsort`` of the three. Equal scores get equal bits
    (``-0.0`` is made ``+0.0`` first), so ties fall to the column either way."""
    row_bits, col_bits = max(1, (n - 1).bit_length()), max(1, (m - 1).bit_length())
    if vals.dtype != np.float32 or row_bits + 32 + col_bits > 64:
        order = np.lexsort((cols, -vals, rows))
        return rows[order], cols[order]
    bits = (vals + np.float32(0.0)).view(np.uint32).astype(np.uint64)  # -0.0 + 0.0 = +0.0
    negative = bits >> np.uint64(31) == 1
    # ascending order of the floats as unsigned integers, then reversed for descending
    ascending = np.where(negative, ~bits & np.uint64(0xFFFFFFFF), bits | np.uint64(0x80000000))
    descending = np.uint64(0xFFFFFFFF) - ascending
    key = np.sort((rows.astype(np.uint64) << np.uint64(32 + col_bits)) | (descending << np.uint64(col_bits))
                  | cols.astype(np.uint64))
    return ((key >> np.uint64(32 + col_bits)).astype(np.int64),
            (key & np.uint64((1 << col_bits) - 1)).astype(np.int64))


def rank(score_fn: ScoreFn, seeds: Sequence[np.ndarray], candidate_vectors: np.ndarray,
         k: int = 40, batch_size: int = 256) -> np.ndarray:
    """Score queries in batches of ``batch_size`` and keep the masked top-``k`` of each.

    A ``-inf`` score excludes its candidate (as a mask does); NaN or ``+inf`` scores raise
    :class:`FloatingPointError` naming the query (found by :func:`topk_masked`'s one read of
    each batch, without a separate finiteness pass)."""
    rows = []
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start:start + batch_size]
        s = np.asarray(score_fn(chunk, candidate_vectors))
        if s.shape != (len(chunk), candidate_vectors.shape[0]):
            raise ValueError(f"score() returned shape {s.shape}, expected {(len(chunk), candidate_vectors.shape[0])}")
        try:
            rows.append(topk_masked(s, chunk, k))
        except NonFiniteScores as e:
            raise FloatingPointError(f"score() returned NaN or +inf scores for query {start + e.row}") from None
    return np.concatenate(rows) if rows else np.zeros((0, k), dtype=np.int64)
