"""Dataset references: a catalog name with builder overrides, ``synth-mpd[caption_vocab=0.25,seed=1]``.

The syntax only (the catalog, :mod:`benchmark.data.catalog`, checks names and values
against the builder). A reference is ``NAME`` or ``NAME[key=value,key=value,...]``:

* ``key``: a lower-case identifier (``[a-z_][a-z0-9_]*``), each at most once;
* ``value``: an integer (``3``, ``-1``), a float (``0.25``, ``1e-05``), ``true``/``false``,
  a word (``[A-Za-z][A-Za-z0-9_.-]*``), or a tuple of these joined by ``+`` (``0.5+0.5``).

Its **label** (:meth:`DatasetRef.label`) is canonical: keys sorted, values printed one way
(a float as Python's shortest round-trip text without ``+`` in the exponent, so
``0.250`` and ``.25`` both print ``0.25``). The label names the cells and result folders of
the dataset, and ``<label>-<size>`` names its built folder; every character of it is a
letter, a digit or one of ``_ . - + = , [ ]``, which are valid in file names on Linux,
macOS and Windows (quote the reference in a shell: ``[`` is a glob character).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_KEY = re.compile(r"[a-z_][a-z0-9_]*")
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")

Value = int | float | bool | str | tuple[Any, ...]


class DatasetRefError(ValueError):
    """A dataset reference that does not follow the syntax, or an override its builder does not
    take or whose value is out of range; the message names the reference and the field."""


def parse_value(text: str, where: str = "") -> Value:
    """``"0.25"`` → 0.25, ``"3"`` → 3, ``"true"`` → True, ``"0.5+0.5"`` → (0.5, 0.5), a word → itself."""
    if "+" in text.lstrip("+-") and not _FLOAT.fullmatch(text):
        return tuple(parse_value(part, where) for part in text.split("+"))
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        v = float(text)
        if not math.isfinite(v):
            raise DatasetRefError(f"{where}value {text!r} is not a finite number")
        return v
    if _WORD.fullmatch(text):
        return text
    raise DatasetRefError(f"{where}value {text!r} is not a number, true/false, a word of letters, digits, "
                         f"'_', '.', '-', or a '+'-joined tuple of these")


def format_value(value: Any) -> str:
    """The canonical text of a value (inverse of :func:`parse_value`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DatasetRefError(f"value {value!r} is not a finite number")
        return repr(value).replace("e+", "e")
    if isinstance(value, (tuple, list)):
        if not value:
            raise DatasetRefError("an empty tuple cannot be written in a reference")
        return "+".join(format_value(v) for v in value)
    if isinstance(value, str) and _WORD.fullmatch(value) and value not in ("true", "false"):
        return value
    raise DatasetRefError(f"value {value!r} cannot be written in a dataset reference")


@dataclass(frozen=True)
class DatasetRef:
    """A catalog name and its overrides (sorted by key)."""

    name: str
    overrides: tuple[tuple[str, Value], ...] = ()

    @classmethod
    def make(cls, name: str, overrides: Mapping[str, Any] | None = None) -> DatasetRef:
        if not _NAME.fullmatch(name):
            raise DatasetRefError(f"dataset name {name!r}: use letters, digits, '.', '_' and '-'")
        items = dict(overrides or {})
        for k in items:
            if not _KEY.fullmatch(k):
                raise DatasetRefError(f"dataset {name!r}: override name {k!r} is not a lower-case identifier")
        return cls(name, tuple(sorted((k, _freeze(v)) for k, v in items.items())))

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        """``"synth-mpd[seed=1,caption_vocab=0.25]"`` → ``DatasetRef("synth-mpd", (("caption_vocab",
        0.25), ("seed", 1)))``; a plain name has no overrides."""
        text = str(text)
        name, bracket, rest = text.partition("[")
        if not bracket:
            if "]" in text:
                raise DatasetRefError(f"dataset reference {text!r}: ']' without '['")
            return cls.make(name)
        if not rest.endswith("]") or "[" in rest or "]" in rest[:-1]:
            raise DatasetRefError(f"dataset reference {text!r}: expected NAME[key=value,...] with one "
                                 f"closing ']' at the end")
        body = rest[:-1]
        if not body:
            raise DatasetRefError(f"dataset reference {text!r}: empty brackets (write the plain name)")
        out: dict[str, Value] = {}
        for part in body.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key or not value:
                raise DatasetRefError(f"dataset reference {text!r}: {part!r} is not key=value")
            if key in out:
                raise DatasetRefError(f"dataset reference {text!r}: {key!r} is given twice")
            out[key] = parse_value(value, f"dataset reference {text!r}, {key}: ")
        return cls.make(name, out)

    @property
    def values(self) -> dict[str, Value]:
        return dict(self.overrides)

    @property
    def is_variant(self) -> bool:
        return bool(self.overrides)

    def label(self) -> str:
        """The canonical text: ``NAME`` or ``NAME[k=v,...]`` with keys sorted."""
        if not self.overrides:
            return self.name
        return f"{self.name}[{','.join(f'{k}={format_value(v)}' for k, v in self.overrides)}]"

    def folder(self, size: str) -> str:
        """The name of its built folder at ``size``: ``<label>-<size>``."""
        return f"{self.label()}-{size}"

    def __str__(self) -> str:
        return self.label()


def _freeze(value: Any) -> Value:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    format_value(value)  # refuses what cannot be written
    return value


def parse_folder(folder: str) -> tuple[DatasetRef, str]:
    """Inverse of :meth:`DatasetRef.folder`: ``"synth-mpd[seed=1]-ci"`` → (reference, ``"ci"``)."""
    label, dash, size = folder.rpartition("-")
    if not dash or not label or not size or "]" in size:
        raise DatasetRefError(f"dataset folder {folder!r}: expected <reference>-<size>")
    return DatasetRef.parse(label), size


def is_variant(label: str) -> bool:
    """Whether a dataset label (a cell's ``dataset``) carries overrides."""
    return "[" in str(label)


def base_name(label: str) -> str:
    """The catalog name of a dataset label, without its overrides."""
    return str(label).partition("[")[0]
