"""Base class of the audio-only baselines trained in-repo (mule, co-playlist, siamrec).

A subclass provides

* ``_build(seed) -> nn.Module`` — the whole trainable network, with the embedding network
  as its ``trunk`` attribute (heads such as projectors and predictors live beside it);
* ``_train(model, dataset, seed) -> dict`` — the training run (only non-test splits);
* ``_embed_batch(model, wav) -> Tensor`` — waveforms ``[b, samples]`` at
  ``sample_rate`` -> ``[b, output_dim()]``;

and gets ``fit`` (skips training when ``workdir`` holds a finished checkpoint, or when
``config.checkpoint`` gives weights for the trunk), ``embed`` (batched, no grad,
deterministic), device/thread handling and the state file list.

Common config keys: ``checkpoint``, ``checkpoint_prefix``, ``device``, ``num_threads``,
``amp``, ``embed_batch_size``, ``progress``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from encoders.base import EmbedStages, Encoder, EncoderUnavailable, audio_stages

MACHINE_DEFAULTS: dict[str, Any] = {
    "checkpoint": None,  # weights for the trunk (safetensors or torch state dict); skips training
    "checkpoint_prefix": None,  # key prefix inside the checkpoint; None = detect
    "device": "auto",
    "num_threads": None,
    "amp": True,  # bf16 autocast on CUDA
    "embed_batch_size": 32,
    "progress": None,
}


class TrainedAudioEncoder(Encoder):
    sample_rate: ClassVar[int] = 16000

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._model: Any = None
        self.fit_report: dict[str, Any] | None = None
        self.load_report: dict[str, Any] | None = None
        self._state_paths: list[Path] = []

    # -- to implement --------------------------------------------------------------------
    def _build(self, seed: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _train(self, model, dataset: Dataset, seed: int) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _features(self, wav):  # pragma: no cover - abstract
        """The front end: ``[b, samples]`` waveforms → the trunk's input."""
        raise NotImplementedError

    def _forward(self, model, x):  # pragma: no cover - abstract
        """The model on :meth:`_features`' output → ``[b, output_dim()]``."""
        raise NotImplementedError

    def _embed_batch(self, model, wav):
        return self._forward(model, self._features(wav))

    # -- shared --------------------------------------------------------------------------
    def _device(self):
        from benchmark.core.runtime import pick_device

        return pick_device(self.config["device"])

    def check_available(self) -> None:
        super().check_available()
        ckpt = self.config["checkpoint"]
        if ckpt is not None and not Path(ckpt).expanduser().is_file():
            raise EncoderUnavailable(f"{self.name}: checkpoint {ckpt} does not exist")

    def state_files(self, workdir: Path) -> list[Path]:
        return list(self._state_paths)

    def _from_checkpoint(self, seed: int = 0):
        from encoders._baselines.train import load_weights

        model = self._build(seed)
        rep = load_weights(model.trunk, Path(self.config["checkpoint"]).expanduser(),
                           prefix=self.config["checkpoint_prefix"])
        self.load_report = rep.to_dict()
        return model.to(self._device()).eval()

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        from benchmark.core.runtime import seed_everything, torch_threads
        from encoders._baselines.train import STATE_FILE, is_finished, load_state, save_state

        if self.config["checkpoint"] is not None:
            self._model = self._from_checkpoint(seed)
            self.fit_report = {"weights": "checkpoint", "load_report": self.load_report}
            return self.fit_report
        workdir = Path(workdir)
        model = self._build(seed)
        if is_finished(workdir):
            state, meta = load_state(workdir / STATE_FILE)
            model.load_state_dict(state, strict=True)
            self._model, self.fit_report = model.to(self._device()).eval(), {"cached": True, **meta}
            self._state_paths = [workdir / STATE_FILE]
            return self.fit_report
        seed_everything(seed)
        model = model.to(self._device())
        with torch_threads(self.config["num_threads"]):
            rep = self._train(model, dataset, seed)
        save_state(workdir / STATE_FILE, model.state_dict(), rep)
        self._state_paths = [workdir / STATE_FILE]
        self._model, self.fit_report = model.eval(), rep
        return rep

    def _ensure_model(self):
        if self._model is None:
            if self.config["checkpoint"] is not None:
                self._model = self._from_checkpoint(0)
            else:
                raise RuntimeError(f"{self.name}: call fit(dataset, seed=..., workdir=...) before embed()")
        return self._model

    def embedding_model(self) -> Any:
        """The fitted model, or one built from the config (same architecture, seed 0)."""
        return self._model if self._model is not None else self._build(0)

    def _clip_seconds(self, dataset: Dataset) -> float | None:
        return None  # the dataset's clip length

    def embed_stages(self, dataset: Dataset) -> EmbedStages:
        model = self._ensure_model().eval()
        dev = self._device()
        return audio_stages(self.sample_rate, self._clip_seconds(dataset), int(self.config["embed_batch_size"]),
                            lambda w: self._features(w.to(dev)), lambda x: self._forward(model, x))

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        from benchmark.core.runtime import torch_threads
        from encoders._baselines.data import embed_clips

        model = self._ensure_model().eval()
        with torch_threads(self.config["num_threads"]):
            return embed_clips(dataset, track_ids, self.sample_rate, lambda w: self._embed_batch(model, w),
                               self.output_dim(), seconds=self._clip_seconds(dataset),
                               batch_size=int(self.config["embed_batch_size"]), device=self._device())
