"""``essentia-descriptors``: hand-crafted AcousticBrainz-style audio descriptors (essentia).

The "AcousticBrainz features" baseline of the third seed paper (artist-relationship
prediction on OLGA): low-level spectral, rhythm and tonal descriptors summarised by
their mean and standard deviation over frames, computed with essentia
(Bogdanov et al. 2013), then **standardised with statistics of the pre-training pool**
(never of the tracks being embedded; the pool's statistics are the only thing ``fit``
computes and stores).

Two extractors (``extractor``):

* ``"lowlevel"`` (ci/quick): on the 16 kHz clip, essentia's
  ``LowLevelSpectralExtractor`` (frame 2048, hop 1024: Bark bands and their shape
  statistics, MFCC, flux, roll-off, flatness, crest, decrease, complexity, HFC, ZCR, pitch
  salience, silence rates, energy bands, tristimulus, inharmonicity...) -> mean and
  stdev per column, plus clip-level ``Danceability``, ``PercivalBpmEstimator`` (BPM),
  ``KeyExtractor`` (key strength, major/minor), ``DynamicComplexity`` (complexity,
  loudness). About 0.05-0.1 s per 10 s clip on one core.
* ``"music"`` (paper): essentia's ``MusicExtractor`` — the extractor AcousticBrainz ran
  — on the audio file between ``clip_start`` and ``clip_start + clip_seconds`` (44.1 kHz
  analysis), ``lowlevel``/``rhythm``/``tonal`` numeric descriptors with mean/stdev
  statistics, flattened in a fixed order taken from the first pre-training track
  (variable-length outputs such as beat positions are dropped). About 1.5 s per clip.

Work is spread over ``workers`` processes (essentia holds the GIL). Standardised values are
clipped to ``±clip_z`` (10) so that descriptors nearly constant over the pool cannot
dominate inner products; undefined values (NaN) become 0, the pool's mean. If essentia cannot
be imported, :meth:`check_available` raises :class:`~encoders.base.EncoderUnavailable`
with the import error; nothing else stands in for it.

The project installs essentia through ``essentia-tensorflow`` (the same library plus the
TensorFlow algorithms the MusiCNN encoders run; it conflicts with plain ``essentia``).
The two wheels of 2.1b6.dev1389 give different values for 30 of the 144 ``lowlevel``
descriptors (pitch, inharmonicity, tristimulus, Bark-band shape, crest, roll-off, ZCR...;
measured on the MusiCNN parity clips), so version 2 of this encoder (essentia-tensorflow)
does not reuse version 1's cells; both distributions are in ``output_libraries``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from encoders.base import Encoder, EncoderMeta, EncoderUnavailable

SR = 16000
EXTRACTORS = ("lowlevel", "music")
_VARIABLE = ("rhythm.beats_position", "rhythm.onset_times", "rhythm.bpm_intervals", "metadata.")


def _quiet_essentia():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # essentia-tensorflow's TF runtime logs at import
    import essentia

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es

    return es


def _stats(name: str, x: np.ndarray) -> tuple[list[str], list[float]]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] == 0:
        x = np.full((1, x.shape[1] if x.ndim == 2 else 1), np.nan)
    mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    k = x.shape[1]
    names = ([f"{name}.mean"] if k == 1 else [f"{name}.mean.{j}" for j in range(k)])
    names += ([f"{name}.stdev"] if k == 1 else [f"{name}.stdev.{j}" for j in range(k)])
    return names, [*mean.tolist(), *std.tolist()]


def lowlevel_descriptors(y: np.ndarray, sample_rate: int = SR, frame: int = 2048, hop: int = 1024
                         ) -> tuple[list[str], np.ndarray]:
    """Descriptor names and values of one mono clip (see the module docstring)."""
    es = _quiet_essentia()
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.shape[0] < frame:
        y = np.pad(y, (0, frame - y.shape[0]))
    names: list[str] = []
    vals: list[float] = []
    ext = es.LowLevelSpectralExtractor(frameSize=frame, hopSize=hop, sampleRate=sample_rate)
    for out_name, out in zip(ext.outputNames(), ext(y)):
        n, v = _stats(f"lowlevel.{out_name}", np.asarray(out))
        names += n
        vals += v
    dance = es.Danceability(sampleRate=sample_rate)(y)[0]
    bpm = es.PercivalBpmEstimator(sampleRate=sample_rate)(y)
    _key, scale, strength = es.KeyExtractor(sampleRate=sample_rate)(y)
    dyn, loud = es.DynamicComplexity(sampleRate=sample_rate)(y)
    names += ["rhythm.danceability", "rhythm.bpm", "tonal.key_strength", "tonal.key_scale_major",
              "lowlevel.dynamic_complexity", "lowlevel.loudness_db"]
    vals += [float(dance), float(bpm), float(strength), 1.0 if scale == "major" else 0.0, float(dyn), float(loud)]
    return names, np.asarray(vals, dtype=np.float64)


def music_descriptors(path: str, start: float, end: float) -> tuple[list[str], list[np.ndarray]]:
    """essentia's ``MusicExtractor`` on ``path`` between ``start`` and ``end`` seconds:
    names and flattened numeric values (one array per descriptor)."""
    es = _quiet_essentia()
    ex = es.MusicExtractor(lowlevelStats=["mean", "stdev"], rhythmStats=["mean", "stdev"],
                           tonalStats=["mean", "stdev"], startTime=float(start), endTime=float(end))
    pool, _frames = ex(path)
    names, values = [], []
    for n in sorted(pool.descriptorNames()):
        if n.startswith(_VARIABLE):
            continue
        v = pool[n]
        if isinstance(v, int | float):
            arr = np.array([float(v)])
        elif isinstance(v, np.ndarray) and v.dtype.kind in "fiu":
            arr = v.astype(np.float64).reshape(-1)
        else:
            continue  # strings (key names...) and other non-numeric outputs
        names.append(n)
        values.append(arr)
    return names, values


def _chunk(root: str, ids: list[str], mode: str, frame: int, hop: int) -> list[tuple[list[str], Any]]:
    """Worker: descriptors of ``ids`` of the dataset at ``root`` (process-pool friendly)."""
    from benchmark.core.dataset import Dataset

    ds = Dataset(root)
    out = []
    for tid in ids:
        if mode == "lowlevel":
            out.append(lowlevel_descriptors(ds.load_audio(tid, SR), SR, frame, hop))
        else:
            t = ds.tracks[tid]
            out.append(music_descriptors(str(ds.audio_path(tid)), t.clip_start, t.clip_start + ds.clip_seconds))
    return out


class EssentiaDescriptorsEncoder(Encoder):
    meta = EncoderMeta(
        name="essentia-descriptors",
        version="2",  # 2: computed with essentia-tensorflow's build of essentia (differs from plain essentia)
        description="AcousticBrainz-style hand-crafted descriptors (essentia low-level spectral, rhythm, "
                    "tonal; mean/stdev), standardised with pre-training-pool statistics",
        dim=None,  # lowlevel: 144; music: set by MusicExtractor's outputs (known after fit)
        sample_rate=SR,  # "lowlevel"; "music" analyses the file at 44.1 kHz
        modalities=("audio",),
        trains=True,
        trains_on="pretrain pool (standardisation statistics only)",
        weights="none (hand-crafted descriptors)",
        citation="Bogdanov et al., Essentia: an audio analysis library for music information retrieval, "
                 "ISMIR 2013; Porter et al., AcousticBrainz, ISMIR 2015 (LBD)",
        requires=("essentia",),
        paper_row=None,
        tags=("baseline", "seed-paper", "hand-crafted"),
        weights_source="none (hand-crafted descriptors; mean/std fitted on the pre-training pool)",
        licence_code="MIT; essentia AGPL-3.0-only",
        licence_weights="none (no learned weights; the standardisation statistics are fitted in-repo, MIT)",
        output_libraries=("essentia", "essentia-tensorflow"),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "extractor": "lowlevel",
        "frame_size": 2048,
        "hop_size": 1024,
        "workers": None,  # processes; None = all CPUs this process may use
        "mp_context": None,  # multiprocessing start method; None = "fork" where available, else "spawn"
        "stats_split": "pretrain",  # where standardisation statistics come from (falls back to train)
        "clip_z": 10.0,  # clip standardised values to +-clip_z (None: no clipping)
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"extractor": "lowlevel"}, "quick": {"extractor": "lowlevel"}, "paper": {"extractor": "music"},
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["extractor"] not in EXTRACTORS:
            raise ValueError(f"essentia-descriptors: extractor must be one of {EXTRACTORS}")
        if self.config["stats_split"] not in ("pretrain", "train"):
            raise ValueError("essentia-descriptors: stats_split must be 'pretrain' or 'train'")
        self.names: list[str] | None = None
        self.sizes: list[int] | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.fit_report: dict[str, Any] | None = None

    def check_available(self) -> None:
        try:
            _quiet_essentia()
        except Exception as e:  # ImportError, or a broken binary wheel
            raise EncoderUnavailable(
                f"essentia-descriptors needs essentia (pip install essentia-tensorflow, the project's dependency; "
                f"plain essentia also works but computes some descriptors differently): import failed with {type(e).__name__}: {e}") from e

    def output_dim(self) -> int:
        if self.names is not None:
            return len(self.names)
        if self.config["extractor"] == "lowlevel":
            names, _ = lowlevel_descriptors(np.zeros(SR, np.float32), SR, int(self.config["frame_size"]),
                                            int(self.config["hop_size"]))
            return len(names)
        raise RuntimeError("essentia-descriptors: with extractor='music' the dimension is known after fit()")

    # -- computing -----------------------------------------------------------------------
    def _workers(self) -> int:
        from benchmark.core.runtime import cpu_count

        w = self.config["workers"]
        return cpu_count() if not w or w <= 0 else int(w)

    def _raw(self, dataset: Dataset, ids: Sequence[str]) -> list[tuple[list[str], Any]]:
        mode, frame, hop = self.config["extractor"], int(self.config["frame_size"]), int(self.config["hop_size"])
        ids = list(ids)
        nw = min(self._workers(), max(1, len(ids) // 16))
        if nw <= 1:
            return _chunk(str(dataset.root), ids, mode, frame, hop)
        import logging
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        size = max(8, -(-len(ids) // (nw * 4)))
        parts = [ids[i:i + size] for i in range(0, len(ids), size)]
        # "fork" by default on Linux: workers only run essentia/soundfile (no torch), and unlike
        # "spawn" it does not re-import the caller's __main__ (scripts without a main guard)
        method = self.config["mp_context"] or ("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        out: list[tuple[list[str], Any]] = []
        try:
            with ProcessPoolExecutor(max_workers=nw, mp_context=mp.get_context(method)) as ex:
                for res in ex.map(_chunk, [str(dataset.root)] * len(parts), parts, [mode] * len(parts),
                                  [frame] * len(parts), [hop] * len(parts)):
                    out.extend(res)
        except BrokenProcessPool as e:
            logging.getLogger(__name__).warning("essentia-descriptors: process pool failed (%s); computing serially", e)
            return _chunk(str(dataset.root), ids, mode, frame, hop)
        return out

    def _matrix(self, raw: list[tuple[list[str], Any]]) -> np.ndarray:
        """Rows in the fixed layout (``self.names``); missing or odd-sized parts become NaN."""
        assert self.names is not None and self.sizes is not None
        X = np.full((len(raw), len(self.names)), np.nan)
        if self.config["extractor"] == "lowlevel":
            for i, (names, vals) in enumerate(raw):
                if names != self.names:
                    raise RuntimeError("essentia-descriptors: descriptor layout changed between tracks")
                X[i] = vals
            return X
        keys = self._music_keys()
        for i, (names, arrays) in enumerate(raw):
            got = dict(zip(names, arrays))
            col = 0
            for key, size in zip(keys, self.sizes):
                v = got.get(key)
                if v is not None and v.size == size:
                    X[i, col:col + size] = v
                col += size
        return X

    def _music_keys(self) -> list[str]:
        assert self.names is not None
        seen: list[str] = []
        for n in self.names:
            k = n.rsplit("#", 1)[0]
            if not seen or seen[-1] != k:
                seen.append(k)
        return seen

    def _set_layout(self, first: tuple[list[str], Any]) -> None:
        names, vals = first
        if self.config["extractor"] == "lowlevel":
            self.names, self.sizes = list(names), [1] * len(names)
        else:
            self.names = [f"{n}#{j}" for n, v in zip(names, vals) for j in range(v.size)]
            self.sizes = [int(v.size) for v in vals]

    # -- protocol ------------------------------------------------------------------------
    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        import time

        from encoders._baselines.train import load_state, save_state

        path = Path(workdir) / "stats.safetensors"
        if path.is_file():
            state, meta = load_state(path)
            self.mean, self.std = state["mean"].numpy(), state["std"].numpy()
            self.names, self.sizes = meta["names"], meta["sizes"]
            self.fit_report = {"cached": True, **meta["report"]}
            return self.fit_report
        split = self.config["stats_split"]
        ids = dataset.track_ids(split)
        note = None
        if len(ids) < 2 and split == "pretrain":
            ids, note = dataset.track_ids("train"), "no pre-training pool: statistics of the train split"
        t0 = time.perf_counter()
        raw = self._raw(dataset, ids)
        self._set_layout(raw[0])
        X = self._matrix(raw)
        mean = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        report = {"stats_from": f"{split if note is None else 'train'} ({len(ids)} tracks)",
                  "dim": len(self.names or []), "seconds": round(time.perf_counter() - t0, 3)}
        if note:
            report["note"] = note
        import torch

        save_state(path, {"mean": torch.from_numpy(self.mean), "std": torch.from_numpy(self.std)},
                   {"names": self.names, "sizes": self.sizes, "report": report})
        self.fit_report = report
        return report

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise RuntimeError("essentia-descriptors: call fit() first (it computes the standardisation "
                               "statistics of the pre-training pool)")
        if not len(track_ids):
            return np.zeros((0, len(self.mean)), dtype=np.float32)
        X = self._matrix(self._raw(dataset, track_ids))
        Z = (X - self.mean) / self.std
        Z[~np.isfinite(Z)] = 0.0  # undefined descriptors -> the pool's mean
        if self.config["clip_z"] is not None:  # near-constant pool columns must not dominate
            Z = np.clip(Z, -float(self.config["clip_z"]), float(self.config["clip_z"]))
        return Z.astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {"extractor": self.config["extractor"], "dim": None if self.names is None else len(self.names),
                "fit_report": self.fit_report, "names_head": json.dumps((self.names or [])[:10])}
