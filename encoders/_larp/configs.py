"""Named LARP configurations and the per-stage cache keys.

A LARP run is described by one flat dict (:data:`PAPER`'s keys). Named model configs
(:data:`MODEL_CONFIGS`) fill it; the encoder's overrides replace single keys.

``paper`` is the paper's / the official code's setting (HTS-AT tiny at 48 kHz on 10 s
clips, ``bert-base-uncased`` CLS, batch 50, queue 57,600, m 0.995, lr 1e-4, 3,000
warm-up steps, ≤ 45 epochs per stage, patience 5). ``cpu-small`` (the ``quick``
profile) and ``cpu-tiny`` (``ci`` and the tests) shrink the towers, the queue, the batch
and the epoch budget so that all three stages run on two CPU cores in minutes.

Where the official code and the paper disagree, or the official code is broken, the
difference is a named option; :data:`OPTION_NOTES` says which value is whose.
"""

from __future__ import annotations

import copy
from typing import Any

from encoders._htsat import HTSAT_BY_PROFILE
from encoders._text import LARP_TEXT_TOWERS

#: Bumped when a change alters what a stage trains, so old stage checkpoints are not reused.
CODE_VERSION = "2"  # 2: TPC paper loss, WTC on anchors, epoch 0 selectable, stop rule

STAGES: tuple[str, ...] = ("wtc", "ttc", "tpc")

PAPER: dict[str, Any] = {
    # towers -------------------------------------------------------------------------
    "htsat": "tiny",  # a name of encoders._htsat.HTSAT_CONFIGS or {"base": name, field: value}
    "audio_checkpoint": None,  # HTS-AT/CLAP/LARP weights for the audio tower (stage 1 start; wins over audio_init)
    "audio_init": "clap-pt",  # stage 1's HTS-AT: "clap-pt" (in-repo CLAP-PT audio tower) or "random"
    "audio_init_profile": "paper",  # whose CLAP-PT settings (clap-pt's profile of the same HTS-AT)
    # bert-base-uncased where present, else the packaged all-mpnet-base-v2 (BERT-base sized;
    # encoders._text.paper_text_model), shared with bert-text's paper profile
    "text_model": LARP_TEXT_TOWERS["paper"]["model"],  # HF name, local dir, or a packaged alias
    "text_num_layers": None,  # keep only the first k transformer layers (CPU configs); None = all
    "text_max_length": 30,
    "text_freeze_embeddings": False,  # CPU economy: keep the text tower's word embeddings fixed
    "spec_augment": True,  # laion_clap HTS-AT applies SpecAugment in train mode
    "embed_dim": 256,
    # BLIP ITC -----------------------------------------------------------------------
    "queue_size": 57600,
    "momentum": 0.995,
    "temp": 0.07,
    "temp_min": 0.001,
    "temp_max": 0.5,
    "alpha": 0.4,
    "alpha_ramp_epochs": 2.0,  # official: alpha * min(1, step / (2 * steps_per_epoch))
    # stages -------------------------------------------------------------------------
    "cooccurrence_mask": True,  # Appendix A; the official code builds the mask and never uses it
    "pairs_per_track": 1.0,  # TTC/TPC pairs drawn per training track and epoch
    "n_seed": 10,  # TPC: at most n_seed other tracks of the playlist build its vector
    "fusion": True,  # TPC playlist vector: self-attention fusion (True) or mean pooling (False)
    "tpc_context_includes_anchor": False,  # official: the anchor may be among the context tracks
    "tpc_loss": "paper",  # "paper": Eq. 20-25 (queue, multi-positive); "inbatch"; "official"
    "lookup_init": "encode",  # "encode": tables start from one pass over train; "zeros": official
    # optimisation -------------------------------------------------------------------
    "batch_size": 50,  # tracks per step in stage 1, pairs per step in stages 2 and 3
    "lr": 1e-4,
    "adam_beta1": 0.9,
    "adam_beta2": 0.99,  # the paper; the official code uses 0.999
    "weight_decay": 0.0,
    "warmup_steps": 3000,  # the paper; the official code uses CLAP's 3,200 (None: use warmup_fraction)
    "warmup_fraction": None,  # warm-up as a fraction of each stage's steps (CPU configs); excludes warmup_steps
    "max_epochs": 45,  # an int, or [wtc, ttc, tpc]
    "min_epochs": 1,  # early stopping never ends a stage before this many epochs
    "patience": 5,  # stop after >= patience epochs without a validation gain of at least min_delta
    "min_delta": 0.0,
    "grad_clip": None,
    # model selection ----------------------------------------------------------------
    "selection_split": "valid",  # "test" reproduces the official code (selects on test)
    "selection_metric": "recall@10",
    # runtime (not part of any cache key) --------------------------------------------
    "device": "auto",
    "precision": "auto",  # "auto": bf16 autocast on CUDA, fp32 on CPU; or "bf16"/"fp32"
    "num_workers": 8,
    "num_threads": None,
    "eval_batch_size": 128,
    "progress": True,
}

_CPU_COMMON: dict[str, Any] = {
    "text_model": "all-MiniLM-L6-v2",
    "adam_beta2": 0.99,
    "num_workers": 0,
    "device": "auto",
    "eval_batch_size": 64,
}

MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    "paper": copy.deepcopy(PAPER),
    # quick profile: ~3,000 training tracks, all three stages in ~15 min on 2 cores
    "cpu-small": {
        **copy.deepcopy(PAPER), **_CPU_COMMON,
        "htsat": copy.deepcopy(HTSAT_BY_PROFILE["quick"]),  # shared with clap-pt / htsat-audio (quick)
        "audio_init_profile": "quick",
        "text_num_layers": LARP_TEXT_TOWERS["quick"]["num_layers"],  # 3, shared with bert-text (quick)
        "text_freeze_embeddings": True,
        "queue_size": 2048,
        "batch_size": 32,
        "lr": 2e-4,
        "warmup_steps": None,
        "warmup_fraction": 0.1,
        "max_epochs": [10, 8, 8],
        "min_epochs": 5,
        "patience": 2,
        "min_delta": 0.001,
        "pairs_per_track": 0.5,
        "alpha_ramp_epochs": 1.0,
    },
    # ci profile and unit tests: seconds per stage
    "cpu-tiny": {
        **copy.deepcopy(PAPER), **_CPU_COMMON,
        "htsat": HTSAT_BY_PROFILE["ci"],  # shared with clap-pt / htsat-audio (ci)
        "audio_init_profile": "ci",
        "text_num_layers": LARP_TEXT_TOWERS["ci"]["num_layers"],  # 2, shared with bert-text (ci)
        "text_freeze_embeddings": True,
        "queue_size": 256,
        "batch_size": 16,
        "lr": 3e-4,
        "warmup_steps": None,
        "warmup_fraction": 0.1,
        # a smoke profile (its numbers are not reported): the 5-epoch minimum of the CPU
        # profiles would multiply the ci suite's LARP time (~1 CPU-minute per epoch there)
        "max_epochs": [3, 2, 2],
        "min_epochs": 1,
        "patience": 2,
        "min_delta": 0.001,
        "pairs_per_track": 0.5,
        "n_seed": 5,
        "alpha_ramp_epochs": 1.0,
    },
}

#: Keys that change nothing a stage learns (where and how fast it runs).
RUNTIME_KEYS = frozenset({"device", "num_workers", "num_threads", "eval_batch_size", "progress", "precision"})
#: Keys that only stage 2 and later read.
TTC_KEYS = frozenset({"cooccurrence_mask", "pairs_per_track"})
#: Keys that only stage 3 reads.
TPC_KEYS = frozenset({"n_seed", "fusion", "tpc_context_includes_anchor", "tpc_loss", "lookup_init"})

OPTION_NOTES: dict[str, str] = {
    "cooccurrence_mask": "True (default, paper Appendix A): in TTC, tracks that co-occur with the anchor in a "
                         "training playlist (and the anchor itself) are removed from its negatives, in the batch "
                         "and in the queue. False = the official code, which builds a batch mask and never uses it.",
    "alpha_ramp_epochs": "alpha rises linearly to 0.4 over this many epochs of each stage (official: 2).",
    "adam_beta2": "0.99 (default, the paper) vs 0.999 (the official train script).",
    "warmup_steps": "3000 (default, the paper) vs 3200 (the official script, copied from CLAP).",
    "tpc_context_includes_anchor": "False (default, paper: 'other tracks of the playlist') vs True (official: "
                                   "the shuffled, truncated playlist may contain the anchor).",
    "tpc_loss": "'paper' (default, Appendix A Eq. 20-22, 25): 1/2[Contrast(a_p, t_s) + Contrast(t_p, a_s)]; the "
                "playlist->track direction takes its negatives from the momentum track queue, the "
                "track->playlist direction from the batch's playlists, and the targets are multi-positive "
                "from the playlist-track graph (two anchors of one playlist are not each other's negatives). "
                "'inbatch': the former form, in-batch negatives and one-hot targets both ways; 'official': "
                "only track->playlist cross-entropy (a_s vs t_p, t_s vs a_p), in-batch.",
    "warmup_fraction": "CPU configs: linear warm-up over this fraction of each stage's optimiser steps, then "
                       "cosine to 0 at the stage's last step. The paper config keeps the paper's absolute "
                       "3,000 steps (warmup_steps; 45 epochs of MPD at batch 50 are far more steps).",
    "min_delta": "an epoch improves when its validation metric beats the best so far by at least min_delta; "
                 "a stage stops after `patience` epochs without improvement, never before min_epochs.",
    "lookup_init": "'encode' (default): the lookup tables start from one pass of the stage-2 model over the "
                   "training tracks; 'zeros': the official code (tables fill up as tracks are seen).",
    "text_freeze_embeddings": "False (paper, official): every text-tower weight trains. The CPU configs freeze the "
                              "word-embedding matrix (11.7M of MiniLM's 22.7M weights) to save optimizer time.",
    "audio_init": "'clap-pt' (default): stage 1 starts the HTS-AT from CLAP-PT's audio tower pre-trained in-repo "
                  "on the dataset's pre-training pool with the same seed (the paper's LARP starts from a "
                  "pre-trained HTS-AT; the official code meant to, but a key bug left it random). 'random': "
                  "seeded random init (the official code's effective behaviour). audio_checkpoint wins.",
    "selection_split": "'valid' (default) vs 'test' (the official code selects epochs on the test split).",
    "pairs_per_track": "pairs (s_i, s_j) sharing a playlist drawn per training track and epoch; the official "
                       "pair file is named 5_pairs.pkl (read as 5 per track; not verifiable).",
}


def resolve(model_config: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The named config with non-``None`` overrides applied; validated."""
    if model_config not in MODEL_CONFIGS:
        import difflib

        close = difflib.get_close_matches(model_config, MODEL_CONFIGS, n=2, cutoff=0.4)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown LARP model config {model_config!r}{hint} (known: {', '.join(MODEL_CONFIGS)})")
    cfg = copy.deepcopy(MODEL_CONFIGS[model_config])
    for k, v in (overrides or {}).items():
        if k not in PAPER:
            raise ValueError(f"unknown LARP option {k!r}; known: {sorted(PAPER)}")
        if v is not None:
            cfg[k] = copy.deepcopy(v)
    # warm-up is given one way: overriding one form replaces the config's other form
    set_ = {k for k in ("warmup_steps", "warmup_fraction") if (overrides or {}).get(k) is not None}
    if len(set_) == 1:
        cfg[({"warmup_steps", "warmup_fraction"} - set_).pop()] = None
    cfg["model_config"] = model_config
    validate(cfg)
    return cfg


def validate(cfg: dict[str, Any]) -> None:
    if cfg["selection_split"] not in ("valid", "test"):
        raise ValueError(f"selection_split must be 'valid' or 'test', not {cfg['selection_split']!r}")
    if cfg["tpc_loss"] not in ("paper", "inbatch", "official"):
        raise ValueError(f"tpc_loss must be 'paper', 'inbatch' or 'official', not {cfg['tpc_loss']!r}")
    if cfg["audio_init"] not in ("clap-pt", "random"):
        raise ValueError(f"audio_init must be 'clap-pt' or 'random', not {cfg['audio_init']!r}")
    if cfg["audio_init_profile"] not in ("ci", "quick", "paper"):
        raise ValueError(f"audio_init_profile must be 'ci', 'quick' or 'paper', not {cfg['audio_init_profile']!r}")
    if (cfg.get("warmup_steps") is None) == (cfg.get("warmup_fraction") is None):
        raise ValueError("set exactly one of warmup_steps and warmup_fraction "
                         f"(got {cfg.get('warmup_steps')!r} and {cfg.get('warmup_fraction')!r})")
    if cfg.get("warmup_fraction") is not None and not 0.0 <= float(cfg["warmup_fraction"]) < 1.0:
        raise ValueError("warmup_fraction must be in [0, 1)")
    if int(cfg["min_epochs"]) < 1 or int(cfg["patience"]) < 1 or float(cfg["min_delta"]) < 0:
        raise ValueError("min_epochs and patience must be >= 1 and min_delta >= 0")
    if cfg["lookup_init"] not in ("encode", "zeros"):
        raise ValueError(f"lookup_init must be 'encode' or 'zeros', not {cfg['lookup_init']!r}")
    if cfg["precision"] not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', not {cfg['precision']!r}")
    if int(cfg["n_seed"]) < 1:
        raise ValueError("n_seed must be >= 1")
    if int(cfg["queue_size"]) < 1 or int(cfg["batch_size"]) < 2:
        raise ValueError("queue_size must be >= 1 and batch_size >= 2")
    if not 0.0 <= float(cfg["alpha"]) <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    if not 0.0 < float(cfg["temp_min"]) <= float(cfg["temp"]) <= float(cfg["temp_max"]):
        raise ValueError("need 0 < temp_min <= temp <= temp_max")
    me = cfg["max_epochs"]
    if isinstance(me, (list, tuple)):
        if len(me) != 3 or any(int(x) < 1 for x in me):
            raise ValueError("max_epochs must be an int >= 1 or a list of three")
    elif int(me) < 1:
        raise ValueError("max_epochs must be >= 1")


def max_epochs(cfg: dict[str, Any], stage: int) -> int:
    me = cfg["max_epochs"]
    return int(me[stage - 1]) if isinstance(me, (list, tuple)) else int(me)


def warmup_steps(cfg: dict[str, Any], total_steps: int) -> int:
    """Warm-up steps of a stage of ``total_steps`` optimiser steps: ``warmup_steps`` when set
    (the paper's 3,000), else ``round(warmup_fraction * total_steps)``."""
    if cfg.get("warmup_steps") is not None:
        return int(cfg["warmup_steps"])
    return round(float(cfg["warmup_fraction"]) * int(total_steps))


def stage_schedule(cfg: dict[str, Any], steps_per_epoch: int, stage: int) -> tuple[int, int]:
    """``(warmup, total)`` of stage ``stage``'s LR schedule: ``total`` = its step budget
    (steps per epoch × max epochs); warm-up by :func:`warmup_steps`."""
    total = int(steps_per_epoch) * max_epochs(cfg, stage)
    return warmup_steps(cfg, total), total


def stage_config(cfg: dict[str, Any], stage: int) -> dict[str, Any]:
    """The part of ``cfg`` that stage ``stage`` (1, 2 or 3) and the stages before it read."""
    drop = set(RUNTIME_KEYS) | {"model_config"}
    if stage < 3:
        drop |= TPC_KEYS
    if stage < 2:
        drop |= TTC_KEYS
    out = {k: v for k, v in cfg.items() if k not in drop}
    if isinstance(out.get("max_epochs"), (list, tuple)):
        out["max_epochs"] = [int(x) for x in out["max_epochs"][:stage]]
    elif "max_epochs" in out:
        out["max_epochs"] = [int(out["max_epochs"])] * stage
    return out


def stage_key(cfg: dict[str, Any], stage: int, dataset_hash: str, seed: int,
              audio_checkpoint_id: str | None = None) -> dict[str, Any]:
    """Cache key of a stage: its config, the dataset content, the seed and the code version.

    Stage k's key contains stage k-1's options, so ``larp-ttc`` finds ``larp-wtc``'s stage 1
    and ``larp``/``larp-tpc`` (which differ only in ``fusion``) share stages 1 and 2.
    """
    return {"larp_code": CODE_VERSION, "stage": stage, "stage_name": STAGES[stage - 1],
            "config": stage_config(cfg, stage), "dataset_hash": dataset_hash, "seed": int(seed),
            "audio_checkpoint_id": audio_checkpoint_id}
