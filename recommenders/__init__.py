"""Recommender registry: every module in this package that defines a
:class:`Recommender` subclass with a ``meta`` record is an entry (entry-point group
``larpbench.recommenders`` for third-party ones)."""

from benchmark.core.registry import Registry

from .base import Recommender, RecommenderMeta, TrainData, Validator

REGISTRY: Registry = Registry(
    kind="recommender", package="recommenders", base=Recommender,
    entry_point_group="larpbench.recommenders", skip_modules=frozenset({"base"}),
)

__all__ = ["REGISTRY", "Recommender", "RecommenderMeta", "TrainData", "Validator"]
