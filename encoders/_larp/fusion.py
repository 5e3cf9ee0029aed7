"""TPC playlist vectors: one-layer self-attention fusion (paper Eq. 24) or mean pooling.

Input: the lookup-table features of up to ``n_seed`` tracks of each playlist,
``feats [B, L, D]``, and ``pad [B, L]`` (True = padding slot). Output ``[B, D]``.

* :class:`SelfAttentionFusion` — bias-free ``W_q, W_k, W_v`` (``D×D``, Xavier-normal
  initialised as in the official code), ``A = softmax(Q Kᵀ / √D)`` with padded keys
  masked, ``H = A V``, playlist vector = mean of ``H`` over the non-padded positions.
  (The official code also sums the rows of padded *queries* before dividing by the
  length; here padded positions contribute nothing.)
* :class:`MeanPooling` — mean of the non-padded features (the LARP-TPC ablation).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _module_classes() -> tuple[type, type]:
    from torch import nn

    class MeanPooling(nn.Module):
        """Masked mean over the sequence; no parameters."""

        def forward(self, feats: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
            keep = (~pad).unsqueeze(-1).to(feats.dtype)
            return (feats * keep).sum(1) / keep.sum(1).clamp_min(1.0)

    class SelfAttentionFusion(nn.Module):
        """One bias-free self-attention layer, then the masked mean of its outputs."""

        def __init__(self, dim: int) -> None:
            super().__init__()
            self.dim = int(dim)
            self.w_q = nn.Linear(dim, dim, bias=False)
            self.w_k = nn.Linear(dim, dim, bias=False)
            self.w_v = nn.Linear(dim, dim, bias=False)
            for lin in (self.w_q, self.w_k, self.w_v):
                nn.init.xavier_normal_(lin.weight)

        def attention(self, feats: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
            """``[B, L, L]`` attention weights; rows sum to 1 over non-padded keys."""
            q = self.w_q(feats)
            k = self.w_k(feats)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.dim)
            scores = scores.masked_fill(pad.unsqueeze(1), float("-inf"))
            # a row whose keys are all padding (an empty playlist) would be NaN: give it zeros
            all_pad = pad.all(dim=1)
            if bool(all_pad.any()):
                scores = scores.masked_fill(all_pad[:, None, None], 0.0)
            return scores.softmax(dim=-1)

        def forward(self, feats: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
            attn = self.attention(feats, pad)
            h = attn @ self.w_v(feats)
            keep = (~pad).unsqueeze(-1).to(h.dtype)
            return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)

    return MeanPooling, SelfAttentionFusion


_CLASSES: tuple[type, type] | None = None


def _classes() -> tuple[type, type]:
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _module_classes()
    return _CLASSES


def MeanPooling() -> Any:
    return _classes()[0]()


def SelfAttentionFusion(dim: int) -> Any:
    return _classes()[1](dim)


def build_fusion(fusion: bool, dim: int) -> Any:
    """Self-attention fusion when ``fusion`` else mean pooling."""
    return SelfAttentionFusion(dim) if fusion else MeanPooling()
