"""Import the splits LARP released (``datasets/{mpd,lfm}/{train,valid,test}.pkl`` of the
official repository, Rsalganik1123/LARP).

Each file is a pandas DataFrame of song-caption pairs: ``track_uri``, ``meta_caption``
(the official template ``"<track> is a song by the artist <artist> on the album
<album>"``), ``start`` and ``end`` (the 10 s clip inside the full track, seconds), and a
playlist column (``pid``; also accepted: ``playlist_id``, ``bundle_id``, ``user_id``,
``uid``, ``session_id``, or the one named by ``playlist_column``). When a file has no
playlist column, give ``interactions`` (a TSV/CSV with ``pid`` and ``track_uri``).
``track_name``/``artist_name``/``album_name`` columns are used when present, else the
caption is parsed. The same splits may also be given as ``{split}.csv``/``.tsv``.

Pickles can execute arbitrary code when loaded: they are read only with
``trust_pickle=True`` (CLI ``--trust-pickle``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.core.dataset import Dataset, Track
from ..base import DatasetImporter, DatasetMeta
from .common import (
    AudioIndex,
    ImportFormatError,
    ImportReport,
    PickleRefusedError,
    add_output_options,
    attach_audio,
    audio_duration,
    defaults_of,
    finish,
    nonempty,
    prepare_out_root,
    staged,
    read_table,
)

SPLITS = ("train", "valid", "test")
PLAYLIST_COLUMNS = ("pid", "playlist_id", "bundle_id", "user_id", "uid", "session_id")
_CAPTION_RES = (
    re.compile(r"^(?P<title>.*) is a song by the artist (?P<artist>.*) on the album (?P<album>.*)$", re.S),
    re.compile(r"^The track (?P<title>.*) by (?P<artist>.*) on album (?P<album>.*)$", re.S),
)


def parse_caption(caption: str) -> tuple[str, str, str] | None:
    """``(title, artist, album)`` of a LARP metadata caption (either template)."""
    for rx in _CAPTION_RES:
        m = rx.match(caption.strip())
        if m:
            return m.group("title").strip(), m.group("artist").strip(), m.group("album").strip()
    return None


def _split_file(folder: Path, split: str) -> Path | None:
    for ext in (".pkl", ".pickle", ".csv", ".tsv"):
        p = folder / f"{split}{ext}"
        if p.is_file():
            return p
    return None


def refuse_pickle_message(path: Path) -> str:
    return (f"{path}: refusing to read a pickle file: loading a pickle can execute arbitrary code. "
            "Pass trust_pickle=True (CLI: --trust-pickle) only for files from a source you trust, "
            "such as the official LARP repository, or convert the file to CSV first.")


def load_frame(path: Path, trust_pickle: bool):
    import pandas as pd

    if path.suffix in {".pkl", ".pickle"}:
        if not trust_pickle:
            raise PickleRefusedError(refuse_pickle_message(path))
        try:
            obj = pd.read_pickle(path)
        except Exception as e:
            raise ImportFormatError(f"{path}: unreadable pickle ({type(e).__name__}: {e})") from None
        if not isinstance(obj, pd.DataFrame):
            raise ImportFormatError(f"{path}: holds a {type(obj).__name__}, expected a pandas DataFrame")
        return obj
    sep = "\t" if path.suffix == ".tsv" else ","
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except Exception as e:
        raise ImportFormatError(f"{path}: unreadable table ({type(e).__name__}: {e})") from None


def _record(path: Path, i: int, row_label: Any) -> str:
    return f"{path}, record {i} (index {row_label!r})" + (f", line {i + 2}" if path.suffix in {".csv", ".tsv"} else "")


@staged
def import_larp_release(release_dir: str | Path, audio_dir: str | Path, out_root: str | Path, *,
                        trust_pickle: bool = False, dataset: str | None = None,
                        splits: Sequence[str] = SPLITS, playlist_column: str | None = None,
                        interactions: str | Path | None = None, clip_seconds: float = 10.0,
                        audio_is_clip: str = "auto", sample_rate: int = 16000, link: str = "hardlink",
                        seed: int = 0, name: str | None = None, overwrite: bool = False,
                        echo: bool = True) -> Dataset:
    """Import LARP's released split files + audio into the canonical format.

    ``release_dir`` is the folder holding ``{train,valid,test}.pkl`` or the repository's
    ``datasets/`` folder with ``dataset`` (``mpd`` or ``lfm``). ``audio_is_clip``:
    ``auto`` (files no longer than the clip are taken as the released 10 s clips, so
    their start is 0; longer files are cut at the released ``start``), ``yes`` or
    ``no``. A track listed in two split files stays in the first (train, valid, test)
    and is reported.
    """
    folder = Path(release_dir)
    if dataset:
        folder = folder / dataset
    if not folder.is_dir():
        raise ImportFormatError(f"{folder}: release folder not found")
    if audio_is_clip not in {"auto", "yes", "no"}:
        raise ValueError("audio_is_clip must be 'auto', 'yes' or 'no'")
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ValueError(f"unknown split(s) {bad}; use {SPLITS}")
    found = {s: _split_file(folder, s) for s in splits}
    if not any(found.values()):
        raise ImportFormatError(f"{folder}: none of {', '.join(f'{s}.pkl' for s in splits)} found")
    # refuse before touching anything else
    for p in found.values():
        if p is not None and p.suffix in {".pkl", ".pickle"} and not trust_pickle:
            raise PickleRefusedError(refuse_pickle_message(p))
    index = AudioIndex(audio_dir)
    root = prepare_out_root(out_root, overwrite, [folder, audio_dir, interactions])
    report = ImportReport("larp-release", inputs={"folder": str(folder), "files": {s: str(p) if p else None
                                                                                      for s, p in found.items()},
                                                  "audio_dir": str(audio_dir), "audio_files": index.n_files})
    report.options = {"playlist_column": playlist_column, "interactions": str(interactions) if interactions else None,
                      "clip_seconds": clip_seconds, "audio_is_clip": audio_is_clip, "link": link}
    for s, p in found.items():
        if p is None:
            report.warnings.append(f"{folder}: no {s} file (the public repository ships only valid and test)")

    inter: dict[str, list[str]] | None = None
    if interactions is not None:
        inter = {}
        for _, row in read_table(Path(interactions), {"pid": PLAYLIST_COLUMNS, "uri": ("track_uri", "uri")}):
            inter.setdefault(row["uri"], []).append(row["pid"])

    meta: dict[str, tuple[str, str, str, str]] = {}
    starts: dict[str, float] = {}
    split_of: dict[str, str] = {}
    playlists: dict[tuple[str, str], list[str]] = {}
    cross = 0
    for split in SPLITS:
        path = found.get(split)
        if path is None:
            continue
        df = load_frame(path, trust_pickle)
        cols = list(df.columns)
        if "track_uri" not in cols:
            raise ImportFormatError(f"{path}: no 'track_uri' column (columns: {cols})")
        pcol = playlist_column or next((c for c in PLAYLIST_COLUMNS if c in cols), None)
        if pcol is not None and pcol not in cols:
            raise ImportFormatError(f"{path}: no playlist column {pcol!r} (columns: {cols})")
        if pcol is None and inter is None:
            raise ImportFormatError(
                f"{path}: no playlist column (looked for {', '.join(PLAYLIST_COLUMNS)}; columns: {cols}); "
                "name it with playlist_column= or give the playlist-track pairs with interactions=")
        for i, (label, row) in enumerate(df.iterrows()):
            where = _record(path, i, label)
            uri = nonempty(row.get("track_uri"), "")
            if not uri:
                raise ImportFormatError(f"{where}: empty track_uri")
            title = nonempty(row.get("track_name"), "")
            artist = nonempty(row.get("artist_name", row.get("primary_artist_name")), "")
            album = nonempty(row.get("album_name"), "")
            caption = nonempty(row.get("meta_caption"), "")
            if caption and not (title and artist and album):
                parsed = parse_caption(caption)
                if parsed is None:
                    raise ImportFormatError(f"{where}: meta_caption {caption[:80]!r} does not follow the "
                                            "'<track> is a song by the artist <artist> on the album <album>' template")
                title, artist, album = (title or parsed[0]), (artist or parsed[1]), (album or parsed[2])
            if not title:
                raise ImportFormatError(f"{where}: neither meta_caption nor track_name")
            if "start" in cols:
                try:
                    start = float(row["start"])
                except (TypeError, ValueError):
                    raise ImportFormatError(f"{where}: start {row['start']!r} is not a number") from None
                if not start >= 0:
                    raise ImportFormatError(f"{where}: start {start} must be >= 0")
                starts.setdefault(uri, start)
            prev = split_of.setdefault(uri, split)
            if prev != split:
                cross += 1
                continue
            meta.setdefault(uri, (title, artist, album, caption))
            pids = [nonempty(row[pcol], "")] if pcol else inter.get(uri, [])  # type: ignore[union-attr]
            for pid in pids:
                if not pid:
                    raise ImportFormatError(f"{where}: empty {pcol}")
                lst = playlists.setdefault((split, pid), [])
                if uri not in lst:
                    lst.append(uri)
        report.counts[f"{split}_rows"] = len(df)
    if cross:
        report.warnings.append(f"{cross} row(s) name a track already in an earlier split; kept in the earlier one")
    report.counts["tracks_read"] = len(meta)

    wanted = [(u, split_of[u]) for u in meta]
    use_starts = {} if audio_is_clip == "yes" else starts
    placed_full = attach_audio(root, index, wanted, seed=seed, clip_seconds=clip_seconds, margin=0.0,
                               mode=link, report=report, starts={u: use_starts.get(u, 0.0) for u in meta})
    if audio_is_clip == "auto":
        for u, (rel, _) in list(placed_full.items()):
            if audio_duration(root / rel) <= clip_seconds + 0.5:
                placed_full[u] = (rel, 0.0)
    tracks = []
    for u in meta:
        if u not in placed_full:
            continue
        title, artist, album, caption = meta[u]
        rel, start = placed_full[u]
        tracks.append(Track(u, title, nonempty(artist, "unknown artist"), nonempty(album, "unknown album"),
                            rel, start, split_of[u], {"meta_caption": caption,
                                                      "release_start": f"{starts[u]:.3f}" if u in starts else ""}))
    have = {t.track_id for t in tracks}
    pls = [(f"{s}-{pid}", s, [u for u in tids if u in have]) for (s, pid), tids in playlists.items()]
    name = name or f"larp-{dataset or folder.name}"
    return finish(root, name=name, source=f"LARP release ({folder})", sample_rate=sample_rate,
                  clip_seconds=clip_seconds, tracks=tracks, playlists=pls,
                  params={"importer": "larp_release", **report.options}, report=report,
                  extra_columns=("meta_caption", "release_start"), echo=echo,
                  # the public release ships only valid and test: no train split is expected then
                  require_train=found.get("train") is not None)


class LARPReleaseImporter(DatasetImporter):
    meta = DatasetMeta(
        name="larp-release",
        description="the split files LARP released ({train,valid,test}.pkl or .csv) + audio",
        inputs="RELEASE_DIR",
        source="github.com/Rsalganik1123/LARP datasets/{mpd,lfm}; docs/datasets-real.md",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        d = defaults_of(import_larp_release)
        parser.add_argument("release", metavar="RELEASE_DIR",
                            help="folder with {train,valid,test}.pkl (or .csv/.tsv), or the repository's "
                                 "datasets/ folder with --dataset")
        parser.add_argument("--dataset", choices=["mpd", "lfm"], help="subfolder of RELEASE_DIR to read")
        parser.add_argument("--trust-pickle", action="store_true",
                            help="allow reading the release's pandas pickles (pickles can run code: only "
                                 "for files you trust)")
        parser.add_argument("--playlist-column", help="the playlist column, when not one of "
                            + ", ".join(PLAYLIST_COLUMNS))
        parser.add_argument("--interactions", metavar="TSV",
                            help="pid/track_uri table, for split files without a playlist column")
        parser.add_argument("--audio-is-clip", choices=["auto", "yes", "no"], default=d["audio_is_clip"],
                            help="whether the audio files are the released 10 s clips (default: %(default)s)")
        parser.add_argument("--seed", type=int, default=d["seed"], help="clip-start seed (default: %(default)s)")
        add_output_options(parser, d)

    def run(self, args: argparse.Namespace) -> Dataset:
        return import_larp_release(args.release, args.audio, args.out, trust_pickle=args.trust_pickle,
                                   dataset=args.dataset, playlist_column=args.playlist_column,
                                   interactions=args.interactions, audio_is_clip=args.audio_is_clip,
                                   seed=args.seed, link=args.link, name=args.name, overwrite=args.overwrite,
                                   echo=not args.quiet)


__all__ = ["LARPReleaseImporter", "import_larp_release", "parse_caption"]
