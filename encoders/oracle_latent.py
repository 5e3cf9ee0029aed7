"""``oracle-latent``: the generator's own latent sound vector — the ceiling of what audio can say.

An **oracle** (tag ``"oracle"``; one of the documented exceptions to "encoders never read
the generator's hidden columns", see :mod:`encoders._oracle`). It reads
``track_latents.csv`` (``track_id,<latent columns...>``), written by the generator for
this use: the vector from which it rendered the track's sound. Each dimension is
**z-scored with the mean and standard deviation of the train split's tracks** (population
std; a dimension constant over the train split is only centred), then every vector is
**L2-normalised**. With ItemKNN this is what a perfect audio encoder (one that recovers the
generator's latents exactly) could reach. The dimension is the number of latent columns.
Without the file the encoder is unavailable; a file missing a track's row is an error.
Never in the paper's tables; the ``ceilings`` study runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.dataset import Dataset, DatasetError
from benchmark.core.evaluation import EmbeddingValidator
from encoders._oracle import LATENTS_FILE, OracleEncoder, oracle_meta, read_latents, unit_rows


@dataclass(frozen=True)
class Latents:
    columns: list[str]
    vectors: dict[str, np.ndarray]


class OracleLatentEncoder(OracleEncoder):
    meta = oracle_meta("oracle-latent", "The generator's latent sound vector (track_latents.csv), z-scored per "
                                        "dimension over the train split, L2-normalised: the ceiling of the audio "
                                        "signal (oracle)", "track_latents.csv",
                       trains=True, trains_on="per-dimension mean and std of the train split's latent vectors")

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None

    def _build(self, dataset: Dataset) -> Latents:
        columns, vectors = read_latents(dataset, self.name)
        return Latents(columns, vectors)

    def _standardise(self, dataset: Dataset) -> dict[str, Any]:
        table = self._table(dataset)
        ids = dataset.track_ids("train")
        if not ids:
            raise DatasetError(f"{dataset.root / 'tracks.csv'}: no train tracks to z-score {LATENTS_FILE} with")
        x = np.stack([table.vectors[t] for t in ids])
        self._mean = x.mean(axis=0)
        std = x.std(axis=0)
        self._std = np.where(std > 1e-12, std, 1.0)
        self._dim = len(table.columns)
        return {"train_tracks": len(ids), "latent_columns": len(table.columns)}

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        return self._standardise(dataset)

    def _vectors(self, table: Latents, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        if self._mean is None:
            self._standardise(dataset)  # deterministic: what fit() computes on this dataset
        assert self._mean is not None and self._std is not None
        if len(table.columns) != len(self._mean):
            raise DatasetError(f"{dataset.root / LATENTS_FILE}: {len(table.columns)} latent columns, but the "
                               f"statistics were fitted on {len(self._mean)}")
        x = np.stack([table.vectors[t] for t in track_ids]) if track_ids else np.zeros((0, len(self._mean)))
        return unit_rows((x - self._mean) / self._std)
