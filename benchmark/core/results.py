"""Result files: one JSON file per grid cell, written atomically, carrying provenance.

Layout: ``<results dir>/<profile>/<dataset>/<encoder>/<recommender>/seed<k>.json``.
Tables are rendered from these files only (:mod:`benchmark.reports.tables`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_text

SCHEMA = "larpbench-result/1"
#: file name of a dataset-statistics record (Table 1): ``<results>/<profile>/<dataset>/dataset_stats.json``
STATS_FILE = "dataset_stats.json"


@dataclass(frozen=True)
class Cell:
    profile: str
    dataset: str
    encoder: str
    recommender: str
    seed: int
    #: the dataset a trained encoder learns from when it is not ``dataset`` (Table 4)
    train_dataset: str | None = None

    @property
    def encoder_label(self) -> str:
        return self.encoder if self.train_dataset is None else f"{self.encoder}@{self.train_dataset}"

    def path(self, results_dir: Path) -> Path:
        return (Path(results_dir) / self.profile / self.dataset / self.encoder_label / self.recommender
                / f"seed{self.seed}.json")

    def label(self) -> str:
        return (f"{self.dataset} × {self.encoder_label} × {self.recommender} × seed {self.seed} "
                f"[{self.profile}]")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_result(path: Path, result: dict[str, Any]) -> Path:
    """Atomically write a result dict (must carry ``schema`` and ``cell``)."""
    if result.get("schema") != SCHEMA or "cell" not in result:
        raise ValueError(f"not a {SCHEMA} result: missing schema or cell")
    atomic_write_text(Path(path), json.dumps(_jsonable(result), indent=1, sort_keys=True) + "\n")
    return Path(path)


def read_result(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA!r}")
    return data


def iter_results(results_dir: Path, profile: str | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every result file under ``results_dir`` (optionally of one profile), sorted by path."""
    base = Path(results_dir)
    if profile is not None:
        base = base / profile
    for path in sorted(base.rglob("seed*.json")):
        yield path, read_result(path)


def is_complete(path: Path, expected_key: str) -> bool:
    """True if ``path`` holds a finished result computed with the same cell key."""
    if not path.is_file():
        return False
    try:
        return read_result(path).get("cell_key") == expected_key
    except (ValueError, OSError):
        return False
