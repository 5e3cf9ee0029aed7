"""Ranking (masking, ties) and the cold-start query protocol."""

import numpy as np

from benchmark.core.protocol import build_queries, n_seeds
from benchmark.core.ranking import rank, topk_masked


def test_topk_masks_and_orders():
    scores = np.array([[0.1, 0.9, 0.5, 0.7, 0.3]])
    top = topk_masked(scores, [np.array([1])], 3)
    assert top.tolist() == [[3, 2, 4]]


def test_ties_broken_by_lower_index():
    scores = np.array([[1.0, 2.0, 2.0, 2.0, 0.0]])
    assert topk_masked(scores, [np.array([], dtype=int)], 2).tolist() == [[1, 2]]
    assert topk_masked(scores, [np.array([2])], 3).tolist() == [[1, 3, 0]]
    # all equal: plain index order
    assert topk_masked(np.zeros((1, 6)), [np.array([0])], 4).tolist() == [[1, 2, 3, 4]]


def test_fewer_candidates_than_k_padded():
    top = topk_masked(np.array([[3.0, 2.0, 1.0]]), [np.array([0])], 4)
    assert top.tolist() == [[1, 2, -1, -1]]


def test_rank_matches_bruteforce():
    rng = np.random.default_rng(0)
    cands = rng.normal(size=(300, 8)).astype(np.float32)
    seeds = [rng.choice(300, size=rng.integers(1, 10), replace=False) for _ in range(37)]

    def score(seed_idx, vecs):
        return np.stack([vecs[s].sum(0) @ vecs.T for s in seed_idx])

    got = rank(score, seeds, cands, k=20, batch_size=8)
    for q, s in enumerate(seeds):
        sc = cands[s].sum(0) @ cands.T
        sc[s] = -np.inf
        expected = sorted(range(300), key=lambda i: (-sc[i], i))[:20]
        assert got[q].tolist() == expected


def test_n_seeds_python_round():
    assert [n_seeds(n) for n in (2, 3, 5, 11, 12, 101)] == [1, 2, 2, 6, 6, 50]


def test_queries_follow_protocol(tiny_dataset):
    q = build_queries(tiny_dataset, "test", shuffle_seed=0)
    assert q.candidate_ids == tiny_dataset.track_ids("test")
    assert len(q) == len(tiny_dataset.playlist_ids("test"))
    for pid, s, g in zip(q.playlist_ids, q.seeds, q.ground_truth):
        tracks = tiny_dataset.playlists[pid]
        assert len(s) == round(len(tracks) / 2)
        assert len(s) + len(g) == len(tracks)
        assert {q.candidate_ids[i] for i in np.concatenate([s, g])} == set(tracks)
        assert not set(s) & set(g)
    # deterministic for a seed; another seed reshuffles
    q2 = build_queries(tiny_dataset, "test", shuffle_seed=0)
    assert all((a == b).all() for a, b in zip(q.seeds, q2.seeds))
    q3 = build_queries(tiny_dataset, "test", shuffle_seed=1)
    assert any(set(a) != set(b) for a, b in zip(q.seeds, q3.seeds))


def test_topk_equals_bruteforce_with_heavy_ties():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m, k = 4, int(rng.integers(1, 60)), int(rng.integers(1, 45))
        s = rng.integers(0, 4, size=(n, m)).astype(np.float32)  # few distinct values: many ties
        masks = [rng.choice(m, size=int(rng.integers(0, m)), replace=False) for _ in range(n)]
        got = topk_masked(s, masks, k)
        for r in range(n):
            sc = s[r].astype(float)
            sc[masks[r]] = -np.inf
            exp = [i for i in sorted(range(m), key=lambda i: (-sc[i], i)) if np.isfinite(sc[i])][:k]
            assert got[r].tolist() == exp + [-1] * (k - len(exp))
