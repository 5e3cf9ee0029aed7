"""Ceilings: what each signal of the generated worlds is worth, through the real grid.

The oracle encoders (tag ``"oracle"``: genre, canonical artist, artist plus its relation
neighbourhood, the generator's latent sound vector) beside the trivial baselines
(``random``, ``caption-tfidf``) and the hand-crafted audio baseline (``melstats``), with
ItemKNN and one seed, on the generated presets. Oracles appear in this table only, never in
the paper's (docs/baselines.md, "Oracle ceilings")."""

from __future__ import annotations

from benchmark.core.study import Block, Output, Study

CEILING_DATASETS = ("synth-mpd", "synth-lfm")
CEILING_ENCODERS = ("random", "caption-tfidf", "melstats", "oracle-genre", "oracle-artist", "oracle-relations",
                    "oracle-latent")

STUDIES = [
    Study(
        name="ceilings", title="Ceilings: oracle encoders beside the trivial baselines (ItemKNN)",
        blocks=(Block(datasets=CEILING_DATASETS, encoders=CEILING_ENCODERS, recommenders=("itemknn",),
                      seeds=(0,)),),
        outputs=(Output("ceilings.md", "benchmark.reports.ceilings:write_ceilings"),),
        description="One-hot genre, one-hot canonical artist, artist plus relation neighbourhood and the "
                    "generator's latent vector (oracles reading the hidden ground truth) beside random, "
                    "caption TF-IDF and log-mel statistics; ItemKNN, seed 0, the paper's protocol.",
        tags=("oracle",)),
]
