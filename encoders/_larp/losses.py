"""LARP's contrastive losses.

* :func:`itc_loss` — BLIP's image-text contrast with a momentum queue, used for WTC and
  TTC: online features against ``[momentum batch; queue]``, learnable temperature, soft
  targets ``α·softmax(momentum similarities) + (1-α)·positives``, mean of the audio→text
  and text→audio cross-entropies. An optional boolean ``exclude`` matrix removes
  candidates from the softmax (the co-occurrence false-negative mask of Appendix A).
* :func:`tpc_paper_loss` — TPC as in the paper (Appendix A, Eq. 20-22, 25): a playlist
  vector is contrasted with ``[in-batch anchors; momentum track queue]`` and a track with
  the batch's playlist vectors (there is no playlist queue, so the track->playlist
  direction is in-batch), with **multi-positive** targets from the playlist-track graph
  ``R``: every candidate track that belongs to the playlist (and every in-batch playlist
  that contains the track) is a positive, so two anchors of the same playlist are never
  each other's negatives (:func:`tpc_targets`).
* :func:`inbatch_contrast` — the former TPC (``tpc_loss="inbatch"``): in-batch negatives
  and one-hot targets, row ``i`` against row ``i`` only.
* :func:`cooccurrence_exclusion` — builds ``exclude`` from track indices;
  :func:`key_lookup` / :func:`membership` — the sorted-key lookups behind it and behind
  the playlist-track graph.

Similarities and cross-entropies are computed in float32 even under autocast: the loss
functions run with autocast disabled (:func:`full_precision`), since bfloat16 logits
``sim / 0.07`` would keep only ~2-3 significant digits inside a softmax over the queue.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    import torch

_F = TypeVar("_F", bound=Callable[..., Any])


def full_precision(fn: _F) -> _F:
    """Run ``fn`` with autocast disabled on the device of its first tensor argument, so the
    ``.float()`` casts inside it hold (under autocast a matmul would recast them to bfloat16)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import torch

        dev = next((x.device.type for x in args if isinstance(x, torch.Tensor)), "cpu")
        if dev not in ("cpu", "cuda") or not torch.is_autocast_enabled(dev):
            return fn(*args, **kwargs)
        with torch.autocast(device_type=dev, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


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


@full_precision
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


@full_precision
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


def key_lookup(rows: torch.Tensor, cols: torch.Tensor, keys: torch.Tensor, num_cols: int) -> torch.Tensor:
    """``[R, C]`` bool: ``rows[r] * num_cols + cols[c]`` is in the sorted int64 ``keys``;
    columns with a negative index (empty queue slots) are never found."""
    import torch

    k = rows.long()[:, None] * num_cols + cols.long()[None, :]
    if keys.numel() == 0:
        found = torch.zeros_like(k, dtype=torch.bool)
    else:
        pos = torch.searchsorted(keys, k.reshape(-1)).clamp_max(keys.numel() - 1)
        found = (keys[pos] == k.reshape(-1)).reshape(k.shape)
    return found & (cols >= 0)[None, :]


def membership(playlists: torch.Tensor, tracks: torch.Tensor, member_keys: torch.Tensor,
               num_tracks: int) -> torch.Tensor:
    """``[P, C]`` bool: track ``tracks[c]`` belongs to training playlist ``playlists[p]``
    (``member_keys``: sorted keys ``playlist * num_tracks + track``; see
    :meth:`encoders._larp.data.TrainingSet.member_keys`)."""
    return key_lookup(playlists, tracks, member_keys, num_tracks)


def tpc_targets(anchor_tracks: torch.Tensor, anchor_playlists: torch.Tensor, queue_tracks: torch.Tensor,
                member_keys: torch.Tensor, num_tracks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The multi-positive targets of Eq. 25 (``R`` = the playlist-track graph), normalised.

    Returns ``(p2t [n, n+Q], t2p [n, n])``: row ``k`` of ``p2t`` spreads its mass evenly
    over the candidate tracks ``[anchors; queue]`` that belong to playlist
    ``anchor_playlists[k]``; row ``i`` of ``t2p`` over the batch's playlists that contain
    anchor ``i``. The diagonal (the pair's own anchor / playlist) is always positive.
    """
    import torch

    n = anchor_tracks.shape[0]
    cols = torch.cat([anchor_tracks.long(), queue_tracks.long()])
    p2t = membership(anchor_playlists, cols, member_keys, num_tracks)
    eye = torch.eye(n, dtype=torch.bool, device=p2t.device)
    p2t[:, :n] |= eye
    t2p = p2t[:, :n].t().clone() | eye
    return (p2t.float() / p2t.sum(1, keepdim=True).float(), t2p.float() / t2p.sum(1, keepdim=True).float())


@full_precision
def tpc_paper_loss(a_p: torch.Tensor, t_p: torch.Tensor, a_s: torch.Tensor, t_s: torch.Tensor,
                   a_queue: torch.Tensor, t_queue: torch.Tensor, anchor_tracks: torch.Tensor,
                   anchor_playlists: torch.Tensor, queue_tracks: torch.Tensor, member_keys: torch.Tensor,
                   num_tracks: int, temp: torch.Tensor | float) -> torch.Tensor:
    """``½[Contrast(a_p, t_s) + Contrast(t_p, a_s)]`` (Eq. 20-22) with multi-positive targets (Eq. 25).

    ``Contrast(a_p, t_s) = ½[CE(a_p -> [t_s; t_queue]) + CE(t_s -> a_p)]`` and likewise for
    ``(t_p, a_s)``: the playlist->track direction draws its negatives from the momentum
    track queue, the track->playlist direction from the batch's playlist vectors.
    """
    import torch

    p2t, t2p = tpc_targets(anchor_tracks, anchor_playlists, queue_tracks, member_keys, num_tracks)
    a_p, t_p, a_s, t_s = a_p.float(), t_p.float(), a_s.float(), t_s.float()
    t_cands = torch.cat([t_s, t_queue.float()], dim=0)
    a_cands = torch.cat([a_s, a_queue.float()], dim=0)
    c_at = (soft_cross_entropy(a_p @ t_cands.t() / temp, p2t) + soft_cross_entropy(t_s @ a_p.t() / temp, t2p)) / 2
    c_ta = (soft_cross_entropy(t_p @ a_cands.t() / temp, p2t) + soft_cross_entropy(a_s @ t_p.t() / temp, t2p)) / 2
    return (c_at + c_ta) / 2


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

    found = key_lookup(row_tracks, col_tracks, pair_keys, num_tracks)
    found[torch.arange(found.shape[0], device=found.device), positive_cols] = False
    return found
