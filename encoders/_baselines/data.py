"""Audio banks for training and the batched embedding loop of the baselines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from encoders._audio import iter_audio_batches

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from benchmark.core.dataset import Dataset


def load_waveforms(dataset: Dataset, track_ids: Sequence[str], sample_rate: int,
                   seconds: float | None = None, *, pad: str = "zero", batch_size: int = 64,
                   dtype: type = np.float32) -> np.ndarray:
    """Clips as ``[n, samples]`` (``dtype``; float16 halves the memory of a training bank)."""
    secs = dataset.clip_seconds if seconds is None else float(seconds)
    n = round(secs * sample_rate)
    out = np.zeros((len(track_ids), n), dtype=dtype)
    for rows, audio in iter_audio_batches(dataset, list(track_ids), sample_rate, secs,
                                          batch_size=batch_size, pad=pad):
        out[rows] = audio.astype(dtype, copy=False)
    return out


def compute_features(dataset: Dataset, track_ids: Sequence[str], sample_rate: int,
                     transform: Callable[[torch.Tensor], torch.Tensor], *, seconds: float | None = None,
                     pad: str = "zero", batch_size: int = 32, device: torch.device | None = None,
                     dtype: type = np.float16) -> np.ndarray:
    """``transform`` (e.g. a log-mel module) applied to every clip, stacked: ``[n, ...]``."""
    import torch

    out: np.ndarray | None = None
    with torch.inference_mode():
        for rows, audio in iter_audio_batches(dataset, list(track_ids), sample_rate, seconds,
                                              batch_size=batch_size, pad=pad):
            x = torch.from_numpy(audio)
            if device is not None:
                x = x.to(device)
            f = transform(x).float().cpu().numpy()
            if out is None:
                out = np.zeros((len(track_ids), *f.shape[1:]), dtype=dtype)
            out[rows] = f.astype(dtype, copy=False)
    if out is None:
        raise ValueError("compute_features: no tracks")
    return out


def embed_clips(dataset: Dataset, track_ids: Sequence[str], sample_rate: int,
                fn: Callable[[torch.Tensor], torch.Tensor], dim: int, *, seconds: float | None = None,
                pad: str = "zero", batch_size: int = 16, device: torch.device | None = None) -> np.ndarray:
    """Run ``fn(waveforms [b, samples]) -> [b, dim]`` over all clips in order, without
    gradients; returns ``float32 [n, dim]``. Raises on non-finite output."""
    import torch

    out = np.zeros((len(track_ids), dim), dtype=np.float32)
    if not len(track_ids):
        return out
    with torch.inference_mode():
        for rows, audio in iter_audio_batches(dataset, list(track_ids), sample_rate, seconds,
                                              batch_size=batch_size, pad=pad):
            x = torch.from_numpy(audio)
            if device is not None:
                x = x.to(device)
            y = fn(x).float().cpu().numpy()
            if y.shape != (len(audio), dim):
                raise ValueError(f"embedding has shape {y.shape}, expected {(len(audio), dim)}")
            out[rows] = y
    if not np.isfinite(out).all():
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))[:5]
        raise FloatingPointError(f"non-finite embeddings for tracks {[track_ids[i] for i in bad]}")
    return out


def cooccurrence(dataset: Dataset, split: str = "train") -> dict[str, Counter[str]]:
    """For every track in a ``split`` playlist: how many playlists it shares with each other track."""
    co: dict[str, Counter[str]] = {}
    for pid in dataset.playlist_ids(split):
        tids = dataset.playlists[pid]
        for a in tids:
            c = co.setdefault(a, Counter())
            for b in tids:
                if b != a:
                    c[b] += 1
    return co


def random_crops(bank: np.ndarray, rows: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random window of ``length`` along the last axis of each ``bank[rows]`` (padded with
    zeros when the bank is shorter)."""
    total = bank.shape[-1]
    out = np.zeros((len(rows), *bank.shape[1:-1], length), dtype=np.float32)
    for i, r in enumerate(rows):
        if total <= length:
            out[i, ..., :total] = bank[r]
        else:
            s = int(rng.integers(0, total - length + 1))
            out[i] = bank[r, ..., s:s + length]
    return out


def epoch_batches(n: int, batch_size: int, epochs: int, rng: np.random.Generator,
                  max_steps: int | None = None) -> list[np.ndarray]:
    """Row indices of every training step: each epoch a fresh permutation cut into full
    batches (the last partial batch is dropped, as with ``drop_last=True``; a pool smaller
    than a batch gives one batch of everything). ``max_steps`` truncates."""
    if n < 2:
        raise ValueError(f"need at least 2 training examples, got {n}")
    bs = min(int(batch_size), n)
    out: list[np.ndarray] = []
    for _ in range(max(1, int(epochs))):
        perm = rng.permutation(n)
        out.extend(perm[i:i + bs] for i in range(0, n - bs + 1, bs))
        if max_steps is not None and len(out) >= max_steps:
            break
    return out[:max_steps] if max_steps is not None else out


def warmup_steps(warmup: float | int, total: int) -> int:
    """``warmup`` as steps (int >= 1) or as a fraction of ``total`` (0 <= float < 1)."""
    w = float(warmup)
    return round(w * total) if 0 <= w < 1 else min(int(w), max(0, total - 1))


class WaveSource:
    """Training clips of ``track_ids`` at ``sample_rate``: kept in memory as float16 when
    they fit in ``cache_mb`` megabytes, otherwise read from disk for every batch."""

    def __init__(self, dataset: Dataset, track_ids: Sequence[str], sample_rate: int,
                 seconds: float | None = None, *, pad: str = "zero", cache_mb: float = 1024,
                 rows: Sequence[int] | None = None) -> None:
        """``rows``: the only rows that will be asked for (default: all)."""
        self.dataset, self.ids, self.sr, self.pad = dataset, list(track_ids), int(sample_rate), pad
        self.seconds = dataset.clip_seconds if seconds is None else float(seconds)
        self.samples = round(self.seconds * self.sr)
        used = np.arange(len(self.ids)) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
        self.slot = np.full(len(self.ids), -1, dtype=np.int64)
        self.slot[used] = np.arange(len(used))
        need = len(used) * self.samples * 2 / 2**20
        self.bank = (load_waveforms(dataset, [self.ids[i] for i in used], self.sr, self.seconds, pad=pad,
                                    dtype=np.float16) if need <= cache_mb else None)

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, rows: Sequence[int]) -> np.ndarray:
        if self.bank is not None:
            slots = self.slot[np.asarray(rows)]
            if (slots < 0).any():
                raise KeyError("WaveSource: a row outside `rows` was requested")
            return self.bank[slots].astype(np.float32)
        from encoders._audio import load_audio_batch

        return load_audio_batch(self.dataset, [self.ids[r] for r in rows], self.sr, self.seconds, pad=self.pad)
