"""The catalog of datasets the benchmark can build or find by name.

Each module of :mod:`benchmark.data.builders` exposes ``DATASETS``, a list of
:class:`DatasetSpec`. A dataset is stored at ``<data root>/<name>-<size>``; the data
root is ``$LARPBENCH_DATA`` or ``./data``. Imported datasets (MPD, Last.fm, LARP
release) are written by their importers to any folder and used by path.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.dataset import Dataset, DatasetError, is_dataset_dir


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    sizes: tuple[str, ...]
    #: build(root, size, seed, progress) writes a complete dataset into the empty folder ``root``
    build: Callable[..., None]
    paper_column: str | None = None  # "MPD" or "LFM": the paper column this dataset stands in for
    default_seed: int = 0


def data_root() -> Path:
    return Path(os.environ.get("LARPBENCH_DATA", "data"))


def _discover() -> dict[str, DatasetSpec]:
    from . import builders

    specs: dict[str, DatasetSpec] = {}
    for info in sorted(pkgutil.iter_modules(builders.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{builders.__name__}.{info.name}")
        for spec in getattr(module, "DATASETS", []):
            if spec.name in specs:
                raise ValueError(f"duplicate dataset name {spec.name!r} in {module.__name__}")
            specs[spec.name] = spec
    return specs


def specs() -> dict[str, DatasetSpec]:
    return _discover()


def get_spec(name: str) -> DatasetSpec:
    all_specs = _discover()
    if name not in all_specs:
        close = difflib.get_close_matches(name, all_specs, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise DatasetError(f"unknown dataset {name!r}{hint} (known: {', '.join(sorted(all_specs))})")
    return all_specs[name]


def dataset_path(name: str, size: str, root: Path | None = None) -> Path:
    return (root or data_root()) / f"{name}-{size}"


def build(name: str, size: str, *, root: Path | None = None, seed: int | None = None,
          force: bool = False, progress: bool = True) -> Dataset:
    """Build dataset ``name`` at ``size`` (into a temporary folder, renamed when complete)."""
    spec = get_spec(name)
    if size not in spec.sizes:
        raise DatasetError(f"dataset {name!r} has sizes {spec.sizes}, not {size!r}")
    target = dataset_path(name, size, root)
    if target.exists():
        if not force and is_dataset_dir(target):
            return Dataset(target)
        shutil.rmtree(target)
    tmp = target.with_name(f".{target.name}.building-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        spec.build(tmp, size=size, seed=spec.default_seed if seed is None else seed, progress=progress)
        Dataset(tmp)  # structural check before publishing
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        print(f"built {name}-{size} in {time.perf_counter() - t0:.1f}s at {target}")
    return Dataset(target)


def ensure(name: str, size: str, *, root: Path | None = None, progress: bool = True) -> Dataset:
    """The dataset if it exists (a name, or a path to any canonical dataset folder), else build it."""
    as_path = Path(name)
    if is_dataset_dir(as_path):
        return Dataset(as_path)
    target = dataset_path(name, size, root)
    if is_dataset_dir(target):
        return Dataset(target)
    return build(name, size, root=root, progress=progress)
