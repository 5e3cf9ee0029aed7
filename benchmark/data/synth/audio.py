"""Procedural audio: one mono clip per track, numpy only.

A track is a small band: a lead melody (motifs from the scale, repeated and transposed
with the chords), a bass line, a chord pad (just-intonation chord spectra), a drum kit
(kick, snare, hats, ride, clave, conga, shaker made from noise and sines) playing the
genre's pattern, an optional echo and noise bed, normalised to the track's loudness.

Speed: notes are rendered once per distinct pitch (band-limited wavetables built with an
inverse FFT, one per harmonic budget) and overlap-added; the drum kit renders one bar (two
variants plus a fill) and tiles it. A 10 s clip at 16 kHz takes a few milliseconds.

Determinism: a track's audio depends only on the seed, its uid and its metadata, never
on the order or the process it is rendered in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .genres import (
    CHORD_RATIOS,
    DRUM_PATTERNS,
    FAMILIES,
    FIELD_INDEX,
    GENRES,
    LEAD_FIELDS,
    MAJORISH,
    PROGRESSIONS,
    SCALE_NAMES,
    SCALES,
    STYLE_FIELDS,
    Genre,
    style_mean,
)
from .presets import SynthConfig
from .world import S_ARTIST_CAT, S_RENDER, _choice_by, rng_for

TABLE = 2048
MASK = TABLE - 1
MAX_HARMONICS = 64
_NOISE_LEN = 1 << 18
_NOISE: np.ndarray | None = None
_ARANGE: np.ndarray = np.zeros(0)
_SINE = np.sin(2.0 * np.pi * np.arange(TABLE) / TABLE).astype(np.float32)


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` samples of white noise: a random slice of a fixed noise bank (fast)."""
    global _NOISE
    if _NOISE is None:
        _NOISE = np.random.default_rng(0x5EED).standard_normal(_NOISE_LEN).astype(np.float32)
    if n >= _NOISE_LEN:
        reps = n // _NOISE_LEN + 1
        return np.tile(_NOISE, reps)[:n]
    off = int(rng.integers(0, _NOISE_LEN - n))
    return _NOISE[off:off + n]


def _arange(n: int) -> np.ndarray:
    global _ARANGE
    if len(_ARANGE) < n:
        _ARANGE = np.arange(max(n, 1 << 18), dtype=np.float64)
    return _ARANGE[:n]


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


# ----------------------------------------------------------------------------- job
@dataclass(frozen=True)
class TrackJob:
    """Everything the renderer needs about one track (small and picklable)."""

    uid: int
    genre: int
    artist: int
    tempo: float
    tonic: int
    scale: int
    meter: int
    loudness: float
    artist_z: tuple[float, ...]
    scene_z: tuple[float, ...]
    era: float = 1.0  # production era in [0, 1] (see :func:`master_era`)


# ----------------------------------------------------------------------------- style
@dataclass
class Style:
    values: dict[str, float]
    lead: dict[str, float]
    family: str
    fm_ratio: float
    drums: str
    bass: str
    pad: str
    progression: list[tuple[int, str]]
    bars_per_chord: int
    drum_mutation: dict[str, str]


def draw_style(job: TrackJob, cfg: SynthConfig, rng: np.random.Generator) -> Style:
    genre: Genre = GENRES[job.genre]
    F = len(job.artist_z)
    z = (cfg.scene_spread * np.asarray(job.scene_z) + cfg.artist_spread * np.asarray(job.artist_z)
         + cfg.style_noise * rng.standard_normal(F))
    values: dict[str, float] = {}
    for name, spec in STYLE_FIELDS.items():
        m, sd = style_mean(genre, name)
        zz = float(z[FIELD_INDEX[name]])
        v = m * math.exp(sd * zz) if spec.log else m + sd * zz
        values[name] = min(spec.hi, max(spec.lo, v))
    values["tempo"], values["loudness"] = job.tempo, job.loudness

    # categorical habits of the artist in this genre; a track follows them or the genre
    arng = rng_for(cfg.seed, S_ARTIST_CAT, job.artist, job.genre)
    habit = {
        "family": _choice_by(arng, genre.families),
        "drums": _choice_by(arng, genre.drums),
        "bass": _choice_by(arng, genre.bass),
        "pad": _choice_by(arng, genre.pads),
        "prog_style": _choice_by(arng, genre.progressions),
        "prog_pick": float(arng.random()),
    }
    mutation = _mutate_pattern(arng, DRUM_PATTERNS[habit["drums"]])

    def pick(key: str, probs: dict[str, float]) -> str:
        return habit[key] if rng.random() < cfg.artist_loyalty else _choice_by(rng, probs)

    family = pick("family", genre.families)
    drums = pick("drums", genre.drums)
    bass = pick("bass", genre.bass)
    pad = pick("pad", genre.pads)
    prog_style = pick("prog_style", genre.progressions)
    mode = "major" if SCALE_NAMES[job.scale] in MAJORISH else "minor"
    progs = PROGRESSIONS[prog_style][mode]
    pp = habit["prog_pick"] if rng.random() < cfg.artist_loyalty else float(rng.random())
    progression = progs[min(int(pp * len(progs)), len(progs) - 1)]

    fam = FAMILIES[family]
    lead: dict[str, float] = {}
    for name, spec in LEAD_FIELDS.items():
        m = fam.get(name, spec.mean) + genre.lead_shift.get(name, 0.0)
        zz = float(z[FIELD_INDEX[f"lead_{name}"]])
        v = m * math.exp(spec.sd * zz) if spec.log else m + spec.sd * zz
        lead[name] = min(spec.hi, max(spec.lo, v))
    bars_per_chord = 2 if (job.tempo > 140 or rng.random() < 0.25) else 1
    return Style(values, lead, family, float(fam.get("fm_ratio", 1.0)), drums, bass, pad,
                 list(progression), bars_per_chord,
                 mutation if drums == habit["drums"] else DRUM_PATTERNS[drums])


def _mutate_pattern(rng: np.random.Generator, pattern: dict[str, str]) -> dict[str, str]:
    """An artist's personal variant of a drum pattern (added ghost notes, dropped hits)."""
    out = {}
    for inst, row in pattern.items():
        chars = list(row)
        for i, c in enumerate(chars):
            protected = i == 0 or (inst == "snare" and i % 4 == 0)
            if c == "." and inst in ("kick", "hat", "shaker", "conga") and rng.random() < 0.07:
                chars[i] = str(int(rng.integers(2, 6)))
            elif c != "." and not protected and rng.random() < 0.08:
                chars[i] = "."
        out[inst] = "".join(chars)
    return out


# ----------------------------------------------------------------------------- tables
def _harmonic_amps(slope: float, even: float, formant: float, formant_gain: float) -> np.ndarray:
    k = np.arange(1, MAX_HARMONICS + 1, dtype=np.float64)
    amps = k ** (-slope)
    amps[1::2] *= even
    amps *= 1.0 + formant_gain * np.exp(-0.5 * ((np.log2(k) - math.log2(formant)) / 0.6) ** 2)
    return amps


def _fm_spectrum(ratio: float, index: float) -> np.ndarray:
    ph = np.arange(TABLE) / TABLE
    wave = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * ratio * ph))
    return np.fft.rfft(wave)


def _table_from_spectrum(spec: np.ndarray, kmax: int, drive: float) -> np.ndarray:
    spec = spec.copy()
    spec[0] = 0.0
    spec[kmax + 1:] = 0.0
    tab = np.fft.irfft(spec, TABLE)
    if drive > 0.05:
        peak = float(np.max(np.abs(tab))) or 1.0
        tab = np.tanh(drive * tab / peak)
        s2 = np.fft.rfft(tab)
        s2[0] = 0.0
        s2[kmax + 1:] = 0.0
        tab = np.fft.irfft(s2, TABLE)
    rms = float(np.sqrt(np.mean(tab * tab))) or 1.0
    tab = tab * (0.5 / rms)
    return np.append(tab, tab[0]).astype(np.float32)  # wrap entry for interpolation


def _lerp(table: np.ndarray, i0: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Linear interpolation in a wrapped table (``table`` has TABLE + 1 entries)."""
    a = table[i0]
    return a + frac * (table[i0 + 1] - a)


class _Instrument:
    """Band-limited wavetables (one per harmonic budget) plus an ADSR envelope."""

    def __init__(self, sr: int, spectrum: np.ndarray, *, attack: float, decay: float,
                 sustain: float, release: float, drive: float = 0.0,
                 dull_spectrum: np.ndarray | None = None, bright_decay: float = 0.0,
                 vibrato: float = 0.0, vib_rate: float = 5.0, cutoff: float = 0.0) -> None:
        self.sr = sr
        self.cutoff = cutoff
        self.spectrum = spectrum
        self.dull = dull_spectrum
        self.drive = drive
        self.attack = max(1.0, attack * sr)
        self.decay = max(1.0, decay * sr)
        self.sustain = sustain
        self.release = max(8, int(release * sr))
        self.bright_decay = bright_decay * sr
        self.vibrato = vibrato
        self.vib_rate = vib_rate
        self._tables: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._ramps: dict[int, np.ndarray] = {}
        self._curve_len = 0
        self._env = np.zeros(0, dtype=np.float32)
        self._bmix: np.ndarray | None = None
        self._lfo: np.ndarray | None = None

    def tables(self, freq: float) -> tuple[np.ndarray, np.ndarray | None]:
        nyq_harm = int(0.45 * self.sr / max(freq, 1.0))
        kmax = max(1, min(nyq_harm, len(self.spectrum) - 2))
        if kmax not in self._tables:
            spec, dull = self.spectrum, self.dull
            if self.cutoff:
                # a low-pass on absolute frequency (2nd order), for the band's typical f0
                f0 = 0.45 * self.sr / (kmax + 0.5) if nyq_harm < len(self.spectrum) - 2 else freq
                k = np.arange(len(spec), dtype=np.float64)
                lp = 1.0 / np.sqrt(1.0 + (k * f0 / self.cutoff) ** 4)
                spec = spec * lp
                dull = dull * lp if dull is not None else None
            bright = _table_from_spectrum(spec, kmax, self.drive)
            dull = (_table_from_spectrum(dull, kmax, self.drive)
                    if self.dull is not None and self.bright_decay > 1 else None)
            self._tables[kmax] = (bright, dull)
        return self._tables[kmax]

    def _curves(self, length: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Envelope, brightness mix and vibrato LFO over ``length`` samples (shared by all
        notes of the instrument, so computed once)."""
        if self._curve_len < length:
            t = _arange(length)
            env = np.minimum(t / self.attack, 1.0)
            env *= self.sustain + (1.0 - self.sustain) * np.exp(-t / self.decay)
            self._env = env.astype(np.float32)
            self._bmix = (np.exp(-t / self.bright_decay).astype(np.float32)
                          if self.dull is not None and self.bright_decay > 1 else None)
            if self.vibrato > 0.005:
                lfo_idx = (t * (self.vib_rate / self.sr * TABLE)).astype(np.int64) & MASK
                self._lfo = _SINE[lfo_idx].astype(np.float64)
            else:
                self._lfo = None
            self._curve_len = length
        bmix = self._bmix[:length] if self._bmix is not None else None
        lfo = self._lfo[:length] if self._lfo is not None else None
        return self._env[:length], bmix, lfo

    def note(self, freq: float, length: int) -> np.ndarray:
        env, bmix, lfo = self._curves(length)
        phase = _arange(length) * (freq / self.sr)
        if lfo is not None:
            dev = freq * (2.0 ** (self.vibrato / 12.0) - 1.0)
            phase += (dev / (2 * np.pi * self.vib_rate)) * lfo
        pos = phase * TABLE
        i0 = pos.astype(np.int64)
        frac = (pos - i0).astype(np.float32)
        i0 &= MASK
        bright, dull = self.tables(freq)
        wave = _lerp(bright, i0, frac)
        if dull is not None and bmix is not None:
            d = _lerp(dull, i0, frac)
            wave = d + (wave - d) * bmix
        return wave * env

    def ramp(self, n: int) -> np.ndarray:
        if n not in self._ramps:
            self._ramps[n] = np.linspace(1.0, 0.0, n, dtype=np.float32)
        return self._ramps[n]

    def play(self, out: np.ndarray, notes: list[tuple[float, float, float, float]],
             gain: float) -> None:
        """Overlap-add ``notes`` = [(start s, gate s, frequency Hz, velocity)] into ``out``."""
        if not notes or gain <= 0:
            return
        sr, N = self.sr, len(out)
        R = self.release
        groups: dict[float, list[tuple[int, int, float]]] = {}
        for start, gate, freq, vel in notes:
            s = round(start * sr)
            if s >= N:
                continue
            L = max(int(gate * sr), 1) + R
            groups.setdefault(round(freq, 3), []).append((s, L, vel * gain))
        if not groups:
            return
        longest = max(min(L, N - s) for items in groups.values() for s, L, _ in items)
        self._curves(longest)
        for freq, items in groups.items():
            buf = self.note(freq, max(min(L, N - s) for s, L, _ in items))
            for s, L, v in items:
                e = min(s + L, N)
                body = min(L - R, e - s)
                if body > 0:
                    out[s:s + body] += v * buf[:body]
                if e > s + body:
                    tail = e - (s + body)
                    out[s + body:e] += (v * buf[body:body + tail]) * self.ramp(R)[:tail]


# ----------------------------------------------------------------------------- score
def _swing(beat_pos: float, swing: float) -> float:
    """Delay off-beat eighths by ``swing`` beats."""
    frac = beat_pos - math.floor(beat_pos)
    return beat_pos + swing if abs(frac - 0.5) < 1e-6 else beat_pos


def _scale_midi(tonic_midi: int, scale: tuple[int, ...], degree: int) -> int:
    octv, i = divmod(degree, len(scale))
    return tonic_midi + 12 * octv + scale[i]


def _degree_of(scale: tuple[int, ...], semitones: int) -> int:
    semitones %= 12
    return int(np.argmin([min(abs(s - semitones), 12 - abs(s - semitones)) for s in scale]))


def _motif(rng: np.random.Generator, steps: int, density: float, leap: float, rest: float,
           n_deg: int) -> list[tuple[int, int, int | None]]:
    """A motif of ``steps`` sixteenths: [(start step, length, scale degree or None=rest)]."""
    cands = np.asarray([1, 2, 3, 4, 6, 8, 12, 16])
    target = math.log(4.0 / density)
    w = np.exp(-((np.log(cands) - target) ** 2) / (2 * 0.45 ** 2))
    w /= w.sum()
    notes = []
    pos = 0
    deg = int(rng.choice([0, 2, 4])) % n_deg
    lo, hi = -n_deg // 2, n_deg + n_deg // 2
    while pos < steps:
        d = int(min(cands[rng.choice(len(cands), p=w)], steps - pos))
        if pos > 0 and rng.random() < rest:
            notes.append((pos, d, None))
        else:
            notes.append((pos, d, deg))
            r = rng.random()
            if r < leap:
                step = int(rng.integers(2, 5)) * (1 if rng.random() < 0.5 else -1)
            elif r < leap + 0.15:
                step = 0
            else:
                step = 1 if rng.random() < 0.5 else -1
            deg += step
            if deg < lo or deg > hi:
                deg -= 2 * step
        pos += d
    return notes


def compose(job: TrackJob, st: Style, rng: np.random.Generator, seconds: float) -> dict:
    """The score: note lists for lead, bass and pad, plus drum bar layout."""
    v = st.values
    beat = 60.0 / job.tempo
    meter = job.meter
    bar = beat * meter
    n_bars = math.ceil(seconds / bar) + 1
    scale = SCALES[SCALE_NAMES[job.scale]]
    n_deg = len(scale)
    swing = v["swing"]
    register = round(v["register"])
    tonic_midi = register - ((register - job.tonic) % 12)
    chords = [st.progression[(b // st.bars_per_chord) % len(st.progression)] for b in range(n_bars)]

    # -- lead ---------------------------------------------------------------------------
    motif_bars = 1 if v["density"] >= 1.6 else 2
    steps = motif_bars * meter * 4
    motifs = [_motif(rng, steps, v["density"], v["leap"], v["rest"], n_deg) for _ in range(3)]
    follow = rng.random() < 0.7
    lead: list[tuple[float, float, float, float]] = []
    for sec in range(math.ceil(n_bars / motif_bars)):
        r = rng.random()
        m = motifs[0] if r < v["repetition"] else (motifs[1] if r < 0.5 + v["repetition"] / 2 else motifs[2])
        b0 = sec * motif_bars
        shift = _degree_of(scale, chords[min(b0, n_bars - 1)][0]) if follow else 0
        if shift > n_deg // 2:
            shift -= n_deg
        for pos, dur, deg in m:
            if deg is None:
                continue
            beat_pos = b0 * meter + pos / 4.0
            start = _swing(beat_pos, swing) * beat
            midi = _scale_midi(tonic_midi, scale, deg + shift)
            accent = 0.15 if pos % 4 == 0 else 0.0
            vel = 0.7 + accent + 0.06 * rng.standard_normal()
            lead.append((start, dur / 4.0 * beat * v["legato"], midi_hz(midi), max(0.2, vel)))

    # -- bass ---------------------------------------------------------------------------
    bass: list[tuple[float, float, float, float]] = []
    for b in range(n_bars):
        off, qual = chords[b]
        root = 36 + (job.tonic + off) % 12
        if root > 43:
            root -= 12
        third = 3 if qual.startswith("min") else 4
        nxt = 36 + (job.tonic + chords[(b + 1) % n_bars][0]) % 12
        if nxt > 43:
            nxt -= 12
        for bp, d, iv in _bass_pattern(st.bass, meter, third, root, nxt, scale, job.tonic, rng):
            start = _swing(b * meter + bp, swing) * beat
            bass.append((start, d * beat, midi_hz(root + iv), 0.85 + 0.05 * rng.standard_normal()))

    # -- pad ----------------------------------------------------------------------------
    pad: list[tuple[float, float, float, float, str]] = []
    for b in range(n_bars):
        off, qual = chords[b]
        if st.pad == "sustain" and b % st.bars_per_chord:
            continue
        root = 48 + (job.tonic + off) % 12
        mult = CHORD_RATIOS[qual][1]
        f0 = midi_hz(root) / mult
        for bp, d in _pad_pattern(st.pad, meter, st.bars_per_chord, rng):
            start = _swing(b * meter + bp, swing) * beat
            pad.append((start, d * beat, f0, 0.8 + 0.05 * rng.standard_normal(), qual))
    return {"lead": lead, "bass": bass, "pad": pad, "beat": beat, "bar": bar, "n_bars": n_bars}


def _bass_pattern(style: str, meter: int, third: int, root: int, nxt: int,
                  scale: tuple[int, ...], tonic: int, rng: np.random.Generator):
    if style == "none":
        return []
    if style == "roots":
        return [(0, 2, 0), (2, 1.9, 0)] if meter == 4 else [(0, 2, 0), (2, 0.9, 7)]
    if style == "eighths":
        return [(k / 2, 0.45, 0) for k in range(2 * meter)]
    if style == "offbeat":
        return [(k + 0.5, 0.4, 0) for k in range(meter)]
    if style == "sustained":
        return [(0, meter - 0.05, 0)]
    if style == "walking":
        approach = (nxt - root) + (1 if rng.random() < 0.5 else -1)
        step = 2 if 2 in [(s - (root - tonic)) % 12 for s in scale] else third
        line = [0, step, 7, approach] if meter == 4 else [0, 7, approach]
        return [(k, 0.9, iv) for k, iv in enumerate(line)]
    if style == "boogie":
        line = [0, third, 7, 9, 10, 9, 7, third][: 2 * meter]
        return [(k / 2, 0.45, iv) for k, iv in enumerate(line)]
    if style == "reggae":
        pat = [(0, 1.0, 0), (1.5, 0.5, 7), (2, 1.0, 12), (3.5, 0.4, 10)]
        return [p for p in pat if p[0] < meter]
    if style == "tumbao":
        return [(1.5, 1.4, 0), (3, 0.9, 7)] if meter == 4 else [(1.5, 1.4, 0)]
    raise KeyError(style)


def _pad_pattern(style: str, meter: int, bars_per_chord: int, rng: np.random.Generator):
    if style == "none":
        return []
    if style == "sustain":
        return [(0, meter * bars_per_chord - 0.1)]
    if style == "strum":
        return [(k, 0.9) for k in range(meter)]
    if style == "stabs":
        return [(0, 0.25), (1.5, 0.25), (2.5, 0.25)][: meter]
    if style == "skank":
        return [(k, 0.25) for k in range(1, meter, 2)] if meter == 4 else [(1, 0.25), (2, 0.25)]
    if style == "comp":
        slots = rng.choice(2 * meter, size=int(rng.integers(2, 4)), replace=False)
        return [(s / 2, float(rng.choice([0.25, 0.5, 1.0]))) for s in sorted(slots)]
    raise KeyError(style)


# ----------------------------------------------------------------------------- drums
_METAL: dict[int, np.ndarray] = {}


def _metal(sr: int) -> np.ndarray:
    """The inharmonic partials of a ride cymbal (0.6 s, cached per sample rate)."""
    if sr not in _METAL:
        t = np.arange(int(0.6 * sr)) / sr
        partials = sum(np.sin(2 * np.pi * fr * t) for fr in (3120.0, 4470.0, 5930.0))
        _METAL[sr] = (partials / 3 * np.exp(-t / 0.4)).astype(np.float32)
    return _METAL[sr]


def _kit(v: dict[str, float], sr: int, rng: np.random.Generator,
         needed: set[str]) -> dict[str, np.ndarray]:
    """The one-shot samples of the instruments in ``needed`` (tuned by the style)."""

    def t_of(sec: float) -> np.ndarray:
        return _arange(int(sec * sr)) / sr

    def hp_noise(n: int) -> np.ndarray:
        return np.diff(_noise(rng, n + 1))

    kit: dict[str, np.ndarray] = {}
    hg = 10 ** (v["hat_gain"] / 20)
    hd = v["hat_decay"]
    if "kick" in needed:
        kd = v["kick_decay"]
        t = t_of(min(0.8, 5 * kd))
        f = v["kick_pitch"] * (1.0 + 3.0 * np.exp(-t / 0.03))
        kick = np.sin((2 * np.pi / sr) * np.cumsum(f)) * np.exp(-t / kd)
        kick[:80] += 0.3 * _noise(rng, 80) * np.exp(-t[:80] / 0.002)
        kit["kick"] = kick
    if "snare" in needed:
        t = t_of(0.25)
        sn = v["snare_noise"]
        kit["snare"] = ((1 - sn) * np.sin(2 * np.pi * v["snare_tone"] * t) * np.exp(-t / 0.06)
                        + 0.5 * sn * hp_noise(len(t)) * np.exp(-t / 0.065))
    if "hat" in needed:
        t = t_of(min(0.4, 6 * hd))
        kit["hat"] = hg * 0.5 * hp_noise(len(t)) * np.exp(-t / hd)
    if "ohat" in needed:
        t = t_of(min(0.6, 24 * hd))
        kit["ohat"] = hg * 0.4 * hp_noise(len(t)) * np.exp(-t / (4 * hd))
    if "ride" in needed:
        t = t_of(0.6)
        kit["ride"] = hg * (0.35 * hp_noise(len(t)) * np.exp(-t / 0.25) + 0.25 * _metal(sr)[: len(t)])
    if "clave" in needed:
        t = t_of(0.08)
        kit["clave"] = 0.6 * np.sin(2 * np.pi * 2500.0 * t) * np.exp(-t / 0.02)
    if "conga" in needed:
        t = t_of(0.3)
        cf = 210.0 * (1.0 + 0.3 * np.exp(-t / 0.02))
        kit["conga"] = 0.7 * np.sin((2 * np.pi / sr) * np.cumsum(cf)) * np.exp(-t / 0.12)
    if "shaker" in needed:
        t = t_of(0.08)
        kit["shaker"] = hg * 0.5 * hp_noise(len(t)) * np.minimum(t / 0.01, 1) * np.exp(-t / 0.03)
    return {k: x.astype(np.float32) for k, x in kit.items()}


def _drum_bar(pattern: dict[str, str], kit: dict[str, np.ndarray], meter: int, beat: float,
              swing: float, humanize: float, sr: int, rng: np.random.Generator,
              fill: bool, comp: bool) -> np.ndarray:
    steps = meter * 4
    bar_len = math.ceil(meter * beat * sr)
    tail = max(len(x) for x in kit.values())
    buf = np.zeros(bar_len + tail + 4, dtype=np.float32)

    def hit(inst: str, step: float, vel: float) -> None:
        pos = _swing(step / 4.0, swing) * beat + humanize * rng.standard_normal()
        s = max(0, round(pos * sr))
        x = kit[inst]
        buf[s:s + len(x)] += vel * x

    for inst, row in pattern.items():
        for i in range(steps):
            c = row[i % 16] if meter == 4 else row[i]
            if meter == 3 and inst == "snare" and i % 4 == 0 and i > 0:
                c = "8"
            if c != ".":
                hit(inst, i, int(c) / 9.0 * (1.0 + 0.08 * rng.standard_normal()))
    if comp:  # jazz-style comping on the snare
        for i in range(0, steps, 2):
            if rng.random() < 0.2:
                hit("snare", i, 0.25 + 0.1 * rng.random())
    if fill:
        for i in range(steps - 4, steps):
            if rng.random() < 0.7:
                hit("snare", i, 0.4 + 0.4 * rng.random())
    return buf


# ----------------------------------------------------------------------------- render
def render(job: TrackJob, cfg: SynthConfig) -> np.ndarray:
    """The track's audio file content: mono float32 of ``cfg.file_seconds`` at the sample rate."""
    sr = cfg.sample_rate
    seconds = cfg.file_seconds
    N = round(seconds * sr)
    rng = rng_for(cfg.seed, S_RENDER, job.uid)
    st = draw_style(job, cfg, rng)
    v, ld = st.values, st.lead
    score = compose(job, st, rng, seconds)
    out = np.zeros(N + 1, dtype=np.float32)
    db = lambda x: 10.0 ** (x / 20.0)  # noqa: E731

    # lead
    amps = _harmonic_amps(ld["slope"], ld["even"], ld["formant"], ld["formant_gain"])
    spec = np.zeros(TABLE // 2 + 1, dtype=np.complex128)
    spec[1:MAX_HARMONICS + 1] = -1j * amps
    if ld["fm_mix"] > 0.01:
        fm = _fm_spectrum(st.fm_ratio, ld["fm_index"])
        fm *= np.sqrt(np.sum(np.abs(spec) ** 2) / max(np.sum(np.abs(fm[:MAX_HARMONICS + 1]) ** 2), 1e-12))
        spec = (1 - ld["fm_mix"]) * spec + ld["fm_mix"] * fm
    dull = None
    if ld["bright_decay"] > 0.005:
        k = np.arange(len(spec), dtype=np.float64)
        k[0] = 1.0
        dull = spec * k ** (-1.5)
    lead = _Instrument(sr, spec, attack=ld["attack"], decay=ld["decay"], sustain=ld["sustain"],
                       release=0.04, drive=ld["drive"], dull_spectrum=dull,
                       bright_decay=ld["bright_decay"], vibrato=ld["vibrato"],
                       vib_rate=ld["vib_rate"], cutoff=v["cutoff"])
    lead.play(out, score["lead"], 0.5 * db(v["lead_gain"]))

    # bass
    k = np.arange(1, MAX_HARMONICS + 1, dtype=np.float64)
    bspec = np.zeros(TABLE // 2 + 1, dtype=np.complex128)
    bspec[1:MAX_HARMONICS + 1] = -1j * k ** (-v["bass_slope"])
    sustained = st.bass == "sustained"
    bass = _Instrument(sr, bspec, attack=0.006, decay=1.5 if sustained else 0.35,
                       sustain=0.85 if sustained else 0.5, release=0.03,
                       cutoff=v["cutoff"])
    bass.play(out, score["bass"], 0.5 * db(v["bass_gain"]))

    # pad: one instrument per chord quality (a just-intonation chord is one periodic wave)
    if score["pad"]:
        long = st.pad == "sustain"
        by_q: dict[str, list[tuple[float, float, float, float]]] = {}
        for start, gate, f0, vel, qual in score["pad"]:
            by_q.setdefault(qual, []).append((start, gate, f0, vel))
        for qual, notes in sorted(by_q.items()):
            mults, _ = CHORD_RATIOS[qual]
            pspec = np.zeros(TABLE // 2 + 1, dtype=np.complex128)
            for m in mults:
                for j in range(1, 5):
                    if m * j < len(pspec):
                        pspec[m * j] += -1j * j ** (-v["pad_slope"])
            pad = _Instrument(sr, pspec, attack=v["pad_attack"] if long else 0.004,
                              decay=3.0 if long else 0.18, sustain=0.8 if long else 0.25,
                              release=0.15 if long else 0.03, cutoff=v["cutoff"])
            pad.play(out, notes, 0.35 * db(v["pad_gain"]))

    # drums
    pattern = st.drum_mutation
    if pattern:
        needed = set(pattern) | ({"snare"} if st.drums == "jazz_ride" else set())
        needed |= {"snare"}  # fills
        kit = _kit(v, sr, rng, needed)
        beat, meter = score["beat"], job.meter
        args = (kit, meter, beat, v["swing"], v["humanize"], sr, rng)
        comp = st.drums == "jazz_ride"
        bars = [_drum_bar(pattern, *args, fill=False, comp=comp),
                _drum_bar(pattern, *args, fill=False, comp=comp),
                _drum_bar(pattern, *args, fill=True, comp=comp)]
        g = 0.6 * db(v["drum_gain"])
        for b in range(score["n_bars"]):
            s = round(b * score["bar"] * sr)
            if s >= N:
                break
            buf = bars[2] if b % 4 == 3 else bars[b % 2]
            e = min(N, s + len(buf))
            out[s:e] += g * buf[: e - s]

    out = master_era(out[:N], job.era, sr)
    # echo (two taps)
    if v["echo"] > 0.03:
        D = round((0.75 if rng.random() < 0.5 else 0.5) * score["beat"] * sr)
        if 0 < D < N:
            dry = out.copy()
            out[D:] += v["echo"] * dry[:-D]
            if 2 * D < N:
                out[2 * D:] += v["echo"] ** 2 * dry[: -2 * D]

    # loudness
    rms = math.sqrt(mean_square(out)) or 1.0
    out *= db(v["loudness"]) / rms
    if v["noise_floor"] > -70:  # vinyl crackle: sparse clicks, each a few samples long
        n_clicks = int(seconds * 12)
        pos = rng.integers(0, N - 4, size=n_clicks)
        amp = 30 * db(v["noise_floor"]) * rng.standard_normal(n_clicks).astype(np.float32)
        for k, w in enumerate((1.0, -0.6, 0.3)):
            out[pos + k] += w * amp
    peak = float(np.max(np.abs(out)))
    if peak > 0.98:
        out *= 0.98 / peak
    return out


def mean_square(x: np.ndarray) -> float:
    """The mean of ``x**2``, the same to the last bit on every CPU: the squares of ``x /
    max|x|`` are rounded to multiples of 2**-40 and summed as integers (integer addition is
    associative, so the order a SIMD kernel adds in cannot change the result). A float sum
    (``np.dot``, ``np.sum``) is not: BLAS and numpy pick their kernels by CPU (AVX2 vs
    AVX-512 add in a different order), which once changed the last bit of a clip's gain and
    so its bytes. ``math.fsum`` is exact too, but iterates in Python (~10x slower)."""
    x = np.asarray(x, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return 0.0
    q = np.rint(np.square(x / peak) * 2.0 ** 40).astype(np.int64)
    return peak * peak * (int(q.sum()) / 2.0 ** 40) / x.size


ERA_CUTOFF_HZ = (1800.0, 7200.0)  # master low-pass at era 0 and era 1 (geometric in between)
ERA_DRIVE = (1.0, 5.0)  # tanh saturation drive at era 0 and era 1 (linear in between)


def master_era(x: np.ndarray, era: float, sr: int) -> np.ndarray:
    """The production era's mastering chain: a 2nd-order low-pass whose cutoff rises with
    the era (old recordings are dull) and a tanh saturation whose drive rises with it (new
    masters are loud and dense). Applied before loudness normalisation, so the era does
    not change the track's loudness. The era is in no caption: it is the audio-only latent
    (``era_preference``). RBJ biquad coefficients from ``math`` and ``scipy.signal.lfilter``
    (a plain recursion, no BLAS) keep the bytes identical on every CPU."""
    from scipy.signal import lfilter

    lo, hi = ERA_CUTOFF_HZ
    fc = min(lo * (hi / lo) ** era, 0.45 * sr)
    w0 = 2.0 * math.pi * fc / sr
    alpha = math.sin(w0) / (2.0 * math.sqrt(0.5))
    cw = math.cos(w0)
    b = np.array([(1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0])
    a = np.array([1.0 + alpha, -2.0 * cw, 1.0 - alpha])
    y = lfilter(b / a[0], a / a[0], x.astype(np.float64))
    rms = math.sqrt(mean_square(y)) or 1.0
    drive = ERA_DRIVE[0] + (ERA_DRIVE[1] - ERA_DRIVE[0]) * era
    return (np.tanh(drive * 0.25 * y / rms) / drive).astype(np.float32)


def to_pcm16(x: np.ndarray, bits: int = 16) -> np.ndarray:
    """16-bit PCM whose lowest ``16 - bits`` bits are zero (FLAC stores them for free)."""
    step = float(1 << (16 - bits))
    q = np.rint(x * (32767.0 / step)) * step
    return np.clip(q, -32768, 32767 - (step - 1)).astype(np.int16)


def flac_bytes(audio: np.ndarray, sr: int, bits: int = 16) -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, to_pcm16(audio, bits), sr, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def write_flac(path: Path, audio: np.ndarray, sr: int, bits: int = 16) -> None:
    """Encode in memory, then write (soundfile's own file flush syncs to disk: slow)."""
    data = flac_bytes(audio, sr, bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
