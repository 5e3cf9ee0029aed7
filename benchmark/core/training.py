"""Training mechanics shared by trained encoders and recommenders.

* :func:`lr_at` — the one learning-rate schedule: linear warm-up ``base·(s+1)/warmup``,
  then cosine to 0 at ``total`` (laion-clap's ``cosine_lr``, LARP's
  ``cosine_with_warmup``), constant, or multi-step decay. With ``base_lr=1.0`` it is the
  multiplier for ``torch.optim.lr_scheduler.LambdaLR`` (see :func:`lr_lambda`).
* :func:`train_with_selection` — an epoch loop with model selection by a validator
  (best epoch kept) and early stopping with patience.
* :func:`state_copy` — a detached CPU copy of a module's state.

torch is imported only for type checking; the functions take torch objects from the caller.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["SCHEDULES", "lr_at", "lr_lambda", "state_copy", "train_with_selection"]

SCHEDULES = ("cosine", "constant", "multistep")


# --------------------------------------------------------------------------- LR schedule
def lr_at(step: int, *, total: int, warmup: int = 0, schedule: str = "cosine", base_lr: float = 1.0,
          milestones: Iterable[float] = (), gamma: float = 0.1) -> float:
    """Learning rate at optimiser step ``step`` (0-based) of ``total``.

    Warm-up (``warmup > 0`` steps): ``base_lr·(step+1)/warmup``. Then ``cosine``:
    ``½(1 + cos(π·e/es))·base_lr`` with ``e = min(step - warmup, es)``,
    ``es = max(1, total - warmup)`` (laion-clap's ``cosine_lr``; 0 from ``total`` on);
    ``constant``: ``base_lr``; ``multistep``: ``base_lr·gamma**k`` after ``k`` milestones
    (fractions of ``total``; SiamRec's MultiStepLR).

    With the default ``base_lr=1.0`` this is a multiplier (LARP's ``LambdaLR`` schedule);
    the arithmetic is that of both former copies, so their values are reproduced bit for bit.
    """
    if warmup > 0 and step < warmup:
        return base_lr * (step + 1) / warmup
    if schedule == "cosine":
        e, es = step - warmup, max(1, int(total) - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(e, es) / es)) * base_lr
    if schedule == "constant":
        return base_lr
    if schedule == "multistep":
        k = sum(1 for m in milestones if step >= int(m * total))
        return base_lr * gamma**k
    raise ValueError(f"unknown lr schedule {schedule!r} ({', '.join(SCHEDULES)})")


def lr_lambda(warmup: int, total: int, schedule: str = "cosine", **kw: Any) -> Callable[[int], float]:
    """:func:`lr_at` as a multiplier ``step -> factor`` for ``torch.optim.lr_scheduler.LambdaLR``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown lr schedule {schedule!r} ({', '.join(SCHEDULES)})")
    warmup, total = max(0, int(warmup)), max(1, int(total))

    def factor(step: int) -> float:  # a plain function: LambdaLR leaves it out of state_dict()
        return lr_at(step, total=total, warmup=warmup, schedule=schedule, **kw)

    return factor


# --------------------------------------------------------------------------- epoch loop

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

