"""``essentia-descriptors`` gives the same bytes whatever code paths the CPU dispatch picks
(issue #18, defect 5).

Each setting runs the encoder (``fit`` on the pre-training pool, then ``embed``) in a fresh
process with the run-time dispatch of every library on its path pushed somewhere else:
numpy's SIMD loops (``NPY_DISABLE_CPU_FEATURES``), glibc's libm variants (the FMA/AVX2
``exp``/``log``/``pow``/``sin``... chosen through ``GLIBC_TUNABLES``), OpenBLAS's kernels
(``OPENBLAS_CORETYPE``) and ATen's (``ATEN_CPU_CAPABILITY``). The pool statistics (a
function of every pool clip's descriptors) and the standardised embeddings must be
byte-identical to the default run's. The FFT inside essentia is its statically linked
FFTW 3.3.2 (SSE2 codelets only, evidently planned with ``FFTW_ESTIMATE``): no run-time
dispatch beyond SSE2 and no timing-dependent plans. See docs/baselines.md.

x86-64 only (the settings are x86-64 ones); the test checks that numpy's setting took
effect, and glibc ignores tunables it does not know.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from .conftest import ROOT

pytest.importorskip("essentia")

SCRIPT = r"""
import hashlib, json, sys, tempfile
import numpy as np
from benchmark.core.dataset import Dataset
from encoders.essentia_descriptors import EssentiaDescriptorsEncoder

ds = Dataset(sys.argv[1])
enc = EssentiaDescriptorsEncoder({"workers": int(sys.argv[2])})
with tempfile.TemporaryDirectory() as wd:
    enc.fit(ds, seed=0, workdir=wd)
ids = ds.track_ids("train")[:16]
emb = enc.embed(ds, ids)
try:
    from numpy._core import _multiarray_umath as mu
except ImportError:  # numpy < 2
    from numpy.core import _multiarray_umath as mu
simd = sorted(f for f in mu.__cpu_dispatch__ if mu.__cpu_features__.get(f))
h = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
print(json.dumps({"mean": h(enc.mean), "std": h(enc.std), "embeddings": h(emb),
                  "shape": list(emb.shape), "simd": simd}))
"""


def _numpy_dispatch() -> list[str]:
    """numpy's dispatched (non-baseline) CPU features that this CPU has."""

    try:
        from numpy._core import _multiarray_umath as mu
    except ImportError:  # numpy < 2
        from numpy.core import _multiarray_umath as mu
    return [f for f in mu.__cpu_dispatch__ if mu.__cpu_features__.get(f)]


def _settings() -> dict[str, dict[str, str]]:
    feats = _numpy_dispatch()
    settings = {
        # the oldest x86-64 code paths: numpy's baseline loops, glibc's SSE2 libm, OpenBLAS's
        # Prescott kernels (any x86-64 CPU runs them), ATen's default (non-vectorised) kernels
        "baseline-isa": {"NPY_DISABLE_CPU_FEATURES": " ".join(feats),
                         "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-AVX",
                         "OPENBLAS_CORETYPE": "Prescott", "ATEN_CPU_CAPABILITY": "default"},
    }
    if "AVX2" in feats and any(f.startswith("AVX512") for f in feats):
        # an AVX2 machine's paths on an AVX-512 one (also 2 worker processes: the chunking
        # of the clips over processes must not matter either)
        settings["avx2"] = {"NPY_DISABLE_CPU_FEATURES": " ".join(f for f in feats if f.startswith("AVX512")),
                            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F",
                            "OPENBLAS_CORETYPE": "Haswell", "ATEN_CPU_CAPABILITY": "avx2", "WORKERS": "2"}
    return settings


def _run(root: str, env: dict[str, str]) -> subprocess.Popen[str]:
    env = dict(env)
    workers = env.pop("WORKERS", "1")
    full = {k: v for k, v in os.environ.items()
            if k not in ("NPY_DISABLE_CPU_FEATURES", "GLIBC_TUNABLES", "OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY")}
    full.update({"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env})
    return subprocess.Popen([sys.executable, "-c", SCRIPT, root, workers], env=full, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="the dispatch settings varied here are x86-64 ones")
def test_essentia_descriptors_are_byte_identical_across_cpu_dispatch(tiny_dataset):
    runs = {"default": {}, **_settings()}
    procs = {name: _run(str(tiny_dataset.root), env) for name, env in runs.items()}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, f"{name}: {stderr[-3000:]}"
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    assert out["baseline-isa"]["simd"] == [], "NPY_DISABLE_CPU_FEATURES did not take effect"
    simd = {name: got.pop("simd") for name, got in out.items()}
    ref = out["default"]
    assert ref["shape"][0] == 16
    for name, got in out.items():
        assert got == ref, f"{name} (numpy SIMD {simd[name]}) differs from the default: {got} != {ref}"
