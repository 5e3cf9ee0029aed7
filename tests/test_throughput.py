"""The throughput study (benchmark/harness/throughput.py, benchmark/reports/throughput.py)
and the embed_stages split it times."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark import studies
from benchmark.core.results import iter_records, write_record
from benchmark.harness import throughput as tp
from benchmark.reports.throughput import render_throughput


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return tp.clips_dataset(tmp_path_factory.mktemp("clips"), {"train": 4, "valid": 4, "test": 6, "pretrain": 4},
                            seconds=2.0)


def test_study_declares_its_measure():
    study = studies.get("throughput")
    module, _, name = study.measure.partition(":")
    assert callable(getattr(__import__(module, fromlist=[name]), name))


def test_profile_encoders_cover_the_grid_and_larp_but_no_oracle():
    from benchmark.harness.grid import GridConfig
    from encoders import REGISTRY

    quick = tp.profile_encoders("quick")
    grid = GridConfig(profile="quick").resolved().encoders
    assert "larp" in quick  # configured for quick, not in its grid
    assert not set(tp.SAME_EMBED_PATH) & set(quick)  # its stage variants: the same network and embed path
    assert set(grid) - set(tp.SAME_EMBED_PATH) - {n for n in grid if "oracle" in REGISTRY.get(n).meta.tags} \
        <= set(quick)
    assert not [n for n in quick if "oracle" in REGISTRY.get(n).meta.tags]
    assert "larp" not in grid


def test_melstats_stages_compose_to_embed(clips, tmp_path):
    enc = tp.prepare_encoder("melstats", "ci", clips, tmp_path)
    ids = tp.embed_ids(clips)
    stages = enc.embed_stages(clips)
    np.testing.assert_allclose(stages.forward(stages.frontend(clips, ids)), enc.embed(clips, ids), rtol=1e-6)
    t = tp.encoder_timings(enc, clips, ids, repeats=1)
    assert t["split"] and t["dim"] == enc.output_dim() and t["clips"] == len(ids)
    assert t["frontend_s"] > 0 and t["forward_s"] > 0 and t["embed_s"] > 0


def test_text_encoder_is_whole_pipeline_only(clips, tmp_path):
    enc = tp.prepare_encoder("bert-text", "ci", clips, tmp_path)
    assert enc.embed_stages(clips) is None


def test_renders_from_records_only(tmp_path):
    host = {"cpu": "test cpu", "cpus": 2, "torch_threads": 2, "torch": "x", "numpy": "y", "python": "3",
            "date": "2026-01-01 00:00 UTC", "load_average": [1.0, 1.0, 1.0]}
    out = tmp_path / "ci" / "throughput"
    write_record(out / "encoder-a.json", {
        "kind": "throughput", "what": "encoder", "name": "a", "machine": host, "cell": {"encoder": "a"},
        "measurements": {"status": "ok", "clips": 24, "frontend_s": 1.0, "forward_s": 2.0, "embed_s": 3.0,
                         "clips_per_s": 8.0, "dim": 16, "split": True, "embed_over_stages": 1.0,
                         "parameters": 123456, "peak_rss_mib": 500.0,
                         "grid_fit": {"fit_s": 12.5, "dataset": "synth-mpd"}}})
    write_record(out / "encoder-b.json", {
        "kind": "throughput", "what": "encoder", "name": "b", "machine": host, "cell": {"encoder": "b"},
        "measurements": {"status": "unavailable", "reason": "needs weights"}})
    write_record(out / "recommender-r.json", {
        "kind": "throughput", "what": "recommender", "name": "r", "machine": host, "cell": {"recommender": "r"},
        "scale": {"n_train": 10}, "measurements": {"fit_s": 1.5, "epochs_run": 2, "score_s": 0.1,
                                                   "queries_per_s": 100.0, "train_tracks": 10,
                                                   "train_playlists": 3, "queries": 10, "candidates": 5}})
    assert len(list(iter_records(tmp_path, "ci", kinds=["throughput"]))) == 3
    text = render_throughput(tmp_path, "ci")
    assert "test cpu" in text and "0.12 M" in text and "24.0 / 12.0" in text and "12.5 s (synth-mpd)" in text
    assert "unavailable: needs weights" in text and "| r " in text
    assert "at commit" not in text  # records from before the commit was recorded
    for f in out.glob("*.json"):  # with it, the header names the commit the code was at
        rec = json.loads(f.read_text())
        rec["machine"]["git"] = {"commit": "0123456789abcdef0123", "dirty": True}
        f.write_text(json.dumps(rec))
    assert "measured 2026-01-01 00:00 UTC at commit 0123456789ab (dirty)." in render_throughput(tmp_path, "ci")


def test_machine_records_the_code_commit():
    from benchmark.core.provenance import git_state
    from benchmark.harness.throughput import machine

    assert machine()["git"] == git_state()


def test_artist_gnn_workload_has_the_declared_shape():
    from benchmark.harness.throughput import ARTIST_SHAPES, artist_scene_world

    n, mean_degree, _ = ARTIST_SHAPES["ci"]
    graph, x = artist_scene_world(*ARTIST_SHAPES["ci"])
    assert graph.n == n and x.shape == (n, 128)
    assert (graph.edges[:, 0] < graph.edges[:, 1]).all()
    assert len(np.unique(graph.edges, axis=0)) == len(graph.edges)
    assert graph.degrees().mean() == pytest.approx(mean_degree, abs=0.01)
