"""Import Last.fm listening histories (LFM-2b style) as user "playlists" (paper §4.1).

Inputs (TSV or CSV with a header line; ``.bz2``/``.gz``/``.xz`` are read directly):

- listening events: ``user_id``, ``track_id``, ``timestamp`` (ISO date-time or Unix
  seconds; without a timestamp column the file order is the time order), optional
  ``album_id`` — LFM-2b's ``listening-events.tsv``;
- track metadata: ``track_id``, ``track_name`` (or ``title``), ``artist_name`` (or
  ``artist``), optional ``album_name`` — LFM-2b's ``tracks.tsv``;
- optional albums (``album_id``, ``album_name``) joined through the events' album ids;
- optional Spotify URIs (``track_id``, ``uri``) — LFM-2b's ``spotify-uris.tsv`` — when
  the audio files are named by URI rather than by Last.fm track id.

Procedure: users with at least ``min_len`` events are shuffled (seeded) and split into
train, valid and test pools (in this order). A user's history is the time-ordered list
of distinct tracks; tracks already used by an earlier pool are removed from it, and a
contiguous window of ``min_len``..``max_len`` tracks (as long as the history allows,
at a random position) becomes the user's playlist. Users left with fewer than
``min_len`` tracks are dropped.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

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
    read_table,
    track_rng,
)

EVENT_COLS = {"user": ("user_id", "user", "uid"), "track": ("track_id", "track", "tid")}
EVENT_OPT = {"time": ("timestamp", "time", "date", "datetime"), "album": ("album_id", "album")}
TRACK_COLS = {"track": ("track_id", "track", "tid"),
              "title": ("track_name", "title", "track_title", "name"),
              "artist": ("artist_name", "artist")}
TRACK_OPT = {"album": ("album_name", "album", "album_title")}


def _parse_time(value: str, where: str) -> float:
    v = value.strip()
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ImportFormatError(f"{where}: timestamp {value!r} is neither Unix seconds nor an ISO date-time") from None


@staged
def import_lastfm(events_path: str | Path, tracks_path: str | Path, audio_dir: str | Path, out_root: str | Path, *,
                  albums_path: str | Path | None = None, uris_path: str | Path | None = None,
                  n_train_users: int | None = 5_000, n_valid_users: int = 1_000, n_test_users: int = 1_000,
                  min_len: int = 30, max_len: int = 100, seed: int = 72, include_pretrain: bool = False,
                  clip_seconds: float = 10.0, margin_seconds: float = 20.0, sample_rate: int = 16000,
                  link: str = "hardlink", name: str = "lfm", overwrite: bool = False, echo: bool = True) -> Dataset:
    """Import Last.fm events + track metadata + audio into the canonical format.

    ``n_train_users=None`` puts every user not drawn for valid/test into train. Track ids
    in the dataset are Spotify URIs when ``uris_path`` is given, else Last.fm track ids.
    """
    events_path, tracks_path = Path(events_path), Path(tracks_path)
    index = AudioIndex(audio_dir)
    root = prepare_out_root(out_root, overwrite, [events_path, tracks_path, albums_path, uris_path, audio_dir])
    report = ImportReport("lastfm", inputs={"events": str(events_path), "tracks": str(tracks_path),
                                            "albums": str(albums_path) if albums_path else None,
                                            "uris": str(uris_path) if uris_path else None,
                                            "audio_dir": str(audio_dir), "audio_files": index.n_files})
    report.options = {"n_train_users": n_train_users, "n_valid_users": n_valid_users, "n_test_users": n_test_users,
                      "min_len": min_len, "max_len": max_len, "seed": seed, "include_pretrain": include_pretrain,
                      "clip_seconds": clip_seconds, "margin_seconds": margin_seconds, "link": link}
    if not 2 <= min_len <= max_len:
        raise ValueError(f"need 2 <= min_len <= max_len, got {min_len}, {max_len}")

    # -- metadata
    meta: dict[str, tuple[str, str, str]] = {}
    for line, row in read_table(tracks_path, TRACK_COLS, TRACK_OPT):
        if row["track"] in meta:
            raise ImportFormatError(f"{tracks_path}, line {line}: duplicate track_id {row['track']!r}")
        meta[row["track"]] = (row["title"], row["artist"], row.get("album", ""))
    albums: dict[str, str] = {}
    if albums_path is not None:
        for _, row in read_table(Path(albums_path), {"album": ("album_id", "album"), "name": ("album_name", "name", "title")}):
            albums[row["album"]] = row["name"]
    uris: dict[str, str] = {}
    if uris_path is not None:
        for _, row in read_table(Path(uris_path), {"track": ("track_id", "track"), "uri": ("uri", "spotify_uri", "track_uri")}):
            uris[row["track"]] = row["uri"]

    # -- pass 1: who listened how much
    counts: Counter[str] = Counter()
    for _, row in read_table(events_path, EVENT_COLS, EVENT_OPT):
        counts[row["user"]] += 1
    users = sorted(u for u, c in counts.items() if c >= min_len)
    rng = np.random.default_rng(seed)
    perm = [users[int(i)] for i in rng.permutation(len(users))]
    n_test, n_valid = min(n_test_users, len(perm)), min(n_valid_users, max(0, len(perm) - n_test_users))
    test_users, valid_users = perm[:n_test], perm[n_test:n_test + n_valid]
    rest = perm[n_test + n_valid:]
    train_users = rest if n_train_users is None else rest[:n_train_users]
    pool_of = {**{u: "train" for u in train_users}, **{u: "valid" for u in valid_users},
               **{u: "test" for u in test_users}}
    report.counts.update({"events_users": len(counts), "users_with_min_len_events": len(users)})

    # -- pass 2: the selected users' histories
    events: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
    album_votes: dict[str, Counter[str]] = defaultdict(Counter)
    unknown: Counter[str] = Counter()
    n = 0
    for line, row in read_table(events_path, EVENT_COLS, EVENT_OPT):
        n += 1
        u = row["user"]
        if u not in pool_of:
            continue
        t = row["track"]
        if t not in meta:
            unknown[t] += 1
            continue
        ts = _parse_time(row["time"], f"{events_path}, line {line}") if row.get("time") else float(n)
        events[u].append((ts, n, t))
        if row.get("album") and row["album"] in albums:
            album_votes[t][albums[row["album"]]] += 1
    if unknown:
        report.warnings.append(f"{sum(unknown.values())} event(s) of {len(unknown)} track id(s) missing from "
                               f"{tracks_path} were skipped, e.g. {sorted(unknown)[:5]}")

    # -- windows, pool by pool; tracks of earlier pools are removed from later ones
    used: set[str] = set()
    playlists: list[tuple[str, str, list[str]]] = []
    dropped: Counter[str] = Counter()
    for label, pool_users in (("train", train_users), ("valid", valid_users), ("test", test_users)):
        taken: set[str] = set()
        for u in pool_users:
            hist: list[str] = []
            seen: set[str] = set()
            for _, _, t in sorted(events.get(u, [])):
                if t not in seen:
                    seen.add(t)
                    hist.append(t)
            hist = [t for t in hist if t not in used]
            if len(hist) < min_len:
                dropped[label] += 1
                continue
            length = min(max_len, len(hist))
            start = int(track_rng(seed, f"window:{u}").integers(0, len(hist) - length + 1))
            window = hist[start:start + length]
            playlists.append((f"{label}-{u}", label, window))
            taken.update(window)
        used |= taken
    report.counts["users_dropped_too_short"] = dict(dropped)

    # -- tracks and audio
    def tid(t: str) -> str:
        return uris.get(t, t) if uris else t

    split_of: dict[str, str] = {}
    for _, label, window in playlists:
        for t in window:
            split_of.setdefault(t, label)
    wanted = [(tid(t), s) for t, s in split_of.items()]
    placed = attach_audio(root, index, wanted, seed=seed, clip_seconds=clip_seconds, margin=margin_seconds,
                          mode=link, report=report)
    if include_pretrain:
        pre = [(tid(t), "pretrain") for t in meta if t not in split_of]
        placed.update(attach_audio(root, index, pre, seed=seed, clip_seconds=clip_seconds,
                                   margin=margin_seconds, mode=link, report=report, report_missing=False))
        for t in meta:
            if t not in split_of and tid(t) in placed:
                split_of[t] = "pretrain"
    tracks: list[Track] = []
    added: set[str] = set()
    for t, s in split_of.items():
        if tid(t) not in placed or tid(t) in added:
            continue
        added.add(tid(t))
        title, artist, album = meta[t]
        if not album and album_votes.get(t):
            album = album_votes[t].most_common(1)[0][0]
        rel, start = placed[tid(t)]
        tracks.append(Track(tid(t), nonempty(title, "unknown title"), nonempty(artist, "unknown artist"),
                            nonempty(album, "unknown album"), rel, start, s, {"lastfm_track_id": t}))
    have = {t.track_id for t in tracks}
    playlists = [(pid, s, list(dict.fromkeys(tid(t) for t in w if tid(t) in have))) for pid, s, w in playlists]
    return finish(root, name=name, source="Last.fm listening histories (LFM-2b style)", sample_rate=sample_rate,
                  clip_seconds=clip_seconds, tracks=tracks, playlists=playlists,
                  params={"importer": "lastfm", **report.options}, report=report,
                  extra_columns=("lastfm_track_id",), echo=echo)


def _users(value: str) -> int | None:
    if value == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of users or 'all', got {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number of users, got {n}")
    return n


class LastFMImporter(DatasetImporter):
    meta = DatasetMeta(
        name="lastfm",
        description="Last.fm (LFM-2b style) listening events + track metadata + audio, as user playlists",
        inputs="EVENTS_TSV TRACKS_TSV",
        source="LFM-2b (JKU Linz) or any events/tracks TSVs of that shape; docs/datasets-real.md",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        d = defaults_of(import_lastfm)
        parser.add_argument("events", metavar="EVENTS_TSV", help="listening events (user_id, track_id, timestamp)")
        parser.add_argument("tracks", metavar="TRACKS_TSV", help="track metadata (track_id, track_name, artist_name)")
        parser.add_argument("--albums", metavar="TSV", help="album names (album_id, album_name)")
        parser.add_argument("--uris", metavar="TSV",
                            help="Spotify URIs (track_id, uri), when the audio files are named by URI")
        parser.add_argument("--n-train-users", type=_users, default=d["n_train_users"],
                            help="users drawn for train, or 'all' (default: %(default)s)")
        parser.add_argument("--n-valid-users", type=int, default=d["n_valid_users"],
                            help="users drawn for valid (default: %(default)s)")
        parser.add_argument("--n-test-users", type=int, default=d["n_test_users"],
                            help="users drawn for test (default: %(default)s)")
        parser.add_argument("--min-len", type=int, default=d["min_len"],
                            help="shortest playlist window (default: %(default)s)")
        parser.add_argument("--max-len", type=int, default=d["max_len"],
                            help="longest playlist window (default: %(default)s)")
        parser.add_argument("--seed", type=int, default=d["seed"], help="split seed (default: %(default)s)")
        parser.add_argument("--include-pretrain", action="store_true",
                            help="tracks with audio in no playlist form a pre-training pool")
        add_output_options(parser, d)

    def run(self, args: argparse.Namespace) -> Dataset:
        return import_lastfm(args.events, args.tracks, args.audio, args.out, albums_path=args.albums,
                             uris_path=args.uris, n_train_users=args.n_train_users,
                             n_valid_users=args.n_valid_users, n_test_users=args.n_test_users,
                             min_len=args.min_len, max_len=args.max_len, seed=args.seed,
                             include_pretrain=args.include_pretrain, link=args.link, name=args.name,
                             overwrite=args.overwrite, echo=not args.quiet)


__all__ = ["LastFMImporter", "import_lastfm"]
