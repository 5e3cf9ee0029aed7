"""``ceilings.md``: the oracle encoders beside the trivial baselines, from result records only.

One table per dataset, ItemKNN, one seed: R@10, N@10, R@20 and R@40, each with the 95%
percentile-bootstrap interval over test playlists that the grid stored in the record
(``ci95``). A row whose cell is unavailable (an oracle on a dataset without the hidden
ground truth) says why. Below each table, the relation rule of issue #12: the paired
sign-flip test of ``oracle-relations`` against ``caption-tfidf`` and against ``melstats``
on per-playlist R@10, Holm-adjusted over every such comparison of every dataset in the table
(the family pre-registered in docs/datasets-synth.md: 2 datasets x 2 comparisons).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from benchmark.core.dataref import is_variant
from benchmark.core.results import iter_results
from benchmark.core.stats import holm, paired_bootstrap_ci, sign_flip_pvalues
from benchmark.studies.ceilings import CEILING_DATASETS, CEILING_ENCODERS

METRICS = (("R@10", "recall@10"), ("N@10", "ndcg@10"), ("R@20", "recall@20"), ("R@40", "recall@40"))
RELATION_RULE = ("oracle-relations", ("caption-tfidf", "melstats"))


def ceilings_data(results_dir: Path, profile: str, recommender: str = "itemknn",
                  seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    """``{dataset: {encoder: record}}`` of the ceiling encoders' cells (``recommender``,
    ``seed``, no variant, encoder trained in-domain)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for _, rec in iter_results(Path(results_dir), profile):
        c = rec["cell"]
        if (c["recommender"] != recommender or int(c["seed"]) != seed or c.get("variant")
                or c.get("train_dataset") or c["encoder"] not in CEILING_ENCODERS
                or is_variant(str(c["dataset"]))):  # a sweep's worlds are not the default worlds
            continue
        out.setdefault(c["dataset"], {})[c["encoder"]] = rec
    return out


def relation_rule(rows: dict[str, dict[str, Any]], metric: str = "recall@10") -> list[str]:
    """The relation-oracle comparisons of one dataset as text lines (Holm over its two)."""
    return relation_rules({"": rows}, metric)[""]


def relation_rules(data: dict[str, dict[str, dict[str, Any]]], metric: str = "recall@10") -> dict[str, list[str]]:
    """Per dataset, the relation-oracle comparisons as text lines, Holm-adjusted over every
    comparison of every dataset tested (the pre-registered family: docs/datasets-synth.md)."""
    oracle, others = RELATION_RULE
    needed = [oracle, *others]
    lines: dict[str, list[str]] = {}
    tests: list[tuple[str, str, float, tuple[float, float], float]] = []
    for dataset, rows in data.items():
        missing = [e for e in needed if (rows.get(e) or {}).get("status") != "ok"]
        if missing:
            lines[dataset] = [f"relation rule: not tested ({', '.join(missing)} not computed)"]
            continue
        lines[dataset] = []
        per = {e: np.asarray(rows[e]["per_playlist"][metric], dtype=np.float64) for e in needed}
        ids = {e: tuple(rows[e]["per_playlist"].get("playlist_ids") or ()) for e in needed}
        if len(set(ids.values())) > 1:
            raise ValueError(f"{', '.join(needed)} were evaluated on different playlists; the test needs pairs")
        diffs = np.stack([per[oracle] - per[o] for o in others])
        for o, d, pp, ci in zip(others, diffs, sign_flip_pvalues(diffs), paired_bootstrap_ci(diffs)):
            tests.append((dataset, o, float(d.mean()), (float(ci[0]), float(ci[1])), float(pp)))
    adjusted = holm(np.asarray([t[4] for t in tests])) if tests else []
    for (dataset, o, mean, (lo, hi), pp), ph in zip(tests, adjusted):
        verdict = "beats" if mean > 0 and ph < 0.05 else "does not beat"
        lines[dataset].append(
            f"relation rule: {oracle} {verdict} {o} on {metric}: difference {mean:+.4f} [{lo:+.4f}, {hi:+.4f}], "
            f"sign-flip p = {pp:.4g}, Holm-adjusted ({len(tests)} comparisons) p = {ph:.4g}")
    return lines


def _cell(rec: dict[str, Any] | None, metric: str, with_ci: bool) -> str:
    if rec is None or rec.get("status") != "ok":
        return "—"
    value = float(rec["metrics"][metric])
    if not with_ci:
        return f"{value:.4f}"
    lo, hi = rec["ci95"][metric]
    return f"{value:.4f} [{lo:.4f}, {hi:.4f}]"


def render_ceilings(results_dir: Path, profile: str, with_ci: bool = True) -> str:
    data = ceilings_data(results_dir, profile)
    out = [f"Ceilings — oracle encoders beside the trivial baselines (ItemKNN, seed 0, profile {profile}); "
           "each cell: ours [95% CI]", ""]
    order = [d for d in CEILING_DATASETS if d in data] + sorted(d for d in data if d not in CEILING_DATASETS)
    if not order:
        out.append("No ceiling cells in the records yet: larpbench study run ceilings --profile " + profile)
    rules = relation_rules({d: data[d] for d in order})
    for d in order:
        rows, reasons = [], []
        for e in CEILING_ENCODERS:
            rec = data[d].get(e)
            kind = "oracle" if e.startswith("oracle-") else "baseline"
            if rec is None:
                note = "not run"
            elif rec.get("status") != "ok":
                note = str(rec.get("status"))
                reasons.append(f"`{e}` {note}: {rec.get('reason')}")
            else:
                note = f"{rec.get('n_playlists')} playlists, {rec.get('n_candidates')} candidates"
            rows.append([e, kind, *(_cell(rec, m, with_ci) for _, m in METRICS), note])
        out += [f"### {d}", "", tabulate(rows, headers=["Encoder", "Kind", *(p for p, _ in METRICS), "Note"],
                                          tablefmt="github"), ""]
        out += [f"- {line}" for line in [*reasons, *rules[d]]] + [""]
    out.append("Oracles read the generator's hidden ground truth (the one exception to \"encoders never read "
               "it\"): each row is the ceiling of one signal, through the same grid and protocol as Table 2 "
               "(docs/baselines.md). R = recall@K, N = NDCG@K; CI = percentile bootstrap over test playlists.")
    return "\n".join(out)


def write_ceilings(results_dir: Path, profile: str, path: str | Path | None = None, with_ci: bool = True) -> str:
    """The ``ceilings`` study's output: the table as text, also written to ``path`` when given."""
    text = render_ceilings(Path(results_dir), profile, with_ci=with_ci)
    if path is not None:
        from benchmark.core.atomic import atomic_write_text

        atomic_write_text(Path(path), text + "\n")
    return text
