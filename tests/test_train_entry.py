"""``larpbench train``: trains one encoder into the grid's cache, with the harness's validator;
``--nproc N`` relaunches itself under torch.distributed.run."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.harness import train
from benchmark.harness.embeddings import EmbeddingStore
from benchmark.harness.grid import make_encoder


def test_train_fills_the_grids_cache_entry(tiny_dataset):
    report = train.train_encoder("melstats", str(tiny_dataset.root), profile="ci", seed=0, progress=False)
    assert report  # melstats fits its standardisation statistics
    store = EmbeddingStore(make_encoder("melstats", "ci", 0), tiny_dataset, 0, progress=False)
    assert any(store.workdir.iterdir())  # the grid would find the trained state here


def test_train_refuses_an_encoder_that_does_not_train(tiny_dataset, capsys):
    assert main(["train", "random", "--dataset", str(tiny_dataset.root), "--profile", "ci", "--quiet"]) == 2
    assert "does not train" in capsys.readouterr().err


def test_nproc_relaunches_under_torchrun(monkeypatch, tiny_dataset):
    seen = {}

    def fake_relaunch(nproc, argv):
        seen["cmd"] = train.torchrun_command(nproc, argv)
        return 0

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setattr(train, "relaunch", fake_relaunch)
    argv = ["train", "larp", "--dataset", str(tiny_dataset.root), "--profile", "ci", "--nproc", "2"]
    assert main(argv) == 0
    # without --nproc: torchrun's parser would read it as an abbreviation of its --nproc-per-node
    assert seen["cmd"] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "benchmark.cli", *argv[:-2]]
    assert train.without_nproc(["a", "--nproc=3", "b", "--nproc", "2", "c"]) == ["a", "b", "c"]


@pytest.mark.slow
def test_larp_trains_end_to_end_with_two_processes(tiny_dataset):
    """``larpbench train larp --nproc 2`` for real (not the relaunch alone): torchrun starts two
    gloo processes that train all three LARP stages (one epoch each, ci profile, random audio
    init: the tiny world's CLAP-PT would dominate the time) into the cache; every epoch's log
    line records world size 2, and both ranks' steps went through DDP (the queue pointer
    moves by the global batch)."""
    pytest.importorskip("laion_clap")
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update({"PYTHONPATH": os.pathsep.join([str(root), env.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"})
    argv = ["train", "larp", "--dataset", str(tiny_dataset.root), "--profile", "ci", "--nproc", "2", "--quiet",
            "--set", "audio_init=random", "--set", "max_epochs=[1,1,1]", "--set", "num_threads=1"]
    proc = subprocess.run([sys.executable, "-m", "benchmark.cli", *argv], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stages = {}
    for done in (Path(os.environ["LARPBENCH_CACHE"]) / "shared" / "larp").glob("*/done.json"):
        log = [json.loads(line) for line in (done.parent / "log.jsonl").read_text().splitlines()]
        if any(r.get("world_size") == 2 for r in log):
            stages[json.loads(done.read_text())["stage_name"]] = log
    assert set(stages) == {"wtc", "ttc", "tpc"}
    for name, log in stages.items():
        trained = [r for r in log if r["epoch"] >= 1]
        assert len(trained) == 1 and trained[0]["steps"] > 0 and trained[0]["world_size"] == 2, name
        assert trained[0]["clips"] == trained[0]["steps"] * 2 * 16 * (1 if name == "wtc" else 2), name
        assert math.isfinite(trained[0]["loss"]), name
