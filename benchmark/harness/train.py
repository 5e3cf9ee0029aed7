"""Training entry point: train one encoder on one dataset, alone or under torchrun.

``larpbench train ENCODER --dataset NAME --nproc N`` trains ``ENCODER`` with the profile's
configuration into the grid's cache (so a later ``larpbench grid`` reuses the weights).
With ``--nproc N > 1`` it relaunches itself under ``torch.distributed.run`` (DDP; gloo on
CPU, NCCL on GPU); encoders that train with DDP (LARP) read the usual ``RANK`` /
``WORLD_SIZE`` variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from benchmark.core.profiles import get_profile
from benchmark.data import catalog
from benchmark.harness.embeddings import EmbeddingStore
from benchmark.harness.grid import make_encoder
from benchmark.harness.validators import encoder_validator


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def without_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``: torchrun's own argument parser would
    take ``--nproc`` for an abbreviation of its ``--nproc-per-node`` and stop with an error
    (and the processes it starts are already under torchrun)."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """The command that reruns ``larpbench`` with ``argv`` (less ``--nproc``) under torchrun
    with ``nproc`` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={int(nproc)}",
            "-m", "benchmark.cli", *without_nproc(argv)]


def relaunch(nproc: int, argv: Sequence[str]) -> int:
    return subprocess.run(torchrun_command(nproc, argv), check=False).returncode


def train_encoder(name: str, dataset: str, *, profile: str = "quick", seed: int = 0,
                  overrides: dict[str, Any] | None = None, selection_split: str = "valid",
                  progress: bool = True) -> dict[str, Any]:
    """Train encoder ``name`` on ``dataset`` (a catalog name or a dataset folder) with the
    profile's configuration; returns the encoder's fit report. Its weights land in the
    grid's cache entry for this encoder, dataset and seed."""
    rank0 = int(os.environ.get("RANK", "0")) == 0
    ds = catalog.resolve(dataset, get_profile(profile).dataset_size, progress=progress and rank0)
    encoder = make_encoder(name, profile, seed, overrides, selection_split)
    assert encoder.meta is not None
    if not encoder.meta.trains:
        raise ValueError(f"encoder {name!r} does not train (meta.trains is false): nothing to do")
    encoder.check_available()
    encoder.check_dataset(ds)
    store = EmbeddingStore(encoder, ds, seed, progress=progress and rank0)
    store.workdir.mkdir(parents=True, exist_ok=True)
    split = str(encoder.config.get("selection_split", selection_split))
    return encoder.fit(ds, seed=seed, workdir=store.workdir, validator=encoder_validator(ds, split)) or {}
