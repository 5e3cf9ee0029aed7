"""``openl3``: OpenL3 audio embeddings (Cramer et al. 2019) through the ``openl3`` package.

An adapter: it uses ``openl3.models.load_audio_embedding_model(input_repr, content_type,
embedding_size)`` (the Kapre front end inside the Keras model) when the package is
installed, and is unavailable otherwise. ``pip install openl3`` downloads the weights
from GitHub while it installs, so it cannot be installed on a machine with registry-only
network access (this project's development machine): there the encoder says so.

The adapter's own code path is what ``openl3.get_audio_embedding`` does, written here so
that it reads clips from a dataset and batches frames across tracks:

* **Resampling.** The clip (``clip_seconds`` from ``clip_start``) is read at 48 kHz by
  :meth:`Dataset.load_audio` (polyphase resampling; openl3 uses resampy's
  ``kaiser_best``, so values differ slightly from ``get_audio_embedding`` on non-48 kHz
  audio).
* **Framing.** 1 s windows (48 000 samples) every ``hop_size`` seconds; with ``center``
  the signal is preceded by half a window of zeros; the end is zero-padded so that every
  sample is in a window (a clip shorter than 1 s gives one zero-padded window) — openl3's
  ``_center_audio``/``_pad_audio`` rules.
* **Batching.** The windows of ``tracks_per_call`` consecutive tracks are stacked,
  shaped ``[n, 1, 48000]``, and passed to one ``model.predict(x, batch_size=batch_size)``
  (as ``get_audio_embedding`` stacks the windows of its list of clips).
* **Pooling.** Each track's window embeddings are averaged (``pooling="mean"``) or
  max-pooled (``"max"``), then L2-normalised unless ``normalize=False``.

Tests drive this path with a stand-in model object (anything with ``predict(x)``), passed
as ``OpenL3Encoder(config, model=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders.base import Encoder, EncoderMeta, EncoderUnavailable

SR = 48000
FRAME = SR  # one-second windows
CONTENT_TYPES = ("music", "env")
INPUT_REPRS = ("mel256", "mel128", "linear")
EMBEDDING_SIZES = (512, 6144)
POOLINGS = ("mean", "max")
INSTALL = ("pip install openl3 (with tensorflow and kapre; its setup.py downloads the weights from "
           "GitHub at install time, so it needs network access beyond the package registries)")


def frame_signal(y: np.ndarray, hop: int, center: bool = True, frame: int = FRAME) -> np.ndarray:
    """``[n, frame]`` windows of ``y`` every ``hop`` samples, openl3's rules: half a frame of
    zeros in front when ``center``; zeros at the end so the last window reaches the end
    of the signal (one padded window when the signal is shorter than a frame)."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if center:
        y = np.concatenate([np.zeros(frame // 2, np.float32), y])
    if y.shape[0] < frame:
        y = np.pad(y, (0, frame - y.shape[0]))
    else:
        over = (y.shape[0] - frame) % hop
        if over:
            y = np.pad(y, (0, hop - over))
    n = 1 + (y.shape[0] - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return y[idx]


class OpenL3Encoder(Encoder):
    meta = EncoderMeta(
        name="openl3",
        version="1",
        description="OpenL3 audio embedding (openl3 package, Kapre front end): 1 s windows every hop_size, "
                    "pooled over the clip, L2-normalised",
        dim=None,  # embedding_size: 512 or 6144
        sample_rate=SR,
        modalities=("audio",),
        trains=False,
        trains_on="nothing",
        weights="openl3 package's pretrained weights (downloaded by its setup.py at install time)",
        citation="Cramer, Wu, Salamon & Bello, Look, Listen and Learn More: Design Choices for Deep Audio "
                 "Embeddings, ICASSP 2019; Arandjelović & Zisserman, Look, Listen and Learn, ICCV 2017",
        requires=("openl3",),
        paper_row=None,
        tags=("pretrained", "real-weights", "adapter"),
        weights_source="the openl3 package (pip install openl3), which fetches the Keras weights of "
                       "marl/openl3's releases while installing; not installable here",
        licence_code="MIT; openl3 MIT; TensorFlow/Keras Apache-2.0; kapre MIT",
        licence_weights="MIT (distributed under the openl3 package's licence; trained on AudioSet videos, "
                        "whose content carries its own terms)",
        output_libraries=("openl3", "tensorflow", "kapre"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "content_type": "music",  # music | env
        "input_repr": "mel256",  # mel256 | mel128 | linear
        "embedding_size": 512,  # 512 | 6144
        "hop_size": 0.1,  # seconds between windows (openl3's default)
        "center": True,
        "pooling": "mean",  # mean | max over windows
        "normalize": True,
        "batch_size": 64,  # windows per forward pass (model.predict's batch_size)
        "tracks_per_call": 8,  # tracks whose windows go to one model.predict call
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"hop_size": 0.5}, "quick": {"hop_size": 0.5}, "paper": {"embedding_size": 6144},
    }
    runtime_keys: ClassVar[frozenset[str]] = Encoder.runtime_keys | {"batch_size", "tracks_per_call"}

    def __init__(self, config: dict[str, Any] | None = None, *, model: Any = None) -> None:
        super().__init__(config)
        c = self.config
        for key, allowed in (("content_type", CONTENT_TYPES), ("input_repr", INPUT_REPRS),
                             ("embedding_size", EMBEDDING_SIZES), ("pooling", POOLINGS)):
            if c[key] not in allowed:
                raise ValueError(f"openl3: {key} must be one of {allowed}, not {c[key]!r}")
        self.hop = round(float(c["hop_size"]) * SR)
        if self.hop < 1:
            raise ValueError(f"openl3: hop_size must be at least 1/{SR} s, not {c['hop_size']}")
        if int(c["batch_size"]) < 1 or int(c["tracks_per_call"]) < 1:
            raise ValueError("openl3: batch_size and tracks_per_call must be >= 1")
        self._model = model  # a stand-in (tests) or None: openl3's Keras model, loaded on first use

    def check_available(self) -> None:
        if self._model is not None:
            return
        import importlib.util

        if importlib.util.find_spec("openl3") is None:
            raise EncoderUnavailable(f"encoder 'openl3' needs the openl3 package, which is not installed: {INSTALL}")

    def output_dim(self) -> int:
        return int(self.config["embedding_size"])

    def _load(self) -> Any:
        if self._model is None:
            self.check_available()
            import openl3

            c = self.config
            self._model = openl3.models.load_audio_embedding_model(
                input_repr=c["input_repr"], content_type=c["content_type"], embedding_size=int(c["embedding_size"]))
        return self._model

    def parameter_count(self) -> int | None:
        """``count_params()`` of the Keras model (loads it); ``None`` for a stand-in without it."""
        count = getattr(self._load(), "count_params", None)
        return int(count()) if callable(count) else None

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        model = self._load()
        x = windows.reshape(windows.shape[0], 1, windows.shape[1])
        out = np.asarray(model.predict(x, batch_size=int(self.config["batch_size"]), verbose=0), dtype=np.float32)
        if out.shape != (windows.shape[0], self.output_dim()):
            raise RuntimeError(f"openl3: the model returned shape {out.shape} for {windows.shape[0]} windows; "
                               f"expected [{windows.shape[0]}, {self.output_dim()}] (embedding_size)")
        return out

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        from encoders._audio import iter_audio_batches

        ids = list(track_ids)
        out = np.zeros((len(ids), self.output_dim()), dtype=np.float32)
        c = self.config
        for rows, audio in iter_audio_batches(dataset, ids, SR, None, batch_size=int(c["tracks_per_call"])):
            windows = [frame_signal(a, self.hop, bool(c["center"])) for a in audio]
            emb = self._predict(np.concatenate(windows))  # the windows of these tracks, in order
            bounds = np.cumsum([0] + [len(w) for w in windows])
            for i, row in enumerate(range(rows.start, rows.stop)):
                e = emb[bounds[i]:bounds[i + 1]]
                out[row] = e.mean(0) if c["pooling"] == "mean" else e.max(0)
        if c["normalize"]:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
