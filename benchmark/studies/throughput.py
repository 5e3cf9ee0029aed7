"""Throughput: parameters, embedding dimension, clips/s and peak memory of every encoder,
fit and scoring time of every recommender, on this machine's CPU (docs/throughput.md)."""

from __future__ import annotations

from benchmark.core.study import Output, Study

STUDIES = [
    Study(
        name="throughput", title="Throughput of encoders and recommenders (CPU)",
        measure="benchmark.harness.throughput:measure",
        outputs=(Output("throughput.md", "benchmark.reports.throughput:write_throughput"),),
        description="Each encoder of the profile at its configuration, trained one step at most, "
                    "embeds 24 generated 10 s clips in a fresh process (front end, forward and "
                    "embed() timed apart); each recommender fits and ranks a synthetic world; "
                    "ItemKNN scoring + top-40 at 1,000 × 100,000 × 256 beside the product alone.",
        tags=("throughput",)),
]
