"""Studies as data: what a table, figure or task runs and how it is rendered.

A :class:`Study` declares blocks of grid cells (datasets × encoders × recommenders × seeds,
optionally trained on another dataset, optionally with a variant axis; a dataset may be a
variant reference such as ``synth-mpd[caption_vocab=0.25,seed=1]``), the dataset
statistics it needs, and the renderers that turn result records into its outputs.
Declarations live in :mod:`benchmark.studies` (one file each); the harness runs them
(:mod:`benchmark.harness.studies`) and the CLI renders them (``larpbench study``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """One grid: the product of its axes. An empty axis means the profile's default
    (its datasets, every encoder / recommender registered for it, its seeds)."""

    datasets: tuple[str, ...] = ()
    encoders: tuple[str, ...] = ()
    recommenders: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    #: train the encoders on this dataset instead of the evaluated one (Table 4)
    train_dataset: str | None = None
    #: encoder config overrides as ``key=value`` labels, one cell each (Figure 4)
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Output:
    """A file the study renders: ``renderer`` is ``"module:function"`` under
    :mod:`benchmark.reports`, called as ``function(results_dir, profile, path)``."""

    file: str
    renderer: str


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    blocks: tuple[Block, ...] = ()
    outputs: tuple[Output, ...] = ()
    #: Table 1: dataset statistics of these datasets (homogeneity with ``stats_encoder``)
    stats_datasets: tuple[str, ...] = ()
    stats_encoder: str = "melstats"
    #: further audio encoders whose homogeneity Table 1 also reports (a column each)
    stats_also: tuple[str, ...] = ()
    #: turn LARP's stage logs of the cache into training records (Figure 5)
    training_logs: bool = False
    #: a harness function ``"module:function"`` that measures and writes records, called as
    #: ``function(study, profile, results_dir, encoders=..., progress=...)`` (throughput)
    measure: str | None = None
    #: the declaration of a task that is not a grid, for ``measure`` to read (the artist
    #: task: :class:`benchmark.core.artist_graph.ArtistTask`)
    task: object | None = None
    #: the key of the paper's numbers (``benchmark/paper/larp_kdd24.json``) shown beside ours
    paper: str | None = None
    #: encoders the blocks name before their code is registered (written on another branch):
    #: while one is not registered its cells are skipped with that reason, never an error;
    #: any other unknown name is an error with suggestions
    pending: tuple[str, ...] = ()
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
