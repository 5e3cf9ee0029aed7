"""The canonical dataset format and its validator: bad input → errors naming file and row."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from benchmark.core.dataset import Dataset, DatasetError, Track, caption_for, write_dataset
from benchmark.core.validate import validate


def _make(root, n_per_split=4, sr=8000):
    (root / "audio").mkdir(parents=True)
    tracks = []
    for k, split in enumerate(("pretrain", "train", "valid", "test")):
        for i in range(n_per_split):
            tid = f"{split}-{i}"
            t = np.arange(sr * 2) / sr  # distinct audio per track: identical bytes across splits are leakage
            sf.write(root / "audio" / f"{tid}.flac", 0.1 * np.sin(2 * np.pi * (200 + 50 * i + 7 * ((k + 3) % 4)) * t), sr)
            tracks.append(Track(tid, f"Song {i}", f"Artist {i % 2}", "Album A", f"audio/{tid}.flac", 0.5, split))
    playlists = [(f"p-{s}", s, [f"{s}-{i}" for i in range(n_per_split)]) for s in ("train", "valid", "test")]
    write_dataset(root, name="fixture", source="test", sample_rate=sr, clip_seconds=1.0,
                  tracks=tracks, playlists=playlists)
    return root


def _rewrite(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


def test_roundtrip_and_audio(tmp_path):
    ds = validate(_make(tmp_path / "d"))
    assert ds.track_ids("train") == [f"train-{i}" for i in range(4)]
    assert ds.playlists["p-test"] == [f"test-{i}" for i in range(4)]
    assert ds.caption("train-1") == "The track Song 1 by Artist 1 on album Album A"
    wav = ds.load_audio("train-0")
    assert wav.dtype == np.float32 and wav.shape == (8000,)
    wav16 = ds.load_audio("train-0", sample_rate=16000)
    assert wav16.shape == (16000,)
    # 200 Hz sine: the spectrum peaks at 200 Hz after resampling too
    spec = np.abs(np.fft.rfft(wav16))
    assert abs(np.argmax(spec) * 16000 / len(wav16) - 200) <= 1


def test_caption_template():
    assert caption_for("A", "B", "C") == "The track A by B on album C"


@pytest.mark.parametrize("mutation, message", [
    (("tracks.csv", "\ntrain-1,Song 1", "\ntrain-0,Song 1"), r"tracks\.csv, line \d+: duplicate track_id 'train-0'"),
    (("tracks.csv", "Song 2,Artist 0", ",Artist 0"), r"tracks\.csv, line \d+: empty title"),
    (("tracks.csv", "audio/train-0.flac", "../../etc/passwd"), r"tracks\.csv, line \d+: .*outside the dataset root"),
    (("tracks.csv", "audio/train-0.flac", "/etc/passwd"), r"tracks\.csv, line \d+: .*absolute"),
    (("playlists.csv", "p-test,test,test-0", "p-test,test,train-0"), r"playlists\.csv, line \d+: .*cold-start leakage"),
    (("tracks.csv", ",0.500,train", ",abc,train"), r"tracks\.csv, line \d+: clip_start 'abc'"),
])
def test_structural_errors_name_file_and_row(tmp_path, mutation, message):
    root = _make(tmp_path / "d")
    fname, old, new = mutation
    _rewrite(root / fname, old, new)
    with pytest.raises(DatasetError, match=message):
        Dataset(root)


def test_playlist_under_two_tracks(tmp_path):
    root = _make(tmp_path / "d")
    lines = (root / "playlists.csv").read_text().splitlines()
    kept = [ln for ln in lines if not ln.startswith("p-valid") or ln.endswith("valid-0")]
    (root / "playlists.csv").write_text("\n".join(kept) + "\n")
    with pytest.raises(DatasetError, match=r"playlist 'p-valid' has 1 track"):
        Dataset(root)


def test_missing_unreadable_and_edited(tmp_path):
    root = _make(tmp_path / "d")
    (root / "audio" / "test-2.flac").unlink()
    with pytest.raises(DatasetError, match=r"line \d+ \(track test-2\): audio file 'audio/test-2.flac' is missing"):
        validate(root)
    root = _make(tmp_path / "e")
    (root / "audio" / "test-1.flac").write_bytes(b"not audio at all")
    with pytest.raises(DatasetError, match=r"test-1.*unreadable"):
        validate(root, checksums=False)
    with pytest.raises(DatasetError, match=r"unreadable audio"):
        Dataset(root).load_audio("test-1")
    root = _make(tmp_path / "f")
    _rewrite(root / "tracks.csv", "Song 3,Artist 1", "Song 33,Artist 1")
    with pytest.raises(DatasetError, match="content_hash"):
        validate(root)


def test_manifest_required(tmp_path):
    root = _make(tmp_path / "d")
    (root / "manifest.json").unlink()
    with pytest.raises(DatasetError, match="no manifest"):
        Dataset(root)
    root = _make(tmp_path / "e")
    m = json.loads((root / "manifest.json").read_text())
    m["format"] = "other/9"
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DatasetError, match="format 'other/9'"):
        Dataset(root)
