"""Deep validation of a dataset folder beyond the structural checks done at load time.

Load time (:class:`~benchmark.core.dataset.Dataset`) already rejects duplicate ids,
empty caption fields, playlists under 2 tracks, tracks of one split in a playlist of
another (cold-start leakage), and paths outside the dataset root. This module adds the
checks that read the audio: missing or unreadable files, checksum mismatches, a
content hash that no longer matches the tables, clips that start past the end of their
file, leakage through shared audio (:func:`check_leakage`), and with ``deep`` a full
decode of every file (a truncated file whose header declares more frames is corrupt).
"""

from __future__ import annotations

from pathlib import Path

from benchmark.core.dataset import (
    Dataset,
    DatasetError,
    content_hash,
    read_csv,
    sha256_file,
    wav_declared_frames,
)

SPLIT_GROUPS = ("train", "valid", "test", "pretrain")


def _checksum_rows(root: Path) -> dict[str, tuple[int, str]]:
    cpath = root / "checksums.csv"
    _, rows = read_csv(cpath, ("audio", "sha256"))
    return {row["audio"]: (line, row["sha256"]) for line, row in rows}


def _track_lines(root: Path) -> dict[str, int]:
    _, trows = read_csv(root / "tracks.csv", ("track_id",))
    return {row["track_id"]: line for line, row in trows}


def check_leakage(ds: Dataset) -> None:
    """Refuse tracks of different splits (train, valid, test, pre-training pool) that share
    an audio file, by path or by content (the sha256 of ``checksums.csv``): a model would
    see a test track's audio while training. Cheap: reads the tables only."""
    sums = _checksum_rows(ds.root)
    lines = _track_lines(ds.root)
    by_path: dict[str, tuple[str, str]] = {}
    by_bytes: dict[str, tuple[str, str]] = {}
    for tid, t in ds.tracks.items():
        for index, key in ((by_path, t.audio), (by_bytes, sums.get(t.audio, (0, ""))[1])):
            if not key:
                continue
            other = index.setdefault(key, (tid, t.split))
            if other[1] != t.split:
                how = f"the file {t.audio!r}" if index is by_path else f"identical audio bytes ({t.audio!r})"
                raise DatasetError(
                    f"{ds.root / 'tracks.csv'}, line {lines.get(tid, '?')}: track {tid} ({t.split}) shares "
                    f"{how} with track {other[0]} ({other[1]}, line {lines.get(other[0], '?')}): audio "
                    "leaks across splits")


def validate(root: str | Path, *, audio: bool = True, checksums: bool = True, deep: bool = False) -> Dataset:
    """Load ``root`` and check it; raises :class:`DatasetError` naming file and row.
    ``deep`` decodes every audio file completely (slow: reads all audio)."""
    ds = Dataset(root)
    root = ds.root
    actual = content_hash(root)
    if actual != ds.content_hash:
        raise DatasetError(f"{root / 'manifest.json'}: content_hash {ds.content_hash[:12]}… does not "
                           f"match the tables ({actual[:12]}…); the dataset was edited after it was built")
    cpath = root / "checksums.csv"
    expected = _checksum_rows(root)
    line_of = _track_lines(root)
    check_leakage(ds)
    import soundfile as sf

    for tid, t in ds.tracks.items():
        where = f"{root / 'tracks.csv'}, line {line_of.get(tid, '?')} (track {tid})"
        path = ds.audio_path(tid)
        if not path.is_file():
            raise DatasetError(f"{where}: audio file {t.audio!r} is missing")
        if t.audio not in expected:
            raise DatasetError(f"{where}: audio file {t.audio!r} has no row in {cpath}")
        if audio:
            try:
                info = sf.info(str(path))
            except Exception as e:
                raise DatasetError(f"{where}: audio file {t.audio!r} is unreadable ({e})") from e
            if info.frames == 0:
                raise DatasetError(f"{where}: audio file {t.audio!r} is empty")
            if t.clip_start * info.samplerate >= info.frames:
                raise DatasetError(f"{where}: clip_start {t.clip_start} s is past the end of {t.audio!r} "
                                   f"({info.frames / info.samplerate:.3f} s)")
            header_frames = max(info.frames, wav_declared_frames(path) or 0)
            if header_frames > info.frames:  # a WAV whose data chunk is shorter than its header says
                raise DatasetError(f"{where}: audio file {t.audio!r} holds {info.frames} frames but its header "
                                   f"declares {header_frames}: truncated or corrupt")
            if deep:
                try:
                    decoded = sf.read(str(path), dtype="float32", always_2d=True)[0].shape[0]
                except Exception as e:
                    raise DatasetError(f"{where}: audio file {t.audio!r} does not decode ({e})") from e
                if decoded < header_frames:
                    raise DatasetError(f"{where}: audio file {t.audio!r} decodes to {decoded} frames but its "
                                       f"header declares {header_frames}: truncated or corrupt")
        if checksums:
            cline, digest = expected[t.audio]
            if sha256_file(path) != digest:
                raise DatasetError(f"{cpath}, line {cline}: sha256 of {t.audio!r} does not match the file")
    return ds
