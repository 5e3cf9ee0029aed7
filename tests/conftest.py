"""Shared fixtures. Tests never write into the checkout: data and caches go to a temp dir."""

from __future__ import annotations

import os
import shutil

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


@pytest.fixture(scope="module", autouse=True)
def _module_cache(_isolated_dirs, request):
    """Give each test module its own cache folder and delete it when the module passes.

    Trained checkpoints (LARP's are ~135 MB each at ci size) piled up in one session-wide
    cache to ~6 GB, and a CI machine with little free disk failed with Errno 28. Datasets
    stay session-wide: they are small and slow to build.
    """
    name = request.module.__name__.replace(".", "_")
    path = _isolated_dirs / "cache-by-module" / name
    failed_before = request.session.testsfailed
    old = os.environ.get("LARPBENCH_CACHE")
    os.environ["LARPBENCH_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LARPBENCH_CACHE", None)
    else:
        os.environ["LARPBENCH_CACHE"] = old
    if request.session.testsfailed == failed_before:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_dataset(_isolated_dirs):
    """The generated ``synth-mpd`` preset at ``tiny`` size (built once per session)."""
    from benchmark.data import resolve

    return resolve("synth-mpd", "tiny", progress=False)
