"""The artist-relationship task (docs/artist-gnn.md): artist features from the encoders of
the registry, then the GNN of :mod:`benchmark.core.artist_gnn`, one ``task`` record per
dataset × feature set × layer count × seed under ``<results>/<profile>/artist-gnn/``.

Features of a part (a feature set joins parts with ``+``):

* ``random`` — 128 standard-normal numbers per artist, drawn with the run's seed;
* ``tags`` — one-hots of the world's categorical tags of the artist's track: genre, tempo
  band (:data:`TEMPO_BANDS`) and mode (major-ish / minor-ish scale); averaged over the
  artist's tracks with ``track_choice="mean"``;
* an encoder of the registry — its embedding of the artist's chosen track
  (:func:`benchmark.core.artist_graph.chosen_tracks`) or the mean over its tracks, through
  the grid's embedding cache. **An encoder that trains on the dataset** (``meta.trains``) is
  fitted on :func:`~benchmark.core.artist_graph.without_artists`: the dataset without any
  track of a validation or test artist, so hidden relations cannot leak into its features.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core import provenance
from benchmark.core.artist_gnn import (
    MODEL_VERSION,
    GNNConfig,
    TaskGraphs,
    require_pyg,
    train_and_evaluate,
)
from benchmark.core.artist_graph import (
    ArtistGraph,
    ArtistSplit,
    ArtistTask,
    artist_tracks,
    chance_ndcg,
    chosen_tracks,
    graph_summary,
    load_artist_graph,
    split_artists,
    without_artists,
)
from benchmark.core.cache import key_hash
from benchmark.core.dataset import Dataset
from benchmark.core.results import is_complete, write_record
from benchmark.core.study import Study
from benchmark.data.synth.genres import MAJORISH  # the scales with a major third (mode tag)
from benchmark.harness.embeddings import EmbeddingStore
from encoders.base import Encoder, EncoderUnavailable

TASK = "artist-gnn"
RANDOM, TAGS = "random", "tags"
RANDOM_DIM = 128
#: tempo bands (bpm): below the first edge, between edges, at or above the last
TEMPO_BANDS = (80.0, 100.0, 120.0, 140.0, 160.0)


class FeatureUnavailable(RuntimeError):
    """A feature part cannot be computed here; the message says why."""


#: encoders whose embedding of a track reads the dataset's artist graph itself: their
#: features would carry the hidden evaluation–evaluation relations (the task's targets)
READS_ARTIST_GRAPH = {"oracle-relations": "its vectors are built from artist_relations.csv, including the "
                                          "hidden evaluation-evaluation relations this task predicts"}


# ----------------------------------------------------------------------------- feature sets
def parts(label: str) -> list[str]:
    out = [p.strip() for p in label.split("+")]
    if not all(out):
        raise ValueError(f"feature set {label!r}: empty part (parts are joined by '+')")
    return out


def expand_features(labels: Sequence[str], profile: str, encoders: Sequence[str] | None = None) -> list[str]:
    """The task's feature-set labels with ``*`` expanded to the profile's encoders, checked
    against the registry, and (``encoders`` given) narrowed to sets whose encoder parts are
    all among ``encoders``."""
    from encoders import REGISTRY

    out: list[str] = []
    for label in labels:
        if label == "*":
            names = [n for n, c in REGISTRY if profile in c.default_profiles]
        else:
            names = [label]
        for name in names:
            for p in parts(name):
                if p not in (RANDOM, TAGS):
                    REGISTRY.get(p)  # an unknown name: error with suggestions
            enc = [p for p in parts(name) if p not in (RANDOM, TAGS)]
            if encoders and not set(enc) <= set(encoders):
                continue
            if name not in out:
                out.append(name)
    return out


# ----------------------------------------------------------------------------- features
def tag_features(dataset: Dataset, graph: ArtistGraph, track_ids: Sequence[Sequence[str]]) -> np.ndarray:
    """One-hots of genre, tempo band and mode, averaged over each artist's ``track_ids``."""
    need = [c for c in ("genre", "tempo", "scale") if c not in dataset.extra_columns]
    if need:
        raise FeatureUnavailable(f"{dataset.root / 'tracks.csv'} has no column(s) {', '.join(need)}: "
                                 "the 'tags' features need the world's genre, tempo and scale")
    genres = sorted({t.extra["genre"] for t in dataset.tracks.values()})
    gi = {g: i for i, g in enumerate(genres)}
    width = len(genres) + len(TEMPO_BANDS) + 1 + 2
    out = np.zeros((graph.n, width), dtype=np.float32)
    for a, tids in enumerate(track_ids):
        for t in tids:
            ex = dataset.tracks[t].extra
            try:
                bpm = float(ex["tempo"])
            except ValueError:
                raise FeatureUnavailable(f"{dataset.root / 'tracks.csv'}: track {t!r} tempo {ex['tempo']!r} "
                                         "is not a number") from None
            row = np.zeros(width, dtype=np.float32)
            row[gi[ex["genre"]]] = 1.0
            row[len(genres) + int(np.searchsorted(TEMPO_BANDS, bpm, side="right"))] = 1.0
            row[len(genres) + len(TEMPO_BANDS) + 1 + (0 if ex["scale"] in MAJORISH else 1)] = 1.0
            out[a] += row / len(tids)
    return out


def encoder_fit_dataset(encoder: Encoder, dataset: Dataset, graph: ArtistGraph,
                        split: ArtistSplit) -> Dataset | None:
    """What ``encoder`` is fitted on in this task: for an encoder that trains on the dataset,
    the dataset without any track of an evaluation (valid or test) artist; else ``None``
    (nothing is fitted)."""
    assert encoder.meta is not None
    if not encoder.meta.trains:
        return None
    evaluation = [graph.artists[i] for i in np.concatenate([split.valid, split.test])]
    return without_artists(dataset, evaluation, graph.column)


def encoder_features(encoder: Encoder, dataset: Dataset, graph: ArtistGraph, split: ArtistSplit,
                     track_ids: Sequence[Sequence[str]], seed: int = 0,
                     progress: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """``[graph.n, d]``: the mean of the encoder's embeddings of each artist's ``track_ids``."""
    assert encoder.meta is not None
    try:
        encoder.check_available()
    except EncoderUnavailable as e:
        raise FeatureUnavailable(str(e)) from None
    fit = encoder_fit_dataset(encoder, dataset, graph, split)
    store = EmbeddingStore(encoder, dataset, seed, progress=progress, fit_dataset=fit)
    flat = [t for tids in track_ids for t in tids]
    vecs = store.get_tracks(flat)
    out = np.zeros((graph.n, vecs.shape[1]), dtype=np.float64)
    i = 0
    for a, tids in enumerate(track_ids):
        out[a] = vecs[i:i + len(tids)].mean(axis=0)
        i += len(tids)
    info = {"encoder": {"meta": encoder.meta.to_dict(), "config": encoder.config},
            "fitted_on": (None if fit is None else
                          {"dataset_hash": fit.content_hash, "tracks": len(fit.tracks),
                           "removed_tracks": len(dataset.tracks) - len(fit.tracks),
                           "rule": "without any track of a valid or test artist"}),
            "embed_s": store.timings.get("embed_tracks_s"), "fit_report": store.fit_report}
    return out, info


class Features:
    """The parts of every feature set of one dataset, computed once each."""

    def __init__(self, dataset: Dataset, graph: ArtistGraph, split: ArtistSplit, task: ArtistTask,
                 profile: str, progress: bool = True,
                 make_encoder: Callable[[str], Encoder] | None = None) -> None:
        self.dataset, self.graph, self.split, self.task = dataset, graph, split, task
        self.profile, self.progress = profile, progress
        self._make = make_encoder or self._registry_encoder
        if task.track_choice == "one":
            self.track_ids: list[list[str]] = [[t] for t in chosen_tracks(dataset, graph)]
        elif task.track_choice == "mean":
            by_artist = artist_tracks(dataset, graph.column)
            self.track_ids = [by_artist[a] for a in graph.artists]
        else:
            raise ValueError(f"track_choice {task.track_choice!r}: one of 'one', 'mean'")
        self._parts: dict[str, tuple[np.ndarray, dict[str, Any]] | FeatureUnavailable] = {}
        self._graphs: TaskGraphs | None = None

    @property
    def graphs(self) -> TaskGraphs:
        """The split's training / validation / test graphs and their aggregation operators,
        built once and shared by every feature set, layer count and seed."""
        if self._graphs is None:
            self._graphs = TaskGraphs.of(self.graph, self.split)
        return self._graphs

    @functools.cached_property
    def summary(self) -> dict[str, float | int]:
        """:func:`graph_summary` of the dataset's graph and split (computed once)."""
        return graph_summary(self.graph, self.split)

    def _registry_encoder(self, name: str) -> Encoder:
        from benchmark.harness.grid import make_encoder

        overrides = dict(dict(self.task.encoder_config).get(name, ()))
        return make_encoder(name, self.profile, self.task.encoder_seed, overrides)

    def encoder(self, name: str) -> Encoder:
        return self._make(name)

    def part(self, name: str, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        if name == RANDOM:
            rng = np.random.default_rng([int(seed), 0x4A4D])
            return rng.standard_normal((self.graph.n, RANDOM_DIM)), {"kind": "random", "seed": seed}
        if name not in self._parts:
            try:
                if name in READS_ARTIST_GRAPH:
                    raise FeatureUnavailable(f"{name} cannot be features of the artist task: "
                                             f"{READS_ARTIST_GRAPH[name]}")
                if name == TAGS:
                    got = (tag_features(self.dataset, self.graph, self.track_ids).astype(np.float64),
                           {"kind": "tags", "tempo_bands": list(TEMPO_BANDS)})
                else:
                    x, info = encoder_features(self.encoder(name), self.dataset, self.graph, self.split,
                                               self.track_ids, self.task.encoder_seed, self.progress)
                    got = (x, {"kind": "encoder", **info})
                self._parts[name] = got
            except FeatureUnavailable as e:
                self._parts[name] = e
        got = self._parts[name]
        if isinstance(got, FeatureUnavailable):
            raise got
        return got

    def identity(self, name: str) -> dict[str, Any]:
        """What a part's numbers depend on (part of the record key)."""
        if name in (RANDOM, TAGS):
            return {"part": name, "dim": RANDOM_DIM if name == RANDOM else None}
        enc = self.encoder(name)
        assert enc.meta is not None
        ident: dict[str, Any] = {"part": name, "version": enc.meta.version, "config": enc.cache_config(),
                                 "fit": "artist-disjoint" if enc.meta.trains else "none"}
        if enc.input_fingerprint():
            ident["inputs"] = enc.input_fingerprint()
        try:
            enc.check_available()
        except EncoderUnavailable as e:
            ident["unavailable"] = str(e)
        if name in READS_ARTIST_GRAPH:
            ident["unavailable"] = READS_ARTIST_GRAPH[name]
        return ident

    def matrix(self, label: str, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        got = [self.part(p, seed) for p in parts(label)]
        return np.concatenate([x for x, _ in got], axis=1), [{**info, "dim": int(x.shape[1])} for x, info in got]


# ----------------------------------------------------------------------------- runs
def record_path(results_dir: Path, profile: str, dataset: str, features: str, layers: int, seed: int) -> Path:
    return Path(results_dir) / profile / TASK / dataset / features / f"L{layers}" / f"seed{seed}.json"


@dataclasses.dataclass
class PlannedRun:
    """A run whose record is missing or stale: its inputs, ready for the GNN."""

    path: Path
    key: str
    base: dict[str, Any]
    label: str
    seed: int
    cfg: GNNConfig
    x: np.ndarray
    infos: list[dict[str, Any]]


def plan_run(feats: Features, label: str, layers: int, seed: int, *, dataset_label: str, profile: str,
             results_dir: Path, gnn: GNNConfig | None = None) -> tuple[str, Path] | PlannedRun:
    """``("cached", path)`` when the record's key matches, ``("unavailable", path)`` (record
    written) when a part cannot be computed, else the :class:`PlannedRun` to train."""
    task, ds = feats.task, feats.dataset
    cfg = dataclasses.replace(gnn or GNNConfig(**dict(task.model)), layers=layers, k=task.k)
    path = record_path(results_dir, profile, dataset_label, label, layers, seed)
    ident = {"task": TASK, "profile": profile, "dataset": dataset_label, "features": label,
             "layers": layers, "seed": seed}
    key = key_hash({"task": TASK, "model_version": MODEL_VERSION, "cell": ident, "dataset_hash": ds.content_hash,
                    "parts": [feats.identity(p) for p in parts(label)], "model": cfg.key(),
                    "split": [feats.split.source, list(task.fractions), task.split_seed],
                    "track_choice": task.track_choice, "encoder_seed": task.encoder_seed})
    unavailable = [i["unavailable"] for i in (feats.identity(p) for p in parts(label)) if "unavailable" in i]
    if is_complete(path, key, require_ok=not unavailable):
        return "cached", path
    base: dict[str, Any] = {
        "kind": "task", "task": TASK, "cell": ident, "cell_key": key,
        "dataset": {"name": ds.name, "hash": ds.content_hash, "root": str(ds.root)},
        "split": {"source": feats.split.source, "fractions": list(task.fractions), "seed": task.split_seed},
        "graph": feats.summary,
        "model": {"version": MODEL_VERSION, **cfg.key()}, "track_choice": task.track_choice,
    }
    try:
        x, infos = feats.matrix(label, seed)
    except FeatureUnavailable as e:
        write_record(path, {**base, "status": "unavailable", "reason": str(e), "provenance": provenance.collect()})
        return "unavailable", path
    return PlannedRun(path, key, base, label, seed, cfg, x, infos)


def finish_run(feats: Features, run: PlannedRun, out: dict[str, Any], total_s: float) -> Path:
    """Write ``run``'s record from :func:`train_and_evaluate`'s ``out``."""
    task = feats.task
    test, valid = out["test"], out["valid"]
    names = feats.graph.artists
    n_targets = _target_counts(feats, "test")
    write_record(run.path, {
        **run.base, "status": "ok",
        "metrics": {f"ndcg@{task.k}": test.mean, f"valid_ndcg@{task.k}": valid.mean,
                    "chance": chance_ndcg(n_targets, test.n_candidates, task.k)},
        "evaluation": {"k": test.k, "queries": test.n_queries, "queries_with_targets": test.n_with_targets,
                       "candidates": test.n_candidates, "hidden_relations": test.n_targets},
        "valid_evaluation": {"k": valid.k, "queries": valid.n_queries,
                             "queries_with_targets": valid.n_with_targets, "candidates": valid.n_candidates,
                             "hidden_relations": valid.n_targets},
        "per_query": {"artists": [names[int(i)] for i in test.query_nodes], f"ndcg@{task.k}": test.ndcg},
        "features": {"label": run.label, "dim": int(run.x.shape[1]), "parts": run.infos},
        "training": {k: out[k] for k in ("best_step", "steps_run", "stop_reason", "valid_curve", "train_losses",
                                         "parameters")},
        "wall_time_s": {"gnn_s": out["wall_s"], "total_s": total_s},
        "cpu_time_s": {"gnn_s": out["cpu_s"]},
        "provenance": provenance.collect(),
    })
    return run.path


def run_one(feats: Features, label: str, layers: int, seed: int, *, dataset_label: str, profile: str,
            results_dir: Path, gnn: GNNConfig | None = None) -> tuple[str, Path]:
    """One record: dataset × feature set × layer count × seed (reused when its key matches)."""
    planned = plan_run(feats, label, layers, seed, dataset_label=dataset_label, profile=profile,
                       results_dir=results_dir, gnn=gnn)
    if not isinstance(planned, PlannedRun):
        return planned
    return "ok", finish_run(feats, planned, *_timed_training(planned.x, planned.cfg, planned.seed, feats.graph,
                                                            feats.split, feats.graphs))


def _timed_training(x: np.ndarray, cfg: GNNConfig, seed: int, graph: ArtistGraph, split: ArtistSplit,
                    graphs: TaskGraphs) -> tuple[dict[str, Any], float]:
    """:func:`train_and_evaluate`'s output and its wall seconds (in this process or a worker)."""
    t0 = time.perf_counter()
    out = train_and_evaluate(x, graph, split, cfg, seed, graphs=graphs)
    return out, time.perf_counter() - t0


def _target_counts(feats: Features, which: str) -> list[int]:
    g = feats.graphs.test if which == "test" else feats.graphs.valid
    return [len(t) for t in g.targets]


def prepare(dataset: Dataset, task: ArtistTask) -> tuple[ArtistGraph, ArtistSplit]:
    """The dataset's graph (refused without ``artist_relations.csv``) and its artist split."""
    graph = load_artist_graph(dataset)
    return graph, split_artists(graph, task.fractions, task.split_seed, dataset)


def measure(study: Study, profile: str, results_dir: str | Path, *, encoders: Sequence[str] | None = None,
            datasets: Sequence[str] | None = None, progress: bool = True,
            fail_fast: bool = False, jobs: int = 1) -> dict[str, list[str]]:
    """Run the study's :class:`ArtistTask` (``study.task``): every dataset × feature set ×
    layer count × seed that is not finished; returns record labels by status.

    Features (embeddings through the grid's cache, artist-disjoint fits) are computed in this
    process; ``jobs > 1`` then trains the GNN runs in that many spawned worker processes (each
    run uses ``GNNConfig.threads`` threads, one by default, so the numbers do not depend on
    ``jobs``); this process writes each record as its run finishes."""
    from tqdm.auto import tqdm

    from benchmark.core.dataset import is_dataset_dir
    from benchmark.data import catalog
    from benchmark.harness.grid import verify_content_hash

    task = study.task
    if not isinstance(task, ArtistTask):
        raise TypeError(f"study {study.name!r}: task is {type(task).__name__}, expected ArtistTask")
    require_pyg()
    size = task.size(profile)
    outcome: dict[str, list[str]] = {"ok": [], "cached": [], "unavailable": [], "failed": []}
    names = [d for d in task.datasets if not datasets or d in datasets]
    for name in names:
        ds = catalog.resolve(name, size, progress=progress)
        verify_content_hash(ds, name, size)
        label = ds.name if is_dataset_dir(name) else name  # a folder goes by its manifest's name
        graph, split = prepare(ds, task)
        feats = Features(ds, graph, split, task, profile, progress=progress)
        sets = expand_features(task.features, profile, encoders)
        runs = [(f, L, s) for f in sets for L in task.layers for s in task.seeds]
        planned: list[tuple[str, PlannedRun]] = []
        for features, layers, seed in tqdm(runs, desc=f"{TASK} {label} features", unit="run",
                                           disable=not progress):
            what = f"{label} × {features} × {layers} layer(s) × seed {seed} [{profile}]"
            try:
                got = plan_run(feats, features, layers, seed, dataset_label=label, profile=profile,
                               results_dir=Path(results_dir))
            except Exception:
                if fail_fast:
                    raise
                tqdm.write(f"FAILED {what}:\n{traceback.format_exc()}")
                outcome["failed"].append(what)
                continue
            if isinstance(got, PlannedRun):
                planned.append((what, got))
            else:
                outcome[got[0]].append(what)
        for what, status in _train_planned(feats, planned, jobs, label, progress, fail_fast):
            outcome[status].append(what)
    return outcome


def _train_planned(feats: Features, planned: Sequence[tuple[str, PlannedRun]], jobs: int, label: str,
                   progress: bool, fail_fast: bool) -> Iterator[tuple[str, str]]:
    """Train ``planned`` runs (in ``jobs`` worker processes when > 1) and write their records;
    yields ``(what, status)`` as each finishes."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(planned), desc=f"{TASK} {label} GNN", unit="run", disable=not progress)

    def failed(what: str, tb: str) -> tuple[str, str]:
        tqdm.write(f"FAILED {what}:\n{tb}")
        return what, "failed"

    workers = min(jobs, len(planned))
    if workers <= 1:
        for what, run in planned:
            try:
                out, total_s = _timed_training(run.x, run.cfg, run.seed, feats.graph, feats.split, feats.graphs)
            except Exception:
                if fail_fast:
                    raise
                yield failed(what, traceback.format_exc())
            else:
                finish_run(feats, run, out, total_s)
                yield what, "ok"
            bar.update()
        bar.close()
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_gnn_worker, initargs=(feats.graph, feats.split)) as pool:
        futures = {pool.submit(_train_in_worker, run.x, run.cfg, run.seed): (what, run) for what, run in planned}
        for fut in as_completed(futures):
            what, run = futures[fut]
            try:
                out, total_s = fut.result()
            except Exception as e:  # the worker's traceback travels as the exception's cause
                if fail_fast:
                    for f in futures:
                        f.cancel()
                    raise
                yield failed(what, "".join(traceback.format_exception(e)))
            else:
                finish_run(feats, run, out, total_s)
                yield what, "ok"
            bar.update()
    bar.close()


#: a GNN worker's graph, split and task graphs (set once per worker by _init_gnn_worker)
_WORKER: dict[str, Any] = {}


def _init_gnn_worker(graph: ArtistGraph, split: ArtistSplit) -> None:
    _WORKER.update(graph=graph, split=split, graphs=TaskGraphs.of(graph, split))


def _train_in_worker(x: np.ndarray, cfg: GNNConfig, seed: int) -> tuple[dict[str, Any], float]:
    return _timed_training(x, cfg, seed, _WORKER["graph"], _WORKER["split"], _WORKER["graphs"])
