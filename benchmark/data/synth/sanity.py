"""Does a dataset carry learnable signal? ItemKNN on simple track features.

Evaluates, on one split (default ``test``), the paper's protocol with ItemKNN (playlist
vector = mean of its seed tracks' vectors, inner product with every candidate):

* ``random``  - random Gaussian vectors (chance level);
* ``mel``     - mean and std over time of a 64-band log-mel spectrogram (numpy only),
  z-scored per dimension and L2-normalised: what content alone gives without training;
* ``genre``   - one-hot generator genre (from tracks.csv's ``genre`` column);
* ``artist``  - one-hot artist (the signal that captions can carry).

Protocol: each playlist is shuffled with a fixed seed, the first ``round(n/2)`` tracks are
seeds, the rest the ground truth; candidates are all tracks of the split; seeds are
masked; ``recall@K = hits@K / |ground truth|``. Ties (one-hot features) are broken at
random. It also reports *homogeneity* (the paper's Table 1): the mean pairwise cosine
similarity of the ``mel`` vectors of the tracks of a playlist.

Run ``python -m benchmark.data.synth.sanity DATASET_DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular HTK-style mel filters, [n_mels, n_fft // 2 + 1]."""
    fmax = fmax or sr / 2

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        fb[i] = np.maximum(0.0, np.minimum(up, down))
    return fb


def logmel_stats(wav: np.ndarray, sr: int, fb: np.ndarray, n_fft: int = 1024,
                 hop: int = 512) -> np.ndarray:
    """Mean and std over time of the log-mel spectrogram: [2 * n_mels]."""
    if len(wav) < n_fft:
        wav = np.pad(wav, (0, n_fft - len(wav)))
    n_frames = 1 + (len(wav) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = wav[idx] * np.hanning(n_fft)[None, :]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    logmel = np.log(fb @ power.T + 1e-8)
    return np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)])


def mel_features(ds: Dataset, track_ids: list[str]) -> np.ndarray:
    fb = mel_filterbank(ds.sample_rate, 1024, 64)
    feats = np.stack([logmel_stats(ds.load_audio(t).astype(np.float64), ds.sample_rate, fb)
                      for t in track_ids])
    feats = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-8)
    return feats / np.linalg.norm(feats, axis=1, keepdims=True)


def one_hot(labels: list[str]) -> np.ndarray:
    names = sorted(set(labels))
    index = {n: i for i, n in enumerate(names)}
    out = np.zeros((len(labels), len(names)))
    out[np.arange(len(labels)), [index[x] for x in labels]] = 1.0
    return out


def queries(ds: Dataset, split: str, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """(seeds, ground truth) per playlist of ``split``."""
    out = []
    for i, pid in enumerate(ds.playlist_ids(split)):
        tids = list(ds.playlists[pid])
        rng = np.random.default_rng([seed, i])
        tids = [tids[j] for j in rng.permutation(len(tids))]
        n_seed = round(len(tids) / 2)
        out.append((tids[:n_seed], tids[n_seed:]))
    return out


def itemknn_recall(vecs: np.ndarray, index: dict[str, int],
                   qs: list[tuple[list[str], list[str]]], ks=(10, 20, 40),
                   tie_seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(tie_seed)
    jitter = 1e-9 * rng.random(len(index))
    res: dict[str, list[float]] = {f"recall@{k}": [] for k in ks}
    res.update({f"ndcg@{k}": [] for k in ks})
    for seeds, gt in qs:
        if not gt:
            continue
        s_idx = [index[t] for t in seeds]
        q = vecs[s_idx].mean(axis=0)
        scores = vecs @ q + jitter
        scores[s_idx] = -np.inf
        top = np.argsort(-scores, kind="stable")[: max(ks)]
        gt_set = {index[t] for t in gt}
        hits = np.asarray([1.0 if j in gt_set else 0.0 for j in top])
        for k in ks:
            res[f"recall@{k}"].append(hits[:k].sum() / len(gt_set))
            dcg = float((hits[:k] / np.log2(np.arange(2, k + 2))).sum())
            idcg = float((1.0 / np.log2(np.arange(2, min(len(gt_set), k) + 2))).sum())
            res[f"ndcg@{k}"].append(dcg / idcg)
    return {k: float(np.mean(v)) for k, v in res.items()}


def homogeneity(vecs: np.ndarray, index: dict[str, int], ds: Dataset, split: str) -> float:
    vals = []
    for pid in ds.playlist_ids(split):
        x = vecs[[index[t] for t in ds.playlists[pid]]]
        n = len(x)
        g = x @ x.T
        vals.append((g.sum() - np.trace(g)) / (n * (n - 1)))
    return float(np.mean(vals))


def run(root: Path | str, split: str = "test", seed: int = 0) -> dict[str, dict[str, float]]:
    ds = Dataset(root)
    tids = ds.track_ids(split)
    index = {t: i for i, t in enumerate(tids)}
    qs = queries(ds, split, seed)
    rng = np.random.default_rng(seed)
    feats = {
        "random": rng.standard_normal((len(tids), 64)),
        "mel": mel_features(ds, tids),
    }
    if "genre" in ds.extra_columns:
        feats["genre"] = one_hot([ds.tracks[t].extra["genre"] for t in tids])
    feats["artist"] = one_hot([ds.tracks[t].artist for t in tids])
    out = {name: itemknn_recall(v, index, qs) for name, v in feats.items()}
    out["mel"]["homogeneity"] = homogeneity(feats["mel"], index, ds, split)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root")
    ap.add_argument("--split", default="test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.root, args.split, args.seed)
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"{'features':8s} " + " ".join(f"{k:>10s}" for k in res["random"]))
    for name, r in res.items():
        print(f"{name:8s} " + " ".join(f"{r[k]:10.4f}" for k in res["random"]))
    print(f"homogeneity (mel, mean pairwise cosine in a playlist): {res['mel']['homogeneity']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
