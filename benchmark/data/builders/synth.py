"""The embedded default datasets: generated music worlds (see docs/datasets-synth.md)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from ..base import DatasetBuilder, DatasetMeta

SIZES = ("tiny", "ci", "quick", "paper")  # smallest first


class _SynthWorld(DatasetBuilder):
    """A generated world of one preset (no ``meta``: not an entry itself)."""

    preset: ClassVar[str]

    def build(self, root: Path, *, size: str, seed: int = 0, progress: bool = True) -> None:
        from ..synth import build

        build(root, preset=self.preset, size=size, seed=seed, progress=progress)


class SynthMPD(_SynthWorld):
    preset = "mpd"
    meta = DatasetMeta(
        name="synth-mpd",
        description=("Generated music world, Spotify-MPD-like playlists: about 1.4 playlists "
                     "per training track, 20-100 tracks each, mostly 1-2 related genres"),
        sizes=SIZES,
        paper_column="MPD",
        source="generated (benchmark.data.synth); docs/datasets-synth.md",
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
    )
