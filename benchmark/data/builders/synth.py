"""The embedded default datasets: generated music worlds (see docs/datasets-synth.md)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..catalog import DatasetSpec

SIZES = ("tiny", "ci", "quick", "paper")


def build_synth(root: Path, *, preset: str, size: str, seed: int = 0, progress: bool = True) -> None:
    from ..synth import build

    build(root, preset=preset, size=size, seed=seed, progress=progress)


DATASETS = [
    DatasetSpec(
        name="synth-mpd",
        description=("Generated music world, Spotify-MPD-like playlists: about 1.4 playlists "
                     "per training track, 20-100 tracks each, mostly 1-2 related genres"),
        sizes=SIZES,
        build=partial(build_synth, preset="mpd"),
        paper_column="MPD",
    ),
    DatasetSpec(
        name="synth-lfm",
        description=("Generated music world, Last.fm-listening-history-like playlists: about "
                     "4.6 playlists per training track, 30-101 tracks, broader tastes, more outliers"),
        sizes=SIZES,
        build=partial(build_synth, preset="lfm"),
        paper_column="LFM",
    ),
]
