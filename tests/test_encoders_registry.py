"""Registry-wide encoder tests (timm-style): every entry of ``encoders.REGISTRY`` is checked
for sane metadata, its profiles, and the embed contract on a tiny dataset. New encoders are
covered automatically; one that cannot run here is skipped with its EncoderUnavailable
message."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

from benchmark.harness.validators import encoder_validator
from encoders import REGISTRY, Encoder, EncoderMeta, EncoderUnavailable

try:
    from tests._fixture_tiny import fallback_tiny_dataset, hidden_tiny_dataset, resolve_tiny_dataset
except ImportError:  # tests/ not importable as a package: pytest put it on sys.path
    from _fixture_tiny import fallback_tiny_dataset, hidden_tiny_dataset, resolve_tiny_dataset  # noqa: F401

NAMES = REGISTRY.names()
MODALITIES = {"audio", "text", "precomputed", "none", "ground-truth"}
ORACLES = [n for n in NAMES if "oracle" in REGISTRY.get(n).meta.tags]
PROFILES = ("ci", "quick", "paper")


@pytest.fixture(scope="session")
def dataset(request):
    return resolve_tiny_dataset(request)


@pytest.fixture(scope="session")
def oracle_dataset(request, dataset):
    """The generated tiny dataset when it carries every oracle's hidden ground truth
    (synth/2 on), else the hand-built fixture that does: oracles are always exercised."""
    for name in ORACLES:
        try:
            REGISTRY.get(name).from_profile("ci").check_dataset(dataset)
        except EncoderUnavailable:
            return request.getfixturevalue("hidden_tiny_dataset")
    return dataset


def _sample(dataset) -> list[str]:
    """A few tracks of two splits, in a fixed order."""
    ids = dataset.track_ids("test")[:3] + dataset.track_ids("train")[:2]
    assert len(ids) >= 3
    return ids


def _ready(name: str, dataset, tmp_path, seed: int = 0) -> Encoder:
    """The ``ci`` profile instance, skipped when unavailable, fitted when it trains."""
    enc = REGISTRY.get(name).from_profile("ci")
    try:
        enc.check_available()
        enc.check_dataset(dataset)
    except EncoderUnavailable as e:
        pytest.skip(f"{name} unavailable here: {e}")
    if enc.meta.trains:
        workdir = tmp_path / f"{name}-seed{seed}-{id(enc)}"
        workdir.mkdir(parents=True)
        report = enc.fit(dataset, seed=seed, workdir=workdir, validator=encoder_validator(dataset, "valid"))
        assert isinstance(report, dict)
    return enc


def test_registry_not_empty():
    assert {"bert-text", "htsat-audio", "melstats", "precomputed"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_meta(name):
    cls = REGISTRY.get(name)
    assert issubclass(cls, Encoder)
    meta = cls.meta
    assert isinstance(meta, EncoderMeta)
    assert meta.name == name
    assert isinstance(meta.version, str) and meta.version.strip()
    assert meta.description.strip() and meta.citation.strip() and meta.weights.strip()
    assert meta.trains_on.strip()
    assert meta.modalities and set(meta.modalities) <= MODALITIES, meta.modalities
    assert len(set(meta.modalities)) == len(meta.modalities)
    assert meta.dim is None or (isinstance(meta.dim, int) and meta.dim > 0)
    assert meta.sample_rate is None or (isinstance(meta.sample_rate, int) and meta.sample_rate > 0)
    if "audio" in meta.modalities:
        assert meta.sample_rate is not None, "audio encoders declare the rate they consume"
    assert isinstance(meta.trains, bool)
    assert all(isinstance(m, str) and m for m in meta.requires)
    meta.to_dict()  # serialisable dataclass
    assert dataclasses.is_dataclass(meta)


#: Distributions an encoder may name in ``output_libraries`` without their being installed here
#: (optional extraction back ends; essentia and essentia-tensorflow are alternatives; musicnn is a
#: --no-deps install; openl3, tensorflow and kapre serve the openl3 adapter).
KNOWN_DISTRIBUTIONS = frozenset({"jukemirlib", "essentia", "essentia-tensorflow", "musicnn", "openl3", "tensorflow",
                                 "kapre"})
#: Neural encoders that run TensorFlow rather than torch (they count parameters too)
TENSORFLOW_MODELS = frozenset({"musicnn-msd", "musicnn-mtt", "openl3"})
#: Encoders whose model is costly to build on a CPU (laion_clap import, text model load).
HEAVY = {n for n in NAMES if "laion_clap" in REGISTRY.get(n).meta.requires}


@pytest.mark.parametrize("name", NAMES)
def test_meta_licences_and_output_libraries(name):
    import importlib.metadata as md

    meta = REGISTRY.get(name).meta
    assert meta.licence_code.strip() and meta.licence_weights.strip(), "declare code and weights licences"
    assert meta.weights_source.strip() and meta.weights.strip()  # both names readable
    libs = meta.output_libraries
    assert isinstance(libs, tuple) and libs and len(set(libs)) == len(libs), libs
    for dist in libs:
        assert isinstance(dist, str) and dist == dist.strip() and dist
        if dist in KNOWN_DISTRIBUTIONS:
            continue
        try:
            md.version(dist)
        except md.PackageNotFoundError:
            pytest.fail(f"{name}: output_libraries names {dist!r}, neither installed nor in KNOWN_DISTRIBUTIONS")
    assert meta.to_dict()["licence_code"] == meta.licence_code


def test_meta_weights_source_defaults_to_weights():
    meta = EncoderMeta(name="x", version="1", description="d", dim=2, sample_rate=None, modalities=("text",),
                       trains=False, trains_on="nothing", weights="random init", citation="c")
    assert meta.weights_source == "random init" and meta.output_libraries == ()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in NAMES])
def test_parameter_count(name):
    enc = REGISTRY.get(name).from_profile("ci")
    try:
        enc.check_available()
    except EncoderUnavailable as e:
        pytest.skip(f"{name} unavailable here: {e}")
    n = enc.parameter_count()
    neural = "torch" in enc.meta.output_libraries or name in TENSORFLOW_MODELS
    if n is None:
        assert not neural or name in ("melstats",), f"{name} runs a torch model: count its parameters"
    else:
        assert isinstance(n, int) and n > 0 and neural
        assert enc.parameter_count() == n  # deterministic


@pytest.mark.parametrize("name", NAMES)
def test_profiles_only_use_known_keys(name):
    cls = REGISTRY.get(name)
    assert set(cls.profile_configs) <= set(PROFILES), f"unknown profile(s) in {sorted(cls.profile_configs)}"
    assert "ci" in cls.profile_configs
    for profile, cfg in cls.profile_configs.items():
        unknown = set(cfg) - set(cls.default_config)
        assert not unknown, f"profile {profile!r} sets unknown key(s) {sorted(unknown)}"
        enc = cls.from_profile(profile)  # constructs (no weights loaded)
        assert enc.name == name


@pytest.mark.parametrize("name", NAMES)
def test_unknown_config_key_raises(name):
    with pytest.raises(ValueError, match="unknown config key"):
        REGISTRY.get(name)({"definitely_not_a_config_key": 1})


@pytest.mark.parametrize("name", NAMES)
def test_requires_importable_or_unavailable(name):
    enc = REGISTRY.get(name).from_profile("ci")
    missing = [m for m in enc.meta.requires if importlib.util.find_spec(m) is None]
    if missing:
        with pytest.raises(EncoderUnavailable):
            enc.check_available()


def test_the_oracles_are_registered_and_tagged():
    assert set(ORACLES) == {"oracle-genre", "oracle-artist", "oracle-relations", "oracle-latent"}
    for name in ORACLES:
        meta = REGISTRY.get(name).meta
        assert meta.modalities == ("ground-truth",) and meta.paper_row is None


@pytest.mark.parametrize("name", NAMES)
def test_embed_contract(name, request, tmp_path):
    dataset = request.getfixturevalue("oracle_dataset" if name in ORACLES else "dataset")
    sample_ids = _sample(dataset)
    a = _ready(name, dataset, tmp_path)
    x = a.embed(dataset, sample_ids)
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float32
    assert x.shape == (len(sample_ids), a.output_dim())
    assert np.isfinite(x).all()
    assert np.abs(x).sum() > 0, "all-zero embeddings"

    # same seed, fresh instance -> same vectors
    b = _ready(name, dataset, tmp_path)
    np.testing.assert_allclose(b.embed(dataset, sample_ids), x, rtol=1e-5, atol=1e-5)

    # rows follow the requested ids: order and batch composition do not matter
    rev = list(reversed(sample_ids))
    np.testing.assert_allclose(a.embed(dataset, rev), x[::-1], rtol=1e-4, atol=1e-4)
    one = a.embed(dataset, sample_ids[1:2])
    assert one.shape == (1, a.output_dim())
    np.testing.assert_allclose(one[0], x[1], rtol=1e-4, atol=1e-4)

    # empty request
    empty = a.embed(dataset, [])
    assert empty.shape == (0, a.output_dim()) and empty.dtype == np.float32
