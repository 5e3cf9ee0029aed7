"""Reading weights safely and loading the ones that fit a model, with a report.

* :func:`read_state_dict` — a flat ``name -> tensor`` mapping from a ``.safetensors`` file
  or a torch checkpoint, always with ``torch.load(weights_only=True)`` (no pickled code is
  executed); trainer wrappers (``{"state_dict": ...}``, ``model``, ...) are unwrapped.
* :func:`load_matching` — find the key prefix (``module.``, ``audio_branch.``, ...), load
  every tensor whose name and shape fit the model non-strictly, and **report** what was
  loaded, missing, unexpected or of the wrong shape (:class:`LoadReport`). It raises
  :class:`CheckpointError` when nothing matched: the official LARP code silently trained
  from random weights because a key-renaming bug made every key "unexpected".

torch is imported inside the functions; importing this module does not import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["CheckpointError", "LoadReport", "load_matching", "read_state_dict"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely or whose keys do not fit the model."""


@dataclass
class LoadReport:
    """What :func:`load_matching` did. ``missing``: model keys the checkpoint did
    not provide (they keep their initial values); ``unexpected``: checkpoint keys under the
    prefix that the model does not have; ``mismatched``: ``(key, checkpoint_shape,
    model_shape)`` left at their initial values; ``ignored``: checkpoint keys outside the
    prefix (e.g. CLAP's text branch)."""

    path: str
    prefix: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    ignored: int = 0

    @property
    def complete(self) -> bool:
        return not self.missing and not self.mismatched

    def summary(self) -> str:
        def few(xs: list[Any]) -> str:
            return ", ".join(map(str, xs[:5])) + (f", ... (+{len(xs) - 5})" if len(xs) > 5 else "")

        parts = [f"{self.path}: loaded {len(self.loaded)} tensors with prefix {self.prefix!r}"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (kept initial values): {few(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected: {few(self.unexpected)}")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} shape mismatches: {few(self.mismatched)}")
        if self.ignored:
            parts.append(f"{self.ignored} keys outside the prefix ignored")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "prefix": self.prefix, "loaded": len(self.loaded),
                "missing": list(self.missing), "unexpected": list(self.unexpected),
                "mismatched": [[k, list(a), list(b)] for k, a, b in self.mismatched],
                "ignored": self.ignored}


#: Wrappers under which trainers store the weights.
_STATE_KEYS = ("state_dict", "model", "model_state_dict", "module", "net", "weights")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a flat ``name -> tensor`` mapping from a ``.safetensors`` file or a torch
    checkpoint, without executing pickled code (``torch.load(weights_only=True)``).

    Trainer checkpoints are unwrapped (``{"state_dict": {...}, "epoch": ...}``, also
    ``model``/``model_state_dict``). A file that needs arbitrary unpickling raises
    :class:`CheckpointError` explaining how to convert it once in a trusted session.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(p), device="cpu"))
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:
        if type(e).__name__ == "UnpicklingError" or "weights_only" in str(e):
            raise CheckpointError(
                f"{p} cannot be read with torch.load(weights_only=True): it pickles objects other "
                f"than tensors ({type(e).__name__}: {str(e).splitlines()[0][:200]}). If you trust the "
                "file, convert it once to plain tensors, e.g.\n"
                "  python -c \"import torch,sys; c=torch.load(sys.argv[1], map_location='cpu', "
                "weights_only=False); torch.save(c.get('state_dict', c), sys.argv[2])\" IN OUT.pt\n"
                "and pass OUT.pt (or save it with safetensors.torch.save_file)"
            ) from e
        raise CheckpointError(f"{p}: not a readable torch checkpoint ({type(e).__name__}: {e})") from e
    for _ in range(3):  # unwrap nested trainer dicts
        if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _STATE_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{p}: expected a state dict (name -> tensor), got {type(obj).__name__}")
    sd = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise CheckpointError(f"{p}: no tensors found (top-level keys: {sorted(map(str, obj))[:10]})")
    return sd


def _candidate_prefixes(keys: list[str], max_depth: int = 4) -> set[str]:
    out = {""}
    for k in keys:
        parts = k.split(".")
        for d in range(1, min(max_depth, len(parts) - 1) + 1):
            out.add(".".join(parts[:d]) + ".")
    return out


def _choose_prefix(ckpt_keys: list[str], model_keys: set[str]) -> tuple[str, int]:
    best, best_n = "", -1
    for pre in sorted(_candidate_prefixes(ckpt_keys), key=lambda s: (len(s), s)):
        n = sum(1 for k in ckpt_keys if k.startswith(pre) and k[len(pre):] in model_keys)
        if n > best_n:  # ties keep the shorter prefix
            best, best_n = pre, n
    return best, best_n


def load_matching(model: torch.nn.Module, path: str | Path, *, prefix: str | None = None, strict: bool = False,
                  may_be_absent: Callable[[str], bool] = lambda key: False, what: str = "model") -> LoadReport:
    """Load every checkpoint tensor whose name (under ``prefix``) and shape match ``model``.

    The key prefix is found automatically (the dotted prefix under which most checkpoint
    keys name a model parameter) unless given. Tensors of another shape are not loaded and
    are reported; model keys for which ``may_be_absent(key)`` holds are not reported as
    missing. Raises :class:`CheckpointError` when no tensor matched (naming some checkpoint
    and model keys), or, with ``strict=True``, when anything was missing, unexpected or
    mismatched. Returns the :class:`LoadReport`.
    """
    sd = read_state_dict(path)
    model_sd = model.state_dict()
    model_keys = set(model_sd)
    ckpt_keys = list(sd)
    if prefix is None:
        prefix, _ = _choose_prefix(ckpt_keys, model_keys)
    under = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    report = LoadReport(path=str(path), prefix=prefix, ignored=len(sd) - len(under))
    to_load: dict[str, torch.Tensor] = {}
    for k, v in under.items():
        if k not in model_keys:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(model_sd[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(model_sd[k].shape)))
        else:
            to_load[k] = v
    report.loaded = sorted(to_load)
    report.missing = sorted(k for k in model_keys - set(under) if not may_be_absent(k))
    report.unexpected.sort()
    if not to_load:
        raise CheckpointError(
            f"{path}: no checkpoint tensor matches the {what} (prefix {prefix!r}); "
            f"checkpoint keys look like {sorted(ckpt_keys)[:6]}, model keys like "
            f"{sorted(model_keys)[:6]}. Pass prefix=... if the weights sit under another name."
        )
    if strict and (report.missing or report.unexpected or report.mismatched):
        raise CheckpointError(f"strict load failed: {report.summary()}")
    model.load_state_dict(to_load, strict=False)
    return report
