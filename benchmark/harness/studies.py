"""Run a declared study (:mod:`benchmark.studies`): its grid blocks, dataset statistics and
training logs. Its outputs are rendered from the records by :mod:`benchmark.reports.studies`."""

from __future__ import annotations

import dataclasses
import itertools
import operator
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmark.core.cache import cache_root
from benchmark.core.dataref import base_name, is_variant
from benchmark.core.results import Cell
from benchmark.core.runtime import cpu_set
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
              progress: bool = True, fail_fast: bool = False, jobs: int = 1) -> dict[str, list[Cell]]:
    """Compute what ``study`` needs (finished cells are reused); returns cells by status
    (``unregistered``: cells of the study's pending encoders that are not registered yet).

    ``jobs > 1`` runs the grid blocks' cells in that many worker processes, one (dataset,
    encoder) pair per task (:func:`run_grids_parallel`); statistics and measurements follow in
    this process."""
    results_dir = Path(results_dir)
    outcome: dict[str, list[Cell]] = {"ok": [], "cached": [], "unavailable": [], "failed": [], "unregistered": []}
    configs = [cfg for block in study.blocks
               if (cfg := block_config(block, profile, results_dir, datasets=datasets, encoders=encoders,
                                       progress=progress, fail_fast=fail_fast, pending=study.pending))]
    for status, cells in run_grids(configs, jobs).items():
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
        extra = {k: v for k, v in (("datasets", datasets), ("fail_fast", fail_fast), ("jobs", jobs))
                 if k in accepted}
        measured = fn(study, profile, results_dir, encoders=encoders, progress=progress, **extra)
        if isinstance(measured, dict):  # a task's runs by status (the artist task)
            for status, runs in measured.items():
                outcome.setdefault(status, []).extend(runs)
    if study.training_logs:
        from benchmark.harness.sweeps import collect_logs

        model_config = make_encoder("larp", profile, 0).config["model_config"]
        collect_logs(cache_root() / "shared" / "larp", results_dir, profile, model_config)
    return outcome


def run_grids(configs: Sequence[GridConfig], jobs: int = 1) -> dict[str, list[Cell]]:
    """Run grid configs in order (``jobs <= 1``) or split across worker processes."""
    if jobs > 1:
        return run_grids_parallel(configs, jobs)
    outcome: dict[str, list[Cell]] = {}
    for cfg in configs:
        for status, cells in GridRunner(cfg).run().items():
            outcome.setdefault(status, []).extend(cells)
    return outcome


def split_tasks(configs: Sequence[GridConfig]) -> list[list[GridConfig]]:
    """One task per (evaluated dataset, encoder): that pair's slice of every config, in config
    order. Tasks alternate between datasets (the first task of each dataset builds it, so
    workers build different datasets at once) and workers pull them from a queue, so they stay
    balanced. A config without explicit datasets or encoders is resolved to its profile's."""
    by_dataset: dict[str, dict[str, list[GridConfig]]] = {}
    for cfg in configs:
        resolved = cfg.resolved()
        pending = [n for n in cfg.unregistered() if n not in resolved.encoders]
        for d in resolved.datasets:
            for e in [*resolved.encoders, *pending]:
                by_dataset.setdefault(d, {}).setdefault(e, []).append(
                    dataclasses.replace(cfg, datasets=[d], encoders=[e]))
    queues = [list(per_encoder.values()) for per_encoder in by_dataset.values()]
    return [task for round_ in itertools.zip_longest(*queues) for task in round_ if task is not None]


def cpu_shares(jobs: int, cpus: Sequence[int]) -> list[list[int]]:
    """``cpus`` dealt round-robin into ``min(jobs, len(cpus))`` non-empty, disjoint shares."""
    n = max(1, min(jobs, len(cpus)))
    return [list(cpus[i::n]) for i in range(n)]


def _pin_worker(shares: list[list[int]], counter: Any) -> None:
    """Worker initialiser: claim the next CPU share and pin this process to it, so every
    ``torch_threads(None)`` inside uses that share (:func:`benchmark.core.runtime.cpu_count`)."""
    with counter.get_lock():
        i = counter.value
        counter.value += 1
    share = shares[i % len(shares)]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, share)
    import torch

    torch.set_num_threads(len(share))


def _run_task(task: list[GridConfig]) -> dict[str, list[Cell]]:
    return run_grids(task, jobs=1)


def run_grids_parallel(configs: Sequence[GridConfig], jobs: int) -> dict[str, list[Cell]]:
    """Run ``configs`` as one task per (evaluated dataset, encoder) in ``jobs`` spawned worker
    processes (no more than there are tasks), each pinned to its own share of this process's
    CPUs (torch threads = the share's size); a free worker takes the next task.

    Tasks share nothing but the on-disk caches, whose entries are locked (a dataset or a
    trained encoder two tasks need is built once, the other task waits for it).
    Results do not depend on ``jobs`` except through the thread count, which every record
    keeps in its provenance (``device.torch_threads``), as for any machine with that many
    cores."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    tasks = split_tasks(configs)
    shares = cpu_shares(min(jobs, len(tasks)), sorted(cpu_set()))
    if len(tasks) <= 1 or len(shares) <= 1:
        return run_grids(configs, jobs=1)
    ctx = mp.get_context("spawn")
    counter = ctx.Value("i", 0)
    outcome: dict[str, list[Cell]] = {}
    with ProcessPoolExecutor(max_workers=len(shares), mp_context=ctx, initializer=_pin_worker,
                             initargs=(shares, counter)) as pool:
        for result in pool.map(_run_task, tasks, chunksize=1):
            for status, cells in result.items():
                outcome.setdefault(status, []).extend(cells)
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
