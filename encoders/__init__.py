"""Encoder registry: every module in this package that defines an :class:`Encoder`
subclass with a ``meta`` record is an entry. Third-party encoders register through the
``larpbench.encoders`` entry-point group."""

from benchmark.core.registry import Registry

from .base import Encoder, EncoderMeta, EncoderUnavailable

REGISTRY: Registry = Registry(
    kind="encoder", package="encoders", base=Encoder,
    entry_point_group="larpbench.encoders", skip_modules=frozenset({"base"}),
)

__all__ = ["REGISTRY", "Encoder", "EncoderMeta", "EncoderUnavailable"]
