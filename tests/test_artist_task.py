"""The artist-relationship task (docs/artist-gnn.md): the OLGA split never lets a hidden
evaluation–evaluation relation into message passing, NDCG@200 against hand-computed values,
the 0-layer model ignores the graph, and no evaluation artist's track reaches the training
of an encoder that trains on the dataset."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.artist_graph import (
    ArtistGraph,
    ArtistSplit,
    ArtistTask,
    TaskGraph,
    chance_ndcg,
    chosen_tracks,
    evaluation_graph,
    load_artist_graph,
    rank_and_score,
    split_artists,
    training_graph,
    without_artists,
)
from benchmark.core.dataset import Dataset, DatasetError, Track, write_dataset


def _graph(n: int, pairs: list[tuple[int, int]]) -> ArtistGraph:
    return ArtistGraph(tuple(f"a{i}" for i in range(n)), np.asarray(sorted(pairs), dtype=np.int64).reshape(-1, 2),
                       np.ones(len(pairs)))


def _split(train: list[int], valid: list[int], test: list[int]) -> ArtistSplit:
    return ArtistSplit(*(np.asarray(x, dtype=np.int64) for x in (train, valid, test)), "hand-made")


def _pairs(g: TaskGraph) -> set[tuple[int, int]]:
    """The global (sorted) relations message passing may use in ``g``."""
    src, dst = g.nodes[g.edge_index[0]], g.nodes[g.edge_index[1]]
    return {(int(min(a, b)), int(max(a, b))) for a, b in zip(src, dst)}


# ----------------------------------------------------------------------------- split
# train 0,1,2,3; valid 4,5; test 6,7,8
HAND = _graph(9, [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (1, 5), (2, 6), (6, 7), (7, 8), (3, 8), (6, 8),
                  (4, 6), (5, 7)])
HAND_SPLIT = _split([0, 1, 2, 3], [4, 5], [6, 7, 8])


def test_training_graph_holds_train_artists_and_their_edges_only():
    g = training_graph(HAND, HAND_SPLIT)
    assert sorted(g.nodes.tolist()) == [0, 1, 2, 3]
    assert _pairs(g) == {(0, 1), (1, 2), (2, 3)}
    assert g.edge_index.shape[1] == 6  # both directions


def test_evaluation_graph_hides_every_evaluation_evaluation_edge():
    test = evaluation_graph(HAND, HAND_SPLIT, "test")
    assert sorted(test.nodes.tolist()) == [0, 1, 2, 3, 6, 7, 8]
    # visible: train-train + test-train; hidden: 6-7, 7-8, 6-8; valid-test (4-6, 5-7) left out
    assert _pairs(test) == {(0, 1), (1, 2), (2, 3), (2, 6), (3, 8)}
    targets = {int(test.nodes[q]): sorted(test.nodes[t].tolist()) for q, t in zip(test.queries, test.targets)}
    assert targets == {6: [7, 8], 7: [6, 8], 8: [6, 7]}
    valid = evaluation_graph(HAND, HAND_SPLIT, "valid")
    assert _pairs(valid) == {(0, 1), (1, 2), (2, 3), (0, 4), (1, 5)}
    assert {int(valid.nodes[q]): valid.nodes[t].tolist() for q, t in zip(valid.queries, valid.targets)} == {
        4: [5], 5: [4]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_hidden_edge_in_message_passing_on_a_random_graph(seed):
    rng = np.random.default_rng(seed)
    pairs = {tuple(sorted(map(int, rng.choice(60, 2, replace=False)))) for _ in range(400)}
    g = _graph(60, sorted(pairs))
    split = split_artists(g, (0.6, 0.2, 0.2), seed=seed)
    assert sorted(np.concatenate([split.train, split.valid, split.test]).tolist()) == list(range(60))
    labels = split.labels(60)
    for which in ("valid", "test"):
        eg = evaluation_graph(g, split, which)
        for a, b in _pairs(eg):
            assert "train" in (labels[a], labels[b]), f"{which}: {a}-{b} joins two evaluation artists"
            assert {labels[a], labels[b]} <= {"train", which}
        hidden = {(a, b) for a, b in pairs if labels[a] == labels[b] == which}
        got = {(int(min(eg.nodes[q], eg.nodes[t])), int(max(eg.nodes[q], eg.nodes[t])))
               for q, ts in zip(eg.queries, eg.targets) for t in ts}
        assert got == hidden


# ----------------------------------------------------------------------------- NDCG
def test_ndcg_against_a_hand_computed_case():
    # queries 0..3 (all evaluated), one dimension: positions 0, 1, 3, 10
    g = TaskGraph(nodes=np.arange(4), edge_index=np.zeros((2, 0), dtype=np.int64), queries=np.arange(4),
                  targets=(np.array([3]), np.array([2, 3]), np.array([1]), np.array([], dtype=np.int64)))
    emb = np.array([[0.0], [1.0], [3.0], [10.0]])
    s = rank_and_score(emb, g, k=200)
    # query 0 ranks 1 (d1), 2 (d3), 3 (d10): target 3 at rank 3 -> 1/log2(4) = 0.5
    # query 1 ranks 0 (d1), 2 (d2), 3 (d9): targets at ranks 2, 3 -> (1/log2 3 + 1/2) / (1 + 1/log2 3)
    # query 2 ranks 1 (d2), 0 (d3), 3 (d7): target 1 at rank 1 -> 1
    q1 = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert s.k == 3 and s.n_candidates == 3 and s.n_queries == 4 and s.n_with_targets == 3
    assert s.ndcg.tolist() == pytest.approx([0.5, q1, 1.0])
    assert s.mean == pytest.approx((0.5 + q1 + 1.0) / 3)
    assert s.n_targets == 2  # target lists hold 4 entries: each relation is listed from both ends
    assert rank_and_score(emb, g, k=1).ndcg.tolist() == pytest.approx([0.0, 0.0, 1.0])


def test_chance_level_matches_random_rankings():
    rng = np.random.default_rng(0)
    n, k = 40, 10
    targets = tuple(np.sort(rng.choice(np.setdiff1d(np.arange(n), [i]), 3, replace=False)) for i in range(n))
    g = TaskGraph(np.arange(n), np.zeros((2, 0), dtype=np.int64), np.arange(n), targets)
    sims = [rank_and_score(rng.standard_normal((n, 8)), g, k=k).mean for _ in range(400)]
    assert np.mean(sims) == pytest.approx(chance_ndcg([3] * n, n - 1, k), abs=0.01)


# ----------------------------------------------------------------------------- model
def test_zero_layer_model_ignores_the_graph_and_sage_reads_it():
    torch = pytest.importorskip("torch")
    from benchmark.core.artist_gnn import GNNConfig, adjacency, build_model

    rng = np.random.default_rng(0)
    pairs = sorted({tuple(sorted(map(int, rng.choice(30, 2, replace=False)))) for _ in range(80)})
    g = training_graph(_graph(30, pairs), _split(list(range(30)), [], []))
    perm = rng.permutation(30)
    shuffled = TaskGraph(g.nodes, perm[g.edge_index], g.queries, g.targets)
    x = torch.from_numpy(rng.standard_normal((30, 6)).astype(np.float32))
    mlp = build_model(6, GNNConfig(layers=0))
    assert torch.equal(mlp(x, adjacency(g)), mlp(x, adjacency(shuffled)))
    pytest.importorskip("torch_geometric")
    sage = build_model(6, GNNConfig(layers=2))
    assert not torch.allclose(sage(x, adjacency(g)), sage(x, adjacency(shuffled)))
    # the sparse adjacency aggregates as the edge list does
    assert torch.allclose(sage(x, adjacency(g)), sage(x, torch.from_numpy(g.edge_index)), atol=1e-6)


def test_precomputed_mean_operator_matches_sageconv_forward_and_gradients():
    """The fast path (a fixed sparse mean operator with a precomputed transpose, and the first
    layer's neighbour mean of the inputs computed once) gives SAGEConv's own outputs and
    gradients, including for a node without neighbours."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_geometric")
    from benchmark.core.artist_gnn import GNNConfig, MeanAggregation, build_model

    rng = np.random.default_rng(1)
    pairs = sorted({tuple(sorted(map(int, rng.choice(29, 2, replace=False)))) for _ in range(70)})
    g = training_graph(_graph(30, pairs), _split(list(range(30)), [], []))  # node 29 has no edge
    assert 29 not in g.edge_index
    x = torch.from_numpy(rng.standard_normal((30, 5)).astype(np.float32))
    model = build_model(5, GNNConfig(layers=3, hidden=8, out_dim=4))
    op = MeanAggregation.of(g)
    # the mean by hand, from the edge list
    by_hand = torch.zeros(30, 5)
    for i in range(30):
        src = g.edge_index[0][g.edge_index[1] == i]
        if len(src):
            by_hand[i] = x[src].mean(dim=0)
    assert torch.allclose(op(x), by_hand, atol=1e-6)
    weights = torch.from_numpy(rng.standard_normal((30, 4)).astype(np.float32))
    fast = model(x, op, op(x))
    (fast * weights).sum().backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ref = model(x, torch.from_numpy(g.edge_index))
    (ref * weights).sum().backward()
    assert torch.allclose(fast, ref, atol=1e-5)
    for got, want in zip(fast_grads, (p.grad for p in model.parameters())):
        assert torch.allclose(got, want, atol=1e-5)


def test_training_learns_a_graph_with_informative_features():
    pytest.importorskip("torch_geometric")
    from benchmark.core.artist_gnn import GNNConfig, train_and_evaluate

    rng = np.random.default_rng(0)
    n, clusters = 200, 10
    c = rng.integers(0, clusters, n)
    pairs = sorted({(int(min(a, b)), int(max(a, b))) for a in range(n)
                    for b in rng.choice(np.flatnonzero(c == c[a]), 4) if a != b})
    g = _graph(n, pairs)
    split = split_artists(g, (0.6, 0.2, 0.2), seed=0)
    feats = np.eye(clusters)[c] + 0.3 * rng.standard_normal((n, clusters))
    cfg = GNNConfig(layers=1, hidden=32, out_dim=16, steps=60, eval_every=20)
    got = train_and_evaluate(feats, g, split, cfg, seed=0)
    eg = evaluation_graph(g, split, "test")
    chance = chance_ndcg([len(t) for t in eg.targets], len(eg.queries) - 1, 200)
    assert got["test"].mean > chance + 0.2
    again = train_and_evaluate(feats, g, split, cfg, seed=0)
    assert again["test"].mean == pytest.approx(got["test"].mean)  # seeded


# ----------------------------------------------------------------------------- datasets
def _dataset(root: Path, relations: bool = True, canonical: bool = False) -> Dataset:
    import soundfile as sf

    (root / "audio").mkdir(parents=True)
    tracks, playlists = [], []
    artists = [f"Art{i}" for i in range(8)]
    for i in range(32):
        sf.write(root / f"audio/{i}.wav", np.zeros(800, dtype=np.float32), 8000)
        a = artists[i % 8]
        split = ("train", "valid", "test", "pretrain")[(i // 8) % 4]
        extra = {"genre": "rock" if i % 2 else "jazz", "tempo": str(70 + 3 * i), "scale": "major",
                 **({"canonical_artist": a} if canonical else {})}
        tracks.append(Track(f"t{i:02d}", f"Song {i}", f"{a} (alias)" if canonical else a, "Album", f"audio/{i}.wav",
                            0.0, split, extra))
    for split in ("train", "valid", "test"):
        ids = [t.track_id for t in tracks if t.split == split]
        playlists += [(f"{split}0", split, ids[:5]), (f"{split}1", split, ids[3:])]
    rel = [(artists[i], artists[j], 1.0) for i in range(8) for j in range(i + 1, 8) if (i + j) % 3 == 0]
    write_dataset(root, name="artists-test", source="test", sample_rate=8000, clip_seconds=0.1, tracks=tracks,
                  playlists=playlists, artist_relations=rel if relations else None,
                  extra_columns=("genre", "tempo", "scale", *(("canonical_artist",) if canonical else ())))
    return Dataset(root)


def test_a_dataset_without_relations_is_refused_naming_the_file(tmp_path):
    ds = _dataset(tmp_path / "d", relations=False)
    with pytest.raises(DatasetError, match=r"artist_relations\.csv: missing.*artist graph"):
        load_artist_graph(ds)


def test_canonical_artist_names_the_nodes_when_present(tmp_path):
    ds = _dataset(tmp_path / "d", canonical=True)
    g = load_artist_graph(ds)
    assert g.column == "canonical_artist" and g.artists == tuple(f"Art{i}" for i in range(8))
    plain = load_artist_graph(_dataset(tmp_path / "e"))
    assert plain.column == "artist" and len(plain.edges) == len(g.edges)


def test_chosen_track_is_the_artists_most_playlisted_then_smallest_id(tmp_path):
    ds = _dataset(tmp_path / "d")
    g = load_artist_graph(ds)
    counts: dict[str, int] = {}
    for tids in ds.playlists.values():
        for t in tids:
            counts[t] = counts.get(t, 0) + 1
    for artist, t in zip(g.artists, chosen_tracks(ds, g)):
        mine = sorted(tid for tid, tr in ds.tracks.items() if tr.artist == artist)
        best = max(counts.get(x, 0) for x in mine)
        assert t == min(x for x in mine if counts.get(x, 0) == best)


class _SpyEncoder:
    """Stands for an encoder that trains on the dataset: records every track it could see."""

    def __init__(self) -> None:
        from encoders.base import EncoderMeta

        self.meta = EncoderMeta(name="spy", version="1", description="spy", dim=3, sample_rate=None,
                                modalities=("none",), trains=True, trains_on="everything it is given",
                                weights="none", citation="")
        self.name, self.config = "spy", {}
        self.seen: set[str] = set()

    #: the split fit() selects on (``Encoder.selection_split``)
    selection_split = "valid"

    def cache_config(self):
        return {}

    def input_fingerprint(self):
        return {}

    def check_available(self):
        return None

    def fit(self, dataset, *, seed, workdir, validator=None):
        self.seen |= set(dataset.tracks)
        self.seen |= {t for tids in dataset.playlists.values() for t in tids}
        return {}

    def embed(self, dataset, track_ids):
        return np.asarray([[int(t[1:]), 1.0, 0.0] for t in track_ids], dtype=np.float32)


def test_no_evaluation_artists_track_reaches_a_trained_encoder(tmp_path, monkeypatch):
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache"))
    from benchmark.harness.artist_task import Features

    ds = _dataset(tmp_path / "d")
    g = load_artist_graph(ds)
    split = _split([0, 1, 2, 3, 4], [5], [6, 7])
    spy = _SpyEncoder()
    feats = Features(ds, g, split, ArtistTask(datasets=("x",), features=("spy",)), "ci", progress=False,
                     make_encoder=lambda name: spy)
    x, info = feats.part("spy", 0)
    evaluation = {g.artists[i] for i in (5, 6, 7)}
    assert spy.seen, "the encoder was fitted"
    assert not {t for t in spy.seen if ds.tracks[t].artist in evaluation}
    assert {t for t, tr in ds.tracks.items() if tr.artist not in evaluation} == spy.seen
    assert info["fitted_on"]["removed_tracks"] == sum(tr.artist in evaluation for tr in ds.tracks.values())
    # every artist still gets features: the embedding is of the full dataset's chosen track
    assert x.shape == (8, 3) and np.all(x[:, 1] == 1.0)


def test_without_artists_has_its_own_hash_and_drops_short_playlists(tmp_path):
    ds = _dataset(tmp_path / "d")
    view = without_artists(ds, ["Art0", "Art1", "Art2", "Art3", "Art4", "Art5"])
    assert view.content_hash != ds.content_hash
    assert all(view.tracks[t].artist in ("Art6", "Art7") for t in view.tracks)
    assert all(len(p) >= 2 and set(p) <= set(view.tracks) for p in view.playlists.values())
    assert len(ds.tracks) == 32  # the original is untouched


# ----------------------------------------------------------------------------- reports
def test_kendall_tau_and_agreement_against_hand_counts():
    from benchmark.reports.artist_gnn import agreement, kendall_tau

    # pairs of (1,2,3) vs (1,3,2): 2 concordant, 1 discordant -> (2 - 1) / 3
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    play = {e: ([f"p{i}" for i in range(4)], np.full(4, v)) for e, v in (("a", 0.1), ("b", 0.2), ("c", 0.3))}
    art = {e: (["x", "y"], np.full(2, v)) for e, v in (("a", 0.5), ("b", 0.4), ("c", 0.6))}
    res = agreement(play, art, n_boot=50)
    assert res is not None and res["tau"] == pytest.approx(1 / 3)
    assert res["ci95"] == pytest.approx((1 / 3, 1 / 3))  # constant per-unit values: no spread
    assert agreement({"a": play["a"]}, art) is None


def test_table_picks_the_best_layer_count_on_valid(tmp_path):
    from benchmark.core.results import write_record
    from benchmark.reports.artist_gnn import render_table

    graph = {"artists": 10, "relations": 20, "mean_degree": 4.0, "train_artists": 8, "valid_artists": 1,
             "test_artists": 1}
    ev = {"k": 5, "queries": 5, "queries_with_targets": 4, "candidates": 4, "hidden_relations": 3}
    for layers, valid, test in ((0, 0.2, 0.9), (1, 0.5, 0.4), (3, 0.3, 0.1)):
        for seed in (0, 1):
            write_record(tmp_path / "ci" / "artist-gnn" / f"L{layers}-{seed}.json", {
                "kind": "task", "task": "artist-gnn", "status": "ok", "graph": graph, "evaluation": ev,
                "cell": {"task": "artist-gnn", "dataset": "d", "features": "random", "layers": layers, "seed": seed},
                "metrics": {"ndcg@200": test + 0.01 * seed, "valid_ndcg@200": valid, "chance": 0.05},
                "per_query": {"artists": ["x"], "ndcg@200": [test]}})
    table = render_table(tmp_path, "ci", n_boot=10)
    row = next(line for line in table.splitlines() if line.startswith("| random"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "1"  # best on valid, not on test
    assert cells[2] == f"0.405 ± {np.std([0.40, 0.41], ddof=1):.3f}"
    assert cells[3].startswith("0.905") and cells[4].startswith("0.105")


def test_study_run_writes_task_records_reuses_them_and_renders(tmp_path, tiny_dataset):
    pytest.importorskip("torch_geometric")
    from benchmark.core.results import iter_records
    from benchmark.core.study import Output, Study
    from benchmark.harness.studies import run_study
    from benchmark.reports.studies import render_study

    task = ArtistTask(datasets=("synth-mpd",), features=("random", "tags", "melstats+tags"), layers=(0, 1),
                      seeds=(0,), sizes=(("ci", "tiny"),), model=(("steps", 20), ("eval_every", 10)))
    study = Study(name="mini-artists", title="mini", measure="benchmark.harness.artist_task:measure", task=task,
                  outputs=(Output("artist_gnn.md", "benchmark.reports.artist_gnn:write_table"),
                           Output("artist_gnn.png", "benchmark.reports.artist_gnn:write_figure")))
    out = run_study(study, "ci", tmp_path, progress=False, fail_fast=True)
    assert len(out["ok"]) == 6 and not out["failed"]
    recs = list(iter_records(tmp_path, "ci", kinds=("task",)))
    assert len(recs) == 6 and all(r["evaluation"]["queries"] >= 2 for r in recs)
    mel = next(r for r in recs if r["cell"]["features"] == "melstats+tags")
    assert mel["features"]["parts"][0]["fitted_on"]["removed_tracks"] > 0  # melstats trains: artist-disjoint
    again = run_study(study, "ci", tmp_path, progress=False, fail_fast=True)
    assert len(again["cached"]) == 6 and not again["ok"]
    rendered = dict(render_study(study, "ci", tmp_path))
    assert "melstats+tags" in rendered[tmp_path / "ci" / "artist_gnn.md"]
    assert (tmp_path / "ci" / "artist_gnn.png").stat().st_size > 0


def test_gnn_runs_in_worker_processes_give_the_same_records(tmp_path, tiny_dataset):
    """``jobs=2`` trains the runs in spawned workers: every metric, curve and loss equals the
    one-process run's (each run is single-threaded and seeded by its cell)."""
    pytest.importorskip("torch_geometric")
    from benchmark.core.results import iter_records
    from benchmark.core.study import Study
    from benchmark.harness.artist_task import measure

    task = ArtistTask(datasets=("synth-mpd",), features=("random", "tags"), layers=(0, 2), seeds=(0,),
                      sizes=(("ci", "tiny"),), model=(("steps", 10), ("eval_every", 5)))
    study = Study(name="mini-artists", title="mini", measure="benchmark.harness.artist_task:measure", task=task)

    def run(where: Path, jobs: int) -> dict[tuple, dict]:
        out = measure(study, "ci", where, progress=False, fail_fast=True, jobs=jobs)
        assert len(out["ok"]) == 4 and not out["failed"]
        return {(r["cell"]["features"], r["cell"]["layers"]): r for r in iter_records(where, "ci", kinds=("task",))}

    one, two = run(tmp_path / "one", 1), run(tmp_path / "two", 2)
    assert one.keys() == two.keys()
    for cell, rec in one.items():
        other = two[cell]
        assert rec["cell_key"] == other["cell_key"]
        assert rec["metrics"] == other["metrics"], cell
        assert rec["training"] == other["training"], cell
        assert rec["per_query"] == other["per_query"], cell


def test_an_unavailable_encoder_is_recorded_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache"))
    from benchmark.core.results import read_record
    from benchmark.harness.artist_task import Features, run_one
    from encoders.base import EncoderUnavailable

    class Missing(_SpyEncoder):
        def check_available(self):
            raise EncoderUnavailable("encoder 'spy' needs the file vectors.npy")

    ds = _dataset(tmp_path / "d")
    g = load_artist_graph(ds)
    feats = Features(ds, g, split_artists(g, seed=0, fractions=(0.5, 0.25, 0.25)),
                     ArtistTask(datasets=("x",), features=("spy",)), "ci", progress=False,
                     make_encoder=lambda name: Missing())
    status, path = run_one(feats, "random+spy", 0, 0, dataset_label="d", profile="ci", results_dir=tmp_path / "r")
    rec = read_record(path)
    assert status == "unavailable" and rec.status == "unavailable" and "vectors.npy" in rec["reason"]


def test_neighbour_sampling_keeps_at_most_fanout_existing_edges_per_node():
    from benchmark.core.artist_gnn import sample_neighbours

    rng = np.random.default_rng(0)
    pairs = sorted({tuple(sorted(map(int, rng.choice(40, 2, replace=False)))) for _ in range(300)})
    g = training_graph(_graph(40, pairs), _split(list(range(40)), [], []))
    got = sample_neighbours(rng, g.edge_index, 3)
    full_in = np.bincount(g.edge_index[1], minlength=40)
    assert np.array_equal(np.bincount(got[1], minlength=40), np.minimum(full_in, 3))
    edges = set(map(tuple, g.edge_index.T.tolist()))
    assert set(map(tuple, got.T.tolist())) <= edges


def test_an_encoder_that_reads_the_artist_graph_is_refused_as_features(tmp_path, monkeypatch):
    """oracle-relations embeds a track from artist_relations.csv, hidden relations included:
    as features it would hand the targets to the model, so the task records it unavailable
    (and the leak is real: a test artist's vector has a coordinate of its hidden relation)."""
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache"))
    from benchmark.core.results import read_record
    from benchmark.harness.artist_task import Features, run_one
    from encoders import REGISTRY

    ds = _dataset(tmp_path / "d", canonical=True)
    g = load_artist_graph(ds)
    split = _split([1, 2, 4, 5], [6, 7], [0, 3])  # Art0-Art3 is a relation: hidden, a target
    assert (0, 3) in set(map(tuple, g.edges.tolist()))
    a, b = "Art0", "Art3"
    enc = REGISTRY.get("oracle-relations")()
    track = next(t for t, tr in ds.tracks.items() if tr.extra["canonical_artist"] == a)
    vec = enc.embed(ds, [track])[0]
    assert vec[g.index()[b]] > 0  # the hidden relation a-b is in a's vector
    feats = Features(ds, g, split, ArtistTask(datasets=("x",), features=("oracle-relations",)), "ci",
                     progress=False)
    status, path = run_one(feats, "oracle-relations", 0, 0, dataset_label="d", profile="ci",
                           results_dir=tmp_path / "r")
    rec = read_record(path)
    assert status == "unavailable" and "hidden evaluation-evaluation relations" in rec["reason"]


def test_a_trained_encoder_whose_config_leaves_the_selection_split_unset(tmp_path, monkeypatch):
    """LARP's config holds ``selection_split: None`` ("from the model config"): the artist task's
    fit on the artist-disjoint view asks the encoder which split it selects on (it failed with
    "queries are built on a cold split, not 'None'")."""
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache"))
    from benchmark.harness.artist_task import Features

    class _Unset(_SpyEncoder):
        selection_split = "valid"

        def __init__(self):
            super().__init__()
            self.config = {"selection_split": None}
            self.validators = []

        def fit(self, dataset, *, seed, workdir, validator=None):
            self.validators.append(validator)
            return super().fit(dataset, seed=seed, workdir=workdir, validator=validator)

    ds = _dataset(tmp_path / "d")
    g = load_artist_graph(ds)
    spy = _Unset()
    feats = Features(ds, g, _split([0, 1, 2, 3, 4], [5], [6, 7]), ArtistTask(datasets=("x",), features=("spy",)),
                     "ci", progress=False, make_encoder=lambda name: spy)
    x, _ = feats.part("spy", 0)
    assert x.shape == (8, 3) and len(spy.validators) == 1 and callable(spy.validators[0])
