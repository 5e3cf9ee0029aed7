"""Ranking (masking, ties) and the cold-start query protocol."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------------------
# property test: topk_masked against a full lexsort per row


def _reference_topk(scores: np.ndarray, masks, k: int) -> np.ndarray:
    out = np.full((scores.shape[0], k), -1, dtype=np.int64)
    for r, row in enumerate(scores.astype(np.float64)):
        sc = row.copy()
        sc[np.asarray(masks[r], dtype=np.int64)] = -np.inf
        order = np.lexsort((np.arange(len(sc)), -sc))  # score descending, index ascending
        order = order[np.isfinite(sc[order])][:k]
        out[r, : len(order)] = order
    return out


@st.composite
def _topk_case(draw):
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 400))
    k = draw(st.integers(1, 60))
    n_values = draw(st.sampled_from([1, 2, 3, 5, 1000]))  # few distinct values: many ties
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, n_values, size=(n, m)).astype(np.float32)
    if draw(st.booleans()):
        scores[rng.random((n, m)) < 0.1] = -np.inf  # -inf scores count as masked
    masks = [rng.choice(m, size=int(rng.integers(0, m + 1)) if draw(st.booleans())
                        else int(rng.integers(0, min(m, 5) + 1)), replace=False)
             for _ in range(n)]
    return scores, masks, k


@settings(max_examples=300, deadline=None)
@given(_topk_case())
def test_topk_property_matches_full_lexsort(case):
    scores, masks, k = case
    np.testing.assert_array_equal(topk_masked(scores, masks, k), _reference_topk(scores, masks, k))


def test_topk_matches_reference_at_block_sizes():
    """Rows long enough for the blocked threshold path, with ties right at the k-th value."""
    rng = np.random.default_rng(1)
    for m in (1_000, 4_097, 20_011):
        scores = rng.integers(0, 50, size=(8, m)).astype(np.float32)
        masks = [rng.choice(m, size=int(rng.integers(0, 60)), replace=False) for _ in range(8)]
        np.testing.assert_array_equal(topk_masked(scores, masks, 40), _reference_topk(scores, masks, 40))
        scores = rng.standard_normal((8, m)).astype(np.float32)
        np.testing.assert_array_equal(topk_masked(scores, masks, 40), _reference_topk(scores, masks, 40))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_topk_matches_reference_with_many_groups_per_block(dtype):
    """Short masks and a small k on long rows: many blocks and groups of blocks per kept entry,
    in float32 and float64, with ties at the threshold, -inf entries (blocks the kernel looks
    at for NaN and passes) and a tail of columns outside every block."""
    rng = np.random.default_rng(2)
    for m, k, values in ((30_011, 5, 7), (30_011, 5, 10**6), (61_440, 3, 2), (12_345, 1, 10**6)):
        scores = rng.integers(0, values, size=(6, m)).astype(dtype)
        scores[rng.random((6, m)) < 0.01] = -np.inf
        masks = [rng.choice(m, size=int(rng.integers(0, 11)), replace=False) for _ in range(6)]
        np.testing.assert_array_equal(topk_masked(scores, masks, k), _reference_topk(scores, masks, k))


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_topk_on_threads_matches_the_reference(threads, monkeypatch):
    """Chunks of rows taken by several threads (uneven last chunk, ties, masks, -inf) give the
    reference's answer, and a bad mask is reported with its row number in the whole batch."""
    from benchmark.core import ranking

    rng = np.random.default_rng(threads)
    n, m = 250, 3_001
    monkeypatch.setattr(ranking, "_CHUNK_ENTRIES", 7 * m)  # 36 chunks of 7 rows
    scores = rng.integers(0, 20, size=(n, m)).astype(np.float32)
    scores[rng.random((n, m)) < 0.05] = -np.inf
    masks = [rng.choice(m, size=int(rng.integers(0, 80)), replace=False) for _ in range(n)]
    want = _reference_topk(scores, masks, 40)
    np.testing.assert_array_equal(topk_masked(scores, masks, 40, threads=threads), want)
    np.testing.assert_array_equal(topk_masked(scores, masks, 40, threads=1), want)
    masks[200] = np.array([m + 5])
    with pytest.raises(IndexError, match="mask of row 200 "):
        topk_masked(scores, masks, 40, threads=threads)


def test_topk_called_from_every_pool_thread_finishes(monkeypatch):
    """Rankings run on all of the pool's threads at once (each queueing helpers that no free
    thread can start) finish: the caller ranks every chunk itself and cancels the helpers
    that never started, instead of waiting for them."""
    from benchmark.core import ranking
    from benchmark.core.runtime import cpu_count

    monkeypatch.setattr(ranking, "_CHUNK_ENTRIES", 4 * 1_000)
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((64, 1_000)).astype(np.float32)
    masks = [rng.choice(1_000, 5, replace=False) for _ in range(64)]
    want = _reference_topk(scores, masks, 10)
    calls = [ranking._pool().submit(topk_masked, scores, masks, 10) for _ in range(cpu_count())]
    for call in calls:
        np.testing.assert_array_equal(call.result(timeout=120), want)


def test_topk_leaves_scores_untouched():
    scores = np.arange(12, dtype=np.float32).reshape(2, 6)
    before = scores.copy()
    topk_masked(scores, [np.array([5]), np.array([0, 1])], 3)
    np.testing.assert_array_equal(scores, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("m", "k"), [(50, 10), (30_011, 5), (4_097, 40)])
@pytest.mark.parametrize("bad", [np.nan, -np.nan, np.inf], ids=["nan", "negative-nan", "inf"])
def test_topk_refuses_nan_and_plus_inf_wherever_they_are(m, k, bad, dtype, monkeypatch):
    """Short rows (every entry a candidate) and long rows (NaN of either sign found through the
    blocks' magnitude bits, +inf in the block with the largest key): a bad value in any column,
    a masked one or the tail after the last block included, is reported with its row, the first
    one when a later row is bad too, across chunks and threads; -inf elsewhere is a masked
    candidate."""
    from benchmark.core import ranking
    from benchmark.core.ranking import NonFiniteScores

    monkeypatch.setattr(ranking, "_CHUNK_ENTRIES", 3 * m)  # chunks of 3 rows
    rng = np.random.default_rng(m)
    n = 40
    for col in [0, 1, m - 1, m // 2, m // 64 * 64 - 1, *rng.integers(0, m, 8)]:
        scores = rng.standard_normal((n, m)).astype(dtype)
        scores[:, 1] = -np.inf
        row = int(rng.integers(0, n - 1))
        scores[row, col] = bad
        scores[n - 1, (col + 1) % m] = bad  # a later bad row: the first one is named
        masks = [rng.choice(m, 3, replace=False) for _ in range(n)]
        masks[row][0] = col  # masking a column does not hide its NaN or +inf
        for threads in (1, 2):
            with pytest.raises(NonFiniteScores, match=f"row {row} ") as err:
                topk_masked(scores, masks, k, threads=threads)
            assert err.value.row == row
        scores[row, col] = scores[n - 1, (col + 1) % m] = 0.0
        np.testing.assert_array_equal(topk_masked(scores, masks, k), _reference_topk(scores, masks, k))


def _force_block(monkeypatch, block):
    from benchmark.core import topk_kernel

    monkeypatch.setattr(topk_kernel, "block_size", lambda m, kept: block)


@pytest.mark.parametrize("block", [64, 32, 16, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_topk_threshold_at_zero_keeps_negative_zeros(dtype, block, monkeypatch):
    """A threshold of +0.0 on long rows, at every block size: blocks holding only -0.0 (whose
    largest key is below +0.0's) still reach it, so -0.0 ties with +0.0 and the lower columns
    come first."""
    _force_block(monkeypatch, block)
    m, k = 20_011, 40
    scores = np.full((2, m), -1.0, dtype=dtype)
    scores[:, :64] = -0.0  # block 0: only -0.0
    scores[:, 256 * np.arange(1, 60) + 100] = 0.0  # +0.0 in 59 groups of blocks: the threshold is +0.0
    masks = [np.array([], dtype=np.int64), np.array([3, 300])]
    want = _reference_topk(scores, masks, k)
    assert want[0].tolist() == list(range(40))
    np.testing.assert_array_equal(topk_masked(scores, masks, k), want)


def test_rank_names_the_query_whose_scores_are_nan():
    rng = np.random.default_rng(0)
    cand = rng.standard_normal((500, 8)).astype(np.float32)
    seeds = [rng.choice(500, 3, replace=False) for _ in range(300)]

    def score(chunk, c):
        s = np.stack([c[x].mean(axis=0) for x in chunk]) @ c.T
        if len(chunk) == 300 - 256:  # the second batch: its 5th query is query 260
            s[4, 17] = np.nan
        return s

    with pytest.raises(FloatingPointError, match=r"for query 260$"):
        rank(score, seeds, cand, k=10)


@pytest.mark.parametrize("m", [300, 20_011])
def test_topk_orders_signed_zeros_subnormals_and_negatives_like_the_reference(m):
    """Comparing scores through their bits (the kernel's keys) agrees with comparing floats:
    -0.0 ties with +0.0 (the lower column first), subnormals and negative values keep their
    order."""
    rng = np.random.default_rng(m)
    values = np.array([-0.0, 0.0, 1e-40, -1e-40, -1.5, 1.5, -3.0e38, 3.0e38, -np.inf, 2.0, -2.0],
                      dtype=np.float32)
    low = np.array([-0.0, 0.0, -1e-40, -1.5, -np.inf], dtype=np.float32)  # the zeros lead these rows
    scores = np.concatenate([values[rng.integers(0, len(values), size=(5, m))],
                             low[rng.integers(0, len(low), size=(4, m))]])
    masks = [rng.choice(m, size=int(rng.integers(0, 20)), replace=False) for _ in range(9)]
    for k in (1, 40):
        np.testing.assert_array_equal(topk_masked(scores, masks, k), _reference_topk(scores, masks, k))


@pytest.mark.parametrize("block", [64, 32, 16, 8])
def test_topk_matches_reference_at_every_block_size(block, monkeypatch):
    """Each block size the kernel may be given, on rows with a group threshold (long) and
    without (short), with ties, -inf, masks and a tail outside the last block."""
    _force_block(monkeypatch, block)
    rng = np.random.default_rng(block)
    for m, k, values in ((9_001, 40, 30), (9_001, 7, 10**6), (30_011, 40, 10**6), (333, 20, 5)):
        scores = rng.integers(0, values, size=(5, m)).astype(np.float32)
        scores[rng.random((5, m)) < 0.02] = -np.inf
        masks = [rng.choice(m, size=int(rng.integers(0, 60)), replace=False) for _ in range(5)]
        np.testing.assert_array_equal(topk_masked(scores, masks, k), _reference_topk(scores, masks, k))


def test_block_size_leaves_enough_groups_per_kept_entry():
    """The largest block that leaves 2 * kept groups of 4 blocks (worked by hand), else 8."""
    from benchmark.core.topk_kernel import block_size

    assert block_size(100_000, 100) == 64  # 100,000 // 256 = 390 >= 200
    assert block_size(30_000, 100) == 32  # 117 < 200; 30,000 // 128 = 234 >= 200
    assert block_size(20_011, 42) == 32  # 78 < 84; 156 >= 84
    assert block_size(10_000, 100) == 8  # 39, 78, 156 < 200; 312 >= 200
    assert block_size(1_000, 100) == 8  # too short for any: the smallest
