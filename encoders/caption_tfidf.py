"""``caption-tfidf``: the trivial caption baseline — TF-IDF of the caption's words.

No neural network: a ``TfidfVectorizer`` (scikit-learn) fitted on the **train split's**
captions (``The track <title> by <artist> on album <album>``), rows L2-normalised. With
ItemKNN this is token matching between a playlist's seed captions and the candidates'
captions. A benchmark that omits the trivial baseline that may beat the models is not a
benchmark (issue #12): where it wins, what the models learned is mostly the caption's
vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from encoders.base import Encoder, EncoderMeta


class CaptionTfidfEncoder(Encoder):
    meta = EncoderMeta(
        name="caption-tfidf",
        version="1",
        description="TF-IDF of the caption's words, fitted on the train split's captions (training-free baseline)",
        dim=None,  # the vocabulary size of the fitted vectorizer
        sample_rate=None,
        modalities=("text",),
        trains=True,  # fits the vocabulary and IDF weights; no gradient training
        trains_on="train split captions (vocabulary and IDF only)",
        weights="none (counts)",
        citation="Salton & Buckley, Term-weighting approaches in automatic text retrieval, 1988; "
                 "scikit-learn TfidfVectorizer",
        requires=("sklearn",),
        tags=("baseline", "trivial", "text-only"),
        weights_source="none: fitted on the dataset's train captions",
        licence_code="MIT (this project); scikit-learn BSD-3-Clause",
        licence_weights="none (no weights)",
        output_libraries=("scikit-learn",),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "sublinear_tf": True,
        "min_df": 1,
        "ngram_max": 1,
        "lowercase": True,
    }
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {"min_df": (1, None),
                                                                               "ngram_max": (1, 3)}
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {"ci": {}, "quick": {}, "paper": {}}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._vectorizer: Any = None

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        captions = [dataset.caption(t) for t in dataset.track_ids("train")]
        if not captions:
            raise ValueError(f"{dataset.root}: no training tracks to fit the caption vocabulary on")
        c = self.config
        self._vectorizer = TfidfVectorizer(lowercase=bool(c["lowercase"]), sublinear_tf=bool(c["sublinear_tf"]),
                                           min_df=int(c["min_df"]), ngram_range=(1, int(c["ngram_max"])),
                                           norm="l2", dtype=np.float32)
        self._vectorizer.fit(captions)
        return {"vocabulary": len(self._vectorizer.vocabulary_), "train_captions": len(captions)}

    def output_dim(self) -> int:
        if self._vectorizer is None:
            raise RuntimeError("caption-tfidf: fit() first (the dimension is the fitted vocabulary size)")
        return len(self._vectorizer.vocabulary_)

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        if self._vectorizer is None:
            raise RuntimeError("caption-tfidf: fit() must run before embed()")
        if not len(track_ids):
            return np.zeros((0, self.output_dim()), dtype=np.float32)
        matrix = self._vectorizer.transform([dataset.caption(t) for t in track_ids])
        return np.asarray(matrix.toarray(), dtype=np.float32)
