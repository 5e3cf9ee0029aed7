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

#: installed with --no-deps after the project: its metadata pins numpy<1.17 and tensorflow, but
#: only its checkpoint files are used (the MusiCNN encoders, docs/encoders.md)
NO_DEPS = ("musicnn==0.1.0",)
TF_VENV = ROOT / ".venv-tf"
TF_BIN = TF_VENV / ("Scripts" if os.name == "nt" else "bin")


def _project_env(session: nox.Session) -> None:
    """Create ``.venv`` and install the project into it when pyproject.toml or the
    ``--no-deps`` step changed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + repr(NO_DEPS).encode()).hexdigest()
    if MARKER.is_file() and MARKER.read_text().strip() == digest:
        return
    if not (BIN / "python").exists():
        session.run(sys.executable, "-m", "venv", str(VENV), external=True)
    py = str(BIN / "python")
    session.run(py, "-m", "pip", "install", "--upgrade", "pip", external=True)
    # plain essentia and essentia-tensorflow write the same `essentia` package: keep only the
    # latter (reinstalled, since removing plain essentia deletes files the two share)
    probe = ("import importlib.metadata as m\ntry:\n m.version('essentia'); print('yes')\n"
             "except m.PackageNotFoundError:\n print('no')")
    out = session.run(py, "-c", probe, silent=True, external=True)
    had_plain = isinstance(out, str) and out.strip() == "yes"
    if had_plain:
        session.run(py, "-m", "pip", "uninstall", "-y", "essentia", external=True)
    session.run(py, "-m", "pip", "install", "-e", ".[dev]", external=True)
    if had_plain:
        session.run(py, "-m", "pip", "install", "--force-reinstall", "--no-deps", "essentia-tensorflow",
                    external=True)
    session.run(py, "-m", "pip", "install", "--no-deps", *NO_DEPS, external=True)
    MARKER.write_text(digest + "\n")


@nox.session
def musicnn_graphs(session: nox.Session) -> None:
    """Freeze the MusiCNN checkpoints once into the graph cache (~/.cache/larpbench/musicnn).

    TensorFlow is needed for this step only, so it goes into a separate environment,
    ``.venv-tf`` (the ``musicnn-freeze`` extra's packages and musicnn), never into ``.venv``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        session.error("musicnn_graphs reads pyproject.toml with tomllib: run nox with Python >= 3.11")

    _project_env(session)
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["musicnn-freeze"]
    if not (TF_BIN / "python").exists():
        session.run(sys.executable, "-m", "venv", str(TF_VENV), external=True)
    tf_py = str(TF_BIN / "python")
    session.run(tf_py, "-m", "pip", "install", "numpy<2", *extra, external=True)
    session.run(tf_py, "-m", "pip", "install", "--no-deps", *NO_DEPS, external=True)
    session.run(str(BIN / "python"), "-m", "encoders.musicnn_models", *session.posargs,
                env={**_env(), "LARPBENCH_TF_PYTHON": tf_py}, external=True)


def _env() -> dict[str, str]:
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return env


def _larpbench(session: nox.Session, *args: str) -> None:
    session.run(str(BIN / "larpbench"), *args, env=_env(), external=True)


def _profile(session: nox.Session, default: str = "quick") -> tuple[str, list[str]]:
    """``-- --profile NAME`` picks the profile; other posargs pass through to the command."""
    return _profile_args(list(session.posargs), default)


def _profile_args(args: list[str], default: str = "quick") -> tuple[str, list[str]]:
    args = list(args)
    profile = default
    if "--profile" in args:
        i = args.index("--profile")
        profile = args[i + 1]
        del args[i:i + 2]
    return profile, args


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


ASV_RESULTS = ROOT / "benchmarks" / "asv-results"


@nox.session
def benchmarks(session: nox.Session) -> None:
    """The asv suite (benchmarks/asv_suite, docs/throughput.md) in the existing ``.venv``, on
    the current checkout: results go to benchmarks/asv-results under this commit's hash (commit
    them so history grows), then ``asv publish`` renders HTML into benchmarks/asv-html.
    Posargs go to ``asv run`` (e.g. ``-- -b Quick`` for the quick subset)."""
    _project_env(session)
    asv = str(BIN / "asv")
    commit = session.run("git", "rev-parse", "HEAD", silent=True, external=True).strip()
    session.run(asv, "machine", "--yes", external=True)
    session.run(asv, "run", "--environment", f"existing:{BIN / 'python'}", "--set-commit-hash", commit,
                "--show-stderr", *session.posargs, env=_env(), external=True)
    session.run(asv, "publish", external=True)


@nox.session
def reproduce_throughput(session: nox.Session) -> None:
    """The throughput study: results/<profile>/throughput.md from measured records (default quick)."""
    _study(session, "throughput")


@nox.session
def grid(session: nox.Session) -> None:
    """Run a grid: ``nox -s grid -- --profile ci --encoder melstats --recommender itemknn``."""
    _project_env(session)
    _larpbench(session, "grid", *session.posargs)


def _study(session: nox.Session, name: str) -> None:
    """``larpbench study run NAME`` (its cells, then its tables/figures); the study's cells,
    datasets and outputs are declared in benchmark/studies/, not here. Unless ``--jobs`` is
    given, ``--jobs <CPUs>``: each evaluated dataset is one worker's task, so a study over two
    datasets runs them side by side, each on half of the CPUs."""
    _project_env(session)
    profile, rest = _profile(session)
    if not any(a == "--jobs" or a.startswith("--jobs=") for a in rest):
        rest = ["--jobs", str(len(os.sched_getaffinity(0))), *rest]
    _larpbench(session, "study", "run", name, "--profile", profile, *rest)


@nox.session
def study(session: nox.Session) -> None:
    """Any declared study: ``nox -s study -- NAME [--profile P] [--results DIR]`` (``larpbench study list``)."""
    if not session.posargs:
        session.error("give a study name: nox -s study -- table2 (larpbench study list shows them)")
    name, *rest = session.posargs
    _project_env(session)
    profile, rest = _profile_args(rest)
    _larpbench(session, "study", "run", name, "--profile", profile, *rest)


@nox.session
def reproduce_artist_gnn(session: nox.Session) -> None:
    """The artist-relationship task (GNNs on the artist graph; docs/artist-gnn.md): its
    records, figure, table and agreement with Table 2, for a profile (default quick)."""
    _study(session, "artist-gnn")


@nox.session
def reproduce_table1(session: nox.Session) -> None:
    """Table 1 (dataset statistics, homogeneity) for a profile (default quick)."""
    _study(session, "table1")


@nox.session
def reproduce_table2(session: nox.Session) -> None:
    """Table 2 (encoders × recommenders × datasets) for a profile (default quick)."""
    _study(session, "table2")


@nox.session
def reproduce_table2_folk21(session: nox.Session) -> None:
    """Table 2 on folk21 (builds folk21, trains every encoder on it; not in reproduce_table2's budget)."""
    _study(session, "table2-folk21")


@nox.session
def regression(session: nox.Session) -> None:
    """Rerun the ci grid into a scratch folder and compare it with the committed results/ci."""
    _project_env(session)
    scratch = ROOT / ".cache" / "regression-results"
    _larpbench(session, "grid", "--profile", "ci", "--results", str(scratch), "--fail-fast")
    _larpbench(session, "stats", "--profile", "ci", "--results", str(scratch))
    _larpbench(session, "compare", "results", str(scratch), "--profile", "ci")




@nox.session
def larp_paper_gpu(session: nox.Session) -> None:
    """LARP's ``paper`` configuration on a CUDA GPU (docs/larp.md, "The paper configuration on
    a GPU"): ``nox -s larp_paper_gpu -- [DATASET] [--nproc N] [larpbench train options]`` runs
    the ``gpu`` tests, then ``larpbench train larp --profile paper`` (default synth-mpd).
    Stops with a message, before anything heavy, when torch sees no CUDA GPU."""
    import subprocess

    _project_env(session)
    probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)"
    if subprocess.run([str(BIN / "python"), "-c", probe], env={**os.environ, **_env()}, check=False).returncode:
        session.error("larp_paper_gpu needs a CUDA GPU: torch.cuda.is_available() is False in .venv. "
                      "The paper config's CPU checks (parameter count, memory estimate) run in "
                      "nox -s tests -- tests/test_larp_paper.py")
    args = list(session.posargs)
    dataset = args.pop(0) if args and not args[0].startswith("-") else "synth-mpd"
    session.run(str(BIN / "pytest"), "-m", "gpu", "tests", env=_env(), external=True)
    _larpbench(session, "train", "larp", "--dataset", dataset, "--profile", "paper", *args)


@nox.session
def report(session: nox.Session) -> None:
    """The HTML report of a profile's results (records only, no rerun):
    ``nox -s report -- [--profile P] [--results DIR] [--out FILE] [--compare-with DIR]`` (default
    quick) writes ``results/<profile>/report.html``; see docs/report.md."""
    _project_env(session)
    profile, rest = _profile(session)
    _larpbench(session, "report", "--profile", profile, *rest)


@nox.session
def reproduce_table3(session: nox.Session) -> None:
    """Table 3 (LARP ablation with ItemKNN) for a profile (default quick)."""
    _study(session, "table3")


@nox.session
def reproduce_figures(session: nox.Session) -> None:
    """Figure 4 (n_seed sweep) and Figure 5 (LARP validation curves) as PNG."""
    _study(session, "figures")


@nox.session
def reproduce_table4(session: nox.Session) -> None:
    """Table 4: encoders trained on one dataset, tested on another, beside in-domain training."""
    _study(session, "table4")
