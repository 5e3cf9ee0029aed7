"""Evaluate a fitted recommender on a query set, and build validators for model selection."""

from __future__ import annotations

import numpy as np

from benchmark.metrics import KS, evaluate
from benchmark.protocol import QuerySet
from benchmark.ranking import rank
from recommenders.base import Recommender, Validator


def evaluate_recommender(recommender: Recommender, queries: QuerySet,
                         candidate_vectors: np.ndarray, ks: tuple[int, ...] = KS,
                         batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per-playlist metrics of ``recommender`` on ``queries`` (seeds masked, top max(ks))."""
    if candidate_vectors.shape[0] != len(queries.candidate_ids):
        raise ValueError(f"{candidate_vectors.shape[0]} candidate vectors for "
                         f"{len(queries.candidate_ids)} candidates of split {queries.split!r}")
    topk = rank(recommender.score, queries.seeds, candidate_vectors, k=max(ks), batch_size=batch_size)
    return evaluate(topk, queries.ground_truth, ks)


def make_validator(queries: QuerySet, candidate_vectors: np.ndarray,
                   metric: str = "recall@10") -> Validator:
    """A callable that returns the mean ``metric`` of a recommender on ``queries``.

    The grid builds it on the **valid** split by default; ``selection_split='test'``
    reproduces the official code's selection on the test split.
    """
    k = int(metric.split("@")[1])

    def validator(recommender: Recommender) -> float:
        values = evaluate_recommender(recommender, queries, candidate_vectors, ks=(k,))
        return float(values[metric].mean())

    validator.split = queries.split  # type: ignore[attr-defined]
    return validator
