"""Registry-wide contract tests: every entry of ``recommenders.REGISTRY`` has sane
metadata and profiles, fits on a small synthetic TrainData with planted structure, scores
cold queries with the right shape, finite and deterministic for a seed, and beats a random
ranking on held-out cold playlists."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.core.evaluation import evaluate_recommender
from benchmark.core.protocol import QuerySet, n_seeds
from recommenders import REGISTRY, Recommender, RecommenderMeta, TrainData

PAPER_ROWS = {"ItemKNN", "DropoutNet", "CLCRec", None}
PROFILES = ("ci", "quick", "paper")
NAMES = REGISTRY.names()


def _split(rng, n_tracks, centroids, n_playlists, length, purity, noise):
    """Tracks in clusters; content = cluster centroid + noise; each playlist draws most of
    its tracks from one cluster, so content is correlated with playlist membership."""
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


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(42)
    k, d = 5, 24
    centroids = rng.standard_normal((k, d)).astype(np.float32)
    vecs, pls = _split(rng, 300, centroids, 30, 18, 0.85, 1.0)
    train = TrainData([f"t{i}" for i in range(300)], vecs, pls, [f"tp{i}" for i in range(30)])
    cold_vecs, cold_pls = _split(rng, 200, centroids, 16, 18, 0.85, 1.0)
    seeds, gts = [], []
    for p in cold_pls:
        perm = rng.permutation(p)
        s = n_seeds(len(p))
        seeds.append(perm[:s])
        gts.append(perm[s:])
    test = QuerySet("test", [f"c{i}" for i in range(200)], [f"cp{i}" for i in range(16)],
                    seeds, gts, 0)
    return train, test, cold_vecs


def test_registry_has_the_paper_recommenders():
    for name in ("itemknn", "dropoutnet", "clcrec"):
        assert name in REGISTRY
    rows = {REGISTRY.get(n).meta.paper_row for n in NAMES}
    assert {"ItemKNN", "DropoutNet", "CLCRec"} <= rows


def test_registry_suggests_close_names():
    with pytest.raises(LookupError, match="clcrec"):
        REGISTRY.get("clcrc")


@pytest.mark.parametrize("name", NAMES)
def test_meta_is_sane(name):
    cls = REGISTRY.get(name)
    assert issubclass(cls, Recommender)
    meta = cls.meta
    assert isinstance(meta, RecommenderMeta)
    assert meta.name == name and name == name.lower() and " " not in name
    assert isinstance(meta.version, str) and meta.version
    assert meta.description and meta.citation
    assert isinstance(meta.trains, bool)
    assert meta.paper_row in PAPER_ROWS
    assert meta.to_dict()["name"] == name


@pytest.mark.parametrize("name", NAMES)
def test_profiles_are_sane(name):
    cls = REGISTRY.get(name)
    for profile in PROFILES:
        assert profile in cls.profile_configs, f"{name} lacks profile {profile!r}"
    for profile, cfg in cls.profile_configs.items():
        assert set(cfg) <= set(cls.default_config), (profile, set(cfg) - set(cls.default_config))
        rec = cls.from_profile(profile)
        assert set(rec.config) == set(cls.default_config)
    with pytest.raises(ValueError, match="unknown config"):
        cls({"no_such_option": 1})


def _fit_and_score(name, world, seed):
    train, test, cold = world
    rec = REGISTRY.get(name).from_profile("ci")
    report = rec.fit(train, seed=seed)
    assert isinstance(report, dict)
    return rec, report, rec.score(test.seeds, cold)


@pytest.fixture(scope="module")
def runs(world):
    return {name: [_fit_and_score(name, world, 0), _fit_and_score(name, world, 0)]
            for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_scores_shape_finite_deterministic(name, world, runs):
    _, test, cold = world
    (rec, report, s1), (_, _, s2) = runs[name]
    assert s1.shape == (len(test), cold.shape[0])
    assert np.all(np.isfinite(s1))
    np.testing.assert_array_equal(s1, s2)  # same seed, same scores
    if rec.meta.trains:
        assert report.get("fit_time_s", 0) > 0 and report.get("epochs_run", 0) >= 1
    # batching the queries does not change a query's scores
    half = len(test) // 2
    np.testing.assert_allclose(rec.score(test.seeds[:half], cold), s1[:half],
                               rtol=1e-5, atol=1e-5 * float(np.abs(s1).max()))


@pytest.mark.parametrize("name", NAMES)
def test_seed_changes_trained_models(name, world, runs):
    rec, _, s0 = runs[name][0]
    if not rec.meta.trains:
        pytest.skip("nothing random in an untrained recommender")
    _, _, s1 = _fit_and_score(name, world, 1)
    assert not np.array_equal(s0, s1)


@pytest.mark.parametrize("name", NAMES)
def test_beats_random_on_cold_queries(name, world, runs):
    _, test, cold = world
    rec = runs[name][0][0]
    metrics = evaluate_recommender(rec, test, cold, ks=(10,))
    recall = float(metrics["recall@10"].mean())
    # a random ranking's expected recall@10 is 10 / (#candidates − #seeds) per playlist
    random_recall = float(np.mean([10 / (cold.shape[0] - len(s)) for s in test.seeds]))
    assert recall > 2 * random_recall, (name, recall, random_recall)
