"""The plugin registry: discovery of one-file entries, duplicates, typo suggestions."""

from __future__ import annotations

import sys
import textwrap

import pytest

from benchmark.core.registry import Registry, RegistryError
from encoders.base import Encoder

ENTRY = """
from encoders.base import Encoder, EncoderMeta

class {cls}(Encoder):
    meta = EncoderMeta(name={name!r}, version="1", description="d", dim=2, sample_rate=None,
                       modalities=("text",), trains=False, trains_on="nothing", weights="none",
                       citation="none")
"""


@pytest.fixture
def plugin_pkg(tmp_path, monkeypatch):
    pkg = tmp_path / "myplugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for mod in [m for m in sys.modules if m.startswith("myplugins")]:
        del sys.modules[mod]


def _registry():
    return Registry("encoder", "myplugins", Encoder, "larpbench.test-none")


def test_one_file_is_one_entry(plugin_pkg):
    (plugin_pkg / "alpha.py").write_text(textwrap.dedent(ENTRY.format(cls="Alpha", name="alpha-enc")))
    (plugin_pkg / "_private.py").write_text("raise RuntimeError('private modules are not scanned')")
    reg = _registry()
    assert reg.names() == ["alpha-enc"]
    assert reg.get("alpha-enc").__name__ == "Alpha"
    assert "alpha.py" in reg.origin("alpha-enc")


def test_duplicate_names_rejected(plugin_pkg):
    (plugin_pkg / "a.py").write_text(ENTRY.format(cls="A", name="same"))
    (plugin_pkg / "b.py").write_text(ENTRY.format(cls="B", name="same"))
    with pytest.raises(RegistryError, match="duplicate encoder name 'same'"):
        _registry().names()


def test_typo_suggests_close_names(plugin_pkg):
    (plugin_pkg / "a.py").write_text(ENTRY.format(cls="A", name="melstats"))
    with pytest.raises(RegistryError, match="did you mean 'melstats'"):
        _registry().get("melstat")


def test_real_registries_load():
    from encoders import REGISTRY as E
    from recommenders import REGISTRY as R

    for name, cls in E:
        assert cls.meta.name == name
    assert "itemknn" in R


def test_unknown_config_key_rejected():
    from recommenders import REGISTRY as R

    with pytest.raises(ValueError, match="unknown config key"):
        R.get("itemknn")({"no_such_option": 1})
