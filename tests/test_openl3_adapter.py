"""The ``openl3`` adapter: unavailable without the package; its resampling, framing, batching
and pooling driven by a stand-in model object (expected values computed with plain loops)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from encoders.base import EncoderUnavailable
from encoders.openl3_audio import OpenL3Encoder, frame_signal

DIM = 512


class StandIn:
    """Anything with ``predict(x, batch_size, verbose)``: a few statistics of each window,
    tiled to DIM with distinct scales; records the calls."""

    def __init__(self, dim: int = DIM) -> None:
        self.dim, self.calls = dim, []

    def predict(self, x: np.ndarray, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        self.calls.append((x.shape, batch_size))
        w = x[:, 0, :].astype(np.float64)
        stats = np.stack([w.mean(1), w.std(1), w[:, 0], w[:, -1], np.abs(w).sum(1) / w.shape[1]], 1)
        return np.concatenate([stats * (k + 1) for k in range(-(-self.dim // 5))], 1)[:, : self.dim]


def _windows_by_loops(y: np.ndarray, hop: int) -> list[np.ndarray]:
    padded = [0.0] * 24000 + list(map(float, y))
    while len(padded) < 48000 or (len(padded) - 48000) % hop:
        padded.append(0.0)
    return [np.array(padded[s:s + 48000]) for s in range(0, len(padded) - 48000 + 1, hop)]


def _dataset(root, clip_seconds: float):
    import soundfile as sf

    from benchmark.core.dataset import Dataset, Track, write_dataset

    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(3)
    specs = {"a": 16000, "b": 22050, "c": 16000, "d": 16000}
    tracks = []
    for i, (tid, sr) in enumerate(specs.items()):
        seconds = 0.7 if tid == "c" else 3.0  # "c" ends before the clip does
        t = np.arange(int(seconds * sr)) / sr
        y = 0.3 * np.sin(2 * np.pi * (200 + 100 * i) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(root / f"audio/{tid}.flac", y.astype(np.float32), sr, format="FLAC")
        tracks.append(Track(tid, f"Song {i}", "Artist", "Album", f"audio/{tid}.flac", 0.0, "train"))
    write_dataset(root, name="openl3-test", source="tests/test_openl3_adapter.py", sample_rate=16000,
                  clip_seconds=clip_seconds, tracks=tracks, playlists=[("p0", "train", list(specs))])
    return Dataset(root)


@pytest.mark.skipif(importlib.util.find_spec("openl3") is not None, reason="openl3 is installed here")
def test_unavailable_without_the_package_says_how_to_install():
    with pytest.raises(EncoderUnavailable, match="pip install openl3"):
        OpenL3Encoder().check_available()


def test_config_is_validated():
    for bad in ({"content_type": "speech"}, {"input_repr": "mfcc"}, {"embedding_size": 128},
                {"pooling": "median"}, {"hop_size": 0.0}):
        with pytest.raises(ValueError):
            OpenL3Encoder(bad)
    assert OpenL3Encoder({"embedding_size": 6144}).output_dim() == 6144


@pytest.mark.parametrize("n", [1, 4000, 48000 - 24000, 48000, 50000, 96000 + 7])
@pytest.mark.parametrize("hop", [4800, 24000])
def test_framing_follows_openl3(n, hop):
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    got = frame_signal(y, hop)
    want = _windows_by_loops(y, hop)
    assert got.shape == (len(want), 48000)
    assert np.array_equal(got, np.array(want, dtype=np.float32))
    # openl3's _get_num_windows
    padded = n + 24000
    assert len(want) == (1 if padded <= 48000 else 1 + math.ceil((padded - 48000) / hop))


@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("clip_seconds", [2.5, 0.5])
def test_embed_resamples_frames_and_pools(tmp_path, pooling, clip_seconds):
    ds = _dataset(tmp_path / "ds", clip_seconds)
    stub = StandIn()
    enc = OpenL3Encoder({"pooling": pooling, "normalize": False, "hop_size": 0.25}, model=stub)
    enc.check_available()  # a stand-in model makes it available
    ids = ["a", "b", "c", "d"]
    X = enc.embed(ds, ids)
    assert X.shape == (4, DIM) and X.dtype == np.float32
    for row, tid in enumerate(ids):
        y = ds.load_audio(tid, 48000)  # resampled to 48 kHz (b is a 22.05 kHz file)
        assert y.shape[0] == round(clip_seconds * 48000)
        windows = np.array(_windows_by_loops(y, 12000), dtype=np.float32)[:, None, :]
        emb = StandIn().predict(windows)
        want = emb.mean(0) if pooling == "mean" else emb.max(0)
        np.testing.assert_allclose(X[row], want, rtol=1e-5, atol=1e-6)
    # every window went through the model, with the configured batch size
    total = sum(len(_windows_by_loops(ds.load_audio(t, 48000), 12000)) for t in ids)
    assert sum(shape[0] for shape, _ in stub.calls) == total
    assert all(shape[1:] == (1, 48000) and bs == 64 for shape, bs in stub.calls)


def test_batching_does_not_change_embeddings(tmp_path):
    ds = _dataset(tmp_path / "ds", 2.0)
    ids = ["d", "a", "c", "b"]
    outs = []
    for per_call in (1, 3, 8):
        stub = StandIn()
        enc = OpenL3Encoder({"tracks_per_call": per_call, "batch_size": 5}, model=stub)
        outs.append(enc.embed(ds, ids))
        assert len(stub.calls) == math.ceil(len(ids) / per_call)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
    np.testing.assert_allclose(np.linalg.norm(outs[0], axis=1), 1.0, rtol=1e-6)
    single = OpenL3Encoder({}, model=StandIn()).embed(ds, ["c"])
    np.testing.assert_allclose(single[0], outs[0][2], rtol=1e-6)


def test_wrong_model_output_is_an_error(tmp_path):
    ds = _dataset(tmp_path / "ds", 1.0)
    enc = OpenL3Encoder({"embedding_size": 6144}, model=StandIn(dim=512))
    with pytest.raises(RuntimeError, match="embedding_size"):
        enc.embed(ds, ["a"])


def test_parameter_count_comes_from_the_model():
    class Counted(StandIn):
        def count_params(self) -> int:
            return 4_693_000

    assert OpenL3Encoder({}, model=Counted()).parameter_count() == 4_693_000
    assert OpenL3Encoder({}, model=StandIn()).parameter_count() is None
