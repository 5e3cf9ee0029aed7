"""The artist-relationship task (Grötschla et al. 2024 on OLGA, Korzeniowski et al.): every
encoder's embeddings as artist features of a GNN that predicts relations between unseen
artists (docs/artist-gnn.md)."""

from __future__ import annotations

from benchmark.core.artist_graph import ArtistTask
from benchmark.core.study import Output, Study

#: the lines of the figure: the paper's feature sets (CLAP = clap-pt, AcousticBrainz =
#: essentia-descriptors, moods-themes = the world's tags) and LARP
FIGURE_FEATURES = (
    "random", "essentia-descriptors", "tags", "clap-pt", "larp",
    "essentia-descriptors+tags", "essentia-descriptors+clap-pt", "clap-pt+tags",
    "essentia-descriptors+clap-pt+tags",
)

TASK = ArtistTask(
    datasets=("synth-mpd", "synth-lfm"),
    # "*": every encoder of the profile (Table 2's rows); the MusiCNN rows of Table 2 come from
    # the table2-musicnn study (their default profile is paper), so they are named here
    features=(*FIGURE_FEATURES, "*", "musicnn-msd", "musicnn-mtt"),
    figure=FIGURE_FEATURES,
)

STUDIES = [
    Study(
        name="artist-gnn", title="Artist-relationship prediction with GNNs (OLGA protocol)",
        measure="benchmark.harness.artist_task:measure", task=TASK,
        outputs=(Output("artist_gnn.png", "benchmark.reports.artist_gnn:write_figure"),
                 Output("artist_gnn.md", "benchmark.reports.artist_gnn:write_table")),
        description="NDCG@200 of relations among unseen artists: 0-4 GraphSAGE layers + MLP, triplet "
                    "loss, artist features from one track's embedding per artist (every encoder, "
                    "essentia descriptors, the world's tags, random, concatenations); 3 seeds; "
                    "Kendall's tau against Table 2's ranking.",
        tags=("task",)),
]
