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


#: The generator's hidden ground truth (synth/2) that :func:`write_tiny_dataset` writes with
#: ``hidden=True``: tracks.csv columns, artist_relations.csv and track_latents.csv.
HIDDEN_COLUMNS = ("genre", "tempo", "key", "scale", "canonical_artist", "era")
HIDDEN_RELATIONS = (("Artist 0", "Artist 1", 0.5), ("Artist 1", "Artist 2", 0.25), ("Artist 3", "Artist 4", 1.0))
LATENT_COLUMNS = ("z0", "z1", "z2", "z3")


def hidden_values(k: int) -> dict[str, str]:
    """Track ``k``'s hidden columns: genre cycles over three, the canonical artist is the
    credited one (``Artist k % 5``)."""
    return {"genre": ("rock", "jazz", "folk")[k % 3], "tempo": f"{80 + 5 * k}", "key": "CDEFGAB"[k % 7],
            "scale": ("major", "minor")[k % 2], "canonical_artist": f"Artist {k % 5}",
            "era": ("1970s", "1990s")[k % 2]}


def latent_vector(k: int) -> np.ndarray:
    return np.random.default_rng([7, k]).normal(size=len(LATENT_COLUMNS)) + np.array([k % 3, 0.0, 1.0, 0.0])


def write_tiny_dataset(root: Path, *, hidden: bool = False) -> Dataset:
    """Write the dataset into ``root`` (created) and return it; with ``hidden``, also the
    generator's hidden ground truth (:data:`HIDDEN_COLUMNS`, relations and latents)."""
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
            tracks.append(Track(tid, f"Song {k}", f"Artist {k % 5}", f"Album {k % 3}", rel, 0.25, split,
                                hidden_values(k) if hidden else {}))
            k += 1
    by = {s: [t.track_id for t in tracks if t.split == s] for s, _ in layout}
    playlists = [
        ("p0", "train", by["train"][:3]), ("p1", "train", by["train"][1:]),
        ("p2", "valid", by["valid"]), ("p3", "test", by["test"]), ("p4", "test", by["test"][:2]),
    ]
    if hidden:
        lines = ["track_id," + ",".join(LATENT_COLUMNS)]
        lines += [f"{t.track_id}," + ",".join(f"{v:.6f}" for v in latent_vector(k)) for k, t in enumerate(tracks)]
        (root / "track_latents.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_dataset(root, name="tiny-encoder-fixture", source="tests/_fixture_tiny.py", sample_rate=SR,
                  clip_seconds=CLIP, tracks=tracks, playlists=playlists,
                  artist_relations=HIDDEN_RELATIONS if hidden else None,
                  extra_columns=HIDDEN_COLUMNS if hidden else ())
    return Dataset(root)


@pytest.fixture(scope="session")
def fallback_tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-encoder-fixture"))


@pytest.fixture(scope="session")
def hidden_tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The fallback dataset with the generator's hidden ground truth (for the oracles)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-hidden-fixture"), hidden=True)


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
