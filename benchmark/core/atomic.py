"""Atomic file writes: a reader sees the old file or the complete new one, never a part.

Every write goes to a temporary file in the target's folder (``.<name>.<random>.tmp``,
hidden, so globs for the real name never see it), is flushed, and is renamed over the
target with :func:`os.replace`; on any error the temporary file is removed and the
target is left as it was. Files are made world-readable (``0644``) like an ordinary write.

* :func:`atomic_path` — the context manager under all of them: yields the temporary path
  for any writer (``np.save``, ``torch.save``, a memmap, ``os.link``) and publishes it.
* :func:`atomic_write_text`, :func:`atomic_write_bytes`, :func:`atomic_write_json`.
* :func:`save_safetensors` — a dict of NumPy arrays or torch tensors as safetensors.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from benchmark.core.faults import crash_point

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "save_safetensors"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, mode: int | None = 0o644,
                fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without an error, rename
    it onto ``path`` (creating parent folders first). The temporary file exists (empty) when
    the block starts; a writer may overwrite or replace it. ``mode=None`` leaves the file's
    permissions as the writer made them (e.g. for a hard link, whose mode is the source's)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)  # mkstemp makes 0600; results and tables are for everyone to read
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        crash_point("atomic-write")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 1,
                      sort_keys: bool = True, default: Any = None) -> None:
    """Write ``obj`` as JSON (``indent=1``, sorted keys, trailing newline) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys, default=default) + "\n")


def save_safetensors(path: str | os.PathLike[str], tensors: Mapping[str, Any],
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``name -> array`` as a safetensors file atomically.

    NumPy arrays are written with ``safetensors.numpy`` (made C-contiguous); torch tensors
    with ``safetensors.torch`` after being detached, moved to the CPU and made contiguous,
    with tensors that share memory cloned (safetensors refuses shared storage). Returns
    ``path``.
    """
    path = Path(path)
    items = dict(tensors)
    is_numpy = all(type(v).__module__.startswith("numpy") for v in items.values())
    with atomic_path(path) as tmp:
        if is_numpy:
            import numpy as np
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in items.items()}, str(tmp),
                      metadata=dict(metadata) if metadata is not None else None)
        else:
            from safetensors.torch import save_file

            seen: set[int] = set()
            out = {}
            for k, v in items.items():
                t = v.detach().cpu().contiguous()
                ptr = t.untyped_storage().data_ptr()
                if ptr in seen and t.numel():
                    t = t.clone()
                seen.add(ptr)
                out[k] = t
            save_file(out, str(tmp), metadata=dict(metadata) if metadata is not None else None)
    return path


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], enabled: bool = True) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block. The
    kernel releases it when the holder dies, so a crash never leaves a stale lock. Not
    re-entrant: a process must not take the same lock twice."""
    if not enabled:
        yield
        return
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
