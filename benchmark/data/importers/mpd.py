"""Import the Spotify Million Playlist Dataset (MPD) with LARP's official split.

Input: the official ``mpd.slice.*.json`` files (``{"info": ..., "playlists": [{"pid",
"name", "tracks": [{"pos", "track_uri", "track_name", "artist_name", "album_name",
"duration_ms", ...}]}]}``) and a folder of audio files named by track URI
(``<id>.<ext>``, ``spotify_track_<id>.<ext>``, ``spotify:track:<id>.<ext>`` or LARP's
``<uri>/<uri>_<i>.<ext>``; any format soundfile reads).

Split (LARP's ``databuild_utils/generate_splits.py``, DESIGN §1), with its parameters
as options: ``train_size`` tracks sampled uniformly (numpy ``default_rng(seed).choice``
over the tracks in first-appearance order, slices in the official code's sorted file
order) with all their interactions; ``valid_size`` playlists sampled among the
playlists that have interactions whose tracks are not in train, restricted to those
interactions, kept if longer than ``min_playlist_len`` tracks and cut to their first
``max_playlist_len``; test likewise, also without the valid tracks. The clip start
is random, avoiding the first and last 20 s when the file is long enough.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataset import Dataset, Track
from ..base import DatasetImporter, DatasetMeta
from .common import (
    AudioIndex,
    ImportFormatError,
    ImportReport,
    add_output_options,
    attach_audio,
    defaults_of,
    finish,
    nonempty,
    prepare_out_root,
    staged,
)

TRACK_FIELDS = ("track_uri", "track_name", "artist_name", "album_name")


def slice_files(slices: str | Path) -> list[Path]:
    """The slice files of ``slices`` (a folder or one file), in the official code's order
    (``sorted(os.listdir(...))``, i.e. lexicographic)."""
    p = Path(slices)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise ImportFormatError(f"{p}: no such folder or file")
    files = sorted(f for f in p.iterdir() if f.name.startswith("mpd.slice.") and f.name.endswith(".json"))
    if not files:
        raise ImportFormatError(f"{p}: no mpd.slice.*.json files")
    return files


def read_slice(path: Path) -> list[tuple[int, list[dict[str, Any]]]]:
    """``[(pid, tracks sorted by pos)]`` of one slice, validated record by record."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"{path}, line {e.lineno} column {e.colno}: invalid JSON ({e.msg})") from None
    except UnicodeDecodeError as e:
        raise ImportFormatError(f"{path}: not UTF-8 text ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise ImportFormatError(f"{path}: top level must be an object with a 'playlists' list")
    out = []
    for i, pl in enumerate(data["playlists"]):
        where = f"{path}: playlists[{i}]"
        if not isinstance(pl, dict):
            raise ImportFormatError(f"{where}: not an object")
        pid = pl.get("pid")
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise ImportFormatError(f"{where}: 'pid' missing or not an integer ({pid!r})")
        where = f"{where} (pid {pid})"
        tracks = pl.get("tracks")
        if not isinstance(tracks, list):
            raise ImportFormatError(f"{where}: 'tracks' missing or not a list")
        clean = []
        for j, t in enumerate(tracks):
            twhere = f"{where}, tracks[{j}]"
            if not isinstance(t, dict):
                raise ImportFormatError(f"{twhere}: not an object")
            for k in TRACK_FIELDS:
                if not isinstance(t.get(k), str):
                    raise ImportFormatError(f"{twhere}: field {k!r} missing or not a string")
            if not t["track_uri"].strip():
                raise ImportFormatError(f"{twhere}: empty track_uri")
            pos = t.get("pos", j)
            if isinstance(pos, bool) or not isinstance(pos, int):
                raise ImportFormatError(f"{twhere}: 'pos' is not an integer ({pos!r})")
            clean.append(t)
        clean.sort(key=lambda t: t.get("pos", 0))
        out.append((pid, clean))
    return out


@staged
def import_mpd(slices_dir: str | Path, audio_dir: str | Path, out_root: str | Path, *,
               train_size: int = 100_000, valid_size: int = 1_000, test_size: int = 1_000,
               min_playlist_len: int = 10, max_playlist_len: int = 101, seed: int = 45,
               audio_first: bool = False, disjoint_playlists: bool = False, include_pretrain: bool = True,
               clip_seconds: float = 10.0, margin_seconds: float = 20.0, sample_rate: int = 16000,
               link: str = "hardlink", name: str = "mpd", overwrite: bool = False, echo: bool = True) -> Dataset:
    """Import MPD slices + audio into the canonical format at ``out_root``.

    ``audio_first``: sample the split among tracks that have audio (the official code
    samples among all tracks and loses the ones it could not download afterwards).
    ``disjoint_playlists``: leave the valid/test playlists out of train (the official
    code does not: a playlist's train tracks stay in train). ``include_pretrain``: tracks
    with audio that end up in no split form the pre-training pool. Tracks whose audio is
    missing are listed in ``import_report.json`` and on stdout and dropped from their
    playlists.
    """
    files = slice_files(slices_dir)
    index = AudioIndex(audio_dir)
    root = prepare_out_root(out_root, overwrite, [slices_dir, audio_dir])
    report = ImportReport("mpd", inputs={"slices": [str(f) for f in files], "audio_dir": str(audio_dir),
                                         "audio_files": index.n_files})
    report.options = {"train_size": train_size, "valid_size": valid_size, "test_size": test_size,
                      "min_playlist_len": min_playlist_len, "max_playlist_len": max_playlist_len, "seed": seed,
                      "audio_first": audio_first, "disjoint_playlists": disjoint_playlists,
                      "include_pretrain": include_pretrain, "clip_seconds": clip_seconds,
                      "margin_seconds": margin_seconds, "link": link}

    # -- read
    meta: dict[str, tuple[str, str, str, Any]] = {}
    interactions: dict[int, list[str]] = {}
    order: list[int] = []
    repeated = 0
    for f in files:
        for pid, tracks in read_slice(f):
            if pid in interactions:
                raise ImportFormatError(f"{f}: pid {pid} appears in two playlists")
            seen: set[str] = set()
            uris = []
            for t in tracks:
                uri = t["track_uri"].strip()
                meta.setdefault(uri, (t["track_name"], t["artist_name"], t["album_name"], t.get("duration_ms")))
                if uri in seen:
                    repeated += 1
                    continue
                seen.add(uri)
                uris.append(uri)
            interactions[pid] = uris
            order.append(pid)
    all_tracks = list(meta)  # first-appearance order (the official tracks.csv order)
    report.counts.update({"playlists_read": len(order), "tracks_read": len(all_tracks),
                          "repeated_tracks_in_playlists_dropped": repeated})

    # -- split (official procedure)
    rng = np.random.default_rng(seed)
    universe = [u for u in all_tracks if index.find(u) is not None] if audio_first else all_tracks
    n_train = min(train_size, len(universe))
    if n_train < train_size:
        report.warnings.append(f"train_size {train_size} > {len(universe)} available tracks; using all of them")
    train_set = set(rng.choice(np.array(universe, dtype=object), size=n_train, replace=False).tolist()) if n_train else set()

    def eval_split(exclude: set[str], size: int, label: str) -> list[tuple[int, list[str]]]:
        pids = [pid for pid in order if any(u not in exclude for u in interactions[pid])]
        k = min(size, len(pids))
        if k < size:
            report.warnings.append(f"{label}_size {size} > {len(pids)} candidate playlists; using {k}")
        chosen = set(rng.choice(np.array(pids, dtype=np.int64), size=k, replace=False).tolist()) if k else set()
        out = []
        for pid in sorted(chosen):  # the official groupby orders by pid
            tids = [u for u in interactions[pid] if u not in exclude]
            if len(tids) > min_playlist_len:
                out.append((pid, tids[:max_playlist_len]))
        report.counts[f"{label}_playlists_sampled"] = k
        return out

    valid = eval_split(train_set, valid_size, "valid")
    valid_tracks = {u for _, tids in valid for u in tids}
    test = eval_split(train_set | valid_tracks, test_size, "test")
    eval_pids = {pid for pid, _ in valid} | {pid for pid, _ in test}
    train = []
    for pid in order:
        if disjoint_playlists and pid in eval_pids:
            continue
        tids = [u for u in interactions[pid] if u in train_set]
        if tids:
            train.append((pid, tids))

    # -- audio
    split_of: dict[str, str] = {}
    for label, pls in (("train", train), ("valid", valid), ("test", test)):
        for _, tids in pls:
            for u in tids:
                split_of.setdefault(u, label)
    for u in train_set:  # train tracks whose playlists all fall away still belong to train
        split_of.setdefault(u, "train")
    wanted = [(u, split_of[u]) for u in all_tracks if u in split_of]
    placed = attach_audio(root, index, wanted, seed=seed, clip_seconds=clip_seconds, margin=margin_seconds,
                          mode=link, report=report)
    if include_pretrain:
        pre = [(u, "pretrain") for u in all_tracks if u not in split_of]
        placed.update(attach_audio(root, index, pre, seed=seed, clip_seconds=clip_seconds,
                                   margin=margin_seconds, mode=link, report=report, report_missing=False))
        for u, _ in pre:
            if u in placed:
                split_of[u] = "pretrain"

    tracks: list[Track] = []
    blank = 0
    for u in all_tracks:
        if u not in placed or u not in split_of:
            continue
        title, artist, album, dur = meta[u]
        if not (title.strip() and artist.strip() and album.strip()):
            blank += 1
        rel, start = placed[u]
        tracks.append(Track(u, nonempty(title, "unknown title"), nonempty(artist, "unknown artist"),
                            nonempty(album, "unknown album"), rel, start, split_of[u],
                            {"duration_ms": "" if dur is None else str(dur)}))
    if blank:
        report.counts["tracks_with_empty_metadata_filled"] = blank
    have = {t.track_id for t in tracks}
    playlists: list[tuple[str, str, list[str]]] = []
    short_eval = 0
    for label, pls in (("train", train), ("valid", valid), ("test", test)):
        for pid, tids in pls:
            kept = [u for u in tids if u in have]
            if label != "train" and len(kept) <= min_playlist_len:
                short_eval += 1  # kept (>= 2 tracks) but now shorter than the official minimum
            playlists.append((f"{label}-{pid}", label, kept))
    if short_eval:
        report.warnings.append(f"{short_eval} valid/test playlist(s) have {min_playlist_len} or fewer tracks "
                               "with audio (kept if >= 2; the official code did not re-filter either)")
    return finish(root, name=name, source="Spotify Million Playlist Dataset", sample_rate=sample_rate,
                  clip_seconds=clip_seconds, tracks=tracks, playlists=playlists,
                  params={"importer": "mpd", **report.options}, report=report,
                  extra_columns=("duration_ms",), echo=echo)


class MPDImporter(DatasetImporter):
    meta = DatasetMeta(
        name="mpd",
        description="Spotify Million Playlist Dataset slices + audio, split with LARP's official procedure",
        inputs="SLICES_DIR",
        source="Spotify Million Playlist Dataset (AIcrowd); docs/datasets-real.md",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        d = defaults_of(import_mpd)
        parser.add_argument("slices", metavar="SLICES_DIR",
                            help="folder of mpd.slice.*.json files (or one slice file)")
        parser.add_argument("--train-size", type=int, default=d["train_size"],
                            help="tracks sampled for train (default: %(default)s)")
        parser.add_argument("--valid-size", type=int, default=d["valid_size"],
                            help="playlists sampled for valid (default: %(default)s)")
        parser.add_argument("--test-size", type=int, default=d["test_size"],
                            help="playlists sampled for test (default: %(default)s)")
        parser.add_argument("--min-playlist-len", type=int, default=d["min_playlist_len"],
                            help="valid/test playlists must be longer than this (default: %(default)s)")
        parser.add_argument("--max-playlist-len", type=int, default=d["max_playlist_len"],
                            help="valid/test playlists are cut to this length (default: %(default)s)")
        parser.add_argument("--seed", type=int, default=d["seed"], help="split seed (default: %(default)s)")
        parser.add_argument("--audio-first", action="store_true",
                            help="sample the split among tracks that have audio")
        parser.add_argument("--disjoint-playlists", action="store_true",
                            help="leave valid/test playlists out of train")
        parser.add_argument("--no-pretrain", dest="include_pretrain", action="store_false",
                            help="no pre-training pool of tracks in no split")
        add_output_options(parser, d)

    def run(self, args: argparse.Namespace) -> Dataset:
        return import_mpd(args.slices, args.audio, args.out, train_size=args.train_size,
                          valid_size=args.valid_size, test_size=args.test_size,
                          min_playlist_len=args.min_playlist_len, max_playlist_len=args.max_playlist_len,
                          seed=args.seed, audio_first=args.audio_first,
                          disjoint_playlists=args.disjoint_playlists, include_pretrain=args.include_pretrain,
                          link=args.link, name=args.name, overwrite=args.overwrite, echo=not args.quiet)


__all__: Sequence[str] = ["MPDImporter", "import_mpd", "read_slice", "slice_files"]
