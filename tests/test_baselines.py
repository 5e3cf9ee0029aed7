"""Tests of the baseline encoders (issue #4): losses against numpy, augmentations, the
SF-NFNet and MULE's front end, checkpoint loading (official CLAP layout, MULE weights),
and each encoder's shape and seed-determinism on a tiny dataset."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from encoders.base import EncoderUnavailable

torch = pytest.importorskip("torch")

try:
    from tests._fixture_tiny import write_tiny_dataset
except ImportError:  # tests/ not a package: pytest put it on sys.path
    from _fixture_tiny import write_tiny_dataset


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("baselines") / "tiny")


def _np_ce(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    m = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=1)) + m[:, 0]
    return lse - logits[np.arange(len(target)), target]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --------------------------------------------------------------------------- losses
def test_clip_loss_matches_numpy():
    from encoders._baselines.losses import clip_loss

    rng = np.random.default_rng(0)
    a, t = _unit(rng.standard_normal((6, 5))), _unit(rng.standard_normal((6, 5)))
    scale = 1 / 0.07
    logits = scale * a @ t.T
    want = 0.5 * (_np_ce(logits, np.arange(6)).mean() + _np_ce(logits.T, np.arange(6)).mean())
    got = clip_loss(torch.tensor(a), torch.tensor(t), torch.tensor(scale))
    assert float(got) == pytest.approx(want, rel=1e-6)


def test_nt_xent_matches_numpy():
    from encoders._baselines.losses import nt_xent

    rng = np.random.default_rng(1)
    z1, z2 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    tau = 0.1
    z = _unit(np.concatenate([z1, z2]))
    sims = z @ z.T / tau
    np.fill_diagonal(sims, -np.inf)
    target = np.concatenate([np.arange(5, 10), np.arange(5)])
    m = sims.max(axis=1, keepdims=True)
    lse = np.log(np.exp(sims - m).sum(axis=1)) + m[:, 0]
    per = lse - sims[np.arange(10), target]
    want = per[:5].mean() + per[5:].mean()  # SimCLR / MULE: sum of both directions' means
    got = nt_xent(torch.tensor(z1), torch.tensor(z2), tau)
    assert float(got) == pytest.approx(want, rel=1e-6)


def test_nt_xent_prefers_aligned_views():
    from encoders._baselines.losses import nt_xent

    z = torch.randn(8, 16)
    assert nt_xent(z, z + 0.01 * torch.randn(8, 16)) < nt_xent(z, torch.randn(8, 16))


def test_simsiam_loss_matches_numpy_and_stops_gradient():
    from encoders._baselines.losses import simsiam_loss

    rng = np.random.default_rng(2)
    p1, p2, z1, z2 = (rng.standard_normal((4, 3)) for _ in range(4))

    def cos(a, b):
        return (_unit(a) * _unit(b)).sum(axis=1)

    want = 0.5 * (-cos(p1, z2).mean()) + 0.5 * (-cos(p2, z1).mean())
    tp1, tp2 = torch.tensor(p1, requires_grad=True), torch.tensor(p2, requires_grad=True)
    tz1, tz2 = torch.tensor(z1, requires_grad=True), torch.tensor(z2, requires_grad=True)
    loss = simsiam_loss(tp1, tp2, tz1, tz2)
    assert float(loss) == pytest.approx(want, rel=1e-6)
    loss.backward()
    assert tz1.grad is None and tz2.grad is None  # stop-gradient on the targets
    assert tp1.grad is not None and tp2.grad is not None
    same = torch.tensor(p1)
    assert float(simsiam_loss(same, same, same, same)) == pytest.approx(-1.0)


def test_info_nce_matches_numpy():
    from encoders._baselines.losses import info_nce

    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    logits = _unit(q) @ _unit(k).T / 0.2
    one = _np_ce(logits, np.arange(5)).mean()
    both = 0.5 * (one + _np_ce(logits.T, np.arange(5)).mean())
    assert float(info_nce(torch.tensor(q), torch.tensor(k), 0.2, symmetric=False)) == pytest.approx(one, rel=1e-6)
    assert float(info_nce(torch.tensor(q), torch.tensor(k), 0.2)) == pytest.approx(both, rel=1e-6)


def test_lr_schedule():
    from encoders._baselines.train import lr_at

    kw = dict(base_lr=1.0, total=100, warmup=10, schedule="cosine")
    assert lr_at(0, **kw) == pytest.approx(0.1)
    assert lr_at(9, **kw) == pytest.approx(1.0)
    assert lr_at(10, **kw) == pytest.approx(1.0)
    assert lr_at(55, **kw) == pytest.approx(0.5)
    assert lr_at(99, **kw) < 0.01
    ms = dict(base_lr=1.0, total=90, warmup=0, schedule="multistep", milestones=[1 / 3, 1 / 2], gamma=0.7)
    assert [lr_at(s, **ms) for s in (0, 30, 45)] == pytest.approx([1.0, 0.7, 0.49])


# --------------------------------------------------------------------------- augmentation
def test_random_mix_is_a_patch_permutation():
    from encoders._baselines.augment import random_mix

    wav = np.random.default_rng(0).standard_normal((3, 1205)).astype(np.float32)
    out = random_mix(wav, np.random.default_rng(1), n_patches=12)
    assert out.shape == wav.shape and out.dtype == np.float32
    size = 1205 // 12
    for i in range(3):
        assert sorted(map(tuple, out[i, :12 * size].reshape(12, size))) == \
               sorted(map(tuple, wav[i, :12 * size].reshape(12, size)))
        np.testing.assert_array_equal(out[i, 12 * size:], wav[i, 12 * size:])  # tail kept
    np.testing.assert_array_equal(out, random_mix(wav, np.random.default_rng(1), n_patches=12))
    assert not np.array_equal(out, wav)


def test_spec_augment_shapes_and_range():
    from encoders._baselines.augment import spec_augment

    mel = np.random.default_rng(0).uniform(-3, 5, size=(4, 96, 120)).astype(np.float32)
    out = spec_augment(mel, np.random.default_rng(0), crop=0.7, freq_masks=2, freq_width=10,
                       time_masks=2, time_width=15)
    assert out.shape == mel.shape and out.dtype == np.float32
    assert out.min() >= mel.min() - 1e-5 and out.max() <= mel.max() + 1e-5
    assert not np.allclose(out, mel)
    np.testing.assert_array_equal(out, spec_augment(mel, np.random.default_rng(0), crop=0.7, freq_masks=2,
                                                    freq_width=10, time_masks=2, time_width=15))


def test_pedalboard_chain():
    from encoders._baselines.augment import pedalboard_augment, pedalboard_available

    if not pedalboard_available():
        from encoders._baselines.augment import pedalboard_chain

        with pytest.raises(EncoderUnavailable, match="pedalboard"):
            pedalboard_chain(np.random.default_rng(0), 16000)
        return
    t = np.arange(16000) / 16000
    wav = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)]).astype(np.float32)
    a = pedalboard_augment(wav, np.random.default_rng(5), 16000)
    b = pedalboard_augment(wav, np.random.default_rng(5), 16000)
    assert a.shape == wav.shape and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # parameters come from the generator only
    assert not np.allclose(a, wav)
    assert np.abs(a).max() < 4.0  # distortion (tanh) then reverb: bounded


# --------------------------------------------------------------------------- networks
def test_sfnfnet_shapes_and_weight_standardisation():
    from encoders._baselines.nfnet import SPECS, SFNFNet, WSConv2d

    assert SPECS["sf-nfnet-f0"].dim == 1728
    net = SFNFNet("nfnet-f0-tiny").eval()
    with torch.no_grad():
        y = net(torch.randn(3, 1, 96, 300))
    assert y.shape == (3, SPECS["nfnet-f0-tiny"].dim)
    conv = WSConv2d(4, 6, (3, 1), groups=2)
    w = conv.standardized_weight().detach()
    fan_in = w[0].numel()
    np.testing.assert_allclose(w.mean(dim=(1, 2, 3)).numpy(), 0, atol=1e-6)
    np.testing.assert_allclose((w.var(dim=(1, 2, 3), unbiased=False) * fan_in).numpy(), 1, rtol=1e-4)
    f0 = SFNFNet("sf-nfnet-f0")
    n = sum(p.numel() for p in f0.parameters())
    assert 60e6 < n < 65e6  # MULE reports ~62M parameters for its SF-NFNet-F0


def test_sfnfnet_stochastic_depth_only_in_training():
    from encoders._baselines.nfnet import SFNFNet, SFNFNetSpec

    spec = SFNFNetSpec(slow_stem=(4, 8, 8, 16), fast_stem=(2, 2, 2, 4), slow_out=(16, 32, 48, 48),
                       fast_out=(4, 8, 8, 8), fusion_mid=(4, 4, 8, 8), fusion_out=(16, 16, 16, 48),
                       depths=(1, 1, 1, 1), slow_group=8, fast_group=2, stochastic_depth=0.9)
    net = SFNFNet(spec)
    for m in net.modules():  # make residual branches matter
        if hasattr(m, "skip_gain"):
            torch.nn.init.constant_(m.skip_gain, 1.0)
    x = torch.randn(2, 1, 96, 300)
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))


def test_mule_frontend_matches_librosa_and_slices():
    from encoders.mule import cut_slices, mule_frontend, slice_centres

    assert slice_centres(1001) == [200, 400, 600, 800, 851]  # 10 s: 5 slices
    assert slice_centres(251) == [150]
    librosa = pytest.importorskip("librosa")
    y = np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32) * 0.1
    ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=2048, hop_length=160, win_length=400,
                                         window="hann", center=True, pad_mode="reflect", power=2.0, n_mels=96,
                                         fmin=0.0, fmax=8000.0, norm=2.0, htk=True, dtype=np.float32)
    ref = np.log10(10000.0 * ref + 1.0)
    got = mule_frontend()(torch.from_numpy(y)[None])[0].numpy()
    np.testing.assert_allclose(got, ref, atol=2e-4, rtol=1e-4)
    sl = cut_slices(torch.from_numpy(got)[None], [150], 300)
    assert sl.shape == (1, 1, 96, 300)


def test_resnet_backbones():
    from encoders._baselines.resnet import backbone_dim, build_backbone

    for name in ("resnet-tiny", "resnet-cpu"):
        net = build_backbone(name).eval()
        with torch.no_grad():
            assert net(torch.randn(2, 96, 64)).shape == (2, backbone_dim(name))
    assert backbone_dim("resnet50") == 2048 and backbone_dim("efficientnet-b0") == 1280


# --------------------------------------------------------------------------- checkpoints
def test_clap_loads_official_layout_checkpoint(tmp_path):
    """A checkpoint saved from laion_clap's own CLAP class (HTSAT-tiny audio branch; a small
    CLIP-style text transformer stands in for RoBERTa, which cannot be downloaded) loads
    into our CLAP: every audio-side tensor lands, the foreign text branch is reported."""
    from encoders._htsat import CheckpointError, import_htsat_module

    try:
        import_htsat_module()
        from encoders._text import load_text_model
        text = load_text_model("all-MiniLM-L6-v2")
    except EncoderUnavailable as e:
        pytest.skip(str(e))
    from laion_clap.clap_module.model import CLAP as OfficialCLAP

    from encoders._baselines.clap import CLAP, load_clap_checkpoint
    from encoders._htsat import HTSAT_CONFIGS

    torch.manual_seed(0)
    audio_cfg = HTSAT_CONFIGS["tiny"].audio_cfg().__dict__ | {"model_name": "tiny"}
    official = OfficialCLAP(embed_dim=768, audio_cfg=audio_cfg,
                            text_cfg={"context_length": 77, "vocab_size": 100, "width": 64, "heads": 2,
                                      "layers": 1, "model_type": "transformer"},
                            joint_embed_shape=512)
    with torch.no_grad():
        official.logit_scale_a.fill_(3.3)
    sd = {f"module.{k}": v for k, v in official.state_dict().items()}
    path = tmp_path / "630k-like.pt"
    torch.save({"epoch": 1, "state_dict": sd}, path)

    ours = CLAP("tiny", text, seed=123)
    rep = load_clap_checkpoint(ours, path)
    assert rep.prefix == "module."
    mine = ours.state_dict()
    for k, v in official.state_dict().items():
        if k.startswith(("audio_branch.", "audio_projection.", "audio_transform.", "text_transform.")) \
                or k in ("logit_scale_a", "logit_scale_t"):
            if k.endswith(("attn_mask", "relative_position_index")) or "extractor" in k:
                continue
            assert k in rep.loaded, k
            assert torch.equal(mine[k], v), k
    assert float(ours.logit_scale_a) == pytest.approx(3.3)
    assert any(k.startswith("text_branch.") for k in rep.unexpected)  # CLIP/RoBERTa text weights
    assert any(k.startswith("text_projection.0") for k, _, _ in rep.mismatched)  # 512 vs 384 inputs
    assert any(k.startswith("text_branch.") for k in rep.missing)  # MiniLM keeps its own weights
    assert not any(k.startswith("audio_") for k in rep.missing)

    bad = tmp_path / "unrelated.pt"
    torch.save({"state_dict": {"foo.weight": torch.zeros(2)}}, bad)
    with pytest.raises(CheckpointError):
        load_clap_checkpoint(ours, bad)


def test_clap_pt_encoder_with_checkpoint(tmp_path, ds):
    """clap-pt with config.checkpoint: no training, audio embeddings from the loaded weights."""
    from encoders._htsat import import_htsat_module

    try:
        import_htsat_module()
    except EncoderUnavailable as e:
        pytest.skip(str(e))
    from safetensors.torch import save_file

    from encoders.clap_pt import ClapPTEncoder

    src = ClapPTEncoder.from_profile("ci")
    model = src._build(7)
    path = tmp_path / "clap.safetensors"
    save_file({f"module.{k}": v.contiguous() for k, v in model.state_dict().items()}, str(path))
    enc = ClapPTEncoder.from_profile("ci", {"checkpoint": str(path)})
    rep = enc.fit(ds, seed=0, workdir=tmp_path / "w")
    assert rep["weights"] == "checkpoint" and not rep["load_report"]["missing"]
    ids = ds.track_ids("test")
    x = enc.embed(ds, ids)
    from encoders._audio import load_audio_batch

    cfg = enc.htsat_config
    wav = torch.from_numpy(load_audio_batch(ds, ids, cfg.sample_rate, cfg.clip_seconds, pad="repeat"))
    with torch.no_grad():
        want = model.eval().embed_audio(wav).numpy()
    np.testing.assert_allclose(x, want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_mule_loads_weights_path(tmp_path, ds):
    from safetensors.torch import save_file

    from encoders._htsat import CheckpointError
    from encoders.mule import MuleEncoder, MuleModel

    ref = MuleModel.build("nfnet-f0-tiny", [16, 16], seed=11).eval()
    path = tmp_path / "mule_converted.safetensors"
    save_file({f"backbone.{k}": v.contiguous() for k, v in ref.trunk.state_dict().items()}, str(path))
    enc = MuleEncoder.from_profile("ci", {"checkpoint": str(path)})
    rep = enc.fit(ds, seed=0, workdir=tmp_path / "w")
    assert rep["load_report"]["prefix"] == "backbone."
    assert not rep["load_report"]["missing"] and not rep["load_report"]["mismatched"]
    ids = ds.track_ids("test")
    got = enc.embed(ds, ids)
    same = MuleEncoder.from_profile("ci", {"checkpoint": str(path)})  # lazily loaded without fit
    np.testing.assert_array_equal(same.embed(ds, ids), got)
    with torch.no_grad():
        wav = torch.from_numpy(np.stack([ds.load_audio(t, 16000) for t in ids]))
        want = enc._embed_batch(ref, wav).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"x.weight": torch.zeros(3)}, str(wrong))
    with pytest.raises(CheckpointError):
        MuleEncoder.from_profile("ci", {"checkpoint": str(wrong)}).fit(ds, seed=0, workdir=tmp_path / "w2")


# --------------------------------------------------------------------------- encoders
FAST = {"max_steps": 2}
CASES = [  # (encoder, overrides, dim at the ci profile, does a seed change the vectors)
    ("mule", FAST, 56, True),
    ("co-playlist", FAST, 64, True),
    ("siamrec", FAST, 64, True),
    ("clap-pt", {"pt_max_steps": 2}, 512, False),  # checked via clap-ft (same pre-training)
    ("clap-ft", {"pt_max_steps": 2, "max_steps": 2}, 512, True),
]
VARIANTS = [  # options that change only the embedding side: shape check, one fit
    ("mule", {**FAST, "pooling": "flatten5"}, 5 * 56),
    ("co-playlist", {**FAST, "pairs": "top"}, 64),
    ("siamrec", {**FAST, "embedding": "backbone"}, 64),
    ("clap-pt", {"pt_max_steps": 1, "embedding": "mean"}, 512),
]


def _fitted(name, over, ds, workdir):
    from encoders import REGISTRY

    enc = REGISTRY.get(name).from_profile("ci", over)
    try:
        enc.check_available()
    except EncoderUnavailable as e:
        pytest.skip(str(e))
    enc.fit(ds, seed=workdir[1], workdir=workdir[0])
    assert enc.state_files(workdir[0])
    return enc


@pytest.mark.parametrize(("name", "over", "dim", "seed_matters"), CASES, ids=[c[0] for c in CASES])
def test_encoder_shape_and_seed_determinism(name, over, dim, seed_matters, ds, tmp_path, monkeypatch):
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache"))
    ids = ds.track_ids("test") + ds.track_ids("valid")[:1]
    a = _fitted(name, over, ds, (tmp_path / "a", 0)).embed(ds, ids)
    assert a.shape == (len(ids), dim) and a.dtype == np.float32 and np.isfinite(a).all()
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache2"))  # retrain everything from scratch
    np.testing.assert_array_equal(_fitted(name, over, ds, (tmp_path / "b", 0)).embed(ds, ids), a)
    if seed_matters:
        assert not np.allclose(_fitted(name, over, ds, (tmp_path / "c", 1)).embed(ds, ids), a)


@pytest.mark.parametrize(("name", "over", "dim"), VARIANTS, ids=["mule-flatten5", "co-playlist-top", "siamrec-backbone", "clap-pt-mean"])
def test_encoder_variants_shape(name, over, dim, ds, tmp_path, monkeypatch):
    monkeypatch.setenv("LARPBENCH_CACHE", str(tmp_path / "cache"))
    enc = _fitted(name, over, ds, (tmp_path / "w", 0))
    x = enc.embed(ds, ds.track_ids("test"))
    assert x.shape == (len(ds.track_ids("test")), dim) == (len(ds.track_ids("test")), enc.output_dim())
    assert x.dtype == np.float32 and np.isfinite(x).all()


def test_fit_skips_finished_workdir(ds, tmp_path):
    from encoders.siamrec import SiamRecEncoder

    a = SiamRecEncoder.from_profile("ci", FAST)
    rep = a.fit(ds, seed=0, workdir=tmp_path)
    assert not rep.get("cached")
    b = SiamRecEncoder.from_profile("ci", FAST)
    assert b.fit(ds, seed=0, workdir=tmp_path)["cached"]
    ids = ds.track_ids("test")
    np.testing.assert_array_equal(a.embed(ds, ids), b.embed(ds, ids))


def test_co_playlist_pairs_come_from_training_playlists(ds):
    from encoders.co_playlist import _PairSampler

    ids = sorted({t for p in ds.playlist_ids("train") for t in ds.playlists[p]})
    together = {(a, b) for p in ds.playlist_ids("train") for a in ds.playlists[p] for b in ds.playlists[p] if a != b}
    for mode in ("random", "top"):
        s = _PairSampler(ds, ids, mode, top_k=1, rng=np.random.default_rng(0))
        for a in s.anchors:
            for _ in range(5):
                assert (ids[a], ids[s.positive(int(a))]) in together


def test_siamrec_pedalboard_family_unavailable_message(monkeypatch):
    import encoders._baselines.augment as aug
    from encoders.siamrec import SiamRecEncoder

    monkeypatch.setattr(aug, "pedalboard_available", lambda: False)
    with pytest.raises(EncoderUnavailable, match="pedalboard"):
        SiamRecEncoder.from_profile("ci", {"augment": ["pedalboard"]}).check_available()
    SiamRecEncoder.from_profile("ci", {"augment": ["randommix"]}).check_available()


def test_essentia_descriptors_use_pool_statistics(ds, tmp_path):
    from encoders.essentia_descriptors import EssentiaDescriptorsEncoder

    enc = EssentiaDescriptorsEncoder.from_profile("ci", {"workers": 1, "clip_z": None})
    try:
        enc.check_available()
    except EncoderUnavailable as e:
        pytest.skip(str(e))
    enc.fit(ds, seed=0, workdir=tmp_path)
    pool = enc.embed(ds, ds.track_ids("pretrain"))
    assert pool.shape == (4, enc.output_dim()) and np.isfinite(pool).all()
    varying = enc.std != 1.0
    np.testing.assert_allclose(pool[:, varying].mean(axis=0), 0, atol=1e-3)  # pool stats, not the batch's
    test = enc.embed(ds, ds.track_ids("test"))
    assert not np.allclose(test[:, varying].mean(axis=0), 0, atol=1e-3)


def test_jukebox_reads_precomputed_and_explains_unavailability(ds, tmp_path):
    from safetensors.numpy import save_file

    from encoders.jukebox import JukeboxEncoder

    ids = list(ds.tracks)
    x = np.random.default_rng(0).standard_normal((len(ids), 4800)).astype(np.float32)
    path = tmp_path / "jukebox.safetensors"
    save_file({"embeddings": x}, str(path), metadata={"track_ids": json.dumps(ids)})
    enc = JukeboxEncoder({"path": str(path)})
    enc.check_available()
    assert enc.output_dim() == 4800
    want = [ids.index(t) for t in ds.track_ids("test")]
    np.testing.assert_array_equal(enc.embed(ds, ds.track_ids("test")), x[want])
    missing = JukeboxEncoder({"weights_dir": str(tmp_path / "nowhere")})
    with pytest.raises(EncoderUnavailable, match=r"config\.path"):
        missing.check_available()


def test_profiles_name_their_cpu_variants():
    from encoders.clap_ft import ClapFTEncoder
    from encoders.clap_pt import ClapPTEncoder
    from encoders.mule import MuleEncoder

    assert MuleEncoder.profile_configs["paper"]["backbone"] == "sf-nfnet-f0"
    assert MuleEncoder.profile_configs["quick"]["backbone"] == "nfnet-f0-cpu"
    assert MuleEncoder.from_profile("paper").output_dim() == 1728
    assert MuleEncoder.from_profile("paper", {"pooling": "flatten5"}).output_dim() == 8640
    for cls in (ClapPTEncoder, ClapFTEncoder):
        assert cls.profile_configs["paper"]["htsat"] == "tiny"
        assert cls.default_config["text_model"] == "all-MiniLM-L6-v2"
    assert ClapFTEncoder.profile_configs["paper"]["lr"] == 1e-4
    assert ClapFTEncoder.profile_configs["paper"]["warmup"] == 3200
    assert math.isclose(ClapPTEncoder.from_profile("quick").htsat_config.clip_seconds, 10.0)


def test_siamrec_features_are_the_consecutive_windows():
    """A clip of 2.5 windows gives the log-mels of its first two whole windows, in order
    (SiamRec: consecutive 3 s windows; the partial tail is dropped), for every clip of a batch."""
    import torch

    from encoders.siamrec import SiamRecEncoder

    enc = SiamRecEncoder.from_profile("ci")
    n = round(float(enc.config["input_seconds"]) * enc.sample_rate)
    wav = torch.randn(3, 5 * n // 2, generator=torch.Generator().manual_seed(0))
    mel, b, w = enc._features(wav)
    assert (b, w) == (3, 2)
    expected = torch.stack([enc._mel()(wav[i:i + 1, j * n:(j + 1) * n])[0] for i in range(3) for j in range(2)])
    torch.testing.assert_close(mel, expected, rtol=1e-5, atol=1e-4)
    short, _, w_short = enc._features(wav[:, : n // 2])  # shorter than one window: zero-padded to one
    assert w_short == 1 and short.shape[0] == 3
