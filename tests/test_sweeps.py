"""The caption-sweep study: its declaration expands to the expected cells, and its report
renders from hand-made records (expected numbers computed here)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmark import studies
from benchmark.core.results import write_record
from benchmark.core.stats import t_interval
from benchmark.data.builders.synth import SynthMPD
from benchmark.harness.grid import GridRunner
from benchmark.harness.studies import block_config
from benchmark.reports.studies import render_study
from benchmark.reports.sweeps import render_sweep, sweep_data
from benchmark.studies.sweeps import CAPTION_ENCODERS

T_975_DF2 = 4.302652729749462  # Student t, 0.975 quantile, 2 degrees of freedom (tables: 4.303)


def test_the_caption_sweep_declaration():
    study = studies.get("caption-sweep")
    (block,) = study.blocks
    expected = {f"synth-mpd[caption_vocab={v},seed={s}]" for v in ("0.0", "0.25", "0.5", "0.75", "1.0")
                for s in (0, 1, 2)}
    assert set(block.datasets) == expected and len(block.datasets) == 15
    assert block.encoders == ("caption-tfidf", "bert-text", "melstats", "clap-ft", "oracle-genre")
    assert block.recommenders == ("itemknn",) and block.seeds == (0,)
    assert study.pending == ("oracle-genre",)
    assert "LARP joins" in study.description


@pytest.mark.skipif("caption_vocab" not in SynthMPD.override_names(),
                    reason="the generator's caption_vocab dial lands with issue 12 item 1 (main)")
def test_the_caption_sweep_expands_to_its_cells(tmp_path):
    study = studies.get("caption-sweep")
    (block,) = study.blocks
    cfg = block_config(block, "ci", tmp_path, progress=False, pending=study.pending)
    assert cfg is not None
    runner = GridRunner(cfg)
    cells = runner.cells() + runner.skipped_cells()
    n = len(block.datasets) * len(block.encoders) * len(block.recommenders) * len(block.seeds)
    assert len(cells) == n == 75
    assert len({c.path(tmp_path) for c in cells}) == n  # every cell its own record
    assert {c.dataset for c in cells} == set(block.datasets)  # declared in canonical spelling


def test_a_sweep_of_an_existing_dial_expands_the_same_way(tmp_path):
    """The same expansion with a dial this branch's generator has (and a pending encoder)."""
    from benchmark.core.study import Block
    from benchmark.studies.sweeps import sweep_datasets

    datasets = sweep_datasets("synth-mpd", "artist_affinity", (0.0, 0.5, 1.0), (0, 1))
    block = Block(datasets=datasets, encoders=("random", "caption-tfidf", "oracle-later"), recommenders=("itemknn",),
                  seeds=(0,))
    cfg = block_config(block, "ci", tmp_path, progress=False, pending=("oracle-later",))
    assert cfg is not None
    runner = GridRunner(cfg)
    assert len(runner.cells()) == 3 * 2 * 2 and len(runner.skipped_cells()) == 3 * 2
    only = block_config(block, "ci", tmp_path, datasets=["synth-mpd"], progress=False, pending=("oracle-later",))
    assert only is not None and list(only.datasets) == list(datasets)  # a base name selects its variants
    one = block_config(block, "ci", tmp_path, datasets=["synth-mpd[seed=1,artist_affinity=0.5]"], progress=False)
    assert one is not None and list(one.datasets) == ["synth-mpd[artist_affinity=0.5,seed=1]"]


def test_t_interval_by_hand():
    m, lo, hi = t_interval([0.1, 0.2, 0.3])  # type: ignore[misc]
    half = T_975_DF2 * 0.1 / math.sqrt(3)  # s = 0.1
    assert m == pytest.approx(0.2) and lo == pytest.approx(0.2 - half) and hi == pytest.approx(0.2 + half)
    assert t_interval([0.5]) is None


def _cell(results: Path, dataset: str, encoder: str, value: float, *, seed: int = 0, recommender: str = "itemknn",
          status: str = "ok", reason: str | None = None) -> None:
    cell = {"profile": "ci", "dataset": dataset, "encoder": encoder, "recommender": recommender, "seed": seed}
    data = {"kind": "cell", "cell": cell, "cell_key": f"{dataset}/{encoder}/{recommender}/{seed}", "status": status}
    if status == "ok":
        data["metrics"] = {"recall@10": value}
    else:
        data["reason"] = reason
    path = results / "ci" / dataset / encoder / recommender / f"seed{seed}.json"
    write_record(path, data)


def test_the_report_renders_from_hand_made_records(tmp_path):
    # world values of two encoders at two dial values, three worlds each
    values = {("caption-tfidf", 0.0): [0.05, 0.07, 0.06], ("caption-tfidf", 1.0): [0.20, 0.26, 0.23],
              ("melstats", 0.0): [0.04, 0.05, 0.03], ("melstats", 1.0): [0.05, 0.04, 0.03]}
    for (enc, dial), xs in values.items():
        for world, x in enumerate(xs):
            _cell(tmp_path, f"synth-mpd[caption_vocab={dial!r},seed={world}]", enc, x)
    # two training seeds of one world are averaged into that world's value
    _cell(tmp_path, "synth-mpd[caption_vocab=1.0,seed=0]", "melstats", 0.07, seed=1)
    # cells that are not this sweep's: ignored
    _cell(tmp_path, "synth-mpd", "melstats", 0.9)
    _cell(tmp_path, "synth-lfm[caption_vocab=0.0,seed=0]", "melstats", 0.9)
    _cell(tmp_path, "synth-mpd[caption_vocab=0.0,n_genres=4]", "melstats", 0.9)
    _cell(tmp_path, "synth-mpd[caption_vocab=0.0,seed=0]", "melstats", 0.9, recommender="dropoutnet")
    _cell(tmp_path, "synth-mpd[caption_vocab=0.0,seed=0]", "clap-ft", 0.0, status="unavailable",
          reason="clap-ft: no checkpoint")

    data = sweep_data(tmp_path, "ci", base="synth-mpd", dial="caption_vocab")
    assert data.values == [0.0, 1.0] and set(data.points) == {"caption-tfidf", "melstats"}
    expected = {k: list(v) for k, v in values.items()}
    expected["melstats", 1.0][0] = (0.05 + 0.07) / 2
    for (enc, dial), xs in expected.items():
        p = data.points[enc][dial]
        mean = sum(xs) / 3
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / 2)
        half = T_975_DF2 * sd / math.sqrt(3)
        assert p.mean == pytest.approx(mean) and p.ci == pytest.approx((mean - half, mean + half))
        assert list(p.worlds.values()) == pytest.approx(xs)
    assert data.unavailable == {"clap-ft": "clap-ft: no checkpoint"}

    text = render_sweep(data, "ci", CAPTION_ENCODERS)
    tfidf0 = expected["caption-tfidf", 0.0]
    m0 = float(np.mean(tfidf0))
    h0 = T_975_DF2 * float(np.std(tfidf0, ddof=1)) / math.sqrt(3)
    assert f"{m0:.4f} [{m0 - h0:.4f}, {m0 + h0:.4f}] (n=3)" in text
    delta = np.mean(expected["caption-tfidf", 0.0]) - np.mean(expected["caption-tfidf", 1.0])
    assert f"{delta:+.4f}" in text
    assert "clap-ft: unavailable — clap-ft: no checkpoint" in text
    assert "oracle-genre: no records" in text and "bert-text: no records" in text
    assert "0.9000" not in text  # nothing from the other cells

    rendered = dict(render_study(studies.get("caption-sweep"), "ci", tmp_path))
    md, png = tmp_path / "ci" / "caption_sweep.md", tmp_path / "ci" / "caption_sweep.png"
    assert md.read_text() == rendered[md] + "\n" and "LARP joins" in rendered[md]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
