"""Training plumbing shared by the baseline encoders.

* :func:`run_training` — a small generic loop: AdamW/Adam/SGD, linear warm-up then cosine
  (laion-clap's ``cosine_lr``) or constant or multi-step decay, bf16 autocast on CUDA,
  optional gradient clipping, a hook after each optimiser step (e.g. CLAP's logit-scale
  clamp), tqdm progress, a loss history in the returned report.
* :func:`param_groups` — laion-clap's weight-decay split (no decay for 1-D parameters,
  biases, norms, gains and logit scales).
* :func:`save_state` / :func:`load_state` / :func:`is_finished` — safetensors
  checkpoints with a JSON report in the metadata; the file is written atomically, so its
  presence means a finished training run (what ``fit`` checks to skip work).
* :func:`autocast` — bf16 autocast on CUDA (``amp=True``), a no-op elsewhere.

torch is imported at module level: encoders import this module inside their methods.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmark.core.atomic import save_safetensors
from benchmark.core.training import lr_at

STATE_FILE = "model.safetensors"


# --------------------------------------------------------------------------- checkpoints
def save_state(path: Path, state: dict[str, torch.Tensor], meta: dict[str, Any] | None = None) -> Path:
    """Write ``state`` (name -> tensor) to a safetensors file atomically, with ``meta`` as
    JSON under the metadata key ``larpbench``. Shared-memory tensors are cloned."""
    return save_safetensors(path, state, {"larpbench": json.dumps(meta or {}, default=str)})


def load_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`save_state`: ``(state, meta)``."""
    from safetensors import safe_open

    state: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta_raw = (f.metadata() or {}).get("larpbench", "{}")
        for k in f.keys():
            state[k] = f.get_tensor(k)
    return state, json.loads(meta_raw)


def is_finished(workdir: Path | None, name: str = STATE_FILE) -> bool:
    return workdir is not None and (Path(workdir) / name).is_file()


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool) -> Iterator[None]:
    """bf16 autocast on CUDA when ``enabled``; otherwise nothing."""
    if enabled and device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def _no_decay(name: str, p: torch.Tensor) -> bool:
    n = name.lower()
    return (p.ndim < 2 or "bn" in n or "ln" in n or "norm" in n or "bias" in n
            or "logit_scale" in n or "gain" in n)


def param_groups(model: nn.Module, weight_decay: float,
                 only: Callable[[str, torch.Tensor], bool] | None = None) -> list[dict[str, Any]]:
    """Two optimiser groups (decay / no decay) over trainable parameters, laion-clap style."""
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad or (only is not None and not only(n, p)):
            continue
        (no_decay if _no_decay(n, p) else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": float(weight_decay)})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def make_optimizer(groups: list[dict[str, Any]], *, name: str, lr: float,
                   betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
    if name == "adam":  # weight decay as L2 in the gradient (torch.optim.Adam semantics)
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r} (adamw, adam, sgd)")


# --------------------------------------------------------------------------- the loop
def run_training(
    model: nn.Module,
    step_loss: Callable[[int], torch.Tensor],
    *,
    steps: int,
    lr: float,
    device: torch.device,
    weight_decay: float = 0.0,
    optimizer: str = "adamw",
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    warmup: int = 0,
    schedule: str = "cosine",
    milestones: Iterable[float] = (),
    gamma: float = 0.1,
    amp: bool = True,
    grad_clip: float | None = None,
    after_step: Callable[[int], None] | None = None,
    groups: list[dict[str, Any]] | None = None,
    desc: str = "train",
    progress: bool | None = None,
) -> dict[str, Any]:
    """Optimise ``step_loss(step)`` for ``steps`` steps; returns a report.

    ``step_loss`` builds its own batch (from a seeded generator) and returns the scalar
    loss; it runs under bf16 autocast on CUDA when ``amp``. The model is put in train
    mode before and in eval mode after. ``progress=None`` shows tqdm only on a terminal.
    """
    from tqdm.auto import tqdm

    if steps < 1:
        raise ValueError(f"{desc}: steps must be >= 1, got {steps}")
    model.train()
    groups = groups if groups is not None else param_groups(model, weight_decay)
    opt = make_optimizer(groups, name=optimizer, lr=lr, betas=betas, eps=eps)
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc=desc, disable=(None if progress is None else not progress),
               leave=False, mininterval=1.0)
    for step in bar:
        cur = lr_at(step, base_lr=lr, total=steps, warmup=warmup, schedule=schedule,
                    milestones=milestones, gamma=gamma)
        for g in opt.param_groups:
            g["lr"] = cur
        opt.zero_grad(set_to_none=True)
        with autocast(device, amp):
            loss = step_loss(step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: loss became {loss.item()} at step {step}")
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], grad_clip)
        opt.step()
        if after_step is not None:
            after_step(step)
        losses.append(float(loss.detach()))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{cur:.2e}")
    bar.close()
    model.eval()
    k = max(1, min(20, steps // 5))
    return {
        "steps": steps,
        "seconds": round(time.perf_counter() - t0, 3),
        "loss_first": round(sum(losses[:k]) / k, 6),
        "loss_last": round(sum(losses[-k:]) / k, 6),
        "loss_curve": [round(x, 5) for x in losses[:: max(1, steps // 50)]],
    }


def load_weights(module: nn.Module, path: str | Path, *, prefix: str | None = None,
                 strict: bool = False):
    """Load a state dict (safetensors, or ``torch.load(weights_only=True)``) into ``module``.

    :func:`benchmark.core.checkpoint.load_matching`: the key prefix is detected unless
    given; BatchNorm's ``num_batches_tracked`` counters may be absent. Returns the
    :class:`~benchmark.core.checkpoint.LoadReport` (loaded / missing / unexpected /
    shape-mismatched); raises :class:`~benchmark.core.checkpoint.CheckpointError` when
    nothing fits, or with ``strict`` when anything does not.
    """
    from benchmark.core.checkpoint import load_matching

    return load_matching(module, path, prefix=prefix, strict=strict,
                         may_be_absent=lambda k: k.endswith("num_batches_tracked"), what=type(module).__name__)
