"""Dial sweeps (docs/sweeps.md): a metric against a generator dial, one line per encoder,
rendered from the cell records of the variant worlds only.

A sweep's cells are ordinary grid cells whose dataset is a variant reference of one base
(``synth-mpd[caption_vocab=0.25,seed=1]``): the dial's value and the world seed are read
back from that label. Per encoder and dial value, each world contributes one number (its
cell's metric, averaged over training seeds when there are several); the line is the mean
over worlds and the interval the 95 % Student-t interval over worlds,
``m̄ ± t_{0.975, n−1} · s / √n`` (:func:`benchmark.core.stats.t_interval`): the variation
a reader would see on another draw of the world, not only another draw of playlists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataref import DatasetRef, DatasetRefError
from benchmark.core.results import iter_results
from benchmark.core.stats import t_interval
from benchmark.reports._figures import save_figure

DEFAULT_WORLD = "default"  # a variant without ``seed``: the builder's default world seed


@dataclass
class Point:
    """One encoder at one dial value: its value per world and the interval over worlds."""

    worlds: dict[Any, float]
    mean: float
    ci: tuple[float, float] | None  # None with fewer than two worlds


@dataclass
class SweepData:
    base: str
    dial: str
    metric: str
    recommender: str
    values: list[float]
    points: dict[str, dict[float, Point]]
    #: encoder → reason, for cells recorded as unavailable
    unavailable: dict[str, str] = field(default_factory=dict)


def _world(dataset: str, base: str, dial: str) -> tuple[float, Any] | None:
    """(dial value, world seed) of a cell's dataset label when it is a variant of ``base``
    that sets ``dial`` (and at most ``seed`` besides); otherwise None."""
    try:
        ref = DatasetRef.parse(dataset)
    except DatasetRefError:
        return None
    values = ref.values
    if ref.name != base or dial not in values or set(values) - {dial, "seed"}:
        return None
    value = values[dial]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value), values.get("seed", DEFAULT_WORLD)


def sweep_data(results_dir: str | Path, profile: str, *, base: str, dial: str, recommender: str = "itemknn",
               metric: str = "recall@10") -> SweepData:
    """The sweep of ``dial`` over variants of ``base`` in ``<results_dir>/<profile>``."""
    runs: dict[tuple[str, float, Any], list[float]] = defaultdict(list)
    unavailable: dict[str, str] = {}
    for _, rec in iter_results(Path(results_dir), profile):
        c = rec["cell"]
        if c.get("variant") or c.get("train_dataset") or c.get("recommender") != recommender:
            continue
        where = _world(str(c.get("dataset")), base, dial)
        if where is None:
            continue
        if rec.get("status") != "ok":
            unavailable.setdefault(c["encoder"], str(rec.get("reason") or rec.get("status")))
            continue
        runs[c["encoder"], where[0], where[1]].append(float(rec["metrics"][metric]))
    points: dict[str, dict[float, Point]] = defaultdict(dict)
    grouped: dict[tuple[str, float], dict[Any, float]] = defaultdict(dict)
    for (enc, value, world), xs in runs.items():
        grouped[enc, value][world] = float(np.mean(xs))  # training seeds of one world: averaged
    for (enc, value), worlds in grouped.items():
        ordered = dict(sorted(worlds.items(), key=lambda kv: str(kv[0])))
        t = t_interval(list(ordered.values()))
        points[enc][value] = Point(ordered, float(np.mean(list(ordered.values()))),
                                   None if t is None else (t[1], t[2]))
    values = sorted({v for by_value in points.values() for v in by_value})
    return SweepData(base, dial, metric, recommender, values, dict(sorted(points.items())),
                     {k: v for k, v in unavailable.items() if k not in points})


def _ordered(data: SweepData, encoders: tuple[str, ...] | None) -> list[str]:
    """The encoders to show: the declared order first, then any other with records."""
    declared = list(encoders or ())
    return declared + [e for e in data.points if e not in declared]


def sweep_figure(data: SweepData, out_png: str | Path, profile: str,
                 encoders: tuple[str, ...] | None = None) -> Path:
    """``metric`` against the dial: mean over worlds with the 95 % t-interval, one line per
    encoder, each world's value as a faint dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    shown = [e for e in _ordered(data, encoders) if e in data.points]
    span = (data.values[-1] - data.values[0]) if len(data.values) > 1 else 1.0
    drawn = 0
    for i, enc in enumerate(shown):
        by_value = data.points[enc]
        dodge = (i - (len(shown) - 1) / 2) * 0.012 * span  # encoders side by side, bars apart
        xs = sorted(by_value)
        ys = [by_value[x].mean for x in xs]
        color = f"C{i % 10}"
        lo = [(by_value[x].ci or (y, y))[0] for x, y in zip(xs, ys)]  # no interval: a bare point
        hi = [(by_value[x].ci or (y, y))[1] for x, y in zip(xs, ys)]
        ax.errorbar([x + dodge for x in xs], ys, yerr=np.array([np.subtract(ys, lo), np.subtract(hi, ys)]),
                    marker="o", ms=4, capsize=3, color=color, label=enc)
        for x in xs:
            w = list(by_value[x].worlds.values())
            ax.scatter([x + dodge] * len(w), w, s=12, color=color, alpha=0.45, linewidths=0)
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, f"no cells of {data.base}[{data.dial}=…] variants", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel(f"{data.dial} (generator dial)")
    ax.set_ylabel(f"{data.metric} ({data.recommender})")
    ax.set_xticks(data.values or [0.0, 1.0])
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    n_worlds = sorted({len(p.worlds) for by_value in data.points.values() for p in by_value.values()})
    ax.set_title(f"{data.base} variants ({profile}): mean over {'/'.join(map(str, n_worlds)) or '0'} world(s), "
                 "95% t-interval; dots: single worlds", fontsize=9)
    return save_figure(fig, out_png, dpi=130)


def _cell(p: Point | None) -> str:
    if p is None:
        return "—"
    ci = f" [{p.ci[0]:.4f}, {p.ci[1]:.4f}]" if p.ci else ""
    return f"{p.mean:.4f}{ci} (n={len(p.worlds)})"


def render_sweep(data: SweepData, profile: str, encoders: tuple[str, ...] | None = None,
                 note: str = "") -> str:
    """The sweep's numbers as Markdown: mean [95% t-interval] (worlds) per encoder and dial
    value, the change from the highest to the lowest dial value, and every world's value."""
    from tabulate import tabulate

    shown = _ordered(data, encoders)
    lo_v, hi_v = (data.values[0], data.values[-1]) if data.values else (0.0, 0.0)
    rows = []
    for enc in shown:
        by_value = data.points.get(enc, {})
        delta = "—"
        if lo_v in by_value and hi_v in by_value and lo_v != hi_v:
            delta = f"{by_value[lo_v].mean - by_value[hi_v].mean:+.4f}"
        rows.append([enc, *[_cell(by_value.get(v)) for v in data.values], delta])
    headers = ["Encoder", *[f"{data.dial}={v:g}" for v in data.values],
               f"Δ ({lo_v:g} − {hi_v:g})" if data.values else "Δ"]
    out = [f"Sweep — {data.metric} ({data.recommender}) on {data.base}[{data.dial}=…] variants, profile {profile}",
           "", "Each cell: mean over world seeds [95% t-interval over world seeds] (n = worlds).", "",
           tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""]
    worlds = sorted({w for by_value in data.points.values() for p in by_value.values() for w in p.worlds}, key=str)
    if worlds:
        per = []
        for enc in shown:
            for w in worlds:
                vals = [data.points.get(enc, {}).get(v) for v in data.values]
                if any(p is not None and w in p.worlds for p in vals):
                    per.append([enc, w, *[f"{p.worlds[w]:.4f}" if p is not None and w in p.worlds else "—"
                                          for p in vals]])
        out += ["Per world (world seed in the dataset reference):", "",
                tabulate(per, headers=["Encoder", "world seed", *[f"{v:g}" for v in data.values]],
                         tablefmt="github", disable_numparse=True), ""]
    notes = [f"interval: m̄ ± t(0.975, n−1) · s/√n over the worlds' {data.metric} (one value per world: its "
             "cell, averaged over training seeds); it covers world-to-world variation, not only playlist "
             "sampling. n = 1: no interval.",
             f"Δ: mean at {data.dial}={lo_v:g} minus mean at {data.dial}={hi_v:g} (not paired; see the worlds)."
             if data.values else "no sweep cells found."]
    for enc in shown:
        if enc in data.unavailable:
            notes.append(f"{enc}: unavailable — {data.unavailable[enc]}")
        elif enc not in data.points:
            notes.append(f"{enc}: no records (not registered when the study ran, or not run yet; "
                         "`larpbench study run` prints which)")
    if note:
        notes.append(note)
    out += ["Notes:", *[f"- {n}" for n in notes]]
    return "\n".join(out)


# ============================================================================== caption-sweep
def _caption_sweep(results_dir: str | Path, profile: str) -> tuple[SweepData, tuple[str, ...]]:
    from benchmark.studies.sweeps import CAPTION_DIAL, CAPTION_ENCODERS, SWEEP_BASE

    return sweep_data(results_dir, profile, base=SWEEP_BASE, dial=CAPTION_DIAL), CAPTION_ENCODERS


def write_caption_sweep_png(results_dir: str | Path, profile: str, path: str | Path) -> str:
    """The ``caption-sweep`` study's figure."""
    data, encoders = _caption_sweep(results_dir, profile)
    return f"wrote {sweep_figure(data, path, profile, encoders)}"


def write_caption_sweep_md(results_dir: str | Path, profile: str, path: str | Path | None = None) -> str:
    """The ``caption-sweep`` study's numbers as Markdown (also written to ``path``)."""
    data, encoders = _caption_sweep(results_dir, profile)
    text = render_sweep(data, profile, encoders, note="LARP joins the sweep when the LARP issue lands.")
    if path is not None:
        from benchmark.core.atomic import atomic_write_text

        atomic_write_text(Path(path), text + "\n")
    return text
