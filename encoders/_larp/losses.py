"""LARP's contrastive losses.

* :func:`itc_loss` — BLIP's image-text contrast with a momentum queue, used for WTC and
  TTC: online features against ``[momentum batch; queue]``, learnable temperature, soft
  targets ``α·softmax(momentum similarities) + (1-α)·positives``, mean of the audio→text
  and text→audio cross-entropies. An optional boolean ``exclude`` matrix removes
  candidates from the softmax (the co-occurrence false-negative mask of Appendix A).
* :func:`inbatch_contrast` — the TPC contrast between tracks and playlist vectors, with
  in-batch negatives and hard targets (there is no playlist queue, as in the official
  code).
* :func:`cooccurrence_exclusion` — builds ``exclude`` from track indices.

Similarities are computed in float32 even under autocast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Logit given to excluded candidates: exp() underflows to exactly 0, and 0 * logit stays finite.
MASKED_LOGIT = -1e9


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                       exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over rows of ``-Σ_j targets[i, j] · log_softmax(logits)[i, j]``; excluded
    entries are removed from the softmax (their targets must be 0)."""
    import torch.nn.functional as F

    if exclude is not None:
        logits = logits.masked_fill(exclude, MASKED_LOGIT)
    return -(F.log_softmax(logits, dim=1) * targets).sum(dim=1).mean()


def soft_targets(sim_m: torch.Tensor, positives: torch.Tensor, alpha: float,
                 exclude: torch.Tensor | None = None) -> torch.Tensor:
    """``α·softmax(sim_m) + (1-α)·positives`` (the momentum distillation of BLIP/ALBEF)."""
    import torch.nn.functional as F

    if exclude is not None:
        sim_m = sim_m.masked_fill(exclude, MASKED_LOGIT)
    return alpha * F.softmax(sim_m, dim=1) + (1.0 - alpha) * positives


def itc_loss(a: torch.Tensor, t: torch.Tensor, a_m: torch.Tensor, t_m: torch.Tensor,
             a_queue: torch.Tensor, t_queue: torch.Tensor, temp: torch.Tensor | float,
             alpha: float, exclude_a2t: torch.Tensor | None = None,
             exclude_t2a: torch.Tensor | None = None) -> torch.Tensor:
    """Contrast(a, t): row ``i`` of ``a`` matches row ``i`` of ``t``.

    ``a``, ``t``: online normalised features ``[N, D]`` (with gradient); ``a_m``, ``t_m``:
    the momentum model's features of the same rows ``[N, D]``; ``a_queue``, ``t_queue``:
    ``[Q, D]``. ``exclude_a2t`` (``[N, N+Q]`` bool) removes text candidates from audio row
    ``i``'s softmax (and from its soft targets); ``exclude_t2a`` likewise for text rows.
    The positive (column ``i``) must not be excluded.

    Returns ``(CE(a→t) + CE(t→a)) / 2``.
    """
    import torch

    a, t = a.float(), t.float()
    n = a.shape[0]
    with torch.no_grad():
        t_all = torch.cat([t_m.float(), t_queue.float()], dim=0)
        a_all = torch.cat([a_m.float(), a_queue.float()], dim=0)
        sim_a2t_m = a_m.float() @ t_all.t() / temp
        sim_t2a_m = t_m.float() @ a_all.t() / temp
        positives = torch.zeros_like(sim_a2t_m)
        positives[:, :n] = torch.eye(n, device=a.device, dtype=positives.dtype)
        tgt_a2t = soft_targets(sim_a2t_m, positives, alpha, exclude_a2t)
        tgt_t2a = soft_targets(sim_t2a_m, positives, alpha, exclude_t2a)
    sim_a2t = a @ t_all.t() / temp
    sim_t2a = t @ a_all.t() / temp
    return (soft_cross_entropy(sim_a2t, tgt_a2t, exclude_a2t)
            + soft_cross_entropy(sim_t2a, tgt_t2a, exclude_t2a)) / 2


def inbatch_contrast(x: torch.Tensor, y: torch.Tensor, temp: torch.Tensor | float,
                     symmetric: bool = True) -> torch.Tensor:
    """Hard-target contrast between rows of ``x`` and ``y`` (row ``i`` matches row ``i``),
    in-batch negatives: ``(CE(x→y) + CE(y→x)) / 2``, or only ``CE(x→y)`` when not
    ``symmetric``."""
    import torch
    import torch.nn.functional as F

    x, y = x.float(), y.float()
    labels = torch.arange(x.shape[0], device=x.device)
    logits = x @ y.t() / temp
    if not symmetric:
        return F.cross_entropy(logits, labels)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def cooccurrence_exclusion(row_tracks: torch.Tensor, col_tracks: torch.Tensor,
                           positive_cols: torch.Tensor, pair_keys: torch.Tensor,
                           num_tracks: int) -> torch.Tensor:
    """``[R, C]`` bool: True where column ``c``'s track is row ``r``'s track or co-occurs
    with it in a training playlist, except the row's own positive column.

    ``pair_keys``: sorted int64 keys ``i * num_tracks + j`` of every co-occurring ordered
    pair, self pairs included (see :class:`encoders._larp.data.Cooccurrence`). Columns
    with a negative track index (queue slots never filled) are never excluded.
    """
    import torch

    keys = row_tracks.long()[:, None] * num_tracks + col_tracks.long()[None, :]
    if pair_keys.numel() == 0:
        found = torch.zeros_like(keys, dtype=torch.bool)
    else:
        pos = torch.searchsorted(pair_keys, keys.reshape(-1)).clamp_max(pair_keys.numel() - 1)
        found = (pair_keys[pos] == keys.reshape(-1)).reshape(keys.shape)
    found &= (col_tracks >= 0)[None, :]
    found[torch.arange(found.shape[0], device=found.device), positive_cols] = False
    return found
