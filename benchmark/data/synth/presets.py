"""Generator parameters: the two presets (``mpd``, ``lfm``) and the four sizes.

:func:`make_config` merges ``preset`` defaults, ``size`` defaults (with per-preset size
tweaks) and keyword overrides into a :class:`SynthConfig`; every field of it is written to
the manifest's ``params`` so a dataset records exactly how it was made.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

GENERATOR_VERSION = "synth/2"


@dataclass(frozen=True)
class SynthConfig:
    preset: str
    size: str
    seed: int = 0
    # -- world ---------------------------------------------------------------------------
    n_genres: int = 12  # the first n genres of genres.GENRES
    tracks_per_artist: float = 22.0  # mean; albums of 6..14 tracks
    secondary_genre_prob: float = 0.3  # artists with a second genre
    secondary_album_prob: float = 0.3  # albums of such artists that are in the second genre
    artists_per_scene: float = 12.0
    cross_genre_scene_prob: float = 0.15  # artists whose scene lies in another genre
    scene_spread: float = 0.5  # z-scale of the scene's shared sound signature
    artist_spread: float = 0.8  # z-scale of an artist's sound signature
    style_noise: float = 0.7  # z-scale of per-track variation
    artist_loyalty: float = 0.75  # P(track uses its artist's instrument/pattern choices)
    relations_per_artist: float = 5.0  # mean degree of the artist-relation graph
    popularity_skew: float = 1.0  # Zipf exponent of artist popularity
    track_popularity_sigma: float = 1.0  # log-normal spread of track popularity within an artist
    # -- audio ---------------------------------------------------------------------------
    sample_rate: int = 16000
    clip_seconds: float = 10.0
    file_margin: float = 0.5  # the file is this much longer than the clip
    bit_depth: int = 11  # effective resolution of the 16-bit FLAC files (smaller files)
    # -- splits and playlists -------------------------------------------------------------
    n_pretrain: int = 1000
    n_train: int = 3000  # distinct training tracks (approximately: whole playlists are added)
    n_valid_playlists: int = 100
    n_test_playlists: int = 220
    valid_pool: int = 1500  # candidate tracks for valid playlists (unused ones are dropped)
    test_pool: int = 3500
    playlists_per_track: float = 1.4  # target for the training split (calibrated)
    max_train_pool_factor: float = 12.0
    length_min: int = 20
    length_max: int = 100
    length_mean: float = 55.0
    eval_length_min: int = 20  # valid/test playlists; always within 11..101
    eval_length_max: int = 100
    eval_length_mean: float = 0.0  # mean length of valid/test playlists (0: length_mean)
    curator_genres: tuple[float, ...] = (0.55, 0.35, 0.10)  # P(1 genre), P(2), P(3), ...
    favourite_artists: tuple[int, int] = (2, 5)
    artist_affinity: float = 0.5  # share of non-outlier picks driven by artist affinities
    outlier_rate: float = 0.05  # share of picks from the global popularity distribution
    tempo_tolerance: float = 14.0  # bpm; width of a curator's tempo preference
    mode_strictness: float = 0.5  # how strongly a curator prefers major or minor
    loudness_tolerance: float = 4.0  # dB; width of a curator's loudness preference
    content_floor: float = 0.05  # lowest acceptance of a genre pick that does not match
    # -- information dials (docs/datasets-synth.md, "Information dials") -------------------
    caption_vocab: float = 1.0  # P(a name slot draws from its genre's vocabulary, not the neutral pool)
    credit_aliasing: float = 0.0  # share of tracks credited under another artist/album string
    era_preference: float = 0.0  # weight curators give the audio-only production era
    era_tolerance: float = 0.15  # width of a curator's era preference (era lies in [0, 1])
    relation_picks: float = 0.0  # share of non-outlier picks that follow the artist-relation graph

    def params(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
        d["generator"] = GENERATOR_VERSION
        return d

    @property
    def file_seconds(self) -> float:
        return self.clip_seconds + self.file_margin


#: The dials every field of which is a share or probability in [0, 1].
DIALS = ("caption_vocab", "credit_aliasing", "era_preference", "relation_picks", "artist_affinity")
#: The default worlds' information dials, pre-registered in docs/datasets-synth.md
#: ("Choosing the default worlds") before any model was run on them.
DEFAULT_DIALS: dict[str, float] = {"caption_vocab": 0.0, "credit_aliasing": 0.25, "era_preference": 0.5}

PRESETS: dict[str, dict[str, Any]] = {
    # Spotify MPD-like: user-made playlists, about 1.4 playlists per training track,
    # 20-100 tracks, mostly one or two related genres, few outliers.
    "mpd": dict(
        caption_vocab=DEFAULT_DIALS["caption_vocab"], credit_aliasing=DEFAULT_DIALS["credit_aliasing"],
        era_preference=DEFAULT_DIALS["era_preference"], relation_picks=0.2,
        playlists_per_track=1.4, length_min=20, length_max=100, length_mean=55.0,
        eval_length_min=20, eval_length_max=100, curator_genres=(0.55, 0.35, 0.10),
        favourite_artists=(2, 5), artist_affinity=0.5, outlier_rate=0.05, tempo_tolerance=14.0,
        mode_strictness=0.5, loudness_tolerance=4.0, max_train_pool_factor=12.0,
    ),
    # Last.fm-like: chunks of listening histories, about 4.6 playlists per training track,
    # longer, broader tastes, more outliers.
    "lfm": dict(
        caption_vocab=DEFAULT_DIALS["caption_vocab"], credit_aliasing=DEFAULT_DIALS["credit_aliasing"],
        era_preference=DEFAULT_DIALS["era_preference"], relation_picks=0.15,
        playlists_per_track=4.6, length_min=30, length_max=101, length_mean=80.0,
        eval_length_min=30, eval_length_max=101, curator_genres=(0.10, 0.35, 0.40, 0.15),
        favourite_artists=(3, 8), artist_affinity=0.35, outlier_rate=0.12, tempo_tolerance=28.0,
        mode_strictness=0.2, loudness_tolerance=8.0, max_train_pool_factor=4.0,
    ),
}
PRESET_ALIASES = {"synth-mpd": "mpd", "synth-lfm": "lfm"}

SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(n_pretrain=60, n_train=300, n_valid_playlists=20, n_test_playlists=20,
                 valid_pool=220, test_pool=220, clip_seconds=4.0, file_margin=0.5,
                 tracks_per_artist=12.0, artists_per_scene=6.0),
    "ci": dict(n_pretrain=200, n_train=800, n_valid_playlists=40, n_test_playlists=60,
               valid_pool=500, test_pool=800, clip_seconds=5.0, file_margin=0.5,
               tracks_per_artist=16.0, artists_per_scene=8.0),
    "quick": dict(n_pretrain=1000, n_train=3000, n_valid_playlists=100, n_test_playlists=220,
                  valid_pool=900, test_pool=2600, clip_seconds=10.0, file_margin=0.5),
    # the artist-relationship task (docs/artist-gnn.md): quick's splits, ~4,000 artists of one
    # album each (about 2 tracks per artist in the dataset) and a dense relation graph, so a
    # 10% test split of artists holds about 6 hidden relations per artist
    "artists": dict(n_pretrain=1000, n_train=3000, n_valid_playlists=100, n_test_playlists=220,
                    valid_pool=900, test_pool=2600, clip_seconds=10.0, file_margin=0.5,
                    tracks_per_artist=4.0, max_train_pool_factor=4.0, relations_per_artist=100.0,
                    artists_per_scene=100.0),
    "paper": dict(n_pretrain=20000, n_train=100000, n_valid_playlists=1000,
                  n_test_playlists=1000, valid_pool=12000, test_pool=12000, clip_seconds=10.0,
                  file_margin=0.5),
}
#: per-preset adjustments of a size (a listening-history preset touches more distinct tracks)
SIZE_TWEAKS: dict[tuple[str, str], dict[str, Any]] = {
    ("lfm", "tiny"): dict(valid_pool=260, test_pool=260),
    ("lfm", "ci"): dict(valid_pool=600, test_pool=900),
    # >= 300 training playlists at quick: more training tracks in shorter training
    # playlists; valid/test playlists keep the preset's lengths
    ("lfm", "quick"): dict(valid_pool=900, test_pool=2400, n_train=4000, length_min=20, length_mean=45.0,
                           eval_length_mean=80.0),
    ("mpd", "quick"): dict(n_train=4000, length_min=10, length_mean=16.0, eval_length_mean=55.0),
    ("lfm", "paper"): dict(valid_pool=20000, test_pool=20000),
}


def canonical_preset(preset: str) -> str:
    p = PRESET_ALIASES.get(preset, preset)
    if p not in PRESETS:
        known = sorted([*PRESETS, *PRESET_ALIASES])
        close = difflib.get_close_matches(preset, known, n=2, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown synth preset {preset!r}{hint} (known: {', '.join(known)})")
    return p


def make_config(preset: str, size: str, seed: int = 0, **overrides: Any) -> SynthConfig:
    """The configuration for ``preset`` at ``size`` with keyword ``overrides`` applied."""
    preset = canonical_preset(preset)
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r} (known: {', '.join(SIZES)})")
    names = {f.name for f in dataclasses.fields(SynthConfig)} - {"preset", "size", "seed"}
    bad = [k for k in overrides if k not in names]
    if bad:
        hints = []
        for k in bad:
            close = difflib.get_close_matches(k, sorted(names), n=1, cutoff=0.6)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(f"unknown synth parameter(s): {', '.join(hints)}")
    values: dict[str, Any] = {}
    values.update(PRESETS[preset])
    values.update(SIZES[size])
    values.update(SIZE_TWEAKS.get((preset, size), {}))
    values.update(overrides)
    for k in ("curator_genres", "favourite_artists"):
        if k in values:
            values[k] = tuple(values[k])
    cfg = SynthConfig(preset=preset, size=size, seed=int(seed), **values)
    validate(cfg)
    return cfg


def validate(cfg: SynthConfig) -> None:
    from .genres import GENRES

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(f"synth parameter error: {msg}")

    need(2 <= cfg.n_genres <= len(GENRES), f"n_genres must be in 2..{len(GENRES)}")
    for name in DIALS:
        value = getattr(cfg, name)
        need(isinstance(value, (int, float)) and 0.0 <= value <= 1.0,
             f"{name}={value!r} is outside its allowed range [0, 1]")
    need(0.0 < cfg.era_tolerance <= 1.0, f"era_tolerance={cfg.era_tolerance!r} must be in (0, 1]")
    need(0.0 <= cfg.outlier_rate < 1.0, "outlier_rate must be in [0, 1)")
    need(cfg.sample_rate >= 8000, "sample_rate must be >= 8000")
    need(8 <= cfg.bit_depth <= 16, "bit_depth must be in 8..16")
    need(cfg.clip_seconds > 0 and cfg.file_margin >= 0, "clip_seconds > 0, file_margin >= 0")
    need(cfg.n_train >= 10 and cfg.n_pretrain >= 0, "n_train >= 10 and n_pretrain >= 0")
    need(cfg.n_valid_playlists >= 1 and cfg.n_test_playlists >= 1, "need valid and test playlists")
    need(2 <= cfg.length_min <= cfg.length_mean <= cfg.length_max,
         "length_min <= length_mean <= length_max")
    need(cfg.eval_length_mean == 0 or cfg.eval_length_min <= cfg.eval_length_mean <= cfg.eval_length_max,
         f"eval_length_mean={cfg.eval_length_mean!r} must be 0 (length_mean) or within "
         "eval_length_min..eval_length_max")
    need(11 <= cfg.eval_length_min <= cfg.eval_length_max <= 101,
         "eval playlist lengths must lie in 11..101 (MPD filtering)")
    need(cfg.valid_pool >= cfg.eval_length_max and cfg.test_pool >= cfg.eval_length_max,
         "valid_pool and test_pool must hold at least one longest playlist")
    need(len(cfg.curator_genres) >= 1 and abs(sum(cfg.curator_genres) - 1.0) < 1e-6,
         "curator_genres must be probabilities summing to 1")
    need(1 <= cfg.favourite_artists[0] <= cfg.favourite_artists[1],
         "favourite_artists = (min, max) with 1 <= min <= max")
    need(cfg.playlists_per_track >= 1.0, "playlists_per_track must be >= 1")
    need(cfg.tracks_per_artist >= 2, "tracks_per_artist must be >= 2")
