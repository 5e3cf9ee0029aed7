"""Grid runner: result files, provenance, caching, resume, determinism, unavailable encoders."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from benchmark.core.results import iter_results, read_record
from benchmark.harness.grid import GridConfig, GridRunner
from benchmark.reports.tables import render_table2


def _grid(results, **kw):
    cfg = GridConfig(profile="ci", datasets=[kw.pop("dataset", "synth-mpd")],
                     encoders=kw.pop("encoders", ["melstats"]),
                     recommenders=kw.pop("recommenders", ["itemknn"]), seeds=[0],
                     results_dir=results, progress=False, fail_fast=True, **kw)
    return GridRunner(cfg)


@pytest.fixture
def tiny_size(monkeypatch):
    """Run the ci profile on the tiny data so these tests stay fast."""
    from benchmark.core import profiles

    monkeypatch.setitem(profiles.PROFILES, "ci", profiles.Profile(
        "ci", "tiny", ("synth-mpd",), (0,), "test"))


def test_result_file_carries_provenance(tmp_path, tiny_size, tiny_dataset):
    out = _grid(tmp_path / "r").run()
    assert [c.encoder for c in out["ok"]] == ["melstats"]
    (path, res), = list(iter_results(tmp_path / "r"))
    assert path.relative_to(tmp_path / "r").as_posix() == "ci/synth-mpd/melstats/itemknn/seed0.json"
    assert res["status"] == "ok"
    assert res["dataset"]["hash"] == tiny_dataset.content_hash
    for key in ("git", "versions", "device", "python", "timestamp"):
        assert key in res["provenance"]
    assert res["provenance"]["versions"]["numpy"] == np.__version__
    cpu = res["provenance"]["device"]["cpu_identity"]  # what to compare when machines disagree
    assert set(cpu) == {"model", "flags", "libc"}
    if os.path.exists("/proc/cpuinfo"):
        assert cpu["model"] and isinstance(cpu["flags"], list)
    assert res["encoder"]["meta"]["name"] == "melstats" and "config" in res["encoder"]
    assert res["recommender"]["config"]["pooling"] == "sum"
    n = res["n_playlists"]
    assert len(res["per_playlist"]["playlist_ids"]) == n
    for m in ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "recall@40", "ndcg@40", "recall_capped@10"):
        assert len(res["per_playlist"][m]) == n
        assert res["metrics"][m] == pytest.approx(np.mean(res["per_playlist"][m]))
        lo, hi = res["ci95"][m]
        assert lo <= res["metrics"][m] <= hi
    assert res["wall_time_s"]["cell_total_s"] > 0
    assert not list((tmp_path / "r").rglob(".*.json.*")), "temporary files left behind"


def test_variants_of_one_encoder_are_fitted_and_embedded_apart(tmp_path, tiny_size, tiny_dataset):
    """Two variants of an encoder in one process: each cell embeds with its own config (a
    store keyed by encoder name alone gave every variant the first one's embeddings)."""
    out = _grid(tmp_path / "r", encoders=["random"], variants=["dim=8", "dim=16"]).run()
    assert len(out["ok"]) == 2
    dims = {c.variant: read_record(c.path(tmp_path / "r"))["cost"]["embedding_dim"] for c in out["ok"]}
    assert dims == {"dim=8": 8, "dim=16": 16}


def test_finished_cells_are_skipped_and_resume(tmp_path, tiny_size, tiny_dataset):
    r = tmp_path / "r"
    first = _grid(r, recommenders=["itemknn"]).run()
    assert len(first["ok"]) == 1
    path = next(r.rglob("seed0.json"))
    mtime = os.stat(path).st_mtime_ns
    second = _grid(r, recommenders=["itemknn"]).run()
    assert len(second["cached"]) == 1 and not second["ok"]
    assert os.stat(path).st_mtime_ns == mtime
    # a changed config is a different cell key: recomputed, not served stale
    third = _grid(r, recommender_overrides={"itemknn": {"pooling": "mean"}}).run()
    assert len(third["ok"]) == 1


def test_same_seed_same_numbers(tmp_path, tiny_size, tiny_dataset, monkeypatch):
    _grid(tmp_path / "a").run()
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "fresh-cache"))  # recompute embeddings
    _grid(tmp_path / "b").run()
    a = read_record(next((tmp_path / "a").rglob("seed0.json")))
    b = read_record(next((tmp_path / "b").rglob("seed0.json")))
    assert a["metrics"] == b["metrics"]
    assert a["per_playlist"] == b["per_playlist"]


def test_unavailable_encoder_is_marked(tmp_path, tiny_size, tiny_dataset):
    out = _grid(tmp_path / "r", encoders=["precomputed"]).run()
    assert len(out["unavailable"]) == 1
    res = read_record(next((tmp_path / "r").rglob("seed0.json")))
    assert res["status"] == "unavailable" and "path" in res["reason"]
    table = render_table2(tmp_path / "r", "ci")
    assert "n/a: unavailable" in table
    assert "not run" in table  # paper rows without results are kept and marked


def test_precomputed_file_plugs_in(tmp_path, tiny_size, tiny_dataset):
    ids = [t for s in ("train", "valid", "test") for t in tiny_dataset.track_ids(s)]
    genre = {t: tiny_dataset.tracks[t].extra.get("genre", "") for t in ids}
    names = sorted(set(genre.values()))
    vecs = np.array([[float(genre[t] == g) for g in names] for t in ids], dtype=np.float32)
    np.save(tmp_path / "emb.npy", vecs)
    (tmp_path / "emb.txt").write_text("\n".join(ids) + "\n")
    out = _grid(tmp_path / "r", encoders=["precomputed"],
                encoder_overrides={"precomputed": {"path": str(tmp_path / "emb.npy")}}).run()
    assert len(out["ok"]) == 1
    res = read_record(next((tmp_path / "r").rglob("seed0.json")))
    assert res["metrics"]["recall@10"] > 0


def test_table2_renders_from_files_only(tmp_path, tiny_size, tiny_dataset):
    _grid(tmp_path / "r").run()
    path = next((tmp_path / "r").rglob("seed0.json"))
    res = json.loads(path.read_text())
    res["metrics"]["recall@10"] = 0.123456  # the table reads per-playlist values, not this field
    res["per_playlist"]["recall@10"] = [0.5] * len(res["per_playlist"]["recall@10"])
    path.write_text(json.dumps(res))
    table = render_table2(tmp_path / "r", "ci")
    assert "0.5000" in table
    assert "(0.0406)" in table  # LARP's paper R@10 on MPD stands beside the marked row


def test_git_state_ignores_rewritten_result_files(tmp_path):
    import subprocess

    from benchmark.core.provenance import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "cell.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (tmp_path / "results" / "cell.json").write_text('{"new": 1}')
    state = git_state.__wrapped__(str(tmp_path))
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state.__wrapped__(str(tmp_path))["dirty"] is True


def test_records_carry_cost_and_encoder_metadata(tmp_path, tiny_size, tiny_dataset):
    """Parameter count, embedding dim, seconds, peak memory; a cell that reuses cached
    embeddings reports the cost recorded when they were made, marked as cached."""
    _grid(tmp_path / "a", encoders=["bert-text"]).run()
    first = read_record(next((tmp_path / "a").rglob("seed0.json")))
    cost = first["cost"]
    assert cost["encoder_parameters"] > 1_000_000 and cost["embedding_dim"] == 384
    assert cost["encoder"]["measured"]["embed_test_s"] > 0 and not cost["encoder"]["cached"]
    assert cost["peak_rss_mib"] > 100 and cost["peak_cuda_mib"] is None
    meta = first["encoder"]["meta"]
    assert meta["licence_code"] and meta["licence_weights"] and "torch" in meta["output_libraries"]
    _grid(tmp_path / "b", encoders=["bert-text"]).run()  # same cache, new results folder
    again = read_record(next((tmp_path / "b").rglob("seed0.json")))["cost"]["encoder"]
    assert not again["measured"] and again["cached"]["embed_test_s"] == cost["encoder"]["measured"]["embed_test_s"]


def test_cells_keep_their_rankings(tmp_path, tiny_size, tiny_dataset):
    """The top-40 of every test playlist is stored beside the record; the record's
    per-playlist metrics follow from it (hits counted here by hand)."""
    from benchmark.core.rankings import load_rankings, rankings_path

    _grid(tmp_path / "r").run()
    path = next((tmp_path / "r").rglob("seed0.json"))
    res = read_record(path)
    rk = load_rankings(rankings_path(path))
    assert res["rankings"]["file"] == rankings_path(path).name and res["rankings"]["k"] == 40
    assert rk.playlist_ids == res["per_playlist"]["playlist_ids"] and rk.topk.shape == (len(rk.playlist_ids), 40)
    test_ids = tiny_dataset.track_ids("test")
    assert rk.n_candidates == len(test_ids)
    assert [rk.artists[a] for a in rk.candidate_artist] == [tiny_dataset.tracks[t].artist for t in test_ids]
    for i, (top, seeds, truth) in enumerate(zip(rk.topk, rk.seeds, rk.truth)):
        assert not set(top[:10]) & set(seeds)  # seeds are masked
        hits = len(set(top[:10]) & set(truth))
        assert res["per_playlist"]["recall@10"][i] == pytest.approx(hits / len(truth))
