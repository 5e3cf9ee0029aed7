"""Faulty runs: interrupted builds, cells and cache writes (deterministic crash points),
damaged result files, stale caches, concurrent grids, full disks, bad options, failed
imports. Each case: a clear error or a clean repair on the next run, no partial file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.results import Cell, read_record

from .conftest import ROOT, larpbench

CELL = ("--profile", "ci", "--encoder", "melstats", "--recommender", "itemknn", "--quiet")


def grid(dataset: Path, results: Path, *extra: str, env: dict[str, str] | None = None):
    return larpbench("grid", "--dataset", str(dataset), "--results", str(results), *CELL, *extra, env=env)


def only_record(results: Path) -> Path:
    (path,) = [p for p in results.rglob("*.json")]
    return path


def no_partial_files(folder: Path) -> list[Path]:
    """Temporary files an atomic write left: never read as records (they are hidden .tmp files)."""
    return [p for p in folder.rglob("*") if p.is_file() and p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------- interrupted work
def test_killed_build_leaves_no_dataset_and_the_next_build_cleans_up(tmp_path):
    data = tmp_path / "data"
    env = {"LARPBENCH_DATA": str(data), "LARPBENCH_CRASH_AT": "build"}
    out = larpbench("data", "build", "synth-mpd", "--size", "tiny", "--quiet", env=env)
    assert out.returncode == 137
    assert not (data / "synth-mpd-tiny").exists()
    (left,) = list(data.glob(".synth-mpd-tiny.building-*"))  # the killed build's folder
    out = larpbench("data", "build", "synth-mpd", "--size", "tiny", "--quiet", env={"LARPBENCH_DATA": str(data)})
    assert out.returncode == 0, out.stderr
    assert (data / "synth-mpd-tiny" / "manifest.json").is_file() and not left.exists()


def test_interrupted_build_says_what_is_kept(tmp_path):
    env = {"LARPBENCH_DATA": str(tmp_path / "data"), "LARPBENCH_INTERRUPT_AT": "build"}
    out = larpbench("data", "build", "synth-mpd", "--size", "tiny", "--quiet", env=env)
    assert out.returncode == 130
    assert "no partial dataset is left" in out.stderr and "cells" not in out.stderr
    assert not list((tmp_path / "data").glob(".*building*")) and not (tmp_path / "data" / "synth-mpd-tiny").exists()


@pytest.mark.parametrize("point", ["cell", "atomic-write"])
def test_killed_cell_leaves_no_record_and_the_rerun_completes(pristine, tmp_path, point):
    results = tmp_path / "r"
    out = grid(pristine.root, results, env={"LARPBENCH_CRASH_AT": point})
    assert out.returncode == 137
    assert not list(results.rglob("*.json"))  # no record, no half-written record
    out = grid(pristine.root, results)
    assert out.returncode == 0, out.stderr
    assert read_record(only_record(results)).status == "ok"


def test_killed_cache_write_is_recomputed(pristine, tmp_path):
    env = {"LARPBENCH_CACHE": str(tmp_path / "cache")}
    out = grid(pristine.root, tmp_path / "r", env={**env, "LARPBENCH_CRASH_AT": "cache-write"})
    assert out.returncode == 137
    assert not list((tmp_path / "cache").rglob("*.safetensors"))
    assert grid(pristine.root, tmp_path / "r", env=env).returncode == 0
    assert list((tmp_path / "cache").rglob("test.safetensors"))


def test_damaged_fit_report_in_the_cache_is_repaired(pristine, tmp_path):
    env = {"LARPBENCH_CACHE": str(tmp_path / "cache")}
    assert grid(pristine.root, tmp_path / "a", env=env).returncode == 0
    (report,) = list((tmp_path / "cache").rglob("fit_report.json"))
    report.write_text('{"truncated": ')  # as after an interrupted non-atomic write
    for f in (tmp_path / "cache").rglob("*.safetensors"):
        f.unlink()  # force the entry to be fitted again
    out = grid(pristine.root, tmp_path / "b", env=env)
    assert out.returncode == 0, out.stderr
    assert isinstance(json.loads(report.read_text()), dict)


# ---------------------------------------------------------------------------- damaged records
@pytest.mark.parametrize("content", ["[]", "{}", '"text"', '{"schema": "larpbench-result/2", "kind": "cell"',
                                     '{"schema": "larpbench-result/2", "kind": "cell", "status": "ok"}',
                                     '{"schema": "larpbench-result/99", "kind": "cell"}'])
def test_damaged_result_files_are_named_and_repaired(pristine, tmp_path, content):
    results = tmp_path / "r"
    assert grid(pristine.root, results).returncode == 0
    path = only_record(results)
    path.write_text(content)
    for cmd in (("table", "2", "--profile", "ci"), ("compare", str(results), str(results), "--profile", "ci")):
        out = larpbench(*cmd, "--results", str(results)) if cmd[0] == "table" else larpbench(*cmd)
        assert out.returncode == 2 and str(path) in out.stderr, (cmd, out.stderr)
    out = grid(pristine.root, results)  # the grid recomputes what it cannot read
    assert out.returncode == 0, out.stderr
    assert read_record(path).status == "ok"


def test_result_path_of_a_dataset_given_by_path(pristine, tmp_path):
    """--dataset PATH: results land under <results>/<profile>/<manifest name>, never in the dataset."""
    before = sorted(p.name for p in pristine.root.iterdir())
    assert grid(pristine.root, tmp_path / "r").returncode == 0
    assert only_record(tmp_path / "r").relative_to(tmp_path / "r").parts[:3] == ("ci", pristine.name, "melstats")
    assert sorted(p.name for p in pristine.root.iterdir()) == before


# ---------------------------------------------------------------------------- stale work
def _write_features(path: Path, ids: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    np.save(path, rng.standard_normal((len(ids), 8)).astype(np.float32))
    path.with_suffix(".txt").write_text("\n".join(ids) + "\n")


def test_unavailable_cell_is_recomputed_once_the_file_exists_and_when_it_changes(pristine, tmp_path):
    feats = tmp_path / "feats.npy"
    results = tmp_path / "r"
    args = ("grid", "--profile", "ci", "--dataset", str(pristine.root), "--encoder", "precomputed",
            "--recommender", "itemknn", "--results", str(results), "--quiet",
            "--encoder-config", f"precomputed.path={json.dumps(str(feats))}")
    out = larpbench(*args)
    assert out.returncode == 1 and "error: precomputed unavailable" in out.stderr and str(feats) in out.stderr
    assert read_record(only_record(results)).status == "unavailable"
    ids = list(pristine.tracks)
    _write_features(feats, ids, 0)
    assert larpbench(*args).returncode == 0
    first = read_record(only_record(results))
    assert first.status == "ok"
    _write_features(feats, ids, 1)  # replaced in place, no sha256 given
    assert larpbench(*args).returncode == 0
    second = read_record(only_record(results))
    assert second.key != first.key and second["metrics"] != first["metrics"]


# ---------------------------------------------------------------------------- bad options
@pytest.mark.parametrize(("option", "message"), [
    ("--encoder-config=melstatz.n_mels=32", "unknown encoder 'melstatz'"),
    ("--encoder-config=bert-text.batch_size=8", "not among this grid's encoders"),
    ("--recommender-config=itemknn.pooling=7", "pooling"),
])
def test_bad_grid_options_are_refused(pristine, tmp_path, option, message):
    out = grid(pristine.root, tmp_path / "r", option)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "r").exists()


def test_negative_epochs_are_refused(pristine, tmp_path):
    out = larpbench("grid", "--profile", "ci", "--dataset", str(pristine.root), "--encoder", "melstats",
                    "--recommender", "dropoutnet", "--recommender-config", "dropoutnet.epochs=-1",
                    "--results", str(tmp_path / "r"), "--quiet")
    assert out.returncode == 2 and "epochs=-1: outside the allowed range [1, inf]" in out.stderr


# ---------------------------------------------------------------------------- concurrency
def test_two_grids_on_one_results_folder_and_cache(pristine, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LARPBENCH_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "benchmark.cli", "grid", "--dataset", str(pristine.root),
           "--results", str(tmp_path / "r"), *CELL]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert read_record(only_record(tmp_path / "r")).status == "ok"
    assert len({p.parent for p in (tmp_path / "cache").rglob("test.safetensors")}) == 1  # one cache entry
    assert not no_partial_files(tmp_path)


# ---------------------------------------------------------------------------- full disk
def test_full_disk_leaves_old_results_intact(pristine, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("this machine does not let the test mount a small tmpfs")
    try:
        results = mnt / "r"
        assert grid(pristine.root, results).returncode == 0
        path = only_record(results)
        stale = path.read_text().replace('"cell_key": "', '"cell_key": "X', 1)
        path.write_text(stale)  # same size: the grid will want to recompute and rewrite it
        with open(mnt / "filler", "wb") as f:  # fill the disk
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        out = grid(pristine.root, results)
        assert out.returncode != 0 and "No space left" in out.stderr + out.stdout
        assert path.read_text() == stale  # the old file is intact, not half-replaced
        assert not no_partial_files(mnt)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# ---------------------------------------------------------------------------- imports
def _mpd(tmp: Path, **kw):
    from test_importers import mpd_fixture

    return mpd_fixture(tmp, **kw)


def test_failed_import_leaves_nothing(tmp_path):
    from benchmark.data.importers import ImportFormatError, import_mpd

    slices, audio, _ = _mpd(tmp_path / "in", missing=())
    (slices / "mpd.slice.0-19.json").write_text('{"playlists": [{"pid": "x"}]}')
    with pytest.raises(ImportFormatError, match=r"mpd\.slice\.0-19\.json: playlists\[0\]"):
        import_mpd(slices, audio, tmp_path / "out", train_size=40, valid_size=3, test_size=3, min_playlist_len=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no output folder, no staging folder


def test_import_never_replaces_a_folder_of_other_files(tmp_path):
    from benchmark.data.importers import ImportFormatError, import_mpd

    slices, audio, _ = _mpd(tmp_path / "in", missing=())
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ImportFormatError, match=r"not part of a dataset \(notes\.txt\)"):
        import_mpd(slices, audio, out, train_size=40, valid_size=3, test_size=3, min_playlist_len=5, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_reimport_with_overwrite_swaps_the_whole_dataset(tmp_path):
    from benchmark.data.importers import import_mpd

    slices, audio, _ = _mpd(tmp_path / "in", missing=())
    kw = dict(train_size=40, valid_size=3, test_size=3, min_playlist_len=5, echo=False)
    first = import_mpd(slices, audio, tmp_path / "out", seed=1, **kw)
    second = import_mpd(slices, audio, tmp_path / "out", seed=2, overwrite=True, **kw)
    assert first.content_hash != second.content_hash and second.root == tmp_path / "out"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert all(p.is_file() for p in (tmp_path / "in" / "audio").iterdir())  # the sources are all there


def test_truncated_compressed_table_names_the_file(tmp_path):
    import bz2

    from benchmark.data.importers import ImportFormatError
    from benchmark.data.importers.common import read_table

    path = tmp_path / "events.tsv.bz2"
    path.write_bytes(bz2.compress(("user_id\ttrack_id\n" + "u1\tt1\n" * 5000).encode())[:-40])
    with pytest.raises(ImportFormatError, match=r"events\.tsv\.bz2: the file is truncated or damaged"):
        list(read_table(path, {"user": ["user_id"], "track": ["track_id"]}))


def test_non_utf8_tsv_names_the_line(tmp_path):
    from benchmark.data.importers import ImportFormatError
    from benchmark.data.importers.common import read_table

    path = tmp_path / "tracks.tsv"
    path.write_bytes(b"track_id\tname\n1\tok\n2\tbad \xff byte\n")
    with pytest.raises(ImportFormatError, match=r"tracks\.tsv, line 3: not UTF-8"):
        list(read_table(path, {"track": ["track_id"], "name": ["name"]}))


def test_a_result_without_cell_is_not_a_finished_cell(pristine, tmp_path):
    results = tmp_path / "r"
    assert grid(pristine.root, results).returncode == 0
    path = only_record(results)
    data = json.loads(path.read_text())
    del data["cell"]
    path.write_text(json.dumps(data))
    assert grid(pristine.root, results).returncode == 0
    assert read_record(path).cell == Cell("ci", pristine.name, "melstats", "itemknn", 0)
