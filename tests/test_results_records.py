"""Result records: one writer, a reader that migrates older schema versions, every kind
iterable, damaged files named, and the committed results keep their cell keys."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmark.core.results import (
    SCHEMA,
    STATS_FILE,
    Cell,
    RecordError,
    is_complete,
    iter_records,
    iter_results,
    migrate_files,
    parse_variant,
    read_record,
    variant_label,
    write_record,
)

ROOT = Path(__file__).resolve().parents[1]


def _v1_cell(**extra):
    return {"schema": "larpbench-result/1", "status": "ok", "cell_key": "abc",
            "cell": {"profile": "ci", "dataset": "d", "encoder": "e", "recommender": "r", "seed": 0,
                     "train_dataset": None},
            "metrics": {"recall@10": 0.1}, **extra}


def _dump(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_v1_cell_and_stats_are_migrated_on_read(tmp_path):
    rec = read_record(_dump(tmp_path / "ci/d/e/r/seed0.json", _v1_cell()))
    assert rec.kind == "cell" and rec.source_version == 1 and rec["schema"] == SCHEMA
    assert rec.cell == Cell("ci", "d", "e", "r", 0) and rec.key == "abc" and rec["metrics"]["recall@10"] == 0.1
    stats = read_record(_dump(tmp_path / "ci/d" / STATS_FILE, {
        "schema": "larpbench-result/1", "kind": "dataset_stats", "cell": {"profile": "ci", "dataset": "d"},
        "stats": {"train_tracks": 3}}))
    assert stats.kind == "dataset_stats" and stats.cell is None


def test_v1_figure4_record_becomes_the_grid_cell_with_the_grids_key(tmp_path):
    """The n_seed sweep ran the grid's protocol; its migrated key is the one the grid computes."""
    from benchmark.harness.grid import GridConfig, cell_key, make_encoder, make_recommender

    enc = make_encoder("larp", "ci", 0, {"n_seed": 5})  # the sweep did not pass a selection split
    rec = make_recommender("itemknn", "ci", 0)
    old = {"schema": "larpbench-result/1", "kind": "figure4_nseed", "status": "ok", "n_seed": 5,
           "cell": {"profile": "ci", "dataset": "synth-mpd", "encoder": "larp", "recommender": "itemknn", "seed": 0},
           "cell_key": "old", "dataset": {"name": "synth-mpd-ci", "hash": "h" * 64},
           "encoder": {"meta": enc.meta.to_dict(), "config": enc.config},
           "recommender": {"meta": rec.meta.to_dict(), "config": rec.config},
           "protocol": {"shuffle_seed": 0, "split": "test", "selection_split": "valid"},
           "metrics": {"recall@10": 0.2}}
    migrated = read_record(_dump(tmp_path / "ci/figure4/synth-mpd/nseed5_seed0.json", old))
    cell = Cell("ci", "synth-mpd", "larp", "itemknn", 0, variant="n_seed=5")
    assert migrated.cell == cell and migrated["legacy_cell_key"] == "old"
    grid_key = cell_key(cell, make_encoder("larp", "ci", 0, {"n_seed": 5}, "valid"), rec,
                        SimpleNamespace(content_hash="h" * 64), GridConfig(profile="ci"))
    assert migrated.key == grid_key
    # migrate_files moves it to the cell's place, removes the old file and its empty folders
    moved = migrate_files(tmp_path)
    assert moved == [(tmp_path / "ci/figure4/synth-mpd/nseed5_seed0.json", cell.path(tmp_path))]
    assert not (tmp_path / "ci" / "figure4").exists()
    assert is_complete(cell.path(tmp_path), grid_key)
    assert migrate_files(tmp_path) == []  # nothing left to move


def test_legacy_stage_logs_are_training_records(tmp_path):
    log = tmp_path / "quick/larp_logs/abc.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps({"stage": 1, "epoch": 0, "model_config": "cpu-small"}) + "\n\n"
                   + json.dumps({"stage": 1, "epoch": 1}) + "\n")
    (rec,) = iter_records(tmp_path, kinds=("training_log",))
    assert rec.identity == {"profile": "quick", "encoder": "larp", "run": "abc", "model_config": "cpu-small"}
    assert [e["epoch"] for e in rec["epochs"]] == [0, 1]
    ((old, new),) = migrate_files(tmp_path)
    assert new == tmp_path / "quick/training/abc.json" and not old.exists()
    assert read_record(new)["epochs"] == rec["epochs"]


def test_iter_records_yields_every_kind(tmp_path):
    write_record(tmp_path / "ci/d/e/r/seed0.json", {**_v1_cell(), "kind": "cell"})
    write_record(tmp_path / "ci/d" / STATS_FILE, {"kind": "dataset_stats", "cell": {}, "stats": {}})
    write_record(tmp_path / "ci/training/x.json", {"kind": "training_log", "cell": {}, "epochs": []})
    write_record(tmp_path / "ci/throughput/enc.json", {"kind": "throughput", "cell": {}})
    assert sorted(r.kind for r in iter_records(tmp_path)) == ["cell", "dataset_stats", "throughput",
                                                              "training_log"]
    assert [p.name for p, _ in iter_results(tmp_path)] == ["seed0.json"]


@pytest.mark.parametrize(("content", "message"), [
    ("[]", "not a result record (a JSON list"),
    ('"x"', "not a result record (a JSON str"),
    ("{", "line 1 column 2: not valid JSON"),
    ('{"schema": "larpbench-result/1", "status": "ok"}', "a cell record without field(s) cell, cell_key"),
    ('{"schema": "larpbench-result/9", "kind": "cell"}', "newer than this larpbench"),
    ('{"schema": "other/1"}', "schema 'other/1'"),
    ('{"schema": "larpbench-result/2", "kind": "cell", "cell": [], "cell_key": "k", "status": "ok"}',
     "field 'cell' is a list"),
    ('{"schema": "larpbench-result/2", "kind": "weird", "cell": {}}', "unknown kind 'weird'"),
])
def test_damaged_records_name_the_file(tmp_path, content, message):
    path = tmp_path / "ci/d/e/r/seed0.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(RecordError, match=r"seed0\.json") as e:
        read_record(path)
    assert message in str(e.value)
    assert not is_complete(path, "k")  # a damaged file is never a finished cell
    errors: list[RecordError] = []
    assert list(iter_records(tmp_path, errors=errors)) == [] and len(errors) == 1
    with pytest.raises(RecordError):
        list(iter_records(tmp_path))


def test_non_utf8_record_names_the_file(tmp_path):
    path = tmp_path / "ci/x.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(RecordError, match=r"x\.json: not UTF-8"):
        read_record(path)


def test_writer_refuses_what_readers_could_not_use(tmp_path):
    with pytest.raises(RecordError, match="unknown kind"):
        write_record(tmp_path / "a.json", {"cell": {}})
    with pytest.raises(RecordError, match="without field"):
        write_record(tmp_path / "a.json", {"kind": "cell", "cell": {}})
    assert not (tmp_path / "a.json").exists()


def test_variant_labels_round_trip():
    over = {"n_seed": 5, "fusion": False, "name": "x"}
    assert variant_label(over) == 'fusion=false,n_seed=5,name="x"'
    assert parse_variant(variant_label(over)) == over
    assert parse_variant(None) == {}
    with pytest.raises(ValueError, match="key=value"):
        parse_variant("n_seed")
    assert Cell("p", "d", "larp", "itemknn", 0, variant="n_seed=5").encoder_label == "larp~n_seed=5"


def test_committed_cells_keep_their_keys():
    """Every committed cell's key is the one today's grid computes for it (dataset hash
    taken from the record), so a fresh clone reuses it instead of recomputing — except
    cells whose encoder or recommender version has moved on since, which must recompute."""
    from benchmark.harness.grid import GridConfig, finished_key, make_encoder, make_recommender

    checked = stale = 0
    for path, rec in iter_results(ROOT / "results"):
        c = rec.cell
        assert c is not None
        proto = rec["protocol"]
        enc = make_encoder(c.encoder, c.profile, c.seed, parse_variant(c.variant), proto["selection_split"])
        recommender = make_recommender(c.recommender, c.profile, c.seed)
        if (rec["encoder"]["meta"]["version"], rec["recommender"]["meta"]["version"]) != (
                enc.meta.version, recommender.meta.version):
            stale += 1  # computed by an older version of its encoder: recomputed by design
            continue
        key = finished_key(c, enc, recommender, SimpleNamespace(content_hash=rec["dataset"]["hash"]),
                           GridConfig(profile=c.profile, shuffle_seed=proto["shuffle_seed"],
                                      selection_split=proto["selection_split"]),
                           rec["reason"] if rec.status == "unavailable" else None)
        assert key == rec.key, path
        checked += 1
    assert checked >= 100 and stale < checked
