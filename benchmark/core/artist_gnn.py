"""The artist-relationship model: 0-4 GraphSAGE layers, then an MLP back end, trained with
a triplet loss (OLGA's architecture as the CLAP-embeddings paper uses it).

* front end: ``layers`` × (``torch_geometric.nn.SAGEConv``, mean aggregation, then ReLU);
  ``layers=0`` is the MLP-only baseline, which never reads the graph;
* back end: ``mlp_layers`` linear layers (ReLU between), output L2-normalised;
* loss: triplet margin loss with Euclidean distance over uniformly sampled triplets: a
  training relation drawn uniformly, **each endpoint taken as the anchor** (the other is
  the positive), a negative drawn uniformly from the other training artists;
* training runs on the training graph only (:func:`~benchmark.core.artist_graph.training_graph`);
  every ``eval_every`` steps the model embeds the validation graph and scores NDCG@k on its
  hidden relations; the best state is kept (model selection on valid) and scored on test.

Inputs are standardised with the training artists' mean and standard deviation.
``torch_geometric`` is an optional dependency (``pip install larpbench[gnn]``).
"""

from __future__ import annotations

import functools
import itertools
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmark.core.artist_graph import (
    ArtistGraph,
    ArtistSplit,
    TaskGraph,
    evaluation_graph,
    rank_and_score,
    training_graph,
)

MODEL_VERSION = "1"


class GNNUnavailable(RuntimeError):
    """torch_geometric is missing; the message says how to install it."""


@dataclass(frozen=True)
class GNNConfig:
    layers: int = 3
    hidden: int = 128
    out_dim: int = 64
    mlp_layers: int = 2
    lr: float = 4e-3
    margin: float = 0.2
    #: relations drawn per step; each gives two triplets (both endpoints as anchors). Every
    #: step embeds the whole training graph, so a larger batch costs little; 60 × 512
    #: relations see as many triplets as 120 × 256 at half the forward/backward passes
    batch_size: int = 512
    steps: int = 60
    eval_every: int = 10
    #: rounds of ``eval_every`` steps without a better valid score before stopping (0: never)
    patience: int = 3
    k: int = 200
    #: neighbours sampled per artist and layer in each training step (GraphSAGE's fan-out;
    #: 0: the full neighbourhood). Evaluation always aggregates over every visible neighbour.
    fanout: int = 0
    #: torch threads while training (the graphs are small: one thread is as fast on a free
    #: machine, far faster on a busy one, and gives the same floats on any machine)
    threads: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.layers <= 8:
            raise ValueError(f"layers={self.layers}: 0..8 GraphSAGE layers")
        if self.mlp_layers < 1 or self.steps < 1 or self.eval_every < 1 or self.batch_size < 1:
            raise ValueError("mlp_layers, steps, eval_every and batch_size must be >= 1")

    def key(self) -> dict[str, Any]:
        """What changes the numbers (``threads`` does not)."""
        return {k: v for k, v in asdict(self).items() if k != "threads"}


def require_pyg() -> None:
    import importlib.util

    if importlib.util.find_spec("torch_geometric") is None:
        raise GNNUnavailable("the artist-relationship task needs torch_geometric (GraphSAGE layers): "
                             "pip install 'larpbench[gnn]' (or pip install torch-geometric)")


def build_model(d_in: int, cfg: GNNConfig) -> Any:
    """The network, a ``torch.nn.Module`` called as ``model(x, graph)``: ``graph`` is a
    :class:`MeanAggregation` (the fast path, with ``x_agg``, the first layer's neighbour
    mean of the fixed inputs, precomputed), or an adjacency from :func:`adjacency` or an
    ``edge_index`` ``[2, M]`` (then every layer is ``SAGEConv``'s own forward). Both compute
    ``SAGEConv``'s mean aggregation: ``lin_l(mean of neighbours) + lin_r(self)``."""
    import torch
    from torch import nn

    class ArtistGNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            convs = []
            if cfg.layers:
                require_pyg()
                from torch_geometric.nn import SAGEConv

                convs = [SAGEConv(d_in if i == 0 else cfg.hidden, cfg.hidden, aggr="mean")
                         for i in range(cfg.layers)]
            self.convs = nn.ModuleList(convs)
            dims = [cfg.hidden if cfg.layers else d_in] + [cfg.hidden] * (cfg.mlp_layers - 1) + [cfg.out_dim]
            self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))

        def forward(self, x: torch.Tensor, graph: Any, x_agg: torch.Tensor | None = None) -> torch.Tensor:
            h = x
            for i, conv in enumerate(self.convs):
                if isinstance(graph, MeanAggregation):
                    agg = x_agg if i == 0 and x_agg is not None else graph(h)
                    h = torch.relu(conv.lin_l(agg) + conv.lin_r(h))
                else:
                    h = torch.relu(conv(h, graph))
            for i, lin in enumerate(self.mlp):
                h = lin(h)
                if i < len(self.mlp) - 1:
                    h = torch.relu(h)
            return nn.functional.normalize(h, dim=1)

    return ArtistGNN()


class MeanAggregation:
    """The mean over each node's incoming message-passing edges as a fixed sparse operator
    ``A`` (CSR; row ``i`` holds ``1/deg(i)`` at ``i``'s neighbours; a node without any gets
    zeros, as ``SAGEConv``'s mean does). Built once per graph and reused by every layer,
    step, layer count and seed; its backward multiplies by the precomputed ``Aᵀ`` (torch's
    own backward of a sparse product rebuilds the transpose each step)."""

    def __init__(self, n: int, edge_index: np.ndarray) -> None:
        import warnings

        import torch

        src, dst = (torch.from_numpy(np.ascontiguousarray(v)) for v in edge_index)
        deg = torch.bincount(dst, minlength=n).clamp(min=1).to(torch.float32)
        vals = 1.0 / deg[dst]
        a = torch.sparse_coo_tensor(torch.stack([dst, src]), vals, (n, n), check_invariants=False).coalesce()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            self.a = a.to_sparse_csr()
            self.a_t = a.t().coalesce().to_sparse_csr()
        self.n = n

    @classmethod
    def of(cls, g: TaskGraph, edge_index: np.ndarray | None = None) -> MeanAggregation:
        return cls(g.n, g.edge_index if edge_index is None else edge_index)

    def __call__(self, h: Any) -> Any:
        return _aggregate(h, self)


@functools.cache
def _mean_function() -> Any:
    import torch

    class MeanFunction(torch.autograd.Function):
        """``A @ h`` whose backward is ``Aᵀ @ grad`` with the precomputed ``Aᵀ``."""

        @staticmethod
        def forward(ctx: Any, h: torch.Tensor, a: torch.Tensor, a_t: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            ctx.a_t = a_t
            return torch.sparse.mm(a, h)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
            return torch.sparse.mm(ctx.a_t, grad), None, None

    return MeanFunction


def _aggregate(h: Any, op: MeanAggregation) -> Any:
    import torch

    if not h.requires_grad:
        return torch.sparse.mm(op.a, h)
    return _mean_function().apply(h, op.a, op.a_t)


@dataclass
class TaskGraphs:
    """The training, validation and test graphs of one split with their aggregation
    operators: built once per dataset and reused by every feature set, layer count and seed."""

    train: TaskGraph
    valid: TaskGraph
    test: TaskGraph
    ops: dict[str, MeanAggregation]

    @classmethod
    def of(cls, graph: ArtistGraph, split: ArtistSplit) -> TaskGraphs:
        gs = {"train": training_graph(graph, split), "valid": evaluation_graph(graph, split, "valid"),
              "test": evaluation_graph(graph, split, "test")}
        return cls(gs["train"], gs["valid"], gs["test"], {k: MeanAggregation.of(g) for k, g in gs.items()})


def standardise(features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``features`` z-scored with the mean and std of ``rows`` (constant columns: std 1)."""
    x = np.asarray(features, dtype=np.float64)
    mu = x[rows].mean(axis=0)
    sd = x[rows].std(axis=0)
    sd[sd < 1e-12] = 1.0
    return ((x - mu) / sd).astype(np.float32)


def sample_neighbours(rng: np.random.Generator, edge_index: np.ndarray, fanout: int) -> np.ndarray:
    """At most ``fanout`` incoming edges per receiving node, drawn uniformly without
    replacement (all of them where a node has fewer)."""
    dst = edge_index[1]
    order = np.lexsort((rng.random(len(dst)), dst))
    d = dst[order]
    rank = np.arange(len(d)) - np.searchsorted(d, d, side="left")
    return edge_index[:, np.sort(order[rank < fanout])]


def adjacency(g: TaskGraph, edge_index: np.ndarray | None = None) -> Any:
    """``g``'s message-passing edges (or ``edge_index``, a subset of them) as the transposed
    sparse adjacency (CSR, row = the receiving node) that ``SAGEConv`` aggregates with a
    sparse product: the same mean as over ``edge_index``, faster on CPU."""
    import warnings

    import torch

    ei = torch.from_numpy(g.edge_index if edge_index is None else edge_index)
    adj_t = torch.sparse_coo_tensor(torch.stack([ei[1], ei[0]]), torch.ones(ei.shape[1]), (g.n, g.n),
                                    check_invariants=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return adj_t.coalesce().to_sparse_csr()


def embed_graph(model: Any, x: np.ndarray, g: TaskGraph, op: MeanAggregation | None = None) -> np.ndarray:
    """Embeddings of ``g``'s nodes (local order) from global features ``x``; ``op``: ``g``'s
    :class:`MeanAggregation` when the caller has it (else built here)."""
    import torch

    model.eval()
    xs = torch.from_numpy(np.ascontiguousarray(x[g.nodes]))
    op = op or MeanAggregation.of(g)
    with torch.no_grad():
        out = model(xs, op, op(xs) if len(model.convs) else None)
    return out.numpy()


def triplets(rng: np.random.Generator, edge_index: np.ndarray, n_nodes: int,
             n_relations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_relations`` relations drawn uniformly; each yields two (anchor, positive,
    negative) triplets, one per endpoint as anchor; negatives uniform over the other nodes."""
    m = edge_index.shape[1] // 2  # edge_index holds each relation in both directions
    pick = rng.integers(0, m, size=n_relations)
    a = np.concatenate([edge_index[0, pick], edge_index[1, pick]])
    p = np.concatenate([edge_index[1, pick], edge_index[0, pick]])
    neg = rng.integers(0, n_nodes - 1, size=len(a))
    neg = neg + (neg >= a)  # uniform over the nodes other than the anchor
    return a, p, neg


def train_and_evaluate(features: np.ndarray, graph: ArtistGraph, split: ArtistSplit, cfg: GNNConfig,
                       seed: int, graphs: TaskGraphs | None = None) -> dict[str, Any]:
    """Train on the training graph, select on valid, score on test. ``features`` are the
    artists' input vectors in the graph's node order ``[graph.n, d]``; ``graphs``: the
    split's :class:`TaskGraphs` when the caller keeps them across runs (else built here)."""
    import torch

    from benchmark.core.runtime import seeded, torch_threads
    from benchmark.core.training import train_with_selection

    if features.shape[0] != graph.n or features.ndim != 2:
        raise ValueError(f"features of shape {features.shape} for {graph.n} artists")
    if not np.all(np.isfinite(features)):
        raise FloatingPointError("artist features hold non-finite values")
    t0, c0 = time.perf_counter(), time.process_time()
    with torch_threads(cfg.threads):
        gs = graphs or TaskGraphs.of(graph, split)
        train_g, op = gs.train, gs.ops["train"]
        if train_g.edge_index.shape[1] == 0:
            raise ValueError("no relation among the training artists: nothing to train the triplet loss on")
        x = standardise(features, split.train)
        rng = np.random.default_rng([int(seed), 0x7219])
        with seeded(int(seed)):
            model = build_model(x.shape[1], cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        xt = torch.from_numpy(np.ascontiguousarray(x[train_g.nodes]))
        sampled = bool(cfg.fanout and cfg.layers)
        # the first layer's neighbour mean of the fixed inputs: the same every step
        xt_agg = op(xt) if cfg.layers and not sampled else None

        def run_round(_: int) -> float:
            losses = []
            for _step in range(cfg.eval_every):
                a, p, n = (torch.from_numpy(v) for v in triplets(rng, train_g.edge_index, train_g.n,
                                                                  cfg.batch_size))
                step_op = op if not sampled else MeanAggregation.of(
                    train_g, sample_neighbours(rng, train_g.edge_index, cfg.fanout))
                z = model(xt, step_op, xt_agg if not sampled else None)
                d_pos = (z[a] - z[p]).norm(dim=1)
                d_neg = (z[a] - z[n]).norm(dim=1)
                loss = torch.relu(d_pos - d_neg + cfg.margin).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
            return float(np.mean(losses))

        def validate(_: Any) -> float:
            return rank_and_score(embed_graph(model, x, gs.valid, gs.ops["valid"]), gs.valid, cfg.k).mean

        rounds = max(1, cfg.steps // cfg.eval_every)
        fit = train_with_selection(recommender=None, module=model, run_epoch=run_round,
                                   prepare_eval=lambda: None, validator=validate, epochs=rounds,
                                   patience=cfg.patience or None)
        test = rank_and_score(embed_graph(model, x, gs.test, gs.ops["test"]), gs.test, cfg.k)
        valid = rank_and_score(embed_graph(model, x, gs.valid, gs.ops["valid"]), gs.valid, cfg.k)
    losses = fit["train_losses"]
    if losses and not np.isfinite(losses[-1]):
        stop = "non-finite loss"
    elif fit["stopped_early"]:
        stop = f"patience: {cfg.patience} validations without a better valid NDCG@{cfg.k}"
    else:
        stop = f"step budget: {rounds * cfg.eval_every} steps"
    return {
        "test": test, "valid": valid,
        "best_step": None if fit["best_epoch"] is None else int(fit["best_epoch"]) * cfg.eval_every,
        "steps_run": int(fit["epochs_run"]) * cfg.eval_every, "stop_reason": stop,
        "valid_curve": fit["valid_scores"], "train_losses": losses,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
    }
