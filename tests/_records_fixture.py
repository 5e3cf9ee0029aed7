"""Hand-built result records (and rankings files) for the report and statistics tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.metrics import evaluate
from benchmark.core.rankings import rankings_path, save_rankings
from benchmark.core.results import Cell, write_record


def encoder_meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": "1", "description": name, "dim": 8, "sample_rate": None,
            "modalities": ["audio"], "trains": False, "trains_on": "nothing", "weights": "none",
            "citation": f"{name} et al.", "requires": [], "paper_row": None, "tags": [], **extra}


def write_cell(results: Path, profile: str, dataset: str, encoder: str, recommender: str,
               per_playlist: dict[str, np.ndarray] | None, *, seed: int = 0, status: str = "ok",
               meta: dict[str, Any] | None = None, rankings: dict[str, Any] | None = None,
               extra: dict[str, Any] | None = None) -> Path:
    """One cell record; ``per_playlist`` maps metric names to arrays (``None`` for an
    unavailable cell); ``rankings`` (topk, seeds, truth, artists) also writes the sidecar."""
    cell = Cell(profile, dataset, encoder, recommender, seed)
    path = cell.path(results)
    data: dict[str, Any] = {
        "kind": "cell", "cell": cell.__dict__, "cell_key": f"{dataset}-{encoder}-{recommender}-{seed}",
        "status": status, "seed": seed,
        "dataset": {"name": f"{dataset}-tiny", "hash": "ab" * 32, "paper_column": None},
        "encoder": {"meta": meta or encoder_meta(encoder), "config": {}},
        "recommender": {"meta": {"name": recommender, "version": "1", "paper_row": "ItemKNN",
                                 "trains": False}, "config": {}},
        "provenance": {"git": {"commit": "0123456789abcdef", "dirty": False},
                       "versions": {"numpy": np.__version__}, "timestamp": "2026-01-01T00:00:00+00:00"},
        **(extra or {}),
    }
    if status != "ok":
        data["reason"] = f"{encoder}: no weights here"
    else:
        assert per_playlist is not None
        n = len(next(iter(per_playlist.values())))
        data["metrics"] = {m: float(np.mean(v)) for m, v in per_playlist.items()}
        data["ci95"] = {m: [float(np.min(v)), float(np.max(v))] for m, v in per_playlist.items()}
        data["per_playlist"] = {"playlist_ids": [f"p{i}" for i in range(n)],
                                **{m: [float(x) for x in v] for m, v in per_playlist.items()}}
    if rankings is not None:
        ids = [f"p{i}" for i in range(len(rankings["seeds"]))]
        save_rankings(rankings_path(path), ids, np.asarray(rankings["topk"]), rankings["seeds"],
                      rankings["truth"], rankings["artists"])
        data["rankings"] = {"file": rankings_path(path).name, "k": int(np.asarray(rankings["topk"]).shape[1])}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_record(path, data)
    return path


def metrics_from_topk(topk: np.ndarray, truth: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-playlist metrics of a top-40 list (what the grid stores)."""
    return evaluate(np.asarray(topk), truth)


def random_world(n_playlists: int = 12, n_candidates: int = 60, seed: int = 0,
                 quality: float = 0.5) -> dict[str, Any]:
    """Top-40 rankings over ``n_candidates`` tracks of 15 artists; ``quality`` is the chance
    that a ground-truth track is moved to the front of the list."""
    rng = np.random.default_rng(seed)
    artists = [f"artist{i % 15}" for i in range(n_candidates)]
    seeds, truth, topk = [], [], []
    for _ in range(n_playlists):
        tracks = rng.choice(n_candidates, size=int(rng.integers(6, 30)), replace=False)
        half = len(tracks) // 2
        seeds.append(tracks[:half])
        truth.append(tracks[half:])
        rest = np.setdiff1d(np.arange(n_candidates), tracks[:half])
        rng.shuffle(rest)
        good = [t for t in tracks[half:] if rng.random() < quality]
        order = [*good, *[t for t in rest if t not in good]][:40]
        topk.append(order)
    return {"topk": np.asarray(topk), "seeds": seeds, "truth": truth, "artists": artists}
