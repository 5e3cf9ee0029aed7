"""``melstats``: a fast, deterministic hand-crafted audio baseline (log-mel statistics).

Per clip, at 16 kHz: a 64-band log-mel spectrogram (n_fft 512, hop 256, Slaney mel,
dB) summarised by each band's mean, standard deviation and the standard deviation of its
frame-to-frame difference ("delta" variability), plus nine global descriptors: spectral
centroid (mean, std), spread, 85 % roll-off, flatness, frame energy in dB (mean, std),
zero-crossing rate and mean positive spectral flux. Frequencies are expressed as
fractions of the Nyquist frequency. 3·n_mels + 9 = 201 dimensions by default.

Standardisation (``standardize="pretrain"``, the default) z-scores every feature with a
mean and standard deviation computed on the dataset's **pre-training pool** (tracks that
belong to no benchmark playlist; the ``train`` split if the pool is empty — the fit
report and :attr:`MelStatsEncoder.stats_split` say which), never on the tracks being
embedded, so nothing leaks across splits. ``standardize="none"`` uses the raw features
(dB values scaled by 1/10). Either way the vector is then L2-normalised.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.evaluation import EmbeddingValidator
from encoders.base import EmbedStages, Encoder, EncoderMeta

GLOBAL_FEATURES = ("centroid_mean", "centroid_std", "spread_mean", "rolloff85_mean",
                   "flatness_mean", "energy_db_mean", "energy_db_std", "zcr", "flux_mean")
_DB_SCALE = 0.1  # dB values /10 so raw features have comparable magnitudes


def feature_names(n_mels: int = 64) -> list[str]:
    """Names of the :func:`melstats_features` columns, in order."""
    return ([f"mel{i:02d}_mean" for i in range(n_mels)] + [f"mel{i:02d}_std" for i in range(n_mels)]
            + [f"mel{i:02d}_dstd" for i in range(n_mels)] + list(GLOBAL_FEATURES))


def melstats_features(wav: Any, sample_rate: int = 16000, *, n_mels: int = 64, n_fft: int = 512,
                      hop_length: int = 256, fmin: float = 30.0, fmax: float | None = None,
                      frontend: Any = None) -> Any:
    """Raw (unstandardised) features of waveforms ``[B, T]`` (torch tensor or NumPy array)
    -> ``float32 [B, 3·n_mels + 9]`` torch tensor (see :func:`feature_names`).

    The spectral descriptors are computed on the mel power spectrum (each band located at
    its centre frequency), which is 4x cheaper than on the linear spectrum and as good a
    summary for a baseline. ``frontend`` reuses a :func:`encoders._audio.LogMel` module.
    """
    import torch

    from encoders._audio import LogMel

    x = wav if isinstance(wav, torch.Tensor) else torch.from_numpy(np.asarray(wav, dtype=np.float32))
    x = x.to(torch.float32)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    fe = frontend if frontend is not None else LogMel(sample_rate, n_fft=n_fft, hop_length=hop_length,
                                                      n_mels=n_mels, fmin=fmin, fmax=fmax, log="db")
    mel = torch.matmul(fe.mel_fb, fe.power_spectrogram(x))  # [B, M, N] power
    n_mels = mel.shape[1]
    mel_db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
    band_mean = mel_db.mean(-1)
    band_std = mel_db.std(-1, unbiased=False)
    dmel = mel_db[..., 1:] - mel_db[..., :-1]
    if dmel.shape[-1] > 0:
        band_dstd = dmel.std(-1, unbiased=False)
        flux = torch.relu(dmel).mean((1, 2))
    else:
        band_dstd, flux = torch.zeros_like(band_mean), x.new_zeros(x.shape[0])

    # band centres as fractions of the Nyquist frequency
    centres = fe.band_centres() / (sample_rate / 2.0)
    freqs = torch.tensor(centres, dtype=mel.dtype)[None, :, None]
    total = mel.sum(1, keepdim=True)  # [B, 1, N]
    pn = mel / torch.clamp(total, min=1e-12)
    centroid = (freqs * pn).sum(1)  # [B, N]
    spread = torch.sqrt(torch.clamp((freqs.square() * pn).sum(1) - centroid.square(), min=0.0))
    below = (torch.cumsum(pn, 1) < 0.85).sum(1).clamp(max=n_mels - 1)
    rolloff = torch.as_tensor(centres, dtype=mel.dtype)[below]
    flatness = torch.exp(torch.log(mel + 1e-10).mean(1)) / (mel.mean(1) + 1e-10)
    energy_db = 10.0 * torch.log10(torch.clamp(total[:, 0], min=1e-10))
    zcr = ((x[:, 1:] * x[:, :-1]) < 0).to(torch.float32).mean(1) if x.shape[1] > 1 else x.new_zeros(x.shape[0])
    glob = torch.stack([
        centroid.mean(1), centroid.std(1, unbiased=False), spread.mean(1), rolloff.mean(1),
        flatness.mean(1), energy_db.mean(1) * _DB_SCALE, energy_db.std(1, unbiased=False) * _DB_SCALE,
        zcr, flux * _DB_SCALE,
    ], dim=1)
    feats = torch.cat([band_mean * _DB_SCALE, band_std * _DB_SCALE, band_dstd * _DB_SCALE, glob], dim=1)
    return feats.to(torch.float32)


class MelStatsEncoder(Encoder):
    meta = EncoderMeta(
        name="melstats",
        version="1",
        description="Log-mel statistics (per-band mean/std/delta-std + 9 spectral descriptors), "
                    "z-scored with pre-training-pool statistics, L2-normalised",
        dim=None,  # 3 * n_mels + 9 (201 by default)
        sample_rate=16000,
        modalities=("audio",),
        trains=True,
        trains_on="feature mean/std of the pretrain pool (train split if the pool is empty)",
        weights="none (hand-crafted features)",
        citation="Hand-crafted spectral-statistics baseline in the spirit of AcousticBrainz low-level "
                 "descriptors (Porter et al., ISMIR 2015 LBD) and MFCC-statistics baselines "
                 "(Tzanetakis & Cook, IEEE TSAP 2002)",
        requires=("torch",),
        paper_row=None,
        tags=("baseline", "handcrafted"),
        weights_source="none (hand-crafted features)",
        licence_code="MIT",
        licence_weights="none (no learned weights)",
        output_libraries=("torch",),
    )
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "clip_seconds": None,  # None = the dataset's clip length
        "n_mels": 64,
        "n_fft": 512,
        "hop_length": 256,
        "fmin": 30.0,
        "fmax": None,  # None = Nyquist
        "standardize": "pretrain",  # "pretrain" (pool statistics, train split as fallback) or "none"
        "stats_max_tracks": 2000,  # evenly spaced subset of the pool used for the statistics
        "batch_size": 32,
        "num_threads": None,
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {
        "ci": {"stats_max_tracks": 200},
        "quick": {},
        "paper": {},
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["standardize"] not in ("pretrain", "none"):
            raise ValueError(f"melstats: standardize must be 'pretrain' or 'none', not {self.config['standardize']!r}")
        self._frontend: Any = None
        self.stats_split: str | None = None
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None

    def output_dim(self) -> int:
        return 3 * int(self.config["n_mels"]) + len(GLOBAL_FEATURES)

    # -- raw features ------------------------------------------------------------------
    def _raw(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        import torch

        from benchmark.core.runtime import torch_threads
        from encoders._audio import LogMel, iter_audio_batches

        c = self.config
        sr = int(c["sample_rate"])
        if self._frontend is None:
            self._frontend = LogMel(sr, n_fft=int(c["n_fft"]), hop_length=int(c["hop_length"]),
                                    n_mels=int(c["n_mels"]), fmin=float(c["fmin"]), fmax=c["fmax"], log="db")
        out = np.zeros((len(track_ids), self.output_dim()), dtype=np.float32)
        with torch_threads(c["num_threads"]), torch.inference_mode():
            for rows, audio in iter_audio_batches(dataset, track_ids, sr, c["clip_seconds"],
                                                  batch_size=int(c["batch_size"])):
                out[rows] = melstats_features(torch.from_numpy(audio), sr, frontend=self._frontend).numpy()
        return out

    # -- standardisation ---------------------------------------------------------------
    def _stats_ids(self, dataset: Dataset) -> tuple[str, list[str]]:
        split = "pretrain"
        ids = dataset.track_ids("pretrain")
        if not ids:
            split, ids = "train", dataset.track_ids("train")
        if not ids:
            raise ValueError(f"melstats: dataset {dataset.name!r} has neither pretrain nor train tracks for statistics")
        k = int(self.config["stats_max_tracks"])
        if 0 < k < len(ids):
            idx = np.unique(np.linspace(0, len(ids) - 1, k).round().astype(int))
            ids = [ids[i] for i in idx]
        return split, ids

    def _compute_stats(self, dataset: Dataset) -> dict[str, Any]:
        split, ids = self._stats_ids(dataset)
        feats = self._raw(dataset, ids).astype(np.float64)
        mean = feats.mean(0)
        std = feats.std(0)
        self._mean = mean.astype(np.float32)
        self._std = np.maximum(std, 1e-4).astype(np.float32)
        self.stats_split = split
        return {"stats_split": split, "stats_tracks": len(ids), "dataset_hash": dataset.content_hash}

    def fit(self, dataset: Dataset, *, seed: int, workdir: Path,
            validator: EmbeddingValidator | None = None) -> dict[str, Any]:
        if self.config["standardize"] == "none":
            return {"stats_split": None}
        report = self._compute_stats(dataset)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        assert self._mean is not None and self._std is not None
        np.savez(workdir / "melstats_stats.npz", mean=self._mean, std=self._std)
        (workdir / "melstats_stats.json").write_text(json.dumps(report, indent=1) + "\n")
        return report

    def state_files(self, workdir: Path) -> list[Path]:
        p = Path(workdir) / "melstats_stats.npz"
        return [p] if p.is_file() else []

    def embed_stages(self, dataset: Dataset) -> EmbedStages:
        if self.config["standardize"] == "pretrain" and self._mean is None:
            self._compute_stats(dataset)
        return EmbedStages(self._raw, self._finish,
                           note="no model: the front end holds the log-mel statistics, the forward "
                                "their standardisation")

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        if self.config["standardize"] == "pretrain" and self._mean is None:
            self._compute_stats(dataset)  # deterministic: the same as fit() would compute
        return self._finish(self._raw(dataset, track_ids))

    def _finish(self, x: np.ndarray) -> np.ndarray:
        if self.config["standardize"] == "pretrain":
            assert self._mean is not None and self._std is not None
            x = np.clip((x - self._mean) / self._std, -20.0, 20.0)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.maximum(norms, 1e-12)
        return np.ascontiguousarray(x, dtype=np.float32)
