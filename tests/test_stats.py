"""Comparisons between encoders (benchmark.core.stats) against hand-worked cases and the
formulas in the docstrings; Table 2's letters and seed spread from hand-built records."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _records_fixture import write_cell

from benchmark.core.stats import (
    compact_letters,
    compare_all,
    holm,
    paired_bootstrap_ci,
    seed_spread,
    sign_flip_pvalues,
)


def test_holm_hand_worked():
    # sorted 0.01, 0.03, 0.04 → 3·0.01, 2·0.03, max(0.06, 1·0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1, monotone
    out = holm([0.02, float("nan"), 0.01])  # nan does not count in m
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.02)
    assert holm([]).size == 0


def test_sign_flip_exact_three_playlists_by_enumeration():
    d = np.array([0.1, 0.2, -0.05])
    # |Σ s·d| over the 8 sign vectors: 0.35, 0.25, 0.05, 0.15 (each twice); observed 0.25
    sums = [abs(np.dot(s, d)) for s in itertools.product((-1, 1), repeat=3)]
    expected = sum(s >= 0.25 - 1e-12 for s in sums) / 8
    assert expected == 0.5
    assert sign_flip_pvalues(d)[0] == pytest.approx(expected)
    assert sign_flip_pvalues(np.array([0.1, 0.2, 0.3]))[0] == pytest.approx(2 / 8)  # only ±(1,1,1)
    assert sign_flip_pvalues(np.zeros(3))[0] == 1.0


def test_sign_flip_agrees_with_scipy_permutation_test():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    a, b = rng.random(9), rng.random(9)
    ref = scipy_stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis),
                                       permutation_type="samples", n_resamples=10_000).pvalue
    assert sign_flip_pvalues(a - b)[0] == pytest.approx(ref)


def test_sign_flip_monte_carlo_bounds_and_rows():
    rng = np.random.default_rng(2)
    d = np.stack([rng.normal(0.5, 1, 200), rng.normal(0, 1, 200)])
    p = sign_flip_pvalues(d, n_perm=2000)
    assert p.shape == (2,)
    assert p[0] == pytest.approx(1 / 2001)  # a shift of half a s.d. over 200 playlists: never reached
    assert 0.05 < p[1] <= 1
    assert sign_flip_pvalues(d[1], n_perm=2000)[0] == pytest.approx(p[1])  # same signs for every row


def test_paired_bootstrap_matches_direct_resampling():
    rng = np.random.default_rng(3)
    d = rng.normal(size=30)
    lo, hi = paired_bootstrap_ci(d[None, :], n_boot=500, seed=7)[0]
    idx = np.random.default_rng(7).integers(0, 30, size=(500, 30))
    means = d[idx].mean(axis=1)
    assert (lo, hi) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    assert paired_bootstrap_ci(np.full((1, 5), 0.2))[0] == pytest.approx([0.2, 0.2])


def test_compact_letters_hand_built_matrix():
    # A > B > C > D; differences A–C, A–D, B–D: the classic a / ab / bc / c
    sig = {frozenset("AC"): True, frozenset("AD"): True, frozenset("BD"): True}
    assert compact_letters("ABCD", sig) == {"A": "a", "B": "ab", "C": "bc", "D": "c"}
    assert compact_letters("ABC", {}) == {"A": "a", "B": "a", "C": "a"}
    every = {frozenset(p): True for p in itertools.combinations("ABC", 2)}
    assert compact_letters("ABC", every) == {"A": "a", "B": "b", "C": "c"}
    # a non-interval relation: A–B differ only
    assert compact_letters("ABC", {frozenset("AB"): True}) == {"A": "a", "B": "b", "C": "ab"}


def test_compare_all_orients_pairs_and_letters():
    rng = np.random.default_rng(4)
    base = rng.random(100)
    fam = compare_all({"low": base * 0.2, "high": base, "high2": base + rng.normal(0, 1e-3, 100)})
    assert fam.order[0] in ("high", "high2") and fam.order[-1] == "low"
    c = fam.pair("high", "low")
    assert c is not None and c.diff > 0 and c.ci[0] > 0 and c.significant
    assert fam.letters["low"] == "b" and fam.letters["high"] == fam.letters["high2"] == "a"
    assert len(fam.comparisons) == 3
    assert all(x.p_holm >= x.p for x in fam.comparisons)
    with pytest.raises(ValueError, match="not paired"):
        compare_all({"a": np.zeros(3), "b": np.zeros(4)})


def test_seed_spread():
    assert seed_spread([0.1, 0.2, 0.3]) == pytest.approx((0.2, 0.1))
    assert seed_spread([0.1]) is None


def _metrics(values: np.ndarray) -> dict[str, np.ndarray]:
    return {m: values for m in ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "recall@40", "ndcg@40")}


def test_table2_letters_and_seed_spread(tmp_path):
    from benchmark.reports.tables import render_table2, table2_data

    rng = np.random.default_rng(5)
    good = rng.random(60)
    write_cell(tmp_path, "ci", "synth-mpd", "enc-a", "itemknn", _metrics(good), seed=0)
    write_cell(tmp_path, "ci", "synth-mpd", "enc-a", "itemknn", _metrics(good * 0.9), seed=1)
    write_cell(tmp_path, "ci", "synth-mpd", "enc-b", "itemknn", _metrics(good * 0.1))
    write_cell(tmp_path, "ci", "synth-mpd", "enc-c", "itemknn", None, status="unavailable")
    data = table2_data(tmp_path, "ci")
    fam = data["families"]["synth-mpd", "itemknn", "R@10"]
    assert fam.letters == {"enc-a": "a", "enc-b": "b"}  # the unavailable row is not compared
    text = render_table2(tmp_path, "ci")
    row_a = next(line for line in text.splitlines() if "| enc-a" in line)
    mean_a = (good.mean() + 0.9 * good.mean()) / 2
    sd_a = np.std([good.mean(), 0.9 * good.mean()], ddof=1)
    assert f"{mean_a:.4f} [" in row_a and " a {seeds: " in row_a
    assert f"{{seeds: {mean_a:.4f} ± {sd_a:.4f}, n=2}}" in row_a
    row_c = next(line for line in text.splitlines() if "| enc-c" in line)
    assert "n/a: unavailable" in row_c and " a " not in row_c
    assert "Holm-adjusted over 1 pairs" in text
