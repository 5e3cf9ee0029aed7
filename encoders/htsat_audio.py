"""``htsat-audio``: LARP's audio tower alone (the paper's "HTS-AT (audio only)" ablation row).

laion_clap's HTS-AT, pooled ``embedding`` output (768-d for the paper's ``tiny``; the
width follows the chosen config). Without ``checkpoint`` the weights are a random
initialisation drawn from ``seed`` — note that the official LARP code, by a key-renaming
bug, also started HTS-AT from random weights. With ``checkpoint`` (an HTS-AT, CLAP or
LARP checkpoint, or a safetensors file) the weights are loaded through
:func:`encoders._htsat.load_htsat_checkpoint`, which reports missing/unexpected keys
and refuses a checkpoint of which nothing matches.

Profiles run the profile's shared HTS-AT (:data:`encoders._htsat.HTSAT_BY_PROFILE`, the
tower of ``clap-pt`` and LARP): ``ci`` cpu-micro (2.5 s), ``quick`` cpu-micro-10s (10 s,
128-d), ``paper`` ``tiny`` at 48 kHz on 10 s clips. The config is part of the encoder
config, so results and the embedding cache name it.

``init="clap-pt"`` starts from CLAP-PT's audio tower pre-trained in-repo on the
dataset's pre-training pool with ``seed`` (:mod:`encoders._audio_init`) — the same
weights LARP's stage 1 starts from (``audio_init="clap-pt"``); ``init="random"`` (the
default, the "untrained tower" row) keeps the seeded random init.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders._htsat import (
    HTSAT_BY_PROFILE,
    HTSAT_CONFIGS,
    HTSATConfig,
    LoadReport,
    get_htsat_config,
)
from encoders.base import EmbedStages, Encoder, EncoderMeta, EncoderUnavailable, audio_stages


class HTSATAudioEncoder(Encoder):
    meta = EncoderMeta(
        name="htsat-audio",
        version="2",
        description="laion_clap HTS-AT audio tower, pooled embedding (frozen)",
        dim=None,  # out_dim of the HTS-AT config: tiny 768, base 1024, cpu-small 256
        sample_rate=48000,  # the paper's; reduced configs run at their own rate (16 kHz)
        modalities=("audio",),
        trains=False,
        trains_on="nothing",
        weights="random init (seeded) unless config.checkpoint is given (an HTS-AT/CLAP/LARP checkpoint)",
        citation="Chen et al., HTS-AT: A Hierarchical Token-Semantic Audio Transformer for Sound "
                 "Classification and Detection, ICASSP 2022; implementation of Wu et al., Large-scale "
                 "Contrastive Language-Audio Pretraining (laion_clap), ICASSP 2023",
        requires=("torch", "laion_clap", "torchlibrosa"),
        paper_row="HTS-AT (audio only)",
        tags=("ablation", "audio-only"),
        weights_source="seeded random init (no training), or an HTS-AT/CLAP/LARP checkpoint file "
                       "(config.checkpoint)",
        licence_code="MIT; laion-clap CC0-1.0 (HTS-AT model code); torchlibrosa MIT (its spectrogram front "
                     "end)",
        licence_weights="MIT (seeded random init); a config.checkpoint carries its own licence",
        output_libraries=("torch", "laion-clap", "torchlibrosa"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "htsat": "tiny",  # a name of HTSAT_CONFIGS or a mapping {"base": name, field: value}
        "checkpoint": None,  # path to weights; None = `init`
        "init": "random",  # "random" (seeded) or "clap-pt" (CLAP-PT's audio tower for the dataset and seed)
        "init_profile": "paper",  # whose CLAP-PT settings (the profile of the same HTS-AT)
        "checkpoint_prefix": None,  # key prefix inside the checkpoint; None = detect
        "seed": 0,
        "clip_seconds": None,  # None = the HTS-AT config's (tiny: 10 s)
        "pad": "zero",  # short clips: "zero" or "repeat" (CLAP's repeatpad)
        "normalize": True,  # L2-normalise the pooled embedding
        "batch_size": 16,
        "device": "auto",
        "num_threads": None,
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"htsat": HTSAT_BY_PROFILE["ci"], "init_profile": "ci", "batch_size": 8},
        "quick": {"htsat": HTSAT_BY_PROFILE["quick"], "init_profile": "quick"},
        "paper": {"htsat": HTSAT_BY_PROFILE["paper"], "init_profile": "paper", "batch_size": 32},
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = get_htsat_config(self.config["htsat"])
        if self.config["clip_seconds"] is not None:
            cfg = cfg.replace(clip_seconds=float(self.config["clip_seconds"]))
        if self.config["pad"] not in ("zero", "repeat"):
            raise ValueError(f"htsat-audio: pad must be 'zero' or 'repeat', not {self.config['pad']!r}")
        if self.config["init"] not in ("random", "clap-pt"):
            raise ValueError(f"htsat-audio: init must be 'random' or 'clap-pt', not {self.config['init']!r}")
        self.init_report: dict[str, Any] | None = None
        self.htsat_config: HTSATConfig = cfg
        self.load_report: LoadReport | None = None
        self._model: Any = None

    def check_available(self) -> None:
        super().check_available()
        ckpt = self.config["checkpoint"]
        if ckpt is not None and not Path(ckpt).expanduser().is_file():
            raise EncoderUnavailable(f"htsat-audio: checkpoint {ckpt} does not exist")

    def output_dim(self) -> int:
        return self.htsat_config.out_dim

    def _load(self, dataset: Dataset | None = None) -> Any:
        if self._model is None:
            from benchmark.core.runtime import pick_device
            from encoders._htsat import build_htsat, load_htsat_checkpoint

            model = build_htsat(self.htsat_config, seed=int(self.config["seed"]))
            if self.config["checkpoint"] is not None:
                self.load_report = load_htsat_checkpoint(
                    model, Path(self.config["checkpoint"]).expanduser(),
                    prefix=self.config["checkpoint_prefix"])
            elif self.config["init"] == "clap-pt":
                from encoders._audio_init import clap_pt_audio_state

                if dataset is None:
                    raise RuntimeError("htsat-audio with init='clap-pt' needs the dataset (embed it first)")
                state, self.init_report = clap_pt_audio_state(dataset, int(self.config["seed"]),
                                                               self.config["init_profile"], self.config["htsat"])
                model.load_state_dict(state, strict=True)
            self._model = model.to(pick_device(self.config["device"])).eval()
        return self._model

    def embedding_model(self) -> Any:
        return self._load()

    def embed_stages(self, dataset: Dataset) -> EmbedStages:
        import torch

        from encoders._htsat import htsat_embed

        model, cfg = self._load(), self.htsat_config

        def forward(wav):
            e = htsat_embed(model, wav).float()
            return torch.nn.functional.normalize(e, dim=-1) if self.config["normalize"] else e

        return audio_stages(cfg.sample_rate, cfg.clip_seconds, int(self.config["batch_size"]), lambda w: w,
                            forward, pad=self.config["pad"],
                            note="HTS-AT computes its own spectrogram: the forward holds it")

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        import torch

        from benchmark.core.runtime import torch_threads
        from encoders._audio import iter_audio_batches
        from encoders._htsat import htsat_embed

        cfg = self.htsat_config
        out = np.zeros((len(track_ids), cfg.out_dim), dtype=np.float32)
        with torch_threads(self.config["num_threads"]):
            model = self._load(dataset)
            with torch.inference_mode():
                for rows, audio in iter_audio_batches(
                        dataset, track_ids, cfg.sample_rate, cfg.clip_seconds,
                        batch_size=int(self.config["batch_size"]), pad=self.config["pad"]):
                    e = htsat_embed(model, torch.from_numpy(audio)).float()
                    if self.config["normalize"]:
                        e = torch.nn.functional.normalize(e, dim=-1)
                    out[rows] = e.cpu().numpy()
        if not np.isfinite(out).all():
            raise FloatingPointError("htsat-audio produced non-finite embeddings")
        return out

    def describe(self) -> dict[str, Any]:
        """The resolved HTS-AT config and, after loading a checkpoint, its load report."""
        return {"htsat": self.htsat_config.to_dict(),
                "checkpoint_report": None if self.load_report is None else self.load_report.to_dict(),
                "init_report": self.init_report,
                "known_configs": sorted(HTSAT_CONFIGS)}
