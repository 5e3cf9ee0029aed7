"""The genre-identifiability probe (issue #12, item 5): how well does each feature set name a
track's genre?

For each encoder (default: ``caption-tfidf``, the caption's words, and ``melstats``, log-mel
statistics), fitted and run through the encoder registry and the embedding cache exactly as
the grid does (:func:`benchmark.harness.grid.make_encoder`,
:class:`benchmark.harness.embeddings.EmbeddingStore`), a **nearest-centroid** classifier:

* centroid of genre ``g`` = mean of the L2-normalised vectors of the **train** tracks of
  genre ``g`` (``tracks.csv``'s ground-truth column ``genre``, read here by the harness,
  never by an encoder);
* a **test** track is given the genre whose centroid has the highest cosine with its
  vector (ties: the first genre in sorted order).

Reported: each encoder's test accuracy with a 95% percentile-bootstrap interval over test
tracks; the **majority-class rate** (the accuracy of always answering the train split's most
frequent genre) and **chance** (1 / the number of train genres). ``larpbench data probe``
prints them and writes them as JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.core.dataset import Dataset, DatasetError
from benchmark.core.metrics import bootstrap_ci
from benchmark.harness.embeddings import EmbeddingStore
from benchmark.harness.grid import make_encoder

PROBE_ENCODERS = ("caption-tfidf", "melstats")
GENRE = "genre"


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class NearestCentroid:
    """Classes (sorted) and their centroids ``[n_classes, d]``."""

    classes: tuple[str, ...]
    centroids: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, labels: Sequence[str]) -> NearestCentroid:
        """Centroid of a class = mean of the L2-normalised rows of ``x`` with that label."""
        if len(labels) != len(x):
            raise ValueError(f"{len(x)} vectors but {len(labels)} labels")
        if not len(labels):
            raise ValueError("no training vectors to fit centroids on")
        classes = tuple(sorted(set(labels)))
        unit = _unit(x)
        lab = np.asarray(labels, dtype=object)
        return cls(classes, np.stack([unit[lab == c].mean(axis=0) for c in classes]))

    def predict(self, x: np.ndarray) -> list[str]:
        """The class of the centroid with the highest cosine to each row (first on ties)."""
        if not len(x):
            return []
        scores = _unit(x) @ _unit(self.centroids).T
        return [self.classes[i] for i in np.argmax(scores, axis=1)]


def genres(dataset: Dataset, track_ids: Sequence[str]) -> list[str]:
    """The ground-truth genre of each track; a dataset without it cannot be probed."""
    path = dataset.root / "tracks.csv"
    if GENRE not in dataset.extra_columns:
        raise DatasetError(f"{path}: no column {GENRE!r}: the genre probe needs the generator's ground-truth "
                           f"genre (columns: {', '.join(dataset.extra_columns) or 'none'})")
    out = [dataset.tracks[t].extra[GENRE].strip() for t in track_ids]
    empty = [t for t, g in zip(track_ids, out) if not g]
    if empty:
        raise DatasetError(f"{path}: empty {GENRE!r} for {len(empty)} track(s) (first: {empty[:5]})")
    return out


def probe_vectors(train_x: np.ndarray, train_y: Sequence[str], test_x: np.ndarray,
                  test_y: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Fit a :class:`NearestCentroid` on train, score it on test: accuracy and its interval."""
    clf = NearestCentroid.fit(train_x, train_y)
    correct = np.array([p == y for p, y in zip(clf.predict(test_x), test_y)], dtype=np.float64)
    lo, hi = bootstrap_ci(correct, seed=seed)
    return {"accuracy": float(correct.mean()) if correct.size else float("nan"), "ci95": [lo, hi],
            "dim": int(train_x.shape[1])}


def genre_probe(dataset: Dataset, *, profile: str, encoders: Sequence[str] = PROBE_ENCODERS, seed: int = 0,
                progress: bool = True) -> dict[str, Any]:
    """The probe of the module docstring on ``dataset`` (encoders at ``profile``'s config)."""
    train_ids, test_ids = dataset.track_ids("train"), dataset.track_ids("test")
    if not train_ids or not test_ids:
        raise DatasetError(f"{dataset.root / 'tracks.csv'}: the probe needs train and test tracks "
                           f"({len(train_ids)} train, {len(test_ids)} test)")
    train_y, test_y = genres(dataset, train_ids), genres(dataset, test_ids)
    counts = Counter(train_y)
    majority = min(counts, key=lambda g: (-counts[g], g))
    result: dict[str, Any] = {
        "dataset": dataset.name, "dataset_hash": dataset.content_hash, "profile": profile,
        "train_tracks": len(train_ids), "test_tracks": len(test_ids), "genres": len(counts),
        "classifier": "nearest centroid (mean of L2-normalised train vectors per genre, argmax cosine)",
        "encoders": {},
        "majority": {"genre": majority, "rate": float(np.mean([y == majority for y in test_y]))},
        "chance": 1.0 / len(counts),
    }
    for name in encoders:
        encoder = make_encoder(name, profile, seed)
        encoder.check_available()
        encoder.check_dataset(dataset)
        store = EmbeddingStore(encoder, dataset, seed, progress=progress)
        ids, train_x = store.get("train")
        assert ids == train_ids
        ids, test_x = store.get("test")
        assert ids == test_ids
        assert encoder.meta is not None
        result["encoders"][name] = {"version": encoder.meta.version,
                                    **probe_vectors(train_x, train_y, test_x, test_y, seed=seed)}
    return result


def format_probe(result: dict[str, Any]) -> str:
    """The probe's result as a few lines of text."""
    lines = [f"genre probe on {result['dataset']} (hash {result['dataset_hash'][:12]}, profile {result['profile']}): "
             f"{result['classifier']}, fitted on {result['train_tracks']} train tracks, scored on "
             f"{result['test_tracks']} test tracks, {result['genres']} genres"]
    for name, r in result["encoders"].items():
        lo, hi = r["ci95"]
        lines.append(f"  {name:<16s} accuracy {r['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]  ({r['dim']}-d)")
    lines.append(f"  {'majority class':<16s} {result['majority']['rate']:.3f} (always {result['majority']['genre']!r}, "
                 "the train split's most frequent genre)")
    lines.append(f"  {'chance':<16s} {result['chance']:.3f} (1 / {result['genres']} genres)")
    return "\n".join(lines)
