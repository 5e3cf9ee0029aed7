"""Training throughput: LARP samples/s per stage (``ci`` model config ``cpu-tiny``, one
epoch each on generated clips) and the fit time of the trained recommenders (DropoutNet,
CLCRec) on a small synthetic world (600 training tracks, 64-d content)."""

import tempfile

from benchmark.harness.throughput import RECOMMENDER_SCALE, larp_training, synthetic_world
from recommenders import REGISTRY


class LarpTraining:
    params = [1, 2, 3]
    param_names = ["stage"]
    timeout = 1800
    processes = 1
    unit = "samples/s"

    def setup_cache(self):
        with tempfile.TemporaryDirectory(prefix="asv-larp-") as tmp:
            return larp_training("ci", tmp)

    def track_samples_per_s(self, stages, stage):
        """Training samples (tracks in stage 1, pairs in 2-3) per second of stage wall time."""
        return stages[stage]["samples_per_s"]


class RecommenderFit:
    params = [n for n in REGISTRY.names() if REGISTRY.get(n).meta.trains]
    param_names = ["recommender"]
    processes = 1
    repeat = (1, 2, 60.0)
    number = 1
    warmup_time = 0
    timeout = 600

    def setup(self, name):
        from benchmark.core.evaluation import make_validator

        self.train, valid, cv = synthetic_world(**RECOMMENDER_SCALE["ci"])
        self.validator = make_validator(valid, cv)
        self.cls = REGISTRY.get(name)

    def time_fit(self, name):
        """``fit`` at the ci config (model selection by the validator included)."""
        self.cls.from_profile("ci").fit(self.train, seed=0, validator=self.validator)


class RecommenderFitQuickScale(RecommenderFit):
    """The same at the ``quick`` scale and config (~3,000 training tracks, 256-d content)."""

    repeat = (1, 1, 60.0)

    def setup(self, name):
        from benchmark.core.evaluation import make_validator

        self.train, valid, cv = synthetic_world()
        self.validator = make_validator(valid, cv)
        self.cls = REGISTRY.get(name)

    def time_fit(self, name):
        """``fit`` at the quick config."""
        self.cls.from_profile("quick").fit(self.train, seed=0, validator=self.validator)
