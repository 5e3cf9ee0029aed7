"""The canonical on-disk dataset format that every generator and importer writes.

A dataset is a folder::

    <root>/
      manifest.json     format tag, name, source, sample rate, clip length, parameters,
                        content hash (see :func:`content_hash`)
      tracks.csv        track_id,title,artist,album,audio,clip_start,split[,extra columns]
      playlists.csv     playlist_id,split,track_id   (row order = position in the playlist)
      checksums.csv     audio,sha256                 (one row per audio file)
      audio/...         the audio files, referenced relative to <root>
      [artist_relations.csv]  artist_a,artist_b,weight   (optional, generator ground truth)
      [track_latents.csv]     track_id,<latent columns>  (optional, generator ground truth)

``split`` is one of ``train``, ``valid``, ``test`` (benchmark splits) or ``pretrain``
(a pool of tracks that belong to no playlist, for encoders pre-trained before the
benchmark). A playlist only holds tracks of its own split. Everything else in the
project reads datasets only through :class:`Dataset`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_text

FORMAT_TAG = "larpbench-dataset/1"
SPLITS = ("train", "valid", "test")
TRACK_SPLITS = (*SPLITS, "pretrain")
TRACK_COLUMNS = ("track_id", "title", "artist", "album", "audio", "clip_start", "split")
PLAYLIST_COLUMNS = ("playlist_id", "split", "track_id")
CHECKSUM_COLUMNS = ("audio", "sha256")
#: Written last by :func:`write_dataset`: a folder without it is not (yet) a dataset.
MANIFEST = "manifest.json"


class DatasetError(ValueError):
    """A malformed dataset; the message names the file and, where known, the row."""


def is_dataset_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a finished dataset folder (it has a manifest, which is written
    last). Cheap: reads nothing; :class:`Dataset` checks the contents."""
    return (Path(path) / MANIFEST).is_file()


def caption_for(title: str, artist: str, album: str) -> str:
    """The paper's caption template: ``The track <title> by <artist> on album <album>``."""
    return f"The track {title} by {artist} on album {album}"


@dataclass(frozen=True)
class Track:
    track_id: str
    title: str
    artist: str
    album: str
    audio: str  # path relative to the dataset root
    clip_start: float  # seconds
    split: str
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def caption(self) -> str:
        return caption_for(self.title, self.artist, self.album)


# ----------------------------------------------------------------------------- helpers
def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


#: Optional files that, when present, are part of the content hash (generator ground truth).
HASHED_OPTIONAL = ("artist_relations.csv", "track_latents.csv")


def content_hash(root: Path, params: dict[str, Any] | None = None) -> str:
    """sha256 over tracks.csv, playlists.csv and checksums.csv (which pins every audio file),
    the optional ground-truth files of :data:`HASHED_OPTIONAL` that exist, and the manifest's
    ``params`` (canonical JSON; read from ``manifest.json`` when not given), so two datasets
    built with different generator settings never share a hash."""
    if params is None:
        manifest = root / MANIFEST
        params = json.loads(manifest.read_text()).get("params", {}) if manifest.exists() else {}
    h = hashlib.sha256()
    for name in ("tracks.csv", "playlists.csv", "checksums.csv"):
        h.update(name.encode())
        h.update(sha256_file(root / name).encode())
    for name in HASHED_OPTIONAL:
        if (root / name).exists():
            h.update(name.encode())
            h.update(sha256_file(root / name).encode())
    h.update(b"params")
    h.update(json.dumps(params or {}, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def read_csv(path: Path, required: Sequence[str]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A table's header and ``(line, row)`` pairs; a missing file, non-UTF-8 bytes, a missing
    column or a malformed record is a :class:`DatasetError` naming the file and line."""
    if not path.is_file():
        raise DatasetError(f"{path}: file is missing")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DatasetError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset "
                           f"{e.start}); tables must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows = []
    start = 1  # the physical line a record starts on (a quoted field may span lines)
    try:
        header = list(reader.fieldnames or [])
        missing = [c for c in required if c not in header]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)} in header {header}")
        start = reader.line_num + 1
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise DatasetError(f"{path}, line {start}: wrong number of fields")
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as e:
        raise DatasetError(f"{path}, line {start}: malformed CSV record ({e}); an unbalanced quote "
                           "swallows the lines after it") from None
    return header, rows


def resolve_inside(root: Path, relative: str, *, where: str) -> Path:
    """Resolve ``relative`` against ``root`` and refuse paths that escape the root."""
    if not relative:
        raise DatasetError(f"{where}: empty audio path")
    if os.path.isabs(relative):
        raise DatasetError(f"{where}: audio path {relative!r} is absolute; it must be relative to the dataset root")
    root_resolved = root.resolve()
    full = (root_resolved / relative).resolve()
    if full != root_resolved and root_resolved not in full.parents:
        raise DatasetError(f"{where}: audio path {relative!r} points outside the dataset root {root}")
    return full


# ----------------------------------------------------------------------------- writer
def write_dataset(
    root: Path,
    *,
    name: str,
    source: str,
    sample_rate: int,
    clip_seconds: float,
    tracks: Sequence[Track],
    playlists: Sequence[tuple[str, str, Sequence[str]]],
    params: dict[str, Any] | None = None,
    artist_relations: Sequence[tuple[str, str, float]] | None = None,
    extra_columns: Sequence[str] = (),
    card: str | None = None,
    track_latents: tuple[Sequence[str], Sequence[Sequence[Any]]] | None = None,
) -> Path:
    """Write tables, checksums and manifest for audio files already placed under ``root``.

    ``playlists`` holds ``(playlist_id, split, [track_id, ...])``. The manifest is
    written last, so a folder without ``manifest.json`` is an unfinished build.
    """
    root = Path(root)
    (root / MANIFEST).unlink(missing_ok=True)
    _write_csv(
        root / "tracks.csv",
        (*TRACK_COLUMNS, *extra_columns),
        (
            (t.track_id, t.title, t.artist, t.album, t.audio, f"{t.clip_start:.3f}", t.split,
             *(t.extra.get(c, "") for c in extra_columns))
            for t in tracks
        ),
    )
    _write_csv(
        root / "playlists.csv",
        PLAYLIST_COLUMNS,
        ((pid, split, tid) for pid, split, tids in playlists for tid in tids),
    )
    _write_csv(
        root / "checksums.csv",
        CHECKSUM_COLUMNS,
        sorted({(t.audio, sha256_file(resolve_inside(root, t.audio, where=f"track {t.track_id}")))
                for t in tracks}),
    )
    if artist_relations is not None:
        _write_csv(root / "artist_relations.csv", ("artist_a", "artist_b", "weight"),
                   ((a, b, f"{w:.6g}") for a, b, w in artist_relations))
    if track_latents is not None:  # (latent column names, rows of track_id + values)
        names, rows = track_latents
        _write_csv(root / "track_latents.csv", ("track_id", *names), rows)
    if card is not None:
        atomic_write_text(root / "README.md", card)
    manifest = {
        "format": FORMAT_TAG,
        "name": name,
        "source": source,
        "sample_rate": int(sample_rate),
        "clip_seconds": float(clip_seconds),
        "params": params or {},
        "content_hash": content_hash(root, params or {}),
    }
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return root


def wav_declared_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE file's ``data`` chunk header declares (``None`` for other formats
    or an unreadable header). libsndfile reports the frames actually present, so a WAV cut
    short would otherwise pass as a short file and be padded silently."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size + (size & 1))
                    if len(fmt) < 14:
                        return None
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                elif cid == b"data":
                    return size // block_align if block_align else None
                else:
                    f.seek(size + (size & 1), 1)
    except OSError:
        return None


#: The one rule for short audio (every audio encoder reads through :meth:`Dataset.load_audio`).
SHORT_AUDIO_POLICY = ("a clip that runs past the end of its file is padded with silence; a file that "
                      "decodes to fewer frames than its header declares, or a clip_start past its end, "
                      "is an error naming the file and track")


# ----------------------------------------------------------------------------- reader
class Dataset:
    """A dataset folder in the canonical format, loaded and structurally checked."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        mpath = self.root / MANIFEST
        if not mpath.is_file():
            raise DatasetError(f"{mpath}: no manifest; not a dataset, or an unfinished build")
        try:
            self.manifest: dict[str, Any] = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DatasetError(f"{mpath}: invalid JSON ({e})") from e
        for key in ("format", "name", "sample_rate", "clip_seconds", "content_hash"):
            if key not in self.manifest:
                raise DatasetError(f"{mpath}: missing field {key!r}")
        if self.manifest["format"] != FORMAT_TAG:
            raise DatasetError(f"{mpath}: format {self.manifest['format']!r}, expected {FORMAT_TAG!r}")
        self.name: str = self.manifest["name"]
        self.sample_rate: int = int(self.manifest["sample_rate"])
        self.clip_seconds: float = float(self.manifest["clip_seconds"])
        self._load_tables()

    # -- loading -----------------------------------------------------------------------
    def _load_tables(self) -> None:
        tpath = self.root / "tracks.csv"
        header, rows = read_csv(tpath, TRACK_COLUMNS)
        self.extra_columns = [c for c in header if c not in TRACK_COLUMNS]
        self.tracks: dict[str, Track] = {}
        for line, row in rows:
            where = f"{tpath}, line {line}"
            tid = row["track_id"]
            if not tid:
                raise DatasetError(f"{where}: empty track_id")
            if tid in self.tracks:
                raise DatasetError(f"{where}: duplicate track_id {tid!r}")
            if row["split"] not in TRACK_SPLITS:
                raise DatasetError(f"{where}: split {row['split']!r} not one of {TRACK_SPLITS}")
            for col in ("title", "artist", "album"):
                if not row[col].strip():
                    raise DatasetError(f"{where}: empty {col} (captions need title, artist and album)")
            try:
                start = float(row["clip_start"])
            except ValueError:
                raise DatasetError(f"{where}: clip_start {row['clip_start']!r} is not a number") from None
            if not np.isfinite(start) or start < 0:
                raise DatasetError(f"{where}: clip_start {start} must be a finite number >= 0")
            resolve_inside(self.root, row["audio"], where=where)
            self.tracks[tid] = Track(tid, row["title"], row["artist"], row["album"], row["audio"],
                                     start, row["split"], {c: row[c] for c in self.extra_columns})

        ppath = self.root / "playlists.csv"
        _, prow = read_csv(ppath, PLAYLIST_COLUMNS)
        self.playlists: dict[str, list[str]] = {}
        self.playlist_split: dict[str, str] = {}
        seen: dict[str, set[str]] = {}
        for line, row in prow:
            where = f"{ppath}, line {line}"
            pid, split, tid = row["playlist_id"], row["split"], row["track_id"]
            if split not in SPLITS:
                raise DatasetError(f"{where}: split {split!r} not one of {SPLITS}")
            if tid not in self.tracks:
                raise DatasetError(f"{where}: track_id {tid!r} is not in tracks.csv")
            tsplit = self.tracks[tid].split
            if tsplit != split:
                raise DatasetError(
                    f"{where}: track {tid!r} of split {tsplit!r} in {split!r} playlist {pid!r} "
                    "(cold-start leakage: playlists may only hold tracks of their own split)"
                )
            if self.playlist_split.setdefault(pid, split) != split:
                raise DatasetError(f"{where}: playlist {pid!r} appears in two splits")
            if tid in seen.setdefault(pid, set()):
                raise DatasetError(f"{where}: track {tid!r} repeated in playlist {pid!r}")
            seen[pid].add(tid)
            self.playlists.setdefault(pid, []).append(tid)
        for pid, tids in self.playlists.items():
            if len(tids) < 2:
                raise DatasetError(f"{ppath}: playlist {pid!r} has {len(tids)} track(s); at least 2 are needed")

    # -- access --------------------------------------------------------------------------
    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])

    def track_ids(self, split: str) -> list[str]:
        """Ids of the tracks of ``split`` in file order."""
        if split not in TRACK_SPLITS:
            raise ValueError(f"unknown split {split!r}")
        return [t.track_id for t in self.tracks.values() if t.split == split]

    def playlist_ids(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        return [p for p, s in self.playlist_split.items() if s == split]

    def caption(self, track_id: str) -> str:
        return self.tracks[track_id].caption

    def audio_path(self, track_id: str) -> Path:
        t = self.tracks[track_id]
        return resolve_inside(self.root, t.audio, where=f"track {track_id}")

    def load_audio(self, track_id: str, sample_rate: int | None = None,
                   seconds: float | None = None) -> np.ndarray:
        """The track's clip as mono float32 at ``sample_rate`` (default: the dataset's).

        Reads ``seconds`` (default: the manifest's clip length) from ``clip_start`` and
        resamples with a polyphase filter. :data:`SHORT_AUDIO_POLICY`: a file that ends before
        the clip does is padded with silence; a file that decodes to fewer frames than its
        header declares is corrupt (:class:`DatasetError`), and so is a ``clip_start`` past
        the end of the file.
        """
        import soundfile as sf

        t = self.tracks[track_id]
        path = self.audio_path(track_id)
        seconds = self.clip_seconds if seconds is None else seconds
        where = f"{path} (track {track_id})"
        if not path.is_file():
            raise DatasetError(f"{where}: audio file is missing")
        try:
            info = sf.info(str(path))
            start = round(t.clip_start * info.samplerate)
            n = round(seconds * info.samplerate)
            if info.frames > 0 and start >= info.frames:
                raise DatasetError(f"{where}: clip_start {t.clip_start} s is past the end of the file "
                                   f"({info.frames / info.samplerate:.3f} s)")
            data, sr = sf.read(str(path), start=start, frames=n, dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as e:
            raise DatasetError(f"{where}: unreadable audio ({e})") from e
        header_frames = max(info.frames, wav_declared_frames(path) or 0)
        declared = min(n, max(0, header_frames - start))
        if data.shape[0] < declared:
            raise DatasetError(f"{where}: decodes to {start + data.shape[0]} frames but its header declares "
                               f"{header_frames}: the file is truncated or corrupt")
        wav = data.mean(axis=1)
        if wav.shape[0] < n:  # a file shorter than the clip: padded with silence (SHORT_AUDIO_POLICY)
            wav = np.pad(wav, (0, n - wav.shape[0]))
        target = self.sample_rate if sample_rate is None else sample_rate
        if target != sr:
            wav = resample(wav, sr, target)
        return np.ascontiguousarray(wav, dtype=np.float32)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "root": str(self.root), "hash": self.content_hash[:12]}
        for s in TRACK_SPLITS:
            out[f"{s}_tracks"] = len(self.track_ids(s))
        for s in SPLITS:
            out[f"{s}_playlists"] = len(self.playlist_ids(s))
        return out

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, root={str(self.root)!r}, tracks={len(self.tracks)}, playlists={len(self.playlists)})"


def resample(wav: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling ``sr_from`` -> ``sr_to`` (scipy), float32 out."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(sr_from), int(sr_to))
    return resample_poly(wav, int(sr_to) // g, int(sr_from) // g).astype(np.float32)
