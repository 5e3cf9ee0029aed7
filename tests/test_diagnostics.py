"""Diagnostics from stored rankings (benchmark.reports.diagnostics) on hand-built rankings."""

from __future__ import annotations

import numpy as np
import pytest
from _records_fixture import metrics_from_topk, random_world, write_cell

from benchmark.core.rankings import Rankings
from benchmark.core.results import read_record
from benchmark.reports.diagnostics import NOT_AVAILABLE, cell_diagnostics, diagnostics


def _hand_built() -> Rankings:
    # 8 candidates; artists: 0,1 → X; 2,3 → Y; 4,5 → Z; 6,7 → W
    artists = ["X", "X", "Y", "Y", "Z", "Z", "W", "W"]
    names = sorted(set(artists))
    return Rankings(
        playlist_ids=["p0", "p1", "p2"],
        # top-3 lists (k = 3 below); -1 pads p2's list
        topk=np.array([[1, 2, 6], [1, 4, 5], [3, -1, -1]]),
        seeds=[np.array([0]), np.array([7, 6]), np.array([2, 0, 4, 5, 6, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                                 1, 1, 1, 1, 1])],
        truth=[np.array([1, 2]), np.array([5, 0, 3]), np.array([3])],
        candidate_artist=np.array([names.index(a) for a in artists]), artists=names)


def test_hand_built_diagnostics():
    d = diagnostics(_hand_built(), k=3)
    # p0: seeds' artist X; hits 1 (X, a seed artist) and 2 (Y) → recall 2/2, other-artist 1/2
    # p1: seeds' artist W; hits 5 (Z) → recall 1/3, other-artist 1/3
    # p2: seeds' artists Y, X, Z, W; hit 3 (Y) → recall 1, other-artist 0
    assert d["recall@3"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert d["recall_other_artist@3"] == pytest.approx((0.5 + 1 / 3 + 0) / 3)
    assert d["seed_artist_hit_share@3"] == pytest.approx(2 / 4)
    # shown: {1, 2, 6, 4, 5, 3} of 8 candidates
    assert d["coverage@3"] == pytest.approx(6 / 8)
    # distinct artists per list: {X, Y, W} 3/3, {X, Z} 2/3, {Y} 1/1
    assert d["artist_diversity@3"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    # lengths: p0 3, p1 5 (bucket ≤ 20), p2 22 (21–40)
    buckets = {b["bucket"]: b for b in d["by_length"]}
    assert buckets["≤ 20"]["playlists"] == 2 and buckets["≤ 20"]["recall@3"] == pytest.approx((1 + 1 / 3) / 2)
    assert buckets["21–40"]["playlists"] == 1 and buckets["21–40"]["recall@3"] == pytest.approx(1.0)
    assert buckets["> 70"]["playlists"] == 0 and buckets["> 70"]["recall@3"] is None


def test_recall_equals_the_records_recall(tmp_path):
    world = random_world(seed=1)
    per = metrics_from_topk(world["topk"], world["truth"])
    path = write_cell(tmp_path, "ci", "synth-mpd", "enc", "itemknn", per, rankings=world)
    d = cell_diagnostics(read_record(path))
    assert d["status"] == "ok"
    assert d["recall@10"] == pytest.approx(float(per["recall@10"].mean()))
    assert d["recall_other_artist@10"] <= d["recall@10"]
    assert 0 < d["coverage@10"] <= 1 and 0 < d["artist_diversity@10"] <= 1


def test_records_without_rankings_say_so(tmp_path):
    world = random_world(seed=2)
    per = metrics_from_topk(world["topk"], world["truth"])
    old = write_cell(tmp_path, "ci", "synth-mpd", "old", "itemknn", per)
    assert cell_diagnostics(read_record(old)) == {"status": "not available", "reason": NOT_AVAILABLE}
    gone = write_cell(tmp_path, "ci", "synth-mpd", "gone", "itemknn", per, rankings=world)
    gone.with_suffix(".rankings.npz").unlink()
    d = cell_diagnostics(read_record(gone))
    assert d["status"] == "missing" and "seed0.rankings.npz" in d["reason"]
    off = write_cell(tmp_path, "ci", "synth-mpd", "off", "itemknn", None, status="unavailable")
    assert cell_diagnostics(read_record(off))["status"] == "not available"
