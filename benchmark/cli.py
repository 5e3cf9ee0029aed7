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


def _print_table(rows: list[list[Any]], headers: list[str]) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=headers, tablefmt="simple"))


# ------------------------------------------------------------------------------- data
def cmd_data_list(args: argparse.Namespace) -> int:
    from benchmark.core.dataset import is_dataset_dir
    from benchmark.data import catalog

    rows = []
    for name, spec in sorted(catalog.specs().items()):
        built = [s for s in spec.sizes if is_dataset_dir(catalog.dataset_path(name, s))]
        rows.append([name, ", ".join(spec.sizes), ", ".join(built) or "-", spec.paper_column or "-",
                     spec.description])
    _print_table(rows, ["dataset", "sizes", "built", "paper column", "description"])
    print(f"\ndata root: {catalog.data_root()} (set LARPBENCH_DATA to change)")
    return 0


def cmd_data_build(args: argparse.Namespace) -> int:
    from benchmark.data import catalog

    ds = catalog.build(args.name, args.size, seed=args.seed, force=args.force, progress=not args.quiet)
    print(json.dumps(ds.summary(), indent=1))
    return 0


def _open_dataset(ref: str, size: str):
    from benchmark.core.dataset import Dataset, is_dataset_dir
    from benchmark.data import catalog

    if is_dataset_dir(ref):
        return Dataset(ref)
    return Dataset(catalog.dataset_path(ref, size))


def cmd_data_info(args: argparse.Namespace) -> int:
    from benchmark.harness.datastats import dataset_stats

    ds = _open_dataset(args.dataset, args.size)
    info = {"summary": ds.summary(), "manifest": ds.manifest, "stats": dataset_stats(ds)}
    print(json.dumps(info, indent=1, default=str))
    return 0


def cmd_data_validate(args: argparse.Namespace) -> int:
    from benchmark.core.dataset import is_dataset_dir
    from benchmark.core.validate import validate
    from benchmark.data import catalog

    ref = args.dataset
    root = ref if is_dataset_dir(ref) else catalog.dataset_path(ref, args.size)
    ds = validate(root, checksums=not args.no_checksums)
    print(f"ok: {ds!r} (content hash {ds.content_hash[:12]})")
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
    return 1 if outcome["failed"] else 0


def cmd_stats(args: argparse.Namespace) -> int:
    from benchmark.harness.datastats import write_dataset_stats
    from benchmark.harness.embeddings import EmbeddingStore
    from benchmark.harness.grid import GridConfig, GridRunner, make_encoder

    runner = GridRunner(GridConfig(profile=args.profile, datasets=args.dataset or (),
                                   encoders=[args.encoder], recommenders=["itemknn"],
                                   progress=not args.quiet))
    for d in runner.cfg.datasets:
        ds = runner.dataset(d)
        enc = make_encoder(args.encoder, args.profile, 0)
        path = write_dataset_stats(ds, args.profile, d, Path(args.results), EmbeddingStore(enc, ds, 0))
        print(f"wrote {path}")
    return 0


def cmd_data_import(args: argparse.Namespace) -> int:
    from benchmark.data import importers  # noqa: F401  (fail early if the package is missing)

    if args.source == "mpd":
        from benchmark.data.importers.mpd import import_mpd

        ds = import_mpd(args.inputs[0], args.audio, args.out, train_size=args.train_size,
                        valid_size=args.valid_size, test_size=args.test_size, seed=args.seed,
                        overwrite=args.overwrite)
    elif args.source == "lastfm":
        from benchmark.data.importers.lastfm import import_lastfm

        if len(args.inputs) != 2:
            raise SystemExit("data import lastfm: give EVENTS_TSV TRACKS_TSV")
        ds = import_lastfm(args.inputs[0], args.inputs[1], args.audio, args.out, overwrite=args.overwrite)
    else:
        from benchmark.data.importers.larp_release import import_larp_release

        ds = import_larp_release(args.inputs[0], args.audio, args.out, trust_pickle=args.trust_pickle,
                                 overwrite=args.overwrite)
    print(json.dumps(ds.summary(), indent=1))
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    from benchmark.core.cache import cache_root
    from benchmark.harness import sweeps
    from benchmark.reports import larp as larp_reports

    out = Path(args.results) / args.profile
    if not args.skip_sweep:
        for d in args.dataset or ["synth-mpd"]:
            sweeps.figure4_sweep(d, args.profile, results_dir=args.results, progress=not args.quiet)
    print(f"wrote {larp_reports.figure4(args.results, out / 'figure4.png')}")
    from encoders import REGISTRY

    model_config = REGISTRY.get("larp").profile_configs[args.profile]["model_config"]
    logs = sweeps.collect_logs(cache_root() / "shared" / "larp", out / "larp_logs", model_config)
    if not logs:
        raise FileNotFoundError(f"no LARP stage logs for profile {args.profile} (model config {model_config}) in "
                                f"{cache_root() / 'shared' / 'larp'} or {out / 'larp_logs'}: train LARP first "
                                f"(nox -s reproduce_table3 -- --profile {args.profile})")
    print(f"wrote {larp_reports.figure5(out / 'larp_logs', out / 'figure5.png')}")
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


def cmd_table(args: argparse.Namespace) -> int:
    from benchmark.reports import tables

    results = Path(args.results)
    if args.number == "3":
        from benchmark.reports.larp import render_table3

        text = render_table3(results, args.profile, with_ci=not args.no_ci)
    elif args.number == "1":
        text = tables.render_table1(results, args.profile)
    elif args.number == "2":
        text = tables.render_table2(results, args.profile, with_ci=not args.no_ci)
    elif args.number == "4":
        text = tables.render_table4(results, args.profile)
    else:
        raise SystemExit(f"table {args.number}: not available yet")
    print(text)
    if args.out:
        from benchmark.core.atomic import atomic_write_text

        atomic_write_text(Path(args.out), text + "\n")
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
    x = dsub.add_parser("list", help="datasets the catalog can build, and which are built")
    x.set_defaults(func=cmd_data_list)
    x = dsub.add_parser("build", help="build a dataset (generated presets, folk21)")
    x.add_argument("name")
    x.add_argument("--size", default="quick")
    x.add_argument("--seed", type=int, default=None)
    x.add_argument("--force", action="store_true", help="rebuild even if it exists")
    x.add_argument("--quiet", action="store_true")
    x.set_defaults(func=cmd_data_build)
    x = dsub.add_parser("import", help="import real data (MPD slices, Last.fm TSVs, LARP release)")
    x.add_argument("source", choices=["mpd", "lastfm", "larp-release"])
    x.add_argument("inputs", nargs="+", help="mpd: SLICES_DIR; lastfm: EVENTS_TSV TRACKS_TSV; "
                   "larp-release: RELEASE_DIR (with {train,valid,test}.pkl)")
    x.add_argument("--audio", required=True, help="folder of audio files named by track id/URI")
    x.add_argument("--out", required=True, help="output dataset folder")
    x.add_argument("--train-size", type=int, default=100_000)
    x.add_argument("--valid-size", type=int, default=1_000)
    x.add_argument("--test-size", type=int, default=1_000)
    x.add_argument("--seed", type=int, default=45)
    x.add_argument("--trust-pickle", action="store_true",
                   help="allow reading the LARP release's pandas pickles (pickles can run code: "
                        "only for files you trust)")
    x.add_argument("--overwrite", action="store_true")
    x.set_defaults(func=cmd_data_import)
    for name, fn, help_ in (("info", cmd_data_info, "statistics and manifest of a dataset"),
                            ("validate", cmd_data_validate, "deep-check a dataset (audio, checksums)")):
        x = dsub.add_parser(name, help=help_)
        x.add_argument("dataset", help="catalog name or path to a dataset folder")
        x.add_argument("--size", default="quick")
        if name == "validate":
            x.add_argument("--no-checksums", action="store_true")
        x.set_defaults(func=fn)

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

    f = sub.add_parser("figures", help="Figures 4 (n_seed sweep) and 5 (LARP validation curves)")
    f.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    f.add_argument("--dataset", action="append", help="datasets of the n_seed sweep (default synth-mpd)")
    f.add_argument("--results", default="results")
    f.add_argument("--skip-sweep", action="store_true", help="only plot existing result/log files")
    f.add_argument("--quiet", action="store_true")
    f.set_defaults(func=cmd_figures)

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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished cells are kept and a rerun resumes", file=sys.stderr)
        return 130
    except (LookupError, ValueError, FileNotFoundError) as e:
        print(f"larpbench: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
