"""CLAP (Wu et al. 2023, LAION-AI/CLAP ``laion_clap``) assembled from shared parts.

The module keeps laion_clap's ``CLAP`` parameter names, so an official checkpoint's
``module.``-stripped keys line up:

* ``audio_branch`` — laion_clap's HTS-AT (built by :func:`encoders._htsat.build_htsat`);
* ``text_branch`` — a BERT-family ``transformers`` model (:mod:`encoders._text`; the
  official RoBERTa-base cannot be downloaded here, so by default the packaged
  all-MiniLM-L6-v2), pooled with its ``pooler_output`` like CLAP's RoBERTa branch;
* ``audio_projection`` / ``text_projection`` — ``Linear(d, 512) -> ReLU -> Linear(512, 512)``;
* ``audio_transform`` / ``text_transform`` — laion_clap's ``MLPLayers`` (only used by its
  optional MLP loss; kept so that the layout is complete);
* ``logit_scale_a`` / ``logit_scale_t`` — learnable, initialised to ``log(1/0.07)``,
  clamped to ``[0, log 100]`` after each step (laion_clap's ``train.py``).

The loss is laion_clap's ``ClipLoss`` without the MLP branch
(:func:`encoders._baselines.losses.clip_loss` with ``exp(logit_scale_a)``).
:func:`load_clap_checkpoint` reads official checkpoints (``630k-audioset-best.pt``:
HTSAT-tiny; ``music_audioset_epoch_15_esc_90.14.pt``: HTSAT-base) with
``torch.load(weights_only=True)`` and reports what loaded, what is missing, unexpected or
of another shape (the RoBERTa text branch never fits a MiniLM text branch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.checkpoint import CheckpointError, LoadReport, read_state_dict
from encoders._htsat import (
    build_htsat,
    get_htsat_config,
    htsat_forward,
    import_htsat_module,
)

#: Config keys that define the CLAP network (shared by clap-pt and clap-ft).
MODEL_KEYS = ("htsat", "text_model", "text_pooling", "text_max_length", "joint_dim", "freeze_text",
              "checkpoint", "checkpoint_prefix", "pad")
#: Training hyper-parameters of the pre-training stage (clap-ft names them with ``pt_``).
PT_TRAIN_KEYS = ("epochs", "batch_size", "lr", "warmup", "weight_decay", "max_steps")


def _mlp_layers(dim: int) -> nn.Module:
    """laion_clap's ``MLPLayers([dim]*3, dropout=0.1)`` (imported from laion_clap)."""
    import_htsat_module()  # offline-safe import of the package first
    from laion_clap.clap_module.model import MLPLayers

    return MLPLayers(units=[dim, dim, dim], dropout=0.1)


class CLAP(nn.Module):
    def __init__(self, htsat: Any, text_model: Any, *, joint_dim: int = 512, seed: int = 0,
                 text_pooling: str = "pooler", text_max_length: int = 77, freeze_text: bool = False) -> None:
        """``htsat``: a config accepted by :func:`get_htsat_config`; ``text_model``: a loaded
        :class:`encoders._text.TextModel`. Weights outside the text branch are drawn from
        torch's RNG seeded with ``seed``."""
        from benchmark.core.runtime import seeded

        super().__init__()
        self.htsat_config = get_htsat_config(htsat)
        self.text_pooling = text_pooling
        self.text_max_length = int(text_max_length)
        self.freeze_text = bool(freeze_text)
        self.tokenizer = text_model.tokenizer
        self.text_name = text_model.name
        self.audio_branch = build_htsat(self.htsat_config, seed=seed)
        self.text_branch = text_model.model
        if self.freeze_text:
            for p in self.text_branch.parameters():
                p.requires_grad_(False)
        d_audio, d_text = self.htsat_config.out_dim, int(text_model.dim)
        with seeded(seed + 1):
            self.audio_projection = nn.Sequential(nn.Linear(d_audio, joint_dim), nn.ReLU(),
                                                  nn.Linear(joint_dim, joint_dim))
            self.text_projection = nn.Sequential(nn.Linear(d_text, joint_dim), nn.ReLU(),
                                                 nn.Linear(joint_dim, joint_dim))
            self.audio_transform = _mlp_layers(joint_dim)
            self.text_transform = _mlp_layers(joint_dim)
        self.logit_scale_a = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        self.logit_scale_t = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        self.joint_dim = joint_dim
        self.eval()

    # -- towers -----------------------------------------------------------------------
    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """The text branch's pooled output ``[B, d_text]`` (before the projection)."""
        dev = self.logit_scale_a.device
        batch = self.tokenizer(list(texts), padding="longest", truncation=True,
                               max_length=self.text_max_length, return_tensors="pt")
        batch = {k: v.to(dev) for k, v in batch.items()}
        ctx = torch.no_grad() if self.freeze_text else torch.enable_grad()
        with ctx:
            out = self.text_branch(**batch)
            if self.text_pooling == "pooler":
                pooled = out.pooler_output
                if pooled is None:
                    raise ValueError(f"text model {self.text_name!r} has no pooler; use text_pooling='cls' or 'mean'")
            elif self.text_pooling == "cls":
                pooled = out.last_hidden_state[:, 0]
            elif self.text_pooling == "mean":
                m = batch["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
                pooled = (out.last_hidden_state * m).sum(1) / m.sum(1).clamp_min(1e-9)
            else:
                raise ValueError(f"text_pooling must be 'pooler', 'cls' or 'mean', not {self.text_pooling!r}")
        return pooled

    def audio_features(self, wav: torch.Tensor) -> torch.Tensor:
        """HTS-AT's pooled ``embedding`` ``[B, d_audio]`` of waveforms ``[B, samples]``."""
        return htsat_forward(self.audio_branch, wav)["embedding"]

    def embed_audio(self, wav: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.audio_projection(self.audio_features(wav)), dim=-1)

    def embed_text(self, texts: Sequence[str] | None = None, *, features: torch.Tensor | None = None) -> torch.Tensor:
        if features is None:
            assert texts is not None
            features = self.text_features(texts)
        return F.normalize(self.text_projection(features), dim=-1)

    def clamp_logit_scale(self) -> None:
        with torch.no_grad():
            self.logit_scale_a.clamp_(0, math.log(100))
            self.logit_scale_t.clamp_(0, math.log(100))

    def train(self, mode: bool = True) -> CLAP:
        super().train(mode)
        if self.freeze_text:
            self.text_branch.eval()  # frozen branch: dropout off, like laion_clap's --freeze-text
        return self


# --------------------------------------------------------------------------- checkpoints
def _strip_prefix(sd: Mapping[str, torch.Tensor], model_keys: set[str], prefix: str | None) -> tuple[str, dict[str, torch.Tensor]]:
    if prefix is None:
        best, best_n = "", -1
        cands = {""} | {k.split(".", 1)[0] + "." for k in sd if "." in k}
        for pre in sorted(cands, key=lambda s: (len(s), s)):
            n = sum(1 for k in sd if k.startswith(pre) and k[len(pre):] in model_keys)
            if n > best_n:
                best, best_n = pre, n
        prefix = best
    return prefix, {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def load_clap_checkpoint(model: CLAP, path: str | Path, *, prefix: str | None = None,
                         strict: bool = False) -> LoadReport:
    """Load a laion_clap checkpoint (``{"state_dict": {"module.audio_branch....": ...}}``,
    a bare state dict or a safetensors file) into ``model``.

    Every tensor whose name and shape fit is loaded; the rest is reported
    (``missing``: model tensors the file lacks, ``unexpected``: file tensors the model
    lacks, ``mismatched``: same name, other shape; e.g. RoBERTa vs MiniLM text branch).
    Raises :class:`CheckpointError` when no audio-branch tensor loads, or with
    ``strict=True`` when anything does not fit.
    """
    import logging

    sd = read_state_dict(path)  # torch.load(weights_only=True) / safetensors; unwraps "state_dict"
    model_sd = model.state_dict()
    prefix, under = _strip_prefix(sd, set(model_sd), prefix)
    report = LoadReport(path=str(path), prefix=prefix, ignored=len(sd) - len(under))
    to_load: dict[str, torch.Tensor] = {}
    for k, v in under.items():
        if k not in model_sd:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(model_sd[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(model_sd[k].shape)))
        else:
            to_load[k] = v
    derived = (".relative_position_index", ".attn_mask", "num_batches_tracked", "position_ids")
    derived_prefix = ("audio_branch.spectrogram_extractor.", "audio_branch.logmel_extractor.")
    report.loaded = sorted(to_load)
    report.missing = sorted(k for k in model_sd if k not in under
                            and not k.endswith(derived) and not k.startswith(derived_prefix))
    report.unexpected.sort()
    if not any(k.startswith("audio_branch.") for k in to_load):
        raise CheckpointError(
            f"{path}: no audio-branch tensor of the checkpoint fits the CLAP model (prefix {prefix!r}, "
            f"HTS-AT {model.htsat_config.name!r}); checkpoint keys look like {sorted(sd)[:5]}. "
            "Is the htsat config the checkpoint's (630k-audioset-best: tiny; music_audioset_epoch_15: base)?"
        )
    if strict and (report.missing or report.unexpected or report.mismatched):
        raise CheckpointError(f"strict load failed: {report.summary()}")
    model.load_state_dict(to_load, strict=False)
    log = logging.getLogger(__name__)
    (log.warning if report.missing or report.mismatched or report.unexpected else log.info)(
        "CLAP checkpoint %s", report.summary())
    return report
