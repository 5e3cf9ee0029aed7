"""Studies as data: every declared study names registered parts and renderers that exist;
running one writes ordinary result records; rendering reads records only."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark import studies
from benchmark.core.results import iter_records
from benchmark.core.study import Block, Output, Study
from benchmark.data import catalog
from benchmark.harness.studies import block_config, run_study
from benchmark.reports.studies import render_study, renderer
from encoders import REGISTRY as ENCODERS
from recommenders import REGISTRY as RECOMMENDERS

ROOT = Path(__file__).resolve().parents[1]
ALL = sorted(studies.studies())


def test_the_papers_studies_are_declared():
    assert {"table1", "table2", "table3", "table4", "figures"} <= set(ALL)
    with pytest.raises(LookupError, match="did you mean 'table2'"):
        studies.get("tabel2")


@pytest.mark.parametrize("name", ALL)
def test_study_names_registered_parts(name):
    study = studies.get(name)
    known_datasets = set(catalog.builders())
    for block in study.blocks:
        for e in block.encoders:
            ENCODERS.get(e)
        for r in block.recommenders:
            RECOMMENDERS.get(r)
        assert set(block.datasets) <= known_datasets
        assert block.train_dataset in known_datasets | {None}
    assert set(study.stats_datasets) <= known_datasets
    assert study.outputs, "a study renders at least one output"
    for output in study.outputs:
        assert callable(renderer(output))


@pytest.mark.parametrize("name", ["table1", "table2", "table3", "table4", "figures"])
def test_rendering_the_committed_quick_results_reproduces_the_committed_files(name, tmp_path):
    """Outputs are rendered from records only: the committed quick records give back the
    committed tables and figures byte for byte."""
    import shutil

    shutil.copytree(ROOT / "results" / "quick", tmp_path / "quick",
                    ignore=shutil.ignore_patterns("*.md", "*.png"))
    for path, _ in render_study(studies.get(name), "quick", tmp_path):
        assert path.read_bytes() == (ROOT / "results" / "quick" / path.name).read_bytes(), path.name


def test_renderers_must_live_in_reports():
    with pytest.raises(ValueError, match=r"benchmark\.reports"):
        renderer(Output("x.md", "os:remove"))


def test_block_restriction():
    block = Block(datasets=("synth-mpd", "synth-lfm"), encoders=("larp",))
    cfg = block_config(block, "ci", Path("r"), datasets=["synth-lfm"])
    assert cfg is not None and list(cfg.datasets) == ["synth-lfm"] and list(cfg.encoders) == ["larp"]
    assert block_config(block, "ci", Path("r"), datasets=["folk21"]) is None
    open_block = block_config(Block(), "ci", Path("r"), encoders=["melstats"])
    assert open_block is not None and list(open_block.encoders) == ["melstats"] and not open_block.datasets


def test_run_study_writes_records_and_renders(tmp_path, tiny_dataset, monkeypatch):
    from benchmark.core import profiles

    monkeypatch.setitem(profiles.PROFILES, "ci", profiles.Profile("ci", "tiny", ("synth-mpd",), (0,), "test"))
    study = Study(name="mini", title="mini",
                  blocks=(Block(encoders=("melstats",), recommenders=("itemknn",)),
                          Block(encoders=("melstats",), recommenders=("itemknn",), variants=("n_mels=32",))),
                  stats_datasets=("synth-mpd",),
                  outputs=(Output("table2.md", "benchmark.reports.tables:write_table2"),
                           Output("table1.md", "benchmark.reports.tables:write_table1")))
    out = run_study(study, "ci", tmp_path, progress=False, fail_fast=True)
    assert len(out["ok"]) == 2 and not out["failed"]
    kinds = sorted(r.kind for r in iter_records(tmp_path, "ci"))
    assert kinds == ["cell", "cell", "dataset_stats"]
    variant = next(r for r in iter_records(tmp_path, "ci", kinds=("cell",)) if r["cell"]["variant"])
    assert variant["encoder"]["config"]["n_mels"] == 32
    assert run_study(study, "ci", tmp_path, progress=False)["cached"]  # finished cells are reused
    rendered = dict(render_study(study, "ci", tmp_path))
    table2 = rendered[tmp_path / "ci" / "table2.md"]
    assert "melstats" in table2 and (tmp_path / "ci" / "table2.md").read_text() == table2 + "\n"
    assert "n_mels" not in table2  # a variant is not a Table 2 row
    assert "synth-mpd" in rendered[tmp_path / "ci" / "table1.md"]


def test_table_alias_prints_the_studys_output(tmp_path, capsys):
    from benchmark.cli import main

    assert main(["table", "2", "--profile", "ci", "--results", str(ROOT / "results"),
                 "--out", str(tmp_path / "t2.md")]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "t2.md").read_text() == (ROOT / "results" / "ci" / "table2.md").read_text()
    assert printed.strip() == (ROOT / "results" / "ci" / "table2.md").read_text().strip()
