"""``random``: a seeded Gaussian vector per track — the floor every encoder must beat.

Each track's vector is drawn from a generator seeded by the cell's seed and a hash of the
track id, so it does not depend on which tracks are embedded together or in what order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders.base import Encoder, EncoderMeta


class RandomEncoder(Encoder):
    meta = EncoderMeta(
        name="random",
        version="1",
        description="Seeded standard-normal vector per track (chance-level baseline)",
        dim=None,  # config.dim
        sample_rate=None,
        modalities=("none",),  # reads neither audio nor text
        trains=False,
        trains_on="nothing",
        weights="none",
        citation="-",
        tags=("baseline", "trivial"),
        weights_source="none",
        licence_code="MIT (this project)",
        licence_weights="none (no weights)",
        output_libraries=("numpy",),
    )
    default_config: ClassVar[dict[str, Any]] = {"dim": 256, "seed": 0}
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {"dim": (1, None)}
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {"ci": {}, "quick": {}, "paper": {}}

    def output_dim(self) -> int:
        return int(self.config["dim"])

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        out = np.empty((len(track_ids), self.output_dim()), dtype=np.float32)
        for i, t in enumerate(track_ids):
            h = int.from_bytes(hashlib.sha256(t.encode("utf-8")).digest()[:8], "little")
            out[i] = np.random.default_rng([int(self.config["seed"]) & 0xFFFFFFFF, h]).standard_normal(
                self.output_dim())
        return out
