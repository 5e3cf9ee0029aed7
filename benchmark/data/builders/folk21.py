"""folk21 and folk21-noalbum: real pieces of the music21 corpus (see benchmark.data.folk21)."""

from __future__ import annotations

from ..catalog import DatasetSpec


def _build_full(root, size="quick", seed=0, progress=True, **kw):
    from ..folk21 import build

    build(root, size=size, seed=seed, progress=progress, caption_variant="full", **kw)


def _build_noalbum(root, size="quick", seed=0, progress=True, **kw):
    from ..folk21 import build

    build(root, size=size, seed=seed, progress=progress, caption_variant="no-album", **kw)


_SIZES = ("ci", "quick", "full")

DATASETS = [
    DatasetSpec(
        "folk21",
        "Real music: ~14.8k pieces of the music21 corpus (Essen folk songs, O'Neill's, Ryan's, Aird's, "
        "Bach chorales, Palestrina, Monteverdi, Trecento) rendered with a GM soundfont; playlists = "
        "curatorial groupings (collection x genre / region / volume). Captions name the collection as album.",
        _SIZES,
        _build_full,
    ),
    DatasetSpec(
        "folk21-noalbum",
        "folk21 with captions that name no album and no editor (album 'unknown album'), since the "
        "collection keys the playlists; same tracks, audio and split as folk21 for the same size and seed.",
        _SIZES,
        _build_noalbum,
    ),
]
