"""CLCRec (Wei et al., ACM MM 2021) for cold-start playlist continuation, as used by LARP
(KDD 2024, Appendix B). Training playlists are the "users".

Model
-----
- Content encoder ``g(x) = W₂ · LeakyReLU(W₁ · x/‖x‖ + b₁) + b₂`` (content → 256 → 64).
- ID embeddings ``e_p`` (training playlists) and ``e_i`` (training tracks), 64-d,
  Xavier-normal initialised.

For a batch of observed pairs (p, i) with candidate lists ``C = [i, n_1 … n_K]``:

- ``InfoNCE(a, C) = −log( exp(a·c_0/τ) / Σ_{c∈C} exp(a·c/τ) )`` averaged over the batch;
- ``L_RE = InfoNCE(e_i/‖e_i‖, {g(x_c)/‖g(x_c)‖})`` — item ID against content;
- ``L_UI = InfoNCE(e_p, {h_c})`` with ``h_c = g(x_c)`` for a fraction ρ of the rows of the
  batch's candidate matrix and ``h_c = e_c`` for the others (hybrid contrastive training);
- ``L = λ·L_RE + (1−λ)·L_UI + reg·(mean‖e_p‖ + mean‖e_c‖)/2`` (the reference's explicit
  L2 term on the embeddings of the batch; Adam without weight decay).

Negatives: ``negatives="sampled"`` draws ``num_neg`` tracks per observed pair, uniformly
among the tracks not in the playlist (CLCRec reference, ``Dataset.py``);
``negatives="in_batch"`` uses the other pairs of the batch (the LARP release: cross-entropy
over ``a @ bᵀ``). ρ-replacement: ``rho_sampling="exact"`` replaces exactly
``round(ρ·N)`` distinct rows; ``"with_replacement"`` draws ``int(ρ·N)`` row indices with
replacement like both reference codes (so only ≈ ``1−e^{−ρ}`` ≈ 39 % distinct rows for
ρ = 0.5).

Defaults: λ 0.5, τ 2.0, ρ 0.5, reg 0.1, Adam lr 1e-3, 128 negatives, batch 256 — the
CLCRec reference's MovieLens command and LARP Appendix B. The LARP release's per-encoder
overrides are in :data:`OFFICIAL_OVERRIDES` (``official_overrides=<name>``).

Cold scoring: a track is ``g(content)``; a playlist is the mean of its seed tracks'
``g(content)``; the score is the inner product.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from benchmark.core.runtime import pick_device, seeded, torch_threads
from benchmark.core.training import train_with_selection
from recommenders._torch import (
    NegativeSampler,
    batches,
    fingerprint,
    interaction_pairs,
    pool_rows,
)
from recommenders.base import Recommender, RecommenderMeta, TrainData, Validator

#: Per-encoder settings of the LARP release (``eval_CLCRec`` / ``CLCRec.__init__``).
OFFICIAL_OVERRIDES: dict[str, dict[str, Any]] = {
    "CLAP-PT": {"lr": 0.01, "tau": 0.2, "reg_weight": 0.1},
    "LARP-LFM": {"lr": 0.0002, "tau": 3.0, "reg_weight": 0.02},  # LARP_fusion on LFM
    "LARP-CIC-LFM": {"lr": 0.0001},                              # BLAP_CIC on LFM
}

#: The LARP release's CLCRec as a whole (in-batch negatives, batch 2048, 20 epochs).
OFFICIAL_CODE_CONFIG: dict[str, Any] = {
    "negatives": "in_batch",
    "rho_sampling": "with_replacement",
    "batch_size": 2048,
    "epochs": 20,
    "patience": 0,
}


# --------------------------------------------------------------------------------------
# losses


def info_nce(anchor: torch.Tensor, candidates: torch.Tensor, tau: float) -> torch.Tensor:
    """``mean_b −log softmax(anchor_b · candidates_b,k / τ)_0``: the positive is candidate 0.

    ``anchor [B, d]``, ``candidates [B, 1+K, d]``.
    """
    logits = torch.einsum("bd,bkd->bk", anchor, candidates) / tau
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def info_nce_in_batch(anchor: torch.Tensor, positives: torch.Tensor, tau: float) -> torch.Tensor:
    """In-batch InfoNCE: row b's positive is ``positives[b]``, the other rows are negatives."""
    logits = anchor @ positives.T / tau
    return F.cross_entropy(logits, torch.arange(anchor.shape[0], device=anchor.device))


def replacement_rows(n: int, rho: float, rng: np.random.Generator, mode: str = "exact") -> np.ndarray:
    """Row indices whose ID embedding is replaced by the encoded content."""
    if mode == "exact":
        return np.sort(rng.permutation(n)[: round(rho * n)])
    if mode == "with_replacement":
        return rng.integers(0, n, size=int(n * rho))
    raise ValueError(f"rho_sampling must be 'exact' or 'with_replacement', not {mode!r}")


def replace_rows(ids: torch.Tensor, content: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    """``ids`` with ``rows`` taken from ``content`` (differentiable w.r.t. both)."""
    mask = torch.zeros(ids.shape[0], 1, dtype=torch.bool, device=ids.device)
    mask[torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(ids.device)] = True
    return torch.where(mask, content, ids)


# --------------------------------------------------------------------------------------
# model


class CLCRecModel(nn.Module):
    def __init__(self, n_playlists: int, n_items: int, content_dim: int, dim: int = 64,
                 hidden: int = 256) -> None:
        super().__init__()
        self.user_emb = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_playlists, dim)))
        self.item_emb = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_items, dim)))
        self.enc1 = nn.Linear(content_dim, hidden)
        self.enc2 = nn.Linear(hidden, dim)

    def encode(self, content: torch.Tensor) -> torch.Tensor:
        """``g(x)``; ``content`` is L2-normalised here."""
        return self.enc2(F.leaky_relu(self.enc1(F.normalize(content, dim=-1))))


# --------------------------------------------------------------------------------------
# the recommender


class CLCRec(Recommender):
    meta = RecommenderMeta(
        name="clcrec",
        version="1.0",
        description="CLCRec: contrastive ID/content alignment (λ·InfoNCE(item ID, content) + "
                    "(1−λ)·InfoNCE(playlist, hybrid item)); cold tracks = encoder(content).",
        trains=True,
        citation="Wei, Wang, Li, Nie, Li, Li & Chua, Contrastive Learning for Cold-Start "
                 "Recommendation, ACM MM 2021; LARP (KDD 2024) Appendix B",
        paper_row="CLCRec",
        tags=("content", "collaborative", "torch"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "dim": 64,
        "hidden": 256,
        "lam": 0.5,
        "tau": 2.0,
        "rho": 0.5,
        "rho_sampling": "exact",       # "exact" | "with_replacement" (both reference codes)
        "reg_weight": 0.1,
        "lr": 0.001,
        "negatives": "sampled",        # "sampled" (CLCRec reference) | "in_batch" (LARP release)
        "num_neg": 128,
        "batch_size": 256,
        "epochs": 20,
        "patience": 5,
        "min_delta": 0.0,
        "official_overrides": None,    # a key of OFFICIAL_OVERRIDES
        "device": "auto",
        "torch_threads": None,          # torch intra-op threads during fit (None: as set)
    }
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "dim": (1, None), "hidden": (1, None), "lam": (0, 1), "tau": (0, None), "rho": (0, 1),
        "reg_weight": (0, None), "lr": (0, None), "num_neg": (1, None), "batch_size": (1, None),
        "epochs": (1, None), "patience": (0, None), "min_delta": (0, None), "torch_threads": (1, None),
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"epochs": 3, "patience": 2, "num_neg": 32, "batch_size": 128, "torch_threads": 1},
        "quick": {"epochs": 20, "patience": 5, "num_neg": 32, "torch_threads": 1},
        "paper": {},
        "official": dict(OFFICIAL_CODE_CONFIG),
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        name = self.config["official_overrides"]
        if name is not None:
            if name not in OFFICIAL_OVERRIDES:
                raise ValueError(f"clcrec: unknown official_overrides {name!r}; "
                                 f"known: {sorted(OFFICIAL_OVERRIDES)}")
            for k, v in OFFICIAL_OVERRIDES[name].items():
                if k not in (config or {}):
                    self.config[k] = v
        if self.config["negatives"] not in ("sampled", "in_batch"):
            raise ValueError(f"clcrec: negatives must be 'sampled' or 'in_batch', "
                             f"not {self.config['negatives']!r}")
        if self.config["rho_sampling"] not in ("exact", "with_replacement"):
            raise ValueError(f"clcrec: rho_sampling must be 'exact' or 'with_replacement', "
                             f"not {self.config['rho_sampling']!r}")
        self.model: CLCRecModel | None = None
        self._cache: tuple[str, np.ndarray, torch.Tensor] | None = None

    # -- loss -----------------------------------------------------------------------------
    def batch_loss(self, model: CLCRecModel, content: torch.Tensor, p: np.ndarray,
                   pos: np.ndarray, rng: np.random.Generator,
                   sampler: NegativeSampler | None) -> torch.Tensor:
        """The CLCRec loss of one batch of observed pairs ``(p, pos)``."""
        cfg = self.config
        dev = content.device
        tau, lam = float(cfg["tau"]), float(cfg["lam"])
        # F.embedding rather than indexing: its CPU backward is deterministic
        users = F.embedding(torch.from_numpy(p).to(dev), model.user_emb)
        if cfg["negatives"] == "sampled":
            assert sampler is not None
            items = np.concatenate([pos[:, None], sampler.sample(rng, p, int(cfg["num_neg"]))], axis=1)
            uniq, inverse = np.unique(items, return_inverse=True)
            feat_u = model.encode(content[torch.from_numpy(uniq).to(dev)])
            feat = F.embedding(torch.from_numpy(inverse.reshape(items.shape)).to(dev), feat_u)
            ids = F.embedding(torch.from_numpy(items).to(dev), model.item_emb)  # [B, 1+K, d]
            loss_re = info_nce(F.normalize(ids[:, 0], dim=-1), F.normalize(feat, dim=-1), tau)
            flat_ids, flat_feat = ids.reshape(-1, ids.shape[-1]), feat.reshape(-1, feat.shape[-1])
            rows = replacement_rows(flat_ids.shape[0], cfg["rho"], rng, cfg["rho_sampling"])
            hybrid = replace_rows(flat_ids, flat_feat, rows).reshape(ids.shape)
            loss_ui = info_nce(users, hybrid, tau)
        else:
            pos_t = torch.from_numpy(pos).to(dev)
            feat = model.encode(content[pos_t])
            ids = F.embedding(pos_t, model.item_emb)
            loss_re = info_nce_in_batch(F.normalize(ids, dim=-1), F.normalize(feat, dim=-1), tau)
            rows = replacement_rows(ids.shape[0], cfg["rho"], rng, cfg["rho_sampling"])
            loss_ui = info_nce_in_batch(users, replace_rows(ids, feat, rows), tau)
            flat_ids = ids
        reg = (users.norm(dim=1).mean() + flat_ids.norm(dim=1).mean()) / 2
        return lam * loss_re + (1 - lam) * loss_ui + float(cfg["reg_weight"]) * reg

    # -- fitting --------------------------------------------------------------------------
    def fit(self, train: TrainData, *, seed: int, validator: Validator | None = None) -> dict[str, Any]:
        cfg = self.config
        t0 = time.perf_counter()
        device = pick_device(cfg["device"])
        self.device = device
        rng = np.random.default_rng(seed)
        with seeded(seed, device), torch_threads(cfg["torch_threads"], unset="keep"):
            content = torch.from_numpy(np.asarray(train.item_vectors, dtype=np.float32)).to(device)
            pair_p, pair_i = interaction_pairs(train.playlists)
            sampler = NegativeSampler(pair_p, pair_i, len(train.item_ids))
            self.model = CLCRecModel(len(train.playlists), len(train.item_ids), content.shape[1],
                                     cfg["dim"], cfg["hidden"]).to(device)
            model = self.model
            opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])

            def run_epoch(epoch: int) -> float:
                order = rng.permutation(len(pair_p))
                total, n_seen = 0.0, 0
                for sl in batches(len(order), cfg["batch_size"]):
                    idx = order[sl]
                    loss = self.batch_loss(model, content, pair_p[idx], pair_i[idx], rng, sampler)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                    n_seen += len(idx)
                return total / max(n_seen, 1)

            report = train_with_selection(
                recommender=self, module=model, run_epoch=run_epoch,
                prepare_eval=self._clear_cache, validator=validator, epochs=cfg["epochs"],
                patience=cfg["patience"], min_delta=cfg["min_delta"])
        report.update({"fit_time_s": time.perf_counter() - t0, "device": str(device),
                       "n_pairs": len(pair_p)})
        return report

    def _clear_cache(self) -> None:
        self._cache = None

    # -- scoring --------------------------------------------------------------------------
    @torch.no_grad()
    def item_encodings(self, candidate_vectors: np.ndarray, chunk: int = 65536
                       ) -> tuple[np.ndarray, torch.Tensor]:
        """``g(content)`` of the candidates, as numpy (for pooling) and on the device."""
        if self.model is None:
            raise RuntimeError("clcrec: fit() before score()")
        key = fingerprint(candidate_vectors)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        outs = []
        for sl in batches(candidate_vectors.shape[0], chunk):
            c = torch.from_numpy(np.ascontiguousarray(candidate_vectors[sl])).to(self.device)
            outs.append(self.model.encode(c))
        enc = torch.cat(outs) if outs else torch.zeros(0, self.config["dim"], device=self.device)
        enc_np = enc.cpu().numpy().astype(np.float32, copy=False)
        self._cache = (key, enc_np, enc)
        return enc_np, enc

    @torch.no_grad()
    def score(self, seed_index: Sequence[np.ndarray], candidate_vectors: np.ndarray) -> np.ndarray:
        c = np.asarray(candidate_vectors, dtype=np.float32)
        enc_np, enc = self.item_encodings(c)
        playlists = torch.from_numpy(pool_rows(enc_np, seed_index, "mean")).to(self.device)
        return (playlists @ enc.T).cpu().numpy().astype(np.float32, copy=False)
