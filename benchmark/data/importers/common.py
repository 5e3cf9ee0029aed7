"""Helpers shared by the importers: errors that name the file and record, an index of
audio files by track identifier, clip starts, placing audio, and the import report."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataset import Dataset, DatasetError, Track, is_dataset_dir, write_dataset

REPORT_NAME = "import_report.json"


class ImportFormatError(DatasetError):
    """Malformed input; the message names the file and the line or record."""


class PickleRefusedError(ImportFormatError):
    """A pickle file was not read because the caller did not say it trusts it."""


# ----------------------------------------------------------------------------- reading
def open_text(path: Path) -> io.TextIOBase:
    """Open a text file, transparently decompressing ``.bz2``, ``.gz`` and ``.xz``."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return io.TextIOWrapper(bz2.open(path, "rb"), encoding="utf-8", newline="")
    if suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    if suffix == ".xz":
        return io.TextIOWrapper(lzma.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def sniff_delimiter(path: Path, header: str) -> str:
    name = Path(path).name.lower()
    if ".tsv" in name or "\t" in header:
        return "\t"
    return ","


def read_table(path: Path, required: dict[str, Sequence[str]], optional: dict[str, Sequence[str]] | None = None,
               ) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream ``(line number, row)`` from a TSV/CSV file with a header line.

    ``required``/``optional`` map a canonical column name to the header names accepted
    for it (first match wins); rows come back keyed by canonical names. A row with the
    wrong number of fields or an empty required value raises :class:`ImportFormatError`
    naming the file and line.
    """
    optional = optional or {}
    f = open_text(path)
    with f:
        header_line = f.readline()
        if not header_line:
            raise ImportFormatError(f"{path}, line 1: empty file (a header line is required)")
        delim = sniff_delimiter(path, header_line)
        header = next(csv.reader([header_line.rstrip("\r\n")], delimiter=delim))
        header = [h.strip().lstrip("\ufeff") for h in header]
        lower = {h.lower(): i for i, h in enumerate(header)}
        cols: dict[str, int] = {}
        for canon, names in {**required, **optional}.items():
            for n in names:
                if n.lower() in lower:
                    cols[canon] = lower[n.lower()]
                    break
        missing = [f"{c} (one of {', '.join(required[c])})" for c in required if c not in cols]
        if missing:
            raise ImportFormatError(f"{path}, line 1: missing column(s) {'; '.join(missing)} in header {header}")
        reader = csv.reader(f, delimiter=delim, quoting=csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL)
        line = 1
        for fields in reader:
            line += 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != len(header):
                raise ImportFormatError(
                    f"{path}, line {line}: {len(fields)} field(s), the header has {len(header)}")
            row = {c: fields[i].strip() for c, i in cols.items()}
            for c in required:
                if not row[c]:
                    raise ImportFormatError(f"{path}, line {line}: empty {c}")
            yield line, row


# ----------------------------------------------------------------------------- audio
def readable_extensions() -> set[str]:
    try:
        import soundfile as sf

        exts = {f".{k.lower()}" for k in sf.available_formats()}
    except Exception:
        exts = {".wav", ".flac", ".ogg"}
    exts |= {".oga", ".opus", ".aif", ".aiff", ".wav", ".flac", ".ogg"}
    return exts


def bare_id(identifier: str) -> str:
    """``spotify:track:ID`` / ``spotify_track_ID`` / ``https://open.spotify.com/track/ID`` -> ``ID``."""
    s = identifier.strip()
    s = s.split("?")[0].rstrip("/")
    for sep in (":", "/"):
        if sep in s:
            s = s.rsplit(sep, 1)[-1]
    s = re.sub(r"^spotify[_-]track[_-]", "", s)
    return s


def lookup_keys(identifier: str) -> list[str]:
    """File stems under which a track's audio may be stored."""
    b = bare_id(identifier)
    keys = [identifier, b, f"spotify_track_{b}", f"spotify-track-{b}", f"spotify:track:{b}", safe_name(identifier)]
    return list(dict.fromkeys(k for k in keys if k))


def safe_name(identifier: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", identifier).strip("._") or "track"


class AudioIndex:
    """The readable audio files under a folder, by file stem (and LARP's clip layout
    ``<uri>/<uri>_<i>.<ext>``, which maps to ``<uri>`` with the lowest ``i``)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ImportFormatError(f"{self.folder}: audio folder not found")
        exts = readable_extensions()
        self.by_key: dict[str, Path] = {}
        self.ambiguous: dict[str, list[str]] = {}
        files = sorted(p for p in self.folder.rglob("*") if p.is_file() and p.suffix.lower() in exts)
        for p in files:
            stem = p.stem
            keys = [stem]
            m = re.match(r"^(.*)_(\d+)$", stem)
            if m and p.parent.name == m.group(1):
                keys.append(m.group(1))
            for k in keys:
                if k in self.by_key:
                    self.ambiguous.setdefault(k, [str(self.by_key[k])]).append(str(p))
                    continue
                self.by_key[k] = p
        self.n_files = len(files)

    def find(self, identifier: str) -> Path | None:
        for k in lookup_keys(identifier):
            if k in self.by_key:
                return self.by_key[k]
        return None


def audio_duration(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return float(info.frames) / float(info.samplerate)


def paper_clip_start(duration: float, clip_seconds: float, margin: float, rng: np.random.Generator) -> float:
    """The paper's clip: a random ``clip_seconds`` window that avoids the first and last
    ``margin`` seconds when the file is long enough, else any window that fits, else 0."""
    if duration >= clip_seconds + 2 * margin:
        return float(rng.uniform(margin, duration - margin - clip_seconds))
    if duration > clip_seconds:
        return float(rng.uniform(0.0, duration - clip_seconds))
    return 0.0


def track_rng(seed: int, identifier: str) -> np.random.Generator:
    import hashlib

    h = int.from_bytes(hashlib.sha256(identifier.encode()).digest()[:8], "little")
    return np.random.default_rng([seed & 0xFFFFFFFF, h])


def place_audio(src: Path, root: Path, track_id: str, mode: str = "hardlink") -> str:
    """Put ``src`` into ``root/audio/`` (hard link, falling back to a copy; or a copy) and
    return its path relative to ``root``. Symbolic links are not offered: the dataset
    reader resolves links and refuses audio outside the dataset folder."""
    if mode not in {"hardlink", "copy"}:
        raise ValueError(f"link mode {mode!r}: use 'hardlink' or 'copy'")
    rel = f"audio/{safe_name(track_id)}{src.suffix.lower()}"
    if (root / rel).exists():  # two ids with the same safe name: keep both apart
        import hashlib

        rel = f"audio/{safe_name(track_id)}-{hashlib.sha256(track_id.encode()).hexdigest()[:8]}{src.suffix.lower()}"
    dst = root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "hardlink":
        try:
            os.link(src, dst)
            return rel
        except OSError:
            pass
    shutil.copy2(src, dst)
    return rel


# ----------------------------------------------------------------------------- report
@dataclass
class ImportReport:
    source: str
    inputs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    missing_audio: list[dict[str, Any]] = field(default_factory=list)
    unreadable_audio: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({
            "source": self.source, "inputs": self.inputs, "options": self.options, "counts": self.counts,
            "missing_audio": self.missing_audio, "unreadable_audio": self.unreadable_audio,
            "warnings": self.warnings,
        }, indent=1, sort_keys=False, default=str) + "\n"

    def write(self, root: Path, *, echo: bool = True) -> Path:
        path = Path(root) / REPORT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        if echo:
            self.echo(path)
        return path

    def echo(self, path: Path) -> None:
        print(f"{self.source} import: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()
                                                   if not isinstance(v, dict)))
        for label, items in (("missing audio", self.missing_audio), ("unreadable audio", self.unreadable_audio)):
            if items:
                print(f"{len(items)} track(s) with {label} (dropped from their playlists; all listed in {path}):")
                for it in items[:20]:
                    print(f"  {it.get('track_id')}  ({it.get('split', '')}; {it.get('detail', 'no file found')})")
                if len(items) > 20:
                    print(f"  ... and {len(items) - 20} more")
        for w in self.warnings:
            print(f"warning: {w}")
        print(f"report: {path}")


def refuse_inputs_inside(out_root: str | Path, inputs: Sequence[str | Path | None]) -> None:
    """Refuse an import whose output folder contains one of its inputs.

    The importer writes (and with ``overwrite`` replaces) ``OUT/audio`` and the tables of
    ``OUT``; an input inside ``OUT`` could be overwritten or deleted, so the combination is
    an error before anything is touched. Paths are compared after resolving links.
    """
    root = Path(out_root).resolve()
    for given in inputs:
        if given is None:
            continue
        src = Path(given).resolve()
        if src == root or src.is_relative_to(root):
            raise ImportFormatError(
                f"{given}: this input lies inside the output folder {out_root}, which the import "
                f"writes and may replace; move the input out of it or choose another --out")


def prepare_out_root(out_root: str | Path, overwrite: bool,
                     inputs: Sequence[str | Path | None] = ()) -> Path:
    """Make ``out_root`` ready for a new dataset; ``inputs`` are the files and folders the
    import reads, which must not lie inside it (:func:`refuse_inputs_inside`)."""
    root = Path(out_root)
    refuse_inputs_inside(root, inputs)
    if is_dataset_dir(root) and not overwrite:
        raise ImportFormatError(f"{root}: already holds a dataset (manifest.json); pass overwrite=True to replace it")
    if overwrite and (root / "audio").is_dir():
        shutil.rmtree(root / "audio")
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").unlink(missing_ok=True)
    return root


@dataclass
class Meta:
    title: str
    artist: str
    album: str
    extra: dict[str, str] = field(default_factory=dict)


def finish(root: Path, *, name: str, source: str, sample_rate: int, clip_seconds: float,
           tracks: list[Track], playlists: list[tuple[str, str, list[str]]], params: dict[str, Any],
           report: ImportReport, extra_columns: Sequence[str] = (), card: str | None = None,
           echo: bool = True) -> Dataset:
    """Drop playlists that fell under two tracks, write the dataset and the report."""
    ok = [(pid, s, tids) for pid, s, tids in playlists if len(tids) >= 2]
    if len(ok) < len(playlists):
        report.counts["playlists_dropped_under_2_tracks"] = len(playlists) - len(ok)
    report.counts["tracks"] = len(tracks)
    for s in ("train", "valid", "test", "pretrain"):
        report.counts[f"{s}_tracks"] = sum(1 for t in tracks if t.split == s)
    for s in ("train", "valid", "test"):
        report.counts[f"{s}_playlists"] = sum(1 for _, sp, _ in ok if sp == s)
    report.counts["missing_audio"] = len(report.missing_audio)
    report.counts["unreadable_audio"] = len(report.unreadable_audio)
    params = {**params, "report": REPORT_NAME}
    write_dataset(root, name=name, source=source, sample_rate=sample_rate, clip_seconds=clip_seconds,
                  tracks=tracks, playlists=ok, params=params, extra_columns=extra_columns, card=card)
    report.write(root, echo=echo)
    return Dataset(root)


def nonempty(value: Any, default: str) -> str:
    s = "" if value is None else str(value).strip()
    if s.lower() == "nan":
        s = ""
    return s or default


def attach_audio(root: Path, index: AudioIndex, wanted: Sequence[tuple[str, str]], *, seed: int,
                 clip_seconds: float, margin: float, mode: str, report: ImportReport,
                 starts: dict[str, float] | None = None, report_missing: bool = True,
                 ) -> dict[str, tuple[str, float]]:
    """Find, check and place the audio of ``wanted`` ``(track id, split)`` pairs.

    Returns ``track id -> (audio path relative to root, clip start)`` for the tracks that
    have readable audio. Missing and unreadable files are recorded in ``report`` (unless
    ``report_missing`` is false: the optional pre-training pool). The clip start is
    ``starts[track]`` when given (clamped into the file), else the paper's random start.
    """
    import soundfile as sf

    out: dict[str, tuple[str, float]] = {}
    for tid, split in wanted:
        if tid in out:
            continue
        src = index.find(tid)
        if src is None:
            if report_missing:
                report.missing_audio.append({"track_id": tid, "split": split,
                                             "detail": f"no file named {' / '.join(lookup_keys(tid)[:3])}.* under {index.folder}"})
            continue
        try:
            duration = audio_duration(src)
        except (RuntimeError, sf.LibsndfileError, OSError) as e:
            if report_missing:
                report.unreadable_audio.append({"track_id": tid, "split": split, "file": str(src),
                                                "detail": f"unreadable: {e}"})
            continue
        if starts is not None and tid in starts:
            start = max(0.0, min(float(starts[tid]), max(0.0, duration - clip_seconds)))
        else:
            start = paper_clip_start(duration, clip_seconds, margin, track_rng(seed, tid))
        out[tid] = (place_audio(src, root, tid, mode), round(start, 3))
    return out


# ----------------------------------------------------------------------------- CLI adapters
def defaults_of(func: Any) -> dict[str, Any]:
    """The keyword defaults of an import function, so that its command-line options
    default to exactly what the function does."""
    import inspect

    return {k: p.default for k, p in inspect.signature(func).parameters.items()
            if p.default is not inspect.Parameter.empty}


def add_output_options(parser: Any, defaults: dict[str, Any]) -> None:
    """Options every import function has: the dataset name and how audio is placed."""
    name = defaults["name"]
    parser.add_argument("--name", default=name,
                        help="dataset name written into the manifest (default: "
                             + ("%(default)s)" if name else "chosen from the input)"))
    parser.add_argument("--link", default=defaults["link"], choices=["hardlink", "copy"],
                        help="hard-link the audio files (falling back to a copy) or copy them "
                             "(default: %(default)s)")
