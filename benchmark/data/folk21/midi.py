"""Symbolic pieces to note lists: ABC through ``abc2midi`` (Debian ``abcmidi``) when it is
installed, everything else (and ABC without ``abc2midi``) through music21's MIDI writer.

A note list is a float64 array ``[n, 5]`` of ``(start_s, end_s, pitch, velocity, part)``
sorted by start, read back from the MIDI file with pretty_midi (so tempo maps apply).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

#: quarter notes per minute used when a piece states no tempo
DEFAULT_QPM = 120
#: music21 pieces are cut to their first measures before MIDI export (speed)
MAX_MEASURES = 40


class ConversionError(RuntimeError):
    pass


def abc2midi_path() -> str | None:
    return shutil.which("abc2midi")


def _gchord_off(abc: str) -> str:
    """Insert ``%%MIDI gchordoff`` after the K: line: no chord accompaniment (only some
    collections have chord symbols, and an accompaniment would mark them)."""
    out, done = [], False
    for ln in abc.splitlines():
        out.append(ln)
        if not done and ln.startswith("K:"):
            out.append("%%MIDI gchordoff")
            done = True
    return "\n".join(out) + "\n"


def abc_to_midi_abc2midi(abc: str, exe: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="folk21-") as tmp:
        src, dst = Path(tmp) / "tune.abc", Path(tmp) / "tune.mid"
        src.write_text(_gchord_off(abc), encoding="utf-8")
        proc = subprocess.run([exe, str(src), "-o", str(dst), "-Q", str(DEFAULT_QPM), "-NGUI", "-silent"],
                              capture_output=True, text=True, timeout=60, check=False)
        if not dst.is_file() or dst.stat().st_size == 0:
            raise ConversionError(f"abc2midi failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
        return dst.read_bytes()


def stream_to_midi(stream) -> bytes:
    from music21 import midi

    mf = midi.translate.streamToMidiFile(stream)
    return mf.writestr()


def abc_to_midi_music21(abc: str) -> bytes:
    from music21 import converter

    try:
        s = converter.parse(abc, format="abc")
    except Exception as e:
        raise ConversionError(f"music21 could not parse the ABC: {e}") from e
    return stream_to_midi(s)


def corpus_to_midi(source: str, max_measures: int = MAX_MEASURES) -> bytes:
    """A music21 corpus file (path relative to the corpus root) to MIDI bytes."""
    from music21 import corpus

    try:
        s = corpus.parse(source)
        try:
            # the first ``max_measures`` measures by position, not by number (sections of a
            # movement are numbered from where the movement stood)
            cut = s.measures(0, max_measures - 1, indicesNotNumbers=True)
            if cut is not None and len(cut.recurse().notes) >= min(8, len(s.recurse().notes)):
                s = cut
        except Exception:  # some scores have no measures: keep the whole score
            pass
        return stream_to_midi(s)
    except ConversionError:
        raise
    except Exception as e:
        raise ConversionError(f"music21 could not convert {source}: {e}") from e


def piece_to_midi(kind: str, abc: str, source: str, *, use_abc2midi: bool = True) -> tuple[bytes, str]:
    """MIDI bytes of a piece and the converter used (``abc2midi`` or ``music21``)."""
    if kind == "abc":
        exe = abc2midi_path() if use_abc2midi else None
        if exe:
            return abc_to_midi_abc2midi(abc, exe), "abc2midi"
        return abc_to_midi_music21(abc), "music21"
    return corpus_to_midi(source), "music21"


def midi_notes(data: bytes) -> np.ndarray:
    """``[n, 5]`` array of (start, end, pitch, velocity, part) from MIDI bytes (drums dropped)."""
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as e:
        raise ConversionError(f"unreadable MIDI: {e}") from e
    rows = []
    part = 0
    for inst in pm.instruments:
        if inst.is_drum or not inst.notes:
            continue
        for n in inst.notes:
            if n.end > n.start:
                rows.append((n.start, n.end, n.pitch, n.velocity, part))
        part += 1
    if not rows:
        raise ConversionError("no notes")
    arr = np.asarray(rows, dtype=np.float64)
    return arr[np.lexsort((arr[:, 2], arr[:, 0]))]


def top_line(notes: np.ndarray) -> list[int]:
    """The highest sounding pitch at each onset (the melody of a monophonic tune, the
    soprano of a chorale: a bass note under a held soprano note does not count)."""
    if len(notes) == 0:
        return []
    starts, ends, pitches = np.round(notes[:, 0], 3), np.round(notes[:, 1], 3), notes[:, 2]
    out: list[int] = []
    for t in np.unique(starts):
        active = (starts <= t) & (ends > t)
        out.append(int(pitches[active].max()))
    return out


def convert(kind: str, abc: str, source: str, use_abc2midi: bool = True) -> tuple[np.ndarray, str]:
    data, how = piece_to_midi(kind, abc, source, use_abc2midi=use_abc2midi)
    return midi_notes(data), how


def tool_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    exe = abc2midi_path()
    if exe:
        try:
            v = subprocess.run([exe, "-ver"], capture_output=True, text=True, timeout=10, check=False)
            out["abc2midi"] = (v.stdout or v.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            out["abc2midi"] = "unknown"
    try:
        import music21

        out["music21"] = music21.__version__ if hasattr(music21, "__version__") else str(music21.VERSION_STR)
    except Exception:
        pass
    out["pretty_midi"] = _version("pretty_midi")
    return out


def _version(pkg: str) -> str:
    try:
        from importlib.metadata import version

        return version(pkg)
    except Exception:
        return "unknown"


__all__ = ["ConversionError", "convert", "midi_notes", "tool_versions", "top_line"]
