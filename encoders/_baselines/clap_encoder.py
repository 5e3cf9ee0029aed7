"""Shared logic of the ``clap-pt`` and ``clap-ft`` encoders (see those files).

Weights of the pre-trained stage come either from an official checkpoint
(``config.checkpoint``) or from CLAP pre-trained in-repo on the dataset's pre-training
pool; the in-repo run is stored under ``benchmark.core.cache.shared_dir("clap-pt", key)`` with
``key`` = (network config, pre-training hyper-parameters, dataset hash, seed), so clap-pt
and clap-ft with the same settings train it once, whichever runs first.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders.base import EmbedStages, Encoder, EncoderUnavailable, audio_stages

EMBEDDINGS = ("audio", "text", "mean")

#: Defaults common to clap-pt and clap-ft (the network and how it embeds).
COMMON_DEFAULTS: dict[str, Any] = {
    # network
    "htsat": "tiny",  # HTS-AT config name (encoders._htsat.HTSAT_CONFIGS) or mapping; "base" for the music checkpoint
    "text_model": "all-MiniLM-L6-v2",  # BERT-family model name/path; official CLAP uses roberta-base (not available offline)
    "text_pooling": "pooler",  # CLAP takes the text model's pooler_output; "cls"/"mean" also possible
    "text_max_length": 77,  # laion_clap tokenises to 77 tokens
    "joint_dim": 512,
    "freeze_text": False,  # laion_clap's --freeze-text; True caches text features (CPU profiles)
    "checkpoint": None,  # official laion_clap checkpoint (e.g. 630k-audioset-best.pt); None = pre-train in-repo
    "checkpoint_prefix": None,  # key prefix in the checkpoint; None = detect ("module.")
    "pad": "repeat",  # short clips: laion_clap's repeatpad; or "zero"
    # embedding
    "embedding": "audio",  # "audio" (default), "text" or "mean" of the normalised audio and text vectors
    "embed_batch_size": 32,
    # pre-training stage (in-repo, on the pretrain pool)
    "pt_epochs": 30,
    "pt_batch_size": 64,
    "pt_lr": 1e-4,
    "pt_warmup": 3200,  # steps (int) or fraction of all steps (float < 1)
    "pt_weight_decay": 0.2,  # laion_clap default; not applied to biases, norms, gains, logit scales
    "pt_max_steps": None,
    # machine
    "device": "auto",
    "num_threads": None,
    "amp": True,  # bf16 autocast on CUDA
    "cache_mb": 2048,  # keep training clips in memory up to this size (float16)
    "progress": None,  # tqdm: None = only on a terminal
}


class ClapEncoderBase(Encoder):
    """Not registered (no ``meta``); :mod:`encoders.clap_pt` and :mod:`encoders.clap_ft` subclass it."""

    stage: ClassVar[str] = "pt"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["embedding"] not in EMBEDDINGS:
            raise ValueError(f"{self.name}: embedding must be one of {EMBEDDINGS}, not {self.config['embedding']!r}")
        if self.config["pad"] not in ("zero", "repeat"):
            raise ValueError(f"{self.name}: pad must be 'zero' or 'repeat'")
        from encoders._htsat import get_htsat_config

        self.htsat_config = get_htsat_config(self.config["htsat"])
        self._model: Any = None
        self.load_report: dict[str, Any] | None = None
        self.fit_report: dict[str, Any] | None = None
        self._state_paths: list[Path] = []

    # -- protocol ----------------------------------------------------------------------
    def output_dim(self) -> int:
        return int(self.config["joint_dim"])

    def check_available(self) -> None:
        super().check_available()
        from benchmark.core.runtime import hub_offline
        from encoders._htsat import import_htsat_module
        from encoders._text import check_text_model

        hub_offline()
        ckpt = self.config["checkpoint"]
        if ckpt is not None and not Path(ckpt).expanduser().is_file():
            raise EncoderUnavailable(
                f"{self.name}: checkpoint {ckpt} does not exist (official laion_clap checkpoints, e.g. "
                "630k-audioset-best.pt or music_audioset_epoch_15_esc_90.14.pt, must be downloaded by hand)")
        check_text_model(self.config["text_model"])
        import_htsat_module()

    def state_files(self, workdir: Path) -> list[Path]:
        return list(self._state_paths)

    def describe(self) -> dict[str, Any]:
        """What the result file should record about the weights."""
        return {"text_model": self.config["text_model"], "htsat": self.htsat_config.to_dict(),
                "checkpoint": self.config["checkpoint"], "embedding": self.config["embedding"],
                "load_report": self.load_report, "fit_report": self.fit_report}

    # -- building ----------------------------------------------------------------------
    def _device(self):
        from benchmark.core.runtime import pick_device

        return pick_device(self.config["device"])

    def _build(self, seed: int):
        from benchmark.core.runtime import hub_offline

        hub_offline()  # before transformers/huggingface_hub are first imported (they read it once)
        from benchmark.core.runtime import seeded
        from encoders._baselines.clap import CLAP
        from encoders._text import load_text_model

        with seeded(seed):
            text = load_text_model(self.config["text_model"])
        return CLAP(self.htsat_config, text, joint_dim=int(self.config["joint_dim"]), seed=seed,
                    text_pooling=self.config["text_pooling"],
                    text_max_length=int(self.config["text_max_length"]),
                    freeze_text=bool(self.config["freeze_text"])).to(self._device())

    def _from_checkpoint(self, seed: int):
        from encoders._baselines.clap import load_clap_checkpoint

        model = self._build(seed)
        rep = load_clap_checkpoint(model, Path(self.config["checkpoint"]).expanduser(),
                                   prefix=self.config["checkpoint_prefix"])
        self.load_report = rep.to_dict()
        return model.eval()

    def pretrain_settings(self) -> dict[str, Any]:
        from encoders._baselines.clap import MODEL_KEYS, PT_TRAIN_KEYS

        out = {k: self.config[k] for k in MODEL_KEYS}
        out["htsat"] = self.htsat_config.to_dict()
        out.update({k: self.config[f"pt_{k}"] for k in PT_TRAIN_KEYS})
        return out

    def pretrain_key(self, dataset: Dataset, seed: int) -> dict[str, Any]:
        return {"stage": "clap-pt/1", "dataset": dataset.content_hash, "seed": int(seed),
                "settings": self.pretrain_settings()}

    def _pretrained(self, dataset: Dataset, seed: int):
        """The stage-1 model: official checkpoint, or in-repo pre-training (shared, cached)."""
        from benchmark.core.cache import shared_dir
        from encoders._baselines.train import STATE_FILE, is_finished, load_state, save_state

        if self.config["checkpoint"] is not None:
            return self._from_checkpoint(seed), {"weights": "checkpoint", "load_report": self.load_report}
        d = shared_dir("clap-pt", self.pretrain_key(dataset, seed))
        model = self._build(seed)
        if is_finished(d):
            state, meta = load_state(d / STATE_FILE)
            model.load_state_dict(state, strict=True)
            return model.eval(), {"weights": "in-repo pre-training (cached)", "path": str(d / STATE_FILE), **meta}
        ids = dataset.track_ids("pretrain")
        if len(ids) < 2:
            raise EncoderUnavailable(
                f"{self.name}: the dataset has {len(ids)} pre-training-pool tracks; in-repo CLAP "
                "pre-training needs the pretrain split (or give config.checkpoint)")
        rep = self._train(model, dataset, ids, seed=seed, prefix="pt_", desc="clap-pt")
        meta = {"trained_on": f"pretrain pool ({len(ids)} tracks)", **rep}
        save_state(d / STATE_FILE, model.state_dict(), meta)
        return model.eval(), {"weights": "in-repo pre-training", "path": str(d / STATE_FILE), **meta}

    # -- training ----------------------------------------------------------------------
    def _train(self, model, dataset: Dataset, ids: Sequence[str], *, seed: int, prefix: str,
               desc: str) -> dict[str, Any]:
        import torch

        from benchmark.core.runtime import seed_everything, torch_threads
        from encoders._baselines.data import WaveSource, epoch_batches, warmup_steps
        from encoders._baselines.losses import clip_loss
        from encoders._baselines.train import param_groups, run_training

        c = self.config
        dev = self._device()
        seed_everything(seed)
        rng = np.random.default_rng(seed)
        cfg = self.htsat_config
        t0 = time.perf_counter()
        with torch_threads(c["num_threads"]):
            captions = [dataset.caption(t) for t in ids]
            batches = epoch_batches(len(ids), int(c[f"{prefix}batch_size"]), int(c[f"{prefix}epochs"]), rng,
                                    c[f"{prefix}max_steps"])
            source = WaveSource(dataset, ids, cfg.sample_rate, cfg.clip_seconds, pad=c["pad"],
                                cache_mb=float(c["cache_mb"]), rows=np.concatenate(batches))
            steps = len(batches)
            text_cache: dict[int, torch.Tensor] | None = None
            if c["freeze_text"]:  # the frozen branch runs once per caption actually used
                text_cache = {}
                need = sorted({int(r) for b in batches for r in b})
                with torch.no_grad():
                    for i in range(0, len(need), 64):
                        rows = need[i:i + 64]
                        for r, f in zip(rows, model.text_features([captions[r] for r in rows]).float()):
                            text_cache[r] = f
            load_s = time.perf_counter() - t0

            def step_loss(step: int) -> torch.Tensor:
                rows = batches[step]
                wav = torch.from_numpy(source.batch(rows)).to(dev)
                a = model.embed_audio(wav)
                if text_cache is not None:
                    t = model.embed_text(features=torch.stack([text_cache[int(r)] for r in rows]).to(dev))
                else:
                    t = model.embed_text([captions[r] for r in rows])
                return clip_loss(a.float(), t.float(), model.logit_scale_a.exp())

            rep = run_training(
                model, step_loss, steps=steps, lr=float(c[f"{prefix}lr"]), device=dev,
                optimizer="adamw", betas=(0.9, 0.999), eps=1e-8,
                warmup=warmup_steps(c[f"{prefix}warmup"], steps), schedule="cosine",
                groups=param_groups(model, float(c[f"{prefix}weight_decay"])),
                amp=bool(c["amp"]), after_step=lambda _s: model.clamp_logit_scale(), desc=desc,
                progress=c["progress"])
        rep.update({"tracks": len(ids), "data_seconds": round(load_s, 3),
                    "logit_scale": round(model.logit_scale_a.detach().exp().item(), 4)})
        return rep

    # -- embedding ---------------------------------------------------------------------
    def _ensure_model(self):
        if self._model is None:
            if self.stage == "pt" and self.config["checkpoint"] is not None:
                self._model = self._from_checkpoint(0)
            else:
                raise RuntimeError(f"{self.name}: call fit(dataset, seed=..., workdir=...) before embed()")
        return self._model

    def embedding_model(self) -> Any:
        """The whole CLAP model (audio and text branches, projections), fitted or built."""
        return self._model if self._model is not None else self._build(0)

    def embed_stages(self, dataset: Dataset) -> EmbedStages | None:
        if self.config["embedding"] != "audio":
            return None  # the text tower takes captions: whole pipeline only
        model = self._ensure_model().eval()
        cfg, dev = self.htsat_config, self._device()
        return audio_stages(cfg.sample_rate, cfg.clip_seconds, int(self.config["embed_batch_size"]),
                            lambda w: w.to(dev), model.embed_audio, pad=self.config["pad"],
                            note="HTS-AT computes its own spectrogram: the forward holds it")

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        import torch

        from benchmark.core.runtime import torch_threads
        from encoders._baselines.data import embed_clips

        model = self._ensure_model().eval()
        cfg, dim, mode = self.htsat_config, self.output_dim(), self.config["embedding"]
        bs = int(self.config["embed_batch_size"])
        out = np.zeros((len(track_ids), dim), dtype=np.float32)
        with torch_threads(self.config["num_threads"]):
            if mode in ("audio", "mean"):
                out += embed_clips(dataset, track_ids, cfg.sample_rate, model.embed_audio, dim,
                                   seconds=cfg.clip_seconds, pad=self.config["pad"], batch_size=bs,
                                   device=self._device())
            if mode in ("text", "mean"):
                caps = [dataset.caption(t) for t in track_ids]
                with torch.inference_mode():
                    for i in range(0, len(caps), bs):
                        out[i:i + bs] += model.embed_text(caps[i:i + bs]).float().cpu().numpy()
        if mode == "mean":
            out /= 2.0  # mean of the two unit vectors (as LARP's e = mean(a, t)); not re-normalised
        return out

    # -- persistence helpers -------------------------------------------------------------
    @staticmethod
    def _place(src: Path, dst: Path) -> Path:
        """Put a copy of ``src`` at ``dst`` (hard link when possible)."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            return dst
        from benchmark.core.atomic import atomic_path

        with atomic_path(dst, mode=None, fsync=False) as tmp:
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
        return dst
