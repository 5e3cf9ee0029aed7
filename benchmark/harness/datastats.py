"""Dataset statistics for Table 1, written as a result file per (profile, dataset).

Homogeneity = mean over test playlists of the mean pairwise cosine similarity among the
audio embeddings of the playlist's tracks, with the audio encoder named in the file. Beside
it, the background: the mean pairwise cosine over all pairs of the test split's tracks, what
a playlist of randomly drawn tracks would score, so that encoders whose embeddings occupy a
narrow cone (high cosines everywhere) can be read against their own baseline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core import provenance
from benchmark.core.dataset import SPLITS, Dataset
from benchmark.core.results import SCHEMA, STATS_FILE, write_record
from benchmark.harness.embeddings import EmbeddingStore


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean of ``cos(v_i, v_j)`` over unordered pairs ``i < j`` (needs ≥ 2 vectors)."""
    n = vectors.shape[0]
    if n < 2:
        raise ValueError("homogeneity needs at least 2 tracks")
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def background_cosine(vectors: np.ndarray) -> float:
    """:func:`mean_pairwise_cosine` of all rows in O(n·d): with unit rows ``u_i`` and
    ``S = Σ_i u_i``, ``Σ_{i≠j} cos(u_i, u_j) = |S|² − Σ_i |u_i|²``, over ``n(n − 1)`` pairs."""
    n = vectors.shape[0]
    if n < 2:
        raise ValueError("the background cosine needs at least 2 tracks")
    v = vectors.astype(np.float64) / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    total = v.sum(axis=0)
    return float((total @ total - (v * v).sum()) / (n * (n - 1)))


def homogeneity(dataset: Dataset, split: str, ids: list[str], vectors: np.ndarray) -> float:
    pos = {t: i for i, t in enumerate(ids)}
    values = [mean_pairwise_cosine(vectors[[pos[t] for t in dataset.playlists[p]]])
              for p in dataset.playlist_ids(split)]
    return float(np.mean(values)) if values else float("nan")


def dataset_stats(dataset: Dataset) -> dict[str, Any]:
    """Counts in the paper's Table 1 layout plus per-split detail."""
    per_split: dict[str, Any] = {}
    for s in SPLITS:
        pids = dataset.playlist_ids(s)
        lengths = [len(dataset.playlists[p]) for p in pids]
        tids = dataset.track_ids(s)
        occurrences = sum(lengths)
        per_split[s] = {
            "tracks": len(tids), "playlists": len(pids),
            "avg_tracks_per_playlist": float(np.mean(lengths)) if lengths else 0.0,
            "avg_playlists_per_track": occurrences / len(tids) if tids else 0.0,
        }
    return {
        "train_tracks": per_split["train"]["tracks"],
        "test_playlists": per_split["test"]["playlists"],
        "eval_tracks": per_split["test"]["tracks"],
        # the training side, where the paper's 1.41 (MPD) and 4.63 (LFM) hold
        "avg_tracks_per_playlist": per_split["train"]["avg_tracks_per_playlist"],
        "avg_playlists_per_track": per_split["train"]["avg_playlists_per_track"],
        "pretrain_tracks": len(dataset.track_ids("pretrain")),
        "per_split": per_split,
    }


def _encoder_entry(store: EmbeddingStore) -> dict[str, Any]:
    assert store.encoder.meta is not None
    return {"name": store.encoder.name, "version": store.encoder.meta.version,
            "config": store.encoder.config, "split": "test"}


def write_dataset_stats(dataset: Dataset, profile: str, dataset_name: str, results_dir: Path,
                        store: EmbeddingStore, also: Sequence[EmbeddingStore] = (),
                        also_unavailable: Mapping[str, str] | None = None) -> Path:
    """Compute Table 1's row for ``dataset`` (homogeneity with ``store``'s encoder, and with
    each of ``also``'s; ``also_unavailable``: encoder → why it could not run) and write it."""
    t0 = time.perf_counter()
    ids, vecs = store.get("test")
    stats = dataset_stats(dataset)
    stats["homogeneity"] = homogeneity(dataset, "test", ids, vecs)
    stats["homogeneity_background"] = background_cosine(vecs)
    extra: dict[str, Any] = {}
    for other in also:
        o_ids, o_vecs = other.get("test")
        extra[other.encoder.name] = {**_encoder_entry(other), "value": homogeneity(dataset, "test", o_ids, o_vecs),
                                     "background": background_cosine(o_vecs)}
    for name, why in (also_unavailable or {}).items():
        extra[name] = {"name": name, "status": "unavailable", "reason": why}
    if extra:
        stats["homogeneity_also"] = extra
    result = {
        "schema": SCHEMA, "kind": "dataset_stats",
        "cell": {"profile": profile, "dataset": dataset_name},
        "dataset": {"name": dataset.name, "hash": dataset.content_hash, "manifest": dataset.manifest},
        "stats": stats,
        "homogeneity_encoder": _encoder_entry(store),
        "wall_time_s": time.perf_counter() - t0,
        "provenance": provenance.collect(),
    }
    return write_record(Path(results_dir) / profile / dataset_name / STATS_FILE, result)
