"""Faulty datasets: every case gets a clear error naming the file and row or field, a
non-zero exit where work is refused, and nothing the user gave is deleted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmark.core.dataset import Dataset, DatasetError
from benchmark.core.validate import check_leakage, validate

from .conftest import larpbench, refresh_manifest, rewrite_csv


def _first_track(root: Path, split: str | None = None) -> tuple[int, list[str]]:
    """(line number, fields) of the first track (of ``split``) in tracks.csv."""
    lines = (root / "tracks.csv").read_text().splitlines()
    for i, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if split is None or fields[6] == split:
            return i, fields
    raise AssertionError(split)


def _audio_of(root: Path, split: str = "test") -> tuple[str, Path]:
    _, fields = _first_track(root, split)
    return fields[0], root / fields[4]


# ---------------------------------------------------------------------------- tables
def test_non_utf8_tracks_csv_names_file_and_line(copy_of):
    root = copy_of()
    raw = (root / "tracks.csv").read_bytes().split(b"\n")
    raw[4] = raw[4].replace(b"a", b"\xff", 1)
    (root / "tracks.csv").write_bytes(b"\n".join(raw))
    with pytest.raises(DatasetError, match=r"tracks\.csv, line 5: not UTF-8"):
        Dataset(root)


def test_unbalanced_quote_names_the_line_where_the_record_starts(copy_of):
    root = copy_of()
    rewrite_csv(root / "tracks.csv", lambda ls: [*ls[:7], ls[7].replace(",", ',"', 1), *ls[8:]])
    with pytest.raises(DatasetError, match=r"tracks\.csv, line 8"):
        Dataset(root)


def test_duplicate_track_id_names_the_line(copy_of):
    root = copy_of()
    rewrite_csv(root / "tracks.csv", lambda ls: [*ls, ls[3]])
    n = len((root / "tracks.csv").read_text().splitlines())
    with pytest.raises(DatasetError, match=rf"tracks\.csv, line {n}: duplicate track_id"):
        Dataset(root)


def test_unknown_track_in_playlists_names_the_line(copy_of):
    root = copy_of()
    rewrite_csv(root / "playlists.csv", lambda ls: [ls[0], ls[1].rsplit(",", 1)[0] + ",nope\n", *ls[2:]])
    with pytest.raises(DatasetError, match=r"playlists\.csv, line 2.*nope"):
        Dataset(root)


@pytest.mark.parametrize("path", ["../outside.flac", "/etc/passwd"])
def test_audio_paths_escaping_the_root_are_refused(copy_of, path):
    root = copy_of()
    line, fields = _first_track(root)
    fields[4] = path
    rewrite_csv(root / "tracks.csv", lambda ls: [*ls[:line - 1], ",".join(fields) + "\n", *ls[line:]])
    with pytest.raises(DatasetError, match=rf"tracks\.csv, line {line}"):
        Dataset(root)


def test_symlink_out_of_the_root_is_refused(copy_of, tmp_path):
    root = copy_of()
    tid, audio = _audio_of(root)
    outside = tmp_path / "elsewhere.flac"
    os.link(audio, outside)
    audio.unlink()
    audio.symlink_to(outside)
    with pytest.raises(DatasetError, match=r"escapes|outside"):
        Dataset(root).audio_path(tid)
    assert outside.exists()  # nothing the user gave is deleted


def test_tables_edited_after_the_build_are_refused_by_validate_and_grid(copy_of, tmp_path):
    """60 → fewer test playlists without a new manifest: the grid must not serve old results."""
    root = copy_of()
    rewrite_csv(root / "playlists.csv", lambda ls: [x for x in ls if not x.startswith("test-00001,")])
    with pytest.raises(DatasetError, match=r"content_hash .* does not match"):
        validate(root, audio=False, checksums=False)
    out = larpbench("grid", "--profile", "ci", "--dataset", str(root), "--encoder", "melstats",
                    "--recommender", "itemknn", "--results", str(tmp_path / "r"), "--quiet", "--fail-fast")
    assert out.returncode != 0
    assert "manifest.json: content_hash" in out.stderr and "changed after the dataset was written" in out.stderr
    assert not list((tmp_path / "r").rglob("*.json"))


def test_dataset_without_test_playlists_is_an_error_not_nan(copy_of, tmp_path):
    root = copy_of()
    rewrite_csv(root / "playlists.csv", lambda ls: [x for x in ls if not x.startswith("test-")])
    rewrite_csv(root / "tracks.csv", lambda ls: [ls[0], *(x for x in ls[1:] if x.split(",")[6] != "test")])
    refresh_manifest(root)
    out = larpbench("grid", "--profile", "ci", "--dataset", str(root), "--encoder", "melstats",
                    "--recommender", "itemknn", "--results", str(tmp_path / "r"), "--quiet", "--fail-fast")
    assert out.returncode != 0 and "no test playlist" in out.stderr
    assert not list((tmp_path / "r").rglob("*.json"))


# ---------------------------------------------------------------------------- audio
def test_clip_start_past_the_end_is_an_error(copy_of):
    root = copy_of()
    line, fields = _first_track(root, "test")
    fields[5] = "999.0"
    rewrite_csv(root / "tracks.csv", lambda ls: [*ls[:line - 1], ",".join(fields) + "\n", *ls[line:]])
    refresh_manifest(root)
    ds = Dataset(root)
    with pytest.raises(DatasetError, match=rf"track {fields[0]}\): clip_start 999.0 s is past the end"):
        ds.load_audio(fields[0])
    with pytest.raises(DatasetError, match=rf"line {line} \(track {fields[0]}\): clip_start"):
        validate(root, checksums=False)


def test_missing_audio_names_the_file(copy_of):
    root = copy_of()
    tid, audio = _audio_of(root)
    audio.unlink()
    with pytest.raises(DatasetError, match=rf"{audio.name} \(track {tid}\): audio file is missing"):
        Dataset(root).load_audio(tid)
    with pytest.raises(DatasetError, match=r"is missing"):
        validate(root)


@pytest.mark.parametrize("damage", ["zero-byte", "not-audio"])
def test_unreadable_audio_names_the_file(copy_of, damage):
    root = copy_of()
    tid, audio = _audio_of(root)
    audio.unlink()
    audio.write_bytes(b"" if damage == "zero-byte" else b"this is not audio\n" * 100)
    with pytest.raises(DatasetError, match=rf"{audio.name} \(track {tid}\): unreadable audio"):
        Dataset(root).load_audio(tid)
    with pytest.raises(DatasetError, match=rf"track {tid}\): audio file .* is unreadable"):
        validate(root, checksums=False)


def test_truncated_audio_with_matching_checksums_fails_deep_validate_and_loading(copy_of):
    """A file cut short after its checksum was recomputed: headers still declare the full length."""
    import hashlib

    root = copy_of()
    tid, audio = _audio_of(root)
    data = audio.read_bytes()
    audio.unlink()
    audio.write_bytes(data[: len(data) // 2])
    rel = audio.relative_to(root).as_posix()
    digest = hashlib.sha256(audio.read_bytes()).hexdigest()
    rewrite_csv(root / "checksums.csv",
                lambda ls: [f"{rel},{digest}\n" if x.startswith(rel + ",") else x for x in ls])
    refresh_manifest(root)
    validate(root)  # headers only: passes
    with pytest.raises(DatasetError, match=rf"track {tid}\): audio file .* truncated or corrupt|does not decode"):
        validate(root, deep=True)
    ds = Dataset(root)
    t = ds.tracks[tid]
    with pytest.raises(DatasetError, match=r"truncated or corrupt|unreadable audio"):
        ds.load_audio(tid, seconds=60.0 - t.clip_start)  # a read that reaches the missing part


def test_truncated_wav_is_an_error_not_zero_padding(tmp_path):
    """One policy: a short file is padded, a file shorter than its header says is corrupt."""
    import numpy as np
    import soundfile as sf

    from benchmark.core.dataset import Track, write_dataset

    (tmp_path / "src" / "audio").mkdir(parents=True)
    tracks = []
    for i, split in enumerate(["train", "train", "test", "test"]):
        sf.write(str(tmp_path / "src" / "audio" / f"{i}.wav"), np.full(16000, 0.1 * (i + 1), np.float32), 16000)
        tracks.append(Track(f"t{i}", "T", "A", "B", f"audio/{i}.wav", 0.0, split))
    write_dataset(tmp_path / "src", name="w", source="test", sample_rate=16000, clip_seconds=2.0, tracks=tracks,
                  playlists=[("p1", "train", ["t0", "t1"]), ("p2", "test", ["t2", "t3"])])
    ds = Dataset(tmp_path / "src")
    short = ds.load_audio("t0")  # 1 s file, 2 s clip: padded with silence, as documented
    assert short.shape == (32000,) and np.all(short[16000:] == 0) and np.allclose(short[:16000], 0.1, atol=1e-3)
    wav = tmp_path / "src" / "audio" / "1.wav"
    wav.write_bytes(wav.read_bytes()[:-8000])  # header still declares 16000 frames
    with pytest.raises(DatasetError, match=r"1\.wav \(track t1\): decodes to \d+ frames but its header declares 16000"):
        ds.load_audio("t1")


@pytest.mark.parametrize("how", ["same-path", "same-bytes"])
def test_audio_shared_across_splits_is_leakage(copy_of, how):
    root = copy_of()
    test_line, test_fields = _first_track(root, "test")
    train_line, train_fields = _first_track(root, "train")
    if how == "same-path":
        test_fields[4] = train_fields[4]
    else:  # a copy of the train track's bytes under the test track's own name
        (root / test_fields[4]).unlink()
        (root / test_fields[4]).write_bytes((root / train_fields[4]).read_bytes())
        rel = test_fields[4]
        import hashlib

        digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        rewrite_csv(root / "checksums.csv",
                    lambda ls: [f"{rel},{digest}\n" if x.startswith(rel + ",") else x for x in ls])
    rewrite_csv(root / "tracks.csv",
                lambda ls: [*ls[:test_line - 1], ",".join(test_fields) + "\n", *ls[test_line:]])
    refresh_manifest(root)
    first, second = sorted([(test_line, test_fields[0]), (train_line, train_fields[0])])
    with pytest.raises(DatasetError, match=rf"tracks\.csv, line {second[0]}: track {second[1]} .* shares .* "
                                           rf"with track {first[1]} .*line {first[0]}\): audio leaks across splits"):
        check_leakage(Dataset(root))
    with pytest.raises(DatasetError, match="leaks across splits"):
        validate(root, checksums=False)


def test_the_pristine_dataset_passes_every_check(pristine):
    validate(pristine.root, deep=True)


# ---------------------------------------------------------------------------- CLI messages
def test_validate_on_a_wrong_path_names_that_path(tmp_path):
    out = larpbench("data", "validate", str(tmp_path / "nothing-here"))
    assert out.returncode == 2
    assert f"{tmp_path / 'nothing-here'}: no such dataset folder" in out.stderr and "-quick" not in out.stderr
    out = larpbench("data", "validate", "synth-mpdd")
    assert out.returncode == 2 and "did you mean 'synth-mpd'" in out.stderr


def test_table_of_a_missing_results_folder_fails(tmp_path):
    out = larpbench("table", "2", "--results", str(tmp_path / "nonexistent"))
    assert out.returncode == 2 and "no result records under" in out.stderr


def test_data_info_json_is_not_touched_by_validate(copy_of):
    """validate only reads: every file keeps its bytes."""
    root = copy_of()
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    validate(root)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
    assert json.loads((root / "manifest.json").read_text())["name"]
