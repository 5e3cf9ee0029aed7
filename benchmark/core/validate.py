"""Deep validation of a dataset folder beyond the structural checks done at load time.

Load time (:class:`~benchmark.core.dataset.Dataset`) already rejects duplicate ids,
empty caption fields, playlists under 2 tracks, tracks of one split in a playlist of
another (cold-start leakage), and paths outside the dataset root. This module adds the
checks that read the audio: missing or unreadable files, checksum mismatches, and a
content hash that no longer matches the tables.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.core.dataset import Dataset, DatasetError, _read_csv, content_hash, sha256_file


def validate(root: str | Path, *, audio: bool = True, checksums: bool = True) -> Dataset:
    """Load ``root`` and check it deeply; raises :class:`DatasetError` naming file and row."""
    ds = Dataset(root)
    root = ds.root
    actual = content_hash(root)
    if actual != ds.content_hash:
        raise DatasetError(f"{root / 'manifest.json'}: content_hash {ds.content_hash[:12]}… does not "
                           f"match the tables ({actual[:12]}…); the dataset was edited after it was built")
    cpath = root / "checksums.csv"
    _, rows = _read_csv(cpath, ("audio", "sha256"))
    expected = {row["audio"]: (line, row["sha256"]) for line, row in rows}
    line_of = {}
    _, trows = _read_csv(root / "tracks.csv", ("track_id",))
    for line, row in trows:
        line_of[row["track_id"]] = line
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
        if checksums:
            cline, digest = expected[t.audio]
            if sha256_file(path) != digest:
                raise DatasetError(f"{cpath}, line {cline}: sha256 of {t.audio!r} does not match the file")
    return ds
