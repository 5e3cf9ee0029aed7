"""The genre-identifiability probe (``larpbench data probe``): the nearest-centroid classifier
on a hand-worked example, and the probe on a world whose captions name the genre."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.dataset import Dataset, DatasetError, Track, write_dataset
from benchmark.harness.probe import NearestCentroid, genre_probe, probe_vectors

SR = 16000
GENRES = ("rock", "jazz", "folk")


def test_nearest_centroid_by_hand():
    # class a: (1, 0) and (2, 0) normalise to (1, 0) twice -> centroid (1, 0)
    # class b: (0, 1) and (1, 1)/sqrt(2) -> centroid (0.353553, 0.853553)
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0]])
    clf = NearestCentroid.fit(x, ["a", "b", "a", "b"])
    assert clf.classes == ("a", "b")
    np.testing.assert_allclose(clf.centroids, [[1.0, 0.0], [0.35355339, 0.85355339]], atol=1e-8)
    # (1, 0.9): cosine 0.7433 with a, 0.9025 with b;  (1, 0.2): 0.9806 with a, 0.5564 with b
    # (0, 0): cosine 0 with both -> the first class
    assert clf.predict(np.array([[1.0, 0.9], [1.0, 0.2], [0.0, 0.0]])) == ["b", "a", "a"]
    assert clf.predict(np.zeros((0, 2))) == []
    r = probe_vectors(x, ["a", "b", "a", "b"], np.array([[1.0, 0.9], [1.0, 0.2]]), ["a", "a"])
    assert r["accuracy"] == 0.5 and r["dim"] == 2
    with pytest.raises(ValueError, match="2 vectors but 3 labels"):
        NearestCentroid.fit(x[:2], ["a", "b", "a"])


def _world(root: Path, *, genre_column: bool = True) -> Dataset:
    """12 tracks, genre = i mod 3, tracks 0-5 train, 6-11 test. The caption's title names the
    genre ("Rock Tune"); the audio does not: tracks i, i+1, i+2 (one of each genre) share one
    tone, whose pitch depends on i // 3 only."""
    import soundfile as sf

    (root / "audio").mkdir(parents=True)
    tracks = []
    t = np.arange(SR) / SR
    for i in range(12):
        genre = GENRES[i % 3]
        wav = 0.3 * np.sin(2 * np.pi * 220.0 * 2 ** (5 * (i // 3) / 12) * t).astype(np.float32)
        sf.write(root / f"audio/t{i}.wav", wav, SR)
        tracks.append(Track(f"t{i}", f"{genre.title()} Tune", f"Player {i}", "Collected", f"audio/t{i}.wav", 0.0,
                            "train" if i < 6 else "test", {"genre": genre} if genre_column else {}))
    ids = [tr.track_id for tr in tracks]
    write_dataset(root, name="probe-world", source="tests/test_probe.py", sample_rate=SR, clip_seconds=1.0,
                  tracks=tracks, playlists=[("train-1", "train", ids[:6]), ("test-1", "test", ids[6:])],
                  extra_columns=("genre",) if genre_column else ())
    return Dataset(root)


def _melstats_accuracy(ds: Dataset, tmp_path: Path) -> float:
    """Recomputed apart from the probe: melstats vectors from the registry, centroids and
    cosines written out here."""
    from encoders import REGISTRY

    enc = REGISTRY.get("melstats").from_profile("ci")
    enc.fit(ds, seed=0, workdir=tmp_path / "melstats")
    train, test = ds.track_ids("train"), ds.track_ids("test")
    xtr, xte = enc.embed(ds, train).astype(np.float64), enc.embed(ds, test).astype(np.float64)
    xtr /= np.linalg.norm(xtr, axis=1, keepdims=True)
    xte /= np.linalg.norm(xte, axis=1, keepdims=True)
    names = sorted(GENRES)
    cents = np.stack([xtr[[ds.tracks[t].extra["genre"] == g for t in train]].mean(0) for g in names])
    cents /= np.linalg.norm(cents, axis=1, keepdims=True)
    pred = [names[int(np.argmax(cents @ v))] for v in xte]
    return float(np.mean([p == ds.tracks[t].extra["genre"] for p, t in zip(pred, test)]))


def test_probe_caption_names_the_genre_audio_does_not(tmp_path):
    ds = _world(tmp_path / "w")
    result = genre_probe(ds, profile="ci", progress=False)
    assert result["encoders"]["caption-tfidf"]["accuracy"] == 1.0  # the title word is the genre
    # every genre's train centroid is the mean of the same two audio vectors: all cosines tie,
    # so every test track gets the first genre in sorted order (folk): 2 of 6 right
    assert result["encoders"]["melstats"]["accuracy"] == pytest.approx(2 / 6)
    assert _melstats_accuracy(ds, tmp_path) == pytest.approx(2 / 6)
    # train genres are balanced (2 each): the majority is the first in sorted order, folk (2 of 6 test tracks)
    assert result["majority"] == {"genre": "folk", "rate": pytest.approx(2 / 6)}
    assert result["chance"] == pytest.approx(1 / 3) and result["genres"] == 3
    assert (result["train_tracks"], result["test_tracks"]) == (6, 6)


def test_probe_command_prints_and_writes_json(tmp_path, capsys):
    from benchmark.cli import main

    ds = _world(tmp_path / "w")
    out = tmp_path / "probe.json"
    assert main(["data", "probe", str(ds.root), "--profile", "ci", "--json", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["encoders"]["caption-tfidf"]["accuracy"] == 1.0 and saved["profile"] == "ci"
    for line in ("caption-tfidf", "melstats", "majority class", "chance"):
        assert line in printed


def test_probe_needs_the_genre_column(tmp_path):
    ds = _world(tmp_path / "w", genre_column=False)
    with pytest.raises(DatasetError, match=r"tracks\.csv: no column 'genre'"):
        genre_probe(ds, profile="ci", progress=False)
