"""A tiny hand-made dataset for encoder tests, used until ``tiny_dataset`` (tests/conftest.py)
can build the real generator's dataset.

14 tracks of 3 s at 16 kHz (FLAC): harmonic tones of distinct pitches plus a little
seeded noise, 2.5 s clips starting at 0.25 s; 4 train, 3 valid and 3 test tracks in
playlists of 2-3 tracks, and a pre-training pool of 4 tracks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.core.dataset import Dataset, Track, write_dataset

SR = 16000
SECONDS = 3.0
CLIP = 2.5


def _tone(f0: float, seed: int) -> np.ndarray:
    t = np.arange(int(SR * SECONDS)) / SR
    rng = np.random.default_rng(seed)
    wav = sum((0.5 / k) * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3))
    wav = wav * (0.6 + 0.4 * np.sin(2 * np.pi * (0.5 + seed % 3) * t) ** 2)  # slow amplitude motion
    wav = wav + 0.01 * rng.standard_normal(t.shape)
    return (0.5 * wav / np.max(np.abs(wav))).astype(np.float32)


def write_tiny_dataset(root: Path) -> Dataset:
    """Write the dataset into ``root`` (created) and return it."""
    import soundfile as sf

    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    layout = [("train", 4), ("valid", 3), ("test", 3), ("pretrain", 4)]
    tracks: list[Track] = []
    k = 0
    for split, n in layout:
        for _ in range(n):
            tid = f"t{k:02d}"
            rel = f"audio/{tid}.flac"
            sf.write(root / rel, _tone(110.0 * 2 ** (k / 5), seed=k), SR, format="FLAC")
            tracks.append(Track(tid, f"Song {k}", f"Artist {k % 5}", f"Album {k % 3}", rel, 0.25, split))
            k += 1
    by = {s: [t.track_id for t in tracks if t.split == s] for s, _ in layout}
    playlists = [
        ("p0", "train", by["train"][:3]), ("p1", "train", by["train"][1:]),
        ("p2", "valid", by["valid"]), ("p3", "test", by["test"]), ("p4", "test", by["test"][:2]),
    ]
    write_dataset(root, name="tiny-encoder-fixture", source="tests/_fixture_tiny.py", sample_rate=SR,
                  clip_seconds=CLIP, tracks=tracks, playlists=playlists)
    return Dataset(root)


@pytest.fixture(scope="session")
def fallback_tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-encoder-fixture"))


def resolve_tiny_dataset(request: pytest.FixtureRequest) -> Dataset:
    """``tiny_dataset`` from conftest when it can be built; this module's dataset while the
    real generator is not there yet (no such fixture, or its dataset name is unknown)."""
    from benchmark.core.dataset import DatasetError

    try:
        return request.getfixturevalue("tiny_dataset")
    except pytest.FixtureLookupError:
        pass
    except (ImportError, DatasetError) as e:
        if isinstance(e, DatasetError) and "unknown dataset" not in str(e):
            raise
    return request.getfixturevalue("fallback_tiny_dataset")
