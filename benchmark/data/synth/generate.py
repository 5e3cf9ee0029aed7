"""``build``: world -> splits and playlists -> audio -> canonical dataset folder."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataset import Track, write_dataset
from .audio import TrackJob, render, write_flac
from .genres import PITCH_CLASSES, SCALE_NAMES, STYLE_FIELDS
from .playlists import make_splits
from .presets import SynthConfig, make_config
from .world import S_SPLIT, World, build_world, rng_for

SOURCE = "larpbench synthetic music world (benchmark.data.synth)"
#: tracks.csv's generator ground-truth columns: for analysis and oracles, never for encoders.
HIDDEN_COLUMNS = ("genre", "tempo", "key", "scale", "canonical_artist", "era")
#: track_latents.csv's columns: the latent sound vector (:meth:`World.sound_latent`).
LATENT_COLUMNS = (*STYLE_FIELDS, "era")


def default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


#: Dials that change only names in tracks.csv: worlds differing only in these share audio.
NAME_ONLY_PARAMS = ("caption_vocab", "credit_aliasing")


def build(root: Path | str, *, preset: str, size: str, seed: int = 0, progress: bool = True,
          workers: int | None = None, name: str | None = None, audio_from: Path | str | None = None,
          **overrides: Any) -> None:
    """Write the synthetic dataset ``preset`` (``mpd``/``lfm``) at ``size`` into ``root``.

    ``root`` must be empty or missing. ``overrides`` replace any :class:`SynthConfig`
    field (for instance ``artist_affinity=0.2``); all of them go into the manifest's
    ``params``. ``workers`` only sets how many processes render audio; the output is
    byte-identical for any value. ``name``: the manifest's name (default
    ``synth-<preset>-<size>``; a catalog variant passes ``<reference>-<size>``).
    ``audio_from``: a finished build whose parameters differ from this one's only in
    :data:`NAME_ONLY_PARAMS`; its audio files are hard-linked (or copied) instead of
    rendered, since those dials do not touch audio (tested: byte-identical to rendering).
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; the synthetic builder writes into an empty folder")
    root.mkdir(parents=True, exist_ok=True)
    cfg = make_config(preset, size, seed, **overrides)
    t0 = time.perf_counter()
    world = build_world(cfg)
    splits = make_splits(world, cfg, progress=progress)
    t_meta = time.perf_counter() - t0

    # -- the tracks of the dataset -------------------------------------------------------
    split_of: dict[int, str] = {int(u): "pretrain" for u in splits.pretrain}
    for _, split, uids in splits.playlists:
        for u in uids:
            split_of[u] = split
    uids = np.asarray(sorted(split_of), dtype=np.int64)
    rng = rng_for(cfg.seed, S_SPLIT, 1)
    id_perm = rng.permutation(len(uids))  # ids carry no hint of artist, album or split
    width = max(6, len(str(len(uids))))
    track_id = {int(u): f"t{int(k) + 1:0{width}d}" for u, k in zip(uids, id_perm)}
    margin = cfg.file_seconds - cfg.clip_seconds
    starts = np.floor(rng.random(len(uids)) * margin * 1000.0) / 1000.0

    tracks: list[Track] = []
    latents: list[tuple[str, ...]] = []
    jobs: list[tuple[TrackJob, str]] = []
    for u, start in zip(uids.tolist(), starts.tolist()):
        tid = track_id[u]
        rel = f"audio/{tid[-2:]}/{tid}.flac"
        a = int(world.track_artist[u])
        artist, album = world.credits(u)
        tracks.append(Track(
            tid, world.title(u), artist, album, rel, float(start), split_of[u],
            {"genre": world.genres[int(world.track_genre[u])].name,
             "tempo": f"{float(world.track_tempo[u]):.1f}",
             "key": PITCH_CLASSES[int(world.track_tonic[u])],
             "scale": SCALE_NAMES[int(world.track_scale[u])],
             "canonical_artist": world.artist_name[a],
             "era": f"{float(world.track_era[u]):.4f}"},
        ))
        latents.append((tid, *(f"{x:.6g}" for x in world.sound_latent(u))))
        jobs.append((_job(world, u), rel))
    tracks.sort(key=lambda t: t.track_id)
    latents.sort(key=lambda row: row[0])

    # -- audio ---------------------------------------------------------------------------
    t1 = time.perf_counter()
    if audio_from is not None:
        link_audio(Path(audio_from), root, cfg, [rel for _, rel in jobs])
    else:
        render_all(root, cfg, jobs, workers=workers or default_workers(), progress=progress)
    t_audio = time.perf_counter() - t1

    # -- tables --------------------------------------------------------------------------
    playlists = [(pid, split, [track_id[u] for u in pl]) for pid, split, pl in splits.playlists]
    present = {int(world.track_artist[u]) for u in uids.tolist()}
    relations = [(world.artist_name[a], world.artist_name[b], w) for a, b, w in world.edges
                 if a in present and b in present]
    params = cfg.params()
    params["derived"] = {
        "world_tracks": world.n_tracks,
        "world_artists": world.n_artists,
        "train_pool": splits.train_pool,
        "popularity_temperature": splits.popularity_temperature,
        "train_playlists_per_track": round(splits.train_ratio, 4),
        "calibration": [list(c) for c in splits.calibration],
    }
    stats = dataset_stats(tracks, playlists)
    write_dataset(
        root, name=name or f"synth-{cfg.preset}-{cfg.size}", source=SOURCE, sample_rate=cfg.sample_rate,
        clip_seconds=cfg.clip_seconds, tracks=tracks, playlists=playlists, params=params,
        artist_relations=relations, extra_columns=HIDDEN_COLUMNS,
        card=_card(cfg, stats, len(relations)),
        track_latents=(LATENT_COLUMNS, latents),
    )
    if progress:
        print(f"synth-{cfg.preset}-{cfg.size}: {len(tracks)} tracks, {len(playlists)} playlists "
              f"(metadata {t_meta:.1f}s, audio {t_audio:.1f}s)")


def _job(world: World, u: int) -> TrackJob:
    a = int(world.track_artist[u])
    return TrackJob(
        uid=u, genre=int(world.track_genre[u]), artist=a, tempo=float(world.track_tempo[u]),
        tonic=int(world.track_tonic[u]), scale=int(world.track_scale[u]),
        meter=int(world.track_meter[u]), loudness=float(world.track_loudness[u]),
        artist_z=tuple(float(x) for x in world.artist_z[a]),
        scene_z=tuple(float(x) for x in world.scene_z[int(world.artist_scene[a])]),
        era=float(world.track_era[u]),
    )


def link_audio(source: Path, root: Path, cfg: SynthConfig, files: list[str]) -> None:
    """Hard-link (or copy) ``files`` from the build ``source``, after checking that it was
    made with the same parameters apart from :data:`NAME_ONLY_PARAMS`, and that each file
    matches its checksum there."""
    import csv
    import json
    import shutil

    from benchmark.core.dataset import DatasetError, sha256_file

    manifest = source / "manifest.json"
    if not manifest.exists():
        raise DatasetError(f"audio_from={source}: not a finished dataset (no manifest.json)")
    theirs = {k: v for k, v in json.loads(manifest.read_text())["params"].items()
              if k not in (*NAME_ONLY_PARAMS, "derived")}
    ours = {k: v for k, v in cfg.params().items() if k not in NAME_ONLY_PARAMS}
    diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if diff:
        raise DatasetError(f"audio_from={source}: its audio was made with other parameters "
                           f"({', '.join(f'{k}: {theirs.get(k)!r} != {ours.get(k)!r}' for k in diff)}); "
                           f"only {', '.join(NAME_ONLY_PARAMS)} may differ")
    with open(source / "checksums.csv", encoding="utf-8", newline="") as f:
        sums = {row["audio"]: row["sha256"] for row in csv.DictReader(f)}
    for rel in files:
        src, dst = source / rel, root / rel
        if sums.get(rel) is None or not src.exists():
            raise DatasetError(f"audio_from={source}: {rel} is missing there")
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
        if sha256_file(dst) != sums[rel]:
            raise DatasetError(f"audio_from={source}: {rel} does not match its checksum there")


# ----------------------------------------------------------------------------- rendering
_WORKER: dict[str, Any] = {}


def _init_worker(root: str, cfg: SynthConfig) -> None:
    _WORKER["root"] = Path(root)
    _WORKER["cfg"] = cfg


def _render_one(item: tuple[TrackJob, str]) -> int:
    job, rel = item
    cfg: SynthConfig = _WORKER["cfg"]
    write_flac(_WORKER["root"] / rel, render(job, cfg), cfg.sample_rate, cfg.bit_depth)
    return 1


def render_all(root: Path, cfg: SynthConfig, jobs: list[tuple[TrackJob, str]], *,
               workers: int = 1, progress: bool = True) -> None:
    """Render and write every job's FLAC file (in parallel when ``workers`` > 1)."""
    from tqdm.auto import tqdm

    for d in sorted({str(Path(rel).parent) for _, rel in jobs}):
        (root / d).mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(jobs), desc="rendering audio", unit="clip", disable=not progress)
    try:
        if workers <= 1 or len(jobs) < 64:
            _init_worker(str(root), cfg)
            for item in jobs:
                bar.update(_render_one(item))
        else:
            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else "spawn")
            chunk = max(1, min(32, math.ceil(len(jobs) / (workers * 16))))
            with ctx.Pool(workers, initializer=_init_worker, initargs=(str(root), cfg)) as pool:
                for n in pool.imap_unordered(_render_one, jobs, chunksize=chunk):
                    bar.update(n)
    finally:
        bar.close()


# ----------------------------------------------------------------------------- stats
def dataset_stats(tracks: list[Track], playlists: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("pretrain", "train", "valid", "test"):
        out[f"{split}_tracks"] = sum(1 for t in tracks if t.split == split)
    for split in ("train", "valid", "test"):
        pls = [tids for _, s, tids in playlists if s == split]
        n_items = sum(len(p) for p in pls)
        distinct = len({t for p in pls for t in p})
        out[f"{split}_playlists"] = len(pls)
        out[f"{split}_avg_tracks_per_playlist"] = round(n_items / max(len(pls), 1), 2)
        out[f"{split}_avg_playlists_per_track"] = round(n_items / max(distinct, 1), 2)
        out[f"{split}_min_len"] = min((len(p) for p in pls), default=0)
        out[f"{split}_max_len"] = max((len(p) for p in pls), default=0)
    return out


def _card(cfg: SynthConfig, stats: dict[str, Any], n_rel: int) -> str:
    lines = [
        f"# synth-{cfg.preset}-{cfg.size}",
        "",
        "A generated music world (larpbench `benchmark.data.synth`): procedurally rendered",
        "audio, simulated curators, a cold-start split. See docs/datasets-synth.md.",
        "",
        f"- seed {cfg.seed}, {cfg.sample_rate} Hz mono FLAC, {cfg.clip_seconds:g} s clips in "
        f"{cfg.file_seconds:g} s files ({cfg.bit_depth}-bit effective resolution)",
        f"- artist_affinity {cfg.artist_affinity}, relation_picks {cfg.relation_picks}, "
        f"outlier_rate {cfg.outlier_rate}",
        f"- information dials: caption_vocab {cfg.caption_vocab}, credit_aliasing {cfg.credit_aliasing}, "
        f"era_preference {cfg.era_preference}",
        f"- {n_rel} artist relations (artist_relations.csv)",
        "",
        "| split | tracks | playlists | avg tracks/playlist | avg playlists/track |",
        "|---|---|---|---|---|",
        f"| pretrain | {stats['pretrain_tracks']} | - | - | - |",
    ]
    for s in ("train", "valid", "test"):
        lines.append(f"| {s} | {stats[f'{s}_tracks']} | {stats[f'{s}_playlists']} | "
                     f"{stats[f'{s}_avg_tracks_per_playlist']} | {stats[f'{s}_avg_playlists_per_track']} |")
    lines += ["", f"tracks.csv's extra columns ({', '.join(HIDDEN_COLUMNS)}) and track_latents.csv",
              "are generator ground truth for analysis and the oracle encoders; other encoders",
              "must not use them.", ""]
    return "\n".join(lines)
