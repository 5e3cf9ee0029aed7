"""Note lists to audio clips with a General-MIDI soundfont.

Backends, best first (``auto``):

- ``fluidsynth``: libfluidsynth through the PyPI package ``pyfluidsynth`` (Debian
  ``fluidsynth`` / ``libfluidsynth3`` provides the library) with Debian's
  ``fluid-soundfont-gm`` (FluidR3_GM.sf2) when present, else the small GM soundfont that
  ships inside ``pretty_midi`` (TimGM6mb.sf2). Reverb and chorus are off and every
  clip is rendered by a fresh synthesiser, so a clip does not depend on the clips
  rendered before it (builds are byte-identical whatever the worker order).
- ``sine``: ``pretty_midi.PrettyMIDI.synthesize`` (sine waves; no soundfont), used only
  when fluidsynth cannot be loaded.

The backend, soundfont (name and sha256) and library versions go into the manifest.
Environment overrides: ``LARPBENCH_FOLK21_RENDERER`` (``fluidsynth`` or ``sine``) and
``LARPBENCH_SOUNDFONT`` (a .sf2 path).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: General-MIDI programs (0-based) a track's instrument is drawn from, uniformly, per track
INSTRUMENTS: dict[int, str] = {
    0: "Acoustic Grand Piano",
    6: "Harpsichord",
    11: "Vibraphone",
    19: "Church Organ",
    21: "Accordion",
    24: "Acoustic Guitar (nylon)",
    40: "Violin",
    42: "Cello",
    46: "Orchestral Harp",
    48: "String Ensemble 1",
    52: "Choir Aahs",
    68: "Oboe",
    71: "Clarinet",
    73: "Flute",
}

DEBIAN_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)
TARGET_RMS_DB = -20.0
FADE_S = 0.05


@dataclass(frozen=True)
class RendererInfo:
    backend: str  # "fluidsynth" | "sine"
    soundfont: str  # path ("" for sine)
    soundfont_name: str
    soundfont_sha256: str
    versions: dict

    def describe(self) -> dict:
        return {"backend": self.backend, "soundfont": self.soundfont_name,
                "soundfont_sha256": self.soundfont_sha256, "versions": dict(self.versions)}


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def find_soundfont() -> str | None:
    env = os.environ.get("LARPBENCH_SOUNDFONT")
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"LARPBENCH_SOUNDFONT={env} is not a file")
        return env
    for p in DEBIAN_SOUNDFONTS:
        if Path(p).is_file():
            return str(Path(p).resolve())
    try:
        import pretty_midi

        p = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        if p.is_file():
            return str(p)
    except ImportError:
        pass
    return None


def _fluidsynth_ok() -> str | None:
    """The libfluidsynth version, or None when pyfluidsynth / libfluidsynth is missing."""
    try:
        import fluidsynth
    except (ImportError, OSError):
        return None
    try:
        import ctypes

        lib = fluidsynth._fl  # type: ignore[attr-defined]
        fn = lib.fluid_version_str
        fn.restype = ctypes.c_char_p
        return fn().decode()
    except Exception:
        return "unknown"


def detect(prefer: str | None = None) -> RendererInfo:
    """Pick the best available backend (or the one asked for)."""
    prefer = (prefer or os.environ.get("LARPBENCH_FOLK21_RENDERER") or "auto").lower()
    if prefer not in {"auto", "fluidsynth", "sine"}:
        raise ValueError(f"unknown renderer {prefer!r}; use auto, fluidsynth or sine")
    versions: dict[str, str] = {}
    try:
        from importlib.metadata import version

        versions["pretty_midi"] = version("pretty_midi")
    except Exception:
        pass
    if prefer in {"auto", "fluidsynth"}:
        fl = _fluidsynth_ok()
        sf2 = find_soundfont()
        if fl and sf2:
            versions["libfluidsynth"] = fl
            try:
                from importlib.metadata import version

                versions["pyfluidsynth"] = version("pyfluidsynth")
            except Exception:
                pass
            return RendererInfo("fluidsynth", sf2, Path(sf2).name, _sha256(sf2), versions)
        if prefer == "fluidsynth":
            raise RuntimeError(
                "fluidsynth rendering needs the PyPI package pyfluidsynth, the library libfluidsynth "
                "(Debian: apt-get install fluidsynth) and a soundfont (Debian: fluid-soundfont-gm)")
    return RendererInfo("sine", "", "", "", versions)


# ----------------------------------------------------------------------------- arranging
def arrange(notes: np.ndarray, seconds: float, tempo_scale: float = 1.0, max_repeats: int = 64) -> np.ndarray:
    """The notes that sound in the first ``seconds`` of the piece, played from its first
    onset at ``tempo_scale`` times its tempo and repeated from the start (as a tune is
    played again) when it is shorter than the clip."""
    if len(notes) == 0:
        return notes
    n = notes.copy()
    n[:, :2] -= n[:, 0].min()
    n[:, :2] /= tempo_scale
    period = float(n[:, 1].max())
    if period <= 0:
        return n[:0]
    reps = [n]
    k = 1
    while k * period < seconds and k < max_repeats:
        r = n.copy()
        r[:, :2] += k * period
        reps.append(r)
        k += 1
    out = np.concatenate(reps)
    out = out[out[:, 0] < seconds]
    out[:, 1] = np.minimum(out[:, 1], seconds)
    return out


def _channels(parts: np.ndarray) -> np.ndarray:
    """Parts to MIDI channels 0..15, skipping the percussion channel 9."""
    chans = [c for c in range(16) if c != 9]
    return np.array([chans[int(p) % len(chans)] for p in parts], dtype=int)


def _finish(wav: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    n = round(seconds * sr)
    wav = np.asarray(wav, dtype=np.float64)[:n]
    if wav.shape[0] < n:
        wav = np.pad(wav, (0, n - wav.shape[0]))
    rms = float(np.sqrt(np.mean(wav**2)))
    if rms > 1e-6:
        wav = wav * (10 ** (TARGET_RMS_DB / 20) / rms)
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak > 0.99:
        wav = wav * (0.99 / peak)
    fade = int(FADE_S * sr)
    if fade > 0:
        wav[-fade:] *= np.linspace(1.0, 0.0, fade)
    return wav.astype(np.float32)


def _write_float(synth, n: int) -> np.ndarray:
    """``n`` stereo frames as float32 (libfluidsynth's float output: no dither, whose
    running state would make a clip depend on the ones rendered before it)."""
    import ctypes

    import fluidsynth

    fn = fluidsynth._fl.fluid_synth_write_float  # type: ignore[attr-defined]
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                   ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    buf = np.zeros(2 * n, dtype=np.float32)
    ptr = buf.ctypes.data_as(ctypes.c_void_p)
    if fn(synth.synth, n, ptr, 0, 2, ptr, 1, 2) != 0:
        raise RuntimeError("fluid_synth_write_float failed")
    return buf


class Renderer:
    """Renders arranged note lists; one per process (the soundfont is loaded once)."""

    def __init__(self, info: RendererInfo, sample_rate: int) -> None:
        self.info = info
        self.sr = int(sample_rate)

    def _new_synth(self):
        """A fresh synthesiser for every clip: libfluidsynth keeps state across
        ``system_reset`` (measured: a clip rendered after another differs from the same
        clip rendered first), and a fresh one costs ~30 ms with dynamic sample loading
        (only the samples of the chosen preset are read from the soundfont)."""
        import fluidsynth

        synth = fluidsynth.Synth(gain=0.4, samplerate=float(self.sr),
                                 **{"synth.reverb.active": 0, "synth.chorus.active": 0,
                                    "synth.polyphony": 256, "synth.cpu-cores": 1,
                                    "synth.dynamic-sample-loading": 1})
        sfid = synth.sfload(self.info.soundfont)
        if sfid < 0:
            synth.delete()
            raise RuntimeError(f"fluidsynth could not load the soundfont {self.info.soundfont}")
        return synth, sfid

    def render(self, notes: np.ndarray, program: int, seconds: float) -> np.ndarray:
        if self.info.backend == "fluidsynth":
            wav = self._render_fluidsynth(notes, program, seconds)
        else:
            wav = self._render_sine(notes, program, seconds)
        return _finish(wav, self.sr, seconds)

    def _render_fluidsynth(self, notes: np.ndarray, program: int, seconds: float) -> np.ndarray:
        synth, sfid = self._new_synth()
        try:
            return self._play(synth, sfid, notes, program, seconds)
        finally:
            synth.delete()

    def _play(self, synth, sfid: int, notes: np.ndarray, program: int, seconds: float) -> np.ndarray:
        total = round(seconds * self.sr)
        chans = _channels(notes[:, 4]) if len(notes) else np.zeros(0, int)
        for c in sorted(set(chans.tolist()) | {0}):
            synth.program_select(int(c), sfid, 0, int(program))
        events: list[tuple[int, int, int, int, int]] = []  # (sample, on?, chan, key, vel)
        for (start, end, pitch, vel, _), ch in zip(notes, chans):
            s0 = round(start * self.sr)
            s1 = max(s0 + 1, round(end * self.sr))
            events.append((s0, 1, int(ch), int(pitch), max(1, min(127, int(vel)))))
            if s1 < total:
                events.append((s1, 0, int(ch), int(pitch), 0))
        events.sort(key=lambda e: (e[0], e[1], e[2], e[3]))  # note-offs before note-ons
        blocks: list[np.ndarray] = []
        pos = 0
        for t, on, ch, key, vel in events:
            t = min(t, total)
            if t > pos:
                blocks.append(_write_float(synth, t - pos))
                pos = t
            if on:
                synth.noteon(ch, key, vel)
            else:
                synth.noteoff(ch, key)
        if pos < total:
            blocks.append(_write_float(synth, total - pos))
        stereo = np.concatenate(blocks).astype(np.float64).reshape(-1, 2)
        return stereo.mean(axis=1)

    def _render_sine(self, notes: np.ndarray, program: int, seconds: float) -> np.ndarray:
        import pretty_midi

        pm = pretty_midi.PrettyMIDI()
        insts: dict[int, pretty_midi.Instrument] = {}
        for start, end, pitch, vel, part in notes:
            inst = insts.setdefault(int(part), pretty_midi.Instrument(program=int(program)))
            inst.notes.append(pretty_midi.Note(velocity=int(vel), pitch=int(pitch), start=float(start), end=float(end)))
        pm.instruments.extend(insts[k] for k in sorted(insts))
        if not pm.instruments:
            return np.zeros(round(seconds * self.sr))
        return pm.synthesize(fs=self.sr)
