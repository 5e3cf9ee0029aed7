"""The fault-injection suite: one generated ``ci`` dataset is built once per session and
each case derives a faulty copy of it (tables copied, audio hard-linked, so the pristine
build is never touched). Run alone with ``pytest -m faults``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def pristine(_isolated_dirs):
    """synth-mpd at ci size, built once."""
    from benchmark.data import catalog

    return catalog.resolve("synth-mpd", "ci", progress=False)


@pytest.fixture
def copy_of(pristine, tmp_path):
    """``copy_of()`` → a private copy of the pristine dataset (audio hard-linked)."""

    def make(name: str = "ds") -> Path:
        dest = tmp_path / name
        shutil.copytree(pristine.root, dest, copy_function=os.link)
        for table in ("tracks.csv", "playlists.csv", "checksums.csv", "manifest.json"):
            (dest / table).unlink()
            shutil.copy2(pristine.root / table, dest / table)
        return dest

    return make


def larpbench(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              ) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh process (the checkout's code), as a user would."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=600)


def rewrite_csv(path: Path, edit) -> None:
    """Apply ``edit(lines) -> lines`` to a table (header kept as line 0)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(edit(lines)), encoding="utf-8")


def refresh_manifest(root: Path) -> None:
    """Make the manifest agree with edited tables (a consistent but faulty dataset)."""
    import json

    from benchmark.core.dataset import content_hash

    m = json.loads((root / "manifest.json").read_text())
    m["content_hash"] = content_hash(root)
    (root / "manifest.json").write_text(json.dumps(m, indent=1, sort_keys=True) + "\n")
