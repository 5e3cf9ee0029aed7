"""Evaluate a fitted recommender on a query set, and build validators for model selection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from benchmark.core.metrics import KS, evaluate
from benchmark.core.protocol import QuerySet
from benchmark.core.ranking import rank


class Scorer(Protocol):
    """Anything that scores candidates for queries, as a recommender does."""

    def score(self, seed_index: Sequence[np.ndarray], candidate_vectors: np.ndarray) -> np.ndarray: ...


#: A validator scores a model on held-out (validation) queries and returns one number
#: (Recall@10 by default) that model selection maximises.
Validator = Callable[[Any], float]

#: An encoder's validator: called with the track ids of the selection split and their
#: embeddings ``[n, d]``, it returns mean metrics (``recall@10`` is what selection maximises).
EmbeddingValidator = Callable[[Sequence[str], np.ndarray], dict[str, float]]


def evaluate_recommender(recommender: Scorer, queries: QuerySet,
                         candidate_vectors: np.ndarray, ks: tuple[int, ...] = KS,
                         batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per-playlist metrics of ``recommender`` on ``queries`` (seeds masked, top max(ks))."""
    if candidate_vectors.shape[0] != len(queries.candidate_ids):
        raise ValueError(f"{candidate_vectors.shape[0]} candidate vectors for "
                         f"{len(queries.candidate_ids)} candidates of split {queries.split!r}")
    return evaluate(rank_queries(recommender, queries, candidate_vectors, max(ks), batch_size),
                    queries.ground_truth, ks)


def rank_queries(recommender: Scorer, queries: QuerySet, candidate_vectors: np.ndarray, k: int = max(KS),
                 batch_size: int = 256) -> np.ndarray:
    """The masked top-``k`` candidate positions of every query ``[len(queries), k]``."""
    if candidate_vectors.shape[0] != len(queries.candidate_ids):
        raise ValueError(f"{candidate_vectors.shape[0]} candidate vectors for "
                         f"{len(queries.candidate_ids)} candidates of split {queries.split!r}")
    return rank(recommender.score, queries.seeds, candidate_vectors, k=k, batch_size=batch_size)


def make_validator(queries: QuerySet, candidate_vectors: np.ndarray,
                   metric: str = "recall@10") -> Validator:
    """A callable that returns the mean ``metric`` of a recommender on ``queries``.

    The grid builds it on the **valid** split by default; ``selection_split='test'``
    reproduces the official code's selection on the test split.
    """
    k = int(metric.split("@")[1])

    def validator(recommender: Scorer) -> float:
        values = evaluate_recommender(recommender, queries, candidate_vectors, ks=(k,))
        return float(values[metric].mean())

    validator.split = queries.split  # type: ignore[attr-defined]
    return validator


def make_embedding_validator(queries: QuerySet, scorer: Scorer,
                             ks: tuple[int, ...] = KS) -> EmbeddingValidator:
    """An :data:`EmbeddingValidator` that ranks ``queries``' candidates with ``scorer``
    (the harness passes ItemKNN) and returns the mean of each metric at ``ks``."""
    order = {t: i for i, t in enumerate(queries.candidate_ids)}

    def validator(track_ids: Sequence[str], vectors: np.ndarray) -> dict[str, float]:
        ids = list(track_ids)
        if ids != queries.candidate_ids:
            missing = [t for t in queries.candidate_ids if t not in set(ids)]
            if missing or len(ids) != len(order):
                raise ValueError(f"validator on split {queries.split!r}: got {len(ids)} track vectors, "
                                 f"the split has {len(order)} candidates ({len(missing)} missing)")
            pos = {t: i for i, t in enumerate(ids)}
            vectors = vectors[[pos[t] for t in queries.candidate_ids]]
        per = evaluate_recommender(scorer, queries, vectors, ks=ks)
        return {m: float(v.mean()) for m, v in per.items()}

    validator.split = queries.split  # type: ignore[attr-defined]
    return validator
