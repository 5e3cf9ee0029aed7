"""``precomputed``: embeddings read from a file — the way to plug in Jukebox or any model
that runs outside this project.

Accepted files (``config.path``):

* ``X.safetensors`` with a 2-D tensor ``embeddings`` and the track ids, in row order, as
  a JSON list under the metadata key ``track_ids`` (the format of this project's
  embedding cache, :func:`benchmark.harness.embeddings.save_embeddings`);
* ``X.npy`` (a 2-D array, loaded with ``allow_pickle=False``) plus a sidecar with the
  track ids in row order: ``X.txt`` (one id per line) or ``X.json`` (a JSON list), or any
  file given as ``config.ids_path``.

Producing one, e.g. for Jukebox (Castellon et al.: layer 36 of the 5B prior,
mean-pooled, 4800-d)::

    from safetensors.numpy import save_file
    save_file({"embeddings": vectors.astype("float32")}, "jukebox.safetensors",
              metadata={"track_ids": json.dumps(track_ids)})

The embedding dimension comes from the file. Every requested track must be in it
(otherwise :class:`PrecomputedError` says how many are missing and names a few). Set
``config.sha256`` to the file's hash to pin it: the embedding cache is keyed on the
config, so a pinned hash also keys the cache on the file's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders.base import Encoder, EncoderMeta, EncoderUnavailable

_HOWTO = (
    "Give config.path = a .safetensors file (2-D tensor 'embeddings', track ids as a JSON list in "
    "its metadata key 'track_ids') or a .npy array with a sidecar of track ids in row order "
    "(same stem, .txt one id per line or .json list; or config.ids_path). To produce one: "
    "safetensors.numpy.save_file({'embeddings': X.astype('float32')}, 'emb.safetensors', "
    "metadata={'track_ids': json.dumps(ids)}) — see encoders/precomputed.py and docs/encoders.md"
)


class PrecomputedError(ValueError):
    """A precomputed-embedding file that does not fit the request (missing ids, bad shape)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _sha256_cached(path: Path) -> str:
    """sha256 of ``path``, recomputed when its size or modification time changes."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = _sha256(path)
    return _SHA_CACHE[key]


def _read_ids(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        ids = json.loads(text)
        if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
            raise PrecomputedError(f"{path}: expected a JSON list of track ids")
        return [str(i) for i in ids]
    return [line.strip() for line in text.splitlines() if line.strip()]


class PrecomputedEncoder(Encoder):
    meta = EncoderMeta(
        name="precomputed",
        version="1",
        description="Embeddings read from a .npy (+ ids sidecar) or .safetensors file "
                    "(Jukebox or any external model)",
        dim=None,  # read from the file
        sample_rate=None,
        modalities=("precomputed",),
        trains=False,
        trains_on="nothing (whatever produced the file)",
        weights="whatever model produced the file (see config.path)",
        citation="Cite the model that produced the file, e.g. Castellon, Donahue & Liang, Codified "
                 "audio language modeling learns useful representations for music information "
                 "retrieval, ISMIR 2021 (Jukebox features)",
        requires=("safetensors",),
        paper_row=None,
        tags=("external",),
        weights_source="the embeddings file at config.path (whatever model produced it)",
        licence_code="MIT (reader only)",
        licence_weights="that of the model that produced the file (not known to larpbench)",
        output_libraries=("safetensors", "numpy"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "path": None,  # .npy or .safetensors
        "ids_path": None,  # sidecar for .npy; None = same stem with .txt, then .json
        "sha256": None,  # expected hash of `path`; verified when set
        "normalize": False,  # L2-normalise rows
        "label": None,  # free text naming the producing model (e.g. "jukebox-5b-l36"); recorded only
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {"ci": {}, "quick": {}, "paper": {}}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._ids: list[str] | None = None
        self._rows: dict[str, int] | None = None
        self._matrix: np.ndarray | None = None

    # -- locating ----------------------------------------------------------------------
    def _path(self) -> Path:
        p = self.config["path"]
        if p is None:
            raise EncoderUnavailable(f"precomputed: config.path is not set. {_HOWTO}")
        path = Path(p).expanduser()
        if not path.is_file():
            raise EncoderUnavailable(f"precomputed: file {path} does not exist. {_HOWTO}")
        if path.suffix not in (".npy", ".safetensors"):
            raise EncoderUnavailable(f"precomputed: {path} is neither .npy nor .safetensors. {_HOWTO}")
        return path

    def _ids_path(self, path: Path) -> Path:
        if self.config["ids_path"] is not None:
            p = Path(self.config["ids_path"]).expanduser()
            if not p.is_file():
                raise EncoderUnavailable(f"precomputed: ids file {p} does not exist")
            return p
        for suffix in (".txt", ".json"):
            p = path.with_suffix(suffix)
            if p.is_file():
                return p
        raise EncoderUnavailable(
            f"precomputed: {path} needs a track-id sidecar {path.with_suffix('.txt')} (one id per "
            f"line) or {path.with_suffix('.json')} (JSON list), or config.ids_path"
        )

    def input_fingerprint(self) -> dict[str, Any]:
        """The sha256 of the feature file and of its id sidecar (computed once per file state)."""
        try:
            path = self._path()
            ids = self._ids_path(path) if path.suffix == ".npy" else None
        except EncoderUnavailable:
            return {}
        out = {"features_sha256": _sha256_cached(path)}
        if ids is not None:
            out["ids_sha256"] = _sha256_cached(ids)
        return out

    def check_available(self) -> None:
        super().check_available()
        path = self._path()
        if path.suffix == ".npy":
            self._ids_path(path)

    # -- loading -----------------------------------------------------------------------
    def _load(self) -> tuple[list[str], np.ndarray]:
        if self._matrix is not None and self._ids is not None:
            return self._ids, self._matrix
        path = self._path()
        want = self.config["sha256"]
        if want is not None:
            got = _sha256(path)
            if got != str(want).lower():
                raise PrecomputedError(f"{path}: sha256 {got} differs from config.sha256 {want}")
        if path.suffix == ".npy":
            try:
                matrix = np.load(path, mmap_mode="r", allow_pickle=False)
            except ValueError as e:
                raise PrecomputedError(f"{path}: cannot load without pickle ({e}); save a numeric array") from e
            ids = _read_ids(self._ids_path(path))
        else:
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(str(path), framework="numpy") as f:
                    meta = f.metadata() or {}
                    if "embeddings" not in f.keys():
                        raise PrecomputedError(f"{path}: no tensor 'embeddings' (has {list(f.keys())})")
                    matrix = f.get_tensor("embeddings")
            except SafetensorError as e:
                raise PrecomputedError(f"{path}: not a readable safetensors file ({e})") from e
            if "track_ids" not in meta:
                raise PrecomputedError(f"{path}: metadata has no 'track_ids' (JSON list of ids in row order)")
            try:
                ids = [str(i) for i in json.loads(meta["track_ids"])]
            except json.JSONDecodeError as e:
                raise PrecomputedError(f"{path}: metadata 'track_ids' is not JSON ({e})") from e
        if matrix.ndim != 2 or matrix.shape[1] < 1:
            raise PrecomputedError(f"{path}: embeddings must be 2-D [n, d], got shape {matrix.shape}")
        if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(matrix.dtype, np.complexfloating):
            raise PrecomputedError(f"{path}: embeddings must be real numbers, got dtype {matrix.dtype}")
        if len(ids) != matrix.shape[0]:
            raise PrecomputedError(f"{path}: {matrix.shape[0]} rows but {len(ids)} track ids")
        rows: dict[str, int] = {}
        dups = []
        for i, t in enumerate(ids):
            if t in rows:
                dups.append(t)
            rows[t] = i
        if dups:
            raise PrecomputedError(f"{path}: {len(dups)} duplicated track id(s), e.g. {dups[:5]}")
        self._ids, self._rows, self._matrix = ids, rows, matrix
        return ids, matrix

    def output_dim(self) -> int:
        path = self._path()
        if self._matrix is not None:
            return int(self._matrix.shape[1])
        if path.suffix == ".npy":
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        else:
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as f:
                if "embeddings" not in f.keys():
                    raise PrecomputedError(f"{path}: no tensor 'embeddings'")
                shape = tuple(f.get_slice("embeddings").get_shape())
        if len(shape) != 2:
            raise PrecomputedError(f"{path}: embeddings must be 2-D [n, d], got shape {shape}")
        return int(shape[1])

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        _, matrix = self._load()
        assert self._rows is not None
        missing = [t for t in track_ids if t not in self._rows]
        if missing:
            raise PrecomputedError(
                f"precomputed: {len(missing)} of {len(track_ids)} requested track(s) are not in "
                f"{self.config['path']} (first: {missing[:5]}); the file has {len(self._rows)} ids"
            )
        idx = np.fromiter((self._rows[t] for t in track_ids), dtype=np.int64, count=len(track_ids))
        out = np.asarray(matrix[idx], dtype=np.float32)
        if not np.isfinite(out).all():
            bad = [track_ids[i] for i in np.flatnonzero(~np.isfinite(out).all(axis=1))[:5]]
            raise PrecomputedError(f"precomputed: non-finite values in the rows of {bad} in {self.config['path']}")
        if self.config["normalize"]:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(out, dtype=np.float32)
