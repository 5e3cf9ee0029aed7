"""The embedded default datasets: generated music worlds (see docs/datasets-synth.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from benchmark.core.dataref import DatasetRef

from ..base import DatasetBuilder, DatasetMeta
from ..synth.presets import GENERATOR_VERSION

SIZES = ("tiny", "ci", "quick", "artists", "paper")  # smallest first ("artists": quick-sized, for the artist task)
_NOT_OVERRIDABLE = ("preset", "size", "seed")  # seed: the reference's own ``seed``


def _types() -> dict[str, str]:
    """Every overridable :class:`SynthConfig` field and its annotation (``"float"``,
    ``"int"``, ``"tuple[float, ...]"``; the default's type when the annotation is not a string)."""
    from ..synth.presets import SynthConfig

    return {f.name: f.type if isinstance(f.type, str) else type(f.default).__name__
            for f in dataclasses.fields(SynthConfig) if f.name not in _NOT_OVERRIDABLE}


def _coerce(key: str, value: Any, kind: str) -> Any:
    """``value`` as the annotated type ``kind``: float fields take any number, int fields
    integers, tuple fields a ``+``-joined tuple (or one value) of their items' type."""
    kind = kind.replace(" ", "")
    if kind.startswith("tuple["):
        item = kind[len("tuple["):].split(",")[0].rstrip("]")
        return tuple(_coerce(key, v, item) for v in (value if isinstance(value, tuple) else (value,)))
    if kind not in ("float", "int"):
        return value
    if isinstance(value, (bool, tuple, str)) or (kind == "int" and not isinstance(value, int)):
        raise TypeError(f"{key} takes {'a number' if kind == 'float' else 'an integer'}, got {value!r}")
    return float(value) if kind == "float" else value


class _SynthWorld(DatasetBuilder):
    """A generated world of one preset (no ``meta``: not an entry itself). A variant may
    override any :class:`~benchmark.data.synth.presets.SynthConfig` field."""

    preset: ClassVar[str]

    @classmethod
    def override_names(cls) -> tuple[str, ...]:
        return tuple(_types())

    @classmethod
    def coerce_override(cls, key: str, value: Any) -> Any:
        return _coerce(key, value, _types()[key])

    @classmethod
    def expected_params(cls, size: str, seed: int, overrides: Mapping[str, Any]) -> dict[str, Any]:
        from ..synth.presets import make_config

        return make_config(cls.preset, size, seed, **overrides).params()

    @classmethod
    def check_overrides(cls, size: str, seed: int, overrides: Mapping[str, Any]) -> None:
        from ..synth.presets import make_config

        make_config(cls.preset, size, seed, **overrides)  # ValueError naming the field and its range

    def build(self, root: Path, *, size: str, seed: int = 0, progress: bool = True,
              variant: DatasetRef | None = None) -> None:
        from ..synth import build

        from ..synth.generate import NAME_ONLY_PARAMS

        overrides = {k: v for k, v in (variant.values if variant else {}).items() if k != "seed"}
        name = variant.folder(size) if variant is not None else None
        audio_from = None
        if variant is not None and overrides and set(overrides) <= set(NAME_ONLY_PARAMS):
            # a names-only variant shares its audio with the world without those overrides:
            # build (or reuse) that world and link its audio instead of rendering it again
            from ..catalog import resolve

            base = DatasetRef.make(variant.name, {"seed": seed} if "seed" in variant.values else {})
            audio_from = resolve(base.label() if base.overrides else base.name, size,
                                 root=root.parent, progress=progress).root
        build(root, preset=self.preset, size=size, seed=seed, progress=progress, name=name,
              audio_from=audio_from, **overrides)


class SynthMPD(_SynthWorld):
    preset = "mpd"
    meta = DatasetMeta(
        name="synth-mpd",
        description=("Generated music world, Spotify-MPD-like playlists: about 1.4 playlists "
                     "per training track, 20-100 tracks each, mostly 1-2 related genres"),
        sizes=SIZES,
        paper_column="MPD",
        source="generated (benchmark.data.synth); docs/datasets-synth.md",
        version=GENERATOR_VERSION,
    )


class SynthLFM(_SynthWorld):
    preset = "lfm"
    meta = DatasetMeta(
        name="synth-lfm",
        description=("Generated music world, Last.fm-listening-history-like playlists: about "
                     "4.6 playlists per training track, 30-101 tracks, broader tastes, more outliers"),
        sizes=SIZES,
        paper_column="LFM",
        source="generated (benchmark.data.synth); docs/datasets-synth.md",
        version=GENERATOR_VERSION,
    )
