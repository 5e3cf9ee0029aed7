"""The artist-relationship task's data side (OLGA protocol, Korzeniowski et al. 2021/22).

* :func:`load_artist_graph` — the dataset's artists (by ``canonical_artist`` where
  ``tracks.csv`` has that column, else ``artist``) and its ``artist_relations.csv``;
* :func:`split_artists` — artists into train / valid / test, disjoint (a dataset's own
  ``artist_splits.csv`` when it has one, e.g. OLGA's allocation; else a seeded draw);
* :func:`training_graph` / :func:`evaluation_graph` — the graphs message passing may use:
  training = train artists + train–train edges; evaluation = those plus the evaluation
  artists and **only their edges to training artists**. Evaluation–evaluation edges are
  never in a message-passing graph: they are the targets;
* :func:`rank_and_score` — NDCG@k of ranking the other evaluation artists by Euclidean
  distance against the hidden relations (k capped by the number of candidates);
* :func:`without_artists` — a dataset view without some artists' tracks (what an encoder
  that trains on the dataset may see in this task: no evaluation artist's track).

Numpy only; the model lives in :mod:`benchmark.core.artist_gnn`.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.core.dataset import Dataset, DatasetError
from benchmark.core.metrics import ndcg_at_k

RELATIONS_FILE = "artist_relations.csv"
SPLITS_FILE = "artist_splits.csv"
#: the hidden column of generated worlds that names an artist as the relations do (an
#: artist's credited name in ``artist`` may be an alias there)
CANONICAL_COLUMN = "canonical_artist"
ARTIST_SPLITS = ("train", "valid", "test")


def artist_column(dataset: Dataset) -> str:
    """``canonical_artist`` when ``tracks.csv`` has it, else ``artist``."""
    return CANONICAL_COLUMN if CANONICAL_COLUMN in dataset.extra_columns else "artist"


def track_artist(dataset: Dataset, track_id: str, column: str | None = None) -> str:
    """The artist a track belongs to for this task (see :func:`artist_column`)."""
    col = column or artist_column(dataset)
    t = dataset.tracks[track_id]
    return t.artist if col == "artist" else t.extra[col]


@dataclass(frozen=True)
class ArtistGraph:
    """Artists (sorted names; node ``i`` is ``artists[i]``) and undirected relations
    ``edges[e] = (i, j)`` with ``i < j``, no duplicates."""

    artists: tuple[str, ...]
    edges: np.ndarray  # [E, 2] int64
    weights: np.ndarray  # [E]
    column: str = "artist"

    @property
    def n(self) -> int:
        return len(self.artists)

    def index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.artists)}

    def degrees(self) -> np.ndarray:
        return np.bincount(self.edges.ravel(), minlength=self.n)


def _read_table(path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    missing = [c for c in required if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)} in header {header}")
    rows, line = [], 2
    for row in reader:
        rows.append((line, row))
        line = reader.line_num + 1
    return rows


def load_artist_graph(dataset: Dataset) -> ArtistGraph:
    """The artist graph of ``dataset``. Refused (:class:`DatasetError`, naming the file) when
    the dataset has no ``artist_relations.csv``; a relation naming an artist without a track,
    a self-relation or a bad weight is an error naming its line."""
    path = dataset.root / RELATIONS_FILE
    col = artist_column(dataset)
    if not path.is_file():
        raise DatasetError(
            f"{path}: missing. The artist-relationship task needs the dataset's artist graph "
            f"({RELATIONS_FILE} with columns artist_a,artist_b,weight, naming artists as tracks.csv's "
            f"{col!r} column does); generated worlds write it, an importer must provide it")
    names = sorted({track_artist(dataset, t, col) for t in dataset.tracks})
    index = {a: i for i, a in enumerate(names)}
    best: dict[tuple[int, int], float] = {}
    for line, row in _read_table(path, ("artist_a", "artist_b")):
        where = f"{path}, line {line}"
        a, b = row["artist_a"], row["artist_b"]
        for field, name in (("artist_a", a), ("artist_b", b)):
            if name not in index:
                raise DatasetError(f"{where}: {field} {name!r} has no track in tracks.csv (column {col!r})")
        if a == b:
            raise DatasetError(f"{where}: artist {a!r} related to itself")
        raw = row.get("weight") or "1"
        try:
            w = float(raw)
        except ValueError:
            raise DatasetError(f"{where}: weight {raw!r} is not a number") from None
        if not np.isfinite(w) or w <= 0:
            raise DatasetError(f"{where}: weight {w} must be a finite number > 0")
        i, j = sorted((index[a], index[b]))
        best[i, j] = max(best.get((i, j), 0.0), w)
    keys = sorted(best)
    edges = np.asarray(keys, dtype=np.int64).reshape(-1, 2)
    return ArtistGraph(tuple(names), edges, np.asarray([best[k] for k in keys], dtype=np.float64), col)


# ----------------------------------------------------------------------------- split
@dataclass(frozen=True)
class ArtistSplit:
    """Node indices of each split (sorted, disjoint, covering every artist)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    source: str  # "artist_splits.csv" or "seeded draw ..."

    def of(self, split: str) -> np.ndarray:
        if split not in ARTIST_SPLITS:
            raise ValueError(f"unknown artist split {split!r} (known: {', '.join(ARTIST_SPLITS)})")
        return getattr(self, split)

    def labels(self, n: int) -> np.ndarray:
        """``[n]`` array of split names per node."""
        out = np.empty(n, dtype=object)
        for s in ARTIST_SPLITS:
            out[self.of(s)] = s
        return out


def split_artists(graph: ArtistGraph, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  seed: int = 0, dataset: Dataset | None = None) -> ArtistSplit:
    """Artists into train / valid / test. A dataset with ``artist_splits.csv`` (columns
    ``artist,split``; every artist exactly once) fixes the allocation, as OLGA's does;
    otherwise a permutation seeded by ``seed`` takes ``fractions`` of the artists."""
    if dataset is not None and (dataset.root / SPLITS_FILE).is_file():
        path = dataset.root / SPLITS_FILE
        index = graph.index()
        where_of: dict[int, str] = {}
        for line, row in _read_table(path, ("artist", "split")):
            a, s = row["artist"], row["split"]
            if a not in index:
                raise DatasetError(f"{path}, line {line}: artist {a!r} has no track in tracks.csv")
            if s not in ARTIST_SPLITS:
                raise DatasetError(f"{path}, line {line}: split {s!r} not one of {ARTIST_SPLITS}")
            if index[a] in where_of:
                raise DatasetError(f"{path}, line {line}: artist {a!r} listed twice")
            where_of[index[a]] = s
        lacking = [graph.artists[i] for i in range(graph.n) if i not in where_of]
        if lacking:
            raise DatasetError(f"{path}: {len(lacking)} artist(s) without a split, e.g. {lacking[0]!r}")
        parts = {s: np.asarray(sorted(i for i, x in where_of.items() if x == s), dtype=np.int64)
                 for s in ARTIST_SPLITS}
        return ArtistSplit(parts["train"], parts["valid"], parts["test"], SPLITS_FILE)
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f <= 0).any() or abs(f.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions {fractions}: three positive numbers summing to 1")
    perm = np.random.default_rng([int(seed), 0xA27]).permutation(graph.n)
    n_valid, n_test = round(graph.n * f[1]), round(graph.n * f[2])
    valid, test = perm[:n_valid], perm[n_valid:n_valid + n_test]
    train = perm[n_valid + n_test:]
    return ArtistSplit(np.sort(train), np.sort(valid), np.sort(test),
                       f"seeded draw (seed {seed}, fractions {tuple(float(x) for x in f)})")


# ----------------------------------------------------------------------------- graphs
@dataclass(frozen=True)
class TaskGraph:
    """A graph message passing may use. ``nodes[k]`` is the global artist index of local
    node ``k``; ``edge_index`` ([2, M], local, both directions of each visible edge) is
    all that a model may propagate over. ``queries`` are the local indices of the evaluated
    artists (training graph: none) and ``targets[q]`` the local indices of the hidden
    relations of ``queries[q]``."""

    nodes: np.ndarray
    edge_index: np.ndarray
    queries: np.ndarray
    targets: tuple[np.ndarray, ...]

    @property
    def n(self) -> int:
        return len(self.nodes)


def _both_directions(edges: np.ndarray) -> np.ndarray:
    if len(edges) == 0:
        return np.zeros((2, 0), dtype=np.int64)
    return np.concatenate([edges.T, edges[:, ::-1].T], axis=1).astype(np.int64)


def _local(nodes: np.ndarray, edges: np.ndarray, n_total: int) -> np.ndarray:
    pos = np.full(n_total, -1, dtype=np.int64)
    pos[nodes] = np.arange(len(nodes))
    return pos[edges]


def training_graph(graph: ArtistGraph, split: ArtistSplit) -> TaskGraph:
    """Train artists and the edges among them only."""
    nodes = split.train
    inside = np.zeros(graph.n, dtype=bool)
    inside[nodes] = True
    keep = inside[graph.edges].all(axis=1)
    local = _local(nodes, graph.edges[keep], graph.n)
    return TaskGraph(nodes, _both_directions(local), np.zeros(0, dtype=np.int64), ())


def evaluation_graph(graph: ArtistGraph, split: ArtistSplit, which: str) -> TaskGraph:
    """Train artists + the artists of ``which`` (``valid`` or ``test``); visible edges:
    train–train and ``which``–train. The ``which``–``which`` edges are hidden: they are the
    queries' targets. Edges touching the other evaluation split are left out entirely."""
    if which not in ("valid", "test"):
        raise ValueError(f"evaluate on 'valid' or 'test', not {which!r}")
    ev = split.of(which)
    nodes = np.concatenate([split.train, ev])
    role = np.zeros(graph.n, dtype=np.int8)  # 0 absent, 1 train, 2 evaluated
    role[split.train] = 1
    role[ev] = 2
    r = role[graph.edges]
    visible = (r > 0).all(axis=1) & ~((r == 2).all(axis=1))
    hidden = (r == 2).all(axis=1)
    local_visible = _local(nodes, graph.edges[visible], graph.n)
    local_hidden = _local(nodes, graph.edges[hidden], graph.n)
    queries = np.arange(len(split.train), len(nodes), dtype=np.int64)
    targets: list[list[int]] = [[] for _ in range(len(nodes))]
    for a, b in local_hidden:
        targets[int(a)].append(int(b))
        targets[int(b)].append(int(a))
    return TaskGraph(nodes, _both_directions(local_visible), queries,
                     tuple(np.asarray(sorted(targets[int(q)]), dtype=np.int64) for q in queries))


# ----------------------------------------------------------------------------- metric
@dataclass(frozen=True)
class Scores:
    """NDCG@k of each query artist that has hidden relations (the others have no defined
    value and are counted only)."""

    ndcg: np.ndarray
    query_nodes: np.ndarray  # global artist index of each value
    k: int  # the cutoff used: min(requested k, number of candidates)
    n_queries: int  # evaluated artists
    n_with_targets: int
    n_candidates: int
    n_targets: int  # hidden relations (each counted once)

    @property
    def mean(self) -> float:
        return float(self.ndcg.mean()) if len(self.ndcg) else float("nan")


def rank_and_score(embeddings: np.ndarray, g: TaskGraph, k: int = 200) -> Scores:
    """Rank, for every query artist, the other query artists by Euclidean distance of
    ``embeddings`` (``[g.n, d]``, local order) and score NDCG@k against its hidden relations.
    Candidates: every evaluated artist but the query; ``k`` is capped by their number."""
    q = g.queries
    if len(q) < 2:
        raise ValueError(f"{len(q)} evaluated artist(s): ranking needs at least 2")
    x = np.asarray(embeddings, dtype=np.float64)[q]
    sq = (x * x).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * x @ x.T
    np.fill_diagonal(d2, np.inf)
    n_cand = len(q) - 1
    k_eff = min(int(k), n_cand)
    order = np.argsort(d2, axis=1, kind="stable")[:, :k_eff]  # positions among the queries
    # relation[i, j]: query j is a hidden relation of query i (positions among the queries)
    pos = np.full(g.n, -1, dtype=np.int64)
    pos[q] = np.arange(len(q))
    relation = np.zeros((len(q), len(q)), dtype=bool)
    rows = np.repeat(np.arange(len(q)), [len(t) for t in g.targets])
    cols = pos[np.concatenate([np.asarray(t, dtype=np.int64) for t in g.targets])] if len(rows) else rows
    if (cols < 0).any():
        raise ValueError("a hidden relation names a node that is not a query")
    relation[rows, cols] = True
    n_gt = relation.sum(axis=1)
    has = n_gt > 0
    hits = np.take_along_axis(relation[has], order[has], axis=1)  # every query at once
    values = ndcg_at_k(hits, n_gt[has], k_eff) if has.any() else np.zeros(0)
    return Scores(values, g.nodes[q[has]], k_eff, len(q), int(has.sum()), n_cand,
                  int(sum(len(t) for t in g.targets) // 2))


def graph_summary(graph: ArtistGraph, split: ArtistSplit) -> dict[str, float | int]:
    """Sizes and degrees: what the docs and each record report about the graph."""
    deg = graph.degrees()
    out: dict[str, float | int] = {
        "artists": graph.n, "relations": len(graph.edges),
        "mean_degree": float(deg.mean()) if graph.n else 0.0,
        "median_degree": float(np.median(deg)) if graph.n else 0.0,
        "max_degree": int(deg.max()) if graph.n else 0,
        "isolated_artists": int((deg == 0).sum()),
    }
    for s in ARTIST_SPLITS:
        out[f"{s}_artists"] = len(split.of(s))
    out["train_edges"] = int(training_graph(graph, split).edge_index.shape[1] // 2)
    for s in ("valid", "test"):
        eg = evaluation_graph(graph, split, s)
        hidden = [len(t) for t in eg.targets]
        out[f"{s}_hidden_relations"] = int(sum(hidden) // 2)
        out[f"{s}_hidden_per_artist"] = float(np.mean(hidden)) if hidden else 0.0
        out[f"{s}_artists_with_targets"] = int(sum(h > 0 for h in hidden))
        out[f"{s}_visible_edges"] = int(eg.edge_index.shape[1] // 2)
    return out


# ----------------------------------------------------------------------------- leakage
def artist_tracks(dataset: Dataset, column: str | None = None) -> dict[str, list[str]]:
    """Track ids of every artist (file order)."""
    col = column or artist_column(dataset)
    out: dict[str, list[str]] = {}
    for tid in dataset.tracks:
        out.setdefault(track_artist(dataset, tid, col), []).append(tid)
    return out


def without_artists(dataset: Dataset, artists: Iterable[str], column: str | None = None) -> Dataset:
    """A view of ``dataset`` without any track of ``artists`` (every split, pretrain too):
    the tracks leave ``tracks`` and every playlist; a playlist left with fewer than two
    tracks is dropped. The view has its own content hash (the original's and the removed
    artists'), so caches never mix it up with the full dataset; audio is read from the
    same folder. This is what an encoder that trains on the dataset is fitted on in the
    artist task: no evaluation artist's track may reach its training."""
    col = column or artist_column(dataset)
    drop = set(artists)
    view = copy.copy(dataset)
    view.tracks = {t: tr for t, tr in dataset.tracks.items() if track_artist(dataset, t, col) not in drop}
    view.playlists, view.playlist_split = {}, {}
    for pid, tids in dataset.playlists.items():
        kept = [t for t in tids if t in view.tracks]
        if len(kept) >= 2:
            view.playlists[pid] = kept
            view.playlist_split[pid] = dataset.playlist_split[pid]
    h = hashlib.sha256(dataset.content_hash.encode())
    h.update(b"\0without-artists\0" + col.encode())
    for a in sorted(drop):
        h.update(a.encode("utf-8") + b"\0")
    view.manifest = {**dataset.manifest, "content_hash": h.hexdigest(),
                     "derived": {"from": dataset.content_hash, "without_artists": len(drop), "column": col}}
    return view


# ----------------------------------------------------------------------------- declaration
TRACK_CHOICES = ("one", "mean")


@dataclass(frozen=True)
class ArtistTask:
    """What the artist-relationship study runs (``Study.task``; the harness reads it).

    ``features`` are feature-set labels: ``random``, ``tags``, an encoder name, or parts
    joined by ``+`` (concatenation); ``*`` stands for every encoder registered for the
    profile. ``figure`` lists the feature sets drawn as lines of the figure."""

    datasets: tuple[str, ...]
    features: tuple[str, ...]
    figure: tuple[str, ...] = ()
    layers: tuple[int, ...] = (0, 1, 2, 3, 4)
    seeds: tuple[int, ...] = (0, 1, 2)
    #: the dataset size built for each profile (``(profile, size)`` pairs)
    sizes: tuple[tuple[str, str], ...] = (("ci", "ci"), ("quick", "artists"), ("paper", "artists"))
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    k: int = 200
    #: ``one``: the embedding of one track per artist (:func:`chosen_tracks`); ``mean``: the
    #: mean over all the artist's tracks
    track_choice: str = "one"
    #: the grid's encoder seed for the embeddings (the task's seeds vary the GNN)
    encoder_seed: int = 0
    #: :class:`benchmark.core.artist_gnn.GNNConfig` overrides as ``(field, value)`` pairs
    model: tuple[tuple[str, object], ...] = ()
    #: encoder config overrides: ``(encoder, ((key, value), ...))`` pairs, e.g. the file of
    #: the ``precomputed`` encoder: ``(("precomputed", (("path", "olga.safetensors"),)),)``
    encoder_config: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()

    def size(self, profile: str) -> str:
        sizes = dict(self.sizes)
        if profile not in sizes:
            raise ValueError(f"the artist task declares no dataset size for profile {profile!r} "
                             f"(it has {', '.join(sizes)})")
        return sizes[profile]


def chosen_tracks(dataset: Dataset, graph: ArtistGraph) -> list[str]:
    """One track per artist (graph order): the artist's track that is in the most playlists
    of the dataset (any split; a pre-training-pool track is in none), ties broken by the
    smallest track id. Deterministic, and blind to which playlists: counts only."""
    count: dict[str, int] = {}
    for tids in dataset.playlists.values():
        for t in tids:
            count[t] = count.get(t, 0) + 1
    by_artist = artist_tracks(dataset, graph.column)
    return [min(by_artist[a], key=lambda t: (-count.get(t, 0), t)) for a in graph.artists]


def chance_ndcg(n_targets: Sequence[int], n_candidates: int, k: int) -> float:
    """Expected NDCG@k of a uniformly random ranking (mean over queries with targets): each
    rank holds a target with probability ``|T| / n_candidates``."""
    k = min(k, n_candidates)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    vals = [(t / n_candidates) * disc.sum() / disc[:min(t, k)].sum() for t in n_targets if t > 0]
    return float(np.mean(vals)) if vals else float("nan")
