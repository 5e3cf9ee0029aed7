"""The oracle encoders (hand-computed vectors on hand-built worlds), their unavailability
through the real grid, their absence from the paper's tables, and the ceilings study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.core.dataset import Dataset, DatasetError, Track, write_dataset
from encoders import REGISTRY, EncoderUnavailable

SR = 16000
HIDDEN = ("genre", "tempo", "key", "scale", "canonical_artist", "era")


def make_world(root: Path, rows: list[dict[str, str]], *, relations=None, latents: str | None = None,
               columns: tuple[str, ...] = HIDDEN, audio=None) -> Dataset:
    """A dataset of one short clip per row (``id``, ``split``, ``artist``, optional ``title``,
    hidden columns; audio: ``audio(i)`` or near-silence that differs per track, as splits may
    not share audio bytes); playlists: every split's tracks in one playlist, and the test
    tracks also in a second one in reverse order. ``latents`` is written verbatim as
    track_latents.csv."""
    import soundfile as sf

    root.mkdir(parents=True)
    (root / "audio").mkdir()
    tracks = []
    for i, r in enumerate(rows):
        rel = f"audio/{r['id']}.wav"
        wav = audio(i) if audio is not None else np.zeros(SR // 2, dtype=np.float32)
        wav[0] = (i + 1) / 1024
        sf.write(root / rel, wav, SR)
        tracks.append(Track(r["id"], r.get("title", f"Song {r['id']}"), r["artist"], r.get("album", "Album"), rel,
                            0.0, r["split"], {c: r.get(c, "") for c in columns}))
    by = {s: [t.track_id for t in tracks if t.split == s] for s in ("train", "valid", "test")}
    playlists = [(f"{s}-1", s, ids) for s, ids in by.items() if len(ids) >= 2]
    if len(by["test"]) >= 2:
        playlists.append(("test-2", "test", by["test"][::-1]))
    if latents is not None:
        (root / "track_latents.csv").write_text(latents, encoding="utf-8")
    write_dataset(root, name=root.name, source="tests/test_oracles.py", sample_rate=SR, clip_seconds=0.5,
                  tracks=tracks, playlists=playlists, artist_relations=relations, extra_columns=columns)
    return Dataset(root)


def _rows(artists_credited: list[tuple[str, str]], genres: list[str], splits: list[str]) -> list[dict[str, str]]:
    return [{"id": f"t{i}", "split": s, "artist": credited, "canonical_artist": canonical, "genre": g}
            for i, ((credited, canonical), g, s) in enumerate(zip(artists_credited, genres, splits))]


@pytest.fixture
def three_artists(tmp_path) -> Dataset:
    """Artists A, B, C (canonical; t3 is credited "A feat. C"), relations A–B 0.5 (written
    B, A) and B–C 0.25."""
    rows = _rows([("A", "A"), ("B", "B"), ("C", "C"), ("A feat. C", "A")], ["rock", "jazz", "rock", "folk"],
                 ["train", "train", "test", "test"])
    return make_world(tmp_path / "abc", rows, relations=[("B", "A", 0.5), ("B", "C", 0.25)])


def _embed(name: str, dataset: Dataset, ids: list[str], tmp_path: Path | None = None) -> np.ndarray:
    enc = REGISTRY.get(name).from_profile("ci")
    enc.check_available()
    enc.check_dataset(dataset)
    if enc.meta.trains:
        enc.fit(dataset, seed=0, workdir=tmp_path or dataset.root / "work")
    return enc.embed(dataset, ids)


# ----------------------------------------------------------------------------- vectors by hand
def test_relation_oracle_matches_the_hand_computed_vectors(three_artists):
    # v_a = e_a + Σ_b w_ab e_b, L2-normalised, coordinates (A, B, C):
    #   A: (1, 0.5, 0) / sqrt(1.25);  B: (0.5, 1, 0.25) / sqrt(1.3125);  C: (0, 0.25, 1) / sqrt(1.0625)
    expected = np.array([[0.894427191, 0.447213595, 0.0],
                         [0.436435780, 0.872871561, 0.218217890],
                         [0.0, 0.242535625, 0.970142500],
                         [0.894427191, 0.447213595, 0.0]])  # t3 is credited "A feat. C": canonical A
    got = _embed("oracle-relations", three_artists, ["t0", "t1", "t2", "t3"])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.dtype == np.float32


def test_artist_oracle_reads_the_canonical_artist_not_the_credit(three_artists):
    got = _embed("oracle-artist", three_artists, ["t3", "t0", "t2"])
    np.testing.assert_array_equal(got, [[1, 0, 0], [1, 0, 0], [0, 0, 1]])


def test_genre_oracle_is_a_one_hot_over_the_datasets_genres(three_artists):
    got = _embed("oracle-genre", three_artists, ["t0", "t1", "t2", "t3"])
    # genres sorted: folk, jazz, rock
    np.testing.assert_array_equal(got, [[0, 0, 1], [0, 1, 0], [0, 0, 1], [1, 0, 0]])


LATENTS = "track_id,z0,z1,z2\nt0,1,0,5\nt1,3,4,5\nt2,2,6,5\nt3,4,2,5\nt4,3,3,7\n"


def test_latent_oracle_z_scores_over_train_then_normalises(tmp_path):
    rows = [{"id": f"t{i}", "split": s, "artist": "A", "canonical_artist": "A", "genre": "rock"}
            for i, s in enumerate(["train", "train", "test", "test", "test"])]
    ds = make_world(tmp_path / "lat", rows, latents=LATENTS)
    # train mean (2, 2, 5), population std (1, 2, 0 -> 1: only centred)
    #   t2: (0, 2, 0) -> (0, 1, 0);  t3: (2, 0, 0) -> (1, 0, 0);
    #   t4: (1, 0.5, 2) / sqrt(5.25) = (0.436436, 0.218218, 0.872872)
    expected = [[0, 1, 0], [1, 0, 0], [0.436435780, 0.218217890, 0.872871561]]
    fitted = _embed("oracle-latent", ds, ["t2", "t3", "t4"], tmp_path / "w")
    np.testing.assert_allclose(fitted, expected, atol=1e-6)
    unfitted = REGISTRY.get("oracle-latent").from_profile("ci").embed(ds, ["t4", "t2"])
    np.testing.assert_allclose(unfitted, fitted[[2, 0]], atol=1e-7)


# ----------------------------------------------------------------------------- unavailable / malformed
def test_missing_ground_truth_makes_the_oracles_unavailable(tmp_path):
    rows = [{"id": f"t{i}", "split": "test", "artist": "A", "genre": "rock"} for i in range(3)]
    ds = make_world(tmp_path / "bare", rows, columns=("genre",))  # no canonical_artist, relations, latents
    for name, pattern in (("oracle-artist", r"tracks\.csv has no column 'canonical_artist'"),
                          ("oracle-relations", r"tracks\.csv has no column 'canonical_artist'"),
                          ("oracle-latent", r"track_latents\.csv is missing")):
        with pytest.raises(EncoderUnavailable, match=pattern):
            REGISTRY.get(name).from_profile("ci").check_dataset(ds)
    REGISTRY.get("oracle-genre").from_profile("ci").check_dataset(ds)  # the genre column is there
    ds2 = make_world(tmp_path / "artists-only", [{**r, "canonical_artist": "A"} for r in rows])
    with pytest.raises(EncoderUnavailable, match=r"artist_relations\.csv is missing"):
        REGISTRY.get("oracle-relations").from_profile("ci").check_dataset(ds2)
    ds3 = make_world(tmp_path / "no-genre", [{**r, "genre": ""} for r in rows])
    with pytest.raises(EncoderUnavailable, match=r"column 'genre' of .*tracks\.csv is empty for 3 of 3"):
        REGISTRY.get("oracle-genre").from_profile("ci").check_dataset(ds3)


@pytest.mark.parametrize("relations, latents, name, pattern", [
    ([("A", "Z", 1.0)], None, "oracle-relations", r"artist_relations\.csv, line 2: artist_b 'Z' is no track's"),
    ([("A", "B", 1.0), ("B", "A", 0.5)], None, "oracle-relations", r"line 3: the pair .* already on line 2"),
    ([("A", "B", -1.0)], None, "oracle-relations", r"line 2: weight -1.0 is negative"),
    (None, "track_id,z0\nt0,1\nt1,x\nt2,0\n", "oracle-latent", r"track_latents\.csv, line 3: column 'z0' 'x' is not"),
    (None, "track_id,z0\nt0,1\nt1,2\n", "oracle-latent", r"track_latents\.csv: no row for 1 of 3 track"),
    (None, "track_id\nt0\nt1\nt2\n", "oracle-latent", r"no latent column besides track_id"),
])
def test_malformed_ground_truth_names_file_and_line(tmp_path, relations, latents, name, pattern):
    rows = [{"id": f"t{i}", "split": "test", "artist": a, "canonical_artist": a, "genre": "rock"}
            for i, a in enumerate("ABA")]
    ds = make_world(tmp_path / "bad", rows, relations=relations, latents=latents)
    with pytest.raises(DatasetError, match=pattern):
        REGISTRY.get(name).from_profile("ci").check_dataset(ds)


# ----------------------------------------------------------------------------- through the grid
@pytest.fixture
def grid_world(tmp_path) -> Dataset:
    """16 tracks (4 train, 4 valid, 8 test) by 4 artists in 2 genres, relations, no latents file."""
    rows = [{"id": f"t{i}", "split": ("train", "valid", "test", "test")[i % 4], "artist": f"Art {i % 4}",
             "canonical_artist": f"Art {i % 4}", "genre": ("rock", "jazz")[i % 2]} for i in range(16)]
    return make_world(tmp_path / "gridworld", rows, relations=[("Art 0", "Art 1", 0.5)])


def test_the_grid_records_an_oracle_without_its_file_as_unavailable(grid_world, tmp_path):
    from benchmark.core.results import iter_records
    from benchmark.harness.grid import GridConfig, GridRunner
    from benchmark.reports.ceilings import render_ceilings
    from benchmark.reports.tables import render_table2

    results = tmp_path / "results"
    cfg = GridConfig(profile="ci", datasets=[str(grid_world.root)], encoders=["oracle-genre", "oracle-latent"],
                     recommenders=["itemknn"], results_dir=results, progress=False, fail_fast=True)
    outcome = GridRunner(cfg).run()
    assert [c.encoder for c in outcome["ok"]] == ["oracle-genre"]
    assert [c.encoder for c in outcome["unavailable"]] == ["oracle-latent"]
    records = {r["cell"]["encoder"]: r for r in iter_records(results, "ci", kinds=("cell",))}
    assert records["oracle-latent"]["status"] == "unavailable"
    assert "track_latents.csv is missing" in records["oracle-latent"]["reason"]
    assert "oracle" in records["oracle-genre"]["encoder"]["meta"]["tags"]

    ceilings = render_ceilings(results, "ci")
    genre_r10 = records["oracle-genre"]["metrics"]["recall@10"]
    lo, hi = records["oracle-genre"]["ci95"]["recall@10"]
    assert f"{genre_r10:.4f} [{lo:.4f}, {hi:.4f}]" in ceilings
    assert "`oracle-latent` unavailable: oracle-latent: gridworld/track_latents.csv is missing" in ceilings
    assert "not run" in ceilings  # random, caption-tfidf, melstats, ...
    assert "oracle" not in render_table2(results, "ci")  # oracles never in the paper's tables


def test_every_encoder_of_the_profile_leaves_out_the_oracles():
    from benchmark.harness.grid import GridConfig

    default = GridConfig(profile="ci").resolved().encoders
    assert {"random", "caption-tfidf", "melstats"} <= set(default)
    assert not [e for e in default if "oracle" in REGISTRY.get(e).meta.tags]


def _record(encoder: str, values: list[float]) -> dict:
    return {"status": "ok", "cell": {"encoder": encoder},
            "per_playlist": {"playlist_ids": [f"p{i}" for i in range(len(values))], "recall@10": values}}


def test_relation_rule_is_a_paired_holm_corrected_test():
    from benchmark.reports.ceilings import relation_rule

    n = 30
    rows = {"oracle-relations": _record("oracle-relations", [0.5] * n),
            "caption-tfidf": _record("caption-tfidf", [0.1] * n),
            "melstats": _record("melstats", [0.5] * n)}
    lines = relation_rule(rows)
    assert "oracle-relations beats caption-tfidf on recall@10: difference +0.4000" in lines[0]
    assert "oracle-relations does not beat melstats" in lines[1] and "p = 1" in lines[1]
    assert "not tested (melstats not computed)" in relation_rule({k: v for k, v in rows.items() if k != "melstats"})[0]



def test_relation_rules_adjust_over_every_dataset():
    """Holm over the whole family: 2 datasets x 2 comparisons = 4 p-values."""
    from benchmark.core.stats import holm, sign_flip_pvalues
    from benchmark.reports.ceilings import relation_rules

    rng = np.random.default_rng(0)
    n = 40
    data = {}
    for d in ("a", "b"):
        data[d] = {"oracle-relations": _record("oracle-relations", list(0.3 + 0.1 * rng.random(n))),
                   "caption-tfidf": _record("caption-tfidf", list(0.2 + 0.2 * rng.random(n))),
                   "melstats": _record("melstats", list(0.25 + 0.2 * rng.random(n)))}
    lines = relation_rules(data)
    raw = []
    for d in ("a", "b"):
        o = np.asarray(data[d]["oracle-relations"]["per_playlist"]["recall@10"])
        for e in ("caption-tfidf", "melstats"):
            raw.append(o - np.asarray(data[d][e]["per_playlist"]["recall@10"]))
    expected = holm(sign_flip_pvalues(np.stack(raw)))
    got = [float(line.rsplit("p = ", 1)[1]) for d in ("a", "b") for line in lines[d]]
    assert np.allclose(got, expected, rtol=1e-3)
    assert all("Holm-adjusted (4 comparisons)" in line for d in lines for line in lines[d])


def test_ceilings_study_runs_on_the_tiny_world(tiny_dataset, tmp_path, monkeypatch):
    """``larpbench study run ceilings`` on the generated tiny world: every declared encoder gets a
    cell, oracles the world lacks the ground truth for are 'unavailable' with the file or column,
    and the genre oracle and melstats are above random."""
    from benchmark import studies
    from benchmark.cli import main
    from benchmark.core import profiles
    from benchmark.core.results import iter_records
    from benchmark.studies.ceilings import CEILING_ENCODERS

    monkeypatch.setitem(profiles.PROFILES, "ci", profiles.Profile("ci", "tiny", ("synth-mpd",), (0,), "test"))
    assert "ceilings" in studies.studies()
    assert main(["study", "run", "ceilings", "--profile", "ci", "--results", str(tmp_path), "--dataset",
                 "synth-mpd", "--quiet"]) == 0
    cells = {r["cell"]["encoder"]: r for r in iter_records(tmp_path, "ci", kinds=("cell",))}
    assert set(cells) == set(CEILING_ENCODERS)
    for name, r in cells.items():
        if r["status"] != "ok":
            assert name.startswith("oracle-") and r["status"] == "unavailable"
            assert any(s in r["reason"] for s in ("canonical_artist", "artist_relations.csv", "track_latents.csv"))
    r10 = {n: r["metrics"]["recall@10"] for n, r in cells.items() if r["status"] == "ok"}
    assert r10["oracle-genre"] > r10["random"] and r10["melstats"] > r10["random"]
    text = (tmp_path / "ci" / "ceilings.md").read_text()
    assert all(f"| {e} " in text for e in CEILING_ENCODERS) and "### synth-mpd" in text


def test_latents_of_an_artist_disjoint_view_skip_the_tracks_it_left_out(tmp_path):
    """The artist task fits oracle-latent on ``without_artists(dataset, ...)``, which reads the
    parent's track_latents.csv: rows of removed tracks are skipped there, while on the
    dataset itself an unknown track id stays an error naming the line."""
    from benchmark.core.artist_graph import without_artists
    from encoders._oracle import read_latents

    rows = [{"id": f"t{i}", "split": "test", "artist": a, "canonical_artist": a, "genre": "rock"}
            for i, a in enumerate("ABA")]
    ds = make_world(tmp_path / "w", rows, latents="track_id,z0\nt0,1\nt1,2\nt2,3\n")
    view = without_artists(ds, ["B"])
    columns, vectors = read_latents(view, "oracle-latent")
    assert columns == ["z0"] and sorted(vectors) == ["t0", "t2"] and vectors["t2"].tolist() == [3.0]
    ds2 = make_world(tmp_path / "w2", rows, latents="track_id,z0\nt0,1\nt1,2\nt2,3\nt9,4\n")
    with pytest.raises(DatasetError, match=r"track_latents\.csv, line 5: track_id 't9' is not in"):
        read_latents(ds2, "oracle-latent")
