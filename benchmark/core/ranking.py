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


#: scores per chunk of rows that one thread ranks at a time in :func:`topk_masked`
#: (2**21: 20 rows of 100,000 candidates, about a millisecond of work)
_CHUNK_ENTRIES = 1 << 21


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """One pool for the process, a thread per CPU it may use (made at first use)."""
    return ThreadPoolExecutor(max_workers=cpu_count(), thread_name_prefix="topk")


def topk_masked(scores: np.ndarray, masks: Sequence[np.ndarray], k: int, threads: int | None = None) -> np.ndarray:
    """Top-``k`` candidate indices per row of ``scores`` after excluding ``masks[row]``.

    Rows are independent: they are ranked in chunks of rows that ``threads`` threads (default:
    the CPUs this process may use; the calling thread and pool threads) take in turn, so a
    thread that starts late takes fewer chunks; the result is the same for any number of
    threads (the compiled kernel releases the GIL).

    Returns int64 ``[n_rows, k]`` ordered by (score descending, index ascending). If a row
    has fewer than ``k`` unmasked candidates, the tail is filled with -1. Scores of
    ``-inf`` count as masked; NaN and ``+inf`` (masked columns included) raise
    :class:`NonFiniteScores` naming the first such row. ``scores`` is neither copied
    (float32 and float64 rows are ranked as they are; other dtypes as
    ``np.result_type(dtype, float32)``) nor modified.

    Exact by construction, with one read of each row from memory: a compiled kernel
    (:mod:`benchmark.core.topk_kernel`) takes each block's maximum, a threshold from them
    that at least ``k`` unmasked entries reach, and keeps every unmasked entry at or above
    it (ties included), so one stable sort of the kept entries by score descending gives
    (score descending, index ascending): the result never depends on how a selection
    algorithm orders ties.
    """
    s = np.ascontiguousarray(scores, dtype=np.result_type(scores.dtype, np.float32))
    if s.dtype not in (np.float32, np.float64):
        raise TypeError(f"scores of dtype {scores.dtype} (ranked as {s.dtype}): float32 or float64 expected")
    n, m = s.shape
    if len(masks) != n:
        raise ValueError(f"{len(masks)} masks for {n} rows")
    out = np.full((n, k), -1, dtype=np.int64)
    if n == 0 or k == 0 or m == 0:
        return out
    mask_start, mask_cols = _sorted_masks(masks, m)
    from benchmark.core import topk_kernel  # numba: imported at the first ranking

    int_view, abs_mask, inf_bits, shift = topk_kernel.INT_VIEWS[s.dtype]
    bits, minus_inf = s.view(int_view), s.dtype.type(-np.inf)
    block = topk_kernel.block_size(m, k + int(np.diff(mask_start).max()))
    rows = max(1, _CHUNK_ENTRIES // m)
    n_chunks = -(-n // rows)
    next_chunk = itertools.count()  # shared by the threads; next() on it is atomic under the GIL

    def work() -> int:
        """Rank chunks until none is left; the first row with NaN or +inf met, else ``n``."""
        first_bad = n
        for i in next_chunk:
            if i >= n_chunks:
                return first_bad
            a, b = i * rows, min(n, (i + 1) * rows)
            scratch = np.zeros(1, dtype=s.dtype)  # one float and its bits, per call (per thread)
            bad = topk_kernel.topk_rows(s[a:b], bits[a:b], block, mask_start[a:b + 1], mask_cols, k, minus_inf,
                                        abs_mask, inf_bits, shift, scratch, scratch.view(int_view), out[a:b])
            if bad >= 0:
                first_bad = min(first_bad, a + bad)
        return first_bad  # pragma: no cover - count() never ends

    helpers = [_pool().submit(work) for _ in range(min(threads or cpu_count(), n_chunks) - 1)]
    first_bad = work()  # returns once every chunk is taken; a helper that never started took none
    first_bad = min([first_bad, *(f.result() for f in helpers if not f.cancel())])
    if first_bad < n:
        raise NonFiniteScores(first_bad)
    return out


def _sorted_masks(masks: Sequence[np.ndarray], m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(start, cols)``: row ``r``'s masked columns are ``cols[start[r]:start[r + 1]]``,
    ascending, negative indices counted from the end; an index outside ``-m..m-1`` raises
    :class:`IndexError` naming its row."""
    n = len(masks)
    mask_list = [np.asarray(x, dtype=np.int64).ravel() for x in masks]
    lens = np.fromiter((len(x) for x in mask_list), dtype=np.int64, count=n)
    cols = np.concatenate(mask_list) if lens.sum() else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), lens)
    if cols.size and (cols.min() < -m or cols.max() >= m):
        bad = int(rows[(cols < -m) | (cols >= m)][0])
        raise IndexError(f"mask of row {bad} holds an index outside 0..{m - 1}")
    keys = np.sort(rows * m + np.where(cols < 0, cols + m, cols))
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=start[1:])
    return start, keys - rows * m


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
