"""DropoutNet (Volkovs, Yu & Poutanen, NeurIPS 2017) for cold-start playlist continuation,
as used by LARP (KDD 2024, Appendix B). Training playlists are the "users".

Model
-----
Preference vectors ``U`` (playlists) and ``V`` (tracks), 64-d, from weighted matrix
factorisation of the binary training playlist × track matrix (``implicit``'s ALS;
``preference="wmf"``, the paper), or from the LARP release's plain MF
(``preference="mf"``: a torch MF whose prediction is the cosine of the two factors,
trained with MSE against 1 for an observed pair and 0 for a sampled unobserved one,
SGD lr 0.005 momentum 0.9, 10 epochs, batch 2048; factors are L2-normalised afterwards
so that ``U·Vᵀ`` is its prediction).

Two towers, one for playlists and one for tracks, each an MLP over
``[preference ‖ content]``: hidden blocks ``Linear → BatchNorm → tanh`` of sizes
``hidden`` (default 512, 256, 256 as in the LARP release) and a linear output of size
``rank_out`` (256). The score is the dot product of the two outputs; the loss is

    MSE = mean_over_pairs (f_U(u_p, φ_p) · f_V(v_i, φ_i) − target_pi)²

with ``target = U_p · V_i`` (the preference score, ``target="preference"``, original
DropoutNet) or ``1/0`` for observed/sampled pairs (``target="binary"``, LARP release).
Pairs of an epoch: every observed (playlist, track) pair plus ``neg_ratio`` random
unobserved tracks per observed pair. Playlist content ``φ_p`` is the mean content of the
playlist's tracks (LARP release).

Input dropout: in every mini-batch ``floor(dropout·B)`` rows get their *preference*
input zeroed (independently chosen rows for playlists and for tracks), which teaches the
towers to score from content alone. The LARP release's dropout is a no-op
(``Uin[idx].zero_()`` zeroes a copy); ``official_noop_dropout=True`` reproduces it.

Preference inputs are standardised per column (DropoutNet's ``prep_standardize``: mean 0,
std 1 over non-zero rows, clipped at ±5). Then the mean of the training vectors is the
zero vector, so the cold-start input of the design ("mean of the training vectors") and
DropoutNet's dropout value (zeros) agree.

Cold scoring (DESIGN §4): a cold track's preference input is the mean of the training
track inputs, a cold playlist's the mean of the training playlist inputs
(``cold_preference="mean"``; ``"zeros"``; ``"official_swapped"`` = the LARP release's
``cold items ← mean(U)``, ``cold playlists ← mean(V)``); playlist content = mean of its
seed tracks' content. Candidates are scored independently of each other (BatchNorm in
eval mode).

Optimiser: SGD, momentum 0.9, lr 0.005, L2 0.1 (weight decay on the Linear weights) —
the paper's values; the LARP release used no L2 (``weight_decay=0``).
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

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

#: Per-encoder learning rates of the LARP release (``eval_DropoutNet``): name -> overrides.
OFFICIAL_OVERRIDES: dict[str, dict[str, Any]] = {
    "LARP-LFM": {"lr": 0.001},       # base_model LARP_fusion on LFM
    "LARP-CIC-LFM": {"lr": 0.001},   # base_model BLAP_CIC on LFM
}

#: The LARP release's DropoutNet as a whole (``evaluation/continuation_full.py``).
OFFICIAL_CODE_CONFIG: dict[str, Any] = {
    "preference": "mf",
    "target": "binary",
    "official_noop_dropout": True,
    "standardize_preference": False,
    "cold_preference": "official_swapped",
    "weight_decay": 0.0,
    "bn_momentum": 0.01,
    "batch_size": 2048,
    "epochs": 20,
    "patience": 0,
}


# --------------------------------------------------------------------------------------
# preference vectors


def wmf_factors(interactions: sp.csr_matrix, *, factors: int, regularization: float,
                alpha: float, iterations: int, seed: int, num_threads: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted MF (Hu, Koren & Volinsky 2008) by ``implicit``'s CPU ALS: playlist and item
    factors ``[n_playlists, factors]``, ``[n_items, factors]``. Confidence ``1 + alpha·r``."""
    from implicit.cpu.als import AlternatingLeastSquares

    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1, "blas")  # implicit wants single-threaded BLAS
    except ImportError:  # pragma: no cover - threadpoolctl ships with implicit
        limit = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model = AlternatingLeastSquares(
                factors=factors, regularization=regularization, alpha=alpha,
                iterations=iterations, random_state=seed, num_threads=num_threads,
                calculate_training_loss=False,
            )
            model.fit(sp.csr_matrix(interactions, dtype=np.float32), show_progress=False)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    return (np.ascontiguousarray(model.user_factors, dtype=np.float32),
            np.ascontiguousarray(model.item_factors, dtype=np.float32))


def mf_factors(pair_p: np.ndarray, pair_i: np.ndarray, n_playlists: int, n_items: int, *,
               dim: int, epochs: int, lr: float, batch_size: int, rng: np.random.Generator,
               device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """The LARP release's plain MF: cosine(U_p, V_i) regressed (MSE) on 1 for an observed
    pair and 0 for one sampled unobserved item per observed pair; SGD momentum 0.9.
    Returns L2-normalised factors (so ``U·Vᵀ`` is the model's prediction)."""
    u = nn.Parameter(torch.empty(n_playlists, dim, device=device))
    v = nn.Parameter(torch.empty(n_items, dim, device=device))
    nn.init.xavier_uniform_(u)
    nn.init.xavier_uniform_(v)
    opt = torch.optim.SGD([u, v], lr=lr, momentum=0.9)
    sampler = NegativeSampler(pair_p, pair_i, n_items)
    for _ in range(epochs):
        order = rng.permutation(len(pair_p))
        for sl in batches(len(order), batch_size):
            p = pair_p[order[sl]]
            pos = pair_i[order[sl]]
            neg = sampler.sample(rng, p, 1)[:, 0]
            uid = torch.from_numpy(np.concatenate([p, p])).to(device)
            vid = torch.from_numpy(np.concatenate([pos, neg])).to(device)
            target = torch.cat([torch.ones(len(p)), torch.zeros(len(p))]).to(device)
            # F.embedding: its CPU backward is deterministic, unlike u[uid]'s index_put
            pred = (nn.functional.normalize(nn.functional.embedding(uid, u), dim=-1)
                    * nn.functional.normalize(nn.functional.embedding(vid, v), dim=-1)).sum(1)
            loss = nn.functional.mse_loss(pred, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        un = nn.functional.normalize(u, dim=-1).cpu().numpy().astype(np.float32)
        vn = nn.functional.normalize(v, dim=-1).cpu().numpy().astype(np.float32)
    return un, vn


def standardize(x: np.ndarray, clip: float = 5.0) -> np.ndarray:
    """Column-wise standardisation over the non-zero rows, clipped at ±``clip``, tiny values
    set to 0 (DropoutNet's ``prep_standardize``). All-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    out = x.copy()
    nz = np.any(x != 0, axis=1)
    if not nz.any():
        return out
    mean = x[nz].mean(axis=0)
    std = x[nz].std(axis=0)
    std[std == 0] = 1.0
    out[nz] = (x[nz] - mean) / std
    np.clip(out, -clip, clip, out=out)
    out[np.abs(out) < 1e-5] = 0.0
    return out


# --------------------------------------------------------------------------------------
# the two towers


class Tower(nn.Module):
    """``[preference ‖ content]`` → (Linear → BatchNorm → tanh)×len(hidden) → Linear."""

    def __init__(self, pref_dim: int, content_dim: int, hidden: Sequence[int], rank_out: int,
                 bn_momentum: float = 0.1, bn_eps: float = 1e-3) -> None:
        super().__init__()
        dims = [pref_dim + content_dim, *hidden]
        self.blocks = nn.ModuleList()
        for a, b in itertools.pairwise(dims):
            self.blocks.append(nn.ModuleDict({
                "linear": nn.Linear(a, b),
                "bn": nn.BatchNorm1d(b, momentum=bn_momentum, eps=bn_eps),
            }))
        self.out = nn.Linear(dims[-1], rank_out)

    def forward(self, pref: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        h = torch.cat([pref, content], dim=1)
        for block in self.blocks:
            h = torch.tanh(block["bn"](block["linear"](h)))
        return self.out(h)


def init_weights(module: nn.Module) -> None:
    """DropoutNet's init: Linear weights ~ truncated normal (std 0.01, ±2 std), biases 0."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.01, a=-0.02, b=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class DropoutNetModel(nn.Module):
    def __init__(self, pref_dim: int, content_dim: int, hidden: Sequence[int], rank_out: int,
                 bn_momentum: float = 0.1) -> None:
        super().__init__()
        self.user = Tower(pref_dim, content_dim, hidden, rank_out, bn_momentum)
        self.item = Tower(pref_dim, content_dim, hidden, rank_out, bn_momentum)
        self.apply(init_weights)

    def forward(self, u_pref: torch.Tensor, u_content: torch.Tensor,
                v_pref: torch.Tensor, v_content: torch.Tensor) -> torch.Tensor:
        """Predicted preference per pair: ``Σ_k f_U(u)_k · f_V(v)_k``."""
        return (self.user(u_pref, u_content) * self.item(v_pref, v_content)).sum(dim=1)

    def loss(self, u_pref: torch.Tensor, u_content: torch.Tensor, v_pref: torch.Tensor,
             v_content: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``mean((pred - target)²)``."""
        return nn.functional.mse_loss(self(u_pref, u_content, v_pref, v_content), target)


def drop_preference_rows(pref: torch.Tensor, rate: float, rng: np.random.Generator,
                         official_noop: bool = False) -> torch.Tensor:
    """Zero the preference input of ``floor(rate·B)`` random rows of the batch.

    With ``official_noop=True`` it does what the LARP release does: it draws the rows and
    calls ``pref[rows].zero_()``, which zeroes a *copy* (advanced indexing), so ``pref`` is
    returned unchanged.
    """
    n_drop = int(np.floor(rate * pref.shape[0]))
    if n_drop <= 0:
        return pref
    rows = torch.from_numpy(rng.permutation(pref.shape[0])[:n_drop]).to(pref.device)
    if official_noop:
        pref[rows].zero_()  # a copy: no effect, as in the official code
        return pref
    out = pref.clone()
    out[rows] = 0.0
    return out


# --------------------------------------------------------------------------------------
# the recommender


class DropoutNet(Recommender):
    meta = RecommenderMeta(
        name="dropoutnet",
        version="1.0",
        description="DropoutNet: WMF preference + content towers (3×MLP, tanh) trained with "
                    "MSE on preference scores and input dropout; cold items/playlists use "
                    "the mean preference input.",
        trains=True,
        citation="Volkovs, Yu & Poutanen, DropoutNet: Addressing Cold Start in Recommender "
                 "Systems, NeurIPS 2017; LARP (KDD 2024) Appendix B",
        paper_row="DropoutNet",
        tags=("content", "collaborative", "torch"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        # preference model
        "preference": "wmf",            # "wmf" (implicit ALS, paper) | "mf" (LARP release)
        "factors": 64,
        "als_iterations": 15,
        "als_regularization": 0.01,
        "als_alpha": 1.0,
        "num_threads": 0,               # implicit's threads (0 = all cores)
        "mf_epochs": 10,
        "mf_lr": 0.005,
        "mf_batch_size": 2048,
        "standardize_preference": True,
        # towers
        "hidden": [512, 256, 256],
        "rank_out": 256,
        "bn_momentum": 0.1,             # torch semantics; = TF decay 0.9 of the original
        # training
        "target": "preference",         # "preference" (U·Vᵀ) | "binary" (LARP release)
        "neg_ratio": 1,
        "dropout": 0.2,
        "official_noop_dropout": False,
        "lr": 0.005,
        "momentum": 0.9,
        "weight_decay": 0.1,
        "batch_size": 100,
        "epochs": 20,
        "patience": 5,
        "min_delta": 0.0,
        # cold scoring
        "cold_preference": "mean",      # "mean" | "zeros" | "official_swapped"
        "official_overrides": None,     # a key of OFFICIAL_OVERRIDES
        "device": "auto",
        "torch_threads": None,          # torch intra-op threads during fit (None: as set)
    }
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "factors": (1, None), "als_iterations": (1, None), "als_regularization": (0, None), "als_alpha": (0, None),
        "num_threads": (0, None), "mf_epochs": (1, None), "mf_lr": (0, None), "mf_batch_size": (1, None),
        "rank_out": (1, None), "bn_momentum": (0, 1), "neg_ratio": (0, None), "dropout": (0, 1), "lr": (0, None),
        "momentum": (0, 1), "weight_decay": (0, None), "batch_size": (1, None), "epochs": (1, None),
        "patience": (0, None), "min_delta": (0, None),
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"epochs": 3, "patience": 2, "als_iterations": 5, "mf_epochs": 2, "torch_threads": 1},
        "quick": {"epochs": 15, "patience": 4, "torch_threads": 1},
        "paper": {},
        "official": dict(OFFICIAL_CODE_CONFIG),
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        name = self.config["official_overrides"]
        if name is not None:
            if name not in OFFICIAL_OVERRIDES:
                raise ValueError(f"dropoutnet: unknown official_overrides {name!r}; "
                                 f"known: {sorted(OFFICIAL_OVERRIDES)}")
            for k, v in OFFICIAL_OVERRIDES[name].items():
                if k not in (config or {}):
                    self.config[k] = v
        checks = {"preference": ("wmf", "mf"), "target": ("preference", "binary"),
                  "cold_preference": ("mean", "zeros", "official_swapped")}
        for key, allowed in checks.items():
            if self.config[key] not in allowed:
                raise ValueError(f"dropoutnet: {key} must be one of {allowed}, not {self.config[key]!r}")
        self.model: DropoutNetModel | None = None
        self._cache: tuple[str, torch.Tensor] | None = None

    # -- fitting ------------------------------------------------------------------------
    def preference_vectors(self, train: TrainData, seed: int, rng: np.random.Generator,
                           device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        if cfg["preference"] == "wmf":
            return wmf_factors(train.interactions(), factors=cfg["factors"],
                               regularization=cfg["als_regularization"], alpha=cfg["als_alpha"],
                               iterations=cfg["als_iterations"], seed=seed,
                               num_threads=cfg["num_threads"])
        pair_p, pair_i = interaction_pairs(train.playlists)
        return mf_factors(pair_p, pair_i, len(train.playlists), len(train.item_ids),
                          dim=cfg["factors"], epochs=cfg["mf_epochs"], lr=cfg["mf_lr"],
                          batch_size=cfg["mf_batch_size"], rng=rng, device=device)

    def fit(self, train: TrainData, *, seed: int, validator: Validator | None = None) -> dict[str, Any]:
        cfg = self.config
        t0 = time.perf_counter()
        device = pick_device(cfg["device"])
        self.device = device
        rng = np.random.default_rng(seed)
        with seeded(seed, device), torch_threads(cfg["torch_threads"], unset="keep"):
            u_raw, v_raw = (np.ascontiguousarray(x, dtype=np.float32)
                            for x in self.preference_vectors(train, seed, rng, device))
            pref_time = time.perf_counter() - t0
            if cfg["standardize_preference"]:
                u_in, v_in = standardize(u_raw), standardize(v_raw)
            else:
                u_in, v_in = u_raw.copy(), v_raw.copy()
            if cfg["cold_preference"] == "mean":
                cold_u, cold_v = u_in.mean(axis=0), v_in.mean(axis=0)
            elif cfg["cold_preference"] == "zeros":
                cold_u = cold_v = np.zeros(u_in.shape[1], np.float32)
            else:  # the LARP release: items get mean(U), playlists mean(V)
                cold_u, cold_v = v_in.mean(axis=0), u_in.mean(axis=0)
            self._cold_u = torch.from_numpy(np.asarray(cold_u, np.float32)).to(device)
            self._cold_v = torch.from_numpy(np.asarray(cold_v, np.float32)).to(device)

            item_content = np.asarray(train.item_vectors, dtype=np.float32)
            playlist_content = pool_rows(item_content, train.playlists, "mean")
            pair_p, pair_i = interaction_pairs(train.playlists)
            sampler = NegativeSampler(pair_p, pair_i, len(train.item_ids))

            t_u_in = torch.from_numpy(u_in).to(device)
            t_v_in = torch.from_numpy(v_in).to(device)
            t_u_c = torch.from_numpy(playlist_content).to(device)
            t_v_c = torch.from_numpy(item_content).to(device)

            self.model = DropoutNetModel(u_in.shape[1], item_content.shape[1], cfg["hidden"],
                                         cfg["rank_out"], cfg["bn_momentum"]).to(device)
            decay = [p for n, p in self.model.named_parameters()
                     if n.endswith("weight") and p.ndim == 2]
            no_decay = [p for n, p in self.model.named_parameters()
                        if not (n.endswith("weight") and p.ndim == 2)]
            opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg["lr"], momentum=cfg["momentum"])
            model = self.model

            def run_epoch(epoch: int) -> float:
                k = int(cfg["neg_ratio"])
                neg_p = np.repeat(pair_p, k)
                neg_i = sampler.sample(rng, pair_p, k).reshape(-1) if k > 0 else neg_p[:0]
                all_p = np.concatenate([pair_p, neg_p])
                all_i = np.concatenate([pair_i, neg_i])
                if cfg["target"] == "preference":
                    target = np.einsum("ij,ij->i", u_raw[all_p], v_raw[all_i]).astype(np.float32)
                else:
                    target = np.concatenate([np.ones(len(pair_p), np.float32),
                                             np.zeros(len(neg_p), np.float32)])
                order = rng.permutation(len(all_p))
                total, n_seen = 0.0, 0
                for sl in batches(len(order), cfg["batch_size"]):
                    idx = order[sl]
                    if len(idx) < 2:  # BatchNorm needs two rows
                        continue
                    p = torch.from_numpy(all_p[idx]).to(device)
                    i = torch.from_numpy(all_i[idx]).to(device)
                    up = drop_preference_rows(t_u_in[p], cfg["dropout"], rng, cfg["official_noop_dropout"])
                    vp = drop_preference_rows(t_v_in[i], cfg["dropout"], rng, cfg["official_noop_dropout"])
                    t = torch.from_numpy(target[idx]).to(device)
                    loss = model.loss(up, t_u_c[p], vp, t_v_c[i], t)
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
        report.update({"preference_time_s": pref_time, "fit_time_s": time.perf_counter() - t0,
                       "device": str(device), "n_pairs": len(pair_p)})
        return report

    def _clear_cache(self) -> None:
        self._cache = None

    # -- scoring ------------------------------------------------------------------------
    @torch.no_grad()
    def item_embeddings(self, candidate_vectors: np.ndarray, chunk: int = 16384) -> torch.Tensor:
        """Item-tower outputs of cold candidates (preference input = the cold vector)."""
        if self.model is None:
            raise RuntimeError("dropoutnet: fit() before score()")
        key = fingerprint(candidate_vectors)
        if self._cache is not None and self._cache[0] == key and not self.model.training:
            return self._cache[1]
        self.model.eval()
        outs = []
        for sl in batches(candidate_vectors.shape[0], chunk):
            c = torch.from_numpy(np.ascontiguousarray(candidate_vectors[sl])).to(self.device)
            outs.append(self.model.item(self._cold_v.expand(c.shape[0], -1), c))
        emb = torch.cat(outs) if outs else torch.zeros(0, self.config["rank_out"], device=self.device)
        self._cache = (key, emb)
        return emb

    @torch.no_grad()
    def score(self, seed_index: Sequence[np.ndarray], candidate_vectors: np.ndarray) -> np.ndarray:
        c = np.asarray(candidate_vectors, dtype=np.float32)
        items = self.item_embeddings(c)
        content = torch.from_numpy(pool_rows(c, seed_index, "mean")).to(self.device)
        users = self.model.user(self._cold_u.expand(content.shape[0], -1), content)
        return (users @ items.T).cpu().numpy().astype(np.float32, copy=False)
