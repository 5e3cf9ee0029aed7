"""``jukebox``: Jukebox features (Castellon, Donahue & Liang 2021) — the paper's "Jukebox" row.

Layer 36 of OpenAI Jukebox's 5B prior, mean-pooled over time: 4800-d. The model needs a
multi-GB download and a large GPU, so the usual way is **precomputed features**:

* ``path`` — a file read by :mod:`encoders.precomputed` (its loader is reused here): a
  ``.safetensors`` file with a 2-D tensor ``embeddings`` and the track ids (JSON list)
  under the metadata key ``track_ids``, or a ``.npy`` array with a ``.txt``/``.json``
  sidecar of ids; ``sha256`` pins the file.

Extraction recipe (where there is a GPU and the weights; the JukeMIR recipe)::

    pip install git+https://github.com/rodrigo-castellon/jukemirlib.git
    # weights (~10 GB) are fetched by jukemirlib into ~/.cache/jukemirlib on first use:
    #   vqvae.pth.tar and prior_level_2.pth.tar from openaipublic.azureedge.net/jukebox/models/5b/
    import jukemirlib, json, numpy as np
    from safetensors.numpy import save_file
    vecs = []
    for t in ds.tracks.values():
        audio = jukemirlib.load_audio(ds.audio_path(t.track_id), offset=t.clip_start, duration=ds.clip_seconds)
        vecs.append(jukemirlib.extract(audio, layers=[36], meanpool=True)[36])
    save_file({"embeddings": np.stack(vecs).astype("float32")}, "jukebox.safetensors",
              metadata={"track_ids": json.dumps(list(ds.tracks))})

Without ``path``, when ``jukemirlib`` is importable and its weights are in
``weights_dir`` (default: jukemirlib's cache, ``~/.cache/jukemirlib``), this encoder runs
that extraction itself (``extract=True``); otherwise :meth:`check_available` raises
:class:`~encoders.base.EncoderUnavailable` saying which of these is missing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders.base import Encoder, EncoderMeta, EncoderUnavailable

LAYER = 36
DIM = 4800
WEIGHT_FILES = ("vqvae.pth.tar", "prior_level_2.pth.tar")


def default_weights_dir() -> Path:
    return Path("~/.cache/jukemirlib").expanduser()


class JukeboxEncoder(Encoder):
    meta = EncoderMeta(
        name="jukebox",
        version="1",
        description="Jukebox 5B prior layer 36, mean-pooled (4800-d), from a precomputed file or extracted "
                    "with jukemirlib",
        dim=None,  # 4800 for the recipe; read from the file when `path` is given
        sample_rate=44100,
        modalities=("audio",),
        trains=False,
        trains_on="nothing",
        weights="OpenAI Jukebox 5B (precomputed features, or jukemirlib + its downloaded weights)",
        citation="Castellon, Donahue & Liang, Codified audio language modeling learns useful representations "
                 "for music information retrieval, ISMIR 2021; Dhariwal et al., Jukebox: A Generative Model "
                 "for Music, 2020",
        requires=("numpy",),
        paper_row="Jukebox",
        tags=("baseline", "external"),
        weights_source="OpenAI Jukebox 5B (openai/jukebox): features precomputed elsewhere (config.path), or "
                       "extracted with jukemirlib, which downloads the weights",
        licence_code="MIT (this reader); extraction uses jukemirlib and OpenAI's jukebox code (licences not "
                     "checked here: neither is installed)",
        licence_weights="OpenAI Jukebox weights: the openai/jukebox release terms (a noncommercial-use "
                        "licence; not verified here)",
        output_libraries=("jukemirlib", "numpy"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "path": None,  # precomputed features (.safetensors, or .npy + ids sidecar)
        "ids_path": None,
        "sha256": None,
        "normalize": False,
        "extract": True,  # without `path`: extract with jukemirlib when it and its weights are present
        "weights_dir": None,  # None = ~/.cache/jukemirlib
        "layer": LAYER,
        "device": "auto",
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {"ci": {}, "quick": {}, "paper": {}}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._reader: Any = None

    # -- sources -------------------------------------------------------------------------
    def _precomputed(self):
        if self._reader is None:
            from encoders.precomputed import PrecomputedEncoder

            c = self.config
            self._reader = PrecomputedEncoder({"path": c["path"], "ids_path": c["ids_path"], "sha256": c["sha256"],
                                               "normalize": c["normalize"], "label": f"jukebox-5b-l{c['layer']}"})
        return self._reader

    def input_fingerprint(self) -> dict[str, Any]:
        return self._precomputed().input_fingerprint() if self.config["path"] else {}

    def _weights_dir(self) -> Path:
        wd = self.config["weights_dir"]
        return Path(wd).expanduser() if wd else default_weights_dir()

    def _extraction_problem(self) -> str | None:
        if not self.config["extract"]:
            return "extraction is disabled (extract=False)"
        if importlib.util.find_spec("jukemirlib") is None:
            return ("jukemirlib is not installed (pip install git+https://github.com/rodrigo-castellon/"
                    "jukemirlib.git)")
        missing = [f for f in WEIGHT_FILES if not (self._weights_dir() / f).is_file()]
        if missing:
            return f"Jukebox weights {missing} are not in {self._weights_dir()} (jukemirlib downloads ~10 GB there)"
        return None

    def check_available(self) -> None:
        if self.config["path"] is not None:
            self._precomputed().check_available()
            return
        problem = self._extraction_problem()
        if problem is not None:
            raise EncoderUnavailable(
                "jukebox: no precomputed features (config.path is not set) and on-the-fly extraction is not "
                f"possible: {problem}. Precompute layer-36 mean-pooled features as described in "
                "encoders/jukebox.py and docs/baselines.md, then pass config.path")

    def output_dim(self) -> int:
        if self.config["path"] is not None:
            return self._precomputed().output_dim()
        return DIM

    # -- embedding -----------------------------------------------------------------------
    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        if self.config["path"] is not None:
            return self._precomputed().embed(dataset, track_ids)
        self.check_available()
        import jukemirlib

        if hasattr(jukemirlib, "constants") and hasattr(jukemirlib.constants, "CACHE_DIR"):
            jukemirlib.constants.CACHE_DIR = str(self._weights_dir())
        layer = int(self.config["layer"])
        out = np.zeros((len(track_ids), DIM), dtype=np.float32)
        for i, tid in enumerate(track_ids):
            t = dataset.tracks[tid]
            audio = jukemirlib.load_audio(str(dataset.audio_path(tid)), offset=t.clip_start,
                                          duration=dataset.clip_seconds)
            out[i] = np.asarray(jukemirlib.extract(audio, layers=[layer], meanpool=True)[layer],
                                dtype=np.float32).reshape(-1)[:DIM]
        if self.config["normalize"]:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
