"""Unit tests of the recommenders: hand-worked ItemKNN scores, DropoutNet's loss, input
dropout and WMF factors, CLCRec's InfoNCE and ρ-replacement, cold-scoring locality and
model selection that never sees test data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.core.evaluation import make_validator
from benchmark.core.protocol import QuerySet, n_seeds
from benchmark.core.ranking import rank
from recommenders import REGISTRY, TrainData
from recommenders._torch import NegativeSampler, interaction_pairs, pool_rows
from recommenders.clcrec import (
    CLCRec,
    CLCRecModel,
    info_nce,
    info_nce_in_batch,
    replace_rows,
    replacement_rows,
)
from recommenders.dropoutnet import (
    DropoutNet,
    DropoutNetModel,
    drop_preference_rows,
    mf_factors,
    standardize,
    wmf_factors,
)
from recommenders.itemknn import ItemKNN

#: smaller DropoutNet towers for the tests where the architecture does not matter
SMALL = {"dropoutnet": {"hidden": [64, 32, 32], "rank_out": 32}, "clcrec": {}}

# --------------------------------------------------------------------------------------
# a small world with planted structure: clusters of tracks whose content is correlated
# with playlist membership; train / valid / test tracks and playlists are disjoint


def _split(rng, n_tracks, centroids, n_playlists, length, purity, noise):
    k, d = centroids.shape
    clusters = rng.integers(0, k, n_tracks)
    vecs = (centroids[clusters] + noise * rng.standard_normal((n_tracks, d))).astype(np.float32)
    pools = [np.flatnonzero(clusters == c) for c in range(k)]
    playlists = []
    for _ in range(n_playlists):
        c = int(rng.integers(k))
        n_in = min(round(length * purity), len(pools[c]))
        inside = rng.choice(pools[c], n_in, replace=False)
        outside = rng.choice(n_tracks, length - n_in, replace=False)
        playlists.append(np.unique(np.concatenate([inside, outside])).astype(np.int64))
    return vecs, playlists


def make_world(seed: int = 0, n_train: int = 240, n_cold: int = 160, k: int = 4, d: int = 16):
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((k, d)).astype(np.float32)
    vecs, pls = _split(rng, n_train, centroids, 24, 16, 0.9, 0.8)
    train = TrainData([f"t{i}" for i in range(n_train)], vecs, pls,
                      [f"tp{i}" for i in range(len(pls))])
    world = {"train": train}
    for split in ("valid", "test"):
        cv, cp = _split(rng, n_cold, centroids, 12, 16, 0.9, 0.8)
        seeds, gts = [], []
        for p in cp:
            perm = rng.permutation(p)
            s = n_seeds(len(p))
            seeds.append(perm[:s])
            gts.append(perm[s:])
        q = QuerySet(split, [f"{split}{i}" for i in range(n_cold)],
                     [f"{split}p{i}" for i in range(len(cp))], seeds, gts, 0)
        world[split] = (q, cv)
    return world


@pytest.fixture(scope="module")
def world():
    return make_world()


# --------------------------------------------------------------------------------------
# ItemKNN


C = np.array([[1, 0], [0, 2], [3, 4], [-1, 1]], dtype=np.float32)
SEEDS = [np.array([0, 1]), np.array([2])]


def test_itemknn_sum_by_hand():
    s = ItemKNN().score(SEEDS, C)  # official: sum pooling, inner product
    # query 0: p = c0 + c1 = (1, 2); query 1: p = c2 = (3, 4)
    expected = np.array([[1, 4, 11, 1], [3, 8, 25, 1]], dtype=np.float32)
    np.testing.assert_allclose(s, expected, rtol=1e-6)


def test_itemknn_mean_by_hand():
    s = ItemKNN({"pooling": "mean"}).score(SEEDS, C)
    # query 0: p = (0.5, 1)
    expected = np.array([[0.5, 2, 5.5, 0.5], [3, 8, 25, 1]], dtype=np.float32)
    np.testing.assert_allclose(s, expected, rtol=1e-6)


def test_itemknn_cosine_by_hand():
    s = ItemKNN({"similarity": "cosine"}).score(SEEDS, C)
    r5, r2 = math.sqrt(5), math.sqrt(2)
    # p0 = (1, 2)/√5; candidates: (1,0), (0,1), (0.6,0.8), (-1,1)/√2
    expected = np.array([[1 / r5, 2 / r5, 2.2 / r5, 1 / (r5 * r2)],
                         [0.6, 0.8, 1.0, 0.2 / r2]], dtype=np.float32)
    np.testing.assert_allclose(s, expected, rtol=1e-5)
    # cosine does not depend on the pooling
    np.testing.assert_allclose(
        ItemKNN({"similarity": "cosine", "pooling": "mean"}).score(SEEDS, C), s, rtol=1e-6)


def test_itemknn_ranking_masks_seeds():
    top = rank(ItemKNN().score, SEEDS, C, k=3)
    # query 0 scores (1, 4, 11, 1), seeds 0 and 1 masked: 2, then 3, then nothing left
    np.testing.assert_array_equal(top, [[2, 3, -1], [1, 0, 3]])


def test_itemknn_rejects_bad_options():
    with pytest.raises(ValueError):
        ItemKNN({"pooling": "max"})
    with pytest.raises(ValueError):
        ItemKNN({"similarity": "l1"})
    with pytest.raises(ValueError):
        ItemKNN({"k": 5})


def test_pool_rows_empty_group_is_zero():
    out = pool_rows(C, [np.array([], dtype=np.int64), np.array([3, 3])], "mean")
    np.testing.assert_allclose(out, [[0, 0], [-1, 1]])


# --------------------------------------------------------------------------------------
# DropoutNet


def _np_tower(tower, pref, content, train_mode):
    h = np.concatenate([pref, content], axis=1).astype(np.float64)
    for block in tower.blocks:
        lin, bn = block["linear"], block["bn"]
        z = h @ lin.weight.detach().double().numpy().T + lin.bias.detach().double().numpy()
        if train_mode:
            mean, var = z.mean(axis=0), z.var(axis=0)  # biased batch variance
        else:
            mean = bn.running_mean.double().numpy()
            var = bn.running_var.double().numpy()
        z = (z - mean) / np.sqrt(var + bn.eps) * bn.weight.detach().double().numpy() \
            + bn.bias.detach().double().numpy()
        h = np.tanh(z)
    return h @ tower.out.weight.detach().double().numpy().T + tower.out.bias.detach().double().numpy()


@pytest.mark.parametrize("train_mode", [False, True])
def test_dropoutnet_mse_matches_numpy(train_mode):
    torch.manual_seed(0)
    model = DropoutNetModel(pref_dim=2, content_dim=3, hidden=[4, 3], rank_out=2)
    with torch.no_grad():  # non-trivial weights and BatchNorm statistics
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.7)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn_like(m.running_mean))
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
    rng = np.random.default_rng(1)
    up, uc = rng.standard_normal((5, 2)), rng.standard_normal((5, 3))
    vp, vc = rng.standard_normal((5, 2)), rng.standard_normal((5, 3))
    target = rng.standard_normal(5)
    model.train(train_mode)
    t = [torch.tensor(x, dtype=torch.float32) for x in (up, uc, vp, vc, target)]
    loss = float(model.loss(*t).detach())
    u = _np_tower(model.user, up, uc, train_mode)
    v = _np_tower(model.item, vp, vc, train_mode)
    expected = np.mean(((u * v).sum(axis=1) - target) ** 2)
    assert loss == pytest.approx(expected, rel=1e-5)


def test_dropout_zeroes_preference_rows_at_rate():
    rng = np.random.default_rng(0)
    pref = torch.arange(1, 50 * 4 + 1, dtype=torch.float32).reshape(50, 4)
    before = pref.clone()
    counts = np.zeros(50)
    n_calls = 2000
    for _ in range(n_calls):
        out = drop_preference_rows(pref, 0.2, rng)
        zero = (out == 0).all(dim=1).numpy()
        assert zero.sum() == 10  # floor(0.2 · 50) rows per batch
        kept = ~zero
        assert torch.equal(out[torch.from_numpy(kept)], pref[torch.from_numpy(kept)])
        counts += zero
    assert torch.equal(pref, before)  # the input itself is not modified
    freq = counts / n_calls  # every row dropped ≈ 20 % of the time (binomial sd ≈ 0.009)
    assert np.all(np.abs(freq - 0.2) < 0.05)


def test_official_noop_dropout_changes_nothing():
    rng = np.random.default_rng(0)
    pref = torch.randn(50, 4)
    before = pref.clone()
    for _ in range(100):
        out = drop_preference_rows(pref, 0.2, rng, official_noop=True)
        assert torch.equal(out, before)
    assert torch.equal(pref, before)


@pytest.mark.parametrize("noop", [False, True])
def test_dropoutnet_training_really_drops(world, monkeypatch, noop):
    """The tower inputs seen in training: ≈20 % zero preference rows, none with the no-op."""
    seen = {"u": [], "v": []}
    original = DropoutNetModel.loss

    def spy(self, u_pref, u_content, v_pref, v_content, target):
        seen["u"].append(float((u_pref == 0).all(dim=1).float().mean()))
        seen["v"].append(float((v_pref == 0).all(dim=1).float().mean()))
        return original(self, u_pref, u_content, v_pref, v_content, target)

    import recommenders.dropoutnet as mod

    rng = np.random.default_rng(0)  # preference vectors without all-zero rows
    u = rng.standard_normal((24, 8)).astype(np.float32)
    v = rng.standard_normal((240, 8)).astype(np.float32)
    monkeypatch.setattr(mod, "wmf_factors", lambda *a, **k: (u, v))
    monkeypatch.setattr(DropoutNetModel, "loss", spy)
    rec = DropoutNet.from_profile("ci", {"epochs": 1, "batch_size": 50,
                                         "official_noop_dropout": noop, **SMALL["dropoutnet"]})
    rec.fit(world["train"], seed=0)
    for key in ("u", "v"):
        frac = np.mean(seen[key])
        if noop:
            assert frac == 0.0
        else:
            assert frac == pytest.approx(0.2, abs=0.02)


def _planted_blocks(seed=0, n_users=60, n_items=90, blocks=3, p=0.6):
    rng = np.random.default_rng(seed)
    ub = np.repeat(np.arange(blocks), n_users // blocks)
    ib = np.repeat(np.arange(blocks), n_items // blocks)
    dense = (ub[:, None] == ib[None, :]) & (rng.random((n_users, n_items)) < p)
    return dense.astype(np.float32), ub, ib


def test_wmf_reconstructs_planted_low_rank():
    import scipy.sparse as sp

    dense, ub, ib = _planted_blocks()
    u, v = wmf_factors(sp.csr_matrix(dense), factors=64, regularization=0.01, alpha=1.0,
                       iterations=15, seed=0, num_threads=1)
    assert u.shape == (60, 64) and v.shape == (90, 64)
    scores = u @ v.T
    for row in range(dense.shape[0]):
        n_obs = int(dense[row].sum())
        top = np.argsort(-scores[row], kind="stable")[:n_obs]
        # the top-scored entries of every row are its held-in (observed, planted) entries
        assert dense[row, top].mean() >= 0.9
        # and every in-block entry outscores every out-of-block one on average
        assert scores[row, ib == ub[row]].mean() > scores[row, ib != ub[row]].mean() + 0.2
    u2, v2 = wmf_factors(sp.csr_matrix(dense), factors=64, regularization=0.01, alpha=1.0,
                         iterations=15, seed=0, num_threads=1)
    np.testing.assert_array_equal(u, u2)
    np.testing.assert_array_equal(v, v2)


def test_official_mf_separates_planted_blocks():
    dense, ub, ib = _planted_blocks()
    rows, cols = np.nonzero(dense)
    u, v = mf_factors(rows.astype(np.int64), cols.astype(np.int64), 60, 90, dim=16, epochs=30,
                      lr=0.05, batch_size=64, rng=np.random.default_rng(0),
                      device=torch.device("cpu"))
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1, rtol=1e-5)  # dot = cosine
    scores = u @ v.T
    same = ub[:, None] == ib[None, :]
    assert scores[same].mean() > scores[~same].mean() + 0.3


def test_standardize_makes_the_mean_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype(np.float32) * 3 + 2
    z = standardize(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=2e-2)  # up to the ±5 clipping
    np.testing.assert_allclose(z.std(axis=0), 1, atol=2e-2)


@pytest.mark.parametrize("cold", ["mean", "zeros", "official_swapped"])
def test_dropoutnet_cold_preference_inputs(world, monkeypatch, cold):
    import recommenders.dropoutnet as mod

    u = np.tile(np.array([[1.0, 2.0]], np.float32), (24, 1)) + np.arange(24)[:, None]
    v = np.tile(np.array([[-1.0, 5.0]], np.float32), (240, 1)) - np.arange(240)[:, None] / 10
    monkeypatch.setattr(mod, "wmf_factors", lambda *a, **k: (u, v))
    rec = DropoutNet.from_profile("ci", {"epochs": 1, "standardize_preference": False,
                                         "cold_preference": cold, **SMALL["dropoutnet"]})
    rec.fit(world["train"], seed=0)
    cu, cv = rec._cold_u.numpy(), rec._cold_v.numpy()
    if cold == "mean":
        np.testing.assert_allclose(cu, u.mean(0), rtol=1e-6)
        np.testing.assert_allclose(cv, v.mean(0), rtol=1e-6)
    elif cold == "zeros":
        assert not cu.any() and not cv.any()
    else:  # the LARP release: playlists get mean(V), items mean(U)
        np.testing.assert_allclose(cu, v.mean(0), rtol=1e-6)
        np.testing.assert_allclose(cv, u.mean(0), rtol=1e-6)


def test_official_overrides_apply_unless_set():
    assert DropoutNet({"official_overrides": "LARP-LFM"}).config["lr"] == 0.001
    assert DropoutNet({"official_overrides": "LARP-LFM", "lr": 0.2}).config["lr"] == 0.2
    c = CLCRec({"official_overrides": "CLAP-PT"}).config
    assert (c["lr"], c["tau"], c["reg_weight"]) == (0.01, 0.2, 0.1)
    with pytest.raises(ValueError):
        CLCRec({"official_overrides": "nope"})
    with pytest.raises(ValueError):
        DropoutNet({"target": "ranking"})


# --------------------------------------------------------------------------------------
# CLCRec


def _np_info_nce(a, cands, tau):
    logits = np.einsum("bd,bkd->bk", a, cands) / tau
    m = logits.max(axis=1, keepdims=True)
    log_softmax0 = logits[:, 0] - (m[:, 0] + np.log(np.exp(logits - m).sum(axis=1)))
    return float(-log_softmax0.mean())


def test_info_nce_by_hand_2x2():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    cands = np.array([[[1.0, 1.0], [0.0, 1.0]],   # anchor 0: positive (1,1), negative (0,1)
                      [[0.5, 0.5], [1.0, -1.0]]])  # anchor 1: positive (.5,.5), negative (1,-1)
    tau = 2.0
    # by hand: logits row 0 = (1/2, 0), row 1 = (1/2, -1)
    by_hand = (-(0.5 - math.log(math.exp(0.5) + 1))
               - (0.5 - math.log(math.exp(0.5) + math.exp(-1)))) / 2
    got = float(info_nce(torch.tensor(a), torch.tensor(cands), tau))
    assert got == pytest.approx(by_hand, rel=1e-9)
    assert got == pytest.approx(_np_info_nce(a, cands, tau), rel=1e-9)


def test_info_nce_in_batch_3x3():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    tau = 2.0
    logits = a @ b.T / tau
    expected = np.mean([-(logits[i, i] - np.log(np.exp(logits[i]).sum())) for i in range(3)])
    got = float(info_nce_in_batch(torch.tensor(a), torch.tensor(b), tau))
    assert got == pytest.approx(expected, rel=1e-9)
    # the in-batch form equals the candidate-list form with the other rows as negatives
    cands = np.stack([np.roll(b, -i, axis=0) for i in range(3)])
    assert got == pytest.approx(_np_info_nce(a, cands, tau), rel=1e-9)


def test_rho_replacement_fraction():
    rng = np.random.default_rng(0)
    rows = replacement_rows(1000, 0.5, rng, "exact")
    assert len(np.unique(rows)) == 500
    rows = replacement_rows(1001, 0.25, rng, "exact")
    assert len(np.unique(rows)) == 250
    # both reference codes draw int(ρN) indices with replacement: ≈ 1 − e^{−ρ} distinct
    fracs = [len(np.unique(replacement_rows(1000, 0.5, rng, "with_replacement"))) / 1000
             for _ in range(50)]
    assert np.mean(fracs) == pytest.approx(1 - math.exp(-0.5), abs=0.01)
    ids, content = torch.zeros(10, 3), torch.ones(10, 3)
    mixed = replace_rows(ids, content, np.array([1, 4, 7]))
    assert mixed[:, 0].tolist() == [0, 1, 0, 0, 1, 0, 0, 1, 0, 0]


def test_clcrec_batch_loss_matches_numpy():
    """λ·InfoNCE(item ID, content) + (1−λ)·InfoNCE(playlist, ID) + reg, in-batch, ρ = 0."""
    torch.manual_seed(0)
    rec = CLCRec({"negatives": "in_batch", "rho": 0.0, "lam": 0.3, "tau": 2.0,
                  "reg_weight": 0.1, "dim": 4, "hidden": 5})
    model = CLCRecModel(n_playlists=3, n_items=4, content_dim=6, dim=4, hidden=5)
    with torch.no_grad():
        model.user_emb.normal_()
        model.item_emb.normal_()
    rng = np.random.default_rng(0)
    content = torch.tensor(rng.standard_normal((4, 6)), dtype=torch.float32)
    p, pos = np.array([0, 1, 2]), np.array([3, 0, 2])
    loss = float(rec.batch_loss(model, content, p, pos, np.random.default_rng(0), None).detach())

    def n(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    x = n(content.numpy().astype(np.float64))
    w1, b1 = model.enc1.weight.detach().double().numpy(), model.enc1.bias.detach().double().numpy()
    w2, b2 = model.enc2.weight.detach().double().numpy(), model.enc2.bias.detach().double().numpy()
    h = x @ w1.T + b1
    g = np.where(h > 0, h, 0.01 * h) @ w2.T + b2
    ids = model.item_emb.detach().double().numpy()[pos]
    users = model.user_emb.detach().double().numpy()[p]

    def in_batch(a, b):
        logits = a @ b.T / 2.0
        return np.mean([-(logits[i, i] - np.log(np.exp(logits[i]).sum())) for i in range(len(a))])

    reg = (np.linalg.norm(users, axis=1).mean() + np.linalg.norm(ids, axis=1).mean()) / 2
    expected = 0.3 * in_batch(n(ids), n(g[pos])) + 0.7 * in_batch(users, ids) + 0.1 * reg
    assert loss == pytest.approx(expected, rel=1e-5)


def test_negative_sampler_avoids_positives():
    pls = [np.array([0, 1, 2]), np.array([3])]
    p, i = interaction_pairs(pls)
    s = NegativeSampler(p, i, 5)
    neg = s.sample(np.random.default_rng(0), np.array([0, 0, 1]), 50)
    assert set(neg[0]) <= {3, 4} and set(neg[1]) <= {3, 4}
    assert 3 not in set(neg[2])


# --------------------------------------------------------------------------------------
# cold scoring reads nothing but seeds and candidate vectors


NAMES = ["itemknn", "dropoutnet", "clcrec"]


@pytest.fixture(scope="module")
def fitted(world):
    out = {}
    for name in NAMES:
        rec = REGISTRY.get(name).from_profile("ci")
        rec.fit(world["train"], seed=0)
        out[name] = rec
    return out


@pytest.mark.parametrize("name", NAMES)
def test_cold_scores_depend_only_on_seeds_and_candidates(world, fitted, name):
    rec = fitted[name]
    q, cand = world["test"]
    seeds = q.seeds[:4]
    base = rec.score(seeds, cand)
    assert base.shape == (4, cand.shape[0]) and base.dtype == np.float32

    # 1. altering a non-seed candidate changes that candidate's column only
    used = set(np.concatenate(seeds).tolist())
    j = next(i for i in range(cand.shape[0]) if i not in used)
    altered = cand.copy()
    altered[j] = np.random.default_rng(5).standard_normal(cand.shape[1]).astype(np.float32) * 3
    s = rec.score(seeds, altered)
    others = np.arange(cand.shape[0]) != j
    np.testing.assert_allclose(s[:, others], base[:, others], rtol=1e-5, atol=1e-6)
    assert not np.allclose(s[:, j], base[:, j])

    # 2. a query's row depends on its own seeds only
    changed = [seeds[0], np.array([j]), seeds[2], seeds[3]]
    s = rec.score(changed, cand)
    np.testing.assert_allclose(s[[0, 2, 3]], base[[0, 2, 3]], rtol=1e-5, atol=1e-6)

    # 3. permuting the candidates (and re-indexing the seeds) permutes the columns: no
    #    position-keyed side information (such as cold interactions) can enter
    perm = np.random.default_rng(7).permutation(cand.shape[0])
    inv = np.argsort(perm)
    s = rec.score([inv[x] for x in seeds], cand[perm])
    np.testing.assert_allclose(s, base[:, perm], rtol=1e-5, atol=1e-6)

    # 4. the ground truth and the cold playlists' other tracks are never an input:
    #    shuffling all of it leaves the rankings unchanged
    top = rank(rec.score, q.seeds, cand, k=10)
    rng = np.random.default_rng(3)
    shuffled = QuerySet(q.split, q.candidate_ids, q.playlist_ids, q.seeds,
                        [rng.permutation(cand.shape[0])[: len(g)] for g in q.ground_truth],
                        q.shuffle_seed)
    np.testing.assert_array_equal(rank(rec.score, shuffled.seeds, cand, k=10), top)


@pytest.mark.parametrize("name", NAMES)
def test_fit_sees_only_train_data(world, fitted, name):
    """fit() gets a TrainData of the train split and nothing else; it does not modify it,
    and keeps no reference that would let later changes of the caller's arrays (or the
    warm side at all) reach the cold scores."""
    train = world["train"]
    fresh = make_world()["train"]
    np.testing.assert_array_equal(train.item_vectors, fresh.item_vectors)  # not modified
    assert all(np.array_equal(a, b) for a, b in zip(train.playlists, fresh.playlists))
    rec = fitted[name]
    q, cand = world["test"]
    s1 = rec.score(q.seeds, cand)
    snapshot = train.item_vectors.copy()
    train.item_vectors[:] += 1.0
    train.playlists[0][:] = train.playlists[1][: len(train.playlists[0])]
    try:
        s2 = rec.score(q.seeds, cand)
    finally:
        train.item_vectors[:] = snapshot
        train.playlists[0][:] = fresh.playlists[0]
    np.testing.assert_array_equal(s1, s2)


# --------------------------------------------------------------------------------------
# model selection: the validator only, never the test split


class SpyValidator:
    def __init__(self, queries, candidates):
        self.inner = make_validator(queries, candidates)
        self.split = queries.split
        self.calls: list[float] = []

    def __call__(self, recommender):
        value = self.inner(recommender)
        self.calls.append(value)
        return value


@pytest.mark.parametrize("name", ["dropoutnet", "clcrec"])
def test_selection_uses_validator_only(world, name):
    valid_q, valid_c = world["valid"]
    _, test_c = world["test"]
    spy = SpyValidator(valid_q, valid_c)
    rec = REGISTRY.get(name).from_profile("ci", {"epochs": 4, "patience": 0, **SMALL[name]})
    seen = []
    original = rec.score

    def recording_score(seed_index, candidate_vectors):
        seen.append(([np.array(s) for s in seed_index], candidate_vectors))
        return original(seed_index, candidate_vectors)

    rec.score = recording_score  # instance attribute: what the validator calls
    report = rec.fit(world["train"], seed=0, validator=spy)
    del rec.score

    assert len(spy.calls) == report["epochs_run"] == 4
    assert report["valid_scores"] == spy.calls
    assert report["best_epoch"] == int(np.argmax(spy.calls)) + 1
    assert report["validator_split"] == "valid"
    assert seen, "the validator never scored the recommender"
    valid_seeds = {tuple(s.tolist()) for s in valid_q.seeds}
    for seeds, cands in seen:
        assert cands is valid_c or np.array_equal(cands, valid_c)
        assert not (cands.shape == test_c.shape and np.array_equal(cands, test_c))
        assert all(tuple(s.tolist()) in valid_seeds for s in seeds)
    # the best epoch's state is the one kept
    assert spy.inner(rec) == pytest.approx(report["best_valid"], abs=1e-12)


@pytest.mark.parametrize("name", ["dropoutnet", "clcrec"])
def test_early_stopping_restores_best_epoch(world, name):
    q, cand = world["valid"]
    values = iter([0.1, 0.3, 0.2, 0.25, 0.29, 0.9, 0.9])
    snapshots = []

    def validator(recommender):
        snapshots.append(recommender.score(q.seeds[:3], cand))
        return next(values)

    rec = REGISTRY.get(name).from_profile("ci", {"epochs": 7, "patience": 3, **SMALL[name]})
    report = rec.fit(world["train"], seed=0, validator=validator)
    assert report["epochs_run"] == 5 and report["stopped_early"]
    assert report["best_epoch"] == 2 and report["best_valid"] == 0.3
    np.testing.assert_array_equal(rec.score(q.seeds[:3], cand), snapshots[1])
    assert not np.array_equal(snapshots[1], snapshots[-1])


def test_fit_without_validator_keeps_last_epoch(world):
    rec = CLCRec.from_profile("ci", {"epochs": 2})
    report = rec.fit(world["train"], seed=0)
    assert report["best_epoch"] == 2 and report["valid_scores"] == [None, None]
    assert report["selection"] == "last_epoch" and report["fit_time_s"] > 0
