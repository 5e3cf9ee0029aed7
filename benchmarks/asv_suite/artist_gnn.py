"""Artist-relationship GNN cost (docs/artist-gnn.md): one feature set × the five layer counts
(0-4) × one seed, trained and scored as the study does (training graph, selection on valid,
test NDCG@200), on a scene-clustered random graph with the shape of a generated world:
``ci`` (666 artists, mean degree ≈ 4) and ``artists`` (3,438 artists, mean degree ≈ 66, the
size the quick study runs at). Features: 128-d, scene signal plus noise. Wall time (asv's
``time_``) and CPU time (``track_``, ``time.process_time``) of the five runs together."""

import time

from benchmark.core.artist_gnn import GNNConfig, TaskGraphs, train_and_evaluate
from benchmark.core.artist_graph import split_artists
from benchmark.harness.throughput import ARTIST_SHAPES, artist_scene_world


class ArtistGNNFeatureSet:
    params = ["ci", "artists"]
    param_names = ["size"]
    processes = 1
    number = 1
    repeat = (1, 2, 120.0)
    warmup_time = 0
    timeout = 900

    def setup(self, size):
        import torch_geometric  # noqa: F401  (imported outside the timing)

        self.graph, self.x = artist_scene_world(*ARTIST_SHAPES[size])
        self.split = split_artists(self.graph, seed=0)
        self.graphs = TaskGraphs.of(self.graph, self.split)

    def _run(self):
        for layers in range(5):
            train_and_evaluate(self.x, self.graph, self.split, GNNConfig(layers=layers), seed=0, graphs=self.graphs)

    def time_five_layer_counts(self, size):
        """Layers 0-4, seed 0, default GNNConfig (one torch thread)."""
        self._run()

    def track_cpu_s(self, size):
        """The same, CPU seconds (time.process_time)."""
        c0 = time.process_time()
        self._run()
        return time.process_time() - c0

    track_cpu_s.unit = "s"
