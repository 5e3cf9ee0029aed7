"""Content-addressed cache folders for embeddings and trained encoder state.

Keys are hashes of JSON-serialisable dicts (encoder name, version, config, dataset hash,
seed), so a change to any of them lands in a new folder, and a finished entry is reused.
The cache root is ``$LARPBENCH_CACHE`` or ``./.cache``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    return Path(os.environ.get("LARPBENCH_CACHE", ".cache"))


def key_hash(key: dict[str, Any]) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable dict."""
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def shared_dir(namespace: str, key: dict[str, Any], root: Path | None = None) -> Path:
    """A folder shared by every caller with the same ``namespace`` and ``key``.

    Used, for example, by the LARP stages (larp-ttc starts from larp-wtc's checkpoint)
    and by CLAP-FT (continues from CLAP-PT).
    """
    d = (root or cache_root()) / "shared" / namespace / key_hash(key)
    d.mkdir(parents=True, exist_ok=True)
    return d
