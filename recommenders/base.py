"""The recommender protocol: metadata record + a small class.

A recommender file in ``recommenders/`` declares one subclass of :class:`Recommender`
with a ``meta`` :class:`RecommenderMeta`; ``recommenders.REGISTRY`` finds it.

Life cycle, driven by the grid runner::

    rec = RecommenderClass(config)
    rec.fit(train, seed=seed, validator=v)         # train: TrainData of the train split
    S = rec.score(seed_index, candidate_vectors)    # [n_queries, n_candidates] scores

``score`` sees only content vectors of the cold split and which of them are seeds: it can
never read a cold track's interactions, because they are not passed in. Masking the
seeds and taking the top-K is the harness's job (:mod:`benchmark.core.ranking`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from benchmark.core.configurable import Configurable
from benchmark.core.evaluation import Validator


@dataclass(frozen=True)
class RecommenderMeta:
    name: str
    version: str
    description: str
    trains: bool
    citation: str
    paper_row: str | None = None  # "ItemKNN", "DropoutNet", "CLCRec"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainData:
    """The warm side: training tracks with content vectors and the playlists over them."""

    item_ids: list[str]
    item_vectors: np.ndarray  # float32 [n_items, d]
    playlists: list[np.ndarray]  # per training playlist: int indices into item_ids
    playlist_ids: list[str] = field(default_factory=list)

    def interactions(self) -> sp.csr_matrix:
        """Binary playlist × item matrix (float32 CSR)."""
        rows = np.concatenate([np.full(len(p), i) for i, p in enumerate(self.playlists)])
        cols = np.concatenate(self.playlists)
        m = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)),
                          shape=(len(self.playlists), len(self.item_ids)))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m




class Recommender(Configurable):
    kind: ClassVar[str] = "recommender"
    meta: ClassVar[RecommenderMeta | None] = None

    def fit(self, train: TrainData, *, seed: int, validator: Validator | None = None) -> dict[str, Any]:
        """Train on the warm side; select the epoch with ``validator`` if given. Returns a report."""
        return {}

    def score(self, seed_index: Sequence[np.ndarray], candidate_vectors: np.ndarray) -> np.ndarray:
        """Scores ``[len(seed_index), n_candidates]``; row q scores every candidate for query q,
        whose seeds are ``candidate_vectors[seed_index[q]]``."""
        raise NotImplementedError
