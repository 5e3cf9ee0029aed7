"""The artist-relationship task's figure and table, from its ``task`` records only
(``<results>/<profile>/artist-gnn/``), and the agreement of its encoder ranking with the
playlist-continuation ranking of Table 2 (Kendall's τ with a bootstrap interval)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.results import Record, iter_records

TASK = "artist-gnn"
METRIC = "ndcg@200"
NON_ENCODERS = ("random", "tags")


def task_records(results_dir: Path, profile: str) -> list[Record]:
    return [r for r in iter_records(Path(results_dir), profile, kinds=("task",), errors=[])
            if r.get("task") == TASK]


def _grouped(records: Sequence[Record]) -> dict[str, dict[str, dict[int, list[Record]]]]:
    """dataset → feature set → layers → records (one per seed)."""
    out: dict[str, dict[str, dict[int, list[Record]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in records:
        c = r["cell"]
        out[c["dataset"]][c["features"]][int(c["layers"])].append(r)
    return out


def _values(recs: Sequence[Record], metric: str = METRIC) -> np.ndarray:
    return np.asarray([r["metrics"][metric] for r in recs if r.status == "ok"], dtype=float)


def best_layers(by_layers: dict[int, list[Record]]) -> int | None:
    """The layer count with the best mean validation NDCG (model selection on valid)."""
    scored = {L: _values(recs, f"valid_{METRIC}").mean() for L, recs in by_layers.items() if len(_values(recs))}
    return max(sorted(scored), key=lambda L: scored[L]) if scored else None


def _fmt(v: np.ndarray) -> str:
    if not len(v):
        return "—"
    return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"


def _figure_features() -> tuple[str, ...]:
    from benchmark.studies.artist_gnn import FIGURE_FEATURES

    return FIGURE_FEATURES


# ----------------------------------------------------------------------------- figure
def write_figure(results_dir: str | Path, profile: str, path: str | Path) -> str:
    """NDCG@200 against the number of GraphSAGE layers, one line per feature set of the
    figure (mean over seeds, ± one std as a band); singles left, concatenations right; one
    row per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmark.reports._figures import save_figure

    groups = _grouped(task_records(Path(results_dir), profile))
    if not groups:
        raise FileNotFoundError(f"no artist-gnn records under {Path(results_dir) / profile / TASK}: "
                                f"larpbench study run artist-gnn --profile {profile}")
    wanted = _figure_features()
    datasets = sorted(groups)
    fig, axes = plt.subplots(len(datasets), 2, figsize=(10, 3.6 * len(datasets)), squeeze=False)
    for row, d in enumerate(datasets):
        for col, combos in enumerate((False, True)):
            ax = axes[row][col]
            for label in wanted:
                if ("+" in label) != combos or label not in groups[d]:
                    continue
                layers = sorted(L for L, recs in groups[d][label].items() if len(_values(recs)))
                if not layers:
                    continue
                mean = np.asarray([_values(groups[d][label][L]).mean() for L in layers])
                sd = np.asarray([_values(groups[d][label][L]).std(ddof=1) if len(_values(groups[d][label][L])) > 1
                                 else 0.0 for L in layers])
                (line,) = ax.plot(layers, mean, marker="o", label=label)
                ax.fill_between(layers, mean - sd, mean + sd, alpha=0.2, color=line.get_color())
            chance = [r["metrics"].get("chance") for fs in groups[d].values() for recs in fs.values()
                      for r in recs if r.status == "ok"]
            if chance:
                ax.axhline(float(np.nanmean(chance)), color="grey", ls=":", lw=1, label="random ranking")
            ax.set_title(f"{d}: {'concatenations' if combos else 'single feature sets'}")
            ax.set_xlabel("GraphSAGE layers")
            ax.set_ylabel("NDCG@200 (test)")
            ax.set_xticks(range(0, 5))
            ax.legend(fontsize=7)
    out = save_figure(fig, path, dpi=120)
    return f"wrote {out}"


# ----------------------------------------------------------------------------- table
def render_table(results_dir: Path, profile: str, n_boot: int = 2000) -> str:
    records = task_records(results_dir, profile)
    groups = _grouped(records)
    if not groups:
        return (f"# Artist-relationship prediction ({profile})\n\nNo artist-gnn records under "
                f"{Path(results_dir) / profile / TASK}: run `larpbench study run artist-gnn --profile {profile}`.")
    from tabulate import tabulate

    lines = [f"# Artist-relationship prediction with GNNs ({profile})", "",
             "NDCG@200 (test, mean ± std over seeds) of ranking unseen artists against their hidden "
             "relations (OLGA protocol, docs/artist-gnn.md). L* = the layer count with the best mean "
             "validation NDCG; 0 and 3 layers beside it. Chance = the expected NDCG of a random ranking.", ""]
    for d in sorted(groups):
        ok = [r for fs in groups[d].values() for recs in fs.values() for r in recs if r.status == "ok"]
        if ok:
            ev, g = ok[0]["evaluation"], ok[0]["graph"]
            lines += [f"## {d}", "",
                      f"{g['artists']} artists, {g['relations']} relations (mean degree {g['mean_degree']:.1f}); "
                      f"split {g['train_artists']}/{g['valid_artists']}/{g['test_artists']}; test: "
                      f"{ev['queries_with_targets']} of {ev['queries']} query artists have hidden relations "
                      f"({ev['hidden_relations']}), {ev['candidates']} candidates, k = {ev['k']}; "
                      f"chance {ok[0]['metrics']['chance']:.3f}.", ""]
        rows = []
        for label in sorted(groups[d], key=lambda f: (("+" in f), f)):
            by_layers = groups[d][label]
            bad = [r for recs in by_layers.values() for r in recs if r.status != "ok"]
            L = best_layers(by_layers)
            if L is None:
                reason = str(bad[0].get("reason", "")).strip().splitlines()[-1:] if bad else []
                rows.append([label, "—", "—", "—", "—", f"{bad[0].status if bad else 'missing'}: "
                             f"{reason[0][:90] if reason else ''}"])
                continue
            rows.append([label, L, _fmt(_values(by_layers[L])), _fmt(_values(by_layers.get(0, []))),
                         _fmt(_values(by_layers.get(3, []))), f"{len(_values(by_layers[L]))} seed(s)"])
        rows.sort(key=lambda r: -float(str(r[2]).split(" ")[0]) if r[2] != "—" else 1.0)
        lines += [tabulate(rows, headers=["features", "L*", "NDCG@200 at L*", "0 layers", "3 layers", "note"],
                           tablefmt="github"), ""]
    lines += agreement_section(results_dir, profile, groups, n_boot=n_boot)
    return "\n".join(lines)


def write_table(results_dir: str | Path, profile: str, path: str | Path | None = None) -> str:
    text = render_table(Path(results_dir), profile)
    if path is not None:
        from benchmark.core.atomic import atomic_write_text

        atomic_write_text(Path(path), text + "\n")
    return text


# ----------------------------------------------------------------------------- agreement
def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's τ-b of two score lists over the same items."""
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def playlist_scores(results_dir: Path, profile: str, dataset: str,
                    metric: str = "recall@10") -> dict[str, tuple[list[str], np.ndarray]]:
    """Per encoder: Table 2's ItemKNN per-playlist ``metric`` (mean over seeds)."""
    acc: dict[str, list[Record]] = defaultdict(list)
    for r in iter_records(Path(results_dir), profile, kinds=("cell",), errors=[]):
        c = r["cell"]
        if (c.get("dataset") == dataset and c.get("recommender") == "itemknn" and not c.get("variant")
                and not c.get("train_dataset") and r.status == "ok"):
            acc[c["encoder"]].append(r)
    out = {}
    for enc, recs in acc.items():
        ids = list(recs[0]["per_playlist"]["playlist_ids"])
        vals = np.mean([np.asarray(r["per_playlist"][metric], dtype=float) for r in recs
                        if list(r["per_playlist"]["playlist_ids"]) == ids], axis=0)
        out[enc] = (ids, vals)
    return out


def artist_scores(by_feature: dict[str, dict[int, list[Record]]]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per single-encoder feature set: per-query NDCG@200 at its best layer count (mean over seeds)."""
    out = {}
    for label, by_layers in by_feature.items():
        if "+" in label or label in NON_ENCODERS:
            continue
        L = best_layers(by_layers)
        if L is None:
            continue
        recs = [r for r in by_layers[L] if r.status == "ok"]
        ids = list(recs[0]["per_query"]["artists"])
        vals = np.mean([np.asarray(r["per_query"][METRIC], dtype=float) for r in recs
                        if list(r["per_query"]["artists"]) == ids], axis=0)
        out[label] = (ids, vals)
    return out


def agreement(playlist: dict[str, tuple[list[str], np.ndarray]], artist: dict[str, tuple[list[str], np.ndarray]],
              n_boot: int = 2000, seed: int = 0) -> dict[str, Any] | None:
    """Kendall's τ between the encoders' mean scores on the two tasks, and a 95% percentile
    bootstrap interval that resamples test playlists and query artists (each with one draw
    shared by every encoder, so the comparison stays paired)."""
    common = sorted(set(playlist) & set(artist))
    if len(common) < 3:
        return None
    P = np.stack([playlist[e][1] for e in common])  # [encoders, playlists]
    A = np.stack([artist[e][1] for e in common])  # [encoders, query artists]
    tau = kendall_tau(P.mean(axis=1), A.mean(axis=1))
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        p = rng.integers(0, P.shape[1], P.shape[1])
        a = rng.integers(0, A.shape[1], A.shape[1])
        t = kendall_tau(P[:, p].mean(axis=1), A[:, a].mean(axis=1))
        if np.isfinite(t):
            boots.append(t)
    lo, hi = (np.quantile(boots, [0.025, 0.975]) if boots else (float("nan"), float("nan")))
    return {"tau": tau, "ci95": (float(lo), float(hi)), "encoders": common,
            "playlist": P.mean(axis=1), "artist": A.mean(axis=1)}


def agreement_section(results_dir: Path, profile: str, groups: dict[str, Any], n_boot: int = 2000) -> list[str]:
    lines = ["## Do the two tasks agree?", "",
             "Kendall's τ-b between the encoders' ranking on playlist continuation (Table 2's cells of this "
             "profile: ItemKNN R@10) and on this task (NDCG@200 at each encoder's L*); 95% bootstrap interval "
             "over test playlists and query artists.", ""]
    for d in sorted(groups):
        res = agreement(playlist_scores(results_dir, profile, d), artist_scores(groups[d]), n_boot=n_boot)
        if res is None:
            lines.append(f"- {d}: fewer than 3 encoders with both a Table 2 ItemKNN cell and an artist-gnn "
                         "result; nothing to compare.")
            continue
        lo, hi = res["ci95"]
        order = sorted(zip(res["encoders"], res["playlist"], res["artist"]), key=lambda x: -x[2])
        lines.append(f"- {d}: τ = {res['tau']:.2f} [{lo:.2f}, {hi:.2f}] over {len(res['encoders'])} encoders "
                     "(artist NDCG@200 / playlist R@10: " +
                     ", ".join(f"{e} {a:.3f}/{p:.3f}" for e, p, a in order) + ")")
    return [*lines, ""]
