"""The LARP paper's tables and figures (Salganik et al., KDD 2024)."""

from __future__ import annotations

from benchmark.core.study import Block, Output, Study

TABLE3_ENCODERS = ("bert-text", "htsat-audio", "larp-wtc", "larp-ttc", "larp-tpc", "larp")
#: Table 3 cells trained with several seeds (the others: the profile's seed)
TABLE3_SEEDED = ("larp-tpc", "larp")
TABLE3_SEEDS = (0, 1, 2)
TABLE4_ENCODERS = ("larp", "mule", "clap-ft")
#: real pretrained models outside the quick default grid for their CPU cost (issue #14)
REAL_ENCODERS = ("musicnn-msd", "musicnn-mtt")
FIGURE4_N_SEEDS = (1, 5, 10, 20, 30)

STUDIES = [
    Study(
        name="table1", title="Table 1: dataset statistics and playlist homogeneity",
        stats_datasets=("synth-mpd", "synth-lfm", "folk21"),
        stats_also=("musicnn-msd",),  # a model pretrained on real music (issue #14)
        outputs=(Output("table1.md", "benchmark.reports.tables:write_table1"),),
        paper="table1_dataset_stats",
        description="Counts of the splits, tracks per playlist, playlists per track, and the mean "
                    "pairwise cosine of a test playlist's audio embeddings (melstats)."),
    Study(
        name="table2", title="Table 2: encoders × cold-start recommenders",
        blocks=(Block(),),  # every encoder (oracles excepted) and recommender of the profile, on its datasets
        outputs=(Output("table2.md", "benchmark.reports.tables:write_table2"),
                 Output("quality_cost.png", "benchmark.reports.cost:write_quality_cost")),
        paper="table2_main",
        description="Every registered encoder of the profile (the trivial baselines included, the oracles "
                    "never: they are in the ceilings study) with ItemKNN, DropoutNet and CLCRec."),
    Study(
        name="table2-musicnn", title="Table 2's MusiCNN rows: real pretrained music models on the worlds",
        blocks=(Block(encoders=REAL_ENCODERS),),  # the profile's datasets and recommenders
        outputs=(Output("table2.md", "benchmark.reports.tables:write_table2"),),
        paper="table2_main",
        description="musicnn-msd and musicnn-mtt (packaged weights, through essentia-tensorflow) with every "
                    "recommender on the profile's datasets; their rows join Table 2. Outside reproduce_table2 "
                    "for their cost (~28 CPU-minutes per model and quick world)."),
    Study(
        name="table2-folk21", title="Table 2 on folk21: encoders × cold-start recommenders on real pieces",
        # every encoder of the profile's grid (oracles excepted) and the real pretrained models
        blocks=(Block(datasets=("folk21",)), Block(datasets=("folk21",), encoders=REAL_ENCODERS)),
        outputs=(Output("table2_folk21.md", "benchmark.reports.tables:write_table2_folk21"),),
        paper="table2_main",
        description="Table 2's grid on folk21 (real music21 pieces rendered with a GM soundfont): every "
                    "registered encoder of the profile with ItemKNN, DropoutNet and CLCRec. Not part of "
                    "reproduce_table2 (its own budget: folk21 builds in minutes and trains every encoder)."),
    Study(
        name="table3", title="Table 3: LARP ablation (ItemKNN)",
        blocks=(Block(encoders=TABLE3_ENCODERS, recommenders=("itemknn",)),
                # issue #13: the full model and its mean-pooling ablation over three training
                # seeds, so the seed spread stands beside the playlist-bootstrap interval
                Block(encoders=TABLE3_SEEDED, recommenders=("itemknn",), seeds=TABLE3_SEEDS)),
        outputs=(Output("table3.md", "benchmark.reports.larp:write_table3"),),
        paper="table3_ablation_itemknn",
        description="Text only, audio only, and LARP after each training stage; larp and larp-tpc "
                    "over three training seeds."),
    Study(
        name="table4", title="Table 4: cross-dataset generalisation (ItemKNN)",
        blocks=(
            Block(datasets=("synth-lfm",), encoders=TABLE4_ENCODERS, recommenders=("itemknn",)),
            Block(datasets=("synth-lfm",), encoders=TABLE4_ENCODERS, recommenders=("itemknn",),
                  train_dataset="synth-mpd"),
            Block(datasets=("folk21",), encoders=TABLE4_ENCODERS, recommenders=("itemknn",)),
            Block(datasets=("folk21",), encoders=TABLE4_ENCODERS, recommenders=("itemknn",),
                  train_dataset="synth-mpd"),
            # folk21's caption variants: the album names the collection, which keys playlists
            Block(datasets=("folk21", "folk21-noalbum"), encoders=("bert-text",), recommenders=("itemknn",)),
        ),
        outputs=(Output("table4.md", "benchmark.reports.tables:write_table4"),),
        paper="table4_generalization_on_LFM",
        description="Encoders trained on synth-mpd and tested on synth-lfm and folk21, beside "
                    "in-domain training."),
    Study(
        name="figures", title="Figures 4-5: TPC's n_seed and LARP's validation curves",
        blocks=(Block(datasets=("synth-mpd",), encoders=("larp",), recommenders=("itemknn",), seeds=(0,),
                      variants=tuple(f"n_seed={n}" for n in FIGURE4_N_SEEDS)),),
        outputs=(Output("figure4.png", "benchmark.reports.larp:write_figure4"),
                 Output("figure5.png", "benchmark.reports.larp:write_figure5")),
        training_logs=True,
        description="Figure 4: LARP trained with n_seed ∈ {1, 5, 10, 20, 30} in the TPC fusion; "
                    "Figure 5: validation metrics per epoch through the three stages."),
]
