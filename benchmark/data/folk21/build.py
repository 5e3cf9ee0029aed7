"""Build the folk21 dataset: real pieces of the music21 corpus rendered to 10 s clips.

Pipeline (all seeded; the same environment gives a byte-identical dataset):

1. read the pieces and their metadata (:mod:`.corpus`), pick a pool of about the size's
   budget made of whole primary groups (:func:`.grouping.select_pool`);
2. convert every pooled piece to notes (:mod:`.midi`; parallel), drop failures and
   pieces with fewer than ``min_notes`` notes;
3. remove melodic duplicates (:func:`.grouping.dedupe`);
4. set aside the pre-training pool, form the curatorial playlists and the cold-start
   split (:mod:`.grouping`);
5. render every track (:mod:`.render`; parallel) with an instrument and a tempo factor
   drawn per track from a seeded generator (never per collection), 16 kHz mono FLAC;
6. write the canonical dataset with a dataset card.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataset import Track, write_dataset
from . import grouping, midi, render
from .corpus import COLLECTIONS, LICENCES, Piece, load_pieces

SAMPLE_RATE = 16000
CLIP_SECONDS = 10.0
TEMPO_JITTER = (0.9, 1.1)
MIN_NOTES = 8
NEUTRAL_ALBUM = "unknown album"
FOLK_COLLECTIONS = {"essen", "oneills", "ryans", "airds", "fife", "northumbrian"}
CAPTION_VARIANTS = ("full", "no-album")
PRIORITIES = {"eval-first": ("test", "valid", "train"), "official": ("train", "valid", "test")}


#: the builder version recorded in the manifest (``params["generator"]``); a build recording
#: another one is stale. folk21/2: quick pools ~5,000 pieces into playlists of <= 20 tracks so
#: that it has >= 60 test playlists (folk21/1 quick: 13, R@10 intervals +-0.08 wide).
GENERATOR = "folk21/2"


@dataclass(frozen=True)
class SizeSpec:
    budget: int | None  # about how many pieces to pool (before dedupe); None = all
    collections: tuple[str, ...] | None  # None = all
    description: str
    max_playlist_len: int = 100  # groups are cut into near-equal chunks of at most this
    test_frac: float = 0.18  # of the groups long enough for evaluation
    valid_frac: float = 0.12
    pretrain_frac: float = 0.15  # of the pooled pieces, held out as whole groups


SIZES: dict[str, SizeSpec] = {
    "ci": SizeSpec(300, ("essen", "oneills", "ryans", "northumbrian"), "~300 pieces of 4 ABC collections; < 2 min on 2 cores"),
    # shorter playlists and a larger test share: >= 60 test playlists (counted on the metadata-only
    # split before any audio or model existed: 75 test / 30 valid / 356 train groups at seed 0)
    "quick": SizeSpec(5000, None, "~5,000 pieces of all collections, playlists of <= 20; < 10 min on 2 cores",
                      max_playlist_len=20, test_frac=0.25, valid_frac=0.10),
    "full": SizeSpec(None, None, "all ~14,800 pieces"),
}


# ----------------------------------------------------------------------------- workers
_RENDERER: render.Renderer | None = None


def _init_worker(info: render.RendererInfo, sample_rate: int) -> None:
    global _RENDERER
    _RENDERER = render.Renderer(info, sample_rate)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _convert_task(args: tuple[str, str, str, str, bool]) -> tuple[str, np.ndarray | None, str, str, float]:
    piece_id, kind, abc, source, use_abc2midi = args
    t0 = time.process_time()
    try:
        notes, how = midi.convert(kind, abc, source, use_abc2midi=use_abc2midi)
        return piece_id, notes.astype(np.float32), how, "", time.process_time() - t0
    except Exception as e:  # one bad piece must not stop the build
        return piece_id, None, "", f"{type(e).__name__}: {e}"[:300], time.process_time() - t0


def _render_task(args: tuple[str, np.ndarray, int, float, float, str]) -> tuple[str, str, float]:
    piece_id, notes, program, tempo, seconds, out_path = args
    import soundfile as sf

    assert _RENDERER is not None
    t0 = time.process_time()
    try:
        arranged = render.arrange(np.asarray(notes, dtype=np.float64), seconds, tempo)
        wav = _RENDERER.render(arranged, program, seconds)
        sf.write(out_path, wav, _RENDERER.sr, format="FLAC", subtype="PCM_16")
        return piece_id, "", time.process_time() - t0
    except Exception as e:
        return piece_id, f"{type(e).__name__}: {e}"[:300], time.process_time() - t0


def _pool(workers: int, info: render.RendererInfo, sample_rate: int) -> ProcessPoolExecutor:
    """Worker processes (forkserver on Linux: no fork of a parent that may hold threads).
    An executor, not ``multiprocessing.Pool``: a worker that dies (e.g. a crash in a
    native library) fails the build with ``BrokenProcessPool`` instead of hanging it."""
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method),
                               initializer=_init_worker, initargs=(info, sample_rate))


def _map(fn, tasks: list, workers: int, info, sample_rate: int, progress: bool, desc: str) -> list:
    """``[fn(t) for t in tasks]`` in order, over ``workers`` processes (results do not
    depend on which worker ran what)."""
    if workers <= 1 or len(tasks) < 16:
        _init_worker(info, sample_rate)
        it = map(fn, tasks)
        return list(_progress(it, len(tasks), progress, desc))
    with _pool(workers, info, sample_rate) as pool:
        it = pool.map(fn, tasks, chunksize=4)
        return list(_progress(it, len(tasks), progress, desc))


def _progress(it, total: int, progress: bool, desc: str):
    if not progress:
        return it
    try:
        from tqdm import tqdm

        return tqdm(it, total=total, desc=f"folk21: {desc}", unit="piece", file=sys.stderr)
    except ImportError:
        return it


def rendering_plan(seed: int, piece_id: str) -> tuple[int, float]:
    """``(GM program, tempo factor)`` of a track: drawn from a generator keyed by the seed
    and the track id only — never by collection, album or playlist."""
    programs = sorted(render.INSTRUMENTS)
    rng = grouping.item_rng(seed, "folk21-track", piece_id)
    return programs[int(rng.integers(len(programs)))], float(rng.uniform(*TEMPO_JITTER))


# ----------------------------------------------------------------------------- captions
def caption_fields(p: Piece, variant: str) -> tuple[str, str]:
    """``(artist, album)`` of a piece in the caption ``variant``.

    ``full``: composer when known, else the collection's editor; the printed collection
    as album. ``no-album``: the album is the constant ``"unknown album"`` and an editor
    is not named either (it keys the collection as the album does): the artist is the
    composer when known, else ``Traditional`` (folk collections) or ``Anonymous``.
    """
    if variant == "full":
        return (p.composer or p.editor), p.album
    if variant == "no-album":
        return (p.composer or ("Traditional" if p.collection in FOLK_COLLECTIONS else "Anonymous")), NEUTRAL_ALBUM
    raise ValueError(f"unknown caption variant {variant!r}; use one of {CAPTION_VARIANTS}")


# ----------------------------------------------------------------------------- build
def build(root: str | Path, size: str = "quick", seed: int = 0, progress: bool = True,
          caption_variant: str = "full", *, name: str | None = None,
          budget: int | str | None = "size", collections: Sequence[str] | str | None = "size",
          pieces: Sequence[Piece] | None = None, workers: int | None = None,
          renderer: str | None = None, use_abc2midi: bool = True,
          split_priority: str = "eval-first", pretrain_frac: float | str = "size",
          valid_frac: float | str = "size", test_frac: float | str = "size", max_playlist_len: int | str = "size",
          min_eval_len: int = 11, min_train_len: int = 2, dedupe_intervals: int = 24,
          clip_seconds: float = CLIP_SECONDS, sample_rate: int = SAMPLE_RATE) -> dict[str, Any]:
    """Write folk21 at ``size`` into the (empty or new) folder ``root``; return build stats.

    ``budget``, ``collections``, ``max_playlist_len`` and the ``*_frac`` shares override the
    size's (``"size"``: the size's own); ``pieces`` replaces the corpus (tests).
    ``split_priority``: ``eval-first`` (default: a track shared by playlists of several
    splits stays in test, then valid) or ``official`` (the MPD order: train, valid, test).
    """
    t0 = time.perf_counter()
    if size not in SIZES:
        raise ValueError(f"folk21 has sizes {tuple(SIZES)}, not {size!r}")
    if caption_variant not in CAPTION_VARIANTS:
        raise ValueError(f"unknown caption variant {caption_variant!r}; use one of {CAPTION_VARIANTS}")
    if split_priority not in PRIORITIES:
        raise ValueError(f"split_priority must be one of {tuple(PRIORITIES)}")
    spec = SIZES[size]

    def of_size(value: Any, field: str) -> Any:
        return getattr(spec, field) if value == "size" else value

    budget = of_size(budget, "budget")
    collections = of_size(collections, "collections")
    max_playlist_len = int(of_size(max_playlist_len, "max_playlist_len"))
    test_frac = float(of_size(test_frac, "test_frac"))
    valid_frac = float(of_size(valid_frac, "valid_frac"))
    pretrain_frac = float(of_size(pretrain_frac, "pretrain_frac"))
    name = name or ("folk21" if caption_variant == "full" else "folk21-noalbum")
    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    workers = workers or int(os.environ.get("LARPBENCH_WORKERS", 0)) or min(2, os.cpu_count() or 1)
    info = render.detect(renderer)
    if progress:
        print(f"folk21: renderer {info.backend}"
              + (f" with {info.soundfont_name}" if info.soundfont_name else " (sine fallback)")
              + f"; MIDI via {'abc2midi + music21' if (use_abc2midi and midi.abc2midi_path()) else 'music21'}"
              + f"; {workers} worker(s)", file=sys.stderr)

    # 1. pieces and pool
    all_pieces = list(pieces) if pieces is not None else load_pieces(collections)
    pool = grouping.select_pool(all_pieces, budget, seed, max_len=max_playlist_len)
    by_id = {p.piece_id: p for p in pool}

    # 2. notes
    tasks = [(p.piece_id, p.kind, p.abc, p.source, use_abc2midi) for p in pool]
    converted = _map(_convert_task, tasks, workers, info, sample_rate, progress, "convert")
    notes: dict[str, np.ndarray] = {}
    failed: dict[str, str] = {}
    converter_used: Counter[str] = Counter()
    timing = {"convert_cpu_s": round(sum(r[4] for r in converted), 1),
              "convert_wall_s": round(time.perf_counter() - t0, 1)}
    for pid, arr, how, err, _ in converted:
        if arr is None:
            failed[pid] = err
        elif len(arr) < MIN_NOTES:
            failed[pid] = f"only {len(arr)} notes"
        else:
            notes[pid] = arr
            converter_used[how] += 1

    # 3. dedupe
    keys = {pid: grouping.melody_key(midi.top_line(arr), n_intervals=dedupe_intervals) for pid, arr in notes.items()}
    kept, removed = grouping.dedupe([by_id[pid] for pid in notes], keys)
    cross = sum(1 for a, b in removed.items() if by_id[a].collection != by_id[b].collection
                or by_id[a].album != by_id[b].album)

    # 4. pretrain pool, playlists, split
    pretrain, rest = grouping.hold_out_pretrain(kept, pretrain_frac, seed, max_len=max_playlist_len)
    groups = grouping.make_groups(rest, max_len=max_playlist_len)
    split = grouping.assign_splits(groups, [p.piece_id for p in rest], seed=seed, valid_frac=valid_frac,
                                   test_frac=test_frac, min_eval_len=min_eval_len,
                                   min_train_len=min_train_len, max_eval_len=max_playlist_len + 1,
                                   priority=PRIORITIES[split_priority])
    track_split = {p.piece_id: "pretrain" for p in pretrain}
    track_split.update(split.track_split)

    # 5. render
    plan = {p.piece_id: rendering_plan(seed, p.piece_id) for p in kept}
    rtasks = [(p.piece_id, notes[p.piece_id], plan[p.piece_id][0], plan[p.piece_id][1], clip_seconds,
               str(root / "audio" / f"{p.piece_id}.flac")) for p in kept]
    t1 = time.perf_counter()
    rendered = _map(_render_task, rtasks, workers, info, sample_rate, progress, "render")
    timing.update(render_cpu_s=round(sum(r[2] for r in rendered), 1), render_wall_s=round(time.perf_counter() - t1, 1))
    render_failed = {pid: err for pid, err, _ in rendered if err}
    if render_failed:
        for pid in render_failed:
            (root / "audio" / f"{pid}.flac").unlink(missing_ok=True)
        failed.update({pid: f"render: {e}" for pid, e in render_failed.items()})

    # 6. tables
    tracks: list[Track] = []
    for p in kept:
        if p.piece_id in render_failed:
            continue
        artist, album = caption_fields(p, caption_variant)
        program, tempo = plan[p.piece_id]
        tracks.append(Track(p.piece_id, p.title, artist, album, f"audio/{p.piece_id}.flac", 0.0,
                            track_split[p.piece_id],
                            {"collection": p.collection, "source_album": p.album, "composer": p.composer,
                             "editor": p.editor, "genre": p.genre, "region": p.region, "volume": p.volume,
                             "source": p.source, "abc_ref": str(p.ref) if p.kind == "abc" else "",
                             "instrument": render.INSTRUMENTS[program], "gm_program": str(program),
                             "tempo_factor": f"{tempo:.4f}", "licence": p.licence}))
    ok = {t.track_id for t in tracks}
    playlists = []
    for pid, s, tids in split.playlists:
        tids = [t for t in tids if t in ok]
        if len(tids) >= (min_train_len if s == "train" else min_eval_len):
            playlists.append((pid, s, tids))
    in_playlist = {t for _, _, tids in playlists for t in tids}
    tracks = [t if t.split == "pretrain" or t.track_id in in_playlist
              else Track(t.track_id, t.title, t.artist, t.album, t.audio, t.clip_start, "pretrain", t.extra)
              for t in tracks]

    stats = {
        "pieces_in_corpus_selection": len(all_pieces),
        "pool": len(pool),
        "conversion_failed_or_too_short": len(failed),
        "failed_examples": dict(sorted(failed.items())[:20]),
        "converter": dict(converter_used),
        "dedupe_removed": len(removed),
        "dedupe_removed_across_collections": cross,
        "tracks": len(tracks),
        "tracks_per_split": dict(Counter(t.split for t in tracks)),
        "playlists_per_split": dict(Counter(s for _, s, _ in playlists)),
        "split": split.stats,
    }
    params = {
        "generator": GENERATOR, "size": size, "seed": seed, "budget": budget,
        "collections": list(collections) if collections else list(COLLECTIONS),
        "caption_variant": caption_variant,
        "renderer": info.describe(), "midi_tools": midi.tool_versions(),
        "use_abc2midi": bool(use_abc2midi and midi.abc2midi_path()),
        "instruments": {str(k): v for k, v in render.INSTRUMENTS.items()},
        "instrument_choice": "uniform per track from a seeded generator keyed by (seed, track id)",
        "tempo_jitter": list(TEMPO_JITTER), "min_notes": MIN_NOTES,
        "clip": "from the first onset; pieces shorter than the clip are repeated; RMS -20 dBFS",
        "split_priority": split_priority, "pretrain_frac": pretrain_frac, "valid_frac": valid_frac,
        "test_frac": test_frac, "max_playlist_len": max_playlist_len, "min_eval_len": min_eval_len,
        "min_train_len": min_train_len, "dedupe_intervals": dedupe_intervals,
        "stats": stats,
    }
    extra_cols = ("collection", "source_album", "composer", "editor", "genre", "region", "volume", "source",
                  "abc_ref", "instrument", "gm_program", "tempo_factor", "licence")
    write_dataset(root, name=name, source="music21 corpus (folk21)", sample_rate=sample_rate,
                  clip_seconds=clip_seconds, tracks=tracks, playlists=playlists, params=params,
                  extra_columns=extra_cols, card=dataset_card(name, size, params, tracks, playlists))
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    stats["timing"] = {**timing, "workers": workers}  # not in the manifest: it varies run to run
    if progress:
        print(f"folk21: {len(tracks)} tracks, {len(playlists)} playlists "
              f"({stats['playlists_per_split']}), {len(removed)} duplicates removed, "
              f"{len(failed)} pieces failed, {stats['seconds']} s", file=sys.stderr)
    return stats


# ----------------------------------------------------------------------------- card
def dataset_card(name: str, size: str, params: dict[str, Any], tracks: Sequence[Track],
                 playlists: Sequence[tuple[str, str, Sequence[str]]]) -> str:
    st = params["stats"]
    r = params["renderer"]
    by_coll = Counter(t.extra["collection"] for t in tracks)
    lic_used = sorted({COLLECTIONS[c].licence for c in by_coll})
    lines = [
        f"# {name} ({size})",
        "",
        "Real pieces from the music21 corpus, rendered to 10 s clips, with playlists made of the",
        "corpus's own curatorial groupings (collection x genre/tune type, x region, x volume),",
        "for cold-start playlist continuation. Built by `benchmark.data.folk21` (larpbench).",
        "",
        "## Contents",
        "",
        f"- tracks: {len(tracks)} ({', '.join(f'{k} {v}' for k, v in sorted(st['tracks_per_split'].items()))})",
        f"- playlists: {len(playlists)} ({', '.join(f'{k} {v}' for k, v in sorted(st['playlists_per_split'].items()))})",
        f"- melodic duplicates removed before splitting: {st['dedupe_removed']} "
        f"({st['dedupe_removed_across_collections']} across collections)",
        f"- pieces that failed conversion or were too short: {st['conversion_failed_or_too_short']}",
        f"- caption variant: `{params['caption_variant']}`",
        "",
        "| collection | tracks | licence |",
        "| --- | ---: | --- |",
    ]
    for c, n in sorted(by_coll.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {COLLECTIONS[c].album} | {n} | {COLLECTIONS[c].licence} |")
    lines += ["", "## Licences", ""]
    for key in lic_used:
        lines.append(f"- **{key}**: {LICENCES[key]}")
    lines += [
        "",
        "The Essen Folksong Collection may be used for non-commercial purposes only. The",
        "rendered audio is derived from these encodings: the same terms apply to it. Do not",
        "redistribute the audio; rebuild it (`larpbench data build folk21`).",
        "",
        "## Rendering",
        "",
        f"- backend: {r['backend']}" + (f" with soundfont {r['soundfont']} (sha256 {r['soundfont_sha256'][:16]}...)"
                                       if r["soundfont"] else " (sine-wave fallback: no soundfont found)"),
        f"- MIDI: {'abc2midi for ABC, ' if params['use_abc2midi'] else ''}music21 otherwise; tools {params['midi_tools']}",
        "- instrument: one General-MIDI program per track, drawn uniformly from "
        f"{len(params['instruments'])} programs by a generator seeded with (seed, track id) — "
        "independent of the collection; tempo factor uniform in "
        f"{params['tempo_jitter']}",
        "- clip: 10 s from the first note, repeated when the piece is shorter, 16 kHz mono FLAC, RMS -20 dBFS",
        "",
        "## Split",
        "",
        f"- {params['pretrain_frac']:.0%} of the pieces (whole groups) form the pre-training pool (no playlist)",
        f"- groups are playlists (chunks of <= {params['max_playlist_len']} in source order); valid/test",
        f"  need >= {params['min_eval_len']} tracks, train >= {params['min_train_len']}",
        f"- a track in playlists of several splits stays in the first of {st['split']['priority']};",
        "  the other playlists lose it (and are dropped if then too short)",
        "",
    ]
    return "\n".join(lines)
