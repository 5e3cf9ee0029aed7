"""Embedding throughput of every encoder at its ``quick`` configuration (the default profile;
``LARPBENCH_ASV_PROFILE=ci`` for the smaller models), on CPU.

Each encoder is measured once, in its own process (``setup_cache`` calls
:func:`benchmark.harness.throughput.measure_encoder_isolated`, the function the throughput
study records): trained one step at most on 24 generated clips of 10 s at 16 kHz, then

- ``frontend``: decode + resample + features alone (:meth:`Encoder.embed_stages`);
- ``forward``: the model alone on the front end's precomputed features;
- ``embed``: the whole ``embed()`` on the same clips.

Encoders that cannot be split (text, external, precomputed) report ``embed`` only (the
others give NaN there, which asv shows as failed/absent). ``EncodersQuick`` is melstats alone.
"""

import math
import os
import tempfile

from benchmark.harness.throughput import measure_encoder_isolated, profile_encoders

PROFILE = os.environ.get("LARPBENCH_ASV_PROFILE", "quick")


class Encoders:
    params = profile_encoders(PROFILE)  # oracles excepted: they read ground truth, nothing to time
    param_names = ["encoder"]
    timeout = 1800
    processes = 1
    unit = "clips/s"

    def setup_cache(self):
        out = {}
        with tempfile.TemporaryDirectory(prefix="asv-encoders-") as tmp:
            for name in self.params:
                out[name] = measure_encoder_isolated(name, PROFILE, tmp)
        return out

    def setup(self, cache, name):
        if cache[name].get("status") != "ok":
            raise NotImplementedError(cache[name].get("reason", "unavailable"))  # asv: skipped

    def _rate(self, cache, name, key):
        m = cache[name]
        return m["clips"] / m[key] if key in m else math.nan

    def track_embed_clips_per_s(self, cache, name):
        """Whole ``embed()``: clips per second."""
        return self._rate(cache, name, "embed_s")

    def track_frontend_clips_per_s(self, cache, name):
        """Front end alone (decode + resample + features): clips per second."""
        return self._rate(cache, name, "frontend_s")

    def track_forward_clips_per_s(self, cache, name):
        """Model forward alone on precomputed features: clips per second."""
        return self._rate(cache, name, "forward_s")

    def track_embed_over_stages(self, cache, name):
        """embed time / (front end + forward time): 1 when the pipeline adds nothing."""
        return cache[name].get("embed_over_stages", math.nan)

    track_embed_over_stages.unit = "ratio"

    def track_peak_rss_mib(self, cache, name):
        """Peak resident memory of the measuring process."""
        return cache[name]["peak_rss_mib"]

    track_peak_rss_mib.unit = "MiB"


class EncodersQuick(Encoders):
    params = ["melstats"]
