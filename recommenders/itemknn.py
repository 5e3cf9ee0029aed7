"""ItemKNN: a playlist vector pooled from its seed tracks' content vectors, scored by
inner product (or cosine) against every candidate. No training.

Official setting (LARP release, ``NearestNeighbour.evaluate``): ``seed_mask @ features``,
i.e. the **sum** of the seed vectors, then the raw inner product with every candidate.
Options: ``pooling="mean"`` (same ranking as the sum for inner product: the scores of a
playlist are only rescaled), ``similarity="cosine"`` (playlist and candidate vectors are
L2-normalised; pooling then does not matter either).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from recommenders._torch import pool_rows
from recommenders.base import Recommender, RecommenderMeta, TrainData, Validator

_EPS = 1e-12


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float32))
    return (x / np.maximum(norms, _EPS)[:, None]).astype(np.float32, copy=False)


class ItemKNN(Recommender):
    meta = RecommenderMeta(
        name="itemknn",
        version="1.0",
        description="Playlist vector = pooled seed content vectors; inner-product (or cosine) "
                    "nearest candidates. No training.",
        trains=False,
        citation="Salganik et al., LARP, KDD 2024, Appendix B (ItemKNN baseline)",
        paper_row="ItemKNN",
        tags=("content", "no-training"),
    )
    default_config: ClassVar[dict[str, Any]] = {"pooling": "sum", "similarity": "dot"}
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {"ci": {}, "quick": {}, "paper": {}}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["pooling"] not in ("sum", "mean"):
            raise ValueError(f"itemknn: pooling must be 'sum' or 'mean', not {self.config['pooling']!r}")
        if self.config["similarity"] not in ("dot", "cosine"):
            raise ValueError(
                f"itemknn: similarity must be 'dot' or 'cosine', not {self.config['similarity']!r}")

    def fit(self, train: TrainData, *, seed: int, validator: Validator | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        return {"trains": False, "epochs_run": 0, "best_epoch": None, "valid_scores": [],
                "selection": "none", "fit_time_s": time.perf_counter() - t0}

    def playlist_vectors(self, seed_index: Sequence[np.ndarray],
                         candidate_vectors: np.ndarray) -> np.ndarray:
        """``[n_queries, d]`` pooled (and, for cosine, normalised) seed vectors."""
        c = np.asarray(candidate_vectors, dtype=np.float32)
        p = pool_rows(c, seed_index, self.config["pooling"])
        return _l2_normalise(p) if self.config["similarity"] == "cosine" else p

    def score(self, seed_index: Sequence[np.ndarray], candidate_vectors: np.ndarray) -> np.ndarray:
        c = np.asarray(candidate_vectors, dtype=np.float32)
        p = self.playlist_vectors(seed_index, c)
        if self.config["similarity"] == "cosine":
            c = _l2_normalise(c)
        return p @ c.T
