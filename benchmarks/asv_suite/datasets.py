"""Dataset build throughput: the synthetic ``mpd`` preset at size ``tiny`` (audio rendered
and written as FLAC, metadata, manifest), clips per second of wall time."""

import tempfile
from pathlib import Path

from benchmark.harness.throughput import build_synth


class SynthBuild:
    timeout = 1200
    processes = 1
    unit = "clips/s"

    def setup_cache(self):
        with tempfile.TemporaryDirectory(prefix="asv-synth-") as tmp:
            return build_synth(Path(tmp) / "synth-mpd-tiny", "mpd", "tiny")

    def track_clips_per_s(self, result):
        return result["clips_per_s"]
