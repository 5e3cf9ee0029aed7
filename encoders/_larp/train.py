"""LARP's three-stage trainer (WTC → TTC → TPC), CPU or GPU, single process or DDP.

Each stage lives in its own cache folder ``benchmark.core.cache.shared_dir("larp", key)``
whose key holds the options that stage (and the stages before it) read, the dataset's
content hash and the seed (:func:`encoders._larp.configs.stage_key`). So ``larp-ttc``
reuses ``larp-wtc``'s stage 1, and ``larp`` / ``larp-tpc`` (which differ only in
``fusion``) reuse stage 2. A stage folder holds::

    key.json            the key
    best.safetensors    the weights of the best epoch (selection metric on valid by default)
    final.safetensors   the weights after the last epoch run
    ckpt-e<k>.safetensors + last_state.pt   the latest epoch's weights and optimizer /
                        scheduler / early-stopping state (resume after an interruption)
    log.jsonl           one line per epoch: validation metrics, losses, lr, clips/s, time
    done.json           written last; a stage with done.json is never retrained

Files are written to temporary names and renamed (atomic); a stage being trained is
guarded by an ``flock`` on ``.lock`` so a second process waits and then reuses it.

Stage k starts from stage k-1's ``best.safetensors``. Training reads only the train
split; selection reads the valid split (``selection_split="test"`` reproduces the
official code's selection on test).

DDP: launch with ``larpbench train larp --nproc N ...`` (the harness relaunches under
torchrun and passes the validator); every rank
draws the same epoch plan and a ``DistributedSampler`` gives it its share; queues and
lookup tables gather all ranks' rows; only rank 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_path, atomic_write_text, file_lock, save_safetensors
from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from benchmark.core.training import lr_lambda
from encoders._larp import configs as C
from encoders._larp.data import (
    Collate,
    Cooccurrence,
    PlanDataset,
    SplitFeatures,
    TrainingSet,
    epoch_rng,
    eval_batches,
    plan_pairs,
    plan_tracks,
)

EpochCallback = Callable[[int, int, dict[str, Any]], None]


# --------------------------------------------------------------------------- helpers
def alpha_at(cfg: dict[str, Any], step: int, steps_per_epoch: int) -> float:
    ramp = float(cfg["alpha_ramp_epochs"]) * max(1, steps_per_epoch)
    return float(cfg["alpha"]) * (min(1.0, step / ramp) if ramp > 0 else 1.0)


class StageDiverged(FloatingPointError):
    """A stage's loss became NaN/inf; the stage folder keeps its last good checkpoint."""


@dataclass
class StopRule:
    """Model selection and early stopping of one stage.

    An epoch *improves* when its validation metric beats the best so far (epoch 0 = the
    inherited weights included) by at least ``min_delta`` (and strictly). The stage stops
    for ``"patience"`` after ``patience`` epochs in a row without improvement, but never
    before ``min_epochs`` epochs; for ``"budget"`` after ``max_epochs``.
    """

    patience: int
    min_delta: float
    min_epochs: int
    max_epochs: int

    @classmethod
    def from_cfg(cls, cfg: dict[str, Any], stage: int) -> StopRule:
        return cls(int(cfg["patience"]), float(cfg["min_delta"]), int(cfg["min_epochs"]), C.max_epochs(cfg, stage))

    def improves(self, score: float, best: float) -> bool:
        return bool(math.isfinite(score) and score > best and score - best >= self.min_delta)

    def stop_reason(self, epochs_run: int, bad: int) -> str | None:
        if epochs_run >= self.max_epochs:
            return "budget"
        if bad >= self.patience and epochs_run >= self.min_epochs:
            return "patience"
        return None

    def trace(self, scores: list[float]) -> dict[str, Any]:
        """Replay a sequence of validation scores (``scores[0]`` = epoch 0): the best epoch,
        the epochs run and the stop reason, as the trainer would decide them."""
        best, best_epoch, bad = scores[0], 0, 0
        for e, sc in enumerate(scores[1:], start=1):
            if self.improves(sc, best):
                best, best_epoch, bad = sc, e, 0
            else:
                bad += 1
            reason = self.stop_reason(e, bad)
            if reason:
                return {"best_epoch": best_epoch, "best": best, "epochs_run": e, "stop_reason": reason}
        return {"best_epoch": best_epoch, "best": best, "epochs_run": len(scores) - 1, "stop_reason": None}


def _param_distance(module: Any, init: dict[str, Any]) -> dict[str, float] | None:
    """L2 distance of ``module``'s parameters from ``init`` (absolute and relative to ``‖init‖``)."""
    import torch

    if not init:
        return None
    with torch.no_grad():
        cur = dict(module.named_parameters())
        d2 = sum(float((cur[k].detach().float().cpu() - v).pow(2).sum()) for k, v in init.items())
        n2 = sum(float(v.pow(2).sum()) for v in init.values())
    return {"fusion_dist": math.sqrt(d2), "fusion_rel_dist": math.sqrt(d2) / max(math.sqrt(n2), 1e-12)}


def save_weights(path: Path, state: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
    """Atomic safetensors write of a state dict (tensors made contiguous and unshared)."""
    save_safetensors(path, state, metadata or {})


def load_weights(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return dict(load_file(str(path), device="cpu"))


def _torch_save_atomic(obj: Any, path: Path) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def amp_dtype(precision: str, device: Any) -> Any:
    """The autocast dtype of ``precision`` on ``device``: ``torch.bfloat16`` for ``"bf16"``
    (CPU or CUDA) and for ``"auto"`` on CUDA, else ``None`` (float32, no autocast)."""
    import torch

    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', not {precision!r}")
    on_cuda = torch.device(device).type == "cuda"
    return torch.bfloat16 if precision == "bf16" or (precision == "auto" and on_cuda) else None


def autocast(device: Any, dtype: Any) -> Any:
    """``torch.autocast`` on ``device``'s type with ``dtype``, or a no-op when ``dtype`` is ``None``."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def wrap_ddp(model: Any, device: Any) -> Any:
    """``model`` in ``DistributedDataParallel`` as the trainer runs it: queues and lookup
    tables are kept equal by all-gathers, so buffers are not broadcast (BN statistics stay
    per rank); every trained parameter receives a gradient (no unused-parameter search)."""
    import inspect

    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    device = torch.device(device)
    sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
            else {"broadcast_buffers": False})
    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
               find_unused_parameters=False, **sync)


def train_step(ddp_model: Any, model: Any, opt: Any, sched: Any, batch: dict[str, Any], stage: int,
               alpha: float, *, grad_clip: float | None = None, amp: Any = None,
               where: str = "") -> dict[str, Any]:
    """One optimiser step of ``stage`` on ``batch`` (already on the device): the stage loss
    under autocast ``amp`` (``None`` = float32), a :class:`StageDiverged` error naming the
    stage and ``where`` on a non-finite loss, backward (DDP averages the ranks' gradients
    when ``ddp_model`` is a ``DistributedDataParallel``), optional gradient clipping, the
    optimiser and scheduler steps. Returns the loss terms (with their graphs)."""
    import torch

    device = next(model.parameters()).device
    with autocast(device, amp):
        out = ddp_model(batch, stage, alpha)
    if not bool(torch.isfinite(out["loss"].detach()).all()):
        terms = {k: float(v.detach()) for k, v in out.items()}
        raise StageDiverged(f"LARP stage {stage} ({C.STAGES[stage - 1].upper()}) diverged: non-finite "
                            f"loss at {where or 'a step'}: {terms}")
    opt.zero_grad(set_to_none=True)
    out["loss"].backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
    opt.step()
    if sched is not None:
        sched.step()
    return out


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def on(self) -> bool:
        return self.world > 1


def init_distributed(device_pref: str) -> Dist:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = (torch.cuda.is_available() and device_pref in ("auto", "cuda")) or device_pref.startswith("cuda")
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), local)


@dataclass
class StageResult:
    stage: int
    dir: Path
    best_path: Path
    best_epoch: int
    best_metric: float
    metric: str
    epochs_run: int
    wall_s: float
    skipped: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"stage": self.stage, "stage_name": C.STAGES[self.stage - 1], "dir": str(self.dir),
                "best_epoch": self.best_epoch, "best_metric": self.best_metric, "metric": self.metric,
                "epochs_run": self.epochs_run, "wall_s": self.wall_s, "reused": self.skipped,
                "log": str(self.dir / "log.jsonl"), **self.extra}


# --------------------------------------------------------------------------- trainer
class LarpTrainer:
    """Trains the stages of one LARP configuration on one dataset and seed."""

    def __init__(self, dataset: Dataset, cfg: dict[str, Any], seed: int = 0, *,
                 on_epoch_end: EpochCallback | None = None, cache_root: Path | None = None,
                 validator: EmbeddingValidator | None = None) -> None:
        from benchmark.core.runtime import hub_offline

        hub_offline()  # before anything imports transformers/huggingface_hub (laion_clap reads it at import)
        import torch

        from benchmark.core.runtime import pick_device
        from encoders._htsat import get_htsat_config

        C.validate(cfg)
        self.dataset = dataset
        self.cfg = dict(cfg)
        self.seed = int(seed)
        self.on_epoch_end = on_epoch_end
        self.validator = validator
        self.cache_root = cache_root
        self.dist = init_distributed(str(cfg["device"]))
        if self.dist.on and torch.cuda.is_available() and str(cfg["device"]) in ("auto", "cuda"):
            self.device = torch.device("cuda", self.dist.local_rank)
        else:
            self.device = pick_device(cfg["device"])
        self.amp_dtype = amp_dtype(str(cfg["precision"]), self.device)
        self.htsat_config = get_htsat_config(cfg["htsat"])
        self.train_set = TrainingSet.from_dataset(dataset)
        if self.train_set.num_tracks == 0:
            raise ValueError(f"{dataset.name}: no training tracks")
        self._features: dict[str, SplitFeatures] = {}
        self._tokenizer: Any = None
        self.timings: dict[str, float] = {}

    # ----------------------------------------------------------------- identity
    def audio_checkpoint_id(self) -> str | None:
        p = self.cfg.get("audio_checkpoint")
        if not p:
            if self.cfg["audio_init"] == "clap-pt":
                from encoders._audio_init import clap_pt_audio_id

                return clap_pt_audio_id(self.dataset, self.seed, self.cfg["audio_init_profile"], self.cfg["htsat"])
            return None
        path = Path(p).expanduser().resolve()
        st = path.stat()
        return f"{path}:{st.st_size}:{int(st.st_mtime)}"

    def stage_dir(self, stage: int) -> Path:
        from benchmark.core.cache import shared_dir

        key = C.stage_key(self.cfg, stage, self.dataset.content_hash, self.seed, self.audio_checkpoint_id())
        d = shared_dir("larp", key, self.cache_root)
        if self.dist.main and not (d / "key.json").is_file():
            atomic_write_text(d / "key.json", json.dumps(key, indent=1, sort_keys=True, default=str) + "\n")
        return d

    def stage_cfg(self, stage: int) -> dict[str, Any]:
        """The model config a stage builds: fusion exists only in stage 3."""
        cfg = dict(self.cfg)
        if stage < 3:
            cfg["fusion"] = False
        return cfg

    # ----------------------------------------------------------------- data
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            from benchmark.core.runtime import hub_offline
            from encoders._text import check_text_model

            r = check_text_model(self.cfg["text_model"])
            kw = {"local_files_only": True} if (r.local or hub_offline()) else {}
            self._tokenizer = AutoTokenizer.from_pretrained(r.source, **kw)
        return self._tokenizer

    def features(self, split: str) -> SplitFeatures:
        if split not in self._features:
            f = SplitFeatures(self.dataset, split, self.htsat_config, self.tokenizer(),
                              int(self.cfg["text_max_length"]))
            t0 = time.perf_counter()
            if self.dist.main:
                f.build(progress=bool(self.cfg["progress"]), device=self.device)
            self._barrier()
            f.build()
            self.timings[f"mels_{split}_s"] = time.perf_counter() - t0
            self._features[split] = f
        return self._features[split]

    # ----------------------------------------------------------------- model
    def build_model(self, stage: int) -> Any:
        from encoders._larp.model import LarpModel

        return LarpModel(self.stage_cfg(stage), self.train_set.num_tracks, seed=self.seed)

    def load_stage_weights(self, model: Any, path: Path) -> None:
        """Load a stage's best weights; only lookup tables and fusion may be absent."""
        sd = load_weights(path)
        missing, unexpected = model.load_state_dict(sd, strict=False)
        bad_missing = [k for k in missing if k not in model.TABLE_KEYS and not k.startswith("fusion.")]
        unexpected = [k for k in unexpected if not k.startswith("fusion.")]
        if bad_missing or unexpected:
            raise RuntimeError(f"{path}: weights do not fit the LARP model (missing {bad_missing[:5]}, "
                               f"unexpected {unexpected[:5]})")

    def init_audio_tower(self, model: Any) -> dict[str, Any]:
        """Stage 1's audio tower: ``audio_checkpoint`` if given, else ``audio_init``
        (``"clap-pt"``: CLAP-PT's pre-trained audio branch for this dataset and seed;
        ``"random"``: the seeded init). Returns what to record."""
        cfg = self.cfg
        if cfg.get("audio_checkpoint"):
            report = model.load_audio_checkpoint(str(Path(cfg["audio_checkpoint"]).expanduser()))
            if self.dist.main:
                print(f"[larp] audio checkpoint: {report.summary()}")
            return {"audio_init": "checkpoint", "audio_checkpoint_report": report.to_dict()}
        if cfg["audio_init"] == "random":
            return {"audio_init": "random"}
        from encoders._audio_init import clap_pt_audio_state

        if self.dist.on and not self.dist.main:
            self._barrier()  # rank 0 trains or loads CLAP-PT first; the others then read its cache
        state, info = clap_pt_audio_state(self.dataset, self.seed, cfg["audio_init_profile"], cfg["htsat"])
        if self.dist.on and self.dist.main:
            self._barrier()
        model.load_audio_state(state)
        return {"audio_init_report": info, "audio_init": "clap-pt"}

    def load_for_inference(self, stage: int) -> Any:
        """A model with ``stage``'s best weights (train it first)."""
        res = self.run(stage)[-1]
        model = self.build_model(stage)
        self.load_stage_weights(model, res.best_path)
        return model.to(self.device).eval()

    # ----------------------------------------------------------------- embedding / validation
    def _autocast(self) -> Any:
        return autocast(self.device, self.amp_dtype)

    def encode_rows(self, model: Any, feats: SplitFeatures, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised audio and text projections ``float32 [len(rows), D]`` (eval mode)."""
        import torch

        was = model.training
        model.eval()
        d = int(self.cfg["embed_dim"])
        a_out = np.zeros((len(rows), d), dtype=np.float32)
        t_out = np.zeros((len(rows), d), dtype=np.float32)
        try:
            with torch.no_grad(), self._autocast():
                for pos, batch in eval_batches(feats, rows, int(self.cfg["eval_batch_size"])):
                    b = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                    a, t = model.encode(b["mel"], b["input_ids"], b["attention_mask"])
                    a_out[pos] = a.float().cpu().numpy()
                    t_out[pos] = t.float().cpu().numpy()
        finally:
            model.train(was)
        return a_out, t_out

    def embed_split(self, model: Any, split: str) -> np.ndarray:
        feats = self.features(split)
        a, t = self.encode_rows(model, feats, np.arange(len(feats.track_ids)))
        return (a + t) / 2.0

    def validate(self, model: Any) -> dict[str, float]:
        """The validator's metrics of the model's track vectors, mean(a, t), on the selection split."""
        if self.validator is None:
            raise RuntimeError(
                "LARP selects each stage's epoch with a validator: pass LarpTrainer(..., validator=...) "
                "(the harness builds one: benchmark.harness.validators.encoder_validator)")
        split = self.cfg["selection_split"]
        return self.validator(self.features(split).track_ids, self.embed_split(model, split))

    def _validate_shared(self, model: Any) -> dict[str, float]:
        vals = self.validate(model) if self.dist.main else {}
        return self._broadcast(vals)

    # ----------------------------------------------------------------- dist helpers
    def _barrier(self) -> None:
        if self.dist.on:
            import torch.distributed as dist

            dist.barrier()

    def _broadcast(self, obj: Any) -> Any:
        if not self.dist.on:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    # ----------------------------------------------------------------- lookup tables
    def init_tables(self, model: Any) -> None:
        """Stage 3 with ``lookup_init='encode'``: every training track's features, once."""
        import torch

        feats = self.features("train")
        n = self.train_set.num_tracks
        rows = np.arange(n)[self.dist.rank::self.dist.world]
        a, t = self.encode_rows(model, feats, rows)
        with torch.no_grad():
            at = torch.zeros(n, a.shape[1])
            tt = torch.zeros(n, t.shape[1])
            at[rows] = torch.from_numpy(a)
            tt[rows] = torch.from_numpy(t)
            at, tt = at.to(model.audio_table.device), tt.to(model.text_table.device)
            if self.dist.on:
                import torch.distributed as dist

                dist.all_reduce(at)
                dist.all_reduce(tt)
            model.audio_table.copy_(at)
            model.text_table.copy_(tt)

    # ----------------------------------------------------------------- plans
    def plan(self, stage: int, epoch: int) -> dict[str, np.ndarray]:
        rng = epoch_rng(self.seed, stage, epoch)
        if stage == 1:
            return plan_tracks(self.train_set.num_tracks, rng)
        return plan_pairs(self.train_set, float(self.cfg["pairs_per_track"]), rng,
                          n_seed=int(self.cfg["n_seed"]) if stage == 3 else None,
                          include_anchor=bool(self.cfg["tpc_context_includes_anchor"]))

    def steps_per_epoch(self, stage: int) -> int:
        n = len(self.plan(stage, 0)["a"])
        per_rank = n // self.dist.world
        steps = per_rank // int(self.cfg["batch_size"])
        if steps < 1:
            raise ValueError(f"stage {stage}: {n} items per epoch for {self.dist.world} rank(s) do not fill "
                             f"one batch of {self.cfg['batch_size']}; lower batch_size")
        return steps

    def loader(self, stage: int, epoch: int) -> Any:
        import torch
        from torch.utils.data import DataLoader

        feats = self.features("train")
        ds = PlanDataset(feats.mels.path, feats.input_ids, feats.attention_mask, self.plan(stage, epoch))
        sampler = None
        if self.dist.on:
            from torch.utils.data.distributed import DistributedSampler

            sampler = DistributedSampler(ds, num_replicas=self.dist.world, rank=self.dist.rank,
                                         shuffle=False, drop_last=True)
        nw = int(self.cfg["num_workers"])
        g = torch.Generator()
        g.manual_seed(int(epoch_rng(self.seed, stage, epoch).integers(2**62)))
        return DataLoader(ds, batch_size=int(self.cfg["batch_size"]), sampler=sampler, shuffle=False,
                          drop_last=True, num_workers=nw, pin_memory=self.device.type == "cuda",
                          collate_fn=Collate(), generator=g, persistent_workers=False,
                          prefetch_factor=4 if nw > 0 else None)

    # ----------------------------------------------------------------- running
    def run(self, upto: int = 3) -> list[StageResult]:
        """Train (or reuse) stages 1..``upto``; returns their results."""
        from benchmark.core.runtime import torch_threads

        if upto not in (1, 2, 3):
            raise ValueError("upto must be 1, 2 or 3")
        out = []
        with torch_threads(self.cfg.get("num_threads")):
            for stage in range(1, upto + 1):
                out.append(self.run_stage(stage))
        return out

    def _done(self, d: Path, stage: int) -> StageResult | None:
        p = d / "done.json"
        if not p.is_file():
            return None
        info = json.loads(p.read_text(encoding="utf-8"))
        return StageResult(stage, d, d / "best.safetensors", info["best_epoch"], info["best_metric"],
                           info["metric"], info["epochs_run"], info["wall_s"], True, info.get("history", []),
                           info.get("extra", {}))

    def run_stage(self, stage: int) -> StageResult:
        d = self.stage_dir(stage)
        done = self._done(d, stage)
        if done is not None:
            return done
        prev = None
        if stage > 1:
            prev = self.run_stage(stage - 1)
        with file_lock(d / ".lock", enabled=not self.dist.on):
            done = self._done(d, stage)
            if done is not None:
                return done
            res = self._train_stage(stage, d, prev)
        self._barrier()
        return res

    def _train_stage(self, stage: int, d: Path, prev: StageResult | None) -> StageResult:
        import torch

        cfg = self.cfg
        t_start = time.perf_counter()
        model = self.build_model(stage)
        # the fusion layer's initialisation (seeded, so equal after a resume), for its distance in the logs
        fusion_init = {k: v.detach().float().cpu().clone() for k, v in model.fusion.named_parameters()}
        extra: dict[str, Any] = {}
        if prev is not None:
            self.load_stage_weights(model, prev.best_path)
            extra["started_from"] = str(prev.best_path)
        else:
            extra.update(self.init_audio_tower(model))
        model.to(self.device)
        if stage >= 2 and cfg["cooccurrence_mask"]:
            cooc = Cooccurrence.from_playlists(self.train_set.playlists, self.train_set.num_tracks)
            model.set_cooccurrence(cooc.to_tensor())
        if stage >= 3:
            model.set_membership(torch.from_numpy(self.train_set.member_keys()))
        self.features("train")
        self.features(cfg["selection_split"])
        params = model.trainable_parameters(stage)
        opt = torch.optim.Adam(params, lr=float(cfg["lr"]), betas=(float(cfg["adam_beta1"]), float(cfg["adam_beta2"])),
                               weight_decay=float(cfg["weight_decay"]))
        spe = self.steps_per_epoch(stage)
        n_epochs = C.max_epochs(cfg, stage)
        warmup, total_steps = C.stage_schedule(cfg, spe, stage)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(warmup, total_steps))
        extra.update({"warmup_steps": warmup, "total_steps": total_steps})
        rule = StopRule.from_cfg(cfg, stage)
        metric = str(cfg["selection_metric"])
        rows = int(cfg["batch_size"]) * (1 if stage == 1 else 2)
        chance = model.chance_levels(stage, rows)
        state: dict[str, Any] = {"epoch": 0, "best": -math.inf, "best_epoch": -1, "bad": 0, "history": [],
                                 "wall_s": 0.0, "extra": extra, "steps": 0, "stop_reason": None}
        last = d / "last_state.pt"
        if last.is_file():
            saved = torch.load(last, map_location="cpu", weights_only=True)
            model.load_state_dict(load_weights(d / saved["weights_file"]), strict=False)
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
            state = saved["state"]
            if self.dist.main:
                print(f"[larp] stage {stage}: resuming after epoch {state['epoch']} from {d}")
        else:
            if stage == 3 and cfg["lookup_init"] == "encode":
                self.init_tables(model)
            t0 = time.perf_counter()
            vals = self._validate_shared(model)
            rec = self._record(stage, 0, vals, {}, 0.0, 0, 0, time.perf_counter() - t0, opt, d, prev)
            rec["init"] = True
            # epoch 0 (the inherited weights) is eligible: a stage never ends worse than it began
            rec["best"] = True
            v0 = float(vals[metric])
            state["best"], state["best_epoch"] = (v0 if math.isfinite(v0) else -math.inf), 0
            if self.dist.main:
                save_weights(d / "best.safetensors",
                             {k: v for k, v in model.state_dict().items() if k not in model.TABLE_KEYS},
                             {"stage": str(stage), "epoch": "0", metric: f"{vals[metric]:.6f}"})
            state["history"].append(rec)
            state["wall_s"] += time.perf_counter() - t_start
            self._write_log(d, state["history"])
        ddp_model = wrap_ddp(model, self.device) if self.dist.on else model

        for epoch in range(int(state["epoch"]), n_epochs if state.get("stop_reason") is None else 0):
            t_epoch = time.perf_counter()
            torch.manual_seed(int(epoch_rng(self.seed, stage, epoch).integers(2**62)) + self.dist.rank)
            try:
                losses, clips, train_s, steps = self._train_epoch(ddp_model, model, opt, sched, stage, epoch, spe)
            except StageDiverged as e:
                good = (d / f"ckpt-e{state['epoch']}.safetensors" if state["epoch"] > 0 else d / "best.safetensors")
                rec = {"stage": stage, "stage_name": C.STAGES[stage - 1], "epoch": epoch + 1,
                       "stop_reason": "diverged", "error": str(e), "last_good_checkpoint": str(good)}
                self._write_log(d, [*state["history"], rec])
                raise StageDiverged(f"{e}; the last good checkpoint is {good} (stage folder {d})") from None
            t_val = time.perf_counter()
            vals = self._validate_shared(model)
            val_s = time.perf_counter() - t_val
            rec = self._record(stage, epoch + 1, vals, losses, train_s, clips, steps, val_s, opt, d, prev)
            state["steps"] = int(state.get("steps", 0)) + steps
            rec["steps_total"] = state["steps"]
            rec.update({f"chance_{k}": v for k, v in chance.items()})
            dist_ = _param_distance(model.fusion, fusion_init) if stage == 3 else None
            if dist_ is not None:
                rec.update(dist_)
            improved = rule.improves(float(vals[metric]), float(state["best"]))
            if improved:
                state["best"], state["best_epoch"], state["bad"] = vals[metric], epoch + 1, 0
                if self.dist.main:
                    best_sd = {k: v for k, v in model.state_dict().items() if k not in model.TABLE_KEYS}
                    save_weights(d / "best.safetensors", best_sd,
                                 {"stage": str(stage), "epoch": str(epoch + 1), metric: f"{vals[metric]:.6f}"})
            else:
                state["bad"] += 1
            rec["best"] = improved
            state["stop_reason"] = rule.stop_reason(epoch + 1, int(state["bad"]))
            rec["stop_reason"] = state["stop_reason"]
            state["history"].append(rec)
            state["epoch"] = epoch + 1
            state["wall_s"] += time.perf_counter() - t_epoch
            if self.dist.main:
                self._save_last(d, model, opt, sched, state)
                self._write_log(d, state["history"])
            self._barrier()
            if self.on_epoch_end is not None:
                self.on_epoch_end(stage, epoch + 1, rec)
            if state["stop_reason"] is not None:
                break

        stop_reason = state.get("stop_reason") or "budget"
        last_loss = next((r for r in reversed(state["history"]) if "loss" in r), {})
        res = StageResult(stage, d, d / "best.safetensors", int(state["best_epoch"]), float(state["best"]),
                          metric, int(state["epoch"]), float(state["wall_s"]), False, state["history"],
                          {**state.get("extra", {}), "stopped_early": stop_reason == "patience",
                           "stop_reason": stop_reason, "steps": int(state.get("steps", 0)),
                           "final_loss": last_loss.get("loss"), "chance_loss": chance["loss"],
                           "chance": chance, "steps_per_epoch": spe, "model_config": cfg.get("model_config"),
                           **({k: last_loss[k] for k in ("fusion_dist", "fusion_rel_dist") if k in last_loss})})
        if self.dist.main:
            final_sd = {k: v for k, v in model.state_dict().items() if k not in model.TABLE_KEYS}
            save_weights(d / "final.safetensors", final_sd, {"stage": str(stage), "epoch": str(res.epochs_run)})
            info = {"stage": stage, "stage_name": C.STAGES[stage - 1], "best_epoch": res.best_epoch,
                    "best_metric": res.best_metric, "metric": metric, "epochs_run": res.epochs_run,
                    "wall_s": res.wall_s, "history": res.history, "extra": res.extra,
                    "selection_split": cfg["selection_split"]}
            atomic_write_text(d / "done.json", json.dumps(info, indent=1, sort_keys=True, default=str) + "\n")
            for p in d.glob("ckpt-e*.safetensors"):
                p.unlink(missing_ok=True)
            (d / "last_state.pt").unlink(missing_ok=True)
        return res

    def _train_epoch(self, ddp_model: Any, model: Any, opt: Any, sched: Any, stage: int, epoch: int,
                     spe: int) -> tuple[dict[str, float], int, float, int]:
        from tqdm.auto import tqdm

        cfg = self.cfg
        model.train()
        sums: dict[str, float] = {}
        clips = 0
        steps = 0
        t0 = time.perf_counter()
        bar = tqdm(total=spe, desc=f"LARP stage {stage} ({C.STAGES[stage - 1].upper()}) epoch {epoch + 1}",
                   unit="step", leave=False, disable=not (cfg["progress"] and self.dist.main))
        for i, batch in enumerate(self.loader(stage, epoch)):
            if i >= spe:
                break
            step = epoch * spe + i
            alpha = alpha_at(cfg, step, spe)
            b = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            out = train_step(ddp_model, model, opt, sched, b, stage, alpha, grad_clip=cfg.get("grad_clip"),
                             amp=self.amp_dtype, where=f"step {step} (epoch {epoch + 1}, batch {i})")
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            clips += int(b["mel"].shape[0]) * self.dist.world
            steps += 1
            dt = time.perf_counter() - t0
            bar.update(1)
            bar.set_postfix(loss=f"{sums['loss'] / steps:.3f}", clips_s=f"{clips / max(dt, 1e-9):.1f}")
        bar.close()
        return ({k: v / max(1, steps) for k, v in sums.items()}, clips, time.perf_counter() - t0, steps)

    def _record(self, stage: int, epoch: int, vals: dict[str, float], losses: dict[str, float],
                train_s: float, clips: int, steps: int, val_s: float, opt: Any, d: Path,
                prev: StageResult | None) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "stage_dir": d.name, "parent_dir": prev.dir.name if prev is not None else None,
            "stage": stage, "stage_name": C.STAGES[stage - 1], "epoch": epoch,
            "split": cfg["selection_split"], **vals,
            **{f"loss_{k}" if k != "loss" else "loss": v for k, v in losses.items()},
            "lr": float(opt.param_groups[0]["lr"]), "train_s": train_s, "val_s": val_s, "steps": steps,
            "clips": clips, "clips_per_s": clips / train_s if train_s > 0 else None,
            "model_config": cfg.get("model_config"), "fusion": bool(cfg["fusion"]) if stage == 3 else None,
            "n_seed": int(cfg["n_seed"]) if stage == 3 else None, "dataset": self.dataset.name,
            "seed": self.seed, "world_size": self.dist.world, "device": str(self.device),
        }

    def _write_log(self, d: Path, history: list[dict[str, Any]]) -> None:
        if self.dist.main:
            atomic_write_text(d / "log.jsonl", "".join(json.dumps(r, sort_keys=True, default=str) + "\n"
                                                       for r in history))

    def _save_last(self, d: Path, model: Any, opt: Any, sched: Any, state: dict[str, Any]) -> None:
        name = f"ckpt-e{state['epoch']}.safetensors"
        save_weights(d / name, model.state_dict(), {"epoch": str(state["epoch"])})
        _torch_save_atomic({"weights_file": name, "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(), "state": state}, d / "last_state.pt")
        for p in d.glob("ckpt-e*.safetensors"):
            if p.name != name:
                p.unlink(missing_ok=True)
