"""The grid runner: dataset × encoder × recommender × seed, one result file per cell.

A finished cell (its result file exists with the same cell key) is skipped, so an
interrupted grid resumes where it stopped. Embeddings are cached per encoder key
(:mod:`benchmark.harness.embeddings`), so every recommender reuses them.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core import provenance
from benchmark.core.cache import key_hash
from benchmark.core.dataref import base_name, is_variant
from benchmark.core.dataset import Dataset, DatasetError, content_hash, is_dataset_dir, sha256_file
from benchmark.core.evaluation import make_validator, rank_queries
from benchmark.core.faults import crash_point
from benchmark.core.metrics import bootstrap_ci, evaluate
from benchmark.core.profiles import get_profile
from benchmark.core.protocol import QuerySet, build_queries
from benchmark.core.rankings import rankings_path, save_rankings
from benchmark.core.results import (
    PROTOCOL_VERSION,
    Cell,
    is_complete,
    parse_variant,
    read_record,
    write_record,
)
from benchmark.core.results import cell_key as record_cell_key
from benchmark.core.validate import check_leakage
from benchmark.data import catalog
from benchmark.harness.embeddings import EmbeddingStore
from encoders import REGISTRY as ENCODERS
from encoders.base import Encoder, EncoderUnavailable
from recommenders import REGISTRY as RECOMMENDERS
from recommenders.base import Recommender, TrainData


@dataclass
class GridConfig:
    profile: str = "quick"
    datasets: Sequence[str] = ()
    encoders: Sequence[str] = ()
    recommenders: Sequence[str] = ()
    seeds: Sequence[int] = ()
    results_dir: Path = Path("results")
    shuffle_seed: int = 0  # query shuffle seed (fixed, as in the paper)
    selection_split: str = "valid"  # "test" reproduces the official code's selection on test
    #: a study's variant axis: each ``key=value[,key=value]`` label overrides the encoder config
    #: of its cells (Figure 4: ``n_seed=1`` ... ``n_seed=30``); ``()`` = one cell without variant
    variants: Sequence[str] = ()
    encoder_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    recommender_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: train encoders on this dataset instead of the evaluated one (cross-dataset, Table 4)
    encoder_train_dataset: str | None = None
    n_bootstrap: int = 2000
    progress: bool = True
    fail_fast: bool = False
    #: encoders a study declares before they are registered (written elsewhere): when one is
    #: not registered its cells are skipped with the reason (:attr:`GridRunner.unregistered`)
    #: instead of the error an unknown name gets
    pending_encoders: Sequence[str] = ()

    def unregistered(self) -> dict[str, str]:
        """The pending encoders of this grid that are not registered, with the reason."""
        return {n: f"encoder {n!r} is not registered (declared ahead of its code; known: "
                   f"{', '.join(ENCODERS.names())})"
                for n in self.encoders if n in self.pending_encoders and n not in ENCODERS}

    def resolved(self) -> GridConfig:
        prof = get_profile(self.profile)
        if self.selection_split not in ("valid", "test"):
            raise ValueError(f"selection_split must be 'valid' or 'test', not {self.selection_split!r}")
        # "every encoder of the profile" never includes an oracle: they run by name (ceilings study)
        encs = list(self.encoders) or [n for n, c in ENCODERS
                                       if self.profile in c.default_profiles and "oracle" not in c.meta.tags]
        recs = list(self.recommenders) or [n for n, c in RECOMMENDERS if self.profile in c.default_profiles]
        skipped = self.unregistered()
        encs = [n for n in encs if n not in skipped]
        for n in encs:
            ENCODERS.get(n)  # raises with suggestions on a typo
        for n in recs:
            RECOMMENDERS.get(n)
        for flag, overrides, names, registry in (
                ("--encoder-config", self.encoder_overrides, encs, ENCODERS),
                ("--recommender-config", self.recommender_overrides, recs, RECOMMENDERS)):
            for n in overrides:
                registry.get(n)  # an unknown name: error with suggestions
                if n not in names:
                    raise ValueError(f"{flag} {n}.…: {n!r} is not among this grid's {registry.kind}s "
                                     f"({', '.join(names)}), so the override would do nothing")
        return GridConfig(
            profile=self.profile,
            datasets=list(self.datasets) or list(prof.datasets),
            encoders=encs, recommenders=recs,
            seeds=list(self.seeds) or list(prof.seeds),
            results_dir=Path(self.results_dir), shuffle_seed=self.shuffle_seed,
            selection_split=self.selection_split, variants=list(self.variants),
            encoder_overrides=self.encoder_overrides,
            recommender_overrides=self.recommender_overrides,
            encoder_train_dataset=self.encoder_train_dataset,
            n_bootstrap=self.n_bootstrap, progress=self.progress, fail_fast=self.fail_fast,
            pending_encoders=list(self.pending_encoders),
        )


#: a dataset name used in result paths: letters, digits, '.', '_', '-', and the characters of a
#: variant reference (``synth-mpd[caption_vocab=0.25,seed=1]-ci``: '[', ']', '=', ',', '+')
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-+=,\[\]]*")


def make_encoder(name: str, profile: str, seed: int, overrides: dict[str, Any] | None = None,
                 selection_split: str | None = None) -> Encoder:
    """The encoder's profile config, with the cell's seed and the grid's selection split
    passed to encoders that have those options (unless overridden explicitly)."""
    cls = ENCODERS.get(name)
    cfg = dict(overrides or {})
    if "seed" in cls.default_config and "seed" not in cfg:
        cfg["seed"] = seed
    if selection_split and "selection_split" in cls.default_config and "selection_split" not in cfg:
        cfg["selection_split"] = selection_split
    return cls.from_profile(profile, cfg)


def make_recommender(name: str, profile: str, seed: int, overrides: dict[str, Any] | None = None) -> Recommender:
    cls = RECOMMENDERS.get(name)
    cfg = dict(overrides or {})
    if "seed" in cls.default_config and "seed" not in cfg:
        cfg["seed"] = seed
    return cls.from_profile(profile, cfg)


def train_data(dataset: Dataset, ids: list[str], vectors: np.ndarray) -> TrainData:
    pos = {t: i for i, t in enumerate(ids)}
    pids = dataset.playlist_ids("train")
    return TrainData(ids, vectors, [np.array([pos[t] for t in dataset.playlists[p]], dtype=np.int64)
                                    for p in pids], pids)


def cell_key(cell: Cell, encoder: Encoder, recommender: Recommender, dataset: Dataset,
             cfg: GridConfig) -> str:
    assert encoder.meta is not None and recommender.meta is not None
    return record_cell_key(cell, dataset_hash=dataset.content_hash, encoder_version=encoder.meta.version,
                           encoder_config=encoder.cache_config(), recommender_version=recommender.meta.version,
                           recommender_config=recommender.config, shuffle_seed=cfg.shuffle_seed,
                           selection_split=cfg.selection_split)


def finished_key(cell: Cell, encoder: Encoder, recommender: Recommender, dataset: Dataset,
                 cfg: GridConfig, unavailable: str | None = None) -> str:
    """The key a cell's record must carry for the grid to reuse it: :func:`cell_key`, plus the
    reason when the encoder is unavailable (providing the missing file changes it), else plus
    the encoder's :meth:`~encoders.base.Encoder.input_fingerprint` when it has one (a feature
    file or checkpoint replaced in place makes the cell stale)."""
    ckey = cell_key(cell, encoder, recommender, dataset, cfg)
    if unavailable is not None:
        return key_hash({"cell_key": ckey, "unavailable": unavailable})
    inputs = encoder.input_fingerprint()
    return key_hash({"cell_key": ckey, "inputs": inputs}) if inputs else ckey


class GridRunner:
    """Runs the cells of a :class:`GridConfig`; datasets, queries and embeddings are shared."""

    def __init__(self, config: GridConfig) -> None:
        #: pending encoders that are not registered: their cells are skipped, with this reason
        self.unregistered = config.unregistered()
        self.cfg = config.resolved()
        self._datasets: dict[str, Dataset] = {}
        self._queries: dict[tuple[str, str], QuerySet] = {}
        self._stores: dict[tuple[str, str, str, int, str | None], EmbeddingStore] = {}
        self._sources: dict[str, str] = {}  # label -> the dataset folder it stands for
        self._parameters: dict[str, int | None] = {}
        self._check_configs()

    def _check_configs(self) -> None:
        """Build every encoder and recommender once with its overrides (and each variant), so a
        bad option value is refused before any cell runs, not reported per cell."""
        c = self.cfg
        seed = next(iter(c.seeds), 0)
        for e in c.encoders:
            for v in list(c.variants) or [None]:
                make_encoder(e, c.profile, seed, {**c.encoder_overrides.get(e, {}), **parse_variant(v)},
                             c.selection_split)
        for r in c.recommenders:
            make_recommender(r, c.profile, seed, c.recommender_overrides.get(r))
        for d in [*c.datasets, *([c.encoder_train_dataset] if c.encoder_train_dataset else [])]:
            if not is_dataset_dir(d) and is_variant(d):  # a bad override: refused before any cell
                catalog.check_reference(d, self.size(d))

    def size(self, name: str) -> str:
        """The size the profile builds catalog dataset ``name`` (or a variant of it) at."""
        size = get_profile(self.cfg.profile).dataset_size
        meta = catalog.get_builder(base_name(name)).meta
        assert meta is not None
        if size not in meta.sizes and self.cfg.profile == "paper":
            size = meta.sizes[-1]  # a dataset without a "paper" size runs at its largest
        return size

    def label(self, dataset: str) -> str:
        """The name a dataset goes by in cells and result paths: a catalog name as given (a
        variant reference in its canonical spelling, so cells of one world share a key), a
        dataset folder by the ``name`` of its manifest (never the path itself)."""
        if not is_dataset_dir(dataset):
            return catalog.label(dataset)
        name = str(json.loads((Path(dataset) / "manifest.json").read_text(encoding="utf-8")).get("name", ""))
        if not _LABEL.fullmatch(name):
            raise ValueError(f"{Path(dataset) / 'manifest.json'}: field 'name' is {name!r}; a dataset used by "
                             "path needs a name of letters, digits, '.', '_' and '-' (it names its result folder)")
        known = self._sources.setdefault(name, dataset)
        if Path(known).resolve() != Path(dataset).resolve() and is_dataset_dir(known):
            raise ValueError(f"two datasets named {name!r}: {known} and {dataset}; rename one in its manifest")
        return name

    def cells(self) -> list[Cell]:
        c = self.cfg
        variants = list(c.variants) or [None]
        train = self.label(c.encoder_train_dataset) if c.encoder_train_dataset else None
        return [Cell(c.profile, self.label(d), e, r, s, train, v)
                for d, e, v, r, s in itertools.product(c.datasets, c.encoders, variants, c.recommenders, c.seeds)]

    def skipped_cells(self) -> list[Cell]:
        """The cells of the pending encoders that are not registered (never run, no record)."""
        c = self.cfg
        variants = list(c.variants) or [None]
        train = self.label(c.encoder_train_dataset) if c.encoder_train_dataset else None
        return [Cell(c.profile, self.label(d), e, r, s, train, v)
                for d, e, v, r, s in itertools.product(c.datasets, self.unregistered, variants,
                                                       c.recommenders, c.seeds)]

    def dataset(self, name: str) -> Dataset:
        name = self._sources.get(name, name)
        if name not in self._datasets:
            size = get_profile(self.cfg.profile).dataset_size
            if not is_dataset_dir(name):
                size = self.size(name)
            ds = catalog.resolve(name, size, progress=self.cfg.progress)
            verify_content_hash(ds, name, size)
            check_leakage(ds)
            self._datasets[name] = ds
        return self._datasets[name]

    def queries(self, dataset: str, split: str) -> QuerySet:
        if (dataset, split) not in self._queries:
            self._queries[dataset, split] = build_queries(self.dataset(dataset), split, self.cfg.shuffle_seed)
        return self._queries[dataset, split]

    def store(self, dataset: str, encoder: Encoder, seed: int,
              fit_dataset: str | None = None) -> EmbeddingStore:
        # the config is part of the key: cells of one encoder with different overrides (a
        # study's variants, e.g. Figure 4's n_seed) must not share a fitted encoder
        key = (dataset, encoder.name, key_hash(encoder.cache_config()), seed, fit_dataset)
        if key not in self._stores:
            self._stores[key] = EmbeddingStore(
                encoder, self.dataset(dataset), seed, progress=self.cfg.progress,
                fit_dataset=self.dataset(fit_dataset) if fit_dataset else None)
        return self._stores[key]

    def parameter_count(self, encoder: Encoder) -> int | None:
        """The encoder's parameter count (by its config; computed once per config)."""
        key = key_hash({"name": encoder.name, "config": encoder.cache_config()})
        if key not in self._parameters:
            try:
                self._parameters[key] = encoder.parameter_count()
            except Exception:  # counting must never fail a finished cell
                self._parameters[key] = None
        return self._parameters[key]

    def stale_libraries(self, path: Path, encoder: Encoder) -> list[str]:
        """Libraries that change the encoder's output (``meta.output_libraries``) whose version
        differs from the one the finished record was computed with (its provenance)."""
        assert encoder.meta is not None
        recorded = (read_record(path).get("provenance") or {}).get("versions") or {}
        changed = provenance.changed_libraries(recorded, encoder.meta.output_libraries)
        if changed and self.cfg.progress:
            print(f"{path}: recomputing, the encoder's libraries changed ({', '.join(changed)})")
        return changed

    # ------------------------------------------------------------------------ one cell
    def run_cell(self, cell: Cell) -> tuple[str, Path]:
        """Run one cell unless finished; returns (status, result path)."""
        cfg = self.cfg
        path = cell.path(cfg.results_dir)
        dataset = self.dataset(cell.dataset)
        overrides = {**cfg.encoder_overrides.get(cell.encoder, {}), **parse_variant(cell.variant)}
        encoder = make_encoder(cell.encoder, cfg.profile, cell.seed, overrides, cfg.selection_split)
        recommender = make_recommender(cell.recommender, cfg.profile, cell.seed,
                                       cfg.recommender_overrides.get(cell.recommender))
        try:
            encoder.check_available()
            encoder.check_dataset(dataset)
            if cell.train_dataset:
                encoder.check_dataset(self.dataset(cell.train_dataset))
            unavailable = None
        except EncoderUnavailable as e:
            unavailable = str(e)
        ckey = finished_key(cell, encoder, recommender, dataset, cfg, unavailable)
        if is_complete(path, ckey, require_ok=unavailable is None) and not self.stale_libraries(
                path, encoder):
            return "cached", path
        assert encoder.meta is not None and recommender.meta is not None
        base: dict[str, Any] = {
            "kind": "cell", "cell": cell.__dict__, "cell_key": ckey,
            "encoder_trained_on": ({"name": cell.train_dataset,
                                    "hash": self.dataset(cell.train_dataset).content_hash}
                                   if cell.train_dataset else None),
            "dataset": {"name": dataset.name, "hash": dataset.content_hash, "root": str(dataset.root),
                        "summary": dataset.summary(), "paper_column": catalog.paper_column(cell.dataset)},
            "encoder": {"meta": encoder.meta.to_dict(), "config": encoder.config},
            "recommender": {"meta": recommender.meta.to_dict(), "config": recommender.config},
            "protocol": {"version": PROTOCOL_VERSION, "shuffle_seed": cfg.shuffle_seed,
                         "selection_split": cfg.selection_split, "n_seeds": "round(n/2)",
                         "candidates": "all tracks of the test split", "seeds_masked": True},
            "seed": cell.seed,
        }
        if unavailable is not None:
            write_record(path, {**base, "status": "unavailable", "reason": unavailable,
                                "provenance": provenance.collect()})
            return "unavailable", path

        t_start = time.perf_counter()
        test = self.queries(cell.dataset, "test")
        if not test.playlist_ids:
            raise DatasetError(f"{dataset.root}: no test playlist with ground truth (playlists.csv has "
                               f"{len(dataset.playlist_ids('test'))} test playlist(s)); nothing to evaluate")
        store = self.store(cell.dataset, encoder, cell.seed, cell.train_dataset)
        _, test_vecs = store.get("test")
        fit_report: dict[str, Any] = {}
        if recommender.meta.trains:
            tr_ids, tr_vecs = store.get("train")
            sel = self.queries(cell.dataset, cfg.selection_split)
            _, sel_vecs = store.get(cfg.selection_split)
            validator = make_validator(sel, sel_vecs)
            t0 = time.perf_counter()
            fit_report = recommender.fit(train_data(dataset, tr_ids, tr_vecs), seed=cell.seed,
                                         validator=validator) or {}
            fit_s = time.perf_counter() - t0
        else:
            fit_s = 0.0
        t0 = time.perf_counter()
        topk = rank_queries(recommender, test, test_vecs)
        per_playlist = evaluate(topk, test.ground_truth)
        score_s = time.perf_counter() - t0
        ranked = save_rankings(rankings_path(path), test.playlist_ids, topk, test.seeds, test.ground_truth,
                               [dataset.tracks[t].artist for t in test.candidate_ids])
        metrics = {m: float(v.mean()) for m, v in per_playlist.items()}
        ci95 = {m: bootstrap_ci(v, n_boot=cfg.n_bootstrap, seed=cell.seed) for m, v in per_playlist.items()}
        result = {
            **base, "status": "ok",
            "metrics": metrics, "ci95": ci95,
            "n_playlists": len(test.playlist_ids), "n_candidates": len(test.candidate_ids),
            "per_playlist": {"playlist_ids": test.playlist_ids, **{m: v for m, v in per_playlist.items()}},
            "rankings": {"file": ranked.name, "k": int(topk.shape[1]), "sha256": sha256_file(ranked)},
            "encoder_fit": store.fit_report, "recommender_fit": fit_report,
            "cost": {"encoder_parameters": self.parameter_count(encoder), "embedding_dim": int(test_vecs.shape[1]),
                     "encoder": store.cost(), "recommender_fit_s": fit_s, "score_s": score_s,
                     **peak_memory()},
            "wall_time_s": {**store.timings, "recommender_fit_s": fit_s, "score_s": score_s,
                            "cell_total_s": time.perf_counter() - t_start},
            "provenance": provenance.collect(),
        }
        crash_point("cell")
        write_record(path, result)
        return "ok", path

    # ------------------------------------------------------------------------ the grid
    def run(self) -> dict[str, list[Cell]]:
        from tqdm.auto import tqdm

        outcome: dict[str, list[Cell]] = {"ok": [], "cached": [], "unavailable": [], "failed": [],
                                          "unregistered": self.skipped_cells()}
        for enc, reason in self.unregistered.items():
            n = sum(cell.encoder == enc for cell in outcome["unregistered"])
            print(f"skipped {n} cell(s): {reason}", file=sys.stderr)
        cells = self.cells()
        bar = tqdm(cells, desc="grid", unit="cell", disable=not self.cfg.progress)
        for cell in bar:
            bar.set_postfix_str(f"{cell.dataset}/{cell.encoder}/{cell.recommender}/s{cell.seed}")
            try:
                status, _ = self.run_cell(cell)
            except Exception:
                if self.cfg.fail_fast:
                    raise
                tqdm.write(f"FAILED {cell.label()}:\n{traceback.format_exc()}")
                status = "failed"
            outcome[status].append(cell)
        return outcome


def peak_memory() -> dict[str, float | None]:
    """Peak resident memory of this process so far (MiB; the grid process runs many cells,
    so it is an upper bound for the cell), and peak CUDA memory when CUDA was used."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict[str, float | None] = {"peak_rss_mib": rss / (1024 * 1024 if sys.platform == "darwin" else 1024)}
    torch = sys.modules.get("torch")
    cuda = torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()
    out["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    return out


def verify_content_hash(dataset: Dataset, name: str, size: str) -> None:
    """Refuse a dataset whose tables changed after its manifest was written (the hash
    covers the tables, the audio checksums, the ground-truth files and the generator
    parameters, not the audio itself: cheap)."""
    actual = content_hash(dataset.root)
    if actual != dataset.content_hash:
        arg = f"'{name}'" if is_variant(name) else name  # '[' is a shell glob character
        fix = (f"larpbench data build {arg} --size {size} --force" if not is_dataset_dir(name)
               else f"rerun the import that wrote {dataset.root}, or larpbench data validate {dataset.root}")
        raise DatasetError(
            f"{dataset.root / 'manifest.json'}: content_hash {dataset.content_hash[:12]}… does not match the "
            f"tables ({actual[:12]}…): the tables, checksums, ground-truth files or generator parameters "
            f"changed after the dataset was written, so cached embeddings and results would be stale. Fix: {fix}")
