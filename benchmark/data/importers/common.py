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
import functools
import shutil
from collections.abc import Callable, Iterator, Sequence
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
class _Utf8Lines:
    """Lines of a binary stream decoded one at a time, so a byte that is not UTF-8 is
    reported with its file and line number."""

    def __init__(self, raw: io.BufferedIOBase, path: Path) -> None:
        self.raw, self.path, self.line = raw, path, 0

    def readline(self) -> str:
        return next(self, "")

    def __iter__(self) -> _Utf8Lines:
        return self

    def __next__(self) -> str:
        data = self.raw.readline()
        if not data:
            raise StopIteration
        self.line += 1
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ImportFormatError(f"{self.path}, line {self.line}: not UTF-8 text (byte 0x{data[e.start]:02x} "
                                    f"at column {e.start + 1}); the file must be UTF-8") from None

    def __enter__(self) -> _Utf8Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def open_text(path: Path) -> _Utf8Lines:
    """Open a text file, transparently decompressing ``.bz2``, ``.gz`` and ``.xz``; lines are
    decoded as UTF-8 one at a time (errors name the line)."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    opener = {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}.get(suffix)
    raw = opener(path, "rb") if opener else open(path, "rb")
    return _Utf8Lines(raw, path)


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
    try:
        yield from _read_table(path, required, optional or {})
    except (EOFError, OSError, lzma.LZMAError) as e:
        raise ImportFormatError(f"{path}: the file is truncated or damaged ({type(e).__name__}: {e})") from None
    except csv.Error as e:
        raise ImportFormatError(f"{path}: malformed line ({e})") from None


def _read_table(path: Path, required: dict[str, Sequence[str]], optional: dict[str, Sequence[str]],
                ) -> Iterator[tuple[int, dict[str, str]]]:
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


#: what an import writes into its output folder; an existing folder holding anything else
#: is the user's and is never replaced
DATASET_ENTRIES = frozenset({"manifest.json", "tracks.csv", "playlists.csv", "checksums.csv", "audio",
                             REPORT_NAME, "README.md", "artist_relations.csv"})
_STAGED: dict[Path, Path] = {}  # staging folder -> the output folder it becomes


def prepare_out_root(out_root: str | Path, overwrite: bool,
                     inputs: Sequence[str | Path | None] = ()) -> Path:
    """A staging folder beside ``out_root`` that the import writes into; :func:`finish`
    publishes it as ``out_root`` in one rename (an older dataset there is swapped out, never
    half-replaced). ``inputs`` are the files and folders the import reads, which must not
    lie inside ``out_root`` (:func:`refuse_inputs_inside`). A failed import leaves nothing:
    wrap importers in :func:`staged`."""
    root = Path(out_root)
    refuse_inputs_inside(root, inputs)
    if root.exists():
        if not root.is_dir():
            raise ImportFormatError(f"{root}: exists and is not a folder")
        if is_dataset_dir(root) and not overwrite:
            raise ImportFormatError(f"{root}: already holds a dataset (manifest.json); pass overwrite=True "
                                    "(--overwrite) to replace it")
        foreign = sorted(p.name for p in root.iterdir() if p.name not in DATASET_ENTRIES)
        if foreign:
            raise ImportFormatError(f"{root}: holds files that are not part of a dataset ({', '.join(foreign[:5])}"
                                    f"{' …' if len(foreign) > 5 else ''}); choose an empty or new output folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".{root.name}.importing-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    _STAGED[staging] = root
    return staging


def publish(staging: Path) -> Path:
    """Move a finished staging folder to its output folder; returns the output folder."""
    root = _STAGED.pop(staging, staging)
    if root == staging:
        return root
    if root.exists():
        old = root.parent / f".{root.name}.replaced-{os.getpid()}"
        os.replace(root, old)
        os.replace(staging, root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, root)
    return root


def staged(importer: Callable[..., Dataset]) -> Callable[..., Dataset]:
    """Decorator: a failed import removes the staging folders it created (nothing half-written
    and no empty output folder is left behind)."""

    @functools.wraps(importer)
    def run(*args: Any, **kwargs: Any) -> Dataset:
        before = set(_STAGED)
        try:
            return importer(*args, **kwargs)
        except BaseException:
            for staging in set(_STAGED) - before:
                _STAGED.pop(staging, None)
                shutil.rmtree(staging, ignore_errors=True)
            raise

    return run


@dataclass
class Meta:
    title: str
    artist: str
    album: str
    extra: dict[str, str] = field(default_factory=dict)


def finish(root: Path, *, name: str, source: str, sample_rate: int, clip_seconds: float,
           tracks: list[Track], playlists: list[tuple[str, str, list[str]]], params: dict[str, Any],
           report: ImportReport, extra_columns: Sequence[str] = (), card: str | None = None,
           echo: bool = True, require_train: bool = True) -> Dataset:
    """Drop playlists that fell under two tracks, write the dataset and the report, publish it.
    ``require_train``: an import that leaves no training playlist is an error (size options
    or audio that select nothing), unless the source has no train split by design."""
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
    if require_train and not any(sp == "train" for _, sp, _ in ok):
        raise ImportFormatError(f"{report.source} import: no training playlist is left (counts: {report.counts}); "
                                "check the size options and the audio folder")
    write_dataset(root, name=name, source=source, sample_rate=sample_rate, clip_seconds=clip_seconds,
                  tracks=tracks, playlists=ok, params=params, extra_columns=extra_columns, card=card)
    report.write(root, echo=False)
    out = publish(root)
    if echo:
        report.echo(out / REPORT_NAME)
    return Dataset(out)


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
