"""The dataset catalog: the registry of dataset plugins, and finding a dataset by name or path.

``REGISTRY`` holds every **builder** (a dataset built by name: ``synth-mpd``,
``synth-lfm``, ``folk21``, ``folk21-noalbum``) and every **importer** (``mpd``,
``lastfm``, ``larp-release``), each declared by a class with a ``meta``
:class:`~benchmark.data.base.DatasetMeta` in its own file under
:mod:`benchmark.data.builders` or :mod:`benchmark.data.importers`, or registered by a
third-party package through the ``larpbench.datasets`` entry-point group. Names are
unique across both kinds; unknown names get close-match suggestions.

A built dataset is stored at ``<data root>/<name>-<size>``; the data root is
``$LARPBENCH_DATA`` or ``./data``. An imported dataset lives in the folder its importer
wrote and is used by path. :func:`resolve` is the one way to turn either into a
:class:`~benchmark.core.dataset.Dataset`.
"""

from __future__ import annotations

import difflib
import os
import shutil
import time
from pathlib import Path

from benchmark.core.atomic import file_lock
from benchmark.core.faults import crash_point
from benchmark.core.dataset import MANIFEST, Dataset, DatasetError, is_dataset_dir
from benchmark.core.registry import Registry, RegistryError

from .base import DatasetBuilder, DatasetImporter, DatasetPlugin

REGISTRY: Registry = Registry(
    kind="dataset", package=("benchmark.data.builders", "benchmark.data.importers"),
    base=DatasetPlugin, entry_point_group="larpbench.datasets",
)


def builders() -> dict[str, type[DatasetBuilder]]:
    """The builder entries by name (sorted)."""
    return {n: c for n, c in REGISTRY if issubclass(c, DatasetBuilder)}


def importers() -> dict[str, type[DatasetImporter]]:
    """The importer entries by name (sorted)."""
    return {n: c for n, c in REGISTRY if issubclass(c, DatasetImporter)}


def _unknown(name: str, kind: str, known: list[str]) -> RegistryError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return RegistryError(f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})")


def get_builder(name: str) -> type[DatasetBuilder]:
    """The builder ``name``. An importer's name is an error that says what to do instead;
    an unknown name gets close builder names suggested."""
    if name not in REGISTRY:
        raise _unknown(name, "dataset", sorted(builders()))
    cls = REGISTRY.get(name)
    if issubclass(cls, DatasetImporter):
        raise DatasetError(
            f"{name!r} is an importer, not a dataset that can be built: run "
            f"`larpbench data import {name} ... --out DIR` on your files, then use DIR")
    if not issubclass(cls, DatasetBuilder):
        raise DatasetError(f"dataset entry {name!r} ({REGISTRY.origin(name)}) is neither a "
                           f"DatasetBuilder nor a DatasetImporter")
    return cls


def get_importer(name: str) -> type[DatasetImporter]:
    """The importer ``name``; an unknown name gets close importer names suggested."""
    if name not in REGISTRY:
        raise _unknown(name, "importer", sorted(importers()))
    cls = REGISTRY.get(name)
    if not issubclass(cls, DatasetImporter):
        raise DatasetError(f"{name!r} is built by name (`larpbench data build {name}`), not imported")
    return cls


def paper_column(name: str | Path) -> str | None:
    """The paper column ("MPD", "LFM") builder ``name`` stands for; None for any other
    name (a folder path, an importer, a builder that stands for none)."""
    cls = builders().get(str(name))
    return cls.meta.paper_column if cls is not None and cls.meta is not None else None


# ----------------------------------------------------------------------------- locations
def data_root() -> Path:
    return Path(os.environ.get("LARPBENCH_DATA", "data"))


def dataset_path(name: str, size: str, root: Path | None = None) -> Path:
    """Where builder ``name`` at ``size`` is (or would be) stored."""
    return (root or data_root()) / f"{name}-{size}"


def locate(name_or_path: str | Path, size: str | None = None, *, root: Path | None = None) -> Path:
    """The folder of a dataset: ``name_or_path`` itself when it holds a dataset, else the
    builder's folder ``<root>/<name>-<size>`` (which may not exist yet)."""
    ref = str(name_or_path)
    if is_dataset_dir(ref):
        return Path(ref)
    if ref not in REGISTRY and (os.sep in ref or "/" in ref or Path(ref).exists()):
        problem = (f"a folder without {MANIFEST} (an unfinished build or not a dataset)"
                   if Path(ref).is_dir() else "no such dataset folder")
        raise DatasetError(f"{ref}: {problem}; nor is it a catalog name (known: "
                           f"{', '.join(REGISTRY.names())})")
    meta = get_builder(ref).meta
    assert meta is not None
    if size is None:
        raise DatasetError(f"dataset {ref!r}: give a size (one of {', '.join(meta.sizes)})")
    if size not in meta.sizes:
        raise DatasetError(f"dataset {ref!r} has sizes {meta.sizes}, not {size!r}")
    return dataset_path(ref, size, root)


# ----------------------------------------------------------------------------- build / resolve
def build(name: str, size: str, *, root: Path | None = None, seed: int | None = None,
          force: bool = False, progress: bool = True) -> Dataset:
    """Build dataset ``name`` at ``size`` (into a temporary folder, renamed when complete).
    An existing finished build is returned as is unless ``force``."""
    cls = get_builder(name)
    meta = cls.meta
    assert meta is not None
    if size not in meta.sizes:
        raise DatasetError(f"dataset {name!r} has sizes {meta.sizes}, not {size!r}")
    target = dataset_path(name, size, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_name(f".{target.name}.lock")):  # one build of a dataset at a time
        if not force and is_dataset_dir(target):
            return Dataset(target)  # built meanwhile by another process
        remove_stale_builds(target)
        tmp = target.with_name(f".{target.name}.building-{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        t0 = time.perf_counter()
        try:
            cls().build(tmp, size=size, seed=meta.default_seed if seed is None else seed, progress=progress)
            Dataset(tmp)  # structural check before publishing
            crash_point("build")
            _publish(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if progress:
        print(f"built {name}-{size} in {time.perf_counter() - t0:.1f}s at {target}")
    return Dataset(target)


def _publish(tmp: Path, target: Path) -> None:
    """Put the finished build ``tmp`` at ``target``; an older build there is swapped out
    first and removed only after the new one is in place (never a half-replaced folder)."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def remove_stale_builds(target: Path) -> list[Path]:
    """Remove the temporary folders of builds of ``target`` whose process is gone (a killed
    build leaves ``.<name>-<size>.building-<pid>``); returns what was removed."""
    removed = []
    for d in target.parent.glob(f".{target.name}.building-*"):
        try:
            pid = int(d.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve(name_or_path: str | Path, size: str | None = None, *, root: Path | None = None,
            build_missing: bool = True, progress: bool = True) -> Dataset:
    """The dataset ``name_or_path`` refers to: a folder holding a dataset (any source;
    ``size`` is ignored), or a builder's name at ``size``, built first when it is not there
    yet (``build_missing=False``: an error instead)."""
    path = locate(name_or_path, size, root=root)
    if is_dataset_dir(path):
        return Dataset(path)
    name = str(name_or_path)
    assert size is not None  # locate() insists on a size for a name
    if not build_missing:
        raise DatasetError(f"{name}-{size} is not built at {path}: run `larpbench data build {name} "
                           f"--size {size}`")
    return build(name, size, root=root, progress=progress)
