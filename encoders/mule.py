"""``mule``: MULE-style encoder (McCallum et al. 2022) — SF-NFNet-F0 + SimCLR (the paper's "MULE" row).

Faithful to PandoraMedia/music-audio-representations where it is specified:

* front end: 16 kHz mono, log-mel with n_fft 2048, window 400 (Hann), hop 160, 96 bands
  (HTK scale, 0-8 kHz, filters normalised to unit L2 norm as librosa's ``norm=2.0``),
  power 2, compression ``log10(10000 x + 1)``;
* slices: 300 frames (3 s) centred every 200 frames (2 s), centres clamped to the clip
  (MULE's ``SliceExtractor``: for a 10 s clip 5 slices), each slice standardised to zero
  mean / unit std (std floor 0.01);
* network: SF-NFNet-F0 (:mod:`encoders._baselines.nfnet`), 1728-d output; stochastic depth
  only in training;
* clip embedding: the mean over slices (MULE's ``TimelineAverage``), or with
  ``pooling="flatten5"`` the 5 slice vectors concatenated (8,640-d; LARP's table used it;
  clips that do not give exactly 5 slices use 5 evenly spaced centres);
* training: SimCLR NT-Xent (τ 0.1) on a projector ``Dense(4096)+ReLU, Dense(4096)+ReLU,
  fc 4096`` (``projector`` lists the widths; the last is the bias-free ``fc``), positive
  pairs = two independent random 3 s crops of the same pre-training-pool clip (optionally
  with ``augment=["specaug"]``). Optimiser and schedule are ours (AdamW, warm-up + cosine);
  MULE's training recipe is not public.

CPU profiles shrink the network (named variants ``nfnet-f0-cpu``: 136-d, ``nfnet-f0-tiny``:
56-d) and the projector (``[512, 512, 512]``, ``[128, 128, 128]``); the paper profile is
the real F0. ``checkpoint`` loads converted official weights into the SF-NFNet trunk (a
safetensors/torch state dict in this module's layout; see docs/baselines.md), and then no
training happens.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders._baselines.audio_encoder import MACHINE_DEFAULTS, TrainedAudioEncoder
from encoders.base import EncoderMeta

SLICE_FRAMES = 300
SLICE_HOP = 200
POOLINGS = ("mean", "flatten5")


def mule_frontend():
    """MULE's log-mel as a torch module (``[B, T] -> [B, 96, T // 160 + 1]``)."""
    import torch

    from encoders._audio import LogMel

    mel = LogMel(16000, n_fft=2048, hop_length=160, n_mels=96, fmin=0.0, fmax=8000.0, win_length=400,
                 power=2.0, log="log10p", htk=True, norm=None)
    fb = mel.mel_fb
    mel.mel_fb = fb / torch.clamp(fb.norm(dim=1, keepdim=True), min=1e-12)  # librosa norm=2.0
    return mel


def slice_centres(n_frames: int, *, frames: int = SLICE_FRAMES, hop: int = SLICE_HOP) -> list[int]:
    """MULE's ``SliceExtractor`` centres for a feature of ``n_frames`` frames: every ``hop``
    frames after 0, clamped to ``[frames/2, n_frames - frames/2]``."""
    half = frames // 2
    idx = [t for t in range(0, n_frames, hop) if t > 0] or [half]
    hi = max(half, n_frames - half)
    return [min(max(t, half), hi) for t in idx]


def standardize_slices(x):
    """Zero mean, unit std per slice (over all but the batch axis), std floored at 0.01."""
    dims = tuple(range(1, x.dim()))
    x = x - x.mean(dim=dims, keepdim=True)
    return x / x.std(dim=dims, keepdim=True, unbiased=False).clamp_min(0.01)


def cut_slices(mel, centres: list[int], frames: int = SLICE_FRAMES):
    """``[B, F, T]`` -> ``[B, S, F, frames]`` (zero-padded at the end if T < frames)."""
    import torch.nn.functional as F

    if mel.shape[-1] < frames:
        mel = F.pad(mel, (0, frames - mel.shape[-1]))
    half = frames // 2
    import torch

    return torch.stack([mel[..., c - half:c - half + frames] for c in centres], dim=1)


class MuleModel:  # namespace for the builder (keeps torch out of module import)
    @staticmethod
    def build(backbone: str, projector: list[int], seed: int):
        from torch import nn

        from benchmark.core.runtime import seeded
        from encoders._baselines.nfnet import Projector, SFNFNet

        class _Mule(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.trunk = SFNFNet(backbone)
                self.projector = Projector(self.trunk.dim, tuple(projector[:-1]), projector[-1])

        with seeded(seed):
            return _Mule()


class MuleEncoder(TrainedAudioEncoder):
    sample_rate: ClassVar[int] = 16000
    meta = EncoderMeta(
        name="mule",
        version="1",
        description="MULE-style SF-NFNet-F0 (16 kHz 96-band log-mel, 3 s slices every 2 s) trained with "
                    "SimCLR NT-Xent on the pre-training pool; mean over slices (1728-d for F0)",
        dim=None,  # 1728 (F0), 136 (nfnet-f0-cpu), 56 (nfnet-f0-tiny); x5 with pooling="flatten5"
        sample_rate=16000,
        modalities=("audio",),
        trains=True,
        trains_on="pretrain pool audio (SimCLR crops); skipped when config.checkpoint is given",
        weights="random init (seeded), or converted official MULE weights (config.checkpoint)",
        citation="McCallum, Korzeniowski, Oramas, Gouyon & Ehmann, Supervised and Unsupervised Learning of "
                 "Audio Representations for Music Understanding, ISMIR 2022; Wang et al., Towards Learning "
                 "Universal Audio Representations, ICASSP 2022 (SF-NFNet)",
        requires=("torch", "safetensors"),
        paper_row="MULE",
        tags=("baseline",),
        weights_source="in-repo SimCLR training on the pre-training pool from seeded random init, or converted "
                       "official MULE weights (config.checkpoint)",
        licence_code="MIT (SF-NFNet re-implementation)",
        licence_weights="MIT (trained in-repo); converted official MULE weights (config.checkpoint) carry "
                        "their own licence",
        output_libraries=("torch",),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "backbone": "sf-nfnet-f0",
        "projector": [4096, 4096, 4096],
        "temperature": 0.1,
        "pooling": "mean",
        "augment": [],  # extra augmentation families on top of the crops: [] or ["specaug"]
        "epochs": 100,
        "batch_size": 256,
        "lr": 1e-3,
        "weight_decay": 1e-5,
        "warmup": 0.05,
        "max_steps": None,
        "slice_frames": SLICE_FRAMES,
        "slice_hop": SLICE_HOP,
        **MACHINE_DEFAULTS,
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"backbone": "nfnet-f0-tiny", "projector": [128, 128, 128], "epochs": 1, "batch_size": 8,
               "max_steps": 3, "lr": 2e-3, "warmup": 0.1, "embed_batch_size": 32},
        "quick": {"backbone": "nfnet-f0-cpu", "projector": [512, 512, 512], "epochs": 4, "batch_size": 32,
                  "lr": 2e-3, "warmup": 0.1, "embed_batch_size": 32},
        "paper": {"backbone": "sf-nfnet-f0", "projector": [4096, 4096, 4096], "epochs": 100,
                  "batch_size": 256, "lr": 1e-3, "embed_batch_size": 64},
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from encoders._baselines.nfnet import get_spec

        if self.config["pooling"] not in POOLINGS:
            raise ValueError(f"mule: pooling must be one of {POOLINGS}, not {self.config['pooling']!r}")
        bad = [a for a in self.config["augment"] if a != "specaug"]
        if bad:
            raise ValueError(f"mule: augment may only list 'specaug', got {bad}")
        self.spec = get_spec(self.config["backbone"])
        self._frontend: Any = None

    def output_dim(self) -> int:
        return self.spec.dim * (5 if self.config["pooling"] == "flatten5" else 1)

    def _build(self, seed: int):
        return MuleModel.build(self.config["backbone"], list(self.config["projector"]), seed)

    def _mel(self):
        if self._frontend is None:
            self._frontend = mule_frontend().to(self._device())
        return self._frontend

    # -- training ------------------------------------------------------------------------
    def _train(self, model, dataset: Dataset, seed: int) -> dict[str, Any]:
        import time

        import torch

        from encoders._baselines.augment import spec_augment
        from encoders._baselines.data import (
            compute_features,
            epoch_batches,
            random_crops,
            warmup_steps,
        )
        from encoders._baselines.losses import nt_xent
        from encoders._baselines.train import run_training

        c, dev = self.config, self._device()
        ids = dataset.track_ids("pretrain")
        if len(ids) < 2:
            raise ValueError(f"mule: needs a pre-training pool (pretrain split), the dataset has {len(ids)} tracks")
        t0 = time.perf_counter()
        rng = np.random.default_rng(seed)
        batches = epoch_batches(len(ids), int(c["batch_size"]), int(c["epochs"]), rng, c["max_steps"])
        used = np.unique(np.concatenate(batches))  # only clips that training will see
        slot = np.full(len(ids), -1, dtype=np.int64)
        slot[used] = np.arange(len(used))
        batches = [slot[b] for b in batches]
        bank = compute_features(dataset, [ids[i] for i in used], self.sample_rate, self._mel(), batch_size=32,
                                device=dev)
        frames = int(c["slice_frames"])
        specaug = "specaug" in c["augment"]
        data_s = time.perf_counter() - t0

        def view(rows: np.ndarray) -> torch.Tensor:
            x = random_crops(bank, rows, frames, rng)
            if specaug:
                x = spec_augment(x, rng)
            return standardize_slices(torch.from_numpy(x).to(dev)).unsqueeze(1)

        def step_loss(step: int) -> torch.Tensor:
            rows = batches[step]
            z1 = model.projector(model.trunk(view(rows)))
            z2 = model.projector(model.trunk(view(rows)))
            return nt_xent(z1.float(), z2.float(), float(c["temperature"]))

        rep = run_training(model, step_loss, steps=len(batches), lr=float(c["lr"]), device=dev,
                           weight_decay=float(c["weight_decay"]), optimizer="adamw",
                           warmup=warmup_steps(c["warmup"], len(batches)), schedule="cosine",
                           amp=bool(c["amp"]), desc="mule", progress=c["progress"])
        rep.update({"trained_on": f"pretrain pool ({len(ids)} tracks)", "data_seconds": round(data_s, 3)})
        return rep

    # -- embedding -----------------------------------------------------------------------
    def _features(self, wav):
        mel = self._mel()(wav)  # [B, 96, T]
        frames, hop = int(self.config["slice_frames"]), int(self.config["slice_hop"])
        n = max(mel.shape[-1], frames)
        centres = slice_centres(n, frames=frames, hop=hop)
        flatten = self.config["pooling"] == "flatten5"
        if flatten and len(centres) != 5:
            half = frames // 2
            centres = [round(v) for v in np.linspace(half, n - half, 5)]
        sl = cut_slices(mel, centres, frames)  # [B, S, 96, frames]
        b, s = sl.shape[:2]
        return standardize_slices(sl.reshape(b * s, *sl.shape[2:])).unsqueeze(1), b, s

    def _forward(self, model, x):
        x, b, s = x
        emb = model.trunk(x).reshape(b, s, -1)
        return emb.reshape(b, -1) if self.config["pooling"] == "flatten5" else emb.mean(dim=1)
