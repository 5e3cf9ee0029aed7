"""Run a declared study (:mod:`benchmark.studies`): its grid blocks, dataset statistics and
training logs. Its outputs are rendered from the records by :mod:`benchmark.reports.studies`."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmark.core.cache import cache_root
from benchmark.core.dataref import base_name, is_variant
from benchmark.core.results import Cell
from benchmark.core.study import Block, Study
from benchmark.data import catalog
from benchmark.harness.grid import GridConfig, GridRunner, make_encoder


def _restrict(declared: tuple[str, ...], wanted: Sequence[str] | None,
              same: Callable[[str, str], bool] = operator.eq) -> list[str] | None:
    """A block's axis narrowed to ``wanted`` (``None``: no narrowing; empty result: skip)."""
    if not wanted:
        return list(declared)
    return [x for x in declared if any(same(x, w) for w in wanted)] if declared else list(wanted)


def _same_dataset(declared: str, wanted: str) -> bool:
    """``--dataset synth-mpd`` selects the declared ``synth-mpd`` and all its variants; a
    variant reference selects that variant (in any spelling)."""
    if declared == wanted or (not is_variant(wanted) and base_name(declared) == wanted):
        return True
    return is_variant(declared) and is_variant(wanted) and catalog.label(declared) == catalog.label(wanted)


def block_config(block: Block, profile: str, results_dir: Path, *, datasets: Sequence[str] | None = None,
                 encoders: Sequence[str] | None = None, progress: bool = True,
                 fail_fast: bool = False, pending: Sequence[str] = ()) -> GridConfig | None:
    ds, enc = _restrict(block.datasets, datasets, _same_dataset), _restrict(block.encoders, encoders)
    if (datasets and not ds) or (encoders and not enc):
        return None
    return GridConfig(profile=profile, datasets=ds or (), encoders=enc or (), recommenders=block.recommenders,
                      seeds=block.seeds, variants=block.variants, encoder_train_dataset=block.train_dataset,
                      results_dir=results_dir, progress=progress, fail_fast=fail_fast,
                      pending_encoders=pending)


def run_study(study: Study, profile: str, results_dir: str | Path = "results", *,
              datasets: Sequence[str] | None = None, encoders: Sequence[str] | None = None,
              progress: bool = True, fail_fast: bool = False) -> dict[str, list[Cell]]:
    """Compute what ``study`` needs (finished cells are reused); returns cells by status
    (``unregistered``: cells of the study's pending encoders that are not registered yet)."""
    results_dir = Path(results_dir)
    outcome: dict[str, list[Cell]] = {"ok": [], "cached": [], "unavailable": [], "failed": [], "unregistered": []}
    for block in study.blocks:
        cfg = block_config(block, profile, results_dir, datasets=datasets, encoders=encoders,
                           progress=progress, fail_fast=fail_fast, pending=study.pending)
        if cfg is None:
            continue
        for status, cells in GridRunner(cfg).run().items():
            outcome[status] += cells
    if study.stats_datasets:
        write_stats(profile, _restrict(study.stats_datasets, datasets) or [], results_dir,
                    encoder=study.stats_encoder, also=study.stats_also, progress=progress)
    if study.measure:
        import importlib
        import inspect

        module, _, name = study.measure.partition(":")
        fn = getattr(importlib.import_module(module), name)
        accepted = inspect.signature(fn).parameters
        extra = {k: v for k, v in (("datasets", datasets), ("fail_fast", fail_fast)) if k in accepted}
        measured = fn(study, profile, results_dir, encoders=encoders, progress=progress, **extra)
        if isinstance(measured, dict):  # a task's runs by status (the artist task)
            for status, runs in measured.items():
                outcome.setdefault(status, []).extend(runs)
    if study.training_logs:
        from benchmark.harness.sweeps import collect_logs

        model_config = make_encoder("larp", profile, 0).config["model_config"]
        collect_logs(cache_root() / "shared" / "larp", results_dir, profile, model_config)
    return outcome


def write_stats(profile: str, datasets: Sequence[str], results_dir: Path, *, encoder: str = "melstats",
                also: Sequence[str] = (), progress: bool = True) -> list[Path]:
    """Table 1's statistics of ``datasets`` (homogeneity with ``encoder``, and with each of
    ``also`` where it is available here), one record each."""
    from benchmark.harness.datastats import write_dataset_stats
    from benchmark.harness.embeddings import EmbeddingStore
    from encoders.base import EncoderUnavailable

    runner = GridRunner(GridConfig(profile=profile, datasets=list(datasets), encoders=[encoder],
                                   recommenders=["itemknn"], progress=progress))
    paths = []
    for d in runner.cfg.datasets:
        ds = runner.dataset(d)
        enc = make_encoder(encoder, profile, 0)
        others, unavailable = [], {}
        for name in also:
            other = make_encoder(name, profile, 0)
            try:
                other.check_available()
                other.check_dataset(ds)
            except EncoderUnavailable as e:
                unavailable[name] = str(e)
                continue
            others.append(EmbeddingStore(other, ds, 0, progress=progress))
        paths.append(write_dataset_stats(ds, profile, runner.label(d), Path(results_dir),
                                         EmbeddingStore(enc, ds, 0, progress=progress), others, unavailable))
    return paths
