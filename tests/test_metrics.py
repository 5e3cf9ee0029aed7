"""Metrics against hand-worked examples and the formulas in the docstrings."""

import math

import numpy as np
import pytest

from benchmark.core.metrics import (
    bootstrap_ci,
    evaluate,
    hit_matrix,
    ndcg_at_k,
    paired_permutation_test,
    recall_at_k,
    recall_capped_at_k,
)


def test_hand_worked_example():
    # ranking [5, 1, 7, 3] with ground truth {1, 3, 9}: hits at ranks 2 and 4
    topk = np.array([[5, 1, 7, 3]])
    gt = [np.array([1, 3, 9])]
    hits = hit_matrix(topk, gt)
    assert hits.tolist() == [[False, True, False, True]]
    n_gt = np.array([3])
    assert recall_at_k(hits, n_gt, 4)[0] == pytest.approx(2 / 3)
    assert recall_at_k(hits, n_gt, 2)[0] == pytest.approx(1 / 3)
    assert recall_capped_at_k(hits, n_gt, 2)[0] == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(hits, n_gt, 4)[0] == pytest.approx(dcg / idcg)


def test_gt_smaller_than_k():
    # |GT| = 2 < K = 4; both found at ranks 1 and 3
    topk = np.array([[0, 8, 2, 9]])
    hits = hit_matrix(topk, [np.array([0, 2])])
    n_gt = np.array([2])
    assert recall_at_k(hits, n_gt, 4)[0] == 1.0
    assert recall_capped_at_k(hits, n_gt, 4)[0] == 1.0
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))  # IDCG over min(|GT|,K)=2 ones
    assert ndcg_at_k(hits, n_gt, 4)[0] == pytest.approx(expected)


def test_paper_recall_is_capped_by_k_over_gt():
    # |GT| = 50, all top-10 are hits: paper recall@10 = 10/50, capped recall = 1
    gt = [np.arange(50)]
    topk = np.arange(40)[None, :]
    out = evaluate(topk, gt)
    assert out["recall@10"][0] == pytest.approx(0.2)
    assert out["recall_capped@10"][0] == 1.0
    assert out["ndcg@10"][0] == pytest.approx(1.0)
    assert out["recall@40"][0] == pytest.approx(40 / 50)


def test_no_hits_and_padding():
    topk = np.array([[7, 8, -1, -1]])
    hits = hit_matrix(topk, [np.array([1, -1])])  # -1 never counts as a hit
    assert not hits.any()
    assert ndcg_at_k(hits, np.array([2]), 4)[0] == 0.0


def test_empty_ground_truth_dropped_and_mean():
    topk = np.tile(np.arange(40), (3, 1))
    gts = [np.array([0]), np.array([], dtype=np.int64), np.array([100])]
    out = evaluate(topk, gts)
    assert out["recall@10"].tolist() == [1.0, 0.0]
    assert out["recall@10"].mean() == 0.5


def test_evaluate_needs_enough_columns():
    with pytest.raises(ValueError, match="columns"):
        evaluate(np.zeros((1, 5), dtype=np.int64), [np.array([1])])


def test_bootstrap_ci_brackets_mean_and_degenerate():
    rng = np.random.default_rng(1)
    v = rng.random(500)
    lo, hi = bootstrap_ci(v, seed=0)
    assert lo < v.mean() < hi
    # standard error of the mean ~ 0.289/sqrt(500) = 0.0129; 95% CI half-width ~ 0.025
    assert 0.015 < (hi - lo) / 2 < 0.035
    assert bootstrap_ci(np.full(10, 0.3)) == pytest.approx((0.3, 0.3))


def test_paired_permutation_test():
    a = np.linspace(0, 1, 200)
    assert paired_permutation_test(a, a + 0.2) < 0.001
    rng = np.random.default_rng(0)
    noise = rng.normal(size=200)
    assert paired_permutation_test(noise, noise) == 1.0  # identical → p = 1
