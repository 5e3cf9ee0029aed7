"""``larpbench train``: trains one encoder into the grid's cache, with the harness's validator;
``--nproc N`` relaunches itself under torch.distributed.run."""

from __future__ import annotations

import sys

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
    assert seen["cmd"] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "benchmark.cli", *argv]
