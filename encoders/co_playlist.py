"""``co-playlist``: contrastive audio encoder with playlist co-occurrence positives (the paper's
"CO-Playlist" row; Alonso-Jiménez et al., ICASSP 2023).

Anchor and positive are *different tracks* that co-occur in a **training** playlist
(valid/test playlists are never read):

* ``pairs="random"`` — the positive is a random other track of a random training
  playlist of the anchor (so tracks sharing more playlists are drawn more often);
* ``pairs="top"`` — the positive is drawn uniformly among the anchor's ``top_k`` most
  co-occurring tracks (ties broken at random with the seed).

Each side is a random patch of ``patch_frames`` (128) frames of a 16 kHz, 96-band
log-mel (n_fft 512, hop 256, Slaney mel, ``log10(1 + 10000 x)``: the EffNet-Discogs front
end of the same group), encoded by a CNN backbone and a projection head; the loss is
NT-Xent (SimCLR, τ 0.1) over the batch. Backbones: ``efficientnet-b0`` (the paper's
family, 1280-d), ``resnet50`` (the LARP authors' stand-in, 2048-d), and the CPU sizes
``resnet-cpu`` (128-d) / ``resnet-tiny`` (64-d). The clip embedding is the mean of the
backbone outputs over consecutive non-overlapping patches.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders._baselines.audio_encoder import MACHINE_DEFAULTS, TrainedAudioEncoder
from encoders.base import EncoderMeta

PAIRS = ("random", "top")


def discogs_frontend():
    """16 kHz, n_fft 512, hop 256, 96 Slaney mel bands, log10(1 + 10000 x)."""
    from encoders._audio import LogMel

    return LogMel(16000, n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0, power=2.0,
                  log="log10p", htk=False, norm="slaney")


def patch_starts(n_frames: int, patch: int) -> list[int]:
    """Starts of consecutive non-overlapping patches (at least one)."""
    return list(range(0, max(1, n_frames - patch + 1), patch)) if n_frames >= patch else [0]


class _PairSampler:
    """Draws (anchor, positive) row pairs from training-playlist co-occurrences."""

    def __init__(self, dataset: Dataset, ids: list[str], mode: str, top_k: int, rng: np.random.Generator) -> None:
        from encoders._baselines.data import cooccurrence

        row = {t: i for i, t in enumerate(ids)}
        co = cooccurrence(dataset, "train")
        self.rng = rng
        self.anchors = np.array([row[t] for t in ids if co.get(t)], dtype=np.int64)
        self.mode = mode
        if mode == "random":
            self.playlists = [np.array([row[t] for t in dataset.playlists[p]]) for p in dataset.playlist_ids("train")]
            self.member: dict[int, list[int]] = {}
            for k, pl in enumerate(self.playlists):
                for r in pl:
                    self.member.setdefault(int(r), []).append(k)
        else:
            self.top: dict[int, np.ndarray] = {}
            for t, c in co.items():
                items = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
                cut = items[min(top_k, len(items)) - 1][1]  # keep ties with the k-th count
                best = [row[b] for b, n in items if n >= cut]
                self.top[row[t]] = np.array(best, dtype=np.int64)

    def positive(self, a: int) -> int:
        if self.mode == "random":
            pl = self.playlists[self.member[a][int(self.rng.integers(len(self.member[a])))]]
            others = pl[pl != a]
            return int(others[int(self.rng.integers(len(others)))])
        cands = self.top[a]
        return int(cands[int(self.rng.integers(len(cands)))])


class _Net:
    @staticmethod
    def build(backbone: str, projector: list[int], seed: int):
        from torch import nn

        from benchmark.core.runtime import seeded
        from encoders._baselines.resnet import build_backbone

        class _CoPlaylist(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.trunk = build_backbone(backbone)
                layers: list[nn.Module] = []
                d = self.trunk.dim
                for i, h in enumerate(projector):
                    layers.append(nn.Linear(d, h))
                    if i < len(projector) - 1:
                        layers += [nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
                    d = h
                self.projector = nn.Sequential(*layers)

        with seeded(seed):
            return _CoPlaylist()


class CoPlaylistEncoder(TrainedAudioEncoder):
    sample_rate: ClassVar[int] = 16000
    meta = EncoderMeta(
        name="co-playlist",
        version="1",
        description="Contrastive (NT-Xent) CNN on 96-band log-mel patches; positives = tracks co-occurring "
                    "in training playlists (random or top co-occurrence)",
        dim=None,  # backbone width: efficientnet-b0 1280, resnet50 2048, resnet-cpu 128, resnet-tiny 64
        sample_rate=16000,
        modalities=("audio",),
        trains=True,
        trains_on="train split playlists (co-occurring track pairs, their audio)",
        weights="random init (seeded)",
        citation="Alonso-Jiménez, Favory, Foroughmand, Bourdalas, Serra, Lidy & Bogdanov, Pre-training "
                 "Strategies Using Contrastive Learning and Playlist Information for Music Classification "
                 "and Similarity, ICASSP 2023",
        requires=("torch", "torchvision", "safetensors"),
        paper_row="CO-Playlist",
        tags=("baseline",),
        weights_source="in-repo contrastive training on the pre-training pool from seeded random init",
        licence_code="MIT; torchvision BSD-3-Clause (efficientnet-b0 backbone only)",
        licence_weights="MIT (trained in-repo)",
        output_libraries=("torch", "torchvision"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "backbone": "resnet50",  # "efficientnet-b0" (the paper's family) | "resnet50" (LARP's stand-in) | CPU sizes
        "projector": [2048, 256],  # head widths (Linear-BN-ReLU between, last is the output)
        "pairs": "random",
        "top_k": 5,
        "temperature": 0.1,
        "patch_frames": 128,
        "epochs": 50,
        "batch_size": 128,
        "lr": 1e-3,
        "weight_decay": 1e-5,
        "warmup": 0.05,
        "max_steps": None,
        **MACHINE_DEFAULTS,
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"backbone": "resnet-tiny", "projector": [64, 32], "epochs": 1, "batch_size": 8, "max_steps": 3,
               "lr": 2e-3, "warmup": 0.1},
        "quick": {"backbone": "resnet-tiny", "projector": [128, 64], "epochs": 4, "batch_size": 64,
                  "lr": 2e-3, "warmup": 0.1, "embed_batch_size": 64},
        "paper": {"backbone": "resnet50", "projector": [2048, 256], "epochs": 50, "batch_size": 128,
                  "lr": 1e-3, "embed_batch_size": 64},
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from encoders._baselines.resnet import backbone_dim

        if self.config["pairs"] not in PAIRS:
            raise ValueError(f"co-playlist: pairs must be one of {PAIRS}, not {self.config['pairs']!r}")
        self._dim = backbone_dim(self.config["backbone"])
        self._frontend: Any = None

    def output_dim(self) -> int:
        return self._dim

    def _build(self, seed: int):
        return _Net.build(self.config["backbone"], list(self.config["projector"]), seed)

    def _mel(self):
        if self._frontend is None:
            self._frontend = discogs_frontend().to(self._device())
        return self._frontend

    def _train(self, model, dataset: Dataset, seed: int) -> dict[str, Any]:
        import time

        import torch

        from encoders._baselines.data import compute_features, random_crops, warmup_steps
        from encoders._baselines.losses import nt_xent
        from encoders._baselines.train import run_training

        c, dev = self.config, self._device()
        t0 = time.perf_counter()
        ids = sorted({t for p in dataset.playlist_ids("train") for t in dataset.playlists[p]})
        rng = np.random.default_rng(seed)
        sampler = _PairSampler(dataset, ids, c["pairs"], int(c["top_k"]), rng)
        if len(sampler.anchors) < 2:
            raise ValueError("co-playlist: fewer than 2 training tracks co-occur in a training playlist")
        bs = min(int(c["batch_size"]), len(sampler.anchors))
        per_epoch = max(1, len(sampler.anchors) // bs)
        steps = per_epoch * int(c["epochs"])
        if c["max_steps"] is not None:
            steps = min(steps, int(c["max_steps"]))
        order: list[np.ndarray] = []
        while len(order) < steps:
            perm = rng.permutation(sampler.anchors)
            order.extend(perm[i:i + bs] for i in range(0, len(perm) - bs + 1, bs))
        order = order[:steps]
        pairs = [(a, np.array([sampler.positive(int(r)) for r in a], dtype=np.int64)) for a in order]
        used = np.unique(np.concatenate([np.concatenate(ap) for ap in pairs]))
        slot = np.full(len(ids), -1, dtype=np.int64)
        slot[used] = np.arange(len(used))
        bank = compute_features(dataset, [ids[i] for i in used], self.sample_rate, self._mel(), batch_size=32,
                                device=dev)
        patch = int(c["patch_frames"])
        data_s = time.perf_counter() - t0

        def step_loss(step: int) -> torch.Tensor:
            a, p = slot[pairs[step][0]], slot[pairs[step][1]]
            xa = torch.from_numpy(random_crops(bank, a, patch, rng)).to(dev).unsqueeze(1)
            xp = torch.from_numpy(random_crops(bank, p, patch, rng)).to(dev).unsqueeze(1)
            z = model.projector(model.trunk(torch.cat([xa, xp])))
            return nt_xent(z[: len(a)].float(), z[len(a):].float(), float(c["temperature"]))

        rep = run_training(model, step_loss, steps=steps, lr=float(c["lr"]), device=dev,
                           weight_decay=float(c["weight_decay"]), optimizer="adamw",
                           warmup=warmup_steps(c["warmup"], steps), schedule="cosine", amp=bool(c["amp"]),
                           desc="co-playlist", progress=c["progress"])
        rep.update({"trained_on": f"train playlists ({len(ids)} tracks, {len(sampler.anchors)} anchors)",
                    "pairs": c["pairs"], "data_seconds": round(data_s, 3)})
        return rep

    def _features(self, wav):
        import torch

        mel = self._mel()(wav)  # [B, 96, T]
        patch = int(self.config["patch_frames"])
        if mel.shape[-1] < patch:
            mel = torch.nn.functional.pad(mel, (0, patch - mel.shape[-1]))
        starts = patch_starts(mel.shape[-1], patch)
        return torch.stack([mel[..., s:s + patch] for s in starts], dim=1)  # [B, P, 96, patch]

    def _forward(self, model, x):
        b, p = x.shape[:2]
        emb = model.trunk(x.reshape(b * p, 1, *x.shape[2:])).reshape(b, p, -1)
        return emb.mean(dim=1)
