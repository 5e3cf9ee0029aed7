"""Private helpers shared by the trained recommenders (DropoutNet, CLCRec).

Nothing here is a registry entry (the module name starts with ``_``, so the registry
skips it). It holds:

- pooling of seed-track rows into one playlist row (sum or mean), in numpy;
- negative sampling that avoids a playlist's own tracks;
- a content fingerprint used to cache encoded candidates between ``score`` calls.

Device choice, seeding and thread counts are in :mod:`benchmark.core.runtime`; the epoch
loop with model selection (:func:`~benchmark.core.training.train_with_selection`) is in
:mod:`benchmark.core.training`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import numpy as np

# --------------------------------------------------------------------------------------
# pooling, sampling, fingerprints


def pool_rows(matrix: np.ndarray, groups: Sequence[np.ndarray], how: str = "mean") -> np.ndarray:
    """Row ``q`` = sum (``how="sum"``) or mean (``"mean"``) of ``matrix[groups[q]]``.

    An empty group gives a zero row. float32 in, float32 out; the sum runs in float32 in a
    fixed order (``np.add.reduceat``), so it is deterministic.
    """
    if how not in ("sum", "mean"):
        raise ValueError(f"pooling must be 'sum' or 'mean', not {how!r}")
    n, d = len(groups), matrix.shape[1]
    out = np.zeros((n, d), dtype=np.float32)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    nonempty = np.flatnonzero(sizes > 0)
    if nonempty.size == 0:
        return out
    idx = np.concatenate([np.asarray(groups[q], dtype=np.int64) for q in nonempty])
    starts = np.concatenate([[0], np.cumsum(sizes[nonempty])[:-1]])
    rows = np.asarray(matrix[idx], dtype=np.float32)
    out[nonempty] = np.add.reduceat(rows, starts, axis=0)
    if how == "mean":
        out[nonempty] /= sizes[nonempty, None].astype(np.float32)
    return out


def interaction_pairs(playlists: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Unique (playlist, item) pairs of the training playlists, as two int64 arrays."""
    if not playlists:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(playlists)])
    cols = np.concatenate([np.asarray(p, dtype=np.int64) for p in playlists])
    n_items = int(cols.max()) + 1 if cols.size else 1
    codes = np.unique(rows * n_items + cols)
    return codes // n_items, codes % n_items


class NegativeSampler:
    """Uniform random items that are not in the given playlist (rejection sampling)."""

    def __init__(self, playlists: np.ndarray, items: np.ndarray, n_items: int) -> None:
        self.n_items = int(n_items)
        self.codes = np.unique(playlists.astype(np.int64) * self.n_items + items.astype(np.int64))

    def is_positive(self, playlists: np.ndarray, items: np.ndarray) -> np.ndarray:
        codes = playlists.astype(np.int64) * self.n_items + items.astype(np.int64)
        pos = np.searchsorted(self.codes, codes)
        pos = np.minimum(pos, len(self.codes) - 1)
        return self.codes[pos] == codes if len(self.codes) else np.zeros(codes.shape, bool)

    def sample(self, rng: np.random.Generator, playlists: np.ndarray, k: int,
               max_rounds: int = 50) -> np.ndarray:
        """``[len(playlists), k]`` items, each not in its playlist (while that is possible)."""
        owners = np.repeat(np.asarray(playlists, dtype=np.int64)[:, None], k, axis=1)
        out = rng.integers(0, self.n_items, size=owners.shape, dtype=np.int64)
        for _ in range(max_rounds):
            bad = self.is_positive(owners, out)
            if not bad.any():
                break
            out[bad] = rng.integers(0, self.n_items, size=int(bad.sum()), dtype=np.int64)
        return out


def fingerprint(array: np.ndarray) -> str:
    """A content hash of an array (shape, dtype and bytes)."""
    a = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((a.shape, a.dtype.str)).encode())
    h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))
