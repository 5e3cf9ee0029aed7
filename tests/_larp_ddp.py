"""The 2-process LARP step of ``tests/test_larp_ddp.py``: a tiny model, one global stage-3
batch, how it is split between ranks, and the worker that ``torch.distributed.run`` starts
(``python -m torch.distributed.run --standalone --nproc_per_node=2 tests/_larp_ddp.py OUT``).

Every rank builds the same seeded model, takes its share of the global batch's pairs (as
the trainer's ``DistributedSampler`` + ``Collate`` would: ``[anchors; partners]`` of its
pairs), runs :func:`encoders._larp.train.train_step` under the trainer's DDP wrapper and
saves its gradients, updated parameters and buffers to ``OUT/rank<r>.pt``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

WORLD = 2
NUM_TRACKS = 12
PLAYLISTS = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
# (anchor, partner, playlist, context tracks): pair 4's context (tracks 0, 1) lies in rank 0's share
PAIRS = [(0, 1, 0, [1, 2]), (3, 5, 1, [5, 4]), (6, 7, 2, [7, 8]),
         (9, 11, 3, [11, 10]), (2, 0, 0, [0, 1]), (4, 3, 1, [3, 5])]
ALPHA = 0.4
LR = 1e-3


def config() -> dict[str, Any]:
    from encoders._larp import configs as C

    return C.resolve("cpu-tiny", {"queue_size": 16, "text_num_layers": 1, "n_seed": 2, "spec_augment": False,
                                  "audio_init": "random", "device": "cpu", "num_threads": 1})


def build_model(cfg: dict[str, Any] | None = None) -> Any:
    """The seeded model in eval mode (batch norm on running statistics, no dropout or drop
    path), with the co-occurrence and playlist-track graphs of :data:`PLAYLISTS`."""
    import numpy as np

    from encoders._larp.data import Cooccurrence, TrainingSet
    from encoders._larp.model import LarpModel

    model = LarpModel(cfg or config(), NUM_TRACKS, seed=0)
    model.set_cooccurrence(Cooccurrence.from_playlists([np.array(p) for p in PLAYLISTS], NUM_TRACKS).to_tensor())
    ts = TrainingSet.from_playlists([f"t{i}" for i in range(NUM_TRACKS)], PLAYLISTS)
    model.set_membership(torch.from_numpy(ts.member_keys()))
    return model.eval()


def track_inputs(model: Any) -> dict[str, torch.Tensor]:
    """Fixed random mel and token ids per track (seeded)."""
    g = torch.Generator().manual_seed(1)
    hc = model.htsat_config
    ids = torch.randint(1000, 2000, (NUM_TRACKS, 6), generator=g)
    ids[:, 0] = 101
    return {"mel": torch.randn(NUM_TRACKS, hc.frames, hc.mel_bins, generator=g), "input_ids": ids,
            "attention_mask": torch.ones(NUM_TRACKS, 6, dtype=torch.long)}


def batch_of(model: Any, pairs: list[tuple[int, int, int, list[int]]]) -> dict[str, torch.Tensor]:
    """The stage-3 batch of ``pairs``: rows ``[anchors; partners]``, their contexts and playlists."""
    x = track_inputs(model)
    rows = torch.tensor([p[0] for p in pairs] + [p[1] for p in pairs])
    return {"mel": x["mel"][rows], "input_ids": x["input_ids"][rows], "attention_mask": x["attention_mask"][rows],
            "track_idx": rows, "ctx_idx": torch.tensor([p[3] for p in pairs]),
            "ctx_pad": torch.zeros(len(pairs), len(pairs[0][3]), dtype=torch.bool),
            "playlist_idx": torch.tensor([p[2] for p in pairs])}


def rank_pairs(rank: int, world: int = WORLD) -> list[tuple[int, int, int, list[int]]]:
    """Rank ``rank``'s contiguous share of :data:`PAIRS` (the global batch)."""
    k = len(PAIRS) // world
    return PAIRS[rank * k:(rank + 1) * k]


def snapshot(model: Any) -> dict[str, Any]:
    return {"grads": {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None},
            "params": {k: p.detach().clone() for k, p in model.named_parameters()},
            "buffers": {k: b.detach().clone() for k, b in model.named_buffers()}}


def main(out: str) -> None:
    from encoders._larp.train import init_distributed, train_step, wrap_ddp

    torch.set_num_threads(1)
    dist = init_distributed("cpu")
    assert dist.world == WORLD, f"run with --nproc_per_node={WORLD}, got WORLD_SIZE={dist.world}"
    model = build_model()
    opt = torch.optim.Adam(model.trainable_parameters(3), lr=LR, betas=(0.9, 0.99))
    out_terms = train_step(wrap_ddp(model, "cpu"), model, opt, None, batch_of(model, rank_pairs(dist.rank)), 3, ALPHA)
    res = snapshot(model)
    res["loss"] = {k: float(v.detach()) for k, v in out_terms.items()}
    torch.save(res, Path(out) / f"rank{dist.rank}.pt")
    import torch.distributed as tdist

    tdist.barrier()
    tdist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
