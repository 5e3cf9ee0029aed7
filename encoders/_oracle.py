"""What the oracle encoders share: their metadata, the readers of the generator's hidden
ground truth, and the availability checks.

The oracles (``oracle-genre``, ``oracle-artist``, ``oracle-relations``, ``oracle-latent``)
are the **one documented exception** to "encoders never read the generator's hidden
columns" (docs/baselines.md, "Oracle ceilings"). They read:

* ``tracks.csv``'s ground-truth columns ``genre`` and ``canonical_artist`` (the artist's
  canonical name; the ``artist`` column is the *credited* string, which may be an alias);
* ``artist_relations.csv`` (``artist_a,artist_b,weight``: undirected, canonical names);
* ``track_latents.csv`` (``track_id,<latent columns...>``: the generator's latent sound
  vector of each track).

A dataset without what an oracle reads (an importer's, folk21, a generator version that
did not write it) makes the oracle *unavailable* (:class:`~encoders.base.EncoderUnavailable`
from :meth:`OracleEncoder.check_dataset`, recorded by the grid as an "unavailable: reason"
cell); a file that is there but malformed is a :class:`~benchmark.core.dataset.DatasetError`
naming the file, line and field. Oracles are tagged ``"oracle"``: never in the paper's
tables, only in the ``ceilings`` study.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset, DatasetError, read_csv
from encoders.base import Encoder, EncoderMeta, EncoderUnavailable

RELATIONS_FILE = "artist_relations.csv"
LATENTS_FILE = "track_latents.csv"
_CITATION = ("larpbench issue #12: oracle ceilings (generator ground truth run through the grid and "
             "the paper's protocol)")


def oracle_meta(name: str, description: str, reads: str, *, trains: bool = False,
                trains_on: str = "nothing (reads the generator's ground truth)") -> EncoderMeta:
    """The metadata record of an oracle: tag ``"oracle"``, modality ``"ground-truth"``."""
    return EncoderMeta(
        name=name, version="1", description=description, dim=None,  # from the dataset
        sample_rate=None, modalities=("ground-truth",), trains=trains, trains_on=trains_on,
        weights=f"none (reads {reads})", citation=_CITATION, tags=("oracle",),
        weights_source="none: the dataset's hidden ground truth", licence_code="MIT (this project)",
        licence_weights="none (no weights)", output_libraries=("numpy",))


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows L2-normalised (an all-zero row stays zero), float32."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def shown(dataset: Dataset, file: str) -> str:
    """``<dataset folder>/<file>``: how an unavailable reason names a file. Reasons go into
    result records and tables (and the cell key), so they hold no machine-specific path."""
    return f"{dataset.root.name}/{file}"


# ----------------------------------------------------------------------------- tracks.csv columns
def require_column(dataset: Dataset, column: str, oracle: str) -> None:
    """Unavailable unless ``tracks.csv`` has ``column`` filled for every track."""
    path = shown(dataset, "tracks.csv")
    if column not in dataset.extra_columns:
        raise EncoderUnavailable(f"{oracle}: {path} has no column {column!r} (generator ground truth, written "
                                 f"by synth/2 on; extra columns here: {', '.join(dataset.extra_columns) or 'none'})")
    empty = [t.track_id for t in dataset.tracks.values() if not t.extra.get(column, "").strip()]
    if empty:
        raise EncoderUnavailable(f"{oracle}: column {column!r} of {path} is empty for {len(empty)} of "
                                 f"{len(dataset.tracks)} track(s) (first: {empty[:5]})")


def column_values(dataset: Dataset, column: str, track_ids: Sequence[str]) -> list[str]:
    return [dataset.tracks[t].extra[column].strip() for t in track_ids]


def vocabulary(dataset: Dataset, column: str) -> dict[str, int]:
    """Sorted values of ``column`` over **all** tracks of the dataset -> coordinate."""
    values = sorted({t.extra[column].strip() for t in dataset.tracks.values()})
    return {v: i for i, v in enumerate(values)}


def one_hot(labels: Sequence[str], index: dict[str, int]) -> np.ndarray:
    out = np.zeros((len(labels), len(index)), dtype=np.float32)
    if len(labels):
        out[np.arange(len(labels)), [index[x] for x in labels]] = 1.0
    return out


# ----------------------------------------------------------------------------- hidden files
def _read(dataset: Dataset, file: str, required: Sequence[str],
          oracle: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    path = dataset.root / file
    if not path.is_file():
        raise EncoderUnavailable(f"{oracle}: {shown(dataset, file)} is missing (generator ground truth; "
                                 "the synth generator writes it, importers do not)")
    return read_csv(path, required)


def _number(value: str, where: str, field: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise DatasetError(f"{where}: {field} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise DatasetError(f"{where}: {field} {value!r} is not finite")
    return x


def read_relations(dataset: Dataset, artists: set[str], oracle: str) -> list[tuple[str, str, float]]:
    """The undirected edges of ``artist_relations.csv`` as ``(a, b, weight)``; each pair at
    most once, no self-loops, weights finite and >= 0, both ends canonical artists of the
    dataset (``artists``)."""
    path = dataset.root / RELATIONS_FILE
    _, rows = _read(dataset, RELATIONS_FILE, ("artist_a", "artist_b", "weight"), oracle)
    seen: dict[frozenset[str], int] = {}
    out = []
    for line, row in rows:
        where = f"{path}, line {line}"
        a, b = row["artist_a"].strip(), row["artist_b"].strip()
        for field, name in (("artist_a", a), ("artist_b", b)):
            if name not in artists:
                raise DatasetError(f"{where}: {field} {name!r} is no track's canonical_artist in "
                                   f"{dataset.root / 'tracks.csv'}")
        if a == b:
            raise DatasetError(f"{where}: artist {a!r} is related to itself")
        w = _number(row["weight"], where, "weight")
        if w < 0:
            raise DatasetError(f"{where}: weight {w} is negative")
        pair = frozenset((a, b))
        if pair in seen:
            raise DatasetError(f"{where}: the pair ({a!r}, {b!r}) is already on line {seen[pair]} "
                               "(edges are undirected: one row per pair)")
        seen[pair] = line
        out.append((a, b, w))
    return out


def read_latents(dataset: Dataset, oracle: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Latent column names and ``track_id -> float64 vector`` of ``track_latents.csv``;
    every track of the dataset must have one row. A view derived from a dataset (its
    manifest has ``derived``, e.g. the artist task's artist-disjoint view) reads its parent's
    file: rows of the tracks the view left out are skipped, not errors."""
    path = dataset.root / LATENTS_FILE
    header, rows = _read(dataset, LATENTS_FILE, ("track_id",), oracle)
    columns = [c for c in header if c != "track_id"]
    if not columns:
        raise DatasetError(f"{path}: no latent column besides track_id in header {header}")
    out: dict[str, np.ndarray] = {}
    derived = bool(dataset.manifest.get("derived"))
    for line, row in rows:
        where = f"{path}, line {line}"
        tid = row["track_id"]
        if tid not in dataset.tracks:
            if derived:
                continue
            raise DatasetError(f"{where}: track_id {tid!r} is not in {dataset.root / 'tracks.csv'}")
        if tid in out:
            raise DatasetError(f"{where}: duplicate track_id {tid!r}")
        out[tid] = np.array([_number(row[c], where, f"column {c!r}") for c in columns], dtype=np.float64)
    missing = [t for t in dataset.tracks if t not in out]
    if missing:
        raise DatasetError(f"{path}: no row for {len(missing)} of {len(dataset.tracks)} track(s) of "
                           f"{dataset.root / 'tracks.csv'} (first: {missing[:5]})")
    return columns, out


# ----------------------------------------------------------------------------- base class
class OracleEncoder(Encoder):
    """An encoder that reads the generator's hidden ground truth (see the module docstring).
    Subclasses implement :meth:`_build` (read what the oracle needs from a dataset, raising
    :class:`EncoderUnavailable` when it is not there) and :meth:`_vectors` (the rows of the
    requested tracks, computed from what ``_build`` returned)."""

    default_config: ClassVar[dict[str, Any]] = {}
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {"ci": {}, "quick": {}, "paper": {}}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._tables: dict[tuple[str, str], Any] = {}
        self._dim: int | None = None

    def _build(self, dataset: Dataset) -> Any:
        raise NotImplementedError

    def _vectors(self, table: Any, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def check_dataset(self, dataset: Dataset) -> None:
        self._table(dataset)

    def _table(self, dataset: Dataset) -> Any:
        """What the oracle read from ``dataset`` (read and checked once per dataset)."""
        key = (str(dataset.root.resolve()), dataset.content_hash)
        if key not in self._tables:
            self._tables[key] = self._build(dataset)
        return self._tables[key]

    def output_dim(self) -> int:
        if self._dim is None:
            raise RuntimeError(f"{self.name}: the dimension comes from the dataset; call embed() (or fit()) first")
        return self._dim

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        x = self._vectors(self._table(dataset), dataset, list(track_ids))
        self._dim = int(x.shape[1])
        return np.ascontiguousarray(x, dtype=np.float32)


class OneHotColumnOracle(OracleEncoder):
    """An oracle that one-hot encodes one ``tracks.csv`` ground-truth column (``column``)."""

    column: ClassVar[str] = ""

    def _build(self, dataset: Dataset) -> dict[str, int]:
        require_column(dataset, self.column, self.name)
        return vocabulary(dataset, self.column)

    def _vectors(self, table: dict[str, int], dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        return one_hot(column_values(dataset, self.column, track_ids), table)
