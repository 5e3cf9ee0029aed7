"""Quality against cost: Recall@10 (ItemKNN) against embedding throughput and training
time, one point per encoder and dataset, read from cell records only.

Throughput is clips embedded per second of ``embed()``; training time is the encoder's
``fit`` seconds (0 for training-free encoders, drawn at the left edge). Records made
before cost was recorded carry the same seconds under ``wall_time_s``; an encoder's
embeddings are computed in one cell and reused by the others, so the seconds are
collected over all its cells on that dataset. Cells that reused embeddings cached by an
earlier run report the seconds measured then (``cost.encoder.cached``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataref import is_variant
from benchmark.core.results import Record, iter_results
from benchmark.reports._figures import save_figure
from benchmark.reports.tables import is_oracle

SPLITS = ("train", "valid", "test", "pretrain")


def _seconds(rec: Record) -> dict[str, float]:
    """``embed_<split>_s`` and ``fit_s`` this record knows of (measured or cached)."""
    out: dict[str, float] = {}
    cost = (rec.get("cost") or {}).get("encoder") or {}
    for source in (rec.get("wall_time_s") or {}, cost.get("cached") or {}, cost.get("measured") or {}):
        out.update({k: float(v) for k, v in source.items()
                    if (k == "fit_s" or (k.startswith("embed_") and k.endswith("_s"))) and v is not None})
    return out


def quality_cost_data(results_dir: Path, profile: str, recommender: str = "itemknn",
                      metric: str = "recall@10") -> dict[str, list[dict[str, Any]]]:
    """``{dataset: [{"encoder", metric, "clips_per_s", "train_s", "trains"}, ...]}``."""
    seconds: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    quality: dict[tuple[str, str], list[float]] = defaultdict(list)
    info: dict[tuple[str, str], dict[str, Any]] = {}
    for _, rec in iter_results(Path(results_dir), profile):
        c = rec["cell"]
        if (c.get("variant") or c.get("train_dataset") or is_variant(c["dataset"])
                or rec.get("status") != "ok" or is_oracle(rec)):
            continue  # the figure shows the Table 2 rows: no variants, no oracles
        key = (c["dataset"], c["encoder"])
        for k, v in _seconds(rec).items():
            seconds[key][k] = max(v, seconds[key].get(k, 0.0))
        info[key] = {"summary": (rec.get("dataset") or {}).get("summary") or {},
                     "trains": bool(((rec.get("encoder") or {}).get("meta") or {}).get("trains"))}
        if c["recommender"] == recommender:
            quality[key].append(float(rec["metrics"][metric]))
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, values in sorted(quality.items()):
        s, summary = seconds.get(key, {}), info[key]["summary"]
        clips = sum(int(summary.get(f"{sp}_tracks", 0)) for sp in SPLITS if f"embed_{sp}_s" in s)
        embed_s = sum(v for k, v in s.items() if k.startswith("embed_"))
        out[key[0]].append({"encoder": key[1], metric: float(np.mean(values)),
                            "clips_per_s": clips / embed_s if embed_s > 0 and clips else None,
                            "train_s": s.get("fit_s", 0.0) if info[key]["trains"] else 0.0,
                            "trains": info[key]["trains"]})
    return dict(out)


def quality_cost_figure(results_dir: Path, profile: str, out_png: Path, metric: str = "recall@10") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = quality_cost_data(results_dir, profile, metric=metric)
    rows = max(1, len(data))
    fig, axes = plt.subplots(rows, 2, figsize=(10, 3.4 * rows), squeeze=False)
    for r, (dataset, points) in enumerate(sorted(data.items())):
        for ax, (field, label) in zip(axes[r], (("clips_per_s", "embedding throughput (clips/s, CPU)"),
                                                 ("train_s", "encoder training time (s)"))):
            shown = [p for p in points if p[field] is not None]
            floor = min([p[field] for p in shown if p[field] > 0] or [1.0]) / 3
            for p in shown:
                x = p[field] if p[field] > 0 else floor  # training-free: at the left edge
                ax.scatter([x], [p[metric]], s=22, color="tab:orange" if p["trains"] else "tab:blue")
                ax.annotate(p["encoder"], (x, p[metric]), fontsize=7, xytext=(3, 2), textcoords="offset points")
            ax.set_xscale("log")
            ax.set_xlabel(label + (" — training-free at the left edge" if field == "train_s" else ""), fontsize=8)
            ax.set_ylabel(f"{metric} (ItemKNN)")
            ax.set_title(f"{dataset} ({profile})", fontsize=9)
            ax.grid(alpha=0.3)
    if not data:
        axes[0][0].text(0.5, 0.5, "no ItemKNN cells", ha="center", va="center", transform=axes[0][0].transAxes)
    fig.suptitle("Quality against cost (orange: the encoder trains on the dataset)", fontsize=10)
    return save_figure(fig, out_png, dpi=120)


def write_quality_cost(results_dir: Path, profile: str, path: str | Path) -> str:
    """The ``table2`` study's quality-vs-cost figure."""
    return f"wrote {quality_cost_figure(Path(results_dir), profile, Path(path))}"
