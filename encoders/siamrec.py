"""``siamrec``: SimSiam audio encoder of the seed paper SiamRec (Hong, KAIST KSE801 2021;
HongSungRae/SiamRec). Not a row of LARP's tables.

Following the SiamRec code (``simsiam.py``, ``augmentation.py``, ``main.py``):

* input: 3 s of 16 kHz audio (48,000 samples); log-mel with n_fft 512, hop 256, 96 HTK
  bands up to 8 kHz, power -> dB (``10 log10(max(x, 1e-10))``), then ``BatchNorm2d(1)``;
* backbone: a ResNet on the 1-channel spectrogram (``resnet50`` with
  ``zero_init_residual`` as in SiamRec; CPU sizes ``resnet-cpu``/``resnet-tiny``);
* SimSiam head: projector ``Linear(d,d,no bias)-BN-ReLU-Linear(d,d,no bias)-BN-ReLU-
  Linear(d,dim)-BN(affine=False)`` (the last Linear's bias frozen, as in SiamRec), predictor
  ``Linear(dim,pred_dim,no bias)-BN-ReLU-Linear(pred_dim,dim)``; loss = symmetric negative
  cosine with stop-gradient (Chen & He 2021);
* augmentation families (``augment``, applied in the listed order, waveform families
  first): ``pedalboard`` (SiamRec's effect chain), ``randommix`` (12 shuffled patches),
  ``specaug`` (spectrogram-image crops and masks); SiamRec trained one family per run,
  default ``pedalboard``;
* optimiser: Adam, lr 1e-3, weight decay 1e-5, MultiStepLR (×0.7 at 1/3 and 1/2 of the
  run), batch 64, trained on the **pre-training pool**;
* embedding: SiamRec's test encoder returns the projector output (``embedding=
  "projector"``, ``dim``-d); ``"backbone"`` gives the pooled backbone feature instead. A
  clip is the mean over its consecutive 3 s windows.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders._baselines.audio_encoder import MACHINE_DEFAULTS, TrainedAudioEncoder
from encoders.base import EncoderMeta, EncoderUnavailable

EMBEDDINGS = ("projector", "backbone")


def siamrec_frontend():
    """torchaudio ``MelSpectrogram(16000, n_fft=512, f_max=8000, n_mels=96)`` + ``AmplitudeToDB()``."""
    from encoders._audio import LogMel

    return LogMel(16000, n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0, power=2.0,
                  log="db", amin=1e-10, htk=True, norm=None)


class _Net:
    @staticmethod
    def build(backbone: str, dim: int, pred_dim: int, seed: int):
        import torch
        from torch import nn

        from benchmark.core.runtime import seeded
        from encoders._baselines.resnet import build_backbone

        class _Trunk(nn.Module):
            """spec_bn -> backbone -> projector (what SiamRec's test encoder runs)."""

            def __init__(self) -> None:
                super().__init__()
                self.spec_bn = nn.BatchNorm2d(1)
                self.backbone = build_backbone(backbone)
                d = self.backbone.dim
                self.projector = nn.Sequential(
                    nn.Linear(d, d, bias=False), nn.BatchNorm1d(d), nn.ReLU(inplace=True),
                    nn.Linear(d, d, bias=False), nn.BatchNorm1d(d), nn.ReLU(inplace=True),
                    nn.Linear(d, dim), nn.BatchNorm1d(dim, affine=False))
                self.projector[6].bias.requires_grad_(False)

            def features(self, mel_db: torch.Tensor) -> torch.Tensor:
                return self.backbone(self.spec_bn(mel_db.unsqueeze(1)))

            def forward(self, mel_db: torch.Tensor) -> torch.Tensor:
                return self.projector(self.features(mel_db))

        class _SimSiam(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.trunk = _Trunk()
                self.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim),
                                               nn.ReLU(inplace=True), nn.Linear(pred_dim, dim))

        with seeded(seed):
            return _SimSiam()


class SiamRecEncoder(TrainedAudioEncoder):
    sample_rate: ClassVar[int] = 16000
    meta = EncoderMeta(
        name="siamrec",
        version="1",
        description="SimSiam (stop-gradient, projector, predictor, negative cosine) ResNet on 16 kHz 96-band "
                    "log-mel with SiamRec's augmentation families, trained on the pre-training pool",
        dim=None,  # `dim` (projector output) or the backbone width
        sample_rate=16000,
        modalities=("audio",),
        trains=True,
        trains_on="pretrain pool audio (self-supervised)",
        weights="random init (seeded)",
        citation="Hong, SiamRec: self-supervised audio representations for cold-start playlist "
                 "recommendation (KAIST KSE801 project, 2021, github.com/HongSungRae/SiamRec); Chen & He, "
                 "Exploring Simple Siamese Representation Learning, CVPR 2021",
        requires=("torch", "safetensors"),
        paper_row=None,
        tags=("baseline", "seed-paper"),
        weights_source="in-repo SimSiam training on the pre-training pool from seeded random init",
        licence_code="MIT; pedalboard GPL-3.0 (training augmentation); torchvision BSD-3-Clause "
                     "(efficientnet-b0 backbone only)",
        licence_weights="MIT (trained in-repo)",
        output_libraries=("torch", "pedalboard", "torchvision"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "backbone": "resnet50",
        "dim": 2048,
        "pred_dim": 512,
        "augment": ["pedalboard"],  # any of "pedalboard", "randommix", "specaug"
        "patches": 12,  # randommix patches
        "input_seconds": 3.0,
        "embedding": "projector",
        "epochs": 100,
        "batch_size": 64,
        "lr": 1e-3,
        "weight_decay": 1e-5,
        "milestones": [1 / 3, 1 / 2],
        "gamma": 0.7,
        "max_steps": None,
        **MACHINE_DEFAULTS,
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"backbone": "resnet-tiny", "dim": 64, "pred_dim": 16, "augment": ["randommix", "specaug"],
               "epochs": 1, "batch_size": 8, "max_steps": 3},
        "quick": {"backbone": "resnet-tiny", "dim": 128, "pred_dim": 32, "augment": ["pedalboard", "specaug"],
                  "epochs": 3, "batch_size": 32, "embed_batch_size": 32},
        "paper": {"backbone": "resnet50", "dim": 2048, "pred_dim": 512, "augment": ["pedalboard"],
                  "epochs": 100, "batch_size": 64},
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from encoders._baselines.augment import FAMILIES
        from encoders._baselines.resnet import backbone_dim

        bad = [a for a in self.config["augment"] if a not in FAMILIES]
        if bad:
            raise ValueError(f"siamrec: unknown augmentation famil(ies) {bad}; known: {list(FAMILIES)}")
        if self.config["embedding"] not in EMBEDDINGS:
            raise ValueError(f"siamrec: embedding must be one of {EMBEDDINGS}")
        self._backbone_dim = backbone_dim(self.config["backbone"])
        self._frontend: Any = None

    def output_dim(self) -> int:
        return int(self.config["dim"]) if self.config["embedding"] == "projector" else self._backbone_dim

    def check_available(self) -> None:
        super().check_available()
        from encoders._baselines.augment import pedalboard_available

        if "pedalboard" in self.config["augment"] and not pedalboard_available():
            raise EncoderUnavailable(
                "siamrec: the 'pedalboard' augmentation family needs the pedalboard package "
                "(pip install pedalboard); or set augment to ['randommix'] and/or ['specaug']")

    def _build(self, seed: int):
        return _Net.build(self.config["backbone"], int(self.config["dim"]), int(self.config["pred_dim"]), seed)

    def _mel(self):
        if self._frontend is None:
            self._frontend = siamrec_frontend().to(self._device())
        return self._frontend

    def _train(self, model, dataset: Dataset, seed: int) -> dict[str, Any]:
        import time

        import torch

        from encoders._baselines.augment import pedalboard_augment, random_mix, spec_augment
        from encoders._baselines.data import epoch_batches, load_waveforms, random_crops
        from encoders._baselines.losses import simsiam_loss
        from encoders._baselines.train import run_training

        c, dev = self.config, self._device()
        ids = dataset.track_ids("pretrain")
        if len(ids) < 2:
            raise ValueError(f"siamrec: needs a pre-training pool (pretrain split), the dataset has {len(ids)} tracks")
        t0 = time.perf_counter()
        rng = np.random.default_rng(seed)
        batches = epoch_batches(len(ids), int(c["batch_size"]), int(c["epochs"]), rng, c["max_steps"])
        used = np.unique(np.concatenate(batches))  # only clips that training will see
        slot = np.full(len(ids), -1, dtype=np.int64)
        slot[used] = np.arange(len(used))
        batches = [slot[b] for b in batches]
        bank = load_waveforms(dataset, [ids[i] for i in used], self.sample_rate, pad="zero", dtype=np.float16)
        n = round(float(c["input_seconds"]) * self.sample_rate)
        fam = list(c["augment"])
        mel = self._mel()
        data_s = time.perf_counter() - t0
        aug_s = [0.0]

        def view(wav: np.ndarray) -> torch.Tensor:
            t = time.perf_counter()
            for f in fam:
                if f == "pedalboard":
                    wav = pedalboard_augment(wav, rng, self.sample_rate)
                elif f == "randommix":
                    wav = random_mix(wav, rng, int(c["patches"]))
            x = mel(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).to(dev))
            if "specaug" in fam:
                x = torch.from_numpy(spec_augment(x.cpu().numpy(), rng)).to(dev)
            aug_s[0] += time.perf_counter() - t
            return x

        def step_loss(step: int) -> torch.Tensor:
            wav = random_crops(bank, batches[step], n, rng)
            z1, z2 = model.trunk(view(wav)), model.trunk(view(wav))
            p1, p2 = model.predictor(z1), model.predictor(z2)
            return simsiam_loss(p1.float(), p2.float(), z1.float(), z2.float())

        rep = run_training(model, step_loss, steps=len(batches), lr=float(c["lr"]), device=dev,
                           weight_decay=float(c["weight_decay"]), optimizer="adam", warmup=0,
                           schedule="multistep", milestones=c["milestones"], gamma=float(c["gamma"]),
                           amp=bool(c["amp"]), desc="siamrec", progress=c["progress"])
        rep.update({"trained_on": f"pretrain pool ({len(ids)} tracks)", "augment": fam,
                    "data_seconds": round(data_s, 3), "augment_seconds": round(aug_s[0], 3)})
        return rep

    def _features(self, wav):
        import torch

        n = round(float(self.config["input_seconds"]) * self.sample_rate)
        if wav.shape[-1] < n:
            wav = torch.nn.functional.pad(wav, (0, n - wav.shape[-1]))
        b, w = wav.shape[0], wav.shape[-1] // n  # consecutive windows; a last partial one is dropped
        x = wav[:, :w * n].reshape(b * w, n)  # a view, not a copy, of a contiguous batch
        return self._mel()(x), b, w

    def _forward(self, model, x):
        mel, b, w = x
        trunk = model.trunk
        emb = trunk(mel) if self.config["embedding"] == "projector" else trunk.features(mel)
        return emb.reshape(b, w, -1).mean(dim=1)
