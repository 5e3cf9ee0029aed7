"""Embedding cache: encoder outputs per (encoder name, version, config, dataset hash, seed).

Each split's embeddings are one safetensors file (tensor ``embeddings``; the track ids
in the metadata), written atomically; a trained encoder's state lives in the sibling
``workdir``. A finished entry is never recomputed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_text, file_lock, save_safetensors
from benchmark.core.cache import cache_root, key_hash
from benchmark.core.dataset import Dataset
from benchmark.core.faults import crash_point
from benchmark.core.provenance import output_library_versions
from benchmark.harness.validators import encoder_validator
from encoders.base import Encoder


def encoder_key(encoder: Encoder, dataset: Dataset, seed: int,
                fit_dataset: Dataset | None = None) -> dict[str, Any]:
    assert encoder.meta is not None
    key = {
        "encoder": encoder.meta.name,
        "version": encoder.meta.version,
        "config": encoder.cache_config(),
        "dataset_hash": dataset.content_hash,
        "seed": seed,
    }
    if fit_dataset is not None and fit_dataset.content_hash != dataset.content_hash:
        key["fit_dataset_hash"] = fit_dataset.content_hash
    inputs = encoder.input_fingerprint()
    if inputs:
        key["inputs"] = inputs
    if encoder.meta.output_libraries:  # a new library version computes new embeddings
        key["libraries"] = output_library_versions(encoder.meta.output_libraries)
    return key


def save_embeddings(path: Path, track_ids: Sequence[str], vectors: np.ndarray,
                    extra: dict[str, str] | None = None) -> None:
    meta = {"track_ids": json.dumps(list(track_ids)), **(extra or {})}
    save_safetensors(path, {"embeddings": np.ascontiguousarray(vectors, dtype=np.float32)}, meta)


def load_embeddings(path: Path) -> tuple[list[str], np.ndarray]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        ids = json.loads(f.metadata()["track_ids"])
        vectors = f.get_tensor("embeddings")
    return ids, vectors


class EmbeddingStore:
    """Lazily fits an encoder (once) and embeds dataset splits (once each), with caching.

    ``fit_dataset`` (default: ``dataset``) is the dataset a trained encoder learns from;
    a different one gives the cross-dataset setting of Table 4 (train on A, embed B).
    """

    def __init__(self, encoder: Encoder, dataset: Dataset, seed: int,
                 root: Path | None = None, progress: bool = True,
                 fit_dataset: Dataset | None = None) -> None:
        self.encoder = encoder
        self.dataset = dataset
        self.fit_dataset = fit_dataset or dataset
        self.seed = seed
        self.key = encoder_key(encoder, dataset, seed, fit_dataset)
        self.dir = (root or cache_root()) / "encoders" / encoder.name / key_hash(self.key)
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.fit_report: dict[str, Any] | None = None
        self.cached_costs: dict[str, Any] = {}
        self._fitted = False

    @property
    def workdir(self) -> Path:
        return self.dir / "workdir"

    def _ensure_fitted(self) -> None:
        """Fit once (the caller holds the entry's lock). The first fit's report is kept; a
        report file that cannot be read (an interrupted write) is replaced."""
        if self._fitted:
            return
        assert self.encoder.meta is not None
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / "key.json", json.dumps(self.key, indent=1, sort_keys=True, default=str))
        done = self.dir / "fit_report.json"
        # A trained encoder always goes through fit(); fit() itself reuses finished
        # checkpoints in the workdir, so a cached entry is cheap to reload.
        if self.encoder.meta.trains:
            self.workdir.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            split = self.encoder.selection_split
            report = self.encoder.fit(self.fit_dataset, seed=self.seed, workdir=self.workdir,
                                      validator=encoder_validator(self.fit_dataset, split)) or {}
            self.timings["fit_s"] = time.perf_counter() - t0
            kept = _read_report(done)
            if kept is None:
                kept = json.loads(json.dumps(report, sort_keys=True, default=str))
                atomic_write_text(done, json.dumps(kept, indent=1, sort_keys=True) + "\n")
            self.fit_report = kept
        self._fitted = True

    def get(self, split: str) -> tuple[list[str], np.ndarray]:
        """Track ids of ``split`` (dataset order) and their embeddings ``[n, d]``. Fitting and
        embedding hold the cache entry's lock, so two processes never train or embed the same
        entry at the same time: the second waits, then reuses what the first wrote."""
        path = self.dir / f"{split}.safetensors"
        ids = self.dataset.track_ids(split)
        cached = _load_if_current(path, ids)
        if cached is not None:
            self._note_cached(split)
            return ids, cached
        self.dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.dir / ".lock"):
            cached = _load_if_current(path, ids)  # written by another process meanwhile
            if cached is not None:
                self._note_cached(split)
                return ids, cached
            self._ensure_fitted()
            t0 = time.perf_counter()
            vectors = np.asarray(self.encoder.embed(self.dataset, ids), dtype=np.float32)
            self.timings[f"embed_{split}_s"] = time.perf_counter() - t0
            if vectors.shape[0] != len(ids) or vectors.ndim != 2:
                raise ValueError(f"encoder {self.encoder.name!r} returned shape {vectors.shape} "
                                 f"for {len(ids)} tracks of split {split!r}")
            if not np.all(np.isfinite(vectors)):
                bad = int((~np.isfinite(vectors)).any(axis=1).sum())
                raise FloatingPointError(f"encoder {self.encoder.name!r} produced non-finite embeddings "
                                         f"for {bad} track(s) of split {split!r}")
            crash_point("cache-write")
            save_embeddings(path, ids, vectors, {
                "encoder": self.encoder.name,
                "clips_per_s": f"{len(ids) / max(self.timings[f'embed_{split}_s'], 1e-9):.2f}"})
            made = {**_read_json(self.dir / COST_FILE), f"embed_{split}_s": self.timings[f"embed_{split}_s"],
                    f"embed_{split}_clips": len(ids)}
            if "fit_s" in self.timings:
                made["fit_s"] = self.timings["fit_s"]
            atomic_write_text(self.dir / COST_FILE, json.dumps(made, indent=1, sort_keys=True) + "\n")
        return ids, vectors

    def get_tracks(self, track_ids: Sequence[str]) -> np.ndarray:
        """Embeddings of some tracks (any splits), in the given order: read from the cached
        files of their splits where those exist (the grid's), else only these tracks are
        embedded, and cached as ``tracks-<hash of the ids>.safetensors``. The same vectors as
        :meth:`get` gives: an encoder embeds each track independently of its batch."""
        ids = list(track_ids)
        out: dict[str, np.ndarray] = {}
        for split in sorted({self.dataset.tracks[t].split for t in ids}):
            path = self.dir / f"{split}.safetensors"
            cached = _load_if_current(path, self.dataset.track_ids(split))
            if cached is not None:
                pos = {t: i for i, t in enumerate(self.dataset.track_ids(split))}
                out.update({t: cached[pos[t]] for t in ids if t in pos})
        missing = [t for t in ids if t not in out]
        if missing:
            path = self.dir / f"tracks-{key_hash({'track_ids': missing})}.safetensors"
            cached = _load_if_current(path, missing)
            if cached is None:
                self.dir.mkdir(parents=True, exist_ok=True)
                with file_lock(self.dir / ".lock"):
                    cached = _load_if_current(path, missing)
                    if cached is None:
                        self._ensure_fitted()
                        t0 = time.perf_counter()
                        cached = np.asarray(self.encoder.embed(self.dataset, missing), dtype=np.float32)
                        self.timings["embed_tracks_s"] = self.timings.get("embed_tracks_s", 0.0) + (
                            time.perf_counter() - t0)
                        if cached.ndim != 2 or cached.shape[0] != len(missing) or not np.all(np.isfinite(cached)):
                            raise ValueError(f"encoder {self.encoder.name!r} returned shape {cached.shape} (or "
                                             f"non-finite values) for {len(missing)} tracks")
                        save_embeddings(path, missing, cached, {"encoder": self.encoder.name})
            out.update({t: cached[i] for i, t in enumerate(missing)})
        return np.stack([out[t] for t in ids]) if ids else np.zeros((0, 0), dtype=np.float32)

    def _note_cached(self, split: str) -> None:
        """A split served from the cache: remember the cost recorded when it was made."""
        made = _read_json(self.dir / COST_FILE)
        self.cached_costs.update({k: v for k, v in made.items() if k.startswith(f"embed_{split}_") or k == "fit_s"})

    def cost(self) -> dict[str, Any]:
        """Seconds spent here (``fit_s``, ``embed_<split>_s``), and for what came from the
        cache the seconds recorded when it was made, under ``cached``."""
        return {"measured": dict(self.timings), "cached": dict(self.cached_costs)}


def _load_if_current(path: Path, ids: list[str]) -> np.ndarray | None:
    """Cached vectors of exactly ``ids``, or ``None`` (missing, other ids, or unreadable)."""
    if not path.is_file():
        return None
    try:
        cached_ids, vectors = load_embeddings(path)
    except Exception:  # a damaged cache file is recomputed, never trusted
        return None
    return vectors if cached_ids == ids else None


COST_FILE = "cost.json"


def _read_json(path: Path) -> dict[str, Any]:
    return _read_report(path) or {}


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None
