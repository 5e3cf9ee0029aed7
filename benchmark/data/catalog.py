"""The dataset catalog: the registry of dataset plugins, and finding a dataset by name or path.

``REGISTRY`` holds every **builder** (a dataset built by name: ``synth-mpd``,
``synth-lfm``, ``folk21``, ``folk21-noalbum``) and every **importer** (``mpd``,
``lastfm``, ``larp-release``), each declared by a class with a ``meta``
:class:`~benchmark.data.base.DatasetMeta` in its own file under
:mod:`benchmark.data.builders` or :mod:`benchmark.data.importers`, or registered by a
third-party package through the ``larpbench.datasets`` entry-point group. Names are
unique across both kinds; unknown names get close-match suggestions.

A built dataset is stored at ``<data root>/<name>-<size>``; the data root is
``$LARPBENCH_DATA`` or ``./data``. A **variant** of a builder, named by a reference with
overrides such as ``synth-mpd[caption_vocab=0.25,seed=1]`` (:mod:`benchmark.core.dataref`;
:func:`reference` checks it against the builder), is stored at
``<data root>/<canonical reference>-<size>``. An imported dataset lives in the folder its
importer wrote and is used by path. :func:`resolve` is the one way to turn any of them into
a :class:`~benchmark.core.dataset.Dataset`.
"""

from __future__ import annotations

import difflib
import os
import shutil
import time
from pathlib import Path

from benchmark.core.atomic import file_lock
from benchmark.core.dataref import DatasetRef, DatasetRefError, is_variant
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
    name (a folder path, an importer, a builder that stands for none, a variant)."""
    cls = builders().get(str(name))
    return cls.meta.paper_column if cls is not None and cls.meta is not None else None


# ----------------------------------------------------------------------------- variants
def reference(text: str | DatasetRef) -> DatasetRef:
    """The canonical reference of ``text`` (``"synth-mpd[seed=1,caption_vocab=.25]"`` →
    ``synth-mpd[caption_vocab=0.25,seed=1]``): its name must be a builder, each override
    one the builder takes (``seed``, a non-negative integer, always), each value of the
    field's type. A plain name is returned as is. Ranges are checked by :func:`check_reference`."""
    ref = text if isinstance(text, DatasetRef) else DatasetRef.parse(str(text))
    if not ref.overrides:
        return ref
    cls = get_builder(ref.name)
    allowed = cls.override_names()
    out: dict[str, object] = {}
    for key, value in ref.overrides:
        if key == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DatasetRefError(f"dataset reference {ref.label()!r}: seed takes an integer >= 0, "
                                      f"got {value!r}")
            out[key] = value
            continue
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            takes = f"seed, {', '.join(allowed)}" if allowed else "only seed"
            raise DatasetRefError(f"dataset {ref.name!r} takes no override {key!r}{hint} (it takes {takes})")
        try:
            out[key] = cls.coerce_override(key, value)
        except (TypeError, ValueError) as e:
            raise DatasetRefError(f"dataset reference {ref.label()!r}: {e}") from None
    return DatasetRef.make(ref.name, out)


def check_reference(text: str | DatasetRef, size: str) -> DatasetRef:
    """:func:`reference`, and its values checked against their ranges at ``size`` by the
    builder (the error names the reference and the field's allowed range)."""
    ref = reference(text)
    if ref.overrides:
        cls = get_builder(ref.name)
        assert cls.meta is not None
        if size not in cls.meta.sizes:
            raise DatasetError(f"dataset {ref.name!r} has sizes {cls.meta.sizes}, not {size!r}")
        values = {k: v for k, v in ref.overrides if k != "seed"}
        seed = _seed(ref, cls.meta.default_seed)
        try:
            cls.check_overrides(size, seed, values)
        except (TypeError, ValueError) as e:
            raise DatasetRefError(f"dataset reference {ref.label()!r} at size {size!r}: {e}") from None
    return ref


def _seed(ref: DatasetRef, default: int) -> int:
    seed = ref.values.get("seed", default)
    assert isinstance(seed, int)  # reference() checked it
    return seed


def label(text: str | DatasetRef) -> str:
    """The canonical name a catalog dataset goes by in cells and result folders."""
    return reference(text).label() if is_variant(str(text)) else str(text)


# ----------------------------------------------------------------------------- locations
def data_root() -> Path:
    return Path(os.environ.get("LARPBENCH_DATA", "data"))


def dataset_path(name: str | DatasetRef, size: str, root: Path | None = None) -> Path:
    """Where builder ``name`` (or a variant reference) at ``size`` is (or would be) stored."""
    if isinstance(name, DatasetRef) or is_variant(name):
        return (root or data_root()) / reference(name).folder(size)
    return (root or data_root()) / f"{name}-{size}"


def locate(name_or_path: str | Path, size: str | None = None, *, root: Path | None = None) -> Path:
    """The folder of a dataset: ``name_or_path`` itself when it holds a dataset, else the
    builder's folder ``<root>/<name>-<size>`` (which may not exist yet)."""
    ref = str(name_or_path)
    if is_dataset_dir(ref):
        return Path(ref)
    if is_variant(ref) and not Path(ref).exists():
        if size is None:
            meta = get_builder(DatasetRef.parse(ref).name).meta
            assert meta is not None
            raise DatasetError(f"dataset {ref!r}: give a size (one of {', '.join(meta.sizes)})")
        return dataset_path(check_reference(ref, size), size, root)
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
    An existing finished build is returned as is unless ``force``.

    ``name`` may be a variant reference (``synth-mpd[caption_vocab=0.25,seed=1]``). A
    ``seed`` other than the builder's default is the reference's ``seed`` (so a world of
    another seed never lands in the default folder); one that contradicts it is an error."""
    ref = reference(name)
    cls = get_builder(ref.name)
    meta = cls.meta
    assert meta is not None
    if size not in meta.sizes:
        raise DatasetError(f"dataset {ref.name!r} has sizes {meta.sizes}, not {size!r}")
    if seed is not None:
        given = ref.values.get("seed")
        if given is not None and given != seed:
            raise DatasetError(f"dataset {ref.label()!r}: seed {seed} contradicts the reference's seed={given}")
        if given is None and seed != meta.default_seed:
            ref = reference(DatasetRef.make(ref.name, {**ref.values, "seed": seed}))
    ref = check_reference(ref, size)
    world_seed = _seed(ref, meta.default_seed)
    target = dataset_path(ref, size, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_name(f".{target.name}.lock")):  # one build of a dataset at a time
        if not force and is_dataset_dir(target) and stale_reason(ref, size, Dataset(target)) is None:
            return Dataset(target)  # built meanwhile by another process
        remove_stale_builds(target)
        tmp = target.with_name(f".{target.name}.building-{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        t0 = time.perf_counter()
        try:
            # the variant only when there is one: builders written before variants still work
            extra = {"variant": ref} if ref.overrides else {}
            cls().build(tmp, size=size, seed=world_seed, progress=progress, **extra)
            Dataset(tmp)  # structural check before publishing
            crash_point("build")
            _publish(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if progress:
        print(f"built {target.name} in {time.perf_counter() - t0:.1f}s at {target}")
    return Dataset(target)


def stale_reason(ref: DatasetRef, size: str, dataset: Dataset) -> str | None:
    """Why a build of ``ref`` at ``size`` is out of date, or None: its manifest records
    another generator version than the builder's, or other parameters than a fresh build
    would (:meth:`DatasetBuilder.expected_params`)."""
    cls = builders().get(ref.name)
    if cls is None or cls.meta is None:
        return None
    params = dataset.manifest.get("params", {})
    want, have = cls.meta.version, str(params.get("generator", ""))
    if want and have != want:
        return f"built by generator {have or '(unrecorded)'}, the builder is now {want}"
    expected = cls.expected_params(size, _seed(ref, cls.meta.default_seed),
                                   {k: v for k, v in ref.overrides if k != "seed"})
    if expected is not None:
        recorded = {k: v for k, v in params.items() if k != "derived"}
        diff = sorted(k for k in set(expected) | set(recorded) if expected.get(k) != recorded.get(k))
        if diff:
            return f"built with other generator parameters ({', '.join(diff[:6])} differ from today's)"
    return None


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
    ``size`` is ignored), or a builder's name or variant reference at ``size``, built first
    when it is not there yet (``build_missing=False``: an error instead)."""
    path = locate(name_or_path, size, root=root)
    if is_dataset_dir(path):
        ds = Dataset(path)
        ref = str(name_or_path)
        if is_dataset_dir(ref) or not (ref in REGISTRY or is_variant(ref)):
            return ds  # a folder given by path: used as is
        name = label(ref)
        assert size is not None
        stale = stale_reason(reference(name), size, ds)
        if stale is None:
            return ds
        if not build_missing:
            arg = f"'{name}'" if is_variant(name) else name
            raise DatasetError(f"{path}: {stale}; rebuild it: `larpbench data build {arg} --size {size} --force`")
        if progress:
            print(f"{path}: {stale}; rebuilding")
        assert size is not None
        return build(name, size, root=root, force=True, progress=progress)
    name = label(str(name_or_path))
    assert size is not None  # locate() insists on a size for a name
    if not build_missing:
        arg = f"'{name}'" if is_variant(name) else name  # quoted: '[' is a shell glob character
        raise DatasetError(f"{path.name} is not built at {path}: run `larpbench data build {arg} "
                           f"--size {size}`")
    return build(name, size, root=root, progress=progress)
