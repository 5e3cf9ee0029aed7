"""benchmark.core.runtime / training / atomic / checkpoint: the one home of shared mechanics.

The schedule tests compare against verbatim copies of the formulas this module replaced
(LARP's ``cosine_with_warmup`` and the baselines' ``lr_at``): the merged one must give the
same floats, bit for bit.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmark.core import runtime
from benchmark.core.training import lr_at, lr_lambda


# --------------------------------------------------------------------------- import cost
def test_core_imports_without_torch():
    code = ("import sys; import benchmark.core.runtime, benchmark.core.training, benchmark.core.atomic, "
            "benchmark.core.checkpoint, benchmark.core.dataset; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- hub
def test_hub_offline_sets_defaults_and_respects_user(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert runtime.hub_offline() is True
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    assert runtime.hub_offline() is False
    assert os.environ["HF_HUB_OFFLINE"] == "0"


def test_cpu_count_positive():
    assert runtime.cpu_count() >= 1


def test_is_dataset_dir(tmp_path):
    from benchmark.core.dataset import MANIFEST, is_dataset_dir

    assert not is_dataset_dir(tmp_path) and not is_dataset_dir(tmp_path / "nope")
    (tmp_path / MANIFEST).mkdir()
    assert not is_dataset_dir(tmp_path)  # a folder of that name is not a manifest
    (tmp_path / MANIFEST).rmdir()
    (tmp_path / MANIFEST).write_text("{}")
    assert is_dataset_dir(tmp_path) and is_dataset_dir(str(tmp_path))


# --------------------------------------------------------------------------- torch parts
torch = pytest.importorskip("torch")


def test_pick_device():
    assert runtime.pick_device("cpu").type == "cpu"
    assert runtime.pick_device(None).type in ("cpu", "cuda")
    assert runtime.pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert runtime.pick_device(torch.device("cpu")).type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(runtime.DeviceUnavailable, match="CUDA is not available"):
            runtime.pick_device("cuda:0")


def test_torch_threads_all_and_keep():
    before = torch.get_num_threads()
    with runtime.torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with runtime.torch_threads(None) as n:  # default: all CPUs of the process
        assert n == runtime.cpu_count() == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with runtime.torch_threads(None, unset="keep") as n:  # recommenders: leave it alone
        assert n is None and torch.get_num_threads() == before
    with pytest.raises(ValueError):
        with runtime.torch_threads(1, unset="bogus"):
            pass


def _old_encoder_seeded_draw(seed: int) -> torch.Tensor:
    """The former ``encoders._audio.seeded`` (fork CPU RNG, manual_seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return torch.randn(7)


def _old_recommender_seeded_draw(seed: int) -> torch.Tensor:
    """The former ``recommenders._torch.seeded(seed, cpu)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.randn(7)


def test_seeded_both_call_styles_same_stream_and_restore():
    torch.manual_seed(123)
    outside = torch.rand(3)
    torch.manual_seed(123)
    with runtime.seeded(5):
        a = torch.randn(7)
    with runtime.seeded(5, torch.device("cpu")):
        b = torch.randn(7)
    with runtime.seeded(5, "cpu"):
        c = torch.randn(7)
    with runtime.seeded(5, devices=[]):
        d = torch.randn(7)
    assert torch.equal(torch.rand(3), outside)  # the caller's stream is untouched
    assert torch.equal(a, _old_encoder_seeded_draw(5))
    assert torch.equal(b, _old_recommender_seeded_draw(5))
    assert torch.equal(a, b) and torch.equal(a, c) and torch.equal(a, d)
    with runtime.seeded(6):
        assert not torch.equal(torch.randn(7), a)
    assert not torch.are_deterministic_algorithms_enabled()  # CPU: left alone


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_seeded_cuda_matches_former_recommender_version():
    dev = torch.device("cuda:0")

    def old(seed):  # the former recommenders._torch.seeded(seed, cuda) body
        prev = torch.are_deterministic_algorithms_enabled()
        with torch.random.fork_rng(devices=[dev.index or 0]):
            torch.manual_seed(seed)
            torch.use_deterministic_algorithms(True, warn_only=True)
            try:
                return torch.randn(5, device=dev).cpu(), torch.randn(3).clone()
            finally:
                torch.use_deterministic_algorithms(prev, warn_only=False)

    before = torch.cuda.get_rng_state(dev)
    with runtime.seeded(9, dev):
        assert torch.are_deterministic_algorithms_enabled()
        got = torch.randn(5, device=dev).cpu(), torch.randn(3).clone()
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.cuda.get_rng_state(dev), before)
    want = old(9)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    with pytest.raises(runtime.DeviceUnavailable):
        runtime.pick_device(f"cuda:{torch.cuda.device_count()}")


def test_seed_everything_matches_former_formula():
    import random

    runtime.seed_everything(11)
    got = (random.random(), np.random.random(), torch.rand(2))  # noqa: NPY002
    random.seed(11)
    np.random.seed(11 % (2**32))  # noqa: NPY002
    torch.manual_seed(11)
    want = (random.random(), np.random.random(), torch.rand(2))  # noqa: NPY002
    assert got[0] == want[0] and got[1] == want[1] and torch.equal(got[2], want[2])


# --------------------------------------------------------------------------- LR schedule
def _old_larp_cosine_with_warmup(warmup, total):
    """Verbatim copy of encoders/_larp/train.py: cosine_with_warmup (before the merge)."""
    warmup = max(0, int(warmup))
    total = max(1, int(total))

    def f(step):
        if step < warmup:
            return (step + 1) / warmup
        span = max(1, total - warmup)
        e = min(step - warmup, span)
        return 0.5 * (1.0 + math.cos(math.pi * e / span))

    return f


def _old_baselines_lr_at(step, *, base_lr, total, warmup, schedule, milestones=(), gamma=0.1):
    """Verbatim copy of encoders/_baselines/train.py: lr_at (before the merge)."""
    if warmup > 0 and step < warmup:
        return base_lr * (step + 1) / warmup
    if schedule == "cosine":
        e, es = step - warmup, max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(e, es) / es)) * base_lr
    if schedule == "constant":
        return base_lr
    if schedule == "multistep":
        k = sum(1 for m in milestones if step >= int(m * total))
        return base_lr * gamma**k
    raise ValueError(schedule)


CASES = [(0, 1), (0, 10), (1, 1), (3, 10), (10, 100), (7, 7), (9, 5), (100, 1000), (3200, 40000), (0, 0),
         (5, 0), (-2, 10)]


@pytest.mark.parametrize(("warmup", "total"), CASES)
def test_lr_lambda_bit_identical_to_larp(warmup, total):
    old, new = _old_larp_cosine_with_warmup(warmup, total), lr_lambda(warmup, total)
    steps = {0, 1, 2, warmup - 1, warmup, warmup + 1, total // 2, total - 1, total, total + 1, total + 50,
             *range(0, max(total, 1) + 3, max(1, total // 37))}
    for step in sorted(s for s in steps if s >= 0):
        a, b = old(step), new(step)
        assert a == b and math.copysign(1, a) == math.copysign(1, b), (warmup, total, step, a, b)


@pytest.mark.parametrize(("warmup", "total"), [c for c in CASES if c[1] >= 1] + [(-1, 10)])
@pytest.mark.parametrize("base_lr", [1.0, 1e-4, 5e-4, 2e-3, 0.005, 0.1])
@pytest.mark.parametrize("schedule", ["cosine", "constant", "multistep"])
def test_lr_at_bit_identical_to_baselines(warmup, total, base_lr, schedule):
    kw = dict(base_lr=base_lr, total=total, warmup=warmup, schedule=schedule,
              milestones=[1 / 3, 1 / 2], gamma=0.7)
    for step in range(0, total + 3, max(1, total // 53)):
        assert lr_at(step, **kw) == _old_baselines_lr_at(step, **kw), (step, kw)


def test_lr_at_rejects_unknown_schedule():
    with pytest.raises(ValueError, match="unknown lr schedule"):
        lr_at(5, total=10, schedule="linear")
    with pytest.raises(ValueError, match="unknown lr schedule"):
        lr_lambda(1, 10, schedule="linear")


def test_lr_lambda_drives_lambdalr_like_before():
    p = torch.nn.Parameter(torch.zeros(1))
    lrs = {}
    for name, fn in (("old", _old_larp_cosine_with_warmup(3, 20)), ("new", lr_lambda(3, 20))):
        opt = torch.optim.AdamW([p], lr=1e-3)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, fn)
        seq = []
        for _ in range(25):
            seq.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        lrs[name] = seq
        assert sched.state_dict()["lr_lambdas"] == [None]  # a plain function, as before
    assert lrs["old"] == lrs["new"]


# --------------------------------------------------------------------------- epoch loop
def test_train_with_selection_keeps_best_epoch():
    from benchmark.core.training import state_copy, train_with_selection

    module = torch.nn.Linear(2, 1)
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.9])
    weights = []

    def run_epoch(epoch):
        with torch.no_grad():
            module.weight.fill_(float(epoch))
        weights.append(state_copy(module))
        return 1.0 / epoch

    rep = train_with_selection(recommender=None, module=module, run_epoch=run_epoch, prepare_eval=lambda: None,
                               validator=lambda _: next(scores), epochs=5, patience=2)
    assert rep["best_epoch"] == 2 and rep["epochs_run"] == 4 and rep["stopped_early"]
    assert rep["valid_scores"] == [0.1, 0.5, 0.3, 0.2]
    assert torch.equal(module.weight, weights[1]["weight"])
    rep = train_with_selection(recommender=None, module=module, run_epoch=run_epoch, prepare_eval=lambda: None,
                               validator=None, epochs=2, patience=None)
    assert rep["best_epoch"] == 2 and rep["selection"] == "last_epoch"


# --------------------------------------------------------------------------- atomic writes
def test_atomic_writes(tmp_path):
    from benchmark.core import atomic

    p = tmp_path / "sub" / "a.txt"
    atomic.atomic_write_text(p, "héllo\r\n")
    assert p.read_bytes() == "héllo\r\n".encode()
    assert (p.stat().st_mode & 0o777) == 0o644
    atomic.atomic_write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    atomic.atomic_write_json(tmp_path / "b.json", {"z": 1, "a": [1, 2]})
    assert (tmp_path / "b.json").read_text() == '{\n "a": [\n  1,\n  2\n ],\n "z": 1\n}\n'
    # the dataset module's name still works (same function)
    from benchmark.core.dataset import atomic_write_text

    assert atomic_write_text is atomic.atomic_write_text
    assert sorted(x.name for x in tmp_path.rglob("*")) == ["a.txt", "b.json", "sub"]


def test_atomic_path_failure_keeps_old_file(tmp_path):
    from benchmark.core.atomic import atomic_path

    p = tmp_path / "x.bin"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert p.read_bytes() == b"old"
    assert [x.name for x in tmp_path.iterdir()] == ["x.bin"]


def test_save_safetensors_numpy_and_torch(tmp_path):
    from safetensors import safe_open

    from benchmark.core.atomic import save_safetensors

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_safetensors(tmp_path / "n.safetensors", {"e": x.T}, {"k": "v"})  # non-contiguous is fine
    with safe_open(str(tmp_path / "n.safetensors"), framework="numpy") as f:
        assert f.metadata() == {"k": "v"}
        np.testing.assert_array_equal(f.get_tensor("e"), x.T)
    w = torch.randn(4, 3)
    shared = {"a": w, "b": w, "c": w[1:], "empty": torch.zeros(0)}  # shared storage is cloned
    save_safetensors(tmp_path / "t.safetensors", shared)
    with safe_open(str(tmp_path / "t.safetensors"), framework="pt") as f:
        assert torch.equal(f.get_tensor("b"), w) and torch.equal(f.get_tensor("c"), w[1:])


# --------------------------------------------------------------------------- checkpoints
def test_load_matching_finds_prefix_and_reports(tmp_path):
    from benchmark.core.checkpoint import CheckpointError, load_matching, read_state_dict

    torch.manual_seed(0)
    src = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ckpt = {"state_dict": {f"module.net.{k}": v for k, v in src.state_dict().items()}, "epoch": 3}
    ckpt["state_dict"]["module.net.1.weight"] = torch.zeros(5, 5)  # wrong shape
    ckpt["state_dict"]["module.head.x"] = torch.zeros(1)
    torch.save(ckpt, tmp_path / "c.pt")
    assert set(read_state_dict(tmp_path / "c.pt")) == set(ckpt["state_dict"])
    dst = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    rep = load_matching(dst, tmp_path / "c.pt")
    assert rep.prefix == "module.net."
    assert rep.loaded == ["0.bias", "0.weight", "1.bias"] and rep.missing == [] and not rep.complete
    assert rep.mismatched == [("1.weight", (5, 5), (2, 4))] and rep.ignored == 1
    assert torch.equal(dst[0].weight, src[0].weight)
    with pytest.raises(CheckpointError, match="strict"):
        load_matching(dst, tmp_path / "c.pt", strict=True)
    with pytest.raises(CheckpointError, match="no checkpoint tensor matches"):
        load_matching(torch.nn.Conv1d(1, 1, 1), tmp_path / "c.pt")
    torch.save({"obj": object.__new__(_Pickled)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        read_state_dict(tmp_path / "evil.pt")


class _Pickled:
    pass
