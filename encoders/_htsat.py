"""Shared: laion_clap's HTS-AT audio encoder with named configurations and a checked
checkpoint loader.

LARP's audio tower is HTS-AT *tiny* as implemented in ``laion_clap`` (so official CLAP
and HTS-AT checkpoints load). This module builds that model from a small
:class:`HTSATConfig` and runs it:

* :data:`HTSAT_CONFIGS` — ``tiny`` (the paper's), ``base`` (CLAP's HTSAT-base, e.g. the
  ``music_audioset_epoch_15_esc_90.14.pt`` checkpoint) and reduced CPU configurations
  (``cpu-small``, ``cpu-micro``) that keep the architecture (Swin stages, patch
  merging, token-semantic head, 10 ms hop) but shrink width, depth, input image and
  sample rate so a clip costs milliseconds on a CPU.
* :func:`build_htsat` — a seeded, eval-mode ``HTSAT_Swin_Transformer``.
* :func:`htsat_embed` — waveforms ``[B, samples]`` -> pooled embedding ``[B, out_dim]``
  (the ``"embedding"`` output that CLAP projects and LARP uses, 768-d for tiny).
* :func:`load_htsat_checkpoint` — load an HTS-AT or CLAP checkpoint safely with
  :func:`benchmark.core.checkpoint.load_matching` (``torch.load(weights_only=True)`` or
  safetensors; the key prefix ``module.``, ``audio_branch.``, ``sed_model.``, ... is found
  and stripped; what was loaded, missing, unexpected or of the wrong shape is reported,
  and nothing matching raises :class:`~benchmark.core.checkpoint.CheckpointError`).

``import laion_clap`` contacts the model hub at import time; :func:`import_htsat_module`
imports it lazily with ``HF_HUB_OFFLINE=1``/``TRANSFORMERS_OFFLINE=1`` set by default
(it then takes ~5-10 s, once per process).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from benchmark.core.checkpoint import CheckpointError, LoadReport, load_matching, read_state_dict

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

__all__ = [
    "HTSAT_CONFIGS",
    "CheckpointError",
    "HTSATConfig",
    "LoadReport",
    "build_htsat",
    "get_htsat_config",
    "htsat_embed",
    "htsat_forward",
    "import_htsat_module",
    "load_htsat_checkpoint",
    "read_state_dict",
]


# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class HTSATConfig:
    """Architecture and front end of one HTS-AT variant.

    The mel spectrogram (``mel_bins`` bands, ``frames = clip_samples // hop_size + 1``) is
    folded into a square ``spec_size × spec_size`` image: ``freq_ratio = spec_size //
    mel_bins`` time chunks of ``spec_size`` frames stacked along frequency, so a clip may
    have at most ``spec_size * freq_ratio`` frames (shorter ones are stretched by bicubic
    interpolation, as in laion_clap). The pooled embedding has ``embed_dim * 2 **
    (len(depths) - 1)`` dimensions.
    """

    name: str
    embed_dim: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: int
    spec_size: int
    mel_bins: int
    sample_rate: int
    n_fft: int  # laion_clap's ``window_size`` of the STFT (win_length = n_fft)
    hop_size: int
    fmin: float
    fmax: float
    clip_seconds: float
    patch_size: int = 4
    patch_stride: int = 4
    class_num: int = 527  # AudioSet head; kept so that official checkpoints load
    drop_path_rate: float = 0.1  # as laion_clap; inactive in eval mode
    description: str = ""

    # -- derived -------------------------------------------------------------------
    @property
    def out_dim(self) -> int:
        return int(self.embed_dim * 2 ** (len(self.depths) - 1))

    @property
    def freq_ratio(self) -> int:
        return self.spec_size // self.mel_bins

    @property
    def max_frames(self) -> int:
        return self.spec_size * self.freq_ratio

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * self.sample_rate)

    @property
    def frames(self) -> int:
        return self.clip_samples // self.hop_size + 1

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["depths"], d["num_heads"] = list(self.depths), list(self.num_heads)
        d["out_dim"] = self.out_dim
        return d

    def replace(self, **changes: Any) -> HTSATConfig:
        """A validated copy with some fields changed (e.g. ``clip_seconds``)."""
        if "depths" in changes:
            changes["depths"] = tuple(changes["depths"])
        if "num_heads" in changes:
            changes["num_heads"] = tuple(changes["num_heads"])
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first constraint of laion_clap's HTS-AT that fails."""
        n = len(self.depths)
        if n < 1 or len(self.num_heads) != n:
            raise ValueError(f"HTS-AT {self.name!r}: depths {self.depths} and num_heads {self.num_heads} must have equal length >= 1")
        if self.spec_size % self.mel_bins or self.freq_ratio < 1:
            raise ValueError(f"HTS-AT {self.name!r}: spec_size {self.spec_size} must be a multiple of mel_bins {self.mel_bins}")
        grid = self.spec_size // self.patch_stride
        if self.spec_size % self.patch_stride or grid % (2 ** (n - 1)):
            raise ValueError(f"HTS-AT {self.name!r}: spec_size/patch_stride = {grid} must be divisible by 2**(stages-1) = {2 ** (n - 1)}")
        final = grid // 2 ** (n - 1)
        if final % self.freq_ratio or final < self.freq_ratio:
            raise ValueError(
                f"HTS-AT {self.name!r}: the last stage's {final}x{final} grid must be a multiple of "
                f"freq_ratio {self.freq_ratio} (raise spec_size or mel_bins)"
            )
        for i in range(n):
            res = grid // 2**i
            win = min(self.window_size, res)
            if res % win:
                raise ValueError(f"HTS-AT {self.name!r}: stage {i} grid {res} is not a multiple of window {win}")
            dim = self.embed_dim * 2**i
            if dim % self.num_heads[i]:
                raise ValueError(f"HTS-AT {self.name!r}: stage {i} width {dim} not divisible by {self.num_heads[i]} heads")
        if self.frames > self.max_frames:
            raise ValueError(
                f"HTS-AT {self.name!r}: {self.clip_seconds} s at {self.sample_rate} Hz / hop {self.hop_size} "
                f"gives {self.frames} frames > {self.max_frames} the input image holds"
            )
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"HTS-AT {self.name!r}: need 0 <= fmin < fmax <= sample_rate/2")

    def audio_cfg(self) -> SimpleNamespace:
        """The ``audio_cfg`` object laion_clap's model reads."""
        return SimpleNamespace(
            model_type="HTSAT", model_name=self.name, sample_rate=self.sample_rate,
            window_size=self.n_fft, hop_size=self.hop_size, mel_bins=self.mel_bins,
            fmin=self.fmin, fmax=self.fmax, class_num=self.class_num,
            clip_samples=self.clip_samples, audio_length=self.max_frames,
        )


_PAPER_FRONT = dict(mel_bins=64, sample_rate=48000, n_fft=1024, hop_size=480, fmin=50.0,
                    fmax=14000.0, clip_seconds=10.0, spec_size=256, window_size=8)

HTSAT_CONFIGS: dict[str, HTSATConfig] = {
    "tiny": HTSATConfig(
        name="tiny", embed_dim=96, depths=(2, 2, 6, 2), num_heads=(4, 8, 16, 32), **_PAPER_FRONT,
        description="LARP's audio tower = laion_clap HTSAT-tiny: 48 kHz, 10 s, 64 mel, 768-d",
    ),
    "base": HTSATConfig(
        name="base", embed_dim=128, depths=(2, 2, 12, 2), num_heads=(4, 8, 16, 32), **_PAPER_FRONT,
        description="laion_clap HTSAT-base (the music CLAP checkpoint's tower): 1024-d",
    ),
    "cpu-small": HTSATConfig(
        name="cpu-small", embed_dim=32, depths=(1, 1, 2, 1), num_heads=(2, 4, 8, 16), window_size=8,
        spec_size=128, mel_bins=32, sample_rate=16000, n_fft=512, hop_size=160, fmin=50.0,
        fmax=8000.0, clip_seconds=5.0,
        description="reduced CPU HTS-AT: same stages/heads layout, 16 kHz, 5 s, 32 mel, 10 ms hop, "
                    "128x128 input image, 256-d",
    ),
    "cpu-micro": HTSATConfig(
        name="cpu-micro", embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8), window_size=8,
        spec_size=64, mel_bins=32, sample_rate=16000, n_fft=512, hop_size=320, fmin=50.0,
        fmax=8000.0, clip_seconds=2.5,
        description="smallest HTS-AT, for unit tests: 16 kHz, 2.5 s, 32 mel, 20 ms hop, 64x64 image, 128-d",
    ),
}
for _c in HTSAT_CONFIGS.values():
    _c.validate()

#: The one HTS-AT of each profile, shared by ``clap-pt`` / ``clap-ft``, LARP and ``htsat-audio``
#: so that LARP and ``htsat-audio`` can start from CLAP-PT's pre-trained audio tower
#: (:mod:`encoders._audio_init`). ``quick``: laion_clap's architecture at cpu-micro width
#: over the whole 10 s clip (16 kHz, 32 mel, 80 ms hop, 64x64 image, 128-d) — CLAP-PT's
#: quick tower, chosen over LARP's former cpu-small (width 32, 10 ms hop, 5 s) because it
#: hears the whole clip as the paper's tiny does, and because CLAP-PT pre-training and all
#: three LARP stages must fit the quick profile's CPU budget. ``ci``: cpu-micro (2.5 s);
#: ``paper``: tiny (48 kHz, 10 s).
HTSAT_BY_PROFILE: dict[str, Any] = {
    "ci": "cpu-micro",
    "quick": {"base": "cpu-micro", "name": "cpu-micro-10s", "clip_seconds": 10.0, "hop_size": 1280,
              "n_fft": 2048},
    "paper": "tiny",
}


def get_htsat_config(spec: str | HTSATConfig | Mapping[str, Any]) -> HTSATConfig:
    """A config from a name in :data:`HTSAT_CONFIGS`, an :class:`HTSATConfig`, or a mapping
    (``{"base": "tiny", "clip_seconds": 5}`` overrides fields of a named config; without
    ``"base"`` all fields must be given)."""
    if isinstance(spec, HTSATConfig):
        spec.validate()
        return spec
    if isinstance(spec, str):
        if spec not in HTSAT_CONFIGS:
            import difflib

            close = difflib.get_close_matches(spec, HTSAT_CONFIGS, n=2, cutoff=0.4)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"unknown HTS-AT config {spec!r}{hint} (known: {', '.join(HTSAT_CONFIGS)})")
        return HTSAT_CONFIGS[spec]
    if isinstance(spec, Mapping):
        d = dict(spec)
        base = d.pop("base", None)
        d.pop("out_dim", None)
        known = {f.name for f in dataclasses.fields(HTSATConfig)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValueError(f"unknown HTS-AT config field(s) {bad}; known: {sorted(known)}")
        if base is not None:
            d.setdefault("name", f"{base}+custom")
            return get_htsat_config(base).replace(**d)
        for k in ("depths", "num_heads"):
            if k in d:
                d[k] = tuple(d[k])
        cfg = HTSATConfig(**d)
        cfg.validate()
        return cfg
    raise TypeError(f"HTS-AT config must be a name, an HTSATConfig or a mapping, not {type(spec).__name__}")


# --------------------------------------------------------------------------- model
def import_htsat_module() -> ModuleType:
    """``laion_clap.clap_module.htsat``, imported offline-safe (sets ``HF_HUB_OFFLINE`` and
    ``TRANSFORMERS_OFFLINE`` to 1 unless the environment already says otherwise).

    Raises :class:`encoders.base.EncoderUnavailable` when laion_clap cannot be imported.
    """
    from benchmark.core.runtime import hub_offline

    hub_offline()
    try:
        from laion_clap.clap_module import htsat
    except Exception as e:  # ImportError, or a hub error raised at import time
        from encoders.base import EncoderUnavailable

        raise EncoderUnavailable(
            f"cannot import laion_clap's HTS-AT ({type(e).__name__}: {e}); "
            "pip install laion-clap (needs torchvision and numpy<2)"
        ) from e
    return htsat


def build_htsat(config: str | HTSATConfig | Mapping[str, Any] = "tiny", *, seed: int = 0,
                device: str | torch.device = "cpu") -> torch.nn.Module:
    """A laion_clap ``HTSAT_Swin_Transformer`` for ``config``, weights drawn from torch's RNG
    seeded with ``seed`` (the caller's RNG state is left untouched), in eval mode.

    For ``tiny``/``base`` the constructor arguments equal ``create_htsat_model``'s, so the
    parameter names and shapes are those of official checkpoints. ``model.htsat_config``
    holds the :class:`HTSATConfig`.
    """
    from benchmark.core.runtime import seeded

    cfg = get_htsat_config(config)
    htsat = import_htsat_module()
    with seeded(seed), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)
        model = htsat.HTSAT_Swin_Transformer(
            spec_size=cfg.spec_size, patch_size=cfg.patch_size,
            patch_stride=(cfg.patch_stride, cfg.patch_stride), num_classes=cfg.class_num,
            embed_dim=cfg.embed_dim, depths=list(cfg.depths), num_heads=list(cfg.num_heads),
            window_size=cfg.window_size, drop_path_rate=cfg.drop_path_rate,
            config=cfg.audio_cfg(), enable_fusion=False, fusion_type="None",
        )
    model.htsat_config = cfg
    model.eval()
    return model.to(device)


def htsat_forward(model: torch.nn.Module, wav: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run the model on waveforms ``[B, samples]`` (its config's rate); returns laion_clap's
    output dict (``embedding``, ``fine_grained_embedding``, ``clipwise_output``,
    ``framewise_output``). Works in train mode too (SpecAugment then applies)."""
    device = next(model.parameters()).device
    return model({"waveform": wav.to(device)}, device=device)


def htsat_embed(model: torch.nn.Module, wav: torch.Tensor) -> torch.Tensor:
    """Pooled embedding ``[B, out_dim]`` of waveforms ``[B, samples]``."""
    return htsat_forward(model, wav)["embedding"]


# --------------------------------------------------------------------------- checkpoints
#: Keys that may be absent from a checkpoint without making it incomplete: buffers
#: rebuilt from the config (STFT kernels, mel filters, relative-position indices,
#: attention masks) and BatchNorm's batch counter.
_DERIVED_SUFFIXES = (".relative_position_index", ".attn_mask", "num_batches_tracked")
_DERIVED_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.")


def _is_derived(key: str) -> bool:
    return key.endswith(_DERIVED_SUFFIXES) or key.startswith(_DERIVED_PREFIXES)


def load_htsat_checkpoint(model: torch.nn.Module, path: str | Path, *, prefix: str | None = None,
                          strict: bool = False) -> LoadReport:
    """Load HTS-AT weights from an HTS-AT, CLAP or LARP checkpoint into ``model``.

    :func:`load_matching` with HTS-AT's rules: the prefix is e.g. ``module.audio_branch.``
    for CLAP, ``sed_model.`` for HTS-AT's AudioSet checkpoint, ``""`` for a bare state
    dict; buffers rebuilt from the config (STFT/mel kernels, position indices, attention
    masks) may be absent without being reported as missing. Logs the report's summary
    (warning level when something is missing or mismatched).
    """
    report = load_matching(model, path, prefix=prefix, strict=strict, may_be_absent=_is_derived,
                           what="HTS-AT model")
    (log.warning if report.missing or report.mismatched else log.info)("HTS-AT checkpoint %s", report.summary())
    return report
