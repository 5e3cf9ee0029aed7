"""The cold-start query protocol (paper §4.1 and the official code).

For every playlist of a cold split (``valid`` or ``test``): shuffle its tracks with a
fixed seed; the first ``round(n/2)`` tracks are the *seeds* (the query), the rest is
the *ground truth*. Candidates are **all tracks of the split**, shared by every
playlist; each playlist's seeds are masked out of its ranking (see
:mod:`benchmark.core.ranking`). ``round`` is Python's (round-half-to-even), as in the
official code.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from benchmark.core.dataset import Dataset


@dataclass
class QuerySet:
    """Queries of one cold split; seeds/ground truth index into ``candidate_ids``."""

    split: str
    candidate_ids: list[str]
    playlist_ids: list[str]
    seeds: list[np.ndarray]
    ground_truth: list[np.ndarray]
    shuffle_seed: int

    def __len__(self) -> int:
        return len(self.playlist_ids)

    def subset(self, keep: np.ndarray) -> QuerySet:
        """The same candidates with only the queries whose positions are in ``keep``."""
        idx = [int(i) for i in keep]
        return QuerySet(self.split, self.candidate_ids, [self.playlist_ids[i] for i in idx],
                        [self.seeds[i] for i in idx], [self.ground_truth[i] for i in idx],
                        self.shuffle_seed)


def n_seeds(n: int) -> int:
    """Number of seed tracks for a playlist of ``n`` tracks: ``round(n / 2)``."""
    return round(n / 2)


def playlist_rng(shuffle_seed: int, playlist_id: str) -> np.random.Generator:
    """A generator that depends only on the seed and the playlist id (not on file order)."""
    return np.random.default_rng([shuffle_seed, zlib.crc32(playlist_id.encode("utf-8"))])


def build_queries(dataset: Dataset, split: str, shuffle_seed: int = 0,
                  n_seed: int | None = None) -> QuerySet:
    """Seeds and ground truth for every playlist of ``split``.

    ``n_seed`` fixes the number of seeds (capped at ``n - 1``) instead of ``round(n/2)``;
    it is used only for sensitivity studies.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"queries are built on a cold split (valid or test), not {split!r}")
    candidates = dataset.track_ids(split)
    position = {tid: i for i, tid in enumerate(candidates)}
    pids, seeds, gts = [], [], []
    for pid in dataset.playlist_ids(split):
        tids = dataset.playlists[pid]
        order = playlist_rng(shuffle_seed, pid).permutation(len(tids))
        shuffled = np.array([position[tids[i]] for i in order], dtype=np.int64)
        k = n_seeds(len(tids)) if n_seed is None else min(n_seed, len(tids) - 1)
        if k < 1 or k >= len(tids):
            continue  # no seeds or no ground truth: not a query
        pids.append(pid)
        seeds.append(shuffled[:k])
        gts.append(shuffled[k:])
    return QuerySet(split, candidates, pids, seeds, gts, shuffle_seed)
