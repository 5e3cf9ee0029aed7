"""A cell's top-K lists, kept beside its record so diagnostics can be computed later
without rerunning anything (``<cell>/seed<k>.rankings.npz``, written atomically).

Arrays (no pickles; ``np.load(..., allow_pickle=False)`` reads them):

* ``playlist_ids`` ``[P]`` str, in the record's per-playlist order;
* ``topk`` ``[P, K]`` int32 candidate positions, best first (-1 where fewer than K);
* ``seeds`` / ``seed_offsets`` and ``truth`` / ``truth_offsets``: each playlist's seed and
  ground-truth candidate positions, flattened (offsets ``[P + 1]``);
* ``candidate_artist`` ``[C]`` int32 index into ``artists`` ``[A]`` str: the credited
  artist of each candidate (the test split's tracks in dataset order).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.atomic import atomic_write_bytes

SUFFIX = ".rankings.npz"


@dataclass(frozen=True)
class Rankings:
    playlist_ids: list[str]
    topk: np.ndarray
    seeds: list[np.ndarray]
    truth: list[np.ndarray]
    candidate_artist: np.ndarray
    artists: list[str]

    @property
    def n_candidates(self) -> int:
        return int(self.candidate_artist.shape[0])


def rankings_path(record_path: Path) -> Path:
    """``.../seed0.json`` → ``.../seed0.rankings.npz``."""
    return Path(record_path).with_suffix(SUFFIX)


def _flat(groups: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(groups) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(g) for g in groups])
    flat = np.concatenate([np.asarray(g, dtype=np.int32) for g in groups]) if groups else np.zeros(0, np.int32)
    return flat.astype(np.int32), offsets


def save_rankings(path: Path, playlist_ids: Sequence[str], topk: np.ndarray, seeds: Sequence[np.ndarray],
                  truth: Sequence[np.ndarray], candidate_artists: Sequence[str]) -> Path:
    if not (len(playlist_ids) == topk.shape[0] == len(seeds) == len(truth)):
        raise ValueError("rankings: playlist ids, top-k rows, seeds and truth differ in length")
    artists, artist_index = np.unique(np.asarray(list(candidate_artists), dtype=str), return_inverse=True)
    s, so = _flat(seeds)
    t, to = _flat(truth)
    buf = io.BytesIO()
    np.savez_compressed(buf, playlist_ids=np.asarray(list(playlist_ids), dtype=str),
                        topk=topk.astype(np.int32), seeds=s, seed_offsets=so, truth=t, truth_offsets=to,
                        candidate_artist=artist_index.astype(np.int32), artists=artists)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def load_rankings(path: Path) -> Rankings:
    with np.load(path, allow_pickle=False) as z:
        so, to = z["seed_offsets"], z["truth_offsets"]
        return Rankings(
            playlist_ids=[str(x) for x in z["playlist_ids"]], topk=z["topk"].astype(np.int64),
            seeds=[z["seeds"][so[i]:so[i + 1]].astype(np.int64) for i in range(len(so) - 1)],
            truth=[z["truth"][to[i]:to[i + 1]].astype(np.int64) for i in range(len(to) - 1)],
            candidate_artist=z["candidate_artist"].astype(np.int64), artists=[str(x) for x in z["artists"]])
