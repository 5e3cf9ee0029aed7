"""Where and how things run: CPUs, devices, threads, seeding and the model hub.

One home for the run-time mechanics that encoders, recommenders, the harness and the CLI
all need:

* :func:`cpu_count` — CPUs this process may run on.
* :func:`pick_device` — ``"auto"``/``"cpu"``/``"cuda[:N]"``/``"mps"`` -> ``torch.device``;
  raises :class:`DeviceUnavailable` when an explicitly requested accelerator is absent.
* :func:`torch_threads` — a block with ``torch.set_num_threads(n)``, restored afterwards.
* :func:`seeded` — a block with torch's RNG forked and seeded (weights that depend only on
  the seed, the caller's RNG untouched); :func:`seed_everything` — global seeding of
  Python's, NumPy's and torch's RNGs for training loops.
* :func:`hub_offline` — ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` default to ``1`` (no
  network at run time); returns whether the hub is to be treated as offline.

torch is imported inside the functions that need it, so importing this module is cheap
and does not import torch.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DeviceUnavailable",
    "cpu_count",
    "cpu_set",
    "hub_offline",
    "pick_device",
    "seed_everything",
    "seeded",
    "torch_threads",
]

_FALSE = {"0", "false", "no", "off", ""}


class DeviceUnavailable(RuntimeError):
    """An explicitly requested accelerator (``cuda``, ``cuda:N``, ``mps``) is not present."""


# --------------------------------------------------------------------------- machine
def cpu_set() -> set[int]:
    """The CPUs this process may run on (respects affinity masks and cgroup-pinned sets)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return set(range(os.cpu_count() or 1))


def cpu_count() -> int:
    """How many CPUs this process may run on (:func:`cpu_set`)."""
    return max(1, len(cpu_set()))


def pick_device(preference: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device: ``"auto"`` (or ``None``: CUDA when available, else CPU), ``"cpu"``,
    ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a ``torch.device``.

    Raises :class:`DeviceUnavailable` when an explicitly requested accelerator is not present
    (rather than failing later at the first tensor moved there).
    """
    import torch

    pref = (str(preference) if preference is not None else "auto").strip().lower()
    if pref == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(pref)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"device {preference!r} requested but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"device {preference!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise DeviceUnavailable(f"device {preference!r} requested but MPS is not available")
    return dev


@contextlib.contextmanager
def torch_threads(n: int | None, *, unset: str = "all") -> Iterator[int | None]:
    """Run a block with ``torch.set_num_threads(n)`` and restore the previous value.

    ``n=None`` or ``n<=0`` ("unset") means, with ``unset="all"`` (the default), all CPUs this
    process may use (:func:`cpu_count`); with ``unset="keep"``, leave the setting alone.
    Yields the number of threads in force (``None`` when the setting was left alone).
    """
    if unset not in ("all", "keep"):
        raise ValueError(f"unset must be 'all' or 'keep', not {unset!r}")
    if (not n or n <= 0) and unset == "keep":
        yield None
        return
    import torch

    want = cpu_count() if not n or n <= 0 else int(n)
    before = torch.get_num_threads()
    if want != before:
        torch.set_num_threads(want)
    try:
        yield want
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


# --------------------------------------------------------------------------- seeding
@contextlib.contextmanager
def seeded(seed: int, device: str | torch.device | None = None, *,
           devices: Sequence[Any] = ()) -> Iterator[None]:
    """Fork torch's CPU RNG (and the listed CUDA devices'), seed it with ``seed``, run the
    block, restore the caller's RNG state.

    Use it around model construction so that weights depend only on ``seed``::

        with seeded(cfg["seed"]):
            model = build_model()

    With a CUDA ``device`` (the trained recommenders' call style ``seeded(seed, device)``)
    that device's RNG is forked too and deterministic algorithms are switched on (warn-only)
    for the block — embedding-gradient scatter uses atomics otherwise — and restored after.
    On the CPU they are not: the kernels used are deterministic there already, and
    ``torch.use_deterministic_algorithms`` costs a ~4 s one-time import of ``torch._dynamo``.
    ``torch.manual_seed`` seeds every device, so the draws inside the block are the same
    with either call style.
    """
    import torch

    cuda = device is not None and torch.device(device).type == "cuda"
    fork = list(devices)
    if cuda:
        fork = [torch.device(device).index or 0]
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        prev_det = torch.are_deterministic_algorithms_enabled()
        prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(int(seed))
        if cuda:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            if cuda:
                torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's, NumPy's and torch's global RNGs (all CUDA devices too).

    ``deterministic=True`` also asks torch for deterministic kernels (slower on GPU;
    ops without a deterministic implementation then warn instead of failing).
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - seeds legacy global users too
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if hasattr(torch.backends, "cudnn"):
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True


# --------------------------------------------------------------------------- model hub
def hub_offline() -> bool:
    """Set ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` to 1 unless already set; return
    whether the hub is to be treated as offline.

    Call it before anything imports ``huggingface_hub``/``transformers``/``laion_clap``
    (they read the variables once, and ``laion_clap`` contacts the hub at import). Set
    ``HF_HUB_OFFLINE=0`` to allow downloads.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return os.environ["HF_HUB_OFFLINE"].strip().lower() not in _FALSE
