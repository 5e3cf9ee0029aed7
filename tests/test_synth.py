"""The generated default datasets (benchmark.data.synth), checked at ``tiny`` size."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.dataset import Dataset, DatasetError, caption_for
from benchmark.data.synth import build, make_config
from benchmark.data.synth.world import world_size_needed

#: a very small world for tests that need several builds
SMALL = dict(n_train=40, n_pretrain=6, n_valid_playlists=2, n_test_playlists=2, valid_pool=100,
             test_pool=100, eval_length_min=11, eval_length_max=15, length_min=10, length_max=20,
             length_mean=15, clip_seconds=1.0, file_margin=0.25)


@pytest.fixture(scope="module")
def mpd(tiny_dataset) -> Dataset:
    return tiny_dataset  # conftest: resolve("synth-mpd", "tiny")


@pytest.fixture(scope="module")
def mpd_again(tmp_path_factory) -> Dataset:
    root = tmp_path_factory.mktemp("synth") / "mpd-again"
    build(root, preset="synth-mpd", size="tiny", seed=0, progress=False, workers=1)
    return Dataset(root)


@pytest.fixture(scope="module")
def lfm(tmp_path_factory) -> Dataset:
    root = tmp_path_factory.mktemp("synth") / "lfm"
    build(root, preset="lfm", size="tiny", seed=0, progress=False)
    return Dataset(root)


def _playlists_per_track(ds: Dataset, split: str) -> float:
    pls = [ds.playlists[p] for p in ds.playlist_ids(split)]
    return sum(len(p) for p in pls) / len({t for p in pls for t in p})


# ----------------------------------------------------------------------------- structure
def test_loads_with_all_splits_and_params(mpd):
    s = mpd.summary()
    for split in ("pretrain", "train", "valid", "test"):
        assert s[f"{split}_tracks"] > 0
    assert s["valid_playlists"] == 20 and s["test_playlists"] == 20
    assert 250 <= s["train_tracks"] <= 400
    assert s["pretrain_tracks"] == 60
    assert mpd.sample_rate == 16000 and mpd.clip_seconds == 4.0
    params = mpd.manifest["params"]
    for key in ("preset", "seed", "artist_affinity", "outlier_rate", "generator", "derived",
                "playlists_per_track", "bit_depth"):
        assert key in params
    assert params["preset"] == "mpd" and params["size"] == "tiny"
    assert set(mpd.extra_columns) == {"genre", "tempo", "key", "scale", "canonical_artist", "era"}


def test_same_seed_is_byte_identical(mpd, mpd_again):
    # mpd_again was rendered by one process, mpd by the default pool: same bytes
    assert mpd.content_hash == mpd_again.content_hash
    for name in ("tracks.csv", "playlists.csv", "checksums.csv", "artist_relations.csv"):
        assert (mpd.root / name).read_bytes() == (mpd_again.root / name).read_bytes()


def test_different_seed_differs(tmp_path):
    hashes = []
    for seed in (0, 1):
        build(tmp_path / f"s{seed}", preset="mpd", size="tiny", seed=seed, progress=False, **SMALL)
        hashes.append(Dataset(tmp_path / f"s{seed}").content_hash)
    assert hashes[0] != hashes[1]


def test_splits_are_disjoint_and_cold(mpd):
    by_split = {s: set(mpd.track_ids(s)) for s in ("pretrain", "train", "valid", "test")}
    names = list(by_split)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not by_split[a] & by_split[b]
    in_playlists: dict[str, set[str]] = {"train": set(), "valid": set(), "test": set()}
    for pid, tids in mpd.playlists.items():
        split = mpd.playlist_split[pid]
        assert set(tids) <= by_split[split]
        in_playlists[split] |= set(tids)
    for split, used in in_playlists.items():
        assert used == by_split[split]  # every benchmark track has an interaction
    # artists may span splits (captions then carry signal across the cold-start boundary)
    artists = {s: {mpd.tracks[t].artist for t in by_split[s]} for s in by_split}
    assert artists["train"] & artists["test"]


def test_playlist_lengths_and_density(mpd, lfm):
    for ds, lo, hi in ((mpd, 20, 100), (lfm, 30, 101)):
        for pid, tids in ds.playlists.items():
            n = len(tids)
            if ds.playlist_split[pid] == "train":
                assert lo <= n <= hi, (pid, n)
            else:
                assert 11 <= n <= 101, (pid, n)
    assert 1.2 <= _playlists_per_track(mpd, "train") <= 1.7
    assert 3.5 <= _playlists_per_track(lfm, "train") <= 5.5


def test_preset_differences(mpd, lfm):
    assert _playlists_per_track(lfm, "train") > 2 * _playlists_per_track(mpd, "train")

    def top_genre_share(ds: Dataset) -> float:
        shares = []
        for tids in ds.playlists.values():
            c = Counter(ds.tracks[t].extra["genre"] for t in tids)
            shares.append(c.most_common(1)[0][1] / len(tids))
        return float(np.mean(shares))

    assert top_genre_share(mpd) > top_genre_share(lfm) + 0.05  # mpd is more homogeneous
    assert lfm.manifest["params"]["outlier_rate"] > mpd.manifest["params"]["outlier_rate"]


# ----------------------------------------------------------------------------- content
def test_audio_is_readable_at_the_right_length(mpd):
    import soundfile as sf

    rng = np.random.default_rng(0)
    ids = list(mpd.tracks)
    for tid in rng.choice(ids, size=12, replace=False):
        info = sf.info(str(mpd.audio_path(tid)))
        assert info.samplerate == 16000 and info.channels == 1 and info.format == "FLAC"
        assert info.frames == int(4.5 * 16000)
        t = mpd.tracks[tid]
        assert 0.0 <= t.clip_start <= 0.5
        wav = mpd.load_audio(tid)
        assert wav.dtype == np.float32 and wav.shape == (4 * 16000,)
        assert np.all(np.isfinite(wav)) and np.max(np.abs(wav)) <= 1.0
        assert np.sqrt(np.mean(wav**2)) > 0.005  # not silent
        assert t.audio.startswith("audio/") and t.audio.endswith(".flac")


def test_captions_and_names(mpd):
    for t in list(mpd.tracks.values())[:50]:
        assert mpd.caption(t.track_id) == caption_for(t.title, t.artist, t.album)
        assert mpd.caption(t.track_id) == f"The track {t.title} by {t.artist} on album {t.album}"
    genres_of_title: dict[str, set[str]] = {}
    for t in mpd.tracks.values():
        genres_of_title.setdefault(t.title, set()).add(t.extra["genre"])
    assert any(len(g) >= 3 for g in genres_of_title.values())  # shared titles exist
    assert len({t.extra["genre"] for t in mpd.tracks.values()}) >= 8


def test_artist_relations(mpd):
    import csv

    with open(mpd.root / "artist_relations.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 50
    artists = {t.extra["canonical_artist"] for t in mpd.tracks.values()}
    for r in rows:
        assert r["artist_a"] in artists and r["artist_b"] in artists
        assert r["artist_a"] != r["artist_b"]
        assert 0.0 < float(r["weight"]) <= 1.0


# ----------------------------------------------------------------------------- api
def test_catalog_specs():
    from benchmark.data import catalog

    specs = {name: cls.meta for name, cls in catalog.builders().items()}
    assert specs["synth-mpd"].paper_column == "MPD"
    assert specs["synth-lfm"].paper_column == "LFM"
    for name in ("synth-mpd", "synth-lfm"):
        assert {"tiny", "ci", "quick", "paper"} <= set(specs[name].sizes)


def test_config_errors(tmp_path):
    with pytest.raises(TypeError, match=r"artist_afinity.*artist_affinity"):
        make_config("mpd", "tiny", artist_afinity=0.3)
    with pytest.raises(ValueError, match="artist_affinity"):
        make_config("mpd", "tiny", artist_affinity=1.5)
    with pytest.raises(ValueError, match="unknown synth preset"):
        make_config("mdp", "tiny")
    with pytest.raises(ValueError, match="unknown size"):
        make_config("mpd", "huge")
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(FileExistsError):
        build(tmp_path, preset="mpd", size="tiny", progress=False)


def test_overrides_are_recorded(tmp_path):
    build(tmp_path / "d", preset="mpd", size="tiny", progress=False, artist_affinity=0.0, **SMALL)
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["params"]["artist_affinity"] == 0.0
    assert manifest["params"]["n_train"] == 40
    Dataset(tmp_path / "d")


def test_paper_size_is_consistent():
    for preset in ("mpd", "lfm"):
        cfg = make_config(preset, "paper")
        assert cfg.n_train == 100_000 and cfg.n_valid_playlists == cfg.n_test_playlists == 1000
        assert cfg.clip_seconds == 10.0
        assert world_size_needed(cfg) >= cfg.n_pretrain + cfg.valid_pool + cfg.test_pool + cfg.n_train


def test_unfinished_build_is_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError):
        Dataset(Path(tmp_path))
