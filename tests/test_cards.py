"""Encoder cards (benchmark.reports.cards) from hand-built records and the committed ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _records_fixture import encoder_meta, write_cell

from benchmark.core.results import iter_records
from benchmark.reports.cards import NOT_RECORDED, encoder_cards, overlap

ROOT = Path(__file__).resolve().parents[1]
PER = {"recall@10": np.array([0.1, 0.2])}


def test_cards_from_new_and_old_records(tmp_path):
    new_meta = encoder_meta("trained", trains=True, trains_on="pretrain pool", weights_source="in-repo training",
                            licence_code="MIT", licence_weights="MIT (trained in-repo)",
                            output_libraries=["torch"])
    write_cell(tmp_path, "ci", "synth-mpd", "trained", "itemknn", PER, meta=new_meta,
               extra={"cost": {"encoder_parameters": 1234567, "embedding_dim": 64},
                      "encoder_fit": {"trained_on": "pretrain pool (200 tracks)"}})
    write_cell(tmp_path, "ci", "synth-mpd", "frozen", "itemknn", PER)  # old-style meta, no cost
    write_cell(tmp_path, "ci", "synth-lfm", "trained", "itemknn", PER, meta=new_meta,
               extra={"encoder_trained_on": {"name": "synth-mpd", "hash": "x"}})
    cards = {c["label"]: c for c in encoder_cards(iter_records(tmp_path, "ci"))}
    t = cards["trained"]
    assert t["parameters"] == "1,234,567" and t["dim"] == "64"
    assert t["licence_code"] == "MIT" and t["output_libraries"] == "torch"
    assert t["weights_source"] == "in-repo training"
    assert t["trained_on"]["synth-mpd"] == "pretrain pool (200 tracks)"
    assert t["overlap"]["synth-mpd"].startswith("no test tracks")
    f = cards["frozen"]
    assert f["parameters"].startswith("not recorded") and f["licence_code"] == NOT_RECORDED
    assert f["overlap"]["synth-mpd"].startswith("none") and f["citation"] == "frozen et al."


def test_overlap_rules():
    assert overlap({"encoder_trained_on": {"name": "synth-mpd"}}).startswith("none (trained on another")
    assert overlap({"encoder": {"meta": {"trains_on": "train split audio-caption pairs"}}}).startswith("no test")
    assert overlap({"encoder": {"meta": {"trains_on": "nothing"}}}).startswith("none")


def test_cards_of_the_committed_quick_results():
    cards = {c["label"]: c for c in encoder_cards(iter_records(ROOT / "results", "quick", kinds=("cell",)))}
    # LARP's quick cells return with issue #13's tables; the other trained encoders stand in
    assert {"clap-ft", "bert-text", "melstats", "clap-ft@synth-mpd"} <= set(cards)
    assert cards["clap-ft"]["overlap"]["folk21"].startswith("no test tracks")
    assert cards["clap-ft"]["overlap"]["synth-mpd"].startswith("no test tracks")
    assert cards["bert-text"]["overlap"]["synth-mpd"].startswith("none")
    assert cards["clap-ft@synth-mpd"]["overlap"]["folk21"].startswith("none (trained on another dataset")
    assert "Wu et al." in cards["clap-ft"]["citation"]
