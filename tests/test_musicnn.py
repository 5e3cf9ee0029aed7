"""MusiCNN encoders (``musicnn-msd``, ``musicnn-mtt``): padding, availability, and parity with
the original TensorFlow model.

The parity fixture ``tests/fixtures/musicnn_parity.npz`` holds the outputs of musicnn's own
graph with the checkpoint restored strictly and musicnn's librosa front end, on the clips of
:func:`encoders._musicnn_tf.fixture_clips` (made by ``python encoders/_musicnn_tf.py
reference tests/fixtures/musicnn_parity.npz`` in a Python with TensorFlow), and how far the
same graph at random initialisation is from them. The encoder runs essentia-tensorflow's
front end and its TensorFlow runtime, so it matches up to the front end's rounding
(musicnn rounds the mel power to float16; essentia does not): on silence, where both front
ends give zeros, the outputs agree to 1e-5.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from encoders import _musicnn_tf as mtf
from encoders.base import EncoderUnavailable

FIXTURE = Path(__file__).parent / "fixtures" / "musicnn_parity.npz"
#: tolerances of the patch-averaged outputs against the fixture (measured: penultimate
#: <= 0.044, taggram <= 0.0068; silence <= 4e-6); the random-init control is >= 1.5 away
TOL = {"penultimate": 0.1, "taggram": 0.02}
TOL_SILENCE = 1e-4
MIN_COSINE = 0.999


# -- NumPy only: always run ---------------------------------------------------------------
def test_pad_clip_repeat_zero_and_empty():
    y = np.arange(1, 5, dtype=np.float32)
    assert np.array_equal(mtf.pad_clip(y, 10, "repeat"), np.array([1, 2, 3, 4, 1, 2, 3, 4, 1, 2], np.float32))
    assert np.array_equal(mtf.pad_clip(y, 6, "zero"), np.array([1, 2, 3, 4, 0, 0], np.float32))
    assert np.array_equal(mtf.pad_clip(np.zeros(0), 3, "repeat"), np.zeros(3, np.float32))
    long = np.ones(12, np.float32)
    assert mtf.pad_clip(long, 10) is not None and mtf.pad_clip(long, 10).shape == (12,)
    with pytest.raises(ValueError, match="pad must be"):
        mtf.pad_clip(y, 10, "reflect")


def test_patch_geometry_matches_musicnn():
    """187 frames of 256 samples at 16 kHz = 3 s; a signal of MIN_SAMPLES gives one centred patch."""
    # librosa.time_to_frames(3, sr, hop_length, n_fft) + 1, as musicnn's extractor computes it
    assert mtf.PATCH_FRAMES == (3 * mtf.SR - mtf.N_FFT // 2) // mtf.HOP + 1
    assert 1 + mtf.MIN_SAMPLES // mtf.HOP == mtf.PATCH_FRAMES
    assert 1 + (mtf.MIN_SAMPLES - 1) // mtf.HOP < mtf.PATCH_FRAMES


def test_fixture_matches_the_clip_generator():
    z = np.load(FIXTURE)
    import json

    meta = json.loads(str(z["meta"]))
    clips = mtf.fixture_clips()
    assert sorted(meta["patches"]) == sorted(clips)
    for name, y in clips.items():  # non-overlapping patches of centred frames of the padded clip
        n = mtf.pad_clip(y).shape[0]
        assert meta["patches"][name] == (1 + n // mtf.HOP - mtf.PATCH_FRAMES) // mtf.PATCH_FRAMES + 1
        for ck in mtf.CHECKPOINTS:
            assert z[mtf.parity_key(ck, name, "penultimate")].shape == (mtf.OUTPUT_DIMS["penultimate"],)
            assert z[mtf.parity_key(ck, name, "taggram")].shape == (mtf.NUM_TAGS,)


def test_config_is_validated():
    from encoders.musicnn_models import MusicnnMSD

    with pytest.raises(ValueError, match="output must be"):
        MusicnnMSD({"output": "cnn1"})
    with pytest.raises(ValueError, match="pad must be"):
        MusicnnMSD({"pad": "reflect"})
    assert MusicnnMSD({"output": "max_pool"}).output_dim() == 753


def test_unavailable_without_graph_and_tensorflow(monkeypatch, tmp_path):
    import encoders.musicnn_models as mm

    monkeypatch.setattr(mm, "tf_python", lambda: None)
    monkeypatch.setattr(mm, "SHIPPED_GRAPHS", tmp_path / "not-shipped")
    enc = mm.MusicnnMTT({"graph_dir": str(tmp_path / "empty")})
    with pytest.raises(EncoderUnavailable, match="musicnn") as e:
        enc.check_available()
    if mtf_installed():
        assert "musicnn-freeze" in str(e.value)


def test_shipped_graphs_are_used_without_a_cache(monkeypatch, tmp_path):
    """The graphs shipped in encoders/musicnn_graphs serve when nothing is cached and no
    TensorFlow is found, after their checksum is checked against the installed checkpoint."""
    import encoders.musicnn_models as mm

    if not mtf_installed():
        pytest.skip("the musicnn package (checkpoints) is not installed")
    monkeypatch.setattr(mm, "tf_python", lambda: None)
    for ck in ("MSD_musicnn", "MTT_musicnn"):
        pb, rec = mm.frozen_graph(ck, str(tmp_path / "empty"), build=False)
        assert pb.parent == mm.SHIPPED_GRAPHS and rec["checkpoint"] == ck


def mtf_installed() -> bool:
    try:
        mtf.musicnn_package_dir()
    except mtf.MusicnnError:
        return False
    return True


# -- essentia-tensorflow + frozen graph ----------------------------------------------------
def _ready(name: str, **config):
    from encoders import REGISTRY

    enc = REGISTRY.get(name)({"normalize": False, **config})
    try:
        enc.check_available()
    except EncoderUnavailable as e:
        pytest.skip(f"{name} cannot run here: {e}")
    return enc


@pytest.mark.parametrize("output", ["penultimate", "taggram"])
@pytest.mark.parametrize("name,checkpoint", [("musicnn-msd", "MSD_musicnn"), ("musicnn-mtt", "MTT_musicnn")])
def test_parity_with_the_original_model(name, checkpoint, output):
    """Patch-averaged outputs equal the strictly restored TF model's within TOL; a graph
    whose weights did not load (random init) is >= 10x TOL away, so it fails here."""
    import json

    enc = _ready(name, output=output)
    z = np.load(FIXTURE)
    meta = json.loads(str(z["meta"]))
    from encoders.musicnn_models import checkpoint_sha256

    assert meta["checkpoint_sha256"][checkpoint] == checkpoint_sha256(checkpoint), \
        "the installed musicnn checkpoint is not the one the fixture was made from"
    for clip, y in mtf.fixture_clips().items():
        got = enc.embed_signal(y, clip)
        ref = z[mtf.parity_key(checkpoint, clip, output)]
        control = float(z[mtf.parity_key(checkpoint, clip, "random_init_max_abs_diff")])
        assert control > 10 * TOL["penultimate"]  # the check below could tell a failed load
        err = float(np.abs(got - ref).max())
        tol = TOL_SILENCE if clip.startswith("silence") else TOL[output]
        assert err <= tol, f"{name} {output} on {clip}: max abs diff {err:.3g} > {tol}"
        cos = float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref)))
        assert cos >= MIN_COSINE, f"{name} {output} on {clip}: cosine {cos:.6f}"


def _musicnn_parameters(mid: int = 64, dense: int = 200, tags: int = 50) -> int:
    """musicnn's parameter count from its architecture (Pons & Serra 2019; models.py):
    conv kernel + bias, and 4 values per batch-norm channel (gamma, beta, moving mean/var)."""
    def conv(kh: int, kw: int, cin: int, cout: int) -> int:
        return kh * kw * cin * cout + cout + 4 * cout  # conv, bias, batch norm after it

    timbral = conv(7, int(0.4 * 96), 1, 204) + conv(7, int(0.7 * 96), 1, 204)
    temporal = sum(conv(k, 1, 1, 51) for k in (128, 64, 32))
    front = 204 * 2 + 51 * 3
    midend = conv(7, front, 1, mid) + 2 * conv(7, mid, 1, mid)
    pooled = 2 * (front + 3 * mid)  # max and mean over time of the dense-connected features
    backend = 4 * pooled + pooled * dense + dense + 4 * dense + dense * tags + tags
    return 4 + timbral + temporal + midend + backend


@pytest.mark.parametrize("name", ["musicnn-msd", "musicnn-mtt"])
def test_parameter_count_matches_the_architecture(name):
    assert _ready(name).parameter_count() == _musicnn_parameters()


def test_corrupt_graph_is_refused(tmp_path):
    from encoders.musicnn_models import frozen_graph

    _ready("musicnn-msd")
    pb, _ = frozen_graph("MSD_musicnn")
    d = tmp_path / "graphs"
    d.mkdir()
    shutil.copy(pb, d / pb.name)
    shutil.copy(pb.with_suffix(".json"), d / pb.with_suffix(".json").name)
    assert frozen_graph("MSD_musicnn", str(d))[0] == d / pb.name
    data = bytearray((d / pb.name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (d / pb.name).write_bytes(bytes(data))
    with pytest.raises(mtf.MusicnnError, match="differs from its record"):
        frozen_graph("MSD_musicnn", str(d))


def _write(root: Path, clip_seconds: float) -> tuple:
    """A dataset with a 16 kHz tone, the same tone at 22.05 kHz, a 1.3 s file and silence."""
    import soundfile as sf

    from benchmark.core.dataset import Dataset, Track, write_dataset

    (root / "audio").mkdir(parents=True)
    t = np.arange(6 * 16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 990 * t)).astype(np.float32)
    t22 = np.arange(6 * 22050) / 22050
    tone22 = (0.3 * np.sin(2 * np.pi * 330 * t22) + 0.1 * np.sin(2 * np.pi * 990 * t22)).astype(np.float32)
    short = tone[: int(1.3 * 16000)]
    files = {"tone": (tone, 16000), "tone22": (tone22, 22050), "short": (short, 16000),
             "silent": (np.zeros(5 * 16000, np.float32), 16000)}
    tracks = []
    for i, (tid, (wav, sr)) in enumerate(files.items()):
        sf.write(root / f"audio/{tid}.flac", wav, sr, format="FLAC")
        tracks.append(Track(tid, f"Song {i}", "Artist", "Album", f"audio/{tid}.flac", 0.0,
                            "train" if i < 2 else "test"))
    write_dataset(root, name="musicnn-test", source="tests/test_musicnn.py", sample_rate=16000,
                  clip_seconds=clip_seconds, tracks=tracks,
                  playlists=[("p0", "train", ["tone", "tone22"]), ("p1", "test", ["short", "silent"])])
    return Dataset(root), tone, short


@pytest.mark.parametrize("clip_seconds", [5.0, 2.0])
def test_resampling_short_clips_and_silence(tmp_path, clip_seconds):
    enc = _ready("musicnn-msd")
    ds, tone, _ = _write(tmp_path / "ds", clip_seconds)
    X = enc.embed(ds, ["tone", "tone22", "short", "silent"])
    assert X.shape == (4, 200) and X.dtype == np.float32 and np.isfinite(X).all()
    n = int(clip_seconds * 16000)
    # a 22.05 kHz file is resampled to 16 kHz: nearly the same embedding as the 16 kHz file
    cos = X[0] @ X[1] / (np.linalg.norm(X[0]) * np.linalg.norm(X[1]))
    assert cos > 0.999, cos
    decoded = ds.load_audio("tone", 16000)  # the FLAC clip (16-bit)
    assert np.abs(decoded - tone[:n]).max() < 1e-4
    expected = decoded if clip_seconds >= 3 else np.tile(decoded, 2)[:48000]  # a clip < 3 s: tiled
    assert np.allclose(X[0], enc.embed_signal(expected), atol=1e-5)
    # a file shorter than the clip is tiled to the clip ("repeat"), then to 3 s
    tiled = mtf.pad_clip(np.tile(ds.load_audio("short", 16000, seconds=1.3), 10)[:n], 48000, "repeat")
    assert tiled.shape[0] == max(n, 48000)
    assert np.allclose(X[2], enc.embed_signal(tiled), atol=1e-5)
    # silence: the model's (finite, non-zero) output on 3 s of zeros
    assert np.allclose(X[3], enc.embed_signal(np.zeros(48000, np.float32)), atol=1e-6)
    assert np.linalg.norm(X[3]) > 0


def test_zero_padding_option_differs_from_repeat(tmp_path):
    rep = _ready("musicnn-mtt")
    zero = _ready("musicnn-mtt", pad="zero")
    ds, _, _ = _write(tmp_path / "ds", 5.0)
    a, b = rep.embed(ds, ["short"])[0], zero.embed(ds, ["short"])[0]
    short = ds.load_audio("short", 16000, seconds=1.3)
    assert np.allclose(b, zero.embed_signal(np.pad(short, (0, 5 * 16000 - short.shape[0]))), atol=1e-5)
    assert np.abs(a - b).max() > 1e-3
