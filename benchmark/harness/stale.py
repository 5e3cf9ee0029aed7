"""Find result records computed on another build of their dataset than the one on disk.

A cell's key holds its dataset's content hash, so the grid recomputes a stale cell when it
runs it again; but a table renders whatever records exist. When a dataset changes (a new
generator version, new default dials) the records of the cells nobody reran would sit in a
table beside the new ones. ``larpbench results stale`` lists them and, with ``--move-to``,
moves them out of the results folder (never deletes them):

* a **cell** or **dataset-statistics** record is stale when the dataset it names is built
  under the data root, is current (:func:`benchmark.data.catalog.stale_reason`), and its
  content hash differs from the one the record holds; a dataset that is not built is not
  judged (the record may well be right);
* a **training log** (Figure 5) is stale when the only cells that name its run are stale.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.dataset import Dataset, DatasetError, is_dataset_dir
from benchmark.core.profiles import get_profile
from benchmark.core.results import iter_records
from benchmark.data import catalog


@dataclass(frozen=True)
class StaleRecord:
    path: Path
    reason: str


def _current_hash(name: str, size: str, data_root: Path | None) -> str | None:
    """The content hash of ``name``'s current build at ``size``; None when it is not built,
    is stale itself, or is not a catalog dataset."""
    try:
        path = catalog.locate(name, size, root=data_root)
    except (DatasetError, Exception):  # unknown names, importers, bad references: not judged
        return None
    if not is_dataset_dir(path):
        return None
    ds = Dataset(path)
    ref = catalog.reference(catalog.label(name)) if not is_dataset_dir(name) else None
    if ref is not None and catalog.stale_reason(ref, size, ds) is not None:
        return None
    return ds.content_hash


def stale_records(results_dir: Path, profile: str, *, data_root: Path | None = None) -> list[StaleRecord]:
    """Every record of ``profile`` under ``results_dir`` made on another build of its
    dataset than the current one (see the module docstring), sorted by path."""
    size = get_profile(profile).dataset_size
    hashes: dict[str, str | None] = {}
    stale: list[StaleRecord] = []
    fresh_text: list[str] = []
    stale_text: list[str] = []
    logs = []
    for rec in iter_records(Path(results_dir), profile):
        assert rec.path is not None
        if rec.kind == "training_log":
            logs.append(rec)
            continue
        name = str((rec.get("cell") or {}).get("dataset") or "")
        recorded = (rec.get("dataset") or {}).get("hash") if isinstance(rec.get("dataset"), dict) else None
        if not name or not recorded:
            continue
        if name not in hashes:
            hashes[name] = _current_hash(name, size, data_root)
        current = hashes[name]
        text = rec.path.read_text(encoding="utf-8")
        if current is not None and recorded != current:
            stale.append(StaleRecord(rec.path, f"{name}: made on build {recorded[:12]}, the current build is "
                                               f"{current[:12]}"))
            stale_text.append(text)
        else:
            fresh_text.append(text)
    for rec in logs:
        assert rec.path is not None
        run = str((rec.get("cell") or {}).get("run") or "")
        if run and any(run in t for t in stale_text) and not any(run in t for t in fresh_text):
            stale.append(StaleRecord(rec.path, f"training run {run} is used only by stale cells"))
    return sorted(stale, key=lambda s: str(s.path))


def move_records(records: list[StaleRecord], results_dir: Path, target: Path) -> list[tuple[Path, Path]]:
    """Move each record to the same relative place under ``target`` (which must not lie
    inside ``results_dir``); nothing is deleted. Returns ``(old, new)`` pairs."""
    results_dir, target = Path(results_dir).resolve(), Path(target).resolve()
    if target == results_dir or results_dir in target.parents:
        raise ValueError(f"--move-to {target} lies inside the results folder {results_dir}: the records "
                         "would still be read; choose a folder outside it")
    moved = []
    for s in records:
        src = Path(s.path).resolve()
        dst = target / src.relative_to(results_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            raise FileExistsError(f"{dst} exists: not overwriting it (choose another --move-to)")
        shutil.move(str(src), str(dst))
        moved.append((src, dst))
        parent = src.parent
        while parent != results_dir and parent.is_dir() and not any(parent.iterdir()):
            os.rmdir(parent)  # an emptied cell folder
            parent = parent.parent
    return moved
