"""LARP: losses against NumPy, queue, co-occurrence mask, fusion, lookup tables, stage
weight transfer, checkpoint round trip and resume, and an end-to-end CPU run."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from encoders._larp import configs as C  # noqa: E402
from encoders._larp.data import PAD, Cooccurrence, TrainingSet, epoch_rng, plan_pairs  # noqa: E402
from encoders._larp.fusion import MeanPooling, SelfAttentionFusion, build_fusion  # noqa: E402
from encoders._larp.losses import cooccurrence_exclusion, inbatch_contrast, itc_loss  # noqa: E402
from encoders._text import paper_text_model  # noqa: E402


def _validator(dataset):
    """The validator the harness hands LARP: ItemKNN on the valid split."""
    from benchmark.harness.validators import encoder_validator

    return encoder_validator(dataset, "valid")

# ------------------------------------------------------------------------------ helpers


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _np_side(x, xm, cands, temp, alpha, n, exclude):
    sim = x @ cands.T / temp
    sim_m = xm @ cands.T / temp
    if exclude is not None:
        sim = np.where(exclude, -np.inf, sim)
        sim_m = np.where(exclude, -np.inf, sim_m)
    pos = np.zeros_like(sim)
    pos[:, :n] = np.eye(n)
    e = np.exp(sim_m - sim_m.max(axis=1, keepdims=True))
    target = alpha * e / e.sum(axis=1, keepdims=True) + (1 - alpha) * pos
    m = sim.max(axis=1, keepdims=True)
    logp = sim - (m + np.log(np.exp(sim - m).sum(axis=1, keepdims=True)))
    return -(target * np.where(np.isfinite(logp), logp, 0.0)).sum(axis=1).mean()


def _np_itc(a, t, am, tm, aq, tq, temp, alpha, ex_a2t=None, ex_t2a=None):
    n = a.shape[0]
    t_all = np.concatenate([tm, tq])
    a_all = np.concatenate([am, aq])
    return (_np_side(a, am, t_all, temp, alpha, n, ex_a2t) + _np_side(t, tm, a_all, temp, alpha, n, ex_t2a)) / 2


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


# ------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
def test_itc_loss_matches_numpy(alpha):
    rng = np.random.default_rng(0)
    n, q, d = 3, 4, 5
    a, t, am, tm = (_unit(rng, n, d) for _ in range(4))
    aq, tq = _unit(rng, q, d), _unit(rng, q, d)
    temp = 0.07
    got = itc_loss(_t(a), _t(t), _t(am), _t(tm), _t(aq), _t(tq), temp, alpha).item()
    want = _np_itc(a, t, am, tm, aq, tq, temp, alpha)
    assert got == pytest.approx(want, rel=1e-5)
    # alpha=0, an empty queue and momentum = online features: the CLIP loss
    if alpha == 0.0:
        lg = a @ t.T / temp
        ce = lambda m: -np.mean(np.diag(m) - np.log(np.exp(m).sum(axis=1)))  # noqa: E731
        clip = (ce(lg) + ce(lg.T)) / 2
        got0 = itc_loss(_t(a), _t(t), _t(a), _t(t), _t(aq[:0]), _t(tq[:0]), temp, 0.0).item()
        assert got0 == pytest.approx(clip, rel=1e-6)


def test_itc_loss_with_exclusion_matches_numpy_and_has_gradient():
    rng = np.random.default_rng(1)
    n, q, d = 4, 3, 6
    a, t, am, tm = (_unit(rng, n, d) for _ in range(4))
    aq, tq = _unit(rng, q, d), _unit(rng, q, d)
    ex_a2t = np.zeros((n, n + q), dtype=bool)
    ex_a2t[0, 1] = ex_a2t[2, 5] = ex_a2t[3, 0] = True
    ex_t2a = np.zeros((n, n + q), dtype=bool)
    ex_t2a[1, 2] = True
    at = _t(a).requires_grad_(True)
    loss = itc_loss(at, _t(t), _t(am), _t(tm), _t(aq), _t(tq), 0.1, 0.4,
                    torch.from_numpy(ex_a2t), torch.from_numpy(ex_t2a))
    want = _np_itc(a, t, am, tm, aq, tq, 0.1, 0.4, ex_a2t, ex_t2a)
    assert loss.item() == pytest.approx(want, rel=1e-5)
    loss.backward()
    assert torch.isfinite(at.grad).all() and at.grad.abs().sum() > 0
    # a candidate excluded from every audio row has no influence: moving it changes nothing
    ex_col = np.zeros((n, n + q), dtype=bool)
    ex_col[:, n + 2] = True  # text queue slot 2 (only the audio->text side reads the text queue)
    tq2 = tq.copy()
    tq2[2] = -tq[2]
    l1 = itc_loss(_t(a), _t(t), _t(am), _t(tm), _t(aq), _t(tq), 0.1, 0.4, torch.from_numpy(ex_col))
    l2 = itc_loss(_t(a), _t(t), _t(am), _t(tm), _t(aq), _t(tq2), 0.1, 0.4, torch.from_numpy(ex_col))
    l3 = itc_loss(_t(a), _t(t), _t(am), _t(tm), _t(aq), _t(tq2), 0.1, 0.4)
    assert l1.item() == pytest.approx(l2.item(), abs=1e-12) and abs(l3.item() - l1.item()) > 1e-6


def test_inbatch_contrast_matches_numpy():
    rng = np.random.default_rng(2)
    x, y = _unit(rng, 5, 4), _unit(rng, 5, 4)
    lg = x @ y.T / 0.2

    def ce(m):
        return -np.mean(np.diag(m) - np.log(np.exp(m).sum(axis=1)))

    assert inbatch_contrast(_t(x), _t(y), 0.2).item() == pytest.approx((ce(lg) + ce(lg.T)) / 2, rel=1e-6)
    assert inbatch_contrast(_t(x), _t(y), 0.2, symmetric=False).item() == pytest.approx(ce(lg), rel=1e-6)


# ------------------------------------------------------------------------------ queue
def _queue_holder(q: int, d: int) -> SimpleNamespace:
    return SimpleNamespace(audio_queue=torch.zeros(q, d), text_queue=torch.zeros(q, d),
                           idx_queue=torch.full((q,), -1, dtype=torch.long),
                           queue_ptr=torch.zeros(1, dtype=torch.long))


def test_queue_enqueue_wraps_around():
    from encoders._larp.model import LarpModel

    h = _queue_holder(5, 2)
    rows = lambda lo, hi: torch.arange(lo, hi, dtype=torch.float32)[:, None].repeat(1, 2)  # noqa: E731
    LarpModel.enqueue(h, rows(0, 3), -rows(0, 3), torch.arange(0, 3))
    assert h.queue_ptr.item() == 3
    LarpModel.enqueue(h, rows(3, 6), -rows(3, 6), torch.arange(3, 6))  # wraps: slots 3, 4, 0
    assert h.queue_ptr.item() == 1
    assert h.audio_queue[:, 0].tolist() == [5, 1, 2, 3, 4]
    assert h.text_queue[:, 0].tolist() == [-5, -1, -2, -3, -4]
    assert h.idx_queue.tolist() == [5, 1, 2, 3, 4]
    LarpModel.enqueue(h, rows(6, 13), -rows(6, 13), torch.arange(6, 13))  # more rows than slots
    assert sorted(h.idx_queue.tolist()) == [8, 9, 10, 11, 12]
    assert h.queue_ptr.item() == (1 + 5) % 5


# ------------------------------------------------------------------------------ co-occurrence
def test_cooccurrence_mask_on_handmade_playlists():
    # tracks 0..5; playlists {0,1,2}, {2,3}, {4,5}
    cooc = Cooccurrence.from_playlists([np.array([0, 1, 2]), np.array([2, 3]), np.array([4, 5])], 6)
    assert cooc.contains(0, 2) and cooc.contains(2, 3) and cooc.contains(3, 3)
    assert not cooc.contains(0, 3) and not cooc.contains(1, 4)
    keys = cooc.to_tensor()
    rows = torch.tensor([0, 2, 4])
    cols = torch.tensor([1, 3, 5, 0, 2, -1])  # in-batch partners 1, 3, 5, then "queue" 0, 2, empty
    ex = cooccurrence_exclusion(rows, cols, torch.tensor([0, 1, 2]), keys, 6)
    want = np.array([
        # 1      3      5      0      2      -1
        [False, False, False, True, True, False],  # row track 0: positive col 0 kept, 0 & 2 co-occur
        [True, False, False, True, True, False],   # row track 2: 1, 0, 2 co-occur; positive col 1 kept
        [False, False, False, False, False, False],  # row track 4: positive col 2 (track 5) kept
    ])
    assert ex.numpy().tolist() == want.tolist()


def test_plan_pairs_share_a_playlist_and_context_excludes_anchor():
    ts = TrainingSet.from_playlists([f"t{i}" for i in range(7)],
                                    [[0, 1, 2, 3], [3, 4], [5, 6, 0]])
    plan = plan_pairs(ts, 2.0, epoch_rng(0, 3, 0), n_seed=3)
    assert len(plan["a"]) == 14
    for a, b, p, ctx in zip(plan["a"], plan["b"], plan["playlist"], plan["ctx"]):
        members = set(ts.playlists[p].tolist())
        assert a != b and a in members and b in members
        real = [c for c in ctx if c != PAD]
        assert a not in real and set(real) <= members and len(real) == min(3, len(members) - 1)
    again = plan_pairs(ts, 2.0, epoch_rng(0, 3, 0), n_seed=3)
    assert all(np.array_equal(plan[k], again[k]) for k in plan)
    with_anchor = plan_pairs(ts, 2.0, epoch_rng(0, 3, 0), n_seed=4, include_anchor=True)
    assert any(a in ctx for a, ctx in zip(with_anchor["a"], with_anchor["ctx"]))


# ------------------------------------------------------------------------------ fusion
def test_fusion_shapes_padding_and_attention_weights():
    torch.manual_seed(0)
    fus = SelfAttentionFusion(8)
    assert all(m.bias is None for m in (fus.w_q, fus.w_k, fus.w_v))
    feats = torch.randn(3, 5, 8)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True], [False] + [True] * 4])
    out = fus(feats, pad).detach()
    assert out.shape == (3, 8)
    attn = fus.attention(feats, pad).detach()
    assert attn.shape == (3, 5, 5)
    assert torch.allclose(attn.sum(-1), torch.ones(3, 5))
    assert float(attn[1, :, 3:].abs().max()) == 0.0 and float(attn[2, :, 1:].abs().max()) == 0.0
    # padded slots do not influence the playlist vector
    feats2 = feats.clone()
    feats2[1, 3:] = 100.0
    feats2[2, 1:] = -7.0
    assert torch.allclose(fus(feats2, pad).detach(), out)
    # Eq. 24 by hand for the unpadded playlist
    x = feats[0]
    a = torch.softmax((x @ fus.w_q.weight.T) @ (x @ fus.w_k.weight.T).T / math.sqrt(8), dim=-1)
    assert torch.allclose(out[0], (a @ (x @ fus.w_v.weight.T)).mean(0).detach(), atol=1e-6)
    # a single-track playlist: attention is trivial, output = W_v x
    assert torch.allclose(out[2], fus.w_v(feats[2, 0]).detach(), atol=1e-6)


def test_mean_pooling_when_fusion_off():
    pool = build_fusion(False, 4)
    assert isinstance(pool, type(MeanPooling())) and not list(pool.parameters())
    feats = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    pad = torch.tensor([[False, False, True], [False, False, False]])
    out = pool(feats, pad)
    assert torch.allclose(out[0], feats[0, :2].mean(0)) and torch.allclose(out[1], feats[1].mean(0))
    assert isinstance(build_fusion(True, 4), type(SelfAttentionFusion(4)))


# ------------------------------------------------------------------------------ lookup tables
def test_lookup_table_update_and_playlist_vectors():
    from encoders._larp.model import LarpModel

    h = SimpleNamespace(audio_table=torch.zeros(6, 3), text_table=torch.zeros(6, 3), fusion=MeanPooling())
    a = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], requires_grad=True)
    t = torch.tensor([[0, 0, 1.0], [1.0, 1.0, 0]], requires_grad=True)
    LarpModel.update_tables(h, torch.tensor([4, 1]), a, t)
    assert h.audio_table[4].tolist() == [1, 0, 0] and h.audio_table[1].tolist() == [0, 1, 0]
    assert h.text_table[1].tolist() == [1, 1, 0] and h.audio_table[0].abs().sum() == 0
    assert not h.audio_table.requires_grad  # the tables are not part of the graph
    LarpModel.update_tables(h, torch.tensor([4]), a[1:] * 2, t[1:])  # the latest value wins
    assert h.audio_table[4].tolist() == [0, 2, 0]
    ap, tp = LarpModel.playlist_vectors(h, torch.tensor([[4, 1, 0]]), torch.tensor([[False, False, True]]))
    assert ap[0].tolist() == [0, 1.5, 0] and tp[0].tolist() == [1, 1, 0]
    assert not ap.requires_grad


# ------------------------------------------------------------------------------ configs / registry
def test_stage_keys_are_shared_between_variants():
    wtc = C.resolve("cpu-tiny", {"fusion": False})
    full = C.resolve("cpu-tiny", {"fusion": True})
    other_seed_count = C.resolve("cpu-tiny", {"fusion": True, "n_seed": 3})
    no_mask = C.resolve("cpu-tiny", {"cooccurrence_mask": False})
    k = lambda cfg, s: C.stage_key(cfg, s, "h", 0)  # noqa: E731
    assert k(wtc, 1) == k(full, 1) == k(no_mask, 1)
    assert k(wtc, 2) == k(full, 2) == k(other_seed_count, 2) != k(no_mask, 2)
    assert k(wtc, 3) != k(full, 3) != k(other_seed_count, 3)
    assert C.stage_key(full, 1, "h", 1) != k(full, 1)
    assert C.resolve("cpu-tiny", {"device": "cpu", "num_workers": 3}) and \
        k(C.resolve("cpu-tiny", {"device": "cpu", "num_workers": 3}), 3) == k(C.resolve("cpu-tiny", {}), 3)
    with pytest.raises(ValueError, match="unknown LARP model config"):
        C.resolve("cpu-tinny")
    paper = C.resolve("paper")
    assert (paper["batch_size"], paper["queue_size"], paper["momentum"], paper["lr"], paper["warmup_steps"],
            paper["max_epochs"], paper["patience"], paper["embed_dim"], paper["n_seed"],
            paper["adam_beta2"], paper["htsat"], paper["text_model"]) == (
        50, 57600, 0.995, 1e-4, 3000, 45, 5, 256, 10, 0.99, "tiny", paper_text_model())
    assert paper_text_model() in ("bert-base-uncased", "all-mpnet-base-v2")


def test_registry_entries():
    from encoders import REGISTRY

    rows = {"larp-wtc": ("LARP-WTC", 1), "larp-ttc": ("LARP-TTC", 2), "larp-tpc": ("LARP-TPC", 3),
            "larp": ("LARP", 3)}
    for name, (row, stage) in rows.items():
        cls = REGISTRY.get(name)
        assert cls.meta.paper_row == row and cls.meta.trains and cls.STAGE == stage
        enc = cls.from_profile("ci")
        assert enc.larp_config["model_config"] == "cpu-tiny" and enc.output_dim() == 256
        assert enc.larp_config["fusion"] == (name == "larp")
        assert cls.from_profile("quick").larp_config["model_config"] == "cpu-small"
        assert cls.from_profile("paper").larp_config["htsat"] == "tiny"
    with pytest.raises(ValueError, match="unknown config key"):
        REGISTRY.get("larp")({"fusion": False})


# ------------------------------------------------------------------------------ trainer
SR = 16000


def _write_dataset(root: Path):
    """40 train tracks in 5 'genre' playlists of 8, 16 valid and 16 test tracks; 2.5 s tones."""
    import soundfile as sf

    from benchmark.core.dataset import Dataset, Track, write_dataset

    rng = np.random.default_rng(7)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * 2.5)) / SR
    tracks, playlists = [], []
    k = 0
    for split, n_pl, size in (("train", 5, 8), ("valid", 2, 8), ("test", 2, 8)):
        for p in range(n_pl):
            genre = p % 4
            ids = []
            for _ in range(size):
                f0 = 110.0 * 2 ** (genre + rng.uniform(0, 0.25))
                wav = np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * (genre + 1) * t))
                wav = (0.3 * wav + 0.02 * rng.standard_normal(t.shape)).astype(np.float32)
                tid = f"t{k:03d}"
                sf.write(root / f"audio/{tid}.flac", wav, SR, format="FLAC")
                tracks.append(Track(tid, f"Tune {k}", f"Band {genre}-{k % 3}", f"Record {genre}", f"audio/{tid}.flac",
                                    0.0, split))
                ids.append(tid)
                k += 1
            playlists.append((f"{split}{p}", split, ids))
    write_dataset(root, name="larp-test", source="tests/test_larp.py", sample_rate=SR, clip_seconds=2.5,
                  tracks=tracks, playlists=playlists)
    return Dataset(root)


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    return _write_dataset(tmp_path_factory.mktemp("larp-data"))


def _cfg(**kw):
    base = {"batch_size": 8, "queue_size": 24, "max_epochs": [2, 1, 1], "warmup_steps": 2, "patience": 5,
            "audio_init": "random",  # this dataset has no pre-training pool for CLAP-PT
            "eval_batch_size": 32, "progress": False, "device": "cpu", "n_seed": 4, "num_threads": 1}
    base.update(kw)
    return C.resolve("cpu-tiny", base)


def _state(path: Path) -> dict:
    from encoders._larp.train import load_weights

    return load_weights(path)


def test_stage_transfer_and_reuse(small_dataset, tmp_path):
    from encoders._larp.train import LarpTrainer

    tr = LarpTrainer(small_dataset, _cfg(), seed=0, cache_root=tmp_path,
                     validator=_validator(small_dataset))
    s1, s2 = tr.run(2)
    assert not s1.skipped and not s2.skipped and s1.dir != s2.dir
    assert s2.extra["started_from"] == str(s1.best_path)
    # stage 2 starts from stage 1's best weights: identical validation before its first step
    init = s2.history[0]
    assert init.get("init") and init["epoch"] == 0
    best1 = next(r for r in s1.history if r["epoch"] == s1.best_epoch)
    assert init["recall@10"] == best1["recall@10"] and init["ndcg@10"] == best1["ndcg@10"]
    # the weights that were loaded are stage 1's best (tables and fusion excepted)
    model = tr.build_model(2)
    tr.load_stage_weights(model, s1.best_path)
    sd1 = _state(s1.best_path)
    for k, v in model.state_dict().items():
        if k in sd1:
            assert torch.equal(v, sd1[k]), k
    # a variant that differs only in stage-3 options reuses stages 1 and 2
    tr2 = LarpTrainer(small_dataset, _cfg(fusion=False, n_seed=2), seed=0, cache_root=tmp_path,
                     validator=_validator(small_dataset))
    r1, r2 = tr2.run(2)
    assert r1.skipped and r2.skipped and r2.dir == s2.dir
    # ... and the TTC mask switch starts a new stage 2 from the same stage 1
    tr3 = LarpTrainer(small_dataset, _cfg(cooccurrence_mask=False), seed=0, cache_root=tmp_path,
                     validator=_validator(small_dataset))
    assert tr3.stage_dir(1) == s1.dir and tr3.stage_dir(2) != s2.dir
    for name in ("best.safetensors", "final.safetensors", "log.jsonl", "done.json", "key.json"):
        assert (s2.dir / name).is_file()
    assert not list(s2.dir.glob("ckpt-e*")) and not (s2.dir / "last_state.pt").exists()


def test_checkpoint_roundtrip_and_resume(small_dataset, tmp_path):
    from encoders._larp.train import LarpTrainer, load_weights, save_weights

    cfg = _cfg(max_epochs=[3, 1, 1], patience=10)
    ref = LarpTrainer(small_dataset, cfg, seed=1, cache_root=tmp_path / "a", validator=_validator(small_dataset)).run(1)[0]
    assert ref.epochs_run == 3

    class Interrupt(Exception):
        pass

    def stop_after_first(stage, epoch, rec):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        LarpTrainer(small_dataset, cfg, seed=1, cache_root=tmp_path / "b", validator=_validator(small_dataset), on_epoch_end=stop_after_first).run(1)
    d = next((tmp_path / "b").rglob("last_state.pt")).parent
    assert (d / "ckpt-e1.safetensors").is_file() and not (d / "done.json").exists()
    resumed = LarpTrainer(small_dataset, cfg, seed=1, cache_root=tmp_path / "b", validator=_validator(small_dataset)).run(1)[0]
    assert resumed.epochs_run == 3 and not resumed.skipped
    assert [r["recall@10"] for r in resumed.history] == [r["recall@10"] for r in ref.history]
    assert [r.get("loss") for r in resumed.history] == [r.get("loss") for r in ref.history]
    for name in ("final.safetensors", "best.safetensors"):
        a, b = _state(ref.dir / name), _state(resumed.dir / name)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
    # safetensors round trip of a full state (shared storage included)
    x = torch.randn(3, 2)
    save_weights(tmp_path / "w.safetensors", {"x": x, "y": x, "z": torch.arange(4)})
    back = load_weights(tmp_path / "w.safetensors")
    assert torch.equal(back["x"], x) and torch.equal(back["y"], x) and back["z"].tolist() == [0, 1, 2, 3]


#: encoder overrides shared by the encoder tests (stages 1-2 are trained once, in the session cache)
_ENC_OVER = {"batch_size": 8, "queue_size": 24, "max_epochs": [1, 1, 1], "warmup_steps": 2, "audio_init": "random",
             "eval_batch_size": 32, "progress": False, "device": "cpu", "num_threads": 1}


def test_larp_encoder_trains_all_stages_and_embeds(small_dataset, tmp_path):
    from encoders import REGISTRY

    over = {**_ENC_OVER, "n_seed": 4}
    enc = REGISTRY.get("larp").from_profile("ci", over)
    report = enc.fit(small_dataset, seed=0, workdir=tmp_path / "wd", validator=_validator(small_dataset))
    assert [s["stage_name"] for s in report["stages"]] == ["wtc", "ttc", "tpc"]
    assert (tmp_path / "wd" / "larp_log_stage3.jsonl").is_file()
    # issue #13.8: stop reason, steps, chance level and the fusion layer's distance from its init
    s3 = report["stages"][2]
    assert s3["stop_reason"] in ("patience", "budget") and s3["steps"] > 0
    assert s3["chance_loss"] > 0 and s3["fusion_dist"] > 0
    ids = small_dataset.track_ids("test")
    x = enc.embed(small_dataset, ids)
    assert x.shape == (len(ids), 256) and x.dtype == np.float32 and np.isfinite(x).all()
    assert np.allclose(enc.embed(small_dataset, ids[::-1]), x[::-1], atol=1e-6)
    tpc = REGISTRY.get("larp-tpc").from_profile("ci", over)
    rep2 = tpc.fit(small_dataset, seed=0, workdir=tmp_path / "wd2", validator=_validator(small_dataset))
    assert [s["reused"] for s in rep2["stages"]] == [True, True, False]
    assert len(enc.state_files(tmp_path / "wd")) == 3


def test_end_to_end_ci_improves_validation_recall(tiny_dataset, tmp_path):
    """A cpu-tiny LARP trained a few steps (stage 1) beats its untrained start on valid R@10."""
    from encoders._larp.train import LarpTrainer

    cfg = C.resolve("cpu-tiny", {"max_epochs": [2, 1, 1], "progress": False, "device": "cpu", "patience": 5,
                                 "num_threads": 1, "audio_init": "random"})
    res = LarpTrainer(tiny_dataset, cfg, seed=0, cache_root=tmp_path, validator=_validator(tiny_dataset)).run(1)[0]
    init = res.history[0]["recall@10"]
    assert res.best_metric > init, [r["recall@10"] for r in res.history]


# ------------------------------------------------------------------------------ reports
def _fake_result(results: Path, encoder: str, paper_row: str, values: np.ndarray, seed: int = 0) -> None:
    from benchmark.core.results import SCHEMA, write_record

    per = {f"{m}@{k}": values * (k / 10) for m in ("recall", "ndcg", "recall_capped") for k in (10, 20, 40)}
    cell = {"profile": "ci", "dataset": "synth-mpd", "encoder": encoder, "recommender": "itemknn", "seed": seed}
    write_record(results / "ci" / "synth-mpd" / encoder / "itemknn" / f"seed{seed}.json", {
        "schema": SCHEMA, "kind": "cell", "cell": cell, "cell_key": "k", "status": "ok",
        "dataset": {"name": "synth-mpd-ci", "paper_column": "MPD"},
        "encoder": {"meta": {"name": encoder, "version": "1", "paper_row": paper_row, "weights": "w",
                             "trains_on": "t"}, "config": {"model_config": "cpu-tiny"}},
        "recommender": {"meta": {"name": "itemknn", "version": "1.0", "paper_row": "ItemKNN"}, "config": {}},
        "metrics": {m: float(v.mean()) for m, v in per.items()},
        "per_playlist": {"playlist_ids": [f"p{i}" for i in range(len(values))], **per},
    })


def test_render_table3_from_result_files(tmp_path):
    from benchmark.reports.larp import render_table3, table3_data

    rng = np.random.default_rng(0)
    base = rng.uniform(0, 0.05, size=30)
    _fake_result(tmp_path, "larp-wtc", "LARP-WTC", base)
    _fake_result(tmp_path, "larp", "LARP", base + 0.02)
    data = table3_data(tmp_path, "ci")
    assert set(data["rows"]["synth-mpd"]) == {"LARP-WTC", "LARP-TPC-fusion"}
    text = render_table3(tmp_path)
    assert "Table 3" in text and "LARP-TPC-fusion (larp)" in text and "(0.0256)" in text  # paper WTC R@10
    assert "not run (0.0373)" in text  # LARP-TTC not run, paper value still shown
    assert "LARP-TPC-fusion − LARP-WTC" not in text and "p = " not in text.split("Notes:")[0]
    assert render_table3(tmp_path, "ci") == text


def test_table3_reports_each_stages_kept_epoch_and_stop_reason(tmp_path):
    """A trained row is shown with what its stages kept and why they stopped, per seed."""
    import json as _json

    from benchmark.reports.larp import render_table3

    base = np.random.default_rng(0).uniform(0.02, 0.05, size=30)
    stages = [{"stage_name": "wtc", "best_epoch": 0, "epochs_run": 5, "stop_reason": "patience", "steps": 625},
              {"stage_name": "ttc", "best_epoch": 3, "epochs_run": 8, "stop_reason": "budget", "steps": 496}]
    for seed in (0, 1):
        _fake_result(tmp_path, "larp-ttc", "LARP-TTC", base, seed=seed)
        path = tmp_path / "ci" / "synth-mpd" / "larp-ttc" / "itemknn" / f"seed{seed}.json"
        rec = _json.loads(path.read_text())
        rec["encoder_fit"] = {"stages": stages[: seed + 1]}
        path.write_text(_json.dumps(rec))
    text = render_table3(tmp_path, "ci")
    assert "- LARP-TTC seed 0: wtc kept epoch 0 of 5 (patience, 625 steps)\n" in text
    assert ("- LARP-TTC seed 1: wtc kept epoch 0 of 5 (patience, 625 steps), "
            "ttc kept epoch 3 of 8 (budget, 496 steps)\n") in text


def test_table3_claims_pair_rows_on_the_seeds_both_have(tmp_path):
    """TPC has seeds 0 and 1, TTC only seed 0: the claim compares seed 0 with seed 0, so a
    second TPC seed far above (+0.1) does not make a difference appear."""
    from benchmark.reports.larp import table3_claims, table3_data

    base = np.random.default_rng(1).uniform(0.02, 0.05, size=30)
    _fake_result(tmp_path, "larp-ttc", "LARP-TTC", base)
    _fake_result(tmp_path, "larp-tpc", "LARP-TPC", base, seed=0)
    _fake_result(tmp_path, "larp-tpc", "LARP-TPC", base + 0.1, seed=1)
    data = table3_data(tmp_path, "ci")
    assert data["rows"]["synth-mpd"]["LARP-TPC"]["R@10"] == pytest.approx(base.mean() + 0.05)  # the table: both seeds
    c = {c["claim"]: c for c in table3_claims(data)}["TPC (mean) vs TTC"]
    assert c["seeds"] == [0] and c["diff"] == 0.0 and c["verdict"] == "not shown"


def test_table3_claims_test_the_papers_orderings(tmp_path):
    """Hand-built per-playlist values: TTC = WTC + 0.02 everywhere (the paper's sign,
    significant), TPC = TTC (no difference), fusion = TPC − 0.01 (the paper has fusion above
    mean: reversed); Table 2's best other row is the caption baseline (oracles never count)."""
    from benchmark.core.stats import holm, sign_flip_pvalues
    from benchmark.reports.larp import render_table3, table3_claims, table3_data

    base = np.random.default_rng(0).uniform(0.02, 0.05, size=30)
    _fake_result(tmp_path, "larp-wtc", "LARP-WTC", base)
    _fake_result(tmp_path, "larp-ttc", "LARP-TTC", base + 0.02)
    _fake_result(tmp_path, "larp-tpc", "LARP-TPC", base + 0.02)
    _fake_result(tmp_path, "larp", "LARP", base + 0.01)
    _fake_result(tmp_path, "caption-tfidf", "caption TF-IDF", base + 0.005)
    _fake_result(tmp_path, "random", "random", base - 0.01)
    _fake_result(tmp_path, "oracle-genre", "oracle", base + 0.5)
    claims = {c["claim"]: c for c in table3_claims(table3_data(tmp_path, "ci"))}
    assert list(claims) == ["TTC vs WTC", "TPC (mean) vs TTC", "fusion vs mean pooling",
                            "LARP vs the best other row of Table 2"]
    c = claims["TTC vs WTC"]
    assert c["diff"] == pytest.approx(0.02) and c["ci"] == pytest.approx((0.02, 0.02))
    assert c["paper_diff"] == pytest.approx(0.0373 - 0.0256) and c["verdict"] == "holds"
    assert claims["TPC (mean) vs TTC"]["diff"] == pytest.approx(0.0) and claims["TPC (mean) vs TTC"]["p"] == 1.0
    assert claims["TPC (mean) vs TTC"]["verdict"] == "not shown"
    assert claims["fusion vs mean pooling"]["diff"] == pytest.approx(-0.01)
    assert claims["fusion vs mean pooling"]["verdict"] == "reversed"  # paper: 0.0406 > 0.0357
    best = claims["LARP vs the best other row of Table 2"]
    assert best["a"] == "caption-tfidf" and best["diff"] == pytest.approx(0.005) and best["verdict"] == "holds"
    # p-values: the sign-flip test of each difference, then Holm over the four
    diffs = [np.full(30, 0.02), np.zeros(30), np.full(30, -0.01), np.full(30, 0.005)]
    raw = [float(sign_flip_pvalues(d)[0]) for d in diffs]
    assert [c["p"] for c in claims.values()] == pytest.approx(raw)
    assert [c["p_holm"] for c in claims.values()] == pytest.approx(list(holm(raw)))
    text = render_table3(tmp_path, "ci")
    assert "The paper's orderings, tested" in text and "reversed" in text and "caption-tfidf" in text


def test_figures_are_written(tmp_path):
    import json as _json

    from benchmark.core.results import SCHEMA, Cell, iter_records, write_record
    from benchmark.harness.sweeps import collect_logs
    from benchmark.reports.larp import _chains, figure4, figure5, training_epochs

    logs = tmp_path / "logs"
    runs = {"s1": (1, None, None), "s2": (2, "s1", None), "s3a": (3, "s2", True), "s3b": (3, "s2", False)}
    all_epochs = []
    for d, (stage, parent, fusion) in runs.items():
        (logs / d).mkdir(parents=True)
        recs = [{"stage_dir": d, "parent_dir": parent, "stage": stage, "epoch": e, "recall@10": 0.01 * (e + stage),
                 "ndcg@10": 0.02 * (e + 1), "dataset": "synth-mpd-ci", "model_config": "cpu-tiny", "seed": 0,
                 "fusion": fusion, "n_seed": 10 if stage == 3 else None, "split": "valid"} for e in range(3)]
        for r in recs[1:]:  # what the trainer logs after each epoch
            r.update({"loss": 6.0 - r["epoch"], "chance_loss": 8.0, "steps_total": 10 * r["epoch"],
                      "stop_reason": "patience" if r["epoch"] == 2 and stage != 2 else None})
            if fusion:
                r["fusion_rel_dist"] = 0.1 * r["epoch"]
        all_epochs += recs
        (logs / d / "log.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in recs))
    chains = _chains(all_epochs)
    assert len(chains) == 1
    (stages,) = chains.values()
    assert sorted(stages) == ["1", "2", "3:fusion, n_seed=10", "3:mean, n_seed=10"]
    assert figure5(all_epochs, tmp_path / "f5.png").stat().st_size > 1000
    from benchmark.reports.larp import _panel_value, _selected, _stop_label

    kept = [{"epoch": 0, "best": True, "recall@10": 0.04}, {"epoch": 1, "best": False, "recall@10": 0.0405},
            {"epoch": 2, "best": False, "recall@10": 0.03}]  # epoch 1: above the start by less than min_delta 0.001
    assert _selected(kept)["epoch"] == 0  # the star marks the epoch the stage kept, epoch 0 included
    assert _selected([{k: v for k, v in r.items() if k != "best"} for r in kept])["epoch"] == 1  # old logs

    assert _stop_label(stages["1"]) == "patience, 2 ep, 20 steps"
    assert _stop_label(stages["2"]) == "budget, 2 ep, 20 steps"  # no reason on its last epoch
    assert _panel_value(stages["1"][2], "loss/chance") == pytest.approx(4.0 / 8.0)
    assert _panel_value(stages["1"][0], "loss/chance") is None  # epoch 0: no training yet
    assert _panel_value(stages["3:fusion, n_seed=10"][2], "fusion_rel_dist") == pytest.approx(0.2)
    # the committed copy: only this model config's logs, one training_log record per stage folder,
    # same chains
    (logs / "other").mkdir()
    (logs / "other" / "log.jsonl").write_text(_json.dumps({"stage": 1, "epoch": 0, "model_config": "paper"}) + "\n")
    res = tmp_path / "res"
    copied = collect_logs(logs, res, "ci", "cpu-tiny")
    assert [p.name for p in copied] == [f"{d}.json" for d in sorted(runs)]
    assert {r.kind for r in iter_records(res, "ci")} == {"training_log"}
    assert _chains(training_epochs(res, "ci")) == chains
    # a shorter log never replaces a longer record
    (logs / "s1" / "log.jsonl").write_text(_json.dumps(all_epochs[0]) + "\n")
    collect_logs(logs, res, "ci", "cpu-tiny")
    assert _chains(training_epochs(res, "ci")) == chains
    for n in (1, 5, 10):
        cell = Cell("ci", "synth-mpd", "larp", "itemknn", 0, variant=f"n_seed={n}")
        write_record(cell.path(res), {
            "schema": SCHEMA, "kind": "cell", "status": "ok", "cell": cell.__dict__, "cell_key": "k",
            "metrics": {"recall@10": 0.01 * n, "ndcg@10": 0.02 * n},
            "ci95": {"recall@10": [0.0, 0.5], "ndcg@10": [0.0, 0.9]}})
    assert figure4(res, tmp_path / "f4.png").stat().st_size > 1000


def test_figure4_sweep_writes_result_files(small_dataset, tmp_path):
    from benchmark.core.results import read_record
    from benchmark.harness.sweeps import figure4_sweep
    from benchmark.reports.larp import figure4, figure4_data
    from benchmark.reports.tables import load_cells

    over = dict(_ENC_OVER)
    paths = figure4_sweep(str(small_dataset.root), "ci", n_seeds=(1, 3), results_dir=tmp_path,
                          overrides=over, progress=False)
    # ordinary grid cells, named by the dataset's manifest name (never its path), one per variant
    assert [p.relative_to(tmp_path).parts[1:3] for p in paths] == [
        (small_dataset.name, "larp~n_seed=1"), (small_dataset.name, "larp~n_seed=3")]
    r = read_record(paths[1])
    assert r.kind == "cell" and r["cell"]["variant"] == "n_seed=3" and r["encoder"]["config"]["n_seed"] == 3
    assert 0.0 <= r["metrics"]["recall@10"] <= 1.0 and len(r["per_playlist"]["recall@10"]) == r["n_playlists"]
    stages = r["encoder_fit"]["stages"]
    assert stages[0]["dir"] == read_record(paths[0])["encoder_fit"]["stages"][0]["dir"]  # shared stage 1
    assert figure4_sweep(str(small_dataset.root), "ci", n_seeds=(1,), results_dir=tmp_path, overrides=over,
                         progress=False) == paths[:1]
    assert read_record(paths[0]).data == read_record(paths[0]).data  # finished cells are kept
    (group,) = figure4_data(tmp_path)
    assert sorted(figure4_data(tmp_path)[group]) == [1, 3]
    assert figure4(tmp_path, tmp_path / "f4.png").is_file()
    assert not load_cells(tmp_path, "ci")  # variant cells are not Table 2 rows


# ------------------------------------------------------------------------------ issue #13
def test_tpc_paper_targets_put_mass_on_every_track_of_the_playlist():
    """#13.1: two anchors of one playlist are not each other's negatives (Eq. 25), and the
    playlist->track direction reads the track queue."""
    from encoders._larp.losses import tpc_paper_loss, tpc_targets

    ts = TrainingSet.from_playlists([f"t{i}" for i in range(5)], [[0, 1, 2], [3, 4]])
    keys = torch.from_numpy(ts.member_keys())
    anchors, playlists = torch.tensor([0, 1, 3]), torch.tensor([0, 0, 1])  # anchors 0 and 1 share playlist 0
    queue = torch.tensor([2, 4, -1, 0])  # slot 2 never filled
    p2t, t2p = tpc_targets(anchors, playlists, queue, keys, 5)
    assert p2t.shape == (3, 7) and t2p.shape == (3, 3)
    # playlist 0 -> anchors 0 and 1, queue tracks 2 and 0; playlist 1 -> anchor 3, queue track 4
    assert p2t[0].tolist() == [0.25, 0.25, 0, 0.25, 0, 0, 0.25] and p2t[1].tolist() == p2t[0].tolist()
    assert p2t[2].tolist() == [0, 0, 1 / 2, 0, 1 / 2, 0, 0]
    assert t2p[0].tolist() == [0.5, 0.5, 0] and t2p[2].tolist() == [0, 0, 1]
    rng = np.random.default_rng(3)
    a_p, t_p, a_s, t_s = (torch.from_numpy(_unit(rng, 3, 4)).float() for _ in range(4))
    aq, tq = (torch.from_numpy(_unit(rng, 4, 4)).float() for _ in range(2))
    got = tpc_paper_loss(a_p, t_p, a_s, t_s, aq, tq, anchors, playlists, queue, keys, 5, 0.1)

    def ce(logits, tgt):
        return float(-(torch.log_softmax(logits, 1) * tgt).sum(1).mean())

    want = ((ce(a_p @ torch.cat([t_s, tq]).T / 0.1, p2t) + ce(t_s @ a_p.T / 0.1, t2p)) / 2
            + (ce(t_p @ torch.cat([a_s, aq]).T / 0.1, p2t) + ce(a_s @ t_p.T / 0.1, t2p)) / 2) / 2
    assert got.item() == pytest.approx(want, rel=1e-5)
    assert got.item() != pytest.approx(((inbatch_contrast(a_p, t_s, 0.1) + inbatch_contrast(t_p, a_s, 0.1)) / 2).item())
    assert C.resolve("paper")["tpc_loss"] == "paper" and C.resolve("paper", {"tpc_loss": "inbatch"})
    with pytest.raises(ValueError, match="tpc_loss"):
        C.resolve("paper", {"tpc_loss": "nope"})


@pytest.fixture(scope="module")
def feature_model():
    """A cpu-tiny LarpModel whose towers are replaced by fixed features per track index
    (``mel[:, 0, 0]`` carries the index), so the losses' inputs are known."""
    from encoders._larp.model import LarpModel

    cfg = C.resolve("cpu-tiny", {"queue_size": 8, "fusion": False, "device": "cpu"})
    model = LarpModel(cfg, 6, seed=0)
    table = torch.nn.functional.normalize(torch.randn(6, int(cfg["embed_dim"]), generator=torch.Generator().manual_seed(0)), dim=1)

    def feats(mel, momentum):
        return table[mel[:, 0, 0].long()]

    model._audio = feats
    model._text = lambda ids, mask, momentum: table[ids[:, 0].long()].flip(1)
    return model


def _feature_batch(anchors, partners, playlists=None):
    idx = torch.tensor(anchors + partners)
    b = {"mel": idx.float()[:, None, None].repeat(1, 2, 2), "input_ids": idx[:, None].repeat(1, 3),
         "attention_mask": torch.ones(len(idx), 3, dtype=torch.long), "track_idx": idx}
    if playlists is not None:
        b["ctx_idx"] = torch.tensor([[p] for p in partners])
        b["ctx_pad"] = torch.zeros(len(anchors), 1, dtype=torch.bool)
        b["playlist_idx"] = torch.tensor(playlists)
    return b


def test_wtc_runs_on_the_anchors_in_stages_2_and_3(feature_model, monkeypatch):
    """#13.2: in stages 2-3 WTC's batch is the anchors s_i, not [s_i; s_j]."""
    import encoders._larp.model as M

    calls = []
    real = M.itc_loss

    def spy(a, t, *args, **kw):
        calls.append((a.detach().clone(), t.detach().clone()))
        return real(a, t, *args, **kw)

    monkeypatch.setattr(M, "itc_loss", spy)
    model = feature_model
    model.set_cooccurrence(Cooccurrence.from_playlists([np.array([0, 1, 2]), np.array([3, 4, 5])], 6).to_tensor())
    batch = _feature_batch([0, 3], [1, 4])
    out = model(batch, 2, 0.4)
    (a_w, t_w), (a_t, _) = calls
    want_a = model._audio(batch["mel"][:2], False)
    assert a_w.shape[0] == 2 and torch.equal(a_w, want_a) and torch.equal(t_w, model._text(batch["input_ids"][:2], None, False))
    assert a_t.shape[0] == 4  # TTC still sees both halves
    assert torch.isfinite(out["loss"])
    calls.clear()
    model(_feature_batch([0, 1, 2], [3, 4, 5]), 1, 0.4)  # stage 1: every row is a track of its own
    assert calls[0][0].shape[0] == 6


def test_stage3_forward_uses_the_paper_tpc(feature_model):
    ts = TrainingSet.from_playlists([f"t{i}" for i in range(6)], [[0, 1, 2], [3, 4, 5]])
    model = feature_model
    model.set_membership(torch.from_numpy(ts.member_keys()))
    batch = _feature_batch([0, 1, 3], [2, 2, 5], playlists=[0, 0, 1])
    out = model(batch, 3, 0.4)
    assert torch.isfinite(out["tpc"]) and set(out) == {"wtc", "ttc", "tpc", "loss"}
    ch = model.chance_levels(3, 6)
    assert ch["wtc"] == pytest.approx(math.log(3 + 8)) and ch["ttc"] == pytest.approx(math.log(6 + 8))
    assert ch["tpc"] == pytest.approx((math.log(3 + 8) + math.log(3)) / 2)


class _Scripted:
    """A validator that returns a scripted recall@10 per call (epoch 0 first)."""

    def __init__(self, scores):
        self.scores, self.calls = list(scores), 0

    def __call__(self, track_ids, emb):
        v = self.scores[min(self.calls, len(self.scores) - 1)]
        self.calls += 1
        return {"recall@10": v, "ndcg@10": v}


def test_epoch0_is_selectable_and_warmup_is_a_fraction(small_dataset, tmp_path):
    """#13.3: a stage whose inherited weights (epoch 0) validate best keeps them.
    #13.4: the trainer's warm-up is warmup_fraction of the stage's steps."""
    from encoders._larp.train import LarpTrainer

    cfg = _cfg(max_epochs=[2, 1, 1], warmup_fraction=0.5, warmup_steps=None, min_epochs=1, patience=5)
    tr = LarpTrainer(small_dataset, cfg, seed=0, cache_root=tmp_path, validator=_Scripted([0.9, 0.1, 0.2]))
    res = tr.run(1)[0]
    assert res.best_epoch == 0 and res.best_metric == 0.9 and res.epochs_run == 2
    init = tr.build_model(1).state_dict()
    best = _state(res.best_path)
    final = _state(res.dir / "final.safetensors")
    for k in ("audio_proj.weight", "text_proj.weight", "temp"):
        assert torch.equal(best[k], init[k]) and not torch.equal(final[k], init[k]), k
    total = 2 * tr.steps_per_epoch(1)
    assert res.extra["total_steps"] == total and res.extra["warmup_steps"] == round(0.5 * total)
    assert res.extra["stop_reason"] == "budget" and res.extra["steps"] == total
    log = [__import__("json").loads(x) for x in (res.dir / "log.jsonl").read_text().splitlines()]
    assert log[0]["best"] and log[-1]["stop_reason"] == "budget" and log[-1]["chance_wtc"] == pytest.approx(
        math.log(8 + 24))


def test_lr_schedule_is_a_fraction_of_the_stage():
    """#13.4: warm-up = warmup_fraction × the stage's N steps, cosine to 0 at step N; the
    paper config keeps 3,000 absolute steps."""
    from benchmark.core.training import lr_lambda

    cfg = C.resolve("cpu-small")
    assert cfg["warmup_steps"] is None and cfg["warmup_fraction"] == 0.1
    spe = 37
    warmup, total = C.stage_schedule(cfg, spe, 2)
    assert total == spe * C.max_epochs(cfg, 2) and warmup == round(0.1 * total)
    f = lr_lambda(warmup, total)
    assert f(0) == pytest.approx(1 / warmup) and f(warmup - 1) == pytest.approx(1.0)
    assert f(warmup + (total - warmup) // 2) == pytest.approx(0.5, abs=0.02) and f(total) == pytest.approx(0.0)
    paper = C.resolve("paper")
    assert C.stage_schedule(paper, 1000, 1) == (3000, 45000)
    assert C.resolve("cpu-tiny", {"warmup_steps": 7})["warmup_fraction"] is None
    with pytest.raises(ValueError, match="exactly one"):
        C.resolve("paper", {"warmup_steps": 10, "warmup_fraction": 0.1})


def test_stop_rule_on_a_scripted_sequence():
    """#13.8: stop after >= patience epochs without a gain of at least min_delta, never
    before min_epochs; 'budget' at max_epochs."""
    from encoders._larp.train import StopRule

    rule = StopRule(patience=2, min_delta=0.01, min_epochs=5, max_epochs=10)
    # e1 +.02 gain; e2, e3 gains < .01 (bad 1, 2; too early to stop); e4 improves; e5, e6 bad -> stop
    got = rule.trace([0.10, 0.12, 0.125, 0.126, 0.20, 0.205, 0.207, 0.5])
    assert got == {"best_epoch": 4, "best": 0.20, "epochs_run": 6, "stop_reason": "patience"}
    assert rule.trace([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])["best_epoch"] == 0  # epoch 0 wins, stops at min_epochs
    assert rule.trace([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])["epochs_run"] == 5
    assert StopRule(5, 0.0, 1, 3).trace([0.1, 0.2, 0.3, 0.4])["stop_reason"] == "budget"
    assert not rule.improves(float("nan"), 0.1)
    cpu = C.resolve("cpu-small")
    assert (cpu["min_epochs"], cpu["patience"]) == (5, 2) and all(C.max_epochs(cpu, s) >= 5 for s in (1, 2, 3))


def test_nan_loss_stops_with_a_clear_error_and_resumes(small_dataset, tmp_path, monkeypatch):
    """#13.7: a NaN loss names stage and step, keeps the last good checkpoint; a rerun resumes."""
    from encoders._larp.model import LarpModel
    from encoders._larp.train import LarpTrainer, StageDiverged

    cfg = _cfg(max_epochs=[2, 1, 1], patience=5)
    real = LarpModel.forward
    n = {"calls": 0}

    def nan_at_epoch2(self, batch, stage, alpha):
        out = real(self, batch, stage, alpha)
        n["calls"] += 1
        if n["calls"] == spe + 1:
            out["loss"] = out["loss"] * float("nan")
        return out

    tr = LarpTrainer(small_dataset, cfg, seed=2, cache_root=tmp_path, validator=_validator(small_dataset))
    spe = tr.steps_per_epoch(1)
    monkeypatch.setattr(LarpModel, "forward", nan_at_epoch2)
    with pytest.raises(StageDiverged, match=rf"stage 1 \(WTC\) diverged: non-finite loss at step {spe} "):
        tr.run(1)
    d = tr.stage_dir(1)
    assert (d / "ckpt-e1.safetensors").is_file() and (d / "last_state.pt").is_file() and not (d / "done.json").exists()
    last = __import__("json").loads((d / "log.jsonl").read_text().splitlines()[-1])
    assert last["stop_reason"] == "diverged" and last["last_good_checkpoint"].endswith("ckpt-e1.safetensors")
    monkeypatch.setattr(LarpModel, "forward", real)
    res = LarpTrainer(small_dataset, cfg, seed=2, cache_root=tmp_path, validator=_validator(small_dataset)).run(1)[0]
    assert res.epochs_run == 2 and not res.skipped and [r["epoch"] for r in res.history] == [0, 1, 2]


@pytest.mark.parametrize("profile", ["ci", "quick"])
def test_bert_text_is_larps_text_tower_before_projection(profile):
    """#13.6: at each profile bert-text and LARP's text tower give the same features before
    LARP's projection (same model, same layers, CLS, 30 tokens)."""
    from encoders import REGISTRY
    from encoders._larp.model import LarpModel

    bert = REGISTRY.get("bert-text").from_profile(profile, {"normalize": False, "device": "cpu"})
    larp = REGISTRY.get("larp").from_profile(profile)
    assert bert.config["num_layers"] == larp.larp_config["text_num_layers"]
    assert bert.config["pooling"] == "cls" and bert.config["max_length"] == larp.larp_config["text_max_length"]
    captions = ["The track Blue by Band 1 on album Sky", "The track A much longer title with words by X on album Y"]
    ds = SimpleNamespace(caption=lambda i: captions[int(i)])
    got = bert.embed(ds, ["0", "1"])
    model = LarpModel({**larp.larp_config, "fusion": False, "queue_size": 4}, 1, seed=0).eval()
    from encoders._larp.data import tokenize

    ids, mask = tokenize(model.tokenizer, captions, int(larp.larp_config["text_max_length"]))
    with torch.no_grad():
        out = model.text_encoder(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    want = out.last_hidden_state[:, 0].numpy()
    assert got.shape == want.shape and np.allclose(got, want, atol=1e-4)


def test_audio_tower_starts_from_clap_pt_weights(tiny_dataset, tmp_path):
    """#13.5: LARP's stage-1 audio tower (and htsat-audio with init='clap-pt') start from
    CLAP-PT's trained audio tower for the same dataset and seed; one HTS-AT per profile."""
    from encoders import REGISTRY
    from encoders._audio_init import clap_pt_audio_state
    from encoders._htsat import HTSAT_BY_PROFILE, get_htsat_config
    from encoders._larp.train import LarpTrainer

    for profile, mc in (("ci", "cpu-tiny"), ("quick", "cpu-small"), ("paper", "paper")):
        want = get_htsat_config(HTSAT_BY_PROFILE[profile]).to_dict()
        assert get_htsat_config(C.resolve(mc)["htsat"]).to_dict() == want
        for name in ("clap-pt", "htsat-audio"):
            assert REGISTRY.get(name).from_profile(profile).htsat_config.to_dict() == want, (name, profile)
    assert C.resolve("cpu-tiny")["audio_init"] == "clap-pt" and C.resolve("paper")["audio_init"] == "clap-pt"
    cfg = C.resolve("cpu-tiny", {"progress": False, "device": "cpu", "num_threads": 1})
    tr = LarpTrainer(tiny_dataset, cfg, seed=0, cache_root=tmp_path, validator=_validator(tiny_dataset))
    model = tr.build_model(1)
    random_state = {k: v.clone() for k, v in model.audio_encoder.state_dict().items()}
    info = tr.init_audio_tower(model)
    state, _ = clap_pt_audio_state(tiny_dataset, 0, "ci", cfg["htsat"])
    assert info["audio_init"] == "clap-pt" and state.keys() == model.audio_encoder.state_dict().keys()
    for k, v in model.audio_encoder.state_dict().items():
        assert torch.equal(v, state[k]), k
    for k, v in model.audio_encoder_m.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert any(not torch.equal(random_state[k], state[k]) for k in state)  # CLAP-PT trained it
    assert tr.audio_checkpoint_id().startswith("clap-pt:ci:")
    htsat = REGISTRY.get("htsat-audio").from_profile("ci", {"init": "clap-pt", "device": "cpu"})
    for k, v in htsat._load(tiny_dataset).state_dict().items():
        assert torch.equal(v.cpu(), state[k]), k
