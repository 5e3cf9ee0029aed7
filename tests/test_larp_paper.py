"""The ``paper`` LARP configuration (issue #13, item 5): the paper's numbers, its model's
parameter count on the meta device against docs/larp.md, its memory estimate, and one
training step on CUDA (marked ``gpu``; CUDA cannot be run on the CPU machines)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("laion_clap")

from encoders._larp import configs as C  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "larp.md"
#: docs/larp.md, "The paper configuration on a GPU": parameters of the stage-3 model with
#: bert-base-uncased (online + momentum towers, projections, fusion, temperature)
DOC_TOTAL_PARAMS = 282_598_831
DOC_TRAINABLE_PARAMS = 137_016_473
#: and the saved activations of one stage-3 step at batch 50 pairs (float32, GiB)
DOC_STAGE3_ACTIVATIONS_GIB = 16.70


def _bert_base_params(vocab=30522, hidden=768, layers=12, inter=3072, positions=512, types=2) -> int:
    """BertModel's parameter count by hand: embeddings (+ LayerNorm), per layer Q/K/V/O,
    two LayerNorms and the feed-forward pair, and the pooler."""
    emb = (vocab + positions + types) * hidden + 2 * hidden
    layer = 4 * (hidden * hidden + hidden) + 2 * 2 * hidden + (hidden * inter + inter) + (inter * hidden + hidden)
    return emb + layers * layer + hidden * hidden + hidden


def test_paper_config_has_the_papers_numbers():
    cfg = C.resolve("paper")
    from encoders._htsat import get_htsat_config

    h = get_htsat_config(cfg["htsat"])
    assert (h.name, h.embed_dim, h.depths, h.sample_rate, h.clip_seconds) == ("tiny", 96, (2, 2, 6, 2), 48000, 10.0)
    assert (cfg["batch_size"], cfg["queue_size"], cfg["momentum"], cfg["temp"], cfg["embed_dim"]) == (
        50, 57600, 0.995, 0.07, 256)
    assert (cfg["lr"], cfg["adam_beta1"], cfg["adam_beta2"], cfg["warmup_steps"]) == (1e-4, 0.9, 0.99, 3000)
    assert (cfg["max_epochs"], cfg["patience"], cfg["text_max_length"]) == (45, 5, 30)
    assert cfg["text_model"] in ("bert-base-uncased", "all-mpnet-base-v2") and cfg["text_num_layers"] is None


@pytest.fixture(scope="module")
def paper_meta():
    from encoders._larp.memory import model_on_meta

    return model_on_meta(C.resolve("paper", {"text_model": "bert-base-uncased"}), 1000, stage=3)


def test_paper_model_builds_on_meta_with_the_documented_parameter_count(paper_meta):
    from encoders._larp.memory import parameter_counts

    m = paper_meta
    assert {p.device.type for p in m.parameters()} == {"meta"}
    n = parameter_counts(m)
    assert n["text"] == _bert_base_params() == 109_482_240  # bert-base-uncased's published size
    assert n["proj"] == 2 * (768 * 256 + 256) and n["fusion"] == 3 * 256 * 256  # bias-free W_q, W_k, W_v
    assert n["momentum"] == n["audio"] + n["text"] + n["proj"]
    assert n["total"] == 2 * (n["audio"] + n["text"] + n["proj"]) + n["fusion"] + 1
    assert (n["total"], n["trainable"]) == (DOC_TOTAL_PARAMS, DOC_TRAINABLE_PARAMS)
    text = DOC.read_text(encoding="utf-8")
    assert f"{DOC_TOTAL_PARAMS:,}" in text and f"{DOC_TRAINABLE_PARAMS:,}" in text


def test_paper_step_memory_estimate_matches_the_docs(paper_meta):
    """The stage-3 saved activations at 50 pairs, counted on the meta device, are the
    figure docs/larp.md gives (to 1 %: another torch/transformers version may save other
    tensors, and then the docs need the new figure)."""
    from encoders._larp.memory import GIB, saved_activation_bytes

    act = saved_activation_bytes(paper_meta, 3, 50) / GIB
    assert act == pytest.approx(DOC_STAGE3_ACTIVATIONS_GIB, rel=0.01)
    assert re.search(rf"{DOC_STAGE3_ACTIVATIONS_GIB:.2f} GiB", DOC.read_text(encoding="utf-8"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (CUDA/NCCL cannot run on the CPU machines)")
def test_paper_config_runs_one_step_on_cuda():
    """The paper model (HTS-AT tiny, 10 s at 48 kHz, the paper text tower) builds on CUDA and
    takes one stage-1 step at the paper's batch of 50 under bf16 autocast; its peak memory
    stays under the float32 estimate of :func:`encoders._larp.memory.step_memory`."""
    from encoders._larp.memory import GIB, step_memory
    from encoders._larp.model import LarpModel
    from encoders._larp.train import amp_dtype, train_step
    from encoders._text import check_text_model
    from encoders.base import EncoderUnavailable

    cfg = C.resolve("paper", {"device": "cuda"})
    try:
        check_text_model(cfg["text_model"])
    except EncoderUnavailable as e:
        pytest.skip(f"the paper text tower is not available here: {e}")
    dev = torch.device("cuda")
    torch.cuda.reset_peak_memory_stats(dev)
    model = LarpModel(cfg, 1000, seed=0).to(dev).train()
    opt = torch.optim.Adam(model.trainable_parameters(1), lr=1e-4, betas=(0.9, 0.99))
    hc, b = model.htsat_config, int(cfg["batch_size"])
    g = torch.Generator(device="cpu").manual_seed(0)
    batch = {"mel": torch.randn(b, hc.frames, hc.mel_bins, generator=g),
             "input_ids": torch.randint(1000, 2000, (b, 30), generator=g),
             "attention_mask": torch.ones(b, 30, dtype=torch.long), "track_idx": torch.arange(b)}
    out = train_step(model, model, opt, None, {k: v.to(dev) for k, v in batch.items()}, 1, 0.4,
                     amp=amp_dtype(cfg["precision"], dev))
    assert bool(torch.isfinite(out["loss"])) and int(model.queue_ptr) == b
    peak = torch.cuda.max_memory_allocated(dev)
    est = step_memory(cfg, 1000, stage=1)["total"]
    print(f"paper stage-1 step at batch {b}: peak {peak / GIB:.2f} GiB, float32 estimate {est / GIB:.2f} GiB")
    assert peak <= est
