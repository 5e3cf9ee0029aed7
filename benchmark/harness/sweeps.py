"""Experiments beyond the grid's cells: Figure 4's ``n_seed`` sweep, and copying LARP's
stage logs into the results folder for Figure 5.

* :func:`figure4_sweep` — trains LARP with the TPC fusion's ``n_seed`` ∈ {1, 5, 10, 20,
  30} (paper §5.4; stages 1-2 are shared, only stage 3 is retrained), evaluates each
  with ItemKNN on the test split and writes one result file per value under
  ``<results>/<profile>/figure4/<dataset>/nseed<k>_seed<s>.json`` (the grid's result
  schema; the file names keep them out of the Table 2 loader).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FIGURE4_N_SEEDS: tuple[int, ...] = (1, 5, 10, 20, 30)


def _figure4_path(results_dir: Path, profile: str, dataset: str, n_seed: int, seed: int) -> Path:
    return Path(results_dir) / profile / "figure4" / dataset / f"nseed{n_seed}_seed{seed}.json"


def figure4_sweep(dataset: str = "synth-mpd", profile: str = "quick",
                  n_seeds: Sequence[int] = FIGURE4_N_SEEDS, seed: int = 0,
                  results_dir: str | Path = "results", overrides: dict[str, Any] | None = None,
                  encoder: str = "larp", progress: bool = True, force: bool = False) -> list[Path]:
    """Train ``encoder`` once per ``n_seed`` (config override) on ``dataset`` at the
    profile's size, evaluate with ItemKNN on the test split, write one result file each.

    Stages 1 and 2 do not depend on ``n_seed`` and are trained once. Existing files with
    the same key are kept unless ``force``.
    """
    from benchmark.core import provenance
    from benchmark.core.cache import key_hash
    from benchmark.core.evaluation import evaluate_recommender
    from benchmark.core.metrics import bootstrap_ci
    from benchmark.core.profiles import get_profile
    from benchmark.core.protocol import build_queries
    from benchmark.core.results import SCHEMA, is_complete, write_result
    from benchmark.data import catalog
    from benchmark.harness.embeddings import EmbeddingStore
    from encoders import REGISTRY
    from recommenders.itemknn import ItemKNN

    prof = get_profile(profile)
    ds = catalog.ensure(dataset, prof.dataset_size, progress=progress)
    in_catalog = dataset in catalog.specs()
    label = dataset if in_catalog else ds.name  # a folder path: name it by its manifest
    queries = build_queries(ds, "test")
    cls = REGISTRY.get(encoder)
    written = []
    for n in n_seeds:
        enc = cls.from_profile(profile, {**(overrides or {}), "n_seed": int(n), "seed": int(seed)})
        rec = ItemKNN()
        cell = {"profile": profile, "dataset": label, "encoder": encoder, "recommender": rec.name,
                "seed": int(seed)}
        key = key_hash({"figure4": 1, "cell": cell, "dataset_hash": ds.content_hash,
                        "encoder": [enc.meta.version, enc.config], "recommender": [rec.meta.version, rec.config]})
        path = _figure4_path(Path(results_dir), profile, label, int(n), int(seed))
        if not force and is_complete(path, key):
            written.append(path)
            continue
        t0 = time.perf_counter()
        store = EmbeddingStore(enc, ds, int(seed), progress=progress)
        _, vecs = store.get("test")
        per = evaluate_recommender(rec, queries, vecs)
        result = {
            "schema": SCHEMA, "kind": "figure4_nseed", "cell": cell, "cell_key": key, "n_seed": int(n),
            "status": "ok",
            "dataset": {"name": ds.name, "hash": ds.content_hash, "summary": ds.summary(),
                        "paper_column": catalog.get_spec(dataset).paper_column if in_catalog else None},
            "encoder": {"meta": enc.meta.to_dict(), "config": enc.config},
            "recommender": {"meta": rec.meta.to_dict(), "config": rec.config},
            "protocol": {"shuffle_seed": queries.shuffle_seed, "split": "test", "n_seeds": "round(n/2)",
                         "selection_split": enc.larp_config["selection_split"]},
            "metrics": {m: float(v.mean()) for m, v in per.items()},
            "ci95": {m: bootstrap_ci(v, seed=int(seed)) for m, v in per.items()},
            "n_playlists": len(queries.playlist_ids),
            "per_playlist": {"playlist_ids": queries.playlist_ids, **per},
            "encoder_fit": store.fit_report, "wall_time_s": {**store.timings, "total_s": time.perf_counter() - t0},
            "provenance": provenance.collect(),
        }
        write_result(path, result)
        written.append(path)
    return written


def collect_logs(src: str | Path, dest: str | Path, model_config: str) -> list[Path]:
    """Copy the LARP stage logs (``<src>/<stage>/log.jsonl``, one per stage folder of the
    cache) whose runs used ``model_config`` into ``<dest>/<stage folder>.jsonl``, so that
    Figure 5 can be drawn again from committed files; returns the files in ``dest``.
    A log already in ``dest`` is replaced only by a longer one (a resumed stage)."""
    from benchmark.core.atomic import atomic_write_text

    src, dest = Path(src), Path(dest)
    for log in sorted(src.glob("*/log.jsonl")) if src.is_dir() else []:
        text = log.read_text(encoding="utf-8")
        first = next((json.loads(x) for x in text.splitlines() if x.strip()), None)
        if first is None or first.get("model_config") != model_config:
            continue
        out = dest / f"{log.parent.name}.jsonl"
        if not out.is_file() or len(out.read_text(encoding="utf-8")) < len(text):
            atomic_write_text(out, text)
    return sorted(dest.glob("*.jsonl")) if dest.is_dir() else []
