"""Validators the harness hands to trained models for epoch selection."""

from __future__ import annotations

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator, make_embedding_validator
from benchmark.core.protocol import build_queries
from recommenders.itemknn import ItemKNN


def encoder_validator(dataset: Dataset, split: str = "valid", shuffle_seed: int = 0) -> EmbeddingValidator:
    """ItemKNN (the paper's default pooling: sum of seed vectors, inner product) on
    ``split``'s queries: what LARP's early stopping measures (official code: Recall@10)."""
    return make_embedding_validator(build_queries(dataset, split, shuffle_seed), ItemKNN())
