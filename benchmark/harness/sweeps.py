"""Experiments beyond a plain grid: Figure 4's ``n_seed`` sweep (a variant axis of the
grid) and the LARP stage logs turned into ``training_log`` records for Figure 5."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.core.results import SCHEMA, iter_records, variant_label, write_record
from benchmark.harness.grid import GridConfig, GridRunner

FIGURE4_N_SEEDS: tuple[int, ...] = (1, 5, 10, 20, 30)


def figure4_sweep(dataset: str = "synth-mpd", profile: str = "quick",
                  n_seeds: Sequence[int] = FIGURE4_N_SEEDS, seed: int = 0,
                  results_dir: str | Path = "results", overrides: dict[str, Any] | None = None,
                  encoder: str = "larp", progress: bool = True) -> list[Path]:
    """LARP with the TPC fusion's ``n_seed`` ∈ ``n_seeds`` (paper §5.4) on ``dataset``, each
    an ordinary grid cell with the variant ``n_seed=<n>`` (ItemKNN, test split). Stages 1
    and 2 do not depend on ``n_seed`` and are trained once; finished cells are kept."""
    runner = GridRunner(GridConfig(
        profile=profile, datasets=[dataset], encoders=[encoder], recommenders=["itemknn"], seeds=[seed],
        variants=[variant_label({"n_seed": int(n)}) for n in n_seeds], results_dir=Path(results_dir),
        encoder_overrides={encoder: dict(overrides or {})}, progress=progress, fail_fast=True))
    return [runner.run_cell(cell)[1] for cell in runner.cells()]


def collect_logs(src: str | Path, results_dir: str | Path, profile: str, model_config: str) -> list[Path]:
    """Turn the LARP stage logs of the cache (``<src>/<stage folder>/log.jsonl``) whose runs
    used ``model_config`` into ``training_log`` records at
    ``<results_dir>/<profile>/training/<stage folder>.json``, so Figure 5 can be drawn from
    committed records; returns the record files of that folder. A record already there is
    replaced only by a longer log (a resumed stage)."""
    src = Path(src)
    dest = Path(results_dir) / profile / "training"
    have = {r.identity.get("run"): len(r["epochs"])
            for r in iter_records(results_dir, profile, kinds=("training_log",))}
    for log in sorted(src.glob("*/log.jsonl")) if src.is_dir() else []:
        epochs = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if x.strip()]
        if not epochs or epochs[0].get("model_config") != model_config:
            continue
        run = log.parent.name
        if have.get(run, -1) >= len(epochs):
            continue
        write_record(dest / f"{run}.json", {
            "schema": SCHEMA, "kind": "training_log", "status": "ok",
            "cell": {"profile": profile, "encoder": "larp", "run": run, "model_config": model_config},
            "epochs": epochs})
    return sorted(dest.glob("*.json")) if dest.is_dir() else []
