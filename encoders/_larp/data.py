"""LARP training data: track tables, cached log-mels, tokens, co-occurrence, epoch plans.

* :class:`TrainingSet` — the training tracks (index = position in ``tracks.csv`` order)
  and the training playlists as index arrays. Only the ``train`` split is read here.
* :class:`Cooccurrence` — sorted int64 keys ``i * n + j`` of every ordered pair of
  training tracks that share a playlist (self pairs included); the TTC false-negative
  mask of Appendix A is a lookup into it (:func:`encoders._larp.losses.cooccurrence_exclusion`).
* :class:`MelCache` — the HTS-AT front end's log-mel spectrogram of every clip of a
  split, computed once per (dataset content, front-end parameters) and stored as a
  float16 ``.npy`` (read through a memory map) under ``benchmark.core.cache.shared_dir``.
* :func:`tokenize` — captions → fixed ``[n, max_length]`` token arrays (trimmed per batch).
* Epoch plans, drawn from ``numpy.random.default_rng([seed, stage, epoch])`` so that a
  resumed run sees the same batches: :func:`plan_tracks` (stage 1: a permutation) and
  :func:`plan_pairs` (stages 2-3: pairs ``(s_i, s_j)`` sharing a playlist, and for TPC up
  to ``n_seed`` context tracks of that playlist).
* :class:`PlanDataset` + :class:`Collate` — a ``torch`` dataset over one plan and the
  batch layout :meth:`encoders._larp.model.LarpModel.forward` expects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_path, atomic_write_text
from benchmark.core.dataset import Dataset

PAD = -1


# --------------------------------------------------------------------------- tracks/playlists
@dataclass
class TrainingSet:
    track_ids: list[str]
    position: dict[str, int]
    playlists: list[np.ndarray]  # index arrays into track_ids
    playlist_ids: list[str]
    track_playlists: list[np.ndarray]  # per track: indices into playlists

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> TrainingSet:
        ids = dataset.track_ids("train")
        pos = {t: i for i, t in enumerate(ids)}
        pids = dataset.playlist_ids("train")
        pls = [np.array([pos[t] for t in dataset.playlists[p]], dtype=np.int64) for p in pids]
        return cls.from_playlists(ids, pls, pids)

    @classmethod
    def from_playlists(cls, track_ids: Sequence[str], playlists: Sequence[Sequence[int]],
                       playlist_ids: Sequence[str] | None = None) -> TrainingSet:
        ids = list(track_ids)
        pls = [np.asarray(p, dtype=np.int64) for p in playlists]
        per: list[list[int]] = [[] for _ in ids]
        for k, p in enumerate(pls):
            for i in p:
                per[int(i)].append(k)
        return cls(ids, {t: i for i, t in enumerate(ids)}, pls,
                   list(playlist_ids) if playlist_ids is not None else [f"p{k}" for k in range(len(pls))],
                   [np.array(x, dtype=np.int64) for x in per])

    @property
    def num_tracks(self) -> int:
        return len(self.track_ids)

    def tracks_in_playlists(self) -> np.ndarray:
        return np.array([i for i, p in enumerate(self.track_playlists) if len(p)], dtype=np.int64)

    def member_keys(self) -> np.ndarray:
        """The playlist-track graph ``R`` as sorted unique int64 keys ``playlist * n + track``
        (TPC's multi-positive targets, :func:`encoders._larp.losses.tpc_targets`)."""
        n = self.num_tracks
        keys = [k * n + p for k, p in enumerate(self.playlists) if len(p)]
        return np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)


class Cooccurrence:
    """Which training tracks share a playlist: sorted unique keys ``i * n + j`` (self pairs too)."""

    def __init__(self, keys: np.ndarray, num_tracks: int) -> None:
        self.keys = np.asarray(keys, dtype=np.int64)
        self.num_tracks = int(num_tracks)

    @classmethod
    def from_playlists(cls, playlists: Sequence[np.ndarray], num_tracks: int) -> Cooccurrence:
        n = int(num_tracks)
        chunks = [np.arange(n, dtype=np.int64) * n + np.arange(n, dtype=np.int64)]
        for p in playlists:
            p = np.asarray(p, dtype=np.int64)
            chunks.append((p[:, None] * n + p[None, :]).ravel())
        return cls(np.unique(np.concatenate(chunks)), n)

    def contains(self, i: int, j: int) -> bool:
        k = int(i) * self.num_tracks + int(j)
        pos = int(np.searchsorted(self.keys, k))
        return pos < len(self.keys) and int(self.keys[pos]) == k

    def to_tensor(self) -> Any:
        import torch

        return torch.from_numpy(self.keys)


# --------------------------------------------------------------------------- tokens
def tokenize(tokenizer: Any, captions: Sequence[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids int64 [n, max_length], attention_mask int64 [n, max_length])``, padded to
    ``max_length`` (the official code pads to max_length=30; batches are trimmed to their
    longest caption, which changes nothing for a CLS read-out under the attention mask)."""
    enc = tokenizer(list(captions), padding="max_length", truncation=True, max_length=int(max_length),
                    return_tensors="np")
    return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)


# --------------------------------------------------------------------------- log-mel cache
def frontend_params(htsat_config: Any) -> dict[str, Any]:
    c = htsat_config
    return {"sample_rate": c.sample_rate, "n_fft": c.n_fft, "hop_size": c.hop_size, "mel_bins": c.mel_bins,
            "fmin": c.fmin, "fmax": c.fmax, "clip_seconds": c.clip_seconds, "frontend": "laion_clap-htsat-logmel"}


class MelCache:
    """Log-mel spectrograms ``float16 [n, frames, mel_bins]`` of one split, made by the
    HTS-AT front end (torchlibrosa STFT + log-mel, as inside laion_clap's model)."""

    def __init__(self, dataset: Dataset, split: str, htsat_config: Any, root: Path | None = None) -> None:
        from benchmark.core.cache import shared_dir

        self.dataset = dataset
        self.split = split
        self.htsat_config = htsat_config
        self.track_ids = dataset.track_ids(split)
        self.position = {t: i for i, t in enumerate(self.track_ids)}
        key = {"dataset_hash": dataset.content_hash, "split": split, **frontend_params(htsat_config)}
        self.dir = shared_dir("larp-mels", key, root)
        self.path = self.dir / "mels.npy"
        self._array: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        return self.path.is_file() and (self.dir / "ids.json").is_file()

    def build(self, batch_size: int = 32, progress: bool = False, device: str = "cpu") -> Path:
        """Compute every clip's log-mel once (no-op when the file exists)."""
        if self.ready:
            return self.path
        import torch

        from encoders._audio import iter_audio_batches
        from encoders._htsat import build_htsat

        cfg = self.htsat_config
        front = build_htsat(cfg, seed=0)
        spec, logmel = front.spectrogram_extractor.to(device), front.logmel_extractor.to(device)
        n = len(self.track_ids)
        frames = cfg.clip_samples // cfg.hop_size + 1
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=f"log-mels {self.dataset.name}/{self.split}", unit="clip", leave=False)
        try:
            with atomic_path(self.path) as tmp:
                arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(n, frames, cfg.mel_bins))
                with torch.inference_mode():
                    for rows, audio in iter_audio_batches(self.dataset, self.track_ids, cfg.sample_rate,
                                                          cfg.clip_seconds, batch_size=batch_size):
                        x = torch.from_numpy(audio).to(device)
                        mel = logmel(spec(x))[:, 0]  # [b, frames, mel_bins]
                        arr[rows] = mel.cpu().numpy().astype(np.float16)
                        if bar is not None:
                            bar.update(audio.shape[0])
                arr.flush()
                del arr
            atomic_write_text(self.dir / "ids.json", json.dumps(self.track_ids))
        finally:
            if bar is not None:
                bar.close()
        return self.path

    def array(self) -> np.ndarray:
        if self._array is None:
            self.build()
            self._array = np.load(self.path, mmap_mode="r")
        return self._array


class SplitFeatures:
    """Everything a model needs to encode the tracks of one split: log-mels and tokens."""

    def __init__(self, dataset: Dataset, split: str, htsat_config: Any, tokenizer: Any,
                 max_length: int) -> None:
        self.mels = MelCache(dataset, split, htsat_config)
        self.track_ids = self.mels.track_ids
        self.position = self.mels.position
        captions = [dataset.caption(t) for t in self.track_ids]
        self.input_ids, self.attention_mask = tokenize(tokenizer, captions, max_length)

    def build(self, progress: bool = False, device: Any = "cpu") -> None:
        self.mels.build(progress=progress, device=device)


# --------------------------------------------------------------------------- epoch plans
def epoch_rng(seed: int, stage: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stage), int(epoch), 0x1A4B])


def plan_tracks(num_tracks: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Stage 1: every training track once, in random order."""
    return {"a": rng.permutation(num_tracks).astype(np.int64)}


def plan_pairs(ts: TrainingSet, pairs_per_track: float, rng: np.random.Generator, *,
               n_seed: int | None = None, include_anchor: bool = False) -> dict[str, np.ndarray]:
    """Stages 2-3: ``round(pairs_per_track × #tracks in playlists)`` pairs.

    Anchors cycle through random permutations of the tracks that are in a playlist; each
    anchor ``s_i`` gets a random playlist containing it and a random other track ``s_j``
    of that playlist. With ``n_seed``, ``ctx [P, n_seed]`` holds up to ``n_seed`` random
    tracks of that playlist other than ``s_i`` (``include_anchor``: drawn from the whole
    playlist, as the official code), padded with :data:`PAD`.
    """
    eligible = np.array([i for i, p in enumerate(ts.track_playlists)
                         if any(len(ts.playlists[k]) >= 2 for k in p)], dtype=np.int64)
    if len(eligible) == 0:
        raise ValueError("no training playlist has two tracks: TTC/TPC need pairs")
    n_pairs = max(1, round(float(pairs_per_track) * len(eligible)))
    reps = -(-n_pairs // len(eligible))
    anchors = np.concatenate([rng.permutation(eligible) for _ in range(reps)])[:n_pairs]
    partners = np.empty(n_pairs, dtype=np.int64)
    pl_of = np.empty(n_pairs, dtype=np.int64)
    ctx = np.full((n_pairs, int(n_seed)), PAD, dtype=np.int64) if n_seed else None
    for r, a in enumerate(anchors):
        cands = [k for k in ts.track_playlists[a] if len(ts.playlists[k]) >= 2]
        k = cands[int(rng.integers(len(cands)))]
        p = ts.playlists[k]
        others = p[p != a]
        partners[r] = others[int(rng.integers(len(others)))]
        pl_of[r] = k
        if ctx is not None:
            pool = p if include_anchor else others
            take = pool[rng.permutation(len(pool))[: int(n_seed)]]
            ctx[r, : len(take)] = take
    out = {"a": anchors, "b": partners, "playlist": pl_of}
    if ctx is not None:
        out["ctx"] = ctx
    return out


# --------------------------------------------------------------------------- torch side
class PlanDataset:
    """A map-style dataset over one epoch plan (item = a track in stage 1, a pair later).

    The memory-mapped log-mels are opened lazily in each DataLoader worker.
    """

    def __init__(self, mel_path: Path, input_ids: np.ndarray, attention_mask: np.ndarray,
                 plan: dict[str, np.ndarray]) -> None:
        self.mel_path = Path(mel_path)
        self.input_ids = input_ids
        self.attention_mask = attention_mask
        self.plan = plan
        self._mels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.plan["a"])

    def _mel(self) -> np.ndarray:
        if self._mels is None:
            self._mels = np.load(self.mel_path, mmap_mode="r")
        return self._mels

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_mels"] = None
        return d

    def _track(self, i: int) -> dict[str, np.ndarray]:
        return {"mel": np.asarray(self._mel()[i]), "input_ids": self.input_ids[i],
                "attention_mask": self.attention_mask[i], "track_idx": np.int64(i)}

    def __getitem__(self, r: int) -> dict[str, Any]:
        item: dict[str, Any] = {"a": self._track(int(self.plan["a"][r]))}
        if "b" in self.plan:
            item["b"] = self._track(int(self.plan["b"][r]))
        if "ctx" in self.plan:
            item["ctx"] = self.plan["ctx"][r]
        if "playlist" in self.plan:
            item["playlist"] = np.int64(self.plan["playlist"][r])
        return item


class Collate:
    """Stacks items into the batch dict of :meth:`LarpModel.forward`: anchors first, then
    partners; token arrays trimmed to the longest caption of the batch."""

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        rows = [it["a"] for it in items] + [it["b"] for it in items if "b" in it]
        batch = _stack_tracks(rows)
        if "ctx" in items[0]:
            ctx = torch.from_numpy(np.stack([it["ctx"] for it in items]))
            pad = ctx < 0
            batch["ctx_idx"] = ctx.clamp_min(0)
            batch["ctx_pad"] = pad
        if "playlist" in items[0]:
            batch["playlist_idx"] = torch.from_numpy(np.array([it["playlist"] for it in items], dtype=np.int64))
        return batch


def _stack_tracks(rows: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    import torch

    am = np.stack([r["attention_mask"] for r in rows])
    length = max(1, int(am.sum(axis=1).max()))
    return {
        "mel": torch.from_numpy(np.stack([r["mel"] for r in rows])),
        "input_ids": torch.from_numpy(np.stack([r["input_ids"] for r in rows])[:, :length]),
        "attention_mask": torch.from_numpy(am[:, :length]),
        "track_idx": torch.from_numpy(np.array([r["track_idx"] for r in rows], dtype=np.int64)),
    }


def eval_batches(features: SplitFeatures, rows: Sequence[int], batch_size: int):
    """Yield ``(positions, batch)`` over ``rows`` of a split (for embedding/validation)."""
    mels = features.mels.array()
    rows = np.asarray(rows, dtype=np.int64)
    for s in range(0, len(rows), batch_size):
        r = rows[s:s + batch_size]
        order = np.argsort(r)  # memmap reads in file order
        rr = r[order]
        batch = _stack_tracks([{"mel": np.asarray(mels[i]), "input_ids": features.input_ids[i],
                                "attention_mask": features.attention_mask[i], "track_idx": np.int64(i)}
                               for i in rr])
        yield np.arange(s, s + len(r))[order], batch
