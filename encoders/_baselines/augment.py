"""Augmentation families of SiamRec (Hong, KAIST KSE801 2021; HongSungRae/SiamRec), each
drawn from an explicit ``numpy.random.Generator`` so training is reproducible.

* **pedalboard** (waveform): SiamRec's chain ``Compressor(0 dB, ratio 1, 1 ms, 100 ms)
  -> Gain(U{-15..29} dB) -> Chorus(rate U{1..6} Hz, depth U{0..3}, centre delay 4 ms,
  feedback 0, mix 0.5) -> LadderFilter(HPF12, 200 Hz, resonance 0, drive U{1..5})
  -> Phaser(rate U{-5..5} Hz, depth U{-10..9}, feedback 0.25, mix 1) ->
  Distortion(drive U{0..19} dB) -> Reverb(room size, damping, wet, dry, width,
  freeze mode ~ U[0, 1)) `` — the integer ranges are Python's ``randrange`` bounds of the
  original code. Needs the ``pedalboard`` package; without it :func:`pedalboard_chain`
  raises :class:`~encoders.base.EncoderUnavailable` (only this family is unavailable).
  Output is not clipped (reverb's wet+dry can exceed 1, as in the original).
* **randommix** (waveform): cut the clip into ``n_patches`` (12) equal patches and
  shuffle them; a tail shorter than a patch stays in place (the original required the
  length to be divisible).
* **specaug** (log-mel "image"): random time crop of ``crop`` of the frames stretched back
  to full length, then frequency and time masks filled with the spectrogram's mean. It
  stands in for SiamRec's ``image`` family (rendered spectrogram images with albumentations
  flips/crops/colour changes, which its code had commented out).
"""

from __future__ import annotations

import numpy as np

FAMILIES = ("pedalboard", "randommix", "specaug")
WAVE_FAMILIES = ("pedalboard", "randommix")


def pedalboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("pedalboard") is not None


def pedalboard_chain(rng: np.random.Generator, sample_rate: int):  # -> pedalboard.Pedalboard
    """SiamRec's effect chain with parameters drawn from ``rng``."""
    try:
        from pedalboard import (
            Chorus,
            Compressor,
            Distortion,
            Gain,
            LadderFilter,
            Pedalboard,
            Phaser,
            Reverb,
        )
    except ImportError as e:
        from encoders.base import EncoderUnavailable

        raise EncoderUnavailable(
            "the 'pedalboard' augmentation family needs the pedalboard package (pip install pedalboard); "
            "the 'randommix' and 'specaug' families work without it"
        ) from e

    def randrange(lo: int, hi: int) -> int:  # Python's random.randrange(lo, hi): lo..hi-1
        return int(rng.integers(lo, hi))

    return Pedalboard([
        Compressor(threshold_db=0, ratio=1, attack_ms=1, release_ms=100),
        Gain(gain_db=randrange(-15, 30)),
        Chorus(rate_hz=randrange(1, 7), depth=randrange(0, 4), centre_delay_ms=4.0, feedback=0.0, mix=0.5),
        LadderFilter(mode=LadderFilter.Mode.HPF12, cutoff_hz=200, resonance=0, drive=randrange(1, 6)),
        Phaser(rate_hz=randrange(-5, 6), depth=randrange(-10, 10), feedback=0.25, mix=1.0),
        Distortion(drive_db=randrange(0, 20)),
        Reverb(room_size=float(rng.random()), damping=float(rng.random()), wet_level=float(rng.random()),
               dry_level=float(rng.random()), width=float(rng.random()), freeze_mode=float(rng.random())),
    ])  # the sample rate is given when the board is applied


def pedalboard_augment(wav: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Apply a freshly drawn chain to each row of ``wav [B, T]`` (float32 out, same shape)."""
    wav = np.asarray(wav, dtype=np.float32)
    out = np.empty_like(wav)
    for i in range(wav.shape[0]):
        board = pedalboard_chain(rng, sample_rate)
        y = board(np.ascontiguousarray(wav[i]), sample_rate)
        y = np.asarray(y, dtype=np.float32).reshape(-1)[: wav.shape[1]]
        out[i, : y.shape[0]] = y
        out[i, y.shape[0]:] = 0.0
        if not np.isfinite(out[i]).all():  # a pathological chain: fall back to the input
            out[i] = wav[i]
    return out


def random_mix(wav: np.ndarray, rng: np.random.Generator, n_patches: int = 12) -> np.ndarray:
    """Shuffle ``n_patches`` equal patches of each row of ``wav [B, T]``."""
    wav = np.asarray(wav, dtype=np.float32)
    if n_patches < 1:
        raise ValueError("n_patches must be >= 1")
    size = wav.shape[1] // n_patches
    out = wav.copy()
    if size == 0:
        return out
    body = n_patches * size
    for i in range(wav.shape[0]):
        order = rng.permutation(n_patches)
        out[i, :body] = wav[i, :body].reshape(n_patches, size)[order].reshape(-1)
    return out


def spec_augment(mel: np.ndarray, rng: np.random.Generator, *, crop: float = 0.8, freq_masks: int = 2,
                 freq_width: int = 12, time_masks: int = 2, time_width: int = 20) -> np.ndarray:
    """Image-style augmentation of log-mels ``[B, F, T]``: random time crop (a fraction
    ``crop`` to 1 of the frames) stretched back to ``T`` frames by linear interpolation,
    then ``freq_masks`` bands of up to ``freq_width`` bins and ``time_masks`` spans of up to
    ``time_width`` frames set to the example's mean. Shapes are kept; values stay within
    the input's range."""
    x = np.asarray(mel, dtype=np.float32)
    b, nf, nt = x.shape
    out = np.empty_like(x)
    for i in range(b):
        m = x[i]
        if crop < 1.0 and nt > 2:
            keep = round(nt * float(rng.uniform(crop, 1.0)))
            keep = max(2, min(nt, keep))
            s = int(rng.integers(0, nt - keep + 1))
            src = np.linspace(s, s + keep - 1, nt)
            lo = np.floor(src).astype(int)
            hi = np.minimum(lo + 1, nt - 1)
            w = (src - lo).astype(np.float32)
            m = m[:, lo] * (1.0 - w) + m[:, hi] * w
        else:
            m = m.copy()
        fill = float(m.mean())
        for _ in range(freq_masks):
            w_ = int(rng.integers(0, freq_width + 1))
            f0 = int(rng.integers(0, max(1, nf - w_ + 1)))
            m[f0:f0 + w_, :] = fill
        for _ in range(time_masks):
            w_ = int(rng.integers(0, time_width + 1))
            t0 = int(rng.integers(0, max(1, nt - w_ + 1)))
            m[:, t0:t0 + w_] = fill
        out[i] = m
    return out
