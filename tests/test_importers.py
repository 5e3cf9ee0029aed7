"""Importers (MPD, Last.fm, LARP release) on small fixture files written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmark.core.dataset import Dataset
from benchmark.data.importers import (
    REPORT_NAME,
    ImportFormatError,
    PickleRefusedError,
    import_larp_release,
    import_lastfm,
    import_mpd,
)
from benchmark.data.importers.common import AudioIndex, bare_id, paper_clip_start
from benchmark.data.importers.larp_release import parse_caption

SR = 1000  # tiny sample rate: fixture audio stays small


def write_audio(path: Path, seconds: float, freq: float = 110.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(str(path), (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)


def durations(i: int) -> float:
    return (5.0, 25.0, 60.0)[i % 3]


def assert_cold_start(ds: Dataset) -> None:
    seen: dict[str, str] = {}
    for pid, tids in ds.playlists.items():
        split = ds.playlist_split[pid]
        for t in tids:
            assert ds.tracks[t].split == split
            assert seen.setdefault(t, split) == split
    for s in ("train", "valid", "test"):
        ids = set(ds.track_ids(s))
        for o in ("train", "valid", "test"):
            if o != s:
                assert not ids & set(ds.track_ids(o))


# ----------------------------------------------------------------------------- MPD
def mpd_fixture(tmp: Path, *, n_playlists: int = 40, n_tracks: int = 120, missing: tuple[int, ...] = (3, 7),
                per_slice: int = 20, seed: int = 1) -> tuple[Path, Path, list[dict]]:
    rng = np.random.default_rng(seed)
    uris = [f"spotify:track:T{i:04d}" for i in range(n_tracks)]
    playlists = []
    for pid in range(n_playlists):
        k = int(rng.integers(12, 30))
        idx = rng.choice(n_tracks, size=k, replace=False)
        tracks = [{"pos": j, "track_uri": uris[i], "track_name": f"Song {i}", "artist_name": f"Artist {i % 9}",
                   "album_name": f"Album {i % 13}", "duration_ms": 200000, "artist_uri": "x", "album_uri": "y"}
                  for j, i in enumerate(idx)]
        playlists.append({"pid": pid, "name": f"pl {pid}", "num_tracks": k, "tracks": tracks})
    slices = tmp / "mpd"
    slices.mkdir(parents=True, exist_ok=True)
    for start in range(0, n_playlists, per_slice):
        part = playlists[start:start + per_slice]
        name = f"mpd.slice.{start}-{start + per_slice - 1}.json"
        (slices / name).write_text(json.dumps({"info": {"slice": name}, "playlists": part}, indent=2))
    audio = tmp / "audio"
    for i, u in enumerate(uris):
        if i in missing:
            continue
        # mix the naming conventions the index accepts
        stem = [u.split(":")[-1], f"spotify_track_{u.split(':')[-1]}"][i % 2]
        write_audio(audio / f"{stem}.{['wav', 'flac'][i % 2]}", durations(i), freq=110.0 + 3 * i)
    return slices, audio, playlists


def official_split(playlists: list[dict], train_size: int, valid_size: int, test_size: int,
                   min_len: int, seed: int) -> tuple[set[str], dict[int, list[str]], dict[int, list[str]]]:
    """LARP's generate_splits.PlaylistSplitter, re-expressed with pandas as in the original."""
    import pandas as pd

    rows = [(p["pid"], t["track_uri"]) for p in playlists for t in sorted(p["tracks"], key=lambda t: t["pos"])]
    inter = pd.DataFrame(rows, columns=["pid", "track_uri"])
    tracks = inter.track_uri.unique()
    rng = np.random.default_rng(seed)
    train_uris = rng.choice(tracks, size=train_size, replace=False).tolist()

    def make(exclude):
        f = inter[~inter.track_uri.isin(exclude)]
        pids = rng.choice(f.pid.unique(), size=valid_size, replace=False).tolist()
        sub = f[f.pid.isin(pids)]
        g = sub.groupby("pid")["track_uri"].apply(list)
        return {int(pid): tids[:101] for pid, tids in g.items() if len(tids) > min_len}

    valid = make(train_uris)
    vt = [u for t in valid.values() for u in t]
    test = make(list(train_uris + vt))
    return set(train_uris), valid, test


def test_mpd_import_follows_official_split(tmp_path, capsys):
    slices, audio, playlists = mpd_fixture(tmp_path)
    ds = import_mpd(slices, audio, tmp_path / "out", train_size=50, valid_size=4, test_size=4,
                    min_playlist_len=5, seed=45)
    assert_cold_start(ds)
    train, valid, test = official_split(playlists, 50, 4, 4, 5, 45)
    missing = {"spotify:track:T0003", "spotify:track:T0007"}
    assert set(ds.track_ids("train")) == train - missing
    got_valid = {int(p.split("-")[1]): t for p, t in ds.playlists.items() if ds.playlist_split[p] == "valid"}
    assert got_valid == {pid: [u for u in t if u not in missing] for pid, t in valid.items()}
    got_test = {int(p.split("-")[1]): t for p, t in ds.playlists.items() if ds.playlist_split[p] == "test"}
    assert got_test == {pid: [u for u in t if u not in missing] for pid, t in test.items()}
    # tracks in no split with audio form the pre-training pool
    assert ds.track_ids("pretrain")
    # missing audio: in the report and on stdout
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    listed = {m["track_id"] for m in report["missing_audio"]}
    assert listed and listed <= missing
    out = capsys.readouterr().out
    assert "missing audio" in out and next(iter(listed)) in out
    # clip starts: the paper's window when the file is long enough
    for t in ds.tracks.values():
        d = sf.info(str(ds.audio_path(t.track_id))).duration
        if d >= 50:
            assert 20 <= t.clip_start <= d - 30 + 1e-6
        elif d > 10:
            assert 0 <= t.clip_start <= d - 10 + 1e-6
        else:
            assert t.clip_start == 0
    assert ds.caption("spotify:track:T0001") == "The track Song 1 by Artist 1 on album Album 1"
    wav = ds.load_audio(ds.track_ids("train")[0])
    assert wav.shape == (160000,)


def test_mpd_import_options(tmp_path):
    slices, audio, _ = mpd_fixture(tmp_path, missing=())
    ds = import_mpd(slices, audio, tmp_path / "out", train_size=40, valid_size=3, test_size=3,
                    min_playlist_len=5, disjoint_playlists=True, include_pretrain=False, link="copy", echo=False)
    assert not ds.track_ids("pretrain")
    eval_pids = {p.split("-", 1)[1] for p, s in ds.playlist_split.items() if s != "train"}
    train_pids = {p.split("-", 1)[1] for p, s in ds.playlist_split.items() if s == "train"}
    assert not eval_pids & train_pids
    with pytest.raises(ImportFormatError, match="already holds a dataset"):
        import_mpd(slices, audio, tmp_path / "out", train_size=40, echo=False)


def test_mpd_malformed_record_names_file_and_record(tmp_path):
    slices, audio, _playlists = mpd_fixture(tmp_path, n_playlists=4, per_slice=4)
    f = next(slices.glob("*.json"))
    data = json.loads(f.read_text())
    del data["playlists"][1]["tracks"][2]["track_uri"]
    f.write_text(json.dumps(data, indent=2))
    with pytest.raises(ImportFormatError) as e:
        import_mpd(slices, audio, tmp_path / "out", train_size=10, echo=False)
    msg = str(e.value)
    assert f.name in msg and "playlists[1]" in msg and "tracks[2]" in msg and "track_uri" in msg


def test_mpd_invalid_json_names_line(tmp_path):
    slices, audio, _ = mpd_fixture(tmp_path, n_playlists=4, per_slice=4)
    f = next(slices.glob("*.json"))
    lines = f.read_text().splitlines()
    lines[5] = lines[5] + ' oops'
    f.write_text("\n".join(lines))
    with pytest.raises(ImportFormatError, match=rf"{f.name}, line 6"):
        import_mpd(slices, audio, tmp_path / "out", train_size=10, echo=False)


def test_audio_index_naming_conventions(tmp_path):
    for name in ("abc.mp3x", "id1.wav", "spotify_track_id2.flac", "spotify:track:id3.wav", "id4/id4_0.wav",
                 "id4/id4_1.wav"):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    idx = AudioIndex(tmp_path)
    assert idx.find("spotify:track:id1").name == "id1.wav"
    assert idx.find("spotify:track:id2").name == "spotify_track_id2.flac"
    assert idx.find("spotify:track:id3").name == "spotify:track:id3.wav"
    assert idx.find("id4").name == "id4_0.wav"
    assert idx.find("spotify:track:nope") is None
    assert bare_id("https://open.spotify.com/track/XYZ?si=1") == "XYZ"


def test_paper_clip_start():
    rng = np.random.default_rng(0)
    starts = [paper_clip_start(100.0, 10.0, 20.0, rng) for _ in range(200)]
    assert min(starts) >= 20 and max(starts) <= 70
    assert paper_clip_start(8.0, 10.0, 20.0, rng) == 0.0
    assert 0 <= paper_clip_start(30.0, 10.0, 20.0, rng) <= 20


# ----------------------------------------------------------------------------- Last.fm
def lastfm_fixture(tmp: Path, *, n_users: int = 24, n_tracks: int = 400, seed: int = 2) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    ev = ["user_id\ttrack_id\talbum_id\ttimestamp"]
    for u in range(n_users):
        for k in range(int(rng.integers(25, 45))):
            t = int(u * 15 + rng.integers(60)) % n_tracks  # overlapping tastes
            ev.append(f"u{u}\t{t}\t{t % 7}\t2020-01-{1 + k // 24:02d} {k % 24:02d}:00:00")
    events = tmp / "listening-events.tsv"
    events.write_text("\n".join(ev) + "\n")
    tracks = tmp / "tracks.tsv"
    tracks.write_text("track_id\tartist_name\ttrack_name\n" + "".join(f"{t}\tArtist {t % 5}\tSong {t}\n"
                                                                      for t in range(n_tracks)))
    (tmp / "albums.tsv").write_text("album_id\talbum_name\n" + "".join(f"{a}\tRecord {a}\n" for a in range(7)))
    audio = tmp / "lfm_audio"
    for t in range(n_tracks):
        if t != 11:
            write_audio(audio / f"{t}.wav", 12.0, freq=110.0 + 3 * t)
    return events, tracks, audio


def test_lastfm_import_windows_and_pools(tmp_path, capsys):
    events, tracks, audio = lastfm_fixture(tmp_path)
    ds = import_lastfm(events, tracks, audio, tmp_path / "out", albums_path=tmp_path / "albums.tsv",
                       n_train_users=None, n_valid_users=4, n_test_users=4, min_len=10, max_len=15, seed=3)
    assert_cold_start(ds)
    # every playlist is a contiguous window of its user's history without earlier pools' tracks
    hist: dict[str, list[str]] = {}
    for line in events.read_text().splitlines()[1:]:
        u, t, _, _ = line.split("\t")
        if t not in hist.setdefault(u, []):
            hist[u].append(t)
    earlier: set[str] = set()
    for split in ("train", "valid", "test"):
        pls = [p for p in ds.playlist_ids(split)]
        assert pls, split
        taken = set()
        for p in pls:
            user = p.split("-", 1)[1]
            h = [t for t in hist[user] if t not in earlier]
            got = ds.playlists[p]
            full = [t for t in h]
            # the window (before dropping track 11, whose audio is missing) is contiguous in h
            starts = [i for i in range(len(full)) if full[i] == got[0]]
            assert any([t for t in full[i:i + len(got) + 1] if t != "11"][:len(got)] == got for i in starts)
            assert len(got) <= 15
            taken.update(got)
        earlier |= taken
    assert all(t.album.startswith("Record ") for t in ds.tracks.values())
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert [m["track_id"] for m in report["missing_audio"]] in ([], ["11"])
    assert "report:" in capsys.readouterr().out


def test_lastfm_malformed_line(tmp_path):
    events, tracks, audio = lastfm_fixture(tmp_path, n_users=3)
    lines = events.read_text().splitlines()
    lines[4] = "u0\t5"  # a field missing
    events.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError, match=r"listening-events\.tsv, line 5: 2 field\(s\)"):
        import_lastfm(events, tracks, audio, tmp_path / "out", min_len=5, max_len=10, echo=False)


def test_lastfm_bad_timestamp_and_header(tmp_path):
    events, tracks, audio = lastfm_fixture(tmp_path, n_users=3)
    lines = events.read_text().splitlines()
    u = lines[3].split("\t")[0]
    lines[3] = "\t".join([u, "1", "1", "yesterday"])
    events.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError, match=r"line 4: timestamp 'yesterday'"):
        import_lastfm(events, tracks, audio, tmp_path / "out", min_len=5, max_len=10, n_valid_users=0,
                      n_test_users=0, echo=False)
    tracks.write_text("id\tname\n1\tx\n")
    with pytest.raises(ImportFormatError, match=r"tracks\.tsv, line 1: missing column"):
        import_lastfm(events, tracks, audio, tmp_path / "out", echo=False)


# ----------------------------------------------------------------------------- LARP release
def larp_fixture(tmp: Path, fmt: str = "pkl") -> tuple[Path, Path]:
    import pandas as pd

    rel = tmp / "datasets" / "mpd"
    rel.mkdir(parents=True)
    audio = tmp / "larp_audio"
    n = 0
    for split, pids in (("valid", (10, 11)), ("test", (20, 21, 22))):
        rows = []
        for pid in pids:
            for k in range(6):
                uri = f"spotify:track:{split[0]}{pid}x{k}"
                rows.append({"pid": pid, "track_uri": uri,
                             "meta_caption": f"Song {n} is a song by the artist Band {k} on the album LP {pid}",
                             "start": 12.5, "end": 22.5})
                if n != 4:
                    write_audio(audio / uri.split(":")[-1] / f"{uri.split(':')[-1]}_0.wav",
                                10.0 if split == "valid" else 40.0, freq=110.0 + 3 * n)
                n += 1
        df = pd.DataFrame(rows)
        if fmt == "pkl":
            df.to_pickle(rel / f"{split}.pkl")
        else:
            df.to_csv(rel / f"{split}.csv", index=False)
    return tmp / "datasets", audio


def test_larp_release_refuses_pickle_without_flag(tmp_path):
    release, audio = larp_fixture(tmp_path)
    with pytest.raises(PickleRefusedError) as e:
        import_larp_release(release, audio, tmp_path / "out", dataset="mpd")
    msg = str(e.value)
    assert "valid.pkl" in msg and "execute arbitrary code" in msg and "--trust-pickle" in msg
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_larp_release_import(tmp_path, capsys):
    release, audio = larp_fixture(tmp_path)
    ds = import_larp_release(release, audio, tmp_path / "out", dataset="mpd", trust_pickle=True)
    assert_cold_start(ds)
    assert ds.name == "larp-mpd"
    assert len(ds.playlist_ids("valid")) == 2 and len(ds.playlist_ids("test")) == 3
    t = ds.tracks["spotify:track:t20x0"]
    assert (t.title, t.artist, t.album) == ("Song 12", "Band 0", "LP 20")
    assert t.clip_start == 12.5  # a full-length file: cut at the released start
    assert ds.tracks["spotify:track:v10x0"].clip_start == 0.0  # already a 10 s clip
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert [m["track_id"] for m in report["missing_audio"]] == ["spotify:track:v10x4"]
    assert any("no train file" in w for w in report["warnings"])
    assert "spotify:track:v10x4" in capsys.readouterr().out


def test_larp_release_csv_errors(tmp_path):
    release, audio = larp_fixture(tmp_path, fmt="csv")
    f = release / "mpd" / "test.csv"
    lines = f.read_text().splitlines()
    cells = lines[3].split(",")
    cells[3] = "soon"
    lines[3] = ",".join(cells)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError, match=r"test\.csv, record 2 .*line 4: start 'soon'"):
        import_larp_release(release, audio, tmp_path / "out", dataset="mpd", echo=False)
    import pandas as pd

    pd.DataFrame({"track_uri": ["a"], "meta_caption": ["x is a song by the artist y on the album z"]}).to_csv(
        f, index=False)
    with pytest.raises(ImportFormatError, match="no playlist column"):
        import_larp_release(release, audio, tmp_path / "out2", dataset="mpd", splits=("test",), echo=False)


def test_parse_caption_templates():
    assert parse_caption("A is a song by the artist B on the album C") == ("A", "B", "C")
    assert parse_caption("The track A by B on album C") == ("A", "B", "C")
    assert parse_caption("nonsense") is None


@pytest.mark.parametrize("overwrite", [True, False])
def test_import_refuses_audio_inside_output_and_keeps_it(tmp_path, overwrite):
    """Defect: ``--audio OUT/audio --out OUT --overwrite`` deleted the user's source audio."""
    out = tmp_path / "out"
    slices, audio, _ = mpd_fixture(out, missing=())  # audio written to OUT/audio
    before = {p: p.read_bytes() for p in audio.rglob("*") if p.is_file()}
    assert before
    with pytest.raises(ImportFormatError, match="inside the output folder"):
        import_mpd(slices, audio, out, train_size=40, valid_size=3, test_size=3,
                   min_playlist_len=5, overwrite=overwrite)
    after = {p: p.read_bytes() for p in audio.rglob("*") if p.is_file()}
    assert after == before
    assert not (out / "manifest.json").exists()


def test_import_refuses_inputs_inside_output_for_every_importer(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "audio"
    outside.mkdir()
    write_audio(outside / "a.wav", 1.0)
    events = out / "events.tsv"
    events.write_text("user_id\ttrack_id\ttimestamp\n")
    with pytest.raises(ImportFormatError, match=r"events\.tsv: this input lies inside"):
        import_lastfm(events, tmp_path / "tracks.tsv", outside, out, overwrite=True)
    (out / "release").mkdir()
    (out / "release" / "test.csv").write_text("uri,playlist\n")
    with pytest.raises(ImportFormatError, match="inside the output folder"):
        import_larp_release(out / "release", outside, out, overwrite=True)
