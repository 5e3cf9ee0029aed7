"""nox sessions. ``nox`` alone runs lint and tests; the reproduce_* sessions are heavy.

Every session shares one project environment, ``.venv`` (created and updated on demand
from pyproject.toml), so the multi-GB torch install happens once. pip takes torch
2.14.1 / torchvision 0.29.1 from the local wheel store where the machine has one.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "none"

ROOT = Path(__file__).parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
MARKER = VENV / ".larpbench-installed"

# what the reproduce_* sessions run (Table 2 runs every encoder and recommender of the profile)
TABLE1_DATASETS = ("synth-mpd", "synth-lfm", "folk21")
TABLE3_ENCODERS = ("bert-text", "htsat-audio", "larp-wtc", "larp-ttc", "larp-tpc", "larp")
TABLE4_ENCODERS = ("larp", "mule", "clap-ft")
TABLE4_PAIRS = (("synth-mpd", "synth-lfm"), ("synth-mpd", "folk21"))


def _project_env(session: nox.Session) -> None:
    """Create ``.venv`` and install the project into it when pyproject.toml changed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if MARKER.is_file() and MARKER.read_text().strip() == digest:
        return
    if not (BIN / "python").exists():
        session.run(sys.executable, "-m", "venv", str(VENV), external=True)
    session.run(str(BIN / "python"), "-m", "pip", "install", "--upgrade", "pip", external=True)
    session.run(str(BIN / "python"), "-m", "pip", "install", "-e", ".[dev]", external=True)
    MARKER.write_text(digest + "\n")


def _env() -> dict[str, str]:
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return env


def _larpbench(session: nox.Session, *args: str) -> None:
    session.run(str(BIN / "larpbench"), *args, env=_env(), external=True)


def _profile(session: nox.Session, default: str = "quick") -> tuple[str, list[str]]:
    """``-- --profile NAME`` picks the profile; other posargs pass through to the grid."""
    args = list(session.posargs)
    profile = default
    if "--profile" in args:
        i = args.index("--profile")
        profile = args[i + 1]
        del args[i:i + 2]
    return profile, args


def _results_dir(args: list[str]) -> str:
    """The ``--results`` folder among the pass-through arguments (default ``results``)."""
    return args[args.index("--results") + 1] if "--results" in args else "results"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (everything but GPU tests); pass pytest options after ``--``."""
    _project_env(session)
    session.run(str(BIN / "pytest"), "-m", "not gpu", *session.posargs, env=_env(), external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, and the layer contracts of pyproject.toml (import-linter)."""
    _project_env(session)
    session.run(str(BIN / "ruff"), "check", ".", external=True)
    session.run(str(BIN / "lint-imports"), external=True)


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Throughput benchmarks (pytest-benchmark): scoring speed, encoder clips/s."""
    _project_env(session)
    session.run(str(BIN / "pytest"), "benchmarks", "--benchmark-enable", "-p", "no:cacheprovider",
                *session.posargs, env=_env(), external=True)


@nox.session
def grid(session: nox.Session) -> None:
    """Run a grid: ``nox -s grid -- --profile ci --encoder melstats --recommender itemknn``."""
    _project_env(session)
    _larpbench(session, "grid", *session.posargs)


@nox.session
def reproduce_table1(session: nox.Session) -> None:
    """Table 1 (dataset statistics, homogeneity) for a profile (default quick)."""
    _project_env(session)
    profile, rest = _profile(session)
    datasets = [] if "--dataset" in rest else [a for d in TABLE1_DATASETS for a in ("--dataset", d)]
    _larpbench(session, "stats", "--profile", profile, *datasets, *rest)
    _larpbench(session, "table", "1", "--profile", profile, "--results", _results_dir(rest),
               "--out", f"{_results_dir(rest)}/{profile}/table1.md")


@nox.session
def reproduce_table2(session: nox.Session) -> None:
    """Table 2 (encoders × recommenders × datasets) for a profile (default quick)."""
    _project_env(session)
    profile, rest = _profile(session)
    _larpbench(session, "grid", "--profile", profile, *rest)
    _larpbench(session, "table", "2", "--profile", profile, "--results", _results_dir(rest),
               "--out", f"{_results_dir(rest)}/{profile}/table2.md")


@nox.session
def regression(session: nox.Session) -> None:
    """Rerun the ci grid into a scratch folder and compare it with the committed results/ci."""
    _project_env(session)
    scratch = ROOT / ".cache" / "regression-results"
    _larpbench(session, "grid", "--profile", "ci", "--results", str(scratch), "--fail-fast")
    _larpbench(session, "compare", "results", str(scratch), "--profile", "ci")




@nox.session
def reproduce_table3(session: nox.Session) -> None:
    """Table 3 (LARP ablation with ItemKNN) for a profile (default quick)."""
    _project_env(session)
    profile, rest = _profile(session)
    encs = [a for e in TABLE3_ENCODERS for a in ("--encoder", e)]
    _larpbench(session, "grid", "--profile", profile, "--recommender", "itemknn", *encs, *rest)
    _larpbench(session, "table", "3", "--profile", profile, "--results", _results_dir(rest),
               "--out", f"{_results_dir(rest)}/{profile}/table3.md")


@nox.session
def reproduce_figures(session: nox.Session) -> None:
    """Figure 4 (n_seed sweep) and Figure 5 (LARP validation curves) as PNG."""
    _project_env(session)
    profile, rest = _profile(session)
    _larpbench(session, "figures", "--profile", profile, *rest)


@nox.session
def reproduce_table4(session: nox.Session) -> None:
    """Table 4: encoders trained on one dataset, tested on another, beside in-domain training."""
    _project_env(session)
    profile, rest = _profile(session)
    encs = [a for e in TABLE4_ENCODERS for a in ("--encoder", e)]
    for source, target in TABLE4_PAIRS:
        common = ["--profile", profile, "--dataset", target, "--recommender", "itemknn", *encs, *rest]
        _larpbench(session, "grid", *common)
        _larpbench(session, "grid", *common, "--train-dataset", source)
    # folk21's two caption variants (the album names the collection, which keys playlists)
    _larpbench(session, "grid", "--profile", profile, "--dataset", "folk21", "--dataset", "folk21-noalbum",
               "--encoder", "bert-text", "--recommender", "itemknn", *rest)
    _larpbench(session, "table", "4", "--profile", profile, "--results", _results_dir(rest),
               "--out", f"{_results_dir(rest)}/{profile}/table4.md")
