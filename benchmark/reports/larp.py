"""LARP's ablation table and figures, rendered from result and log files only.

* :func:`render_table3` — Table 3 (ItemKNN; BERT text only, HTS-AT audio only,
  LARP-WTC, LARP-TTC, LARP-TPC, LARP-TPC-fusion) from grid result files, ours beside the
  paper's numbers, with paired permutation tests between consecutive LARP stages.
* :func:`figure4` — Recall@10 and NDCG@10 against ``n_seed`` from the result files that
  :func:`benchmark.harness.sweeps.figure4_sweep` writes (PNG).
* :func:`figure5` — validation Recall@10 / NDCG@10 per epoch through the three stages,
  from ``training_log`` records (PNG).

Wiring (CLI / nox): ``render_table3(results_dir, profile)``, ``figure4(results_dir,
out_png)``, ``figure5(training_epochs(results_dir, profile), out_png)``; the LARP stage
logs live under ``$LARPBENCH_CACHE/shared/larp`` and
:func:`benchmark.harness.sweeps.collect_logs` turns a profile's logs into records under
``<results>/<profile>/training`` (committed, so Figure 5 renders on a fresh clone without
retraining).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.reports._figures import save_figure

#: Table 3's rows (the paper's labels) and the encoders that stand for them.
TABLE3_ROWS: tuple[str, ...] = ("BERT (text only)", "HTS-AT (audio only)", "LARP-WTC", "LARP-TTC",
                                "LARP-TPC", "LARP-TPC-fusion")
TABLE3_ENCODERS: tuple[str, ...] = ("bert-text", "htsat-audio", "larp-wtc", "larp-ttc", "larp-tpc", "larp")
#: our encoders' ``paper_row`` -> Table 3's label (the full model is "LARP" in Table 2)
ROW_ALIASES = {"LARP": "LARP-TPC-fusion"}
#: the paper's orderings Table 3 tests: (claim, row a, row b), each as the difference b − a;
#: its sign in the paper comes from the paper's Table 3 (TPC with mean pooling is *below*
#: TTC there on both datasets; fusion above mean), and LARP tops the paper's Table 2
CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("TTC vs WTC", "LARP-WTC", "LARP-TTC"),
    ("TPC (mean) vs TTC", "LARP-TTC", "LARP-TPC"),
    ("fusion vs mean pooling", "LARP-TPC", "LARP-TPC-fusion"),
    ("LARP vs the best other row of Table 2", "best other", "LARP-TPC-fusion"),
)


# ============================================================================== Table 3
def _profiles_in(results_dir: Path) -> list[str]:
    base = Path(results_dir)
    return sorted(p.name for p in base.iterdir() if p.is_dir() and any(p.rglob("seed*.json"))) \
        if base.is_dir() else []


def table3_data(results_dir: Path, profile: str, errors: list[Any] | None = None) -> dict[str, Any]:
    """Table 3 as data: per dataset, per row label, the Table-2 entry of the ItemKNN cell, and
    under ``others`` the ItemKNN entries of Table 2's other encoders (oracles excepted)
    (``errors``: list unreadable record files there instead of raising)."""
    from benchmark.reports.tables import table2_data

    data = table2_data(Path(results_dir), profile, errors=errors, comparisons=False)
    recs = [r for r, label in data["recommenders"].items() if label == "ItemKNN"]
    out: dict[str, Any] = {"datasets": data["datasets"], "rows": {}, "encoders": {}, "paper_column": {},
                           "others": {}}
    for d in data["datasets"]:
        out["rows"][d] = {}
        out["others"][d] = {}
        for e, info in data["encoders"].items():
            label = ROW_ALIASES.get(info["label"], info["label"])
            if label not in TABLE3_ROWS:
                if e not in TABLE3_ENCODERS and not _is_oracle(info):
                    for r in recs:  # Table 2's other ItemKNN rows, for "LARP vs the best other row"
                        if (d, e, r) in data["values"] and data["values"][d, e, r].get("status") == "ok":
                            out["others"][d][e] = data["values"][d, e, r]
                continue
            for r in recs:
                if (d, e, r) in data["values"]:
                    out["rows"][d][label] = data["values"][d, e, r]
                    out["encoders"][label] = (e, info)
            col = info["paper_column"].get(d)
            if col:
                out["paper_column"][d] = col
    return out


def stage_summaries(results_dir: Path, profile: str, dataset: str, encoder: str) -> list[tuple[int, str]]:
    """``(seed, "wtc kept epoch 0 of 5 (patience, 625 steps), ...")`` of each ItemKNN cell
    record of ``encoder`` on ``dataset``: which epoch each LARP stage kept, how many it
    ran, why it stopped."""
    from benchmark.core.results import iter_results

    out = []
    for _path, rec in iter_results(results_dir, profile):
        cell = rec.data.get("cell", {})
        if (cell.get("dataset"), cell.get("encoder"), cell.get("recommender")) != (dataset, encoder, "itemknn") \
                or cell.get("variant") or cell.get("train_dataset") or rec.data.get("status") != "ok":
            continue
        stages = (rec.data.get("encoder_fit") or {}).get("stages") or []
        parts = [f"{st.get('stage_name', st.get('stage'))} kept epoch {st.get('best_epoch')} of "
                 f"{st.get('epochs_run')} ({st.get('stop_reason')}, {st.get('steps')} steps)" for st in stages]
        if parts:
            out.append((int(cell.get("seed", 0)), ", ".join(parts)))
    return sorted(out)


def _training_lines(results_dir: Path, profile: str, dataset: str, encoders: dict[str, Any]) -> list[str]:
    """Lines under a dataset's Table 3: each trained row's stages, per seed (a trained
    model is reported with its stop reason)."""
    lines = []
    for label in TABLE3_ROWS:
        enc = encoders.get(label, (None, None))[0]
        if enc is None:
            continue
        for seed, text in stage_summaries(results_dir, profile, dataset, enc):
            lines.append(f"- {label} seed {seed}: {text}")
    return (["Training (epoch 0 = the weights a stage starts from; selection on valid R@10):", *lines, ""]
            if lines else [])


def render_table3(results_dir: str | Path, profile: str | None = None, with_ci: bool = True,
                  errors: list[Any] | None = None) -> str:
    """Table 3 (ablation, ItemKNN) for ``profile`` (every profile found when ``None``)."""
    from tabulate import tabulate

    from benchmark.reports.tables import PAPER_METRICS, paper_numbers

    results_dir = Path(results_dir)
    profiles = [profile] if profile else _profiles_in(results_dir)
    if not profiles:
        return f"Table 3 — no result files under {results_dir}"
    paper = paper_numbers()["table3_ablation_itemknn"]
    parts = []
    for prof in profiles:
        data = table3_data(results_dir, prof, errors=errors)
        out = [f"Table 3 — ablation with ItemKNN (profile {prof}); each cell: ours [95% playlist-bootstrap CI] "
               f"±sd over training seeds where several (paper)", ""]
        notes: list[str] = []
        for d in data["datasets"]:
            rows_d = data["rows"].get(d, {})
            if not rows_d:
                continue
            col = data["paper_column"].get(d)
            out.append(f"### {d}" + (f" (stands in for the paper's {col})" if col else ""))
            rows = []
            for label in TABLE3_ROWS:
                entry = rows_d.get(label)
                enc = data["encoders"].get(label, (None, None))[0]
                pvals = paper.get(label, {}).get(col or "", {})
                row = [label + (f" ({enc})" if enc else "")]
                for pm in PAPER_METRICS:
                    pv = pvals.get(pm)
                    ptxt = f" ({pv:.4f})" if pv is not None else ""
                    if entry is None:
                        row.append("not run" + ptxt)
                    elif entry.get("status") != "ok":
                        row.append(f"n/a: {entry.get('status')}" + ptxt)
                    else:
                        ci = ""
                        if with_ci:
                            lo, hi = entry[pm + "_ci"]
                            ci = f" [{lo:.4f}, {hi:.4f}]"
                        spread = entry.get(pm + "_seeds")
                        sd = f" ±{spread[1]:.4f} sd over {len(entry['seeds'])} seeds" if spread else ""
                        row.append(f"{entry[pm]:.4f}{ci}{sd}{ptxt}")
                rows.append(row)
            out += [tabulate(rows, headers=["Encoder", *PAPER_METRICS], tablefmt="github"), ""]
            out += _training_lines(results_dir, prof, d, data["encoders"])
        claims = table3_claims(data)
        if claims:
            out += ["### The paper's orderings, tested (R@10, test playlists)", "",
                    tabulate([[c["dataset"], c["claim"], f"{c['b']} − {c['a']}",
                               f"{c['paper_diff']:+.4f}" if c["paper_diff"] is not None else "> 0",
                               f"{c['diff']:+.4f}", f"[{c['ci'][0]:+.4f}, {c['ci'][1]:+.4f}]", f"{c['p']:.3g}",
                               f"{c['p_holm']:.3g}", c["verdict"], ", ".join(map(str, c["seeds"]))] for c in claims],
                             headers=["dataset", "ordering", "difference", "paper", "ours", "95% paired bootstrap",
                                      "p (sign-flip)", "p (Holm)", "here", "seeds"], tablefmt="github",
                             disable_numparse=True), ""]
            notes.append(f"Orderings: per-playlist R@10, paired over the same test playlists and the same "
                         f"training seeds (averaged over the seeds both rows have, column 'seeds'); two-sided sign-flip permutation tests, Holm-corrected "
                         f"over the {len(claims)} tests of this table; 'holds' = the difference has the paper's "
                         f"sign (its Table 3 on the dataset's paper column; LARP first in its Table 2) and "
                         f"p (Holm) < 0.05, 'reversed' = the opposite sign and p (Holm) < 0.05, 'not shown' "
                         f"otherwise.")
        for label, (e, info) in sorted(data["encoders"].items()):
            cfg = info["config"]
            name = cfg.get("model_config") or cfg.get("htsat") or cfg.get("model") or ""
            notes.append(f"{label} = `{e}` v{info['meta']['version']}" + (f", config {name}" if name else "")
                         + f"; weights: {info['meta']['weights']}")
        out += ["Notes:"] + [f"- {n}" for n in notes]
        out.append("- Our `larp` is the paper's full model (Table 3's LARP-TPC-fusion). LARP stages select "
                   "epochs on the validation split unless the encoder config says selection_split=test. "
                   "Paper numbers are from real MPD/LFM and are not expected to match generated data.")
        parts.append("\n".join(out))
    return "\n\n".join(parts)


def _is_oracle(info: dict[str, Any]) -> bool:
    return "ground-truth" in (info.get("meta", {}).get("modalities") or ()) or \
        str(info.get("meta", {}).get("name", "")).startswith("oracle-")


def _same_seed_values(ea: dict[str, Any], eb: dict[str, Any], metric: str,
                      ) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
    """Per-playlist ``metric`` of two Table-2 entries averaged over the training seeds both
    have (a row trained with seeds 0-2 is compared with a one-seed row on seed 0 only, so a
    difference never comes from averaging one side over more seeds); ``None`` when they
    share no seed or not the same playlists."""
    from benchmark.reports.tables import OUR_METRIC, seed_averaged

    seeds = sorted(set(ea.get("seeds", [])) & set(eb.get("seeds", [])))
    if not seeds:
        return None
    om = OUR_METRIC[metric]
    pa, pb = (seed_averaged([x for x in e["records"] if x.get("status") == "ok" and x["cell"]["seed"] in seeds], om)
              for e in (ea, eb))
    if pa is None or pb is None or pa.shape != pb.shape:
        return None
    return pa, pb, seeds


def table3_claims(data: dict[str, Any], metric: str = "R@10") -> list[dict[str, Any]]:
    """The paper's orderings (:data:`CLAIMS`) tested on :func:`table3_data`'s rows, one dict
    per (dataset, claim) whose two rows are both present on the same playlists: the mean
    paired difference ``b − a`` of the per-playlist ``metric``, its 95 % paired-bootstrap
    interval, the two-sided sign-flip p-value and Holm's adjustment over every test
    returned, the paper's difference where its Table 3 has both rows, and a verdict at Holm
    0.05: ``holds`` (significant, the paper's sign), ``reversed`` (significant, the other
    sign) or ``not shown``.
    "best other" is Table 2's ItemKNN row with the highest mean ``metric`` outside Table 3's
    encoders and the oracles (the trivial baselines included)."""
    from benchmark.core.stats import holm, paired_bootstrap_ci, sign_flip_pvalues
    from benchmark.reports.tables import paper_numbers

    paper = paper_numbers()["table3_ablation_itemknn"]
    out: list[dict[str, Any]] = []
    for d in data["datasets"]:
        col = data["paper_column"].get(d)
        rows = {k: v for k, v in data["rows"].get(d, {}).items() if v.get("status") == "ok"}
        others = data.get("others", {}).get(d, {})
        best = max(others, key=lambda e: others[e][metric], default=None)
        for claim, a, b in CLAIMS:
            ea = others[best] if a == "best other" and best else rows.get(a)
            eb = rows.get(b)
            if ea is None or eb is None:
                continue
            paired = _same_seed_values(ea, eb, metric)
            if paired is None:
                continue
            pa, pb, seeds = paired
            diff = pb - pa
            if a == "best other":
                paper_diff = None  # the paper's Table 2 has LARP first: a positive difference
                paper_sign = 1.0
            else:
                va, vb = (paper.get(x, {}).get(col or "", {}).get(metric) for x in (a, b))
                paper_diff = vb - va if va is not None and vb is not None else None
                paper_sign = float(np.sign(paper_diff)) if paper_diff else None
            out.append({"dataset": d, "claim": claim, "a": best if a == "best other" else a, "b": b,
                        "diff": float(diff.mean()), "ci": tuple(float(x) for x in paired_bootstrap_ci(diff)[0]),
                        "p": float(sign_flip_pvalues(diff)[0]), "paper_diff": paper_diff, "paper_sign": paper_sign,
                        "seeds": seeds})
    for c, ph in zip(out, holm([c["p"] for c in out]), strict=True):
        c["p_holm"] = float(ph)
        if ph >= 0.05 or c["diff"] == 0:
            c["verdict"] = "not shown"
        elif c["paper_sign"] is None:
            c["verdict"] = "significant (paper: no sign)"
        else:
            c["verdict"] = "holds" if np.sign(c["diff"]) == c["paper_sign"] else "reversed"
    return out


# ============================================================================== Figure 4
def figure4_data(results_dir: str | Path, profile: str | None = None,
                 ) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
    """``{(profile, dataset): {n_seed: {"recall@10": mean over seeds, ..., "ci": {...}}}}`` from
    the grid cells with the variant ``n_seed=<n>``."""
    from benchmark.core.results import iter_results, parse_variant

    groups: dict[tuple[str, str], dict[int, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for _, r in iter_results(Path(results_dir), profile):
        n = parse_variant(r["cell"].get("variant")).get("n_seed")
        if n is None or r.get("status") != "ok" or r["cell"].get("train_dataset"):
            continue
        groups[r["cell"]["profile"], r["cell"]["dataset"]][int(n)].append(r)
    out: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for g, by_n in groups.items():
        out[g] = {}
        for n, rs in sorted(by_n.items()):
            entry: dict[str, Any] = {"seeds": len(rs), "ci": {}, "stage3": _stage3_outcomes(rs)}
            for m in ("recall@10", "ndcg@10"):
                entry[m] = float(np.mean([r["metrics"][m] for r in rs]))
                if len(rs) == 1:
                    entry["ci"][m] = tuple(rs[0]["ci95"][m])
            out[g][n] = entry
    return out


def _stage3_outcomes(records: list[dict[str, Any]]) -> str:
    """``"kept 0/5 (patience)"`` per seed of stage 3 (TPC), from the records' encoder fit."""
    out = []
    for r in records:
        stages = (r.get("encoder_fit") or {}).get("stages") or []
        s3 = next((s for s in stages if s.get("stage") == 3), None)
        if s3 and s3.get("best_epoch") is not None:
            out.append(f"kept {s3['best_epoch']}/{s3.get('epochs_run', '?')} ({s3.get('stop_reason', '?')})")
    return "; ".join(sorted(set(out)))


def figure4(results_dir: str | Path, out_png: str | Path, profile: str | None = None) -> Path:
    """Recall@10 and NDCG@10 against the TPC fusion's ``n_seed`` (paper Figure 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = figure4_data(results_dir, profile)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, m, title in zip(axes, ("recall@10", "ndcg@10"), ("Recall@10", "NDCG@10")):
        for (prof, ds), by_n in sorted(data.items()):
            ns = sorted(by_n)
            ys = [by_n[n][m] for n in ns]
            cis = [by_n[n]["ci"].get(m) for n in ns]
            if all(c is not None for c in cis):
                err = np.array([[y - c[0], c[1] - y] for y, c in zip(ys, cis)]).T
                ax.errorbar(ns, ys, yerr=err, marker="o", capsize=3, label=f"{ds} ({prof})")
            else:
                ax.plot(ns, ys, marker="o", label=f"{ds} ({prof})")
            if m == "recall@10":  # a flat curve often means stage 3 kept its start: say so
                for n, y in zip(ns, ys):
                    if by_n[n]["stage3"]:
                        ax.annotate(by_n[n]["stage3"].replace(" (", "\n("), (n, y), textcoords="offset points",
                                    xytext=(4, -18), fontsize=6, color="0.35")
        ax.set_xlabel("n_seed (TPC fusion, training)")
        ax.set_title(title)
        ax.set_xticks(sorted({n for by_n in data.values() for n in by_n}))
        ax.grid(alpha=0.3)
    if data:
        axes[0].legend(fontsize=8)
    else:
        for ax in axes:
            ax.text(0.5, 0.5, "no figure4 results", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("LARP sensitivity to the number of seed tracks in TPC (test split, ItemKNN;\n"
                 "grey: stage 3's kept epoch / epochs run (stop reason))", fontsize=10)
    return save_figure(fig, out_png, dpi=130)


# ============================================================================== Figure 5
def training_epochs(results_dir: str | Path, profile: str | None = None) -> list[dict[str, Any]]:
    """Every epoch of the ``training_log`` records (LARP's stages), deduplicated."""
    from benchmark.core.results import iter_records

    seen: set[tuple[Any, ...]] = set()
    out = []
    for rec in iter_records(Path(results_dir), profile, kinds=("training_log",)):
        for r in rec["epochs"]:
            if "stage" not in r or "epoch" not in r:
                continue
            k = (r.get("stage_dir"), r.get("dataset"), r.get("model_config"), r.get("seed"), r["stage"],
                 r.get("fusion"), r.get("n_seed"), r["epoch"])
            if k in seen:
                continue
            seen.add(k)
            out.append(r)
    return out


def _variant(r: dict[str, Any]) -> str:
    return ("fusion" if r.get("fusion") else "mean") + (f", n_seed={r['n_seed']}" if r.get("n_seed") else "")


def _chains(records: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]]:
    """Group records into runs ``{key: {"1": [...], "2": [...], "3:<variant>": [...]}}``.

    Records that name their stage folder and its parent (``stage_dir``, ``parent_dir``)
    are chained exactly: one run per stage-2 folder (or per stage-1 folder without a
    stage 2), with all stage-3 folders trained from it. Older records are grouped by
    (dataset, model_config, seed).
    """
    chains: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    by_dir: dict[str, list[dict[str, Any]]] = defaultdict(list)
    loose = []
    for r in records:
        (by_dir[r["stage_dir"]] if r.get("stage_dir") else loose).append(r)
    stage_of = {d: int(rs[0]["stage"]) for d, rs in by_dir.items()}
    parent = {d: rs[0].get("parent_dir") for d, rs in by_dir.items()}
    s2_dirs = [d for d, s in stage_of.items() if s == 2]
    placed: set[str] = set()
    for d1 in [d for d, s in stage_of.items() if s == 1]:
        kids = [d for d in s2_dirs if parent[d] == d1]
        for d2 in kids or [None]:
            first = by_dir[d1][0]
            key = (first.get("dataset"), first.get("model_config"), first.get("seed"), (d2 or d1)[:8])
            chains[key]["1"] = by_dir[d1]
            placed.add(d1)
            if d2 is not None:
                chains[key]["2"] = by_dir[d2]
                placed.add(d2)
                for d3 in [d for d, s in stage_of.items() if s == 3 and parent[d] == d2]:
                    chains[key][f"3:{_variant(by_dir[d3][0])}"] = by_dir[d3]
                    placed.add(d3)
    # folders whose ancestors were logged without folder names: group them loosely
    loose += [r for d, rs in by_dir.items() if d not in placed for r in rs]
    for r in loose:
        g = (r.get("dataset"), r.get("model_config"), r.get("seed"), "")
        s = int(r["stage"])
        chains[g][f"3:{_variant(r)}" if s == 3 else str(s)].append(r)
    for g in chains:
        for k in chains[g]:
            chains[g][k] = sorted(chains[g][k], key=lambda r: r["epoch"])
    return chains


#: Figure 5's panels beside the validation metrics: the epoch's mean training loss over the
#: loss of a uniform guess (1 = chance; ``loss / chance_loss``), and the fusion layer's
#: relative distance from its initialisation (``fusion_rel_dist``, stage 3 with fusion)
TRAINING_PANELS: dict[str, str] = {"loss/chance": "training loss / chance level",
                                   "fusion_rel_dist": "fusion weights: ‖θ − θ₀‖ / ‖θ₀‖"}


def _panel_value(r: dict[str, Any], m: str) -> float | None:
    if m == "loss/chance":
        loss, chance = r.get("loss"), r.get("chance_loss")
        return loss / chance if loss is not None and chance else None
    return r.get(m)


def _stop_label(recs: list[dict[str, Any]]) -> str:
    """``"patience, 7 ep"`` from a stage's epoch records (no reason on the last epoch: the
    stage ran out of epochs, i.e. its budget)."""
    last = recs[-1]
    reason = last.get("stop_reason") or "budget"
    return f"{reason}, {last['epoch']} ep" + (f", {last['steps_total']} steps" if last.get("steps_total") else "")


def _selected(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The epoch a stage keeps: the last one logged as a new best (epoch 0, the inherited
    weights, included); for logs without that flag, the highest validation R@10."""
    flagged = [r for r in recs if r.get("best")]
    return flagged[-1] if flagged else max(recs, key=lambda r: r.get("recall@10", -1))


def figure5(epochs: Iterable[dict[str, Any]], out_png: str | Path,
            metrics: Sequence[str] = ("recall@10", "ndcg@10"),
            training: Sequence[str] = tuple(TRAINING_PANELS)) -> Path:
    """Per epoch through WTC → TTC → TPC (one row of panels per run), from the epochs of
    ``training_log`` records (:func:`training_epochs`): the validation ``metrics``, then the
    ``training`` panels (:data:`TRAINING_PANELS`); each stage's legend entry gives its stop
    reason (patience / budget), epochs and optimiser steps.

    Stage k+1 is drawn from where stage k stopped (it starts from stage k's best weights,
    marked with a star); epoch 0 of a stage is its starting point before any step.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chains = _chains(list(epochs))
    n_rows = max(1, len(chains))
    panels = [*metrics, *training]
    fig, axes = plt.subplots(n_rows, len(panels), figsize=(4.6 * len(panels), 3.3 * n_rows), squeeze=False)
    colors = {"1": "tab:blue", "2": "tab:orange"}
    extra_colors = itertools.cycle(["tab:green", "tab:red", "tab:purple", "tab:brown", "tab:olive", "tab:cyan",
                                    "tab:pink", "tab:gray", "navy", "gold", "teal", "darkred"])
    for row, (g, stages) in enumerate(sorted(chains.items(), key=lambda kv: tuple(map(str, kv[0])))):
        offsets = {"1": 0}
        len1 = max((r["epoch"] for r in stages.get("1", [])), default=0)
        offsets["2"] = len1
        len2 = max((r["epoch"] for r in stages.get("2", [])), default=0)
        for k in stages:
            if k.startswith("3"):
                offsets[k] = len1 + len2
                colors.setdefault(k, next(extra_colors))
        for col, m in enumerate(panels):
            ax = axes[row][col]
            for k in sorted(stages):
                recs = [r for r in stages[k] if _panel_value(r, m) is not None]
                if not recs:
                    continue
                xs = [offsets[k] + r["epoch"] for r in recs]
                ys = [_panel_value(r, m) for r in recs]
                name = {"1": "WTC", "2": "TTC"}.get(k, "TPC " + k.split(":", 1)[-1])
                ax.plot(xs, ys, marker="o", ms=3, color=colors[k],
                        label=f"{name} ({_stop_label(stages[k])})" if col == 0 else name)
                if m not in metrics:
                    continue
                best = _selected(recs)
                ax.plot(offsets[k] + best["epoch"], best[m], marker="*", ms=11, color=colors[k])
                parent = "1" if k == "2" else ("2" if k.startswith("3") else None)
                prev = [r for r in stages.get(parent, []) if r.get(m) is not None] if parent else []
                if prev:  # this stage starts from the parent's best weights
                    pb = _selected(prev)
                    ax.plot([offsets[parent] + pb["epoch"], xs[0]], [pb[m], ys[0]], ls=":", lw=0.9,
                            color=colors[k])
            for b in sorted({offsets[k] for k in stages if k != "1"}):  # where a later stage starts
                if b:
                    ax.axvline(b, color="grey", ls="--", lw=0.8)
            if not ax.lines:
                ax.text(0.5, 0.5, "no values" if m in metrics else "not logged (no fusion stage)",
                        ha="center", va="center", fontsize=8, transform=ax.transAxes)
            split = next((r.get("split") for recs in stages.values() for r in recs), "valid")
            what = f"{m} ({split})" if m in metrics else TRAINING_PANELS.get(m, m)
            ax.set_title(f"{g[0]} · {g[1]} · seed {g[2]}" + (f" · {g[3]}" if g[3] else "") + f": {what}",
                         fontsize=8)
            if m == "loss/chance":
                ax.axhline(1.0, color="black", lw=0.7, ls=":")
            ax.set_xlabel("epoch (cumulative over stages)")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.legend(fontsize=7)
    if not chains:
        axes[0][0].text(0.5, 0.5, "no LARP logs", ha="center", va="center", transform=axes[0][0].transAxes)
    fig.suptitle("LARP training per epoch and stage: validation metrics, training loss against chance, "
                 "fusion weights' distance from their start", fontsize=10)
    return save_figure(fig, out_png, dpi=130)


# ============================================================================== study outputs
def write_table3(results_dir: str | Path, profile: str, path: str | Path | None = None,
                 with_ci: bool = True) -> str:
    """Table 3 as text, also written to ``path`` when given (the ``table3`` study's output)."""
    text = render_table3(results_dir, profile, with_ci=with_ci)
    if path is not None:
        from benchmark.core.atomic import atomic_write_text

        atomic_write_text(Path(path), text + "\n")
    return text


def write_figure4(results_dir: str | Path, profile: str, path: str | Path) -> str:
    return f"wrote {figure4(results_dir, path, profile)}"


def write_figure5(results_dir: str | Path, profile: str, path: str | Path) -> str:
    epochs = training_epochs(results_dir, profile)
    if not epochs:
        raise FileNotFoundError(f"no training_log records under {Path(results_dir) / profile / 'training'}: "
                                f"train LARP first (larpbench study run table3 --profile {profile})")
    return f"wrote {figure5(epochs, path)}"
