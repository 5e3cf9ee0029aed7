"""folk21 and folk21-noalbum: real pieces of the music21 corpus (see benchmark.data.folk21)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmark.core.dataref import DatasetRef

from ..base import DatasetBuilder, DatasetMeta
from ..folk21.build import GENERATOR

_SIZES = ("ci", "quick", "full")  # smallest first
_SOURCE = "pieces of the music21 corpus, rendered here (licences per collection: docs/datasets-real.md)"


class _Folk21(DatasetBuilder):
    """folk21 with one caption variant (no ``meta``: not an entry itself)."""

    caption_variant: ClassVar[str]

    def build(self, root: Path, *, size: str = "quick", seed: int = 0, progress: bool = True,
              variant: DatasetRef | None = None) -> None:
        from ..folk21 import build

        build(root, size=size, seed=seed, progress=progress, caption_variant=self.caption_variant,
              name=variant.label() if variant is not None else None)  # folk21[seed=1]: only the seed


class Folk21(_Folk21):
    caption_variant = "full"
    meta = DatasetMeta(
        name="folk21",
        description=(
            "Real music: ~14.8k pieces of the music21 corpus (Essen folk songs, O'Neill's, Ryan's, Aird's, "
            "Bach chorales, Palestrina, Monteverdi, Trecento) rendered with a GM soundfont; playlists = "
            "curatorial groupings (collection x genre / region / volume). Captions name the collection as album."),
        sizes=_SIZES,
        source=_SOURCE,
        version=GENERATOR,
    )


class Folk21NoAlbum(_Folk21):
    caption_variant = "no-album"
    meta = DatasetMeta(
        name="folk21-noalbum",
        description=(
            "folk21 with captions that name no album and no editor (album 'unknown album'), since the "
            "collection keys the playlists; same tracks, audio and split as folk21 for the same size and seed."),
        sizes=_SIZES,
        source=_SOURCE,
        version=GENERATOR,
    )
