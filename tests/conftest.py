"""Shared fixtures. Tests never write into the checkout: data and caches go to a temp dir."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory):
    """Point the data root and the cache at a per-session temporary folder."""
    base = tmp_path_factory.mktemp("larpbench")
    old = {k: os.environ.get(k) for k in ("LARPBENCH_DATA", "LARPBENCH_CACHE")}
    os.environ["LARPBENCH_DATA"] = str(base / "data")
    os.environ["LARPBENCH_CACHE"] = str(base / "cache")
    yield base
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def tiny_dataset(_isolated_dirs):
    """The generated ``synth-mpd`` preset at ``tiny`` size (built once per session)."""
    from benchmark.data import resolve

    return resolve("synth-mpd", "tiny", progress=False)
