"""folk21: a real-music dataset built offline from the music21 corpus.

~14,800 real pieces (Essen folk songs, O'Neill's and Ryan's tune books, Aird's Airs,
Bach chorales, Palestrina masses, Monteverdi madrigals, Trecento polyphony) rendered to
10 s 16 kHz clips, with playlists made of the corpus's own curatorial groupings and a
cold-start split. See ``docs/datasets-real.md``.

``build(root, size=..., seed=..., progress=..., caption_variant=...)`` writes the
canonical dataset format (:mod:`benchmark.core.dataset`).
"""

from .build import CAPTION_VARIANTS, SIZES, build, caption_fields, rendering_plan

__all__ = ["CAPTION_VARIANTS", "SIZES", "build", "caption_fields", "rendering_plan"]
