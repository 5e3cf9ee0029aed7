"""The generator's information dials (caption_vocab, credit_aliasing, era_preference,
relation_picks): range checks, manifest and hash, and that each dial moves what it says
and nothing else."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from benchmark.core.dataset import Dataset, content_hash
from benchmark.data.synth import build, make_config
from benchmark.data.synth.audio import TrackJob, master_era, render
from benchmark.data.synth.genres import GENRES, NEUTRAL_VOCAB, SHARED_TITLES
from benchmark.data.synth.playlists import make_splits
from benchmark.data.synth.world import build_world

SMALL = dict(n_train=60, n_pretrain=6, n_valid_playlists=3, n_test_playlists=3, valid_pool=100,
             test_pool=100, eval_length_min=11, eval_length_max=15, length_min=10, length_max=20,
             length_mean=15, clip_seconds=0.5, file_margin=0.25)
DIALS = ("caption_vocab", "credit_aliasing", "era_preference", "relation_picks")
FUNCTION_WORDS = {"the", "and", "on", "from", "of", "in", "a", "by", "album", "track"}


def _words(strings) -> set[str]:
    out: set[str] = set()
    for s in strings:
        out |= {w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ']+", re.sub(r"\{[a-z]+\}", "", s))}
    return out


def _genre_words() -> set[str]:
    words: set[str] = set()
    for g in GENRES:
        v = g.vocab
        words |= _words((*v.adjectives, *v.nouns, *v.places, *v.words, *v.artist_templates,
                         *v.album_templates, *v.title_templates))
    return words - FUNCTION_WORDS


@pytest.mark.parametrize("dial", DIALS)
@pytest.mark.parametrize("value", [-0.1, 1.5, "0.5"])
def test_bad_dial_values_name_the_field_and_range(dial, value):
    with pytest.raises(ValueError, match=rf"{dial}=.*allowed range \[0, 1\]"):
        make_config("mpd", "tiny", **{dial: value})


def test_unknown_dial_is_rejected_with_a_hint():
    with pytest.raises(TypeError, match="caption_vocab"):
        make_config("mpd", "tiny", caption_vocb=0.5)


def test_neutral_pool_shares_no_word_with_any_genre():
    v = NEUTRAL_VOCAB
    neutral = _words((*v.adjectives, *v.nouns, *v.places, *v.words, *v.artist_templates,
                      *v.album_templates, *v.title_templates))
    assert not (neutral - FUNCTION_WORDS) & _genre_words()
    assert not any("{key}" in t for t in (*v.title_templates, *v.album_templates))


def _tables(root):
    with open(root / "tracks.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def vocab_pair(tmp_path_factory):
    """The same small world at caption_vocab 0 and 1 (everything else equal)."""
    out = {}
    for v in (0.0, 1.0):
        root = tmp_path_factory.mktemp("dials") / f"v{v}"
        build(root, preset="mpd", size="tiny", progress=False, workers=1, caption_vocab=v,
              credit_aliasing=0.0, **SMALL)
        out[v] = root
    return out


def test_caption_vocab_changes_only_the_names(vocab_pair):
    a, b = vocab_pair[0.0], vocab_pair[1.0]
    assert (a / "playlists.csv").read_bytes() == (b / "playlists.csv").read_bytes()
    assert (a / "checksums.csv").read_bytes() == (b / "checksums.csv").read_bytes()
    assert (a / "track_latents.csv").read_bytes() == (b / "track_latents.csv").read_bytes()
    ta, tb = _tables(a), _tables(b)
    names = ("title", "artist", "album", "canonical_artist")
    for ra, rb in zip(ta, tb):
        assert {k: v for k, v in ra.items() if k not in names} == {k: v for k, v in rb.items() if k not in names}
    assert sum(ra["title"] != rb["title"] for ra, rb in zip(ta, tb)) > len(ta) // 2
    assert content_hash(a) != content_hash(b)  # the dial is in the hash


def test_audio_from_a_names_only_sibling_is_byte_identical(vocab_pair, tmp_path):
    linked = tmp_path / "linked"
    build(linked, preset="mpd", size="tiny", progress=False, workers=1, caption_vocab=0.0,
          credit_aliasing=0.0, audio_from=vocab_pair[1.0], **SMALL)
    assert content_hash(linked) == content_hash(vocab_pair[0.0])
    other = tmp_path / "other"
    with pytest.raises(ValueError, match=r"audio_from=.*seed: 0 != 1.*only caption_vocab, credit_aliasing"):
        build(other, preset="mpd", size="tiny", seed=1, progress=False, caption_vocab=0.0,
              credit_aliasing=0.0, audio_from=vocab_pair[1.0], **SMALL)


def test_caption_vocab_zero_leaves_no_genre_word_in_captions(vocab_pair):
    rows = _tables(vocab_pair[0.0])
    caption_words = _words(f"{r['title']} {r['artist']} {r['album']}" for r in rows)
    leaked = (caption_words - FUNCTION_WORDS) & _genre_words()
    # first/last names and shared titles are genre-free by construction; nothing else may leak
    assert not leaked - _words(SHARED_TITLES)
    assert not any(re.search(r"\bin [A-G][b#]? (major|minor)\b", r["title"]) for r in rows)
    genre_side = _words(f"{r['title']} {r['artist']} {r['album']}" for r in _tables(vocab_pair[1.0]))
    assert len((genre_side - FUNCTION_WORDS) & _genre_words()) > 20


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_credit_aliasing_share(share):
    cfg = make_config("mpd", "tiny", credit_aliasing=share, **SMALL)
    world = build_world(cfg)
    uids = range(0, world.n_tracks, 7)
    aliased = [world.credits(u) != (world.artist_name[int(world.track_artist[u])],
                                    world.album_name[int(world.track_album[u])]) for u in uids]
    n = len(aliased)
    rate = sum(aliased) / n
    if share in (0.0, 1.0):
        assert rate == share
    else:  # binomial: 5 standard errors
        assert abs(rate - share) < 5 * (share * (1 - share) / n) ** 0.5


def test_era_is_audible():
    """The same track rendered at era 0 and era 1: the old master has less energy above
    3 kHz (the era's low-pass), both at the same loudness after normalisation."""
    cfg = make_config("mpd", "tiny")
    world = build_world(cfg)
    from benchmark.data.synth.generate import _job

    job = _job(world, 5)
    sr = cfg.sample_rate
    hf = []
    for era in (0.0, 1.0):
        x = render(TrackJob(**{**job.__dict__, "era": era}), cfg).astype(np.float64)
        spec = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / sr)
        hf.append(spec[freqs > 3000].sum() / spec.sum())
        assert abs(20 * np.log10(np.sqrt(np.mean(x ** 2))) - job.loudness) < 1.5
    assert hf[0] < 0.5 * hf[1]


def test_master_era_is_a_lowpass_with_rising_drive():
    """Two tones, 500 Hz and 6 kHz: a 2nd-order low-pass at 1.8 kHz (era 0) takes the
    6 kHz tone about 21 dB below the 500 Hz one, at 7.2 kHz (era 1) it stays within ~6 dB;
    the output's level is set by the drive (tanh(d * 0.25 * x / rms) / d)."""
    sr = 16000
    t = np.arange(sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 500 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)

    def tilt(y):
        spec = np.abs(np.fft.rfft(y.astype(np.float64)))
        return 20 * np.log10(spec[6000] / spec[500])  # 1 s of audio: bin k is k Hz

    assert tilt(master_era(x, 0.0, sr)) < -15
    assert tilt(master_era(x, 1.0, sr)) > -8
    assert np.abs(master_era(x, 1.0, sr)).max() <= 1 / 5 + 1e-6  # tanh(.) / drive, drive 5


def _splits(**kw):
    cfg = make_config("mpd", "quick", outlier_rate=0.0, **kw)  # metadata only (seconds); tiny pools are too small
    world = build_world(cfg)
    return world, make_splits(world, cfg)


def test_era_preference_tightens_playlists_in_era():
    spreads = []
    for pref in (0.0, 1.0):
        world, sp = _splits(era_preference=pref, era_tolerance=0.1, artist_affinity=0.0,
                            relation_picks=0.0)
        spreads.append(np.mean([np.std(world.track_era[np.asarray(pl)]) for _, _, pl in sp.playlists]))
    assert spreads[1] < 0.9 * spreads[0]  # measured 0.287 -> 0.234 at quick size, seed 0


def test_relation_picks_follow_the_graph():
    """With ``relation_picks`` = 1 (no outliers, no favourites' own tracks) a playlist's picks
    are tracks of the curator's favourites' graph neighbours; with 0 they are content
    picks, which reach those neighbours only by chance."""
    from benchmark.data.synth.playlists import Pool, fill_playlist, make_curator

    shares = []
    for r in (0.0, 1.0):
        cfg = make_config("mpd", "ci", outlier_rate=0.0, relation_picks=r, artist_affinity=0.0)
        world = build_world(cfg)
        pool = Pool.make(world, "train", np.arange(world.n_tracks))
        rng = np.random.default_rng(0)
        hit = total = 0
        for _ in range(40):
            cur = make_curator(rng, world, pool, cfg)
            neighbours = set(pool.by_artist.keys[cur.neighbours].tolist())
            artists = pool.artist[np.asarray(fill_playlist(rng, cur, pool, 20, cfg))]
            hit += sum(int(a) in neighbours for a in artists)
            total += len(artists)
        shares.append(hit / total)
    assert shares[1] > 0.8 and shares[0] < 0.4, shares


def test_dials_are_in_manifest_and_hidden_files_in_hash(vocab_pair):
    root = vocab_pair[1.0]
    params = Dataset(root).manifest["params"]
    for d in DIALS:
        assert d in params
    original = content_hash(root)
    for name in ("artist_relations.csv", "track_latents.csv"):
        path = root / name
        data = path.read_bytes()
        path.write_bytes(data + b"\n")
        try:
            assert content_hash(root) != original, name
        finally:
            path.write_bytes(data)
    manifest = root / "manifest.json"
    m = json.loads(manifest.read_text())
    m2 = {**m, "params": {**m["params"], "relation_picks": 0.99}}
    manifest.write_text(json.dumps(m2))
    try:
        assert content_hash(root) != original
    finally:
        manifest.write_text(json.dumps(m))
    assert content_hash(root) == original


def test_a_names_only_variant_links_the_base_worlds_audio(tmp_path):
    from benchmark.data import resolve

    variant = resolve("synth-mpd[caption_vocab=1]", "tiny", root=tmp_path, progress=False)
    base = tmp_path / "synth-mpd-tiny"
    assert (base / "manifest.json").exists()  # built first, then linked from
    assert (variant.root / "checksums.csv").read_bytes() == (base / "checksums.csv").read_bytes()
    rel = next(iter(variant.tracks.values())).audio
    assert (variant.root / rel).stat().st_ino == (base / rel).stat().st_ino
    assert variant.manifest["params"]["caption_vocab"] == 1.0
    assert variant.content_hash != Dataset(base).content_hash


def test_mean_square_is_exact_to_the_grid_and_order_free():
    from benchmark.data.synth.audio import mean_square

    rng = np.random.default_rng(3)
    x = rng.standard_normal(10_001) * 3.0
    ref = float(np.mean(x.astype(np.longdouble) ** 2))
    assert abs(mean_square(x) - ref) <= 1e-10 * ref
    assert mean_square(x) == mean_square(x[::-1]) == mean_square(rng.permutation(x))
    assert mean_square(np.zeros(5)) == 0.0
    assert mean_square(np.array([2.0, -2.0])) == 4.0
