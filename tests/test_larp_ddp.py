"""LARP's multi-process and mixed-precision paths, executed on CPU (issue #13, item 3).

CUDA and NCCL cannot be run on the machines that run this suite; the same code paths run
there with the gloo backend and CPU autocast, and the CUDA test stays marked ``gpu``.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("laion_clap")

import _larp_ddp as W  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Gradients of the 2-process step against the 1-process reference: |Δ| <= RTOL * max|g| + ATOL
#: per tensor (float32, the ranks' all-reduce sums in another order than the reference).
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-7


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")]),
                "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _reference() -> dict:
    """The 1-process step on the same global batch (all of :data:`_larp_ddp.PAIRS`).

    What the 2-process step computes, and so what this reference must compute: each rank's
    loss is LARP's stage-3 loss of its own 3 pairs, contrasted against its own momentum rows
    and the shared queue — as in BLIP, momentum features are all-gathered only to *enqueue*
    them (and to update the lookup tables), not as extra in-batch negatives — and DDP
    averages the two ranks' gradients. So the 2-process gradient is the gradient of
    ½(L(pairs of rank 0) + L(pairs of rank 1)) with the queue as it was before the step and
    the lookup tables holding the whole global batch's features (``update_tables`` gathers
    both ranks' rows before the TPC term reads them; pair 4's context lies in rank 0's
    share). A single forward over the 6 pairs is a different loss (its softmaxes also hold
    the other half's momentum rows; :func:`test_two_process_step_matches_one_process`
    checks that it differs), so the reference runs the global batch as those two halves
    from the same starting state (the per-half queue and momentum updates are undone in
    between) and accumulates ½ of each half's gradient. The queue after the step must then
    equal one enqueue of the whole global batch's momentum rows in rank order.
    """
    model = W.build_model()
    opt = torch.optim.Adam(model.trainable_parameters(3), lr=W.LR, betas=(0.9, 0.99))
    glob = W.batch_of(model, W.PAIRS)
    with torch.no_grad():
        a, t = model.encode(glob["mel"], glob["input_ids"], glob["attention_mask"])
        model.update_tables(glob["track_idx"], a, t)
    start = copy.deepcopy(model.state_dict())
    losses = []
    opt.zero_grad(set_to_none=True)
    for r in range(W.WORLD):
        model.load_state_dict(start)
        out = model(W.batch_of(model, W.rank_pairs(r)), 3, W.ALPHA)
        (out["loss"] / W.WORLD).backward()
        losses.append({k: float(v.detach()) for k, v in out.items()})
    model.load_state_dict(start)
    with torch.no_grad():
        single = float(model(W.batch_of(model, W.PAIRS), 3, W.ALPHA)["loss"])  # one forward, 6 pairs
        model.load_state_dict(start)
        model.momentum_update()
        ranked = [W.batch_of(model, W.rank_pairs(r)) for r in range(W.WORLD)]
        rows = {k: torch.cat([b[k] for b in ranked]) for k in ("mel", "input_ids", "attention_mask", "track_idx")}
        model.enqueue(model._audio(rows["mel"], True), model._text(rows["input_ids"], rows["attention_mask"], True),
                      rows["track_idx"])
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}
    opt.step()
    res = W.snapshot(model)
    res["grads"], res["losses"], res["single_forward_loss"] = grads, losses, single
    res["trainable"] = [k for k, p in model.named_parameters() if p.requires_grad]
    return res


def test_two_process_step_matches_one_process(tmp_path):
    """Two gloo processes under torch.distributed.run, 3 pairs each, against one process on
    the same 6 pairs (see :func:`_reference`): equal losses per rank, gradients within
    ``GRAD_RTOL`` of the largest gradient entry of each tensor, equal queues and lookup
    tables, and parameters after one Adam step within 1e-6 (Adam's first step is ±lr where
    a gradient entry is not tiny). Batch norm, dropout and drop path are in eval mode
    (batch norm's batch statistics are per rank by design; dropout draws per rank)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={W.WORLD}",
           str(ROOT / "tests" / "_larp_ddp.py"), str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        ref = _reference()  # meanwhile
        t1 = time.perf_counter()
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-5000:]
    print(f"2 processes and the 1-process reference side by side: {time.perf_counter() - t0:.1f} s "
          f"(reference done after {t1 - t0:.1f} s)")
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(W.WORLD)]

    for r in range(W.WORLD):
        for k, v in ref["losses"][r].items():
            assert ranks[r]["loss"][k] == pytest.approx(v, rel=1e-5), (r, k)
    ddp_loss = sum(rk["loss"]["loss"] for rk in ranks) / W.WORLD
    assert abs(ddp_loss - ref["single_forward_loss"]) > 1e-3  # per-rank negatives: not the one-forward loss

    assert set(ranks[0]["grads"]) == set(ref["grads"]) == set(ref["trainable"])
    worst, worst_abs, zero = 0.0, 0.0, []
    for k, g in ref["grads"].items():
        assert torch.equal(ranks[0]["grads"][k], ranks[1]["grads"][k]), k  # all-reduced: identical on every rank
        scale = float(g.abs().max())
        diff = float((ranks[0]["grads"][k] - g).abs().max())
        assert diff <= GRAD_RTOL * scale + GRAD_ATOL, (k, diff, scale)
        worst_abs = max(worst_abs, diff)
        if scale > 1e3 * GRAD_ATOL:
            worst = max(worst, diff / scale)
        else:  # e.g. attention key biases: their gradient is 0 up to rounding
            zero.append(k)
    print(f"2 processes vs 1: max |dg| / max|g| = {worst:.1e} over {len(ref['grads']) - len(zero)} tensors; "
          f"max |dg| = {worst_abs:.1e}; {len(zero)} tensors with max|g| <= {1e3 * GRAD_ATOL:.0e}")
    for k in ("audio_queue", "text_queue", "audio_table", "text_table"):
        for r in range(W.WORLD):
            torch.testing.assert_close(ranks[r]["buffers"][k], ref["buffers"][k], rtol=1e-5, atol=1e-6)
    for k in ("idx_queue", "queue_ptr"):
        for r in range(W.WORLD):
            assert torch.equal(ranks[r]["buffers"][k], ref["buffers"][k]), k
    for k, p in ref["params"].items():
        assert torch.equal(ranks[0]["params"][k], ranks[1]["params"][k]), k
        if k not in ref["grads"]:
            assert torch.equal(ranks[0]["params"][k], p), k  # frozen: untouched
            continue
        # Adam's first step is lr * g / (|g| + eps): ±lr wherever |g| >> eps, so it is pinned
        # down only where the gradient's sign is (|g| above the verified tolerance); e.g. the
        # key biases of attention get a gradient that is 0 up to rounding, and Adam turns
        # rounding noise into steps of up to lr there
        g = ref["grads"][k]
        sure = g.abs() > GRAD_RTOL * float(g.abs().max()) + GRAD_ATOL
        torch.testing.assert_close(ranks[0]["params"][k][sure], p[sure], rtol=0, atol=1e-6, msg=k)
        assert float((ranks[0]["params"][k] - p).abs().max()) <= 2 * W.LR * 1.0001, k


def test_bf16_autocast_training_step_on_cpu():
    """``precision="bf16"`` on CPU: the trainer's step runs the towers under bfloat16 autocast
    (their linear layers output bfloat16), the losses are computed in float32 and finite,
    and the float32 parameters receive finite gradients and move."""
    from encoders._larp.train import amp_dtype, train_step

    assert amp_dtype("bf16", "cpu") is torch.bfloat16 and amp_dtype("auto", "cuda") is torch.bfloat16
    assert amp_dtype("auto", "cpu") is None and amp_dtype("fp32", "cuda") is None
    cfg = {**W.config(), "precision": "bf16"}
    model = W.build_model(cfg).train()
    seen: dict[str, torch.dtype] = {}

    def record(name):
        def hook(module, inputs, output):
            seen.setdefault(name, output.dtype)
        return hook

    hooks = [mod.register_forward_hook(record(name))
             for name, mod in (("audio_proj", model.audio_proj), ("text_proj", model.text_proj),
                               ("audio_qkv", model.audio_encoder.layers[0].blocks[0].attn.qkv),
                               ("text_query", model.text_encoder.encoder.layer[0].attention.self.query))]
    before = {k: p.detach().clone() for k, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.Adam(list(model.trainable_parameters(3)), lr=W.LR)
    out = train_step(model, model, opt, None, W.batch_of(model, W.PAIRS), 3, W.ALPHA,
                     amp=amp_dtype(cfg["precision"], "cpu"))
    for h in hooks:
        h.remove()
    assert seen == dict.fromkeys(("audio_proj", "text_proj", "audio_qkv", "text_query"), torch.bfloat16)
    assert all(v.dtype == torch.float32 and bool(torch.isfinite(v)) for v in out.values()), out
    assert set(out) == {"wtc", "ttc", "tpc", "loss"}
    for k, p in model.named_parameters():
        if k in before:
            assert p.dtype == torch.float32 and p.grad is not None and bool(torch.isfinite(p.grad).all()), k
    moved = [k for k, p in model.named_parameters() if k in before and not torch.equal(p.detach(), before[k])]
    assert len(moved) > 0.9 * len(before)
