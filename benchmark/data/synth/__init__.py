"""The embedded default dataset: a generated, deterministic "music world".

No real playlist data with audio can be fetched where this benchmark runs, so the default
datasets (``synth-mpd``, ``synth-lfm``) are generated from a seed:

* :mod:`.genres`   - genre style priors and name vocabularies;
* :mod:`.world`    - genres -> scenes -> artists -> albums -> tracks, artist-relation graph;
* :mod:`.audio`    - procedural rendering of each track (numpy only);
* :mod:`.playlists` - simulated curators and the cold-start split;
* :mod:`.presets`  - the ``mpd``/``lfm`` presets and the ``tiny``/``ci``/``quick``/``paper`` sizes.

What each signal is worth is measured through the real grid by the ``ceilings`` study
(oracle encoders, ``larpbench study run ceilings``) and ``larpbench data probe``.

``build(root, preset=..., size=..., seed=...)`` writes a dataset in the canonical format
(:mod:`benchmark.core.dataset`). See ``docs/datasets-synth.md``.
"""

from .generate import build
from .presets import PRESETS, SIZES, SynthConfig, make_config

__all__ = ["PRESETS", "SIZES", "SynthConfig", "build", "make_config"]
