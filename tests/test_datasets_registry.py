"""Registry-wide dataset tests: every **builder** entry of ``benchmark.data.REGISTRY`` is
built at its smallest size and validated; every **importer** entry is run through its
command-line adapter on a tiny fixture and validated. New entries are covered
automatically (an importer without a fixture here fails, so that one gets written).
Also: discovery, duplicate names, typo suggestions, the ``larpbench.datasets`` entry-point
group, :func:`benchmark.data.resolve`, and ``larpbench data list|import``."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from benchmark.core.dataset import DatasetError, is_dataset_dir
from benchmark.core.registry import Registry, RegistryError
from benchmark.core.validate import validate
from benchmark.data import (
    REGISTRY,
    DatasetBuilder,
    DatasetImporter,
    DatasetPlugin,
    catalog,
    resolve,
)

try:
    from tests.test_importers import larp_fixture, lastfm_fixture, mpd_fixture
except ImportError:  # tests/ not importable as a package: pytest put it on sys.path
    from test_importers import larp_fixture, lastfm_fixture, mpd_fixture

BUILDERS = sorted(catalog.builders())
IMPORTERS = sorted(catalog.importers())

#: builders whose smallest size takes long to build (measured on 2 shared CPU cores,
#: without Debian abcmidi/fluidsynth): run with ``-m slow``, not skipped
SLOW_BUILDERS = {"folk21": "ci size: 55-90 s", "folk21-noalbum": "ci size: 55-90 s"}


# ----------------------------------------------------------------------------- metadata
def test_expected_entries_are_registered():
    assert {"synth-mpd", "synth-lfm", "folk21", "folk21-noalbum"} <= set(BUILDERS)
    assert {"mpd", "lastfm", "larp-release"} <= set(IMPORTERS)
    assert set(BUILDERS) | set(IMPORTERS) == set(REGISTRY.names())
    assert not set(BUILDERS) & set(IMPORTERS)


@pytest.mark.parametrize("name", REGISTRY.names())
def test_entry_metadata(name):
    cls = REGISTRY.get(name)
    m = cls.meta
    assert m is not None and m.name == name and m.description
    assert json.dumps(m.to_dict())
    if issubclass(cls, DatasetBuilder):
        assert cls.kind == "builder"
        assert m.sizes and len(set(m.sizes)) == len(m.sizes), "sizes: unique, smallest first"
        assert m.paper_column in (None, "MPD", "LFM")
    else:
        assert issubclass(cls, DatasetImporter) and cls.kind == "importer"
        assert m.inputs and not m.sizes
    # plugin files declare entries only in builders/ or importers/ (or an entry point)
    origin = REGISTRY.origin(name)
    assert "entry point" in origin or Path(origin).parent.name in {"builders", "importers"}


def test_paper_columns():
    assert catalog.paper_column("synth-mpd") == "MPD" and catalog.paper_column("synth-lfm") == "LFM"
    assert catalog.paper_column("folk21") is None and catalog.paper_column("mpd") is None
    assert catalog.paper_column("/some/folder") is None


# ----------------------------------------------------------------------------- discovery
BUILDER_FILE = """
from benchmark.data.base import DatasetBuilder, DatasetMeta

class {cls}(DatasetBuilder):
    meta = DatasetMeta(name={name!r}, description="d", sizes=("s",))
"""
IMPORTER_FILE = """
from benchmark.data.base import DatasetImporter, DatasetMeta

class {cls}(DatasetImporter):
    meta = DatasetMeta(name={name!r}, description="d", inputs="X")
"""


@pytest.fixture
def two_packages(tmp_path, monkeypatch):
    for pkg in ("dsbuild_t", "dsimport_t"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "dsbuild_t", tmp_path / "dsimport_t"
    for mod in [m for m in sys.modules if m.startswith(("dsbuild_t", "dsimport_t"))]:
        del sys.modules[mod]


def _registry() -> Registry:
    return Registry("dataset", ("dsbuild_t", "dsimport_t"), DatasetPlugin, "larpbench.test-none")


def test_builders_and_importers_share_one_name_space(two_packages):
    b, i = two_packages
    (b / "world.py").write_text(BUILDER_FILE.format(cls="World", name="world"))
    (i / "files.py").write_text(IMPORTER_FILE.format(cls="Files", name="files"))
    assert _registry().names() == ["files", "world"]
    (i / "clash.py").write_text(IMPORTER_FILE.format(cls="Clash", name="world"))
    with pytest.raises(RegistryError, match="duplicate dataset name 'world'"):
        _registry().names()


def test_typos_get_close_names():
    with pytest.raises(RegistryError, match="did you mean 'synth-mpd'"):
        REGISTRY.get("synth-mdp")
    with pytest.raises(RegistryError, match=r"unknown importer 'lastfn'; did you mean 'lastfm'"):
        catalog.get_importer("lastfn")
    with pytest.raises(RegistryError, match=r"unknown dataset 'folk12'; did you mean 'folk21'"):
        catalog.get_builder("folk12")
    with pytest.raises(DatasetError, match=r"'mpd' is an importer.*larpbench data import mpd"):
        catalog.get_builder("mpd")
    with pytest.raises(DatasetError, match="built by name"):
        catalog.get_importer("synth-mpd")


def test_entry_point_group_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert "larpbench.datasets" in project["entry-points"]
    assert REGISTRY.entry_point_group == "larpbench.datasets"


TINY_WORLD = '''
from pathlib import Path
import numpy as np
import soundfile as sf
from benchmark.core.dataset import Track, sha256_file, write_dataset
from benchmark.data import DatasetBuilder, DatasetMeta

class TinyWorld(DatasetBuilder):
    meta = DatasetMeta(name="tiny-world", description="a third-party world", sizes=("xs",))

    def build(self, root, *, size, seed, progress):
        tracks = []
        for i in range(6):
            rel = f"audio/t{i}.wav"
            (Path(root) / "audio").mkdir(exist_ok=True)
            sf.write(str(Path(root) / rel), np.full(800, 0.1 * (i + 1), np.float32), 1000)
            tracks.append(Track(f"t{i}", f"Song {i}", "A", "B", rel, 0.0, ("train", "test")[i // 3]))
        write_dataset(Path(root), name="tiny-world", source="test", sample_rate=1000, clip_seconds=0.8,
                      tracks=tracks, playlists=[("p0", "train", ["t0", "t1", "t2"]),
                                                ("p1", "test", ["t3", "t4", "t5"])])
'''


def test_third_party_entry_point_registers_a_builder(tmp_path, monkeypatch):
    (tmp_path / "thirdparty_ds.py").write_text(textwrap.dedent(TINY_WORLD))
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint(name="tiny-world", value="thirdparty_ds:TinyWorld", group="larpbench.datasets")
    import benchmark.core.registry as core_registry

    monkeypatch.setattr(core_registry, "entry_points",
                        lambda group: [ep] if group == "larpbench.datasets" else [])
    reg = Registry("dataset", REGISTRY.packages, DatasetPlugin, "larpbench.datasets")
    monkeypatch.setattr(catalog, "REGISTRY", reg)
    try:
        assert "tiny-world" in catalog.builders() and "synth-mpd" in catalog.builders()
        assert reg.origin("tiny-world") == "entry point thirdparty_ds:TinyWorld"
        ds = resolve("tiny-world", "xs", root=tmp_path / "data", progress=False)
        assert ds.root == tmp_path / "data" / "tiny-world-xs"
        validate(ds.root)
    finally:
        sys.modules.pop("thirdparty_ds", None)


def test_entry_point_of_the_wrong_type_is_refused(monkeypatch):
    ep = EntryPoint(name="bad", value="pathlib:Path", group="larpbench.datasets")
    import benchmark.core.registry as core_registry

    monkeypatch.setattr(core_registry, "entry_points", lambda group: [ep])
    with pytest.raises(RegistryError, match="not a DatasetPlugin subclass"):
        Registry("dataset", REGISTRY.packages, DatasetPlugin, "larpbench.datasets").names()


# ----------------------------------------------------------------------------- resolve
def test_resolve_name_path_and_errors(tiny_dataset, tmp_path):
    # a name: <data root>/<name>-<size> (built by the session fixture through resolve)
    assert tiny_dataset.root == catalog.dataset_path("synth-mpd", "tiny")
    assert resolve("synth-mpd", "tiny").root == tiny_dataset.root
    # a path to any dataset folder: opened as is, size ignored
    for ref in (tiny_dataset.root, str(tiny_dataset.root)):
        assert resolve(ref, "paper").content_hash == tiny_dataset.content_hash
    assert catalog.locate(tiny_dataset.root) == tiny_dataset.root
    # not built and not allowed to build
    with pytest.raises(DatasetError, match=r"synth-mpd-tiny is not built.*larpbench data build synth-mpd --size tiny"):
        resolve("synth-mpd", "tiny", root=tmp_path, build_missing=False)
    assert not (tmp_path / "synth-mpd-tiny").exists()
    with pytest.raises(DatasetError, match=r"has sizes .*not 'huge'"):
        resolve("synth-mpd", "huge")
    with pytest.raises(DatasetError, match="give a size"):
        resolve("synth-mpd")
    with pytest.raises(DatasetError, match="is an importer"):
        resolve("lastfm", "quick")
    with pytest.raises(DatasetError, match="no such dataset folder"):
        resolve(tmp_path / "nothing-here", "tiny")
    (tmp_path / "half").mkdir()
    with pytest.raises(DatasetError, match=r"without manifest\.json"):
        resolve(tmp_path / "half", "tiny")
    with pytest.raises(RegistryError, match="did you mean 'synth-lfm'"):
        resolve("synth-lf", "tiny")


def test_a_build_from_an_older_generator_is_stale_and_rebuilt(tiny_dataset, tmp_path):
    """A build whose manifest records another generator version is not reused: resolve
    refuses it without build_missing, and rebuilds it (same bytes as a fresh build) with."""
    import shutil

    from benchmark.core.dataset import content_hash

    target = tmp_path / "synth-mpd-tiny"
    shutil.copytree(tiny_dataset.root, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["params"]["generator"] = "synth/0"
    manifest["content_hash"] = content_hash(target, manifest["params"])
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"built by generator synth/0, the builder is now synth/\d.*--force"):
        resolve("synth-mpd", "tiny", root=tmp_path, build_missing=False)
    rebuilt = resolve("synth-mpd", "tiny", root=tmp_path, progress=False)
    assert rebuilt.manifest["params"]["generator"] == tiny_dataset.manifest["params"]["generator"]
    assert rebuilt.content_hash == tiny_dataset.content_hash
    # same generator version, other parameters (a default changed since the build): stale too
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["params"]["relation_picks"] = 0.987
    manifest["content_hash"] = content_hash(target, manifest["params"])
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"other generator parameters \(relation_picks differ"):
        resolve("synth-mpd", "tiny", root=tmp_path, build_missing=False)


# ----------------------------------------------------------------------------- every builder
def _builder_params():
    out = []
    for name in BUILDERS:
        marks = [pytest.mark.slow] if name in SLOW_BUILDERS else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _builder_params())
def test_every_builder_builds_its_smallest_size(name, tmp_path):
    meta = REGISTRY.get(name).meta
    size = meta.sizes[0]
    t0 = time.perf_counter()
    ds = catalog.build(name, size, root=tmp_path, progress=False)
    took = time.perf_counter() - t0
    assert ds.root == tmp_path / f"{name}-{size}" and is_dataset_dir(ds.root)
    # nothing temporary is left; the build's lock file (never a folder) stays, as flock files must
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{name}-{size}", f".{name}-{size}.lock"]), \
        "no temporary folder left"
    assert (tmp_path / f".{name}-{size}.lock").is_file()
    checked = validate(ds.root)
    assert checked.content_hash == ds.content_hash
    assert ds.playlist_ids("train") and ds.playlist_ids("test")
    # built once: resolve finds it without rebuilding
    stamp = (ds.root / "manifest.json").stat().st_mtime_ns
    assert resolve(name, size, root=tmp_path).content_hash == ds.content_hash
    assert (ds.root / "manifest.json").stat().st_mtime_ns == stamp
    print(f"{name}-{size}: built and validated in {took:.1f}s")


# ----------------------------------------------------------------------------- every importer
def _mpd_case(tmp: Path) -> tuple[list[str], dict]:
    slices, audio, _ = mpd_fixture(tmp)
    argv = [str(slices), "--train-size", "50", "--valid-size", "4", "--test-size", "4",
            "--min-playlist-len", "5", "--seed", "45"]
    return [*argv, "--audio", str(audio)], {"train_size": 50, "valid_size": 4, "min_playlist_len": 5, "seed": 45}


def _lastfm_case(tmp: Path) -> tuple[list[str], dict]:
    tmp.mkdir(parents=True, exist_ok=True)
    events, tracks, audio = lastfm_fixture(tmp)
    argv = [str(events), str(tracks), "--albums", str(tmp / "albums.tsv"), "--n-train-users", "all",
            "--n-valid-users", "4", "--n-test-users", "4", "--min-len", "10", "--max-len", "15", "--seed", "3"]
    return [*argv, "--audio", str(audio)], {"n_train_users": None, "n_valid_users": 4, "min_len": 10,
                                            "max_len": 15, "seed": 3}


def _larp_release_case(tmp: Path) -> tuple[list[str], dict]:
    release, audio = larp_fixture(tmp)
    return [str(release), "--dataset", "mpd", "--trust-pickle", "--audio", str(audio)], {"audio_is_clip": "auto"}


#: importer name -> writer of a tiny fixture: (argv without --out, params the manifest must record)
IMPORTER_CASES = {"mpd": _mpd_case, "lastfm": _lastfm_case, "larp-release": _larp_release_case}


@pytest.mark.parametrize("name", IMPORTERS)
def test_every_importer_imports_a_tiny_fixture(name, tmp_path, capsys):
    assert name in IMPORTER_CASES, f"importer {name!r} has no fixture: add one to IMPORTER_CASES"
    argv, expect = IMPORTER_CASES[name](tmp_path / "in")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    ds = catalog.get_importer(name)().import_argv([*argv, "--out", str(out), "--quiet"])
    took = time.perf_counter() - t0
    assert ds.root == out and is_dataset_dir(out)
    assert validate(out).content_hash == ds.content_hash
    assert ds.playlist_ids("test")
    params = ds.manifest["params"]
    assert {k: params[k] for k in expect} == expect, "the CLI options reached the import function"
    assert capsys.readouterr().out == "", "--quiet prints no report"
    assert resolve(out).content_hash == ds.content_hash  # an imported folder resolves by path
    print(f"{name}: imported and validated in {took:.1f}s")


def test_importer_parsers_declare_common_options():
    for name in IMPORTERS:
        parser = catalog.get_importer(name)().parser()
        opts = {o for a in parser._actions for o in a.option_strings}
        assert {"--audio", "--out", "--overwrite", "--quiet"} <= opts, name
        assert parser.prog == f"larpbench data import {name}"


# ----------------------------------------------------------------------------- CLI
def test_cli_import_dispatches_through_the_registry(tmp_path, capsys):
    from benchmark.cli import main

    argv, _ = _mpd_case(tmp_path / "in")
    assert main(["data", "import", "mpd", *argv, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and '"test_playlists"' in printed
    assert is_dataset_dir(tmp_path / "out")
    # a typo gets a suggestion; an importer's own errors name the option
    assert main(["data", "import", "lastfn", "x"]) == 2
    assert "did you mean 'lastfm'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "import", "mpd", str(tmp_path), "--out", str(tmp_path / "o2")])  # --audio missing
    assert "--audio" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["data", "import", "lastfm", "--help"])
    assert e.value.code == 0
    assert "EVENTS_TSV" in capsys.readouterr().out


def test_cli_data_list_lists_builders_and_importers(capsys):
    from benchmark.cli import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in BUILDERS + IMPORTERS:
        assert name in out
    assert "importer" in out and "SLICES_DIR" in out
    assert main(["data", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {n: v["kind"] for n, v in listed.items()} == {
        **{n: "builder" for n in BUILDERS}, **{n: "importer" for n in IMPORTERS}}


def test_cli_validate_and_info_by_path(tiny_dataset, capsys):
    from benchmark.cli import main

    assert main(["data", "validate", str(tiny_dataset.root), "--no-checksums"]) == 0
    assert tiny_dataset.content_hash[:12] in capsys.readouterr().out
    assert main(["data", "info", "synth-lfm", "--size", "paper"]) == 2  # not built: says how
    assert "larpbench data build synth-lfm --size paper" in capsys.readouterr().err
