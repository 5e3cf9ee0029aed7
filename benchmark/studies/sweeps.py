"""Sweeps over the generator's information dials (docs/sweeps.md).

``caption-sweep``: how much of an encoder's Recall@10 comes from the caption's words.
The dial ``caption_vocab`` is the probability that each name slot of a caption (title,
artist, album) draws from its genre's vocabulary rather than a neutral pool; every world
is a variant of ``synth-mpd`` (``synth-mpd[caption_vocab=0.25,seed=1]``) built at the
profile's size, three world seeds per dial value, so the interval is over worlds.
"""

from __future__ import annotations

from benchmark.core.dataref import DatasetRef
from benchmark.core.study import Block, Output, Study

#: the dial, its values, and the worlds
CAPTION_DIAL = "caption_vocab"
CAPTION_VALUES = (0.0, 0.25, 0.5, 0.75, 1.0)
WORLD_SEEDS = (0, 1, 2)
SWEEP_BASE = "synth-mpd"
#: text-only, a frozen text model, audio statistics, a language-audio model, and the genre
#: ceiling (``oracle-genre`` is written on another branch: pending until it is registered)
CAPTION_ENCODERS = ("caption-tfidf", "bert-text", "melstats", "clap-ft", "oracle-genre")
PENDING = ("oracle-genre",)


def sweep_datasets(base: str, dial: str, values: tuple[float, ...], seeds: tuple[int, ...]) -> tuple[str, ...]:
    """The variant references of a sweep, dial-major: ``base[dial=v,seed=s]`` for each v, s."""
    return tuple(DatasetRef.make(base, {dial: float(v), "seed": int(s)}).label() for v in values for s in seeds)


STUDIES = [
    Study(
        name="caption-sweep", title="Caption vocabulary sweep: R@10 against caption_vocab (ItemKNN)",
        blocks=(Block(datasets=sweep_datasets(SWEEP_BASE, CAPTION_DIAL, CAPTION_VALUES, WORLD_SEEDS),
                      encoders=CAPTION_ENCODERS, recommenders=("itemknn",), seeds=(0,)),),
        outputs=(Output("caption_sweep.png", "benchmark.reports.sweeps:write_caption_sweep_png"),
                 Output("caption_sweep.md", "benchmark.reports.sweeps:write_caption_sweep_md")),
        pending=PENDING,
        description=("synth-mpd at the profile's size (run it at ci) with caption_vocab ∈ {0, 0.25, 0.5, 0.75, 1}, "
                     "3 world seeds each (15 worlds), × caption-tfidf, bert-text, melstats, clap-ft and the "
                     "genre oracle with ItemKNN (training seed 0). Shows how much of a language-audio "
                     "model's advantage is the language: text encoders should fall towards the audio "
                     "line as the dial goes to 0. LARP joins the sweep when the LARP issue lands."),
        tags=("sweep",)),
]
