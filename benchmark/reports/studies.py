"""Render a declared study's outputs (tables, figures) from result records."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.core.study import Output, Study


def renderer(output: Output) -> Callable[..., Any]:
    """The function an output names (``"benchmark.reports.<module>:<function>"``)."""
    module, _, function = output.renderer.partition(":")
    if not module.startswith("benchmark.reports.") or not function:
        raise ValueError(f"renderer {output.renderer!r}: expected 'benchmark.reports.<module>:<function>'")
    return getattr(importlib.import_module(module), function)


def render_study(study: Study, profile: str, results_dir: str | Path = "results") -> list[tuple[Path, str]]:
    """Render every output of ``study`` into ``<results_dir>/<profile>/``; returns (file, text)."""
    out = []
    for output in study.outputs:
        path = Path(results_dir) / profile / output.file
        out.append((path, renderer(output)(Path(results_dir), profile, path)))
    return out
