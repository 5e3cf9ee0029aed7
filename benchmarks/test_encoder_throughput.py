"""Embedding throughput of every registered encoder on CPU (pytest-benchmark).

Run: ``pytest benchmarks/test_encoder_throughput.py --benchmark-enable -p no:cacheprovider``
(the project's pytest options disable benchmarks by default).

Each encoder is built from its ``ci`` and ``quick`` profiles, "fitted" with a single
training step (throughput does not depend on how long it trained) on a generated
dataset of 24 clips of 10 s at 16 kHz, and ``embed`` is timed on those 24 clips,
audio loading included. ``extra_info["clips_per_s"]`` holds the throughput; the
torch thread count is the default (all CPUs of the process).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from benchmark.core.dataset import Dataset, Track, write_dataset
from benchmark.core.runtime import hub_offline
from encoders import REGISTRY, EncoderUnavailable

N_CLIPS, SR, SECONDS = 24, 16000, 10.0
ENCODERS = REGISTRY.names()  # every registered encoder, so a new one is measured the moment it exists
ONE_STEP = {"max_steps": 1, "pt_max_steps": 1}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Dataset:
    import soundfile as sf

    hub_offline()
    root = Path(tmp_path_factory.mktemp("throughput"))
    (root / "audio").mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(int(SR * (SECONDS + 0.5))) / SR
    tracks = []
    splits = ["train"] * 8 + ["valid"] * 4 + ["test"] * 8 + ["pretrain"] * 4
    for i, split in enumerate(splits):
        f0 = 110 * 2 ** (i / 7)
        wav = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * (1 + i % 3) * t))
        wav = (wav + 0.02 * rng.standard_normal(t.shape)).astype(np.float32)
        sf.write(root / f"audio/{i:02d}.flac", wav, SR, format="FLAC")
        tracks.append(Track(f"t{i:02d}", f"Song {i}", f"Artist {i % 4}", f"Album {i % 3}", f"audio/{i:02d}.flac",
                            0.25, split))
    by = {s: [t.track_id for t in tracks if t.split == s] for s in ("train", "valid", "test")}
    playlists = [("p0", "train", by["train"][:5]), ("p1", "train", by["train"][3:]),
                 ("p2", "valid", by["valid"]), ("p3", "test", by["test"])]
    write_dataset(root, name="throughput-clips", source="benchmarks/test_encoder_throughput.py", sample_rate=SR,
                  clip_seconds=SECONDS, tracks=tracks, playlists=playlists)
    return Dataset(root)


@pytest.mark.benchmark(group="encoder-embed-cpu")
@pytest.mark.parametrize("profile", ["ci", "quick"])
@pytest.mark.parametrize("name", ENCODERS)
def test_embed_throughput(benchmark, clips, tmp_path, monkeypatch, name, profile):
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache"))
    cls = REGISTRY.get(name)
    over = {k: v for k, v in ONE_STEP.items() if k in cls.default_config}
    enc = cls.from_profile(profile, over)
    try:
        enc.check_available()
    except EncoderUnavailable as e:
        pytest.skip(str(e))
    if enc.meta.trains:
        enc.fit(clips, seed=0, workdir=tmp_path / "fit")
    ids = list(clips.tracks)[:N_CLIPS]
    enc.embed(clips, ids[:2])  # warm-up (lazy modules, oneDNN primitives)
    out = benchmark.pedantic(enc.embed, args=(clips, ids), rounds=2, iterations=1)
    assert out.shape == (len(ids), enc.output_dim())
    if benchmark.stats is not None:  # None with --benchmark-disable
        mean = benchmark.stats.stats.mean
        benchmark.extra_info["clips_per_s"] = round(len(ids) / mean, 2)
    benchmark.extra_info["clip_seconds"] = SECONDS
    benchmark.extra_info["dim"] = enc.output_dim()
