"""Result records: one JSON file each, written by :func:`write_record` (atomically) and read
by :func:`read_record` / :func:`iter_records`, which migrate files of older schema versions.

Kinds and where they live under ``<results dir>/<profile>/``:

* ``cell`` — one dataset × encoder × recommender × seed (× variant) of the grid:
  ``<dataset>/<encoder label>/<recommender>/seed<k>.json`` (:meth:`Cell.path`);
* ``dataset_stats`` — Table 1's statistics of one dataset: ``<dataset>/dataset_stats.json``;
* ``training_log`` — the per-epoch log of one training run (LARP's stages, Figure 5):
  ``training/<run>.json``;
* ``throughput`` and ``task`` — measurements of the throughput study and results of
  other tasks (each study writes its own folder).

Schema history (:data:`SCHEMA_VERSION`):

1. no ``kind`` on grid cells; Figure 4's n_seed results were their own kind
   (``figure4_nseed``, at ``figure4/<dataset>/nseed<n>_seed<s>.json``, with a key of their
   own); LARP's stage logs were JSON-lines files under ``larp_logs/``.
2. ``kind`` on every record; Figure 4's results are ordinary grid cells with the
   variant ``n_seed=<n>`` (their key is recomputed from the record: the sweep ran the
   grid's protocol); stage logs are ``training_log`` records.

Tables and figures are rendered from records only (:mod:`benchmark.reports`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_text
from benchmark.core.cache import key_hash

SCHEMA_PREFIX = "larpbench-result/"
SCHEMA_VERSION = 2
SCHEMA = f"{SCHEMA_PREFIX}{SCHEMA_VERSION}"
KINDS = ("cell", "dataset_stats", "training_log", "throughput", "task")
#: fields every record of a kind must carry (besides ``schema`` and ``kind``)
REQUIRED: dict[str, tuple[str, ...]] = {
    "cell": ("cell", "cell_key", "status"),
    "dataset_stats": ("cell", "stats"),
    "training_log": ("cell", "epochs"),
    "throughput": ("cell",),
    "task": ("cell", "status"),
}
#: file name of a dataset-statistics record (Table 1)
STATS_FILE = "dataset_stats.json"
#: the grid's protocol version; part of every cell key
PROTOCOL_VERSION = "1"
#: encoder config keys that change speed, not output (``Encoder.runtime_keys``' default)
DEFAULT_RUNTIME_KEYS = frozenset({"device", "num_threads", "num_workers"})


class RecordError(ValueError):
    """A file that is not a readable result record; the message names the file and why."""


# ----------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cell:
    profile: str
    dataset: str
    encoder: str
    recommender: str
    seed: int
    #: the dataset a trained encoder learns from when it is not ``dataset`` (Table 4)
    train_dataset: str | None = None
    #: encoder config overrides of a study's variant axis, as ``key=value[,key=value]``
    variant: str | None = None

    @property
    def encoder_label(self) -> str:
        label = self.encoder if self.train_dataset is None else f"{self.encoder}@{self.train_dataset}"
        return label if self.variant is None else f"{label}~{self.variant}"

    def path(self, results_dir: Path) -> Path:
        return (Path(results_dir) / self.profile / self.dataset / self.encoder_label / self.recommender
                / f"seed{self.seed}.json")

    def label(self) -> str:
        return (f"{self.dataset} × {self.encoder_label} × {self.recommender} × seed {self.seed} "
                f"[{self.profile}]")

    def identity(self) -> dict[str, Any]:
        """The fields that name the cell (``None`` fields left out, so older keys hold)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def variant_label(overrides: Mapping[str, Any]) -> str:
    """``{"n_seed": 5}`` → ``"n_seed=5"`` (keys sorted, values as JSON)."""
    return ",".join(f"{k}={json.dumps(overrides[k])}" for k in sorted(overrides))


def parse_variant(label: str | None) -> dict[str, Any]:
    """Inverse of :func:`variant_label`."""
    out: dict[str, Any] = {}
    for part in (label or "").split(","):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep or not k:
            raise ValueError(f"variant {label!r}: expected key=value[,key=value]")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def cell_key(cell: Cell, *, dataset_hash: str, encoder_version: str, encoder_config: Mapping[str, Any],
             recommender_version: str, recommender_config: Mapping[str, Any], shuffle_seed: int,
             selection_split: str) -> str:
    """The key a finished cell's record must carry to count as finished (hash of what
    determines its numbers; ``encoder_config`` without runtime keys)."""
    return key_hash({
        "protocol": PROTOCOL_VERSION, "cell": cell.identity(), "dataset_hash": dataset_hash,
        "encoder": [encoder_version, dict(encoder_config)],
        "recommender": [recommender_version, dict(recommender_config)],
        "shuffle_seed": shuffle_seed, "selection_split": selection_split,
    })


# ----------------------------------------------------------------------------- records
@dataclass
class Record:
    """One result record: its JSON ``data`` (current schema) and the file it came from.
    Mapping-style access (``record["metrics"]``, ``record.get(...)``) reads ``data``."""

    data: dict[str, Any]
    path: Path | None = None
    #: the schema version the file was written with (older files are migrated on read)
    source_version: int = SCHEMA_VERSION
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def status(self) -> str:
        return str(self.data.get("status", "ok"))

    @property
    def identity(self) -> dict[str, Any]:
        return dict(self.data.get("cell") or {})

    @property
    def key(self) -> str | None:
        return self.data.get("cell_key")

    @property
    def cell(self) -> Cell | None:
        """The grid cell of a ``cell`` record."""
        if self.kind != "cell":
            return None
        return Cell(**{k: self.data["cell"].get(k) for k in Cell.__dataclass_fields__})

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def __contains__(self, name: object) -> bool:
        return name in self.data

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Record):
        return _jsonable(obj.data)
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


def check_record(data: Mapping[str, Any], where: str = "record") -> None:
    """Raise :class:`RecordError` unless ``data`` is a current-schema record of a known kind
    with its kind's required fields."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: not a result record (a JSON {type(data).__name__}, expected an object)")
    if data.get("schema") != SCHEMA:
        raise RecordError(f"{where}: schema {data.get('schema')!r}, expected {SCHEMA!r}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise RecordError(f"{where}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    missing = [f for f in REQUIRED[kind] if f not in data]
    if missing:
        raise RecordError(f"{where}: a {kind} record without field(s) {', '.join(missing)}")
    if not isinstance(data["cell"], Mapping):
        raise RecordError(f"{where}: field 'cell' is a {type(data['cell']).__name__}, expected an object")


def write_record(path: Path, data: Mapping[str, Any] | Record) -> Path:
    """Atomically write a record (the one writer of result files). ``schema`` is set to the
    current version; ``kind`` must be given."""
    payload = dict(data.data if isinstance(data, Record) else data)
    payload["schema"] = SCHEMA
    check_record(payload, str(path))
    atomic_write_text(Path(path), json.dumps(_jsonable(payload), indent=1, sort_keys=True) + "\n")
    return Path(path)


def _schema_version(data: Mapping[str, Any], where: str) -> int:
    schema = data.get("schema")
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX):
        raise RecordError(f"{where}: schema {schema!r}, expected {SCHEMA!r} (or an older larpbench-result/N)")
    try:
        version = int(schema[len(SCHEMA_PREFIX):])
    except ValueError:
        raise RecordError(f"{where}: schema {schema!r} has no version number") from None
    if version > SCHEMA_VERSION:
        raise RecordError(f"{where}: schema version {version} is newer than this larpbench ({SCHEMA_VERSION}); "
                          "upgrade larpbench to read it")
    return version


def _migrate_figure4(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 ``figure4_nseed`` record → a grid cell with the variant ``n_seed=<n>``."""
    n = int(data.pop("n_seed"))
    old = data["cell"]
    cell = Cell(profile=old["profile"], dataset=old["dataset"], encoder=old["encoder"],
                recommender=old["recommender"], seed=int(old["seed"]), variant=variant_label({"n_seed": n}))
    enc, rec, proto = data["encoder"], data["recommender"], data.get("protocol") or {}
    selection = str(proto.get("selection_split", "valid"))
    # the grid passes its selection split into the config of encoders that have the option;
    # the sweep left it unset (None: LARP's default), which its protocol field resolves
    if enc["config"].get("selection_split") is None:
        enc["config"] = {**enc["config"], "selection_split": selection}
    data["cell"] = {**cell.__dict__}
    data["legacy_cell_key"] = data.get("cell_key")
    data["cell_key"] = cell_key(
        cell, dataset_hash=data["dataset"]["hash"], encoder_version=enc["meta"]["version"],
        encoder_config={k: v for k, v in enc["config"].items() if k not in DEFAULT_RUNTIME_KEYS},
        recommender_version=rec["meta"]["version"], recommender_config=rec["config"],
        shuffle_seed=int(proto.get("shuffle_seed", 0)), selection_split=selection)
    data["seed"] = cell.seed
    data.setdefault("encoder_trained_on", None)
    data.setdefault("recommender_fit", {})
    data["protocol"] = {"version": PROTOCOL_VERSION, "shuffle_seed": int(proto.get("shuffle_seed", 0)),
                        "selection_split": str(proto.get("selection_split", "valid")),
                        "n_seeds": "round(n/2)", "candidates": "all tracks of the test split",
                        "seeds_masked": True}
    return data


def migrate(data: Any, where: str = "record") -> tuple[dict[str, Any], int]:
    """``data`` of any schema version → (current-schema dict, the version it had)."""
    if not isinstance(data, dict):
        raise RecordError(f"{where}: not a result record (a JSON {type(data).__name__}, expected an object)")
    version = _schema_version(data, where)
    data = dict(data)
    if version == 1:
        kind = data.get("kind")
        if kind is None:
            data["kind"] = "dataset_stats" if "stats" in data else "cell"
        elif kind == "figure4_nseed":
            data["kind"] = "cell"
            try:
                data = _migrate_figure4(data)
            except (KeyError, TypeError, ValueError) as e:
                raise RecordError(f"{where}: a version-1 figure4 record without field {e}") from None
    data["schema"] = SCHEMA
    check_record(data, where)
    return data, version


def read_record(path: Path) -> Record:
    """Read and migrate one record; :class:`RecordError` names the file on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise RecordError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}, line {e.lineno} column {e.colno}: not valid JSON ({e.msg})") from None
    data, version = migrate(raw, str(path))
    return Record(data, path, version)


def legacy_training_log(path: Path, profile: str) -> Record:
    """A v1 LARP stage log (``larp_logs/<run>.jsonl``, one epoch per line) as a record."""
    epochs = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            epochs.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise RecordError(f"{path}, line {i}: not valid JSON ({e.msg})") from None
    first = epochs[0] if epochs else {}
    data = {"schema": SCHEMA, "kind": "training_log", "status": "ok",
            "cell": {"profile": profile, "encoder": "larp", "run": Path(path).stem,
                     "model_config": first.get("model_config")},
            "epochs": epochs}
    return Record(data, Path(path), 1)


def record_files(results_dir: Path, profile: str | None = None) -> list[Path]:
    """Every file under ``results_dir`` (or one profile) that holds a record: ``*.json``
    and the version-1 stage logs ``larp_logs/*.jsonl``; sorted."""
    base = Path(results_dir) if profile is None else Path(results_dir) / profile
    if not base.is_dir():
        return []
    return sorted([*base.rglob("*.json"), *base.rglob("larp_logs/*.jsonl")])


def _profile_of(path: Path, results_dir: Path) -> str:
    return path.relative_to(results_dir).parts[0]


def iter_records(results_dir: Path, profile: str | None = None, kinds: Iterable[str] | None = None,
                 errors: list[RecordError] | None = None) -> Iterator[Record]:
    """Every record under ``results_dir`` (optionally of one profile and some kinds), sorted by
    path. A file that cannot be read raises :class:`RecordError`, unless ``errors`` is given:
    then it is appended there (so a report can list it as missing) and skipped."""
    wanted = set(kinds) if kinds is not None else None
    results_dir = Path(results_dir)
    for path in record_files(results_dir, profile):
        try:
            if path.suffix == ".jsonl":
                rec = legacy_training_log(path, _profile_of(path, results_dir))
            else:
                rec = read_record(path)
        except RecordError as e:
            if errors is None:
                raise
            errors.append(e)
            continue
        if wanted is None or rec.kind in wanted:
            yield rec


def iter_results(results_dir: Path, profile: str | None = None,
                 errors: list[RecordError] | None = None) -> Iterator[tuple[Path, Record]]:
    """``(path, record)`` of every grid cell record (kind ``cell``); ``errors`` as in
    :func:`iter_records`."""
    for rec in iter_records(results_dir, profile, kinds=("cell",), errors=errors):
        assert rec.path is not None
        yield rec.path, rec


def is_complete(path: Path, expected_key: str, *, require_ok: bool = False) -> bool:
    """True if ``path`` holds a finished result computed with the same cell key (and, with
    ``require_ok``, status ``ok``: an ``unavailable`` record is stale once the encoder can run)."""
    if not path.is_file():
        return False
    try:
        rec = read_record(path)
    except RecordError:
        return False
    return rec.key == expected_key and (not require_ok or rec.status == "ok")


def migrate_files(results_dir: Path) -> list[tuple[Path, Path]]:
    """Rewrite the records under ``results_dir`` whose place changed with the schema (v1
    Figure 4 results → grid cells; v1 stage logs → ``training/`` records) at their current
    path; returns ``(old, new)`` pairs. The old file is removed only after the new one is
    written, and only when it is one of these older record files."""
    moved = []
    results_dir = Path(results_dir)
    for path in record_files(results_dir):
        if path.suffix == ".jsonl":
            rec = legacy_training_log(path, _profile_of(path, results_dir))
            new = results_dir / rec.identity["profile"] / "training" / f"{rec.identity['run']}.json"
        else:
            rec = read_record(path)
            if rec.source_version == SCHEMA_VERSION or rec.kind != "cell":
                continue
            cell = rec.cell
            assert cell is not None
            new = cell.path(results_dir)
            if new == path:
                continue
        write_record(new, rec)
        path.unlink()
        parent = path.parent
        while parent != results_dir and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        moved.append((path, new))
    return moved
