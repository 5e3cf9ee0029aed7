"""Private helpers shared by the trained recommenders (DropoutNet, CLCRec).

Nothing here is a registry entry (the module name starts with ``_``, so the registry
skips it). It holds:

- device choice (CUDA when present, else CPU) and seeded, deterministic execution;
- pooling of seed-track rows into one playlist row (sum or mean), in numpy;
- negative sampling that avoids a playlist's own tracks;
- a content fingerprint used to cache encoded candidates between ``score`` calls;
- :func:`train_with_selection`: the epoch loop with model selection by a validator
  (best epoch kept) and early stopping with patience.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

# --------------------------------------------------------------------------------------
# device and seeding


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"``: the first CUDA device when one is present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run a block with torch's global RNG forked and seeded with ``seed``; the caller's RNG
    state is restored afterwards.

    All other random draws of the recommenders come from ``np.random.default_rng(seed)``,
    so they are the same on CPU and GPU. On CUDA, deterministic algorithms are switched on
    (warn-only) for the block (embedding-gradient scatter uses atomics otherwise). On the
    CPU they are not: the kernels used here are deterministic there already (the tests
    check bit-identical scores for a seed), and ``torch.use_deterministic_algorithms``
    costs a ~4 s one-time import of ``torch._dynamo``.
    """
    cuda = device.type == "cuda"
    cuda_devices = [device.index or 0] if cuda else []
    if cuda:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        prev_det = torch.are_deterministic_algorithms_enabled()
        prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        if cuda:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            if cuda:
                torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)`` (``None``: leave the setting alone);
    the previous setting is restored afterwards. Small-batch training gains little from
    intra-op threads, and loses a lot when the cores are shared with other processes."""
    if not n:
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(prev)


# --------------------------------------------------------------------------------------
# pooling, sampling, fingerprints


def pool_rows(matrix: np.ndarray, groups: Sequence[np.ndarray], how: str = "mean") -> np.ndarray:
    """Row ``q`` = sum (``how="sum"``) or mean (``"mean"``) of ``matrix[groups[q]]``.

    An empty group gives a zero row. float32 in, float32 out; the sum runs in float32 in a
    fixed order (``np.add.reduceat``), so it is deterministic.
    """
    if how not in ("sum", "mean"):
        raise ValueError(f"pooling must be 'sum' or 'mean', not {how!r}")
    n, d = len(groups), matrix.shape[1]
    out = np.zeros((n, d), dtype=np.float32)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    nonempty = np.flatnonzero(sizes > 0)
    if nonempty.size == 0:
        return out
    idx = np.concatenate([np.asarray(groups[q], dtype=np.int64) for q in nonempty])
    starts = np.concatenate([[0], np.cumsum(sizes[nonempty])[:-1]])
    rows = np.asarray(matrix[idx], dtype=np.float32)
    out[nonempty] = np.add.reduceat(rows, starts, axis=0)
    if how == "mean":
        out[nonempty] /= sizes[nonempty, None].astype(np.float32)
    return out


def interaction_pairs(playlists: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Unique (playlist, item) pairs of the training playlists, as two int64 arrays."""
    if not playlists:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(playlists)])
    cols = np.concatenate([np.asarray(p, dtype=np.int64) for p in playlists])
    n_items = int(cols.max()) + 1 if cols.size else 1
    codes = np.unique(rows * n_items + cols)
    return codes // n_items, codes % n_items


class NegativeSampler:
    """Uniform random items that are not in the given playlist (rejection sampling)."""

    def __init__(self, playlists: np.ndarray, items: np.ndarray, n_items: int) -> None:
        self.n_items = int(n_items)
        self.codes = np.unique(playlists.astype(np.int64) * self.n_items + items.astype(np.int64))

    def is_positive(self, playlists: np.ndarray, items: np.ndarray) -> np.ndarray:
        codes = playlists.astype(np.int64) * self.n_items + items.astype(np.int64)
        pos = np.searchsorted(self.codes, codes)
        pos = np.minimum(pos, len(self.codes) - 1)
        return self.codes[pos] == codes if len(self.codes) else np.zeros(codes.shape, bool)

    def sample(self, rng: np.random.Generator, playlists: np.ndarray, k: int,
               max_rounds: int = 50) -> np.ndarray:
        """``[len(playlists), k]`` items, each not in its playlist (while that is possible)."""
        owners = np.repeat(np.asarray(playlists, dtype=np.int64)[:, None], k, axis=1)
        out = rng.integers(0, self.n_items, size=owners.shape, dtype=np.int64)
        for _ in range(max_rounds):
            bad = self.is_positive(owners, out)
            if not bad.any():
                break
            out[bad] = rng.integers(0, self.n_items, size=int(bad.sum()), dtype=np.int64)
        return out


def fingerprint(array: np.ndarray) -> str:
    """A content hash of an array (shape, dtype and bytes)."""
    a = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((a.shape, a.dtype.str)).encode())
    h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


# --------------------------------------------------------------------------------------
# the epoch loop with validation-based selection


def state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``module``'s parameters and buffers."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def train_with_selection(
    *,
    recommender: Any,
    module: torch.nn.Module,
    run_epoch: Callable[[int], float],
    prepare_eval: Callable[[], None],
    validator: Callable[[Any], float] | None,
    epochs: int,
    patience: int | None,
    min_delta: float = 0.0,
) -> dict[str, Any]:
    """Train for up to ``epochs`` epochs, validating after each one.

    After every epoch ``prepare_eval()`` puts the recommender in scoring state and
    ``validator(recommender)`` (if given) scores it. The state of the best epoch (first
    epoch whose score beats every earlier one by more than ``min_delta``) is kept and
    restored at the end; training stops after ``patience`` epochs without improvement
    (``None`` or 0: never). Without a validator the last epoch is kept.
    """
    t_start = time.perf_counter()
    history: list[dict[str, Any]] = []
    best_score = -math.inf
    best_epoch: int | None = None
    best_state: dict[str, torch.Tensor] | None = None
    since_best = 0
    stopped_early = False
    validation_time = 0.0
    for epoch in range(1, int(epochs) + 1):
        t0 = time.perf_counter()
        module.train()
        loss = float(run_epoch(epoch))
        train_s = time.perf_counter() - t0
        module.eval()
        prepare_eval()
        entry: dict[str, Any] = {"epoch": epoch, "loss": loss, "train_time_s": train_s}
        if not math.isfinite(loss):
            entry["valid"] = None
            history.append(entry)
            stopped_early = True
            break
        if validator is not None:
            t1 = time.perf_counter()
            score = float(validator(recommender))
            validation_time += time.perf_counter() - t1
            entry["valid"] = score
            if math.isfinite(score) and (best_epoch is None or score > best_score + min_delta):
                best_score, best_epoch, since_best = score, epoch, 0
                best_state = state_copy(module)
            else:
                since_best += 1
        else:
            entry["valid"] = None
            best_epoch = epoch
        history.append(entry)
        if validator is not None and patience and since_best >= patience:
            stopped_early = True
            break
    if validator is not None and best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    prepare_eval()
    return {
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "best_valid": best_score if validator is not None and best_epoch is not None else None,
        "valid_scores": [h["valid"] for h in history],
        "train_losses": [h["loss"] for h in history],
        "history": history,
        "stopped_early": stopped_early,
        "validation_time_s": validation_time,
        "selection": "validator" if validator is not None else "last_epoch",
        "validator_split": getattr(validator, "split", None),
        "fit_time_s": time.perf_counter() - t_start,
    }

