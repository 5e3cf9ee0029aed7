"""The HTML report: one self-contained file (inline CSS, JS and images; nothing fetched)
rendered from the result records of one profile.

It shows Table 2 (sortable; playlist intervals, significance letters, the paper's numbers),
the all-pairs comparisons behind the letters, Tables 1, 3 and 4, the profile's figures,
encoder cards, diagnostics from stored rankings, each cell's provenance, and the status of
the regression check. The check itself is run by the caller (the CLI, which may import the
harness) and handed in as data: reports never import the harness.

Every result file that cannot be read is listed with its path; nothing is dropped silently.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.core.atomic import atomic_write_text
from benchmark.core.results import RecordError, iter_records, record_files
from benchmark.core.stats import Family
from benchmark.reports.cards import encoder_cards
from benchmark.reports.diagnostics import LENGTH_BUCKETS, cell_diagnostics
from benchmark.reports.larp import render_table3
from benchmark.reports.tables import (
    PAPER_ENCODER_ORDER,
    PAPER_METRICS,
    paper_numbers,
    render_table1,
    render_table4,
    table2_data,
)


class EmptyResults(FileNotFoundError):
    """No result record at all under the results folder for the profile."""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _f(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


# ----------------------------------------------------------------------------- markdown
def markdown_to_html(text: str) -> str:
    """The subset of markdown the table renderers write: ``### `` headings, github pipe
    tables, ``- `` list items and paragraphs (inline code in backticks kept as text)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            rows = [[c.strip() for c in row.strip().strip("|").split("|")] for row in block
                    if not set(row.replace("|", "").strip()) <= set("-: ")]
            head, body = rows[0], rows[1:]
            out.append('<table class="sortable"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head)
                       + "</tr></thead><tbody>" + "".join(
                           "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in body)
                       + "</tbody></table>")
            continue
        if line.startswith("### "):
            out.append(f"<h4>{_e(line[4:])}</h4>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_e(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            out.append(f"<p>{_e(line)}</p>")
        i += 1
    return "\n".join(out)


# ----------------------------------------------------------------------------- sections
def _missing_section(errors: list[RecordError], results_dir: Path, profile: str) -> str:
    if not errors:
        return (f"<p class='ok'>Every result file under <code>{_e(results_dir / profile)}</code> was read.</p>")
    items = "".join(f"<li class='missing'>missing (unreadable): {_e(e)}</li>" for e in errors)
    return (f"<p class='bad'>{len(errors)} result file(s) could not be read; their cells are missing from "
            f"every table below:</p><ul id='missing-files'>{items}</ul>")


def _regression_section(regression: Mapping[str, Any] | None) -> str:
    if regression is None:
        return ("<p id='regression-status' data-status='not run'>Regression check: <b>not run</b> "
                "(<code>larpbench report --compare-with DIR</code> compares this results folder, as the "
                "baseline, with the results in DIR; the report never runs the grid).</p>")
    if regression.get("error"):
        return (f"<p id='regression-status' data-status='error' class='bad'>Regression check: <b>could not "
                f"run</b>: {_e(regression['error'])}</p>")
    drifts = list(regression.get("drifts") or [])
    head = (f"baseline <code>{_e(regression.get('baseline'))}</code> vs <code>{_e(regression.get('new'))}"
            f"</code>, tolerance {_e(regression.get('tolerance'))} ({_e(regression.get('trained_tolerance'))} "
            "for gradient-trained cells)")
    if not drifts:
        return (f"<p id='regression-status' data-status='passed' class='ok'>Regression check: <b>passed</b> — "
                f"no drift beyond tolerance; {head}.</p>")
    items = "".join(f"<li>{_e(d)}</li>" for d in drifts)
    return (f"<p id='regression-status' data-status='failed' class='bad'>Regression check: <b>failed</b> — "
            f"{len(drifts)} drift(s); {head}:</p><ul>{items}</ul>")


def _table2_section(data: dict[str, Any], profile: str) -> str:
    paper = paper_numbers()["table2_main"]
    recs = data["recommenders"]
    parts = ["<p>Each cell: our mean over test playlists (seed-averaged), its 95% percentile-bootstrap "
             "interval over playlists, the significance letters (rows of one recommender sharing a letter "
             "are not distinguishable: Holm-corrected paired sign-flip tests, α = 0.05), the spread over "
             "seeds where a row has several, and the paper's number. Click a column header to sort.</p>"]
    for d in data["datasets"]:
        col = next((info["paper_column"].get(d) for info in data["encoders"].values()
                    if info["paper_column"].get(d)), None)
        parts.append(f"<h3>{_e(d)}" + (f" <small>(stands in for the paper's {_e(col)})</small>" if col else "")
                     + "</h3>")
        head = "".join(f"<th>{_e(pm)}</th>" for pm in PAPER_METRICS)
        rows = []
        keys = sorted(((e, r) for (dd, e, r) in data["values"] if dd == d),
                      key=lambda er: (recs[er[1]], data["encoders"][er[0]]["label"]))
        for e, r in keys:
            v = data["values"][d, e, r]
            info = data["encoders"][e]
            label = info["label"] + (f" ({e})" if e != info["label"].lower() else "")
            pvals = paper.get(recs[r], {}).get(info["label"], {}).get(col or "", {})
            cells = [f"<td>{_e(recs[r])}</td>", f"<td>{_e(label)}</td>",
                     f"<td>{_e(', '.join(map(str, v.get('seeds') or [])) or '—')}</td>"]
            for pm in PAPER_METRICS:
                pv = pvals.get(pm)
                ptxt = f" <span class='paper'>paper {pv:.4f}</span>" if pv is not None else ""
                if v.get("status") != "ok":
                    cells.append(f"<td data-sort='' class='na'>n/a: {_e(v.get('status'))}{ptxt}</td>")
                    continue
                lo, hi = v[pm + "_ci"]
                fam: Family | None = data["families"].get((d, r, pm))
                letters = fam.letters.get(e, "") if fam else ""
                spread = v.get(pm + "_seeds")
                sd = (f" <span class='sd'>seeds {spread[0]:.4f} ± {spread[1]:.4f} (n={len(v['seeds'])})</span>"
                      if spread else "")
                cells.append(f"<td data-sort='{v[pm]:.6f}'><b>{v[pm]:.4f}</b> <span class='ci'>[{lo:.4f}, "
                             f"{hi:.4f}]</span> <span class='cld'>{_e(letters)}</span>{sd}{ptxt}</td>")
            rows.append(f"<tr data-dataset='{_e(d)}' data-encoder='{_e(e)}' data-recommender='{_e(r)}'>"
                        + "".join(cells) + "</tr>")
        parts.append(f"<table class='sortable table2' data-dataset='{_e(d)}'><thead><tr><th>Recommender</th>"
                     f"<th>Encoder</th><th>Seeds</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
        present = {(recs[r], data["encoders"][e]["label"]) for (dd, e, r) in data["values"] if dd == d}
        absent = [f"{rl} × {el}" for rl in sorted(set(recs.values())) for el in PAPER_ENCODER_ORDER
                  if (rl, el) not in present]
        if absent:
            parts.append(f"<p class='note'>Paper rows without a result file in {_e(d)} (not run): "
                         f"{_e(', '.join(absent))}.</p>")
        unavailable = [(e, r, v) for (dd, e, r), v in sorted(data["values"].items())
                       if dd == d and v.get("status") != "ok"]
        if unavailable:
            items = "".join(f"<li><code>{_e(e)}</code> × {_e(r)}: {_e(v.get('status'))} — {_e(v.get('reason'))}</li>"
                            for e, r, v in unavailable)
            parts.append(f"<details><summary>Why {len(unavailable)} cell(s) are unavailable</summary>"
                         f"<ul>{items}</ul></details>")
    return "\n".join(parts)


def _comparisons_section(data: dict[str, Any]) -> str:
    parts = ["<p>Every pair of rows of a dataset × recommender × metric, over the same test playlists: the "
             "difference of means (row a − row b, a the better), its 95% paired-bootstrap interval, the "
             "two-sided sign-flip permutation p-value and its Holm-adjusted value over the family's pairs. "
             "Formulas: docs/report.md.</p>"]
    for (d, r, pm), fam in sorted(data["families"].items(),
                                  key=lambda kv: (kv[0][0], kv[0][1], PAPER_METRICS.index(kv[0][2]))):
        rows = "".join(
            f"<tr{' class=sig' if c.significant else ''}><td>{_e(c.a)}</td><td>{_e(c.b)}</td><td>{c.diff:+.4f}</td>"
            f"<td>[{c.ci[0]:+.4f}, {c.ci[1]:+.4f}]</td><td>{c.p:.4g}</td><td>{c.p_holm:.4g}</td>"
            f"<td>{'yes' if c.significant else 'no'}</td></tr>" for c in fam.comparisons)
        letters = ", ".join(f"{e} {fam.letters[e]}" for e in fam.order)
        kind = "exact enumeration" if fam.exact else "10,000 random sign vectors"
        parts.append(
            f"<details class='family'><summary>{_e(d)} / {_e(data['recommenders'][r])} / {_e(pm)}: "
            f"{len(fam.comparisons)} pairs over {fam.n_playlists} playlists ({kind}); letters: {_e(letters)}"
            f"</summary><table class='sortable'><thead><tr><th>a</th><th>b</th><th>a − b</th>"
            f"<th>95% paired bootstrap</th><th>p</th><th>p (Holm)</th><th>differ</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></details>")
    return "\n".join(parts)


def _text_table(render: Any, *args: Any, **kwargs: Any) -> str:
    try:
        return markdown_to_html(render(*args, **kwargs))
    except (KeyError, ValueError, TypeError) as e:
        return f"<p class='bad'>not rendered: {_e(type(e).__name__)}: {_e(e)}</p>"


def _figures_section(results_dir: Path, profile: str) -> str:
    pngs = sorted((Path(results_dir) / profile).glob("*.png"))
    if not pngs:
        return "<p>No figure files (<code>*.png</code>) in this profile's results folder.</p>"
    parts = []
    for png in pngs:
        b64 = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f"<figure><img alt='{_e(png.name)}' src='data:image/png;base64,{b64}'>"
                     f"<figcaption>{_e(png.name)} (<code>{_e(png)}</code>)</figcaption></figure>")
    return "\n".join(parts)


def _cards_section(records: list[Any]) -> str:
    parts = []
    for c in encoder_cards(records):
        trained = "".join(f"<li>{_e(d)}: {_e(t)} — overlap with the evaluated data: <b>{_e(c['overlap'][d])}</b>"
                          "</li>" for d, t in sorted(c["trained_on"].items()))
        rows = [("Paper row", c["paper_row"] or "—"), ("Version", c["version"]), ("Status", c["status"]),
                ("Modalities", c["modalities"]), ("Parameters", c["parameters"]),
                ("Embedding dimension", c["dim"]), ("Weights source", c["weights_source"]),
                ("Licence (code)", c["licence_code"]), ("Licence (weights)", c["licence_weights"]),
                ("Libraries that change its output", c["output_libraries"]), ("Citation", c["citation"])]
        body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
        parts.append(f"<div class='card' id='card-{_e(c['label'])}'><h3>{_e(c['label'])}</h3>"
                     f"<p>{_e(c['description'])}</p><table>{body}</table>"
                     f"<p>Trained on, per evaluated dataset:</p><ul>{trained or '<li>no ok cell</li>'}</ul></div>")
    return "\n".join(parts)


def _diagnostics_section(cells: list[Any]) -> str:
    heads = ["Dataset", "Encoder", "Recommender", "Seed", "R@10", "R@10 other-artist hits",
             "hits by a seed's artist", "coverage@10", "artist diversity@10",
             *[f"R@10, length {b[0]}" for b in LENGTH_BUCKETS]]
    rows = []
    n_ok = 0
    for rec in cells:
        c = rec.identity
        label = c["encoder"] + (f"@{c['train_dataset']}" if c.get("train_dataset") else "") + (
            f"~{c['variant']}" if c.get("variant") else "")
        first = (f"<td>{_e(c['dataset'])}</td><td>{_e(label)}</td><td>{_e(c['recommender'])}</td>"
                 f"<td>{_e(c['seed'])}</td>")
        d = cell_diagnostics(rec)
        if d["status"] != "ok":
            rows.append(f"<tr class='na'>{first}<td colspan='{len(heads) - 4}' data-sort=''>"
                        f"{_e(d['reason'])}</td></tr>")
            continue
        n_ok += 1
        vals = [d["recall@10"], d["recall_other_artist@10"], d["seed_artist_hit_share@10"], d["coverage@10"],
                d["artist_diversity@10"]]
        tds = "".join(f"<td data-sort='{'' if v is None else f'{v:.6f}'}'>{_f(v)}</td>" for v in vals)
        tds += "".join(f"<td>{_f(b['recall@10'])} <small>(n={b['playlists']})</small></td>" for b in d["by_length"])
        rows.append(f"<tr>{first}{tds}</tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    return (f"<p>{n_ok} of {len(cells)} cell(s) have stored rankings. Definitions: docs/report.md.</p>"
            f"<table class='sortable' id='diagnostics'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
            "</tbody></table>")


def _set(config: Any) -> Any:
    """A config without its unset (``None``) options: the encoder's defaults apply to those."""
    return {k: v for k, v in config.items() if v is not None} if isinstance(config, dict) else config


def _provenance_section(cells: list[Any], results_dir: Path) -> str:
    rows = []
    for rec in cells:
        c = rec.identity
        prov = rec.get("provenance") or {}
        git = prov.get("git") or {}
        label = c["encoder"] + (f"@{c['train_dataset']}" if c.get("train_dataset") else "") + (
            f"~{c['variant']}" if c.get("variant") else "")
        commit = str(git.get("commit") or "not recorded")[:12] + (" (dirty)" if git.get("dirty") else "")
        dhash = str((rec.get("dataset") or {}).get("hash") or "not recorded")[:12]
        details = {"file": str(rec.path.relative_to(results_dir)) if rec.path else None, "cell_key": rec.key,
                   "status": rec.status, "dataset": rec.get("dataset", {}).get("name"),
                   "dataset_hash": (rec.get("dataset") or {}).get("hash"), "provenance": prov,
                   "encoder_config": _set((rec.get("encoder") or {}).get("config")),
                   "recommender_config": _set((rec.get("recommender") or {}).get("config")),
                   "protocol": rec.get("protocol"), "schema_version_read": rec.source_version}
        rows.append(f"<tr><td>{_e(c['dataset'])}</td><td>{_e(label)}</td><td>{_e(c['recommender'])}</td>"
                    f"<td>{_e(c['seed'])}</td><td>{_e(rec.status)}</td><td><code>{_e(commit)}</code></td>"
                    f"<td><code>{_e(dhash)}</code></td><td><details><summary>versions, device, configs"
                    f"</summary><pre>{_e(json.dumps(details, indent=0, sort_keys=True, default=str))}</pre>"
                    "</details></td></tr>")
    return ("<table class='sortable' id='provenance'><thead><tr><th>Dataset</th><th>Encoder</th><th>Recommender"
            "</th><th>Seed</th><th>Status</th><th>Git commit</th><th>Dataset hash</th><th>Details</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


# ----------------------------------------------------------------------------- page
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1500px;
 padding:0 1rem;color:#1d1d1f;line-height:1.4}
h1{font-size:1.6rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.82rem}
th,td{border:1px solid #ddd;padding:.25rem .45rem;vertical-align:top;text-align:left}
thead th{background:#f3f4f6;position:sticky;top:0}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable thead th[aria-sort=descending]::after{content:" \\25BC"}
tbody tr:nth-child(even){background:#fafafa}
.ci,.paper,.sd,small{color:#666;font-size:.9em}.cld{color:#0b5cad;font-weight:600}
.na{color:#999}.bad{color:#b00020}.ok{color:#176f2c}.note{color:#555;font-size:.9em}
tr.sig td:last-child{font-weight:600}
.card{border:1px solid #ddd;border-radius:6px;padding:.3rem .9rem;margin:.8rem 0}
.card table th{background:#f8f8f8;width:16rem}
pre{white-space:pre-wrap;font-size:.75rem;max-width:60rem}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
nav a{margin-right:.8rem}
"""

JS = """
(function(){
  var NUM=/^[-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?$/;
  function key(td){
    if(!td){return null;}
    var s=td.getAttribute('data-sort');
    if(s===null){s=td.textContent.trim();}
    if(s===''){return null;}
    return NUM.test(s)?parseFloat(s):s.toLowerCase();
  }
  function sortBy(table,col,th){
    var tbody=table.tBodies[0];
    var dir=th.getAttribute('aria-sort')==='descending'?'ascending':'descending';
    var ths=table.tHead.rows[0].cells;
    for(var i=0;i<ths.length;i++){ths[i].removeAttribute('aria-sort');}
    th.setAttribute('aria-sort',dir);
    var rows=Array.prototype.slice.call(tbody.rows);
    var sign=dir==='ascending'?1:-1;
    rows.sort(function(a,b){
      var ka=key(a.cells[col]),kb=key(b.cells[col]);
      if(ka===null&&kb===null){return 0;}
      if(ka===null){return 1;}
      if(kb===null){return -1;}
      if(typeof ka===typeof kb){return ka<kb?-sign:(ka>kb?sign:0);}
      return typeof ka==='number'?-1:1;
    });
    rows.forEach(function(r){tbody.appendChild(r);});
  }
  document.querySelectorAll('table.sortable').forEach(function(table){
    if(!table.tHead){return;}
    var ths=table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths,function(th,col){
      th.addEventListener('click',function(){sortBy(table,col,th);});
    });
  });
})();
"""


def build_report(results_dir: str | Path, profile: str, regression: Mapping[str, Any] | None = None) -> str:
    """The report as one HTML string. ``regression``: the outcome of a regression check the
    caller ran (``baseline``, ``new``, ``drifts`` as strings, ``tolerance``,
    ``trained_tolerance``, or ``error``), or ``None`` when none was run.

    Raises :class:`EmptyResults` when the profile has no result file at all."""
    results_dir = Path(results_dir)
    if not record_files(results_dir, profile):
        raise EmptyResults(f"no result records under {results_dir / profile}: nothing to report "
                           f"(check --results and --profile, or compute them: larpbench study run table2 "
                           f"--profile {profile})")
    errors: list[RecordError] = []
    records = list(iter_records(results_dir, profile, errors=errors))
    cells = [r for r in records if r.kind == "cell"]
    data = table2_data(results_dir, profile, errors=[])
    from benchmark import __version__

    n_ok = sum(1 for r in cells if r.status == "ok")
    sections = [
        ("status", "Status", f"<p>{len(records)} record(s) read: {len(cells)} cell(s) ({n_ok} ok), "
                             f"{len(records) - len(cells)} other.</p>"
                             + _missing_section(errors, results_dir, profile) + _regression_section(regression)),
        ("table2", "Table 2 — encoders × cold-start recommenders", _table2_section(data, profile)),
        ("comparisons", "Pairwise comparisons (Table 2's letters)", _comparisons_section(data)),
        ("table1", "Table 1 — dataset statistics", _text_table(render_table1, results_dir, profile, errors=[])),
        ("table3", "Table 3 — LARP ablation (ItemKNN)", _text_table(render_table3, results_dir, profile,
                                                                     errors=[])),
        ("table4", "Table 4 — cross-dataset generalisation", _text_table(render_table4, results_dir, profile,
                                                                          errors=[])),
        ("figures", "Figures", _figures_section(results_dir, profile)),
        ("cards", "Encoder cards", _cards_section(cells)),
        ("diagnostics", "Diagnostics from stored rankings", _diagnostics_section(cells)),
        ("provenance", "Provenance of each cell", _provenance_section(cells, results_dir)),
    ]
    nav = "".join(f"<a href='#{sid}'>{_e(title.split(' — ')[0])}</a>" for sid, title, _ in sections)
    body = "\n".join(f"<section id='{sid}'><h2>{_e(title)}</h2>\n{content}</section>"
                     for sid, title, content in sections)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<link rel='icon' href='data:,'>"
            f"<title>larpbench report — {_e(profile)}</title><style>{CSS}</style></head><body>"
            f"<h1>larpbench report — profile {_e(profile)}</h1>"
            f"<p class='note'>Rendered by larpbench {_e(__version__)} from the result records under "
            f"<code>{_e(results_dir / profile)}</code> only (no rerun). Self-contained: no network access."
            f"</p><nav>{nav}</nav>\n{body}\n<script>{JS}</script></body></html>\n")


def write_report(results_dir: str | Path, profile: str, path: str | Path,
                 regression: Mapping[str, Any] | None = None) -> Path:
    """:func:`build_report`, written atomically to ``path``."""
    atomic_write_text(Path(path), build_report(results_dir, profile, regression))
    return Path(path)
