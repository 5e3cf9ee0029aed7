"""Throughput of the recommenders (pytest-benchmark).

Run: ``pytest benchmarks/ --benchmark-enable -p no:cacheprovider`` (the project's pytest
options disable benchmarks by default; ``--benchmark-enable`` times them).

- ItemKNN scoring + masked top-40 through :func:`benchmark.core.ranking.rank` for 1,000
  playlists × 100,000 candidates × 256-d (random float32, ~50 seeds per playlist), and
  its two halves (scoring alone, ranking alone) to find the bottleneck;
- fit time of the trained recommenders at the ``quick`` scale: ~3,000 training tracks,
  ~1.4 playlists per track, playlists of 20–100 tracks, 256-d content.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.core.evaluation import make_validator
from benchmark.core.protocol import QuerySet, n_seeds
from benchmark.core.ranking import rank, topk_masked
from recommenders import REGISTRY, TrainData
from recommenders.itemknn import ItemKNN

N_QUERIES, N_CANDIDATES, DIM, N_SEEDS, K = 1_000, 100_000, 256, 50, 40


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    cand = rng.standard_normal((N_CANDIDATES, DIM), dtype=np.float32)
    sizes = rng.integers(N_SEEDS - 10, N_SEEDS + 11, N_QUERIES)  # 40–60 seeds, mean 50
    seeds = [rng.choice(N_CANDIDATES, int(s), replace=False) for s in sizes]
    return seeds, cand


@pytest.mark.benchmark(group="itemknn-1000x100000x256")
def test_itemknn_score_and_rank(benchmark, big):
    seeds, cand = big
    rec = ItemKNN()
    top = benchmark.pedantic(rank, args=(rec.score, seeds, cand), kwargs={"k": K},
                             rounds=2, iterations=1)
    assert top.shape == (N_QUERIES, K)
    assert not np.isin(top[0], seeds[0]).any()


@pytest.mark.benchmark(group="itemknn-1000x100000x256")
def test_itemknn_score_only(benchmark, big):
    seeds, cand = big
    rec = ItemKNN()

    def score_all():
        for start in range(0, N_QUERIES, 256):
            rec.score(seeds[start:start + 256], cand)

    benchmark.pedantic(score_all, rounds=2, iterations=1)


@pytest.mark.benchmark(group="itemknn-1000x100000x256")
def test_masked_topk_only(benchmark, big):
    seeds, cand = big
    scores = ItemKNN().score(seeds[:256], cand)

    def topk_all():  # the same ranking work as rank() does for 1,000 queries
        for start in range(0, N_QUERIES, 256):
            topk_masked(scores[: min(256, N_QUERIES - start)], seeds[start:start + 256], K)

    benchmark.pedantic(topk_all, rounds=2, iterations=1)


# --------------------------------------------------------------------------------------
# fit time at the quick scale


def quick_world(seed: int = 0, n_train: int = 3000, n_valid: int = 1000, n_clusters: int = 20,
                dim: int = 256, playlists_per_track: float = 1.4, length=(20, 100),
                purity: float = 0.8, noise: float = 4.0):
    """A synthetic TrainData of the quick scale, plus validation queries: tracks in
    clusters (content = centroid·0.5 + noise), playlists drawing ``purity`` of their tracks
    from one cluster."""
    rng = np.random.default_rng(seed)
    centroids = 0.5 * rng.standard_normal((n_clusters, dim)).astype(np.float32)

    def split(n_tracks):
        clusters = rng.integers(0, n_clusters, n_tracks)
        vecs = (centroids[clusters] + noise * rng.standard_normal((n_tracks, dim))).astype(np.float32)
        pools = [np.flatnonzero(clusters == c) for c in range(n_clusters)]
        n_pl = max(2, round(n_tracks * playlists_per_track / (sum(length) / 2)))
        pls = []
        for _ in range(n_pl):
            c = int(rng.integers(n_clusters))
            n = int(rng.integers(length[0], length[1] + 1))
            n_in = min(round(n * purity), len(pools[c]))
            picked = np.concatenate([rng.choice(pools[c], n_in, replace=False),
                                     rng.choice(n_tracks, n - n_in, replace=False)])
            pls.append(np.unique(picked).astype(np.int64))
        return vecs, pls

    vecs, pls = split(n_train)
    train = TrainData([f"t{i}" for i in range(n_train)], vecs, pls,
                      [f"p{i}" for i in range(len(pls))])
    cv, cp = split(n_valid)
    seeds, gts = [], []
    for p in cp:
        perm = rng.permutation(p)
        s = n_seeds(len(p))
        seeds.append(perm[:s])
        gts.append(perm[s:])
    valid = QuerySet("valid", [f"v{i}" for i in range(n_valid)],
                     [f"vp{i}" for i in range(len(cp))], seeds, gts, 0)
    return train, valid, cv


@pytest.mark.benchmark(group="fit-quick")
@pytest.mark.parametrize("name", [n for n in REGISTRY.names() if REGISTRY.get(n).meta.trains])
def test_fit_time_quick(benchmark, name):
    train, valid, cv = quick_world()
    validator = make_validator(valid, cv)
    reports = []

    def fit():
        rec = REGISTRY.get(name).from_profile("quick")
        reports.append(rec.fit(train, seed=0, validator=validator))

    benchmark.pedantic(fit, rounds=1, iterations=1)
    report = reports[-1]
    benchmark.extra_info.update({
        "n_train_tracks": len(train.item_ids), "n_train_playlists": len(train.playlists),
        "n_pairs": report.get("n_pairs"), "epochs_run": report["epochs_run"],
        "best_epoch": report["best_epoch"], "best_valid_recall@10": report["best_valid"],
        "fit_time_s": report["fit_time_s"], "validation_time_s": report["validation_time_s"],
    })
    assert report["epochs_run"] >= 1
