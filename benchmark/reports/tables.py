"""Tables rendered from result files only (never parsed back from rendered text).

The paper's published numbers come from ``benchmark/paper/larp_kdd24.json``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from benchmark.core.dataref import is_variant
from benchmark.core.metrics import bootstrap_ci
from benchmark.core.profiles import get_profile
from benchmark.core.results import RecordError, iter_records, iter_results
from benchmark.core.stats import Family, compare_all, seed_spread

PAPER_METRICS = ("R@10", "N@10", "R@20", "N@20", "R@40", "N@40")
OUR_METRIC = {"R@10": "recall@10", "N@10": "ndcg@10", "R@20": "recall@20",
              "N@20": "ndcg@20", "R@40": "recall@40", "N@40": "ndcg@40"}
PAPER_ENCODER_ORDER = ("Jukebox", "MULE", "CO-Playlist", "CLAP-PT", "CLAP-FT", "LARP")
PAPER_RECOMMENDER_ORDER = ("ItemKNN", "DropoutNet", "CLCRec")


@lru_cache(maxsize=1)
def paper_numbers() -> dict[str, Any]:
    text = resources.files("benchmark").joinpath("paper/larp_kdd24.json").read_text(encoding="utf-8")
    return json.loads(text)


def _fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


# ------------------------------------------------------------------------------ loading
def is_oracle(record: dict[str, Any]) -> bool:
    """Whether a cell's encoder is an oracle (tag ``"oracle"``: reads the generator's hidden
    ground truth). Oracles are never rows of the paper's tables, only of ``ceilings.md``."""
    return "oracle" in (((record.get("encoder") or {}).get("meta") or {}).get("tags") or ())


def load_cells(results_dir: Path, profile: str, cross_dataset: bool = False,
               errors: list[RecordError] | None = None) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Grid results grouped by (dataset, encoder, recommender), all seeds together.

    Cells of an encoder-config variant (Figure 4) or of a dataset variant
    (``synth-mpd[caption_vocab=0.25]``: a sweep) are left out: their studies render them.
    Cells whose encoder was trained on another dataset (Table 4) are left out unless
    ``cross_dataset``; then their encoder key is ``<encoder>@<train dataset>``. Oracle cells
    (:func:`is_oracle`) are always left out: these are the paper's tables. Unreadable files
    raise, unless ``errors`` is given (then they are listed there and skipped).
    """
    cells: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for _, res in iter_results(results_dir, profile, errors=errors):
        c = res["cell"]
        if c.get("variant") or is_oracle(res):  # a variant axis (Figure 4) or an oracle: no Table 2 row
            continue
        if is_variant(c["dataset"]):  # a generator variant's world (a sweep), not a paper column
            continue
        enc = c["encoder"]
        if c.get("train_dataset"):
            if not cross_dataset:
                continue
            enc = f"{enc}@{c['train_dataset']}"
        cells[c["dataset"], enc, c["recommender"]].append(res)
    return cells


def seed_averaged(results: list[dict[str, Any]], metric: str) -> np.ndarray | None:
    """Per-playlist values of ``metric`` averaged over the seeds (same playlists)."""
    ok = [r for r in results if r.get("status") == "ok"]
    if not ok:
        return None
    arrays = [np.asarray(r["per_playlist"][metric], dtype=np.float64) for r in ok]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"results for {ok[0]['cell']} have different playlist sets across seeds")
    return np.mean(arrays, axis=0)


# ------------------------------------------------------------------------------ Table 1
def _homogeneity_cell(value: float, background: float | None) -> str:
    """``"0.26 (0.05)"``: homogeneity and, where recorded, its background."""
    return f"{value:.2f}" + (f" ({background:.2f})" if background is not None else "")


def render_table1(results_dir: Path, profile: str, errors: list[RecordError] | None = None) -> str:
    paper = paper_numbers()["table1_dataset_stats"]
    records = list(iter_records(Path(results_dir), profile, kinds=("dataset_stats",), errors=errors))
    also = sorted({name for r in records for name in r["stats"].get("homogeneity_also", {})})
    rows = []
    encoders = set()
    for r in records:
        s = r["stats"]
        encoders.add(f"{r['homogeneity_encoder']['name']} v{r['homogeneity_encoder']['version']}")
        extra = s.get("homogeneity_also", {})
        for name, e in extra.items():
            if "value" in e:
                encoders.add(f"{name} v{e['version']}")
        rows.append([r["cell"]["dataset"], s["train_tracks"], s["test_playlists"], s["eval_tracks"],
                     f"{s['avg_tracks_per_playlist']:.2f}", f"{s['avg_playlists_per_track']:.2f}",
                     _homogeneity_cell(s["homogeneity"], s.get("homogeneity_background")),
                     *[(_homogeneity_cell(extra[n]["value"], extra[n].get("background"))
                        if "value" in extra.get(n, {}) else "n/a" if n in extra else "not run") for n in also],
                     s.get("pretrain_tracks", "")])
    for name, s in paper.items():
        if name == "note":
            continue
        rows.append([f"{name} (paper)", s["train_tracks"], s["test_playlists"], s["eval_tracks"],
                     f"{s['avg_tracks_per_playlist']:.2f}", f"{s['avg_playlists_per_track']:.2f}",
                     f"{s['homogeneity']:.2f}", *["" for _ in also], ""])
    first = next((r["homogeneity_encoder"]["name"] for r in records), "")
    headers = ["Dataset", "#Train tracks", "#Test playlists", "#Eval tracks", "Avg tracks/playlist",
               "Avg playlists/track", f"Homogeneity ({first})" if also else "Homogeneity",
               *[f"Homogeneity ({n})" for n in also], "#Pretrain tracks"]
    out = [f"Table 1 — dataset statistics (profile {profile})", "",
           tabulate(rows, headers=headers, tablefmt="github"), "",
           f"Homogeneity: mean pairwise cosine among the audio embeddings of a test playlist's tracks, "
           f"averaged over test playlists; in brackets the background, the mean pairwise cosine over all "
           f"pairs of the test split's tracks (a playlist of random tracks), which depends on the "
           f"encoder's geometry: compare each value with its own background; audio encoders: "
           f"{', '.join(sorted(encoders)) or '—'} "
           f"(the paper's encoder is not stated). Avg tracks/playlist and playlists/track are "
           f"over the training split (per-split values are in the result files)."]
    return "\n".join(out)


# ------------------------------------------------------------------------------ Table 2
def _row_label(res: dict[str, Any]) -> str:
    meta = res["encoder"]["meta"]
    return meta.get("paper_row") or meta["name"]


def table2_data(results_dir: Path, profile: str, errors: list[RecordError] | None = None,
                comparisons: bool = True, datasets: Sequence[str] | None = None) -> dict[str, Any]:
    """Everything Table 2 shows, as data: per (recommender, encoder, dataset) values and CIs,
    and (with ``comparisons``) the all-pairs comparisons of each dataset × recommender × metric.
    ``datasets``: only these (None: every dataset with results)."""
    cells = load_cells(results_dir, profile, errors=errors)
    if datasets is not None:
        cells = {k: v for k, v in cells.items() if k[0] in datasets}
    datasets = sorted({d for d, _, _ in cells})
    rec_labels: dict[str, str] = {}
    enc_info: dict[str, dict[str, Any]] = {}
    values: dict[tuple[str, str, str], dict[str, Any]] = {}
    for (d, e, r), results in cells.items():
        first = results[0]
        rec_labels[r] = first["recommender"]["meta"].get("paper_row") or r
        enc_info.setdefault(e, {"label": _row_label(first), "meta": first["encoder"]["meta"],
                                "config": first["encoder"]["config"], "paper_column": {}, "trained_on": {}})
        enc_info[e]["paper_column"][d] = first["dataset"].get("paper_column")
        fit = first.get("encoder_fit") or {}
        if isinstance(fit, dict) and fit.get("trained_on"):
            pre = fit.get("pretrained") if isinstance(fit.get("pretrained"), dict) else {}
            chain = [str(x) for x in (pre.get("trained_on"), fit["trained_on"]) if x]
            enc_info[e]["trained_on"][d] = " then ".join(chain)
        ok = [x for x in results if x.get("status") == "ok"]
        entry: dict[str, Any] = {"status": "ok" if ok else results[0].get("status"),
                                 "reason": results[0].get("reason"), "seeds": sorted(x["cell"]["seed"] for x in ok),
                                 "records": results}
        if ok:
            for pm, om in OUR_METRIC.items():
                per = seed_averaged(results, om)
                assert per is not None
                entry[pm] = float(per.mean())
                entry[pm + "_ci"] = bootstrap_ci(per, seed=0)
                entry[pm + "_per_playlist"] = per
                entry[pm + "_seeds"] = seed_spread([float(x["metrics"][om]) for x in ok])
        values[d, e, r] = entry
    return {"datasets": datasets, "recommenders": rec_labels, "encoders": enc_info, "values": values,
            "families": _families(values) if comparisons else {}}


def _families(values: dict[tuple[str, str, str], dict[str, Any]]) -> dict[tuple[str, str, str], Family]:
    """All-pairs comparisons (:func:`benchmark.core.stats.compare_all`: sign-flip tests, Holm,
    paired-bootstrap intervals, letters) of the ``ok`` rows of each dataset × recommender ×
    metric, keyed ``(dataset, recommender, paper metric)``; families of one row are left out."""
    groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for (d, e, r), v in values.items():
        if v.get("status") == "ok":
            groups[d, r][e] = v
    out: dict[tuple[str, str, str], Family] = {}
    for (d, r), rows in sorted(groups.items()):
        if len(rows) < 2:
            continue
        _check_paired(d, r, rows)
        for pm in PAPER_METRICS:
            out[d, r, pm] = compare_all({e: v[pm + "_per_playlist"] for e, v in rows.items()})
    return out


def _check_paired(dataset: str, rec: str, rows: dict[str, dict[str, Any]]) -> None:
    """Rows of a family must be evaluated on the same playlists in the same order."""
    ids = {}
    for e, v in rows.items():
        first = next(x for x in v["records"] if x.get("status") == "ok")
        ids[e] = tuple((first.get("per_playlist") or {}).get("playlist_ids") or ())
    if len(set(ids.values())) > 1:
        raise ValueError(f"{dataset} / {rec}: encoders were evaluated on different playlists "
                         f"({', '.join(sorted(ids))}); paired comparisons need the same test playlists")


def letters(data: dict[str, Any], dataset: str, encoder: str, rec: str, metric: str) -> str:
    """The significance-group letters of a Table 2 cell ("" when it has none)."""
    fam = data["families"].get((dataset, rec, metric))
    return fam.letters.get(encoder, "") if fam is not None else ""


def render_table2(results_dir: Path, profile: str, with_ci: bool = True,
                  datasets: Sequence[str] | None = None, title: str = "Table 2") -> str:
    data = table2_data(results_dir, profile, datasets=datasets)
    paper = paper_numbers()["table2_main"]
    out = [f"{title} — cold-start playlist continuation (profile {profile}); "
           "each cell: ours [95% CI] letters (paper)", ""]
    notes: list[str] = []
    rec_order = sorted(data["recommenders"], key=lambda r: (
        PAPER_RECOMMENDER_ORDER.index(data["recommenders"][r])
        if data["recommenders"][r] in PAPER_RECOMMENDER_ORDER else 99, r))
    for d in data["datasets"]:
        col = next((info["paper_column"].get(d) for info in data["encoders"].values()
                    if info["paper_column"].get(d)), None)
        out.append(f"### {d}" + (f" (stands in for the paper's {col})" if col else ""))
        rows = []
        for r in rec_order:
            rlabel = data["recommenders"][r]
            ours_by_label = {info["label"]: e for e, info in data["encoders"].items()
                             if (d, e, r) in data["values"]}
            labels = [lbl for lbl in PAPER_ENCODER_ORDER] + sorted(
                lbl for lbl in ours_by_label if lbl not in PAPER_ENCODER_ORDER)
            for lbl in labels:
                e = ours_by_label.get(lbl)
                pvals = paper.get(rlabel, {}).get(lbl, {}).get(col or "", {})
                row = [rlabel, lbl + (f" ({e})" if e and e != lbl.lower() else "")]
                entry = data["values"].get((d, e, r)) if e else None
                for pm in PAPER_METRICS:
                    pv = pvals.get(pm)
                    ptxt = f" ({pv:.4f})" if pv is not None else ""
                    if entry is None:
                        row.append("not run" + ptxt)
                    elif entry["status"] != "ok":
                        row.append(f"n/a: {entry['status']}" + ptxt)
                    else:
                        lo, hi = entry[pm + "_ci"]
                        ci = f" [{lo:.4f}, {hi:.4f}]" if with_ci else ""
                        lt = letters(data, d, e, r, pm)
                        spread = entry.get(pm + "_seeds")
                        sd = (f" {{seeds: {spread[0]:.4f} ± {spread[1]:.4f}, n={len(entry['seeds'])}}}"
                              if spread else "")
                        row.append(f"{entry[pm]:.4f}{ci}{' ' + lt if lt else ''}{sd}{ptxt}")
                rows.append(row)
            sig = _significance_note(data, d, r)
            if sig:
                notes.append(f"{d} / {rlabel}: {sig}")
        out += [tabulate(rows, headers=["Recommender", "Encoder", *PAPER_METRICS], tablefmt="github"), ""]
    notes += _provenance_notes(data)
    out += ["Notes:"] + [f"- {n}" for n in notes]
    out.append("- R = recall@K = hits/|GT| (paper definition); N = NDCG@K with IDCG over min(|GT|,K); "
               "CI = percentile bootstrap over test playlists; paper numbers are from real MPD/LFM and "
               "are not expected to match generated data.")
    out.append("- Letters: within a dataset, recommender and metric, rows sharing a letter are not "
               "distinguishable (paired sign-flip tests over playlists between every pair of rows, Holm-"
               "corrected over the pairs, α = 0.05); 'a' marks the group of the best row; rows not run or "
               "unavailable get none. Where a row has several seeds, {seeds: mean ± sd, n} is the spread "
               "of its mean over seeds, apart from the playlist interval. docs/report.md has the formulas.")
    return "\n".join(out)


def _significance_note(data: dict[str, Any], dataset: str, rec: str) -> str | None:
    fam = data["families"].get((dataset, rec, "R@10"))
    if fam is None:
        return None
    best, second = fam.order[:2]
    c = fam.pair(best, second)
    assert c is not None
    return (f"best R@10 {best} ({fam.means[best]:.4f}) vs second {second} ({fam.means[second]:.4f}): "
            f"difference {c.diff:+.4f} [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}], sign-flip p = {c.p:.4g}, "
            f"Holm-adjusted over {len(fam.comparisons)} pairs p = {c.p_holm:.4g}")


def _provenance_notes(data: dict[str, Any]) -> list[str]:
    """One note per encoder (version, weights, what it trained on in each dataset, config
    variant) and one per unavailable encoder and reason, listing the cells it left empty."""
    notes = []
    for e, info in sorted(data["encoders"].items()):
        m = info["meta"]
        variant = next((info["config"][k] for k in ("model_config", "htsat", "backbone", "extractor", "config")
                        if info["config"].get(k)), "")
        cfg_name = str(variant.get("name", variant) if isinstance(variant, dict) else variant)
        extra = f"; variant {cfg_name}" if cfg_name else ""
        trained = "; ".join(f"{d}: {t}" for d, t in sorted(info["trained_on"].items()))
        notes.append(f"{info['label']} = `{e}` v{m['version']}: weights {m['weights']}; "
                     f"trains on {trained or m['trains_on']}{extra}")
    missing: dict[tuple[str, str, str], list[str]] = {}
    for (d, e, r), v in sorted(data["values"].items()):
        if v.get("status") not in (None, "ok"):
            missing.setdefault((e, str(v["status"]), str(v.get("reason"))), []).append(f"{d}/{r}")
    for (e, status, reason), where in sorted(missing.items()):
        notes.append(f"`{e}` {status} in {len(where)} cell(s) ({', '.join(where)}): {reason}")
    return notes


# ------------------------------------------------------------------------------ Table 4
def render_table4(results_dir: Path, profile: str, recommender: str = "itemknn",
                  errors: list[RecordError] | None = None) -> str:
    """Cross-dataset generalisation: each encoder trained on one dataset, tested on another,
    beside the same encoder trained and tested in-domain (paper Table 4, ItemKNN)."""
    cells = load_cells(results_dir, profile, cross_dataset=True, errors=errors)
    paper = paper_numbers()["table4_generalization_on_LFM"]
    rows = []
    for (d, _enc, r), results in sorted(cells.items(), key=lambda kv: kv[0]):
        if r != recommender:
            continue
        first = results[0]
        trained_on = first["cell"].get("train_dataset") or d
        label = _row_label(first)
        row = [d, label + f" ({first['cell']['encoder']})", trained_on]
        for pm in PAPER_METRICS:
            per = seed_averaged(results, OUR_METRIC[pm])
            row.append("n/a" if per is None else f"{per.mean():.4f}")
        rows.append(row)
    prow = [["LFM (paper)", name, v["trained_on"], *[f"{v[pm]:.4f}" for pm in PAPER_METRICS]]
            for name, v in paper.items()]
    headers = ["Tested on", "Encoder", "Trained on", *PAPER_METRICS]
    return "\n".join([
        f"Table 4 — cross-dataset generalisation ({recommender}, profile {profile})", "",
        tabulate(rows + prow, headers=headers, tablefmt="github"), "",
        "Rows whose 'Trained on' differs from 'Tested on' use an encoder trained on another dataset "
        "and only embedded on the tested one; the recommender always sees the tested dataset only.",
    ])


# ------------------------------------------------------------------------------ study outputs
def _write(text: str, path: str | Path | None) -> str:
    if path is not None:
        from benchmark.core.atomic import atomic_write_text

        atomic_write_text(Path(path), text + "\n")
    return text


def write_table1(results_dir: Path, profile: str, path: str | Path | None = None, with_ci: bool = True) -> str:
    """Table 1 as text, also written to ``path`` when given (the ``table1`` study's output)."""
    return _write(render_table1(Path(results_dir), profile), path)


def write_table2(results_dir: Path, profile: str, path: str | Path | None = None, with_ci: bool = True) -> str:
    """Table 2 on the profile's own datasets (the generated worlds)."""
    return _write(render_table2(Path(results_dir), profile, with_ci=with_ci,
                                datasets=get_profile(profile).datasets), path)


def write_table2_folk21(results_dir: Path, profile: str, path: str | Path | None = None,
                        with_ci: bool = True) -> str:
    """Table 2 on folk21, the real pieces (study ``table2-folk21``)."""
    return _write(render_table2(Path(results_dir), profile, with_ci=with_ci, datasets=("folk21",),
                                title="Table 2 on folk21"), path)


def write_table4(results_dir: Path, profile: str, path: str | Path | None = None, with_ci: bool = True) -> str:
    return _write(render_table4(Path(results_dir), profile), path)
