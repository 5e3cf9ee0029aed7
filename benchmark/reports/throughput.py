"""The throughput study's table (``results/<profile>/throughput.md``), rendered from its
``throughput`` records only (written by ``benchmark.harness.throughput.measure``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmark.core.results import iter_records


def _num(x: Any, fmt: str = "{:.2f}") -> str:
    return "—" if x is None else fmt.format(x)


def _params(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"


def render_throughput(results_dir: Path, profile: str) -> str:
    recs = [r for r in iter_records(Path(results_dir), profile, kinds=["throughput"], errors=[])
            if r.get("what") in ("encoder", "recommender", "ranking")]
    if not recs:
        return (f"# Throughput ({profile})\n\nNo throughput records under {results_dir}/{profile}/throughput: "
                f"run `larpbench study run throughput --profile {profile}`.")
    host = recs[0]["machine"]
    lines = [f"# Throughput ({profile} profile, CPU)", "",
             f"Machine: {host['cpu']}, {host['cpus']} CPUs, torch {host['torch']} with "
             f"{host['torch_threads']} thread(s), numpy {host['numpy']}, Python {host['python']}; "
             f"load average {host.get('load_average')} at the start; measured {host['date']}"
             + (f" at commit {str(host['git'].get('commit'))[:12]}{' (dirty)' if host['git'].get('dirty') else ''}"
                if host.get("git") else "") + ".",
             "Measured by `larpbench study run throughput` (benchmark/harness/throughput.py); "
             "single runs on a possibly shared machine: compare ratios, not absolute figures.", ""]

    enc = sorted((r for r in recs if r["what"] == "encoder"), key=lambda r: r["name"])
    rows = []
    for r in enc:
        m = r["measurements"]
        if m.get("status") != "ok":
            reason = str(m.get("reason", "")).strip().splitlines()
            rows.append([r["name"], "—", "—", "—", "—", "—", "—", "—",
                         f"{m.get('status')}: {reason[-1][:80] if reason else ''}"])
            continue
        clips = m["clips"]
        grid = m.get("grid_fit")
        fit = f"{grid['fit_s']:.1f} s ({grid['dataset']})" if grid else "—"
        split = (f"{clips / m['frontend_s']:.1f} / {clips / m['forward_s']:.1f}" if m.get("split")
                 else "whole pipeline only")
        rows.append([r["name"], _params(m.get("parameters")), m["dim"], f"{m['clips_per_s']:.1f}", split,
                     _num(m.get("embed_over_stages")), f"{m['peak_rss_mib']:.0f}", fit,
                     m.get("split_note", "")])
    lines += ["## Encoders", "",
              f"Embedding {enc[0]['measurements'].get('clips', 24) if enc else 24} generated clips of 10 s "
              "(16 kHz FLAC); each encoder trained one step at most, in its own process. Front end = "
              "decode + resample + features; forward = the model on precomputed features; "
              "ratio = embed / (front end + forward). Training = the encoder's fit wall time "
              "in the grid's cell records of this profile, where present.", "",
              tabulate(rows, headers=["encoder", "parameters", "dim", "clips/s (embed)",
                                      "clips/s front end / forward", "ratio", "peak RSS (MiB)",
                                      "training (grid)", "note"], tablefmt="github"), ""]

    rec = sorted((r for r in recs if r["what"] == "recommender"), key=lambda r: r["name"])
    if rec:
        rows = []
        for r in rec:
            m = r["measurements"]
            rows.append([r["name"], _params(m.get("parameters")), f"{m['fit_s']:.2f}",
                         _num(m.get("epochs_run"), "{}"), f"{m['score_s']:.3f}", f"{m['queries_per_s']:.0f}",
                         f"{m['train_tracks']} / {m['train_playlists']}", f"{m['queries']} × {m['candidates']}"])
        lines += ["## Recommenders", "",
                  "Fit (with model selection on the validation queries) and scoring + masked top-40 "
                  "of the validation queries, on a synthetic clustered world "
                  f"({rec[0].get('scale') or 'quick scale'}).", "",
                  tabulate(rows, headers=["recommender", "parameters", "fit (s)", "epochs", "score + top-40 (s)",
                                          "queries/s", "train tracks / playlists", "queries × candidates"],
                           tablefmt="github"), ""]
    for r in (r for r in recs if r["what"] == "ranking"):
        m = r["measurements"]
        lines += ["## ItemKNN ranking", "",
                  f"{m['queries']:,} playlists × {m['candidates']:,} candidates × {m['dim']}-d, top-{m['k']}: "
                  f"scoring + masked top-{m['k']} {m['score_topk_s']:.2f} s, matrix product alone "
                  f"{m['product_s']:.2f} s, ratio **{m['ratio']:.2f}** (target ≤ 1.25).", ""]
    return "\n".join(lines).rstrip()


def write_throughput(results_dir: Path, profile: str, path: str | Path | None = None) -> str:
    text = render_throughput(Path(results_dir), profile)
    if path is not None:
        from benchmark.core.dataset import atomic_write_text

        atomic_write_text(Path(path), text + "\n")
    return text
