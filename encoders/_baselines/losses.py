"""Contrastive and non-contrastive losses of the baselines, in torch.

All functions take ``[N, D]`` batches. Each one is checked against a plain numpy
computation in ``tests/test_baselines.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

_LARGE = 1e9  # logit subtracted from self-similarities (SimCLR's LARGE_NUM trick)


def clip_loss(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """CLIP / laion-clap ``ClipLoss`` (one GPU, no MLP branch).

    ``audio`` and ``text`` are L2-normalised ``[N, D]``; row ``i`` of each is a pair.
    ``logit_scale`` is the *exponentiated* scale (``exp(logit_scale_a)`` in CLAP).
    Loss = ½ [CE(s·A·Tᵀ, I) + CE(s·T·Aᵀ, I)], each cross-entropy averaged over rows.
    """
    import torch
    import torch.nn.functional as F

    logits_a = logit_scale * audio @ text.t()
    labels = torch.arange(audio.shape[0], device=audio.device)
    return 0.5 * (F.cross_entropy(logits_a, labels) + F.cross_entropy(logits_a.t(), labels))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1, *,
            normalize: bool = True) -> torch.Tensor:
    """SimCLR's NT-Xent as MULE implements it (``SimClrLoss``).

    The 2N views are compared with each other (cosine / τ); a view's own similarity is
    removed; the positive of view ``i`` of ``z1`` is view ``i`` of ``z2`` and vice versa.
    Loss = mean_i CE_a(i) + mean_i CE_b(i) (the *sum* of both directions' means, as in
    SimCLR's and MULE's code; half of it is the "mean over 2N" convention).
    """
    import torch
    import torch.nn.functional as F

    if normalize:
        z1 = F.normalize(z1, dim=-1)
        z2 = F.normalize(z2, dim=-1)
    n = z1.shape[0]
    z = torch.cat([z1, z2], dim=0)
    sims = z @ z.t() / temperature
    sims = sims - torch.eye(2 * n, device=z.device, dtype=sims.dtype) * _LARGE
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    per_view = F.cross_entropy(sims, targets, reduction="none")
    return per_view[:n].mean() + per_view[n:].mean()


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """SimSiam's symmetric negative cosine with stop-gradient (Chen & He 2021, Alg. 1).

    L = ½ D(p1, sg(z2)) + ½ D(p2, sg(z1)),  D(p, z) = −mean_i cos(p_i, z_i).
    Minimum −1.
    """
    import torch.nn.functional as F

    d1 = -F.cosine_similarity(p1, z2.detach(), dim=-1).mean()
    d2 = -F.cosine_similarity(p2, z1.detach(), dim=-1).mean()
    return 0.5 * (d1 + d2)


def info_nce(q: torch.Tensor, k: torch.Tensor, temperature: float = 0.1, *,
             symmetric: bool = True) -> torch.Tensor:
    """InfoNCE between paired batches with in-batch negatives (cosine / τ).

    One direction: mean_i CE(q_i·Kᵀ/τ, i); ``symmetric`` averages q→k and k→q.
    """
    import torch
    import torch.nn.functional as F

    q = F.normalize(q, dim=-1)
    k = F.normalize(k, dim=-1)
    logits = q @ k.t() / temperature
    labels = torch.arange(q.shape[0], device=q.device)
    loss = F.cross_entropy(logits, labels)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.t(), labels))
    return loss
