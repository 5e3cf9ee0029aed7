"""The ``larpbench`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from benchmark.core.runtime import hub_offline

# No hub at run time: model loaders must use packaged or local files.
hub_offline()


def _parse_overrides(items: list[str] | None, flag: str) -> dict[str, dict[str, Any]]:
    """``NAME.key=value`` (value parsed as JSON when it is JSON) → {NAME: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        target, sep, value = item.partition("=")
        name, dot, key = target.partition(".")
        if not sep or not dot or not name or not key:
            raise SystemExit(f"{flag}: expected NAME.key=value, got {item!r}")
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(name, {})[key] = parsed
    return out


def _positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, not {value}")
    return value


def _print_table(rows: list[list[Any]], headers: list[str]) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=headers, tablefmt="simple"))


# ------------------------------------------------------------------------------- data
def cmd_data_list(args: argparse.Namespace) -> int:
    from benchmark.core.dataset import is_dataset_dir
    from benchmark.data import catalog

    if args.json:
        print(json.dumps({n: {"kind": c.kind, **c.meta.to_dict()} for n, c in catalog.REGISTRY}, indent=1))
        return 0
    rows = []
    for name, cls in catalog.builders().items():
        m = cls.meta
        built = [s for s in m.sizes if is_dataset_dir(catalog.dataset_path(name, s))]
        variants = sorted(p.name for p in catalog.data_root().glob(f"{name}[[]*]-*") if is_dataset_dir(p))
        if variants:
            built.append(f"variants: {', '.join(variants)}")
        rows.append([name, ", ".join(m.sizes), ", ".join(built) or "-", m.paper_column or "-", m.description])
    _print_table(rows, ["dataset", "sizes", "built", "paper column", "description"])
    print(f"\ndata root: {catalog.data_root()} (set LARPBENCH_DATA to change); "
          "larpbench data build NAME --size SIZE\n")
    rows = [[name, cls.meta.inputs, cls.meta.description] for name, cls in catalog.importers().items()]
    _print_table(rows, ["importer", "inputs", "description"])
    print("\nlarpbench data import NAME INPUTS --audio DIR --out DIR (NAME --help: its options); "
          "then use DIR as the dataset")
    return 0


def cmd_data_build(args: argparse.Namespace) -> int:
    from benchmark.data import catalog

    ds = catalog.build(args.name, args.size, seed=args.seed, force=args.force, progress=not args.quiet)
    print(json.dumps(ds.summary(), indent=1))
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    from benchmark.data import resolve
    from benchmark.harness.datastats import dataset_stats

    ds = resolve(args.dataset, args.size, build_missing=False)
    info = {"summary": ds.summary(), "manifest": ds.manifest, "stats": dataset_stats(ds)}
    print(json.dumps(info, indent=1, default=str))
    return 0


def cmd_data_validate(args: argparse.Namespace) -> int:
    from benchmark.core.dataset import is_dataset_dir
    from benchmark.core.validate import validate
    from benchmark.data import locate

    root = locate(args.dataset, args.size)
    if not is_dataset_dir(root):
        raise FileNotFoundError(f"dataset {args.dataset!r} at size {args.size!r} is not built ({root}): "
                                f"larpbench data build {args.dataset} --size {args.size}")
    ds = validate(root, checksums=not args.no_checksums, deep=args.deep)
    print(f"ok: {ds!r} (content hash {ds.content_hash[:12]}{', every audio file decoded' if args.deep else ''})")
    return 0


def cmd_data_probe(args: argparse.Namespace) -> int:
    """Genre identifiability: caption TF-IDF vs melstats, nearest-centroid (benchmark.harness.probe)."""
    from benchmark.core.atomic import atomic_write_text
    from benchmark.core.profiles import PROFILES
    from benchmark.data import resolve
    from benchmark.harness.probe import format_probe, genre_probe

    ds = resolve(args.dataset, args.size, build_missing=False)
    profile = args.profile or (args.size if args.size in PROFILES else "ci")
    result = genre_probe(ds, profile=profile, seed=args.seed, progress=not args.quiet)
    print(format_probe(result))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(result, indent=1) + "\n")
        print(f"(written to {args.json})")
    return 0


def cmd_data_import(args: argparse.Namespace) -> int:
    from benchmark.data import catalog

    importer = catalog.get_importer(args.source)()  # unknown names: close-name suggestions
    ds = importer.import_argv(args.importer_args)
    print(json.dumps(ds.summary(), indent=1))
    return 0


# ------------------------------------------------------------------------------- registries
def cmd_encoders(args: argparse.Namespace) -> int:
    from encoders import REGISTRY

    if args.json:
        print(json.dumps({n: c.meta.to_dict() for n, c in REGISTRY}, indent=1))
        return 0
    rows = []
    for name, cls in REGISTRY:
        m = cls.meta
        rows.append([name, m.version, m.dim or "cfg", "+".join(m.modalities), m.trains_on,
                     m.paper_row or "-", m.weights])
    _print_table(rows, ["encoder", "version", "dim", "modalities", "trains on", "paper row", "weights"])
    return 0


def cmd_recommenders(args: argparse.Namespace) -> int:
    from recommenders import REGISTRY

    if args.json:
        print(json.dumps({n: c.meta.to_dict() for n, c in REGISTRY}, indent=1))
        return 0
    rows = [[n, c.meta.version, "yes" if c.meta.trains else "no", c.meta.paper_row or "-",
             c.meta.description] for n, c in REGISTRY]
    _print_table(rows, ["recommender", "version", "trains", "paper row", "description"])
    return 0


# ------------------------------------------------------------------------------- grid
def cmd_grid(args: argparse.Namespace) -> int:
    from benchmark.harness.grid import GridConfig, GridRunner

    cfg = GridConfig(
        profile=args.profile, datasets=args.dataset or (), encoders=args.encoder or (),
        recommenders=args.recommender or (), seeds=args.seed or (),
        results_dir=Path(args.results), selection_split=args.selection_split,
        encoder_overrides=_parse_overrides(args.encoder_config, "--encoder-config"),
        recommender_overrides=_parse_overrides(args.recommender_config, "--recommender-config"),
        encoder_train_dataset=args.train_dataset,
        progress=not args.quiet, fail_fast=args.fail_fast,
    )
    runner = GridRunner(cfg)
    r = runner.cfg
    print(f"grid [{r.profile}]: datasets {list(r.datasets)} × encoders {list(r.encoders)} × "
          f"recommenders {list(r.recommenders)} × seeds {list(r.seeds)} = {len(runner.cells())} cells")
    outcome = runner.run()
    print("  ".join(f"{k}: {len(v)}" for k, v in outcome.items()))
    return _report_unavailable(outcome, runner, named=set(args.encoder or ())) or (1 if outcome["failed"] else 0)


def _report_unavailable(outcome: dict, runner: Any, named: set[str]) -> int:
    """Print why cells were unavailable; an encoder the user named that cannot run is an
    error (exit 1), one that came with the profile's default list is a note."""
    from benchmark.core.results import read_record

    reasons: dict[str, str] = {}
    for cell in outcome.get("unavailable", []):
        reasons.setdefault(cell.encoder, read_record(cell.path(runner.cfg.results_dir)).get("reason", "?"))
    for enc, reason in sorted(reasons.items()):
        print(f"{'error' if enc in named else 'note'}: {enc} unavailable: {reason}", file=sys.stderr)
    return 1 if named & set(reasons) else 0


def cmd_stats(args: argparse.Namespace) -> int:
    from benchmark.core.profiles import get_profile
    from benchmark.harness.studies import write_stats

    datasets = args.dataset or list(get_profile(args.profile).datasets)
    for path in write_stats(args.profile, datasets, Path(args.results), encoder=args.encoder,
                            progress=not args.quiet):
        print(f"wrote {path}")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """Alias: ``larpbench study run figures`` (``--skip-sweep``: ``study render figures``)."""
    args.name = "figures"
    args.encoder = None
    args.fail_fast = False
    return cmd_study_render(args) if args.skip_sweep else cmd_study_run(args)


def cmd_study_list(args: argparse.Namespace) -> int:
    from benchmark import studies

    rows = []
    for name, st in studies.studies().items():
        n_blocks = len(st.blocks) + (1 if st.stats_datasets else 0)
        rows.append([name, st.title, n_blocks, ", ".join(o.file for o in st.outputs)])
    if args.json:
        import dataclasses

        print(json.dumps({n: dataclasses.asdict(s) for n, s in studies.studies().items()}, indent=1))
    else:
        _print_table(rows, ["study", "title", "blocks", "outputs"])
    return 0


def cmd_study_run(args: argparse.Namespace) -> int:
    from benchmark import studies
    from benchmark.harness.studies import run_study

    study = studies.get(args.name)
    outcome = run_study(study, args.profile, Path(args.results), datasets=args.dataset, encoders=args.encoder,
                        progress=not args.quiet, fail_fast=args.fail_fast, jobs=getattr(args, "jobs", 1))
    print(f"{study.name}: " + ", ".join(f"{len(v)} {k}" for k, v in outcome.items()) + " cell(s)")
    cmd_study_render(args)
    return 1 if outcome["failed"] else 0


def cmd_study_render(args: argparse.Namespace) -> int:
    from benchmark import studies
    from benchmark.reports.studies import render_study

    results = Path(args.results)
    _require_records(results, args.profile)
    if args.name != "all":
        chosen = [studies.get(args.name)]
    else:  # every study whose outputs are already there, each file once (the first study declaring it)
        chosen, claimed = [], set()
        for study in studies.studies().values():
            files = {o.file for o in study.outputs}
            if files - claimed and any((results / args.profile / f).exists() for f in files):
                chosen.append(study)
            claimed |= files
    for study in chosen:
        for path, text in render_study(study, args.profile, results):
            print(text if path.suffix == ".md" else f"{text}")
            if path.suffix == ".md":
                print(f"(written to {path})")
    report = results / args.profile / "report.html"
    if args.name == "all" and report.exists():
        from benchmark.reports.html import write_report

        write_report(results, args.profile, report)
        print(f"wrote {report}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from benchmark.harness import train

    if args.nproc > 1 and not train.under_torchrun():
        argv = [a for a in (args.argv or []) if a]
        return train.relaunch(args.nproc, argv)
    overrides = _parse_overrides([f"{args.encoder}.{kv}" for kv in args.set or []], "--set").get(args.encoder, {})
    report = train.train_encoder(args.encoder, args.dataset, profile=args.profile, seed=args.seed,
                                 overrides=overrides, selection_split=args.selection_split,
                                 progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(report, indent=1, default=str))
    return 0


def _require_records(results: Path, profile: str) -> None:
    from benchmark.core.results import record_files

    if not record_files(results, profile):
        raise FileNotFoundError(f"no result records under {results / profile}: check --results and --profile, "
                                f"or compute them first (larpbench study run ... --profile {profile})")


def cmd_table(args: argparse.Namespace) -> int:
    """Alias: the text output of the study ``table<N>`` (``--out`` writes it elsewhere)."""
    from benchmark import studies
    from benchmark.reports.studies import renderer

    _require_records(Path(args.results), args.profile)
    (output,) = [o for o in studies.get(f"table{args.number}").outputs if o.file.endswith(".md")]
    print(renderer(output)(Path(args.results), args.profile, args.out, with_ci=not args.no_ci))
    return 0


def cmd_results_migrate(args: argparse.Namespace) -> int:
    from benchmark.core.results import migrate_files

    moved = migrate_files(Path(args.results))
    for old, new in moved:
        print(f"{old} -> {new}")
    print(f"{len(moved)} record file(s) moved to their current place; every other record is read as it is")
    return 0


def cmd_results_stale(args: argparse.Namespace) -> int:
    from benchmark.harness.stale import move_records, stale_records

    found = stale_records(Path(args.results), args.profile)
    for s in found:
        print(f"STALE {s.path}: {s.reason}")
    if args.move_to and found:
        for old, new in move_records(found, Path(args.results), Path(args.move_to)):
            print(f"moved {old} -> {new}")
    print(f"{len(found)} stale record(s) under {Path(args.results) / args.profile}"
          + ("" if args.move_to or not found else "; --move-to DIR moves them out of the results folder"))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from benchmark.harness.regression import compare

    drifts = compare(Path(args.baseline), Path(args.new), profile=args.profile, tolerance=args.tolerance,
                     trained_tolerance=args.trained_tolerance)
    for d in drifts:
        print(f"DRIFT {d}")
    print(f"{len(drifts)} drift(s) beyond tolerance {args.tolerance} "
          f"({args.trained_tolerance} for gradient-trained cells)")
    return 1 if drifts else 0


def cmd_report(args: argparse.Namespace) -> int:
    """One self-contained HTML file from the records of a profile; with ``--compare-with`` the
    regression check (harness) runs here, in the CLI layer, and its outcome goes in as data."""
    from benchmark.reports.html import write_report

    results = Path(args.results)
    _require_records(results, args.profile)
    regression = None
    if args.compare_with:
        from benchmark.harness.regression import DEFAULT_TOLERANCE, TRAINED_TOLERANCE, compare

        regression = {"baseline": str(results / args.profile), "new": str(Path(args.compare_with) / args.profile),
                      "tolerance": DEFAULT_TOLERANCE, "trained_tolerance": TRAINED_TOLERANCE}
        try:
            regression["drifts"] = [str(d) for d in compare(results, Path(args.compare_with), profile=args.profile)]
        except (FileNotFoundError, ValueError, OSError) as e:
            regression["error"] = str(e)
    out = Path(args.out) if args.out else results / args.profile / "report.html"
    write_report(results, args.profile, out, regression=regression)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    if regression is not None:
        status = regression.get("error") or f"{len(regression['drifts'])} drift(s)"
        print(f"regression check: {status}")
    return 0


# ------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from benchmark import __version__
    from benchmark.core.profiles import PROFILES
    from benchmark.harness.regression import DEFAULT_TOLERANCE, TRAINED_TOLERANCE

    p = argparse.ArgumentParser(
        prog="larpbench",
        description="Cold-start playlist continuation benchmark for music encoders (LARP, KDD "
                    "2024): build datasets, run encoder × recommender grids, render the paper's "
                    "tables from result files, and check results for drift.")
    p.add_argument("--version", action="version", version=f"larpbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("data", help="build, inspect and validate datasets")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    x = dsub.add_parser("list", help="datasets the catalog can build (and which are built), and importers")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=cmd_data_list)
    x = dsub.add_parser("build", help="build a dataset by name (generated worlds, folk21)",
                        description="NAME is a catalog name or a variant reference with generator overrides, "
                                    "e.g. 'synth-mpd[caption_vocab=0.25,seed=1]' (quote it: '[' is a shell glob "
                                    "character); a variant is built into <data root>/<reference>-<size>. "
                                    "See docs/datasets-synth.md, 'Dataset variants'.")
    x.add_argument("name", help="catalog name, or NAME[key=value,...] (a variant)")
    x.add_argument("--size", default="quick")
    x.add_argument("--seed", type=int, default=None,
                   help="world seed; one other than the default is the same as NAME[seed=N]")
    x.add_argument("--force", action="store_true", help="rebuild even if it exists")
    x.add_argument("--quiet", action="store_true")
    x.set_defaults(func=cmd_data_build)
    x = dsub.add_parser(
        "import", help="import real data with an importer (MPD slices, Last.fm TSVs, LARP release)",
        usage="%(prog)s SOURCE INPUT... --audio DIR --out DIR [options]",
        description="Convert your files into a dataset folder with the importer SOURCE (the importers "
                    "are listed by `larpbench data list`; `larpbench data import SOURCE --help` shows "
                    "its inputs and options). Use the folder it writes as the dataset.")
    x.add_argument("source", metavar="SOURCE", help="an importer: mpd, lastfm, larp-release or a plugin's")
    x.add_argument("importer_args", nargs=argparse.REMAINDER, metavar="...",
                   help="the importer's inputs and options")
    x.set_defaults(func=cmd_data_import)
    for name, fn, help_ in (("info", cmd_data_info, "statistics and manifest of a dataset"),
                            ("validate", cmd_data_validate, "deep-check a dataset (audio, checksums)")):
        x = dsub.add_parser(name, help=help_)
        x.add_argument("dataset", help="catalog name or path to a dataset folder")
        x.add_argument("--size", default="quick")
        if name == "validate":
            x.add_argument("--no-checksums", action="store_true")
            x.add_argument("--deep", action="store_true",
                           help="decode every audio file completely (finds truncated files; reads all audio)")
        x.set_defaults(func=fn)

    x = dsub.add_parser("probe", help="genre identifiability: nearest-centroid genre accuracy of caption-tfidf "
                                      "and melstats (train → test), beside majority class and chance")
    x.add_argument("dataset", help="catalog name or path to a dataset folder (with a genre column)")
    x.add_argument("--size", default="quick")
    x.add_argument("--profile", choices=sorted(PROFILES),
                   help="encoder configs (default: the profile named like --size, else ci)")
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    x.add_argument("--quiet", action="store_true")
    x.set_defaults(func=cmd_data_probe)

    for name, fn in (("encoders", cmd_encoders), ("recommenders", cmd_recommenders)):
        x = sub.add_parser(name, help=f"list registered {name}")
        x.add_argument("--json", action="store_true")
        x.set_defaults(func=fn)

    g = sub.add_parser("grid", help="run dataset × encoder × recommender × seed cells")
    g.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    g.add_argument("--dataset", action="append", help="repeatable; default: the profile's datasets")
    g.add_argument("--encoder", action="append", help="repeatable; default: every encoder of the profile")
    g.add_argument("--recommender", action="append", help="repeatable; default: every recommender")
    g.add_argument("--seed", action="append", type=int, help="repeatable; default: the profile's seeds")
    g.add_argument("--results", default="results", help="results folder (default: results)")
    g.add_argument("--selection-split", default="valid", choices=["valid", "test"],
                   help="split used for epoch selection; 'test' reproduces the official code")
    g.add_argument("--encoder-config", action="append", metavar="NAME.key=value")
    g.add_argument("--recommender-config", action="append", metavar="NAME.key=value")
    g.add_argument("--train-dataset", help="train encoders on this dataset, evaluate on --dataset "
                   "(cross-dataset generalisation, Table 4)")
    g.add_argument("--fail-fast", action="store_true")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=cmd_grid)

    x = sub.add_parser("train", help="train one encoder into the cache (--nproc N: DDP under torchrun)")
    x.add_argument("encoder", help="a trainable encoder, e.g. larp, larp-wtc, clap-ft")
    x.add_argument("--dataset", required=True, help="catalog name or dataset folder")
    x.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--set", action="append", metavar="key=value", help="override a config option (JSON value)")
    x.add_argument("--selection-split", default="valid", choices=["valid", "test"])
    x.add_argument("--nproc", type=int, default=1, help="processes (DDP via torch.distributed.run)")
    x.add_argument("--quiet", action="store_true")
    x.set_defaults(func=cmd_train)

    s = sub.add_parser("stats", help="compute Table 1 dataset statistics (homogeneity) into results")
    s.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    s.add_argument("--dataset", action="append")
    s.add_argument("--encoder", default="melstats", help="audio encoder for homogeneity")
    s.add_argument("--results", default="results")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_stats)

    t = sub.add_parser("table", help="render a table from result files")
    t.add_argument("number", choices=["1", "2", "3", "4"])
    t.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    t.add_argument("--results", default="results")
    t.add_argument("--out", help="also write the table to this file")
    t.add_argument("--no-ci", action="store_true", help="omit confidence intervals")
    t.set_defaults(func=cmd_table)

    st = sub.add_parser("study", help="the paper's tables and figures as declared studies: list, run, render")
    stsub = st.add_subparsers(dest="study_command", required=True, metavar="ACTION")
    x = stsub.add_parser("list", help="declared studies")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=cmd_study_list)
    x = stsub.add_parser("run", help="compute a study's cells (finished ones are reused), then render it")
    x.add_argument("name")
    x.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    x.add_argument("--results", default="results")
    x.add_argument("--dataset", action="append", help="only these datasets (repeatable)")
    x.add_argument("--encoder", action="append", help="only these encoders (repeatable)")
    x.add_argument("--fail-fast", action="store_true")
    x.add_argument("--quiet", action="store_true")
    x.add_argument("--jobs", type=_positive_int, default=1,
                   help="worker processes, one evaluated dataset each, every one pinned to its share of "
                        "the CPUs (default 1: one process, every CPU); the artist task trains its "
                        "single-threaded GNN runs in this many processes")
    x.set_defaults(func=cmd_study_run)
    x = stsub.add_parser("render", help="render a study's outputs from result records only ('all': every "
                         "study with outputs in the profile's folder, then its report.html — run it before "
                         "committing records)")
    x.add_argument("name")
    x.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    x.add_argument("--results", default="results")
    x.set_defaults(func=cmd_study_render)

    f = sub.add_parser("figures", help="Figures 4 (n_seed sweep) and 5 (LARP validation curves): "
                       "alias of 'study run figures'")
    f.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    f.add_argument("--dataset", action="append", help="only these of the study's datasets (it declares synth-mpd)")
    f.add_argument("--results", default="results")
    f.add_argument("--skip-sweep", action="store_true", help="only plot existing result/log files")
    f.add_argument("--quiet", action="store_true")
    f.set_defaults(func=cmd_figures)

    x = sub.add_parser("results", help="maintain result folders")
    xsub = x.add_subparsers(dest="results_command", required=True, metavar="ACTION")
    y = xsub.add_parser("migrate", help="move records of older schema versions to their current place "
                        "(Figure 4 results → grid cells, LARP stage logs → training records)")
    y.add_argument("--results", default="results")
    y.set_defaults(func=cmd_results_migrate)
    y = xsub.add_parser("stale", help="list (and with --move-to move out) records made on another build of "
                        "their dataset than the current one, e.g. after the generator changed")
    y.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    y.add_argument("--results", default="results")
    y.add_argument("--move-to", metavar="DIR", help="move the stale records here (outside --results); "
                   "nothing is deleted")
    y.set_defaults(func=cmd_results_stale)

    r = sub.add_parser("report", help="one self-contained HTML report of a profile's results (tables, "
                       "comparisons, cards, diagnostics, provenance)")
    r.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    r.add_argument("--results", default="results", help="results folder (default: results)")
    r.add_argument("--out", help="the HTML file (default: <results>/<profile>/report.html)")
    r.add_argument("--compare-with", metavar="DIR",
                   help="also run the regression check: --results (baseline) against the results in DIR")
    r.set_defaults(func=cmd_report)

    c = sub.add_parser("compare", help="compare result files against a baseline (regression check)")
    c.add_argument("baseline")
    c.add_argument("new")
    c.add_argument("--profile")
    c.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help="largest allowed absolute change of a metric (default %(default)s)")
    c.add_argument("--trained-tolerance", type=float, default=TRAINED_TOLERANCE,
                   help="the same for cells with a gradient-trained encoder or recommender, whose last "
                        "bits differ between CPUs (default %(default)s)")
    c.set_defaults(func=cmd_compare)
    return p


_INTERRUPTED = {
    "grid": "finished cells are kept and a rerun resumes",
    "study": "finished cells are kept and a rerun resumes",
    "figures": "finished cells are kept and a rerun resumes",
    "train": "finished epochs are checkpointed and a rerun resumes",
    "data": "no partial dataset is left in place; run the command again",
    "stats": "statistics written so far are kept",
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"interrupted; {_INTERRUPTED.get(args.command, 'nothing half-written is kept')}", file=sys.stderr)
        return 130
    except (LookupError, ValueError, FileNotFoundError, OSError) as e:
        print(f"larpbench: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
