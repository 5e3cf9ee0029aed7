"""``musicnn-msd`` and ``musicnn-mtt``: the pretrained MusiCNN taggers (Pons & Serra 2019).

The real weights of the ``musicnn`` package (ISC; checkpoints ``MSD_musicnn``, trained on
the Million Song Dataset's last.fm tags, and ``MTT_musicnn``, trained on MagnaTagATune),
run through **essentia-tensorflow**'s ``TensorflowPredictMusiCNN`` (the design card's
package; it computes musicnn's front end itself: 16 kHz, 512-point frames, hop 256, 96
mel bands, ``log10(10000·x + 1)``, 187-frame = 3 s patches).

* **Frozen graph.** essentia runs a frozen TensorFlow graph. It is made here, once, from
  the packaged checkpoint by :func:`encoders._musicnn_tf.freeze` (strict restore) in a
  Python with TensorFlow — this one if it has ``tensorflow``, else
  ``$LARPBENCH_TF_PYTHON`` — and cached as ``<graph_dir>/<checkpoint>-<sha>.pb`` with a
  ``.json`` record (sha256 of the graph and of the checkpoint it came from; both are
  verified at load). Nothing is downloaded. ``python -m encoders.musicnn_models [DIR]``
  freezes both checkpoints ahead of time. Without a cached graph and without a
  TensorFlow Python the encoder is unavailable and says what to install.
* **Embedding.** The clip (the dataset's ``clip_seconds`` from ``clip_start``, resampled
  to 16 kHz by :meth:`Dataset.load_audio`) is cut into non-overlapping 3 s patches
  (``patch_hop`` frames apart; the last incomplete patch is dropped, as in musicnn); the
  chosen ``output`` is averaged over patches: ``penultimate`` (200-d, the dense layer
  after batch norm; default), ``taggram`` (50 tag probabilities), ``mean_pool`` or
  ``max_pool`` (753-d temporal pools of the mid-end). L2-normalised unless
  ``normalize=False``.
* **Short clips and silence.** A clip shorter than 3 s is padded to 3 s (``pad``:
  ``"repeat"`` tiles the audio the file holds — musicnn's training used repeat-padding —,
  ``"zero"`` appends silence); a silent or empty clip is 3 s of zeros, which has a
  defined (finite) output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.dataset import Dataset
from encoders import _musicnn_tf as mtf
from encoders.base import Encoder, EncoderMeta, EncoderUnavailable

PADS = ("repeat", "zero")
_INSTALL = ("pip install --no-deps musicnn==0.1.0 (the checkpoints); essentia-tensorflow (a project "
            "dependency) runs them")


#: Graphs frozen by this module's freezing step from musicnn 0.1.0's checkpoints, shipped
#: with the project so the encoders (and their parity test) run where TensorFlow is not
#: installed; each is checked against the installed checkpoint's sha256 before use.
SHIPPED_GRAPHS = Path(__file__).resolve().parent / "musicnn_graphs"


def graph_dir(config_dir: str | None = None) -> Path:
    """Where frozen graphs are cached: ``config_dir``, ``$LARPBENCH_MUSICNN_DIR`` or
    ``$XDG_CACHE_HOME/larpbench/musicnn`` (``~/.cache/larpbench/musicnn``)."""
    if config_dir:
        return Path(config_dir).expanduser()
    if os.environ.get("LARPBENCH_MUSICNN_DIR"):
        return Path(os.environ["LARPBENCH_MUSICNN_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "larpbench" / "musicnn"


@lru_cache(maxsize=8)
def _checkpoint_sha256(checkpoint: str, package_dir: str) -> str:
    return mtf.checkpoint_sha256(checkpoint)


def checkpoint_sha256(checkpoint: str) -> str:
    """sha256 of the installed checkpoint (cached per process and package location)."""
    return _checkpoint_sha256(checkpoint, str(mtf.musicnn_package_dir()))


def tf_python() -> str | None:
    """A Python that can freeze graphs: ``$LARPBENCH_TF_PYTHON``, or this one when it has
    TensorFlow; ``None`` otherwise."""
    import importlib.util

    env = os.environ.get("LARPBENCH_TF_PYTHON")
    if env:
        return env
    return sys.executable if importlib.util.find_spec("tensorflow") is not None else None


def _verified(pb: Path, checkpoint: str, sha: str) -> dict[str, Any]:
    rec = json.loads(pb.with_suffix(".json").read_text(encoding="utf-8"))
    if rec.get("checkpoint_sha256") != sha or rec.get("checkpoint") != checkpoint:
        raise mtf.MusicnnError(f"{pb}: made from another checkpoint than the installed {checkpoint} "
                               f"(sha256 {sha[:12]}); delete it to re-freeze")
    got = mtf.sha256_file(pb)
    if got != rec.get("graph_sha256"):
        raise mtf.MusicnnError(f"{pb}: sha256 {got[:12]} differs from its record "
                               f"{str(rec.get('graph_sha256'))[:12]} (corrupt or replaced); delete it to re-freeze")
    return rec


def frozen_graph(checkpoint: str, directory: str | None = None, *, build: bool = True
                 ) -> tuple[Path, dict[str, Any]]:
    """The frozen graph of ``checkpoint`` and its record, made (``build``) if not cached.

    Raises :class:`EncoderUnavailable` when it is not cached and no TensorFlow Python is
    found, :class:`encoders._musicnn_tf.MusicnnError` when freezing fails or a cached file
    does not match its checksums."""
    try:
        sha = checkpoint_sha256(checkpoint)
    except mtf.MusicnnError as e:
        raise EncoderUnavailable(f"{e} ({_INSTALL})") from e
    pb = graph_dir(directory) / f"{checkpoint}-{sha[:16]}.pb"
    if pb.is_file() and pb.with_suffix(".json").is_file():
        return pb, _verified(pb, checkpoint, sha)
    shipped = SHIPPED_GRAPHS / pb.name
    if shipped.is_file() and shipped.with_suffix(".json").is_file():
        return shipped, _verified(shipped, checkpoint, sha)
    py = tf_python()
    if not build or py is None:
        raise EncoderUnavailable(
            f"no frozen musicnn graph at {pb}, and freezing it needs TensorFlow: pip install "
            "'larpbench[musicnn-freeze]' (or point LARPBENCH_TF_PYTHON at a Python with tensorflow, "
            "tf-keras and musicnn), then run `python -m encoders.musicnn_models` or embed once")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([py, mtf.__file__, "freeze", checkpoint, str(pb)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not pb.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise mtf.MusicnnError(f"freezing {checkpoint} with {py} failed (exit {proc.returncode}):\n{tail}")
    return pb, _verified(pb, checkpoint, sha)


def _essentia_standard() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import essentia
        import essentia.standard as es
    except Exception as e:  # ImportError, or a broken binary wheel
        raise EncoderUnavailable(f"musicnn encoders need essentia-tensorflow (pip install essentia-tensorflow): "
                                 f"import failed with {type(e).__name__}: {e}") from e
    if not hasattr(es, "TensorflowPredictMusiCNN"):
        raise EncoderUnavailable("the installed essentia has no TensorFlow algorithms (plain `essentia`): "
                                 "pip uninstall -y essentia && pip install essentia-tensorflow")
    essentia.log.infoActive = False
    essentia.log.warningActive = False
    return es


class _Musicnn(Encoder):
    """Shared implementation; subclasses set ``meta`` and :attr:`checkpoint`."""

    checkpoint: ClassVar[str] = ""
    runtime_keys: ClassVar[frozenset[str]] = Encoder.runtime_keys | {"batch_size", "graph_dir"}
    default_config: ClassVar[dict[str, Any]] = {
        "output": "penultimate",  # penultimate | taggram | mean_pool | max_pool
        "patch_hop": mtf.PATCH_FRAMES,  # frames between patch starts (187: no overlap, as musicnn)
        "pad": "repeat",  # clips shorter than 3 s: "repeat" (musicnn's training) or "zero"
        "normalize": True,
        "batch_size": 64,  # patches per TensorFlow session run
        "graph_dir": None,  # frozen-graph cache; None = $LARPBENCH_MUSICNN_DIR or ~/.cache/larpbench/musicnn
    }
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {"ci": {}, "quick": {}, "paper": {}}
    #: not in the ci or quick default grids: ~100 ms of CPU per clip is ~12 CPU-minutes per
    #: quick world and model, which would take reproduce_table2 past its 45-minute budget; the
    #: ``table2-musicnn`` and ``table2-folk21`` studies run them (the parity test covers the
    #: ci-size path)
    default_profiles: ClassVar[tuple[str, ...]] = ("paper",)

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["output"] not in mtf.OUTPUT_DIMS:
            raise ValueError(f"{self.name}: output must be one of {sorted(mtf.OUTPUT_DIMS)}, "
                             f"not {self.config['output']!r}")
        if self.config["pad"] not in PADS:
            raise ValueError(f"{self.name}: pad must be one of {PADS}, not {self.config['pad']!r}")
        if not 1 <= int(self.config["patch_hop"]) <= mtf.PATCH_FRAMES:
            raise ValueError(f"{self.name}: patch_hop must be in 1..{mtf.PATCH_FRAMES} frames")
        self._algo: Any = None
        self.graph_record: dict[str, Any] | None = None

    def check_available(self) -> None:
        _essentia_standard()
        frozen_graph(self.checkpoint, self.config["graph_dir"], build=tf_python() is not None)

    def output_dim(self) -> int:
        return mtf.OUTPUT_DIMS[self.config["output"]]

    def parameter_count(self) -> int | None:
        """Variables of the frozen model (weights and batch-norm statistics), from the graph's
        record; ``None`` when no graph is cached."""
        try:
            _, rec = frozen_graph(self.checkpoint, self.config["graph_dir"], build=False)
        except (EncoderUnavailable, mtf.MusicnnError):
            return None
        n = rec.get("parameters")
        return None if n is None else int(n)

    def input_fingerprint(self) -> dict[str, Any]:
        try:
            return {"checkpoint_sha256": checkpoint_sha256(self.checkpoint)}
        except mtf.MusicnnError:
            return {}

    def _predictor(self) -> Any:
        if self._algo is None:
            es = _essentia_standard()
            pb, rec = frozen_graph(self.checkpoint, self.config["graph_dir"])
            self.graph_record = rec
            self._algo = es.TensorflowPredictMusiCNN(
                graphFilename=str(pb), input=rec["input"], output=rec["outputs"][self.config["output"]],
                patchHopSize=int(self.config["patch_hop"]), batchSize=int(self.config["batch_size"]),
                lastPatchMode="discard")
        return self._algo

    def embed_signal(self, y: np.ndarray, name: str = "<signal>") -> np.ndarray:
        """The un-normalised embedding of one 16 kHz mono signal (padded as configured)."""
        y = mtf.pad_clip(np.nan_to_num(np.asarray(y, dtype=np.float32)), mtf.SR * 3, self.config["pad"])
        out = np.asarray(self._predictor()(np.ascontiguousarray(y, dtype=np.float32)), dtype=np.float32)
        if out.ndim != 2 or out.shape[0] == 0 or out.shape[1] != self.output_dim():
            raise RuntimeError(f"{self.name}: TensorflowPredictMusiCNN gave shape {out.shape} for {name} "
                               f"({y.shape[0]} samples), expected [patches >= 1, {self.output_dim()}]")
        return out.mean(0)

    def embed(self, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        from encoders._audio import iter_audio_batches

        ids = list(track_ids)
        out = np.zeros((len(ids), self.output_dim()), dtype=np.float32)
        for rows, audio in iter_audio_batches(dataset, ids, mtf.SR, None, batch_size=16, pad=self.config["pad"]):
            for i, row in enumerate(range(rows.start, rows.stop)):
                out[row] = self.embed_signal(audio[i], f"track {ids[row]!r}")
        if self.config["normalize"]:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "output": self.config["output"], "graph": self.graph_record}


def _meta(name: str, checkpoint: str, data: str) -> EncoderMeta:
    return EncoderMeta(
        name=name, version="1",
        description=f"pretrained MusiCNN ({checkpoint}, {data}) via essentia-tensorflow: 200-d penultimate "
                    "layer averaged over 3 s patches (taggram and pools as options), L2-normalised",
        dim=None, sample_rate=mtf.SR, modalities=("audio",), trains=False, trains_on="nothing",
        weights=f"packaged {checkpoint} checkpoint (musicnn 0.1.0), frozen in-repo",
        citation="Pons & Serra, musicnn: pre-trained convolutional neural networks for music audio "
                 "tagging, ISMIR 2019 LBD (arXiv:1909.06654); Pons et al., End-to-end learning for music "
                 "audio tagging at scale, ISMIR 2018",
        requires=("essentia", "musicnn"), paper_row=None, tags=("pretrained", "real-weights"),
        weights_source=f"PyPI package musicnn==0.1.0 ({checkpoint}/ checkpoint; installed with --no-deps), "
                       "frozen to a GraphDef by encoders/_musicnn_tf.py (checksummed, never downloaded)",
        licence_code="MIT; musicnn model code ISC; essentia-tensorflow AGPL-3.0-only (TensorFlow Apache-2.0)",
        licence_weights=f"ISC (musicnn package licence, which ships the checkpoint; trained on {data}, "
                        "whose audio carries its own terms)",
        output_libraries=("essentia-tensorflow", "musicnn"),
    )


class MusicnnMSD(_Musicnn):
    checkpoint: ClassVar[str] = "MSD_musicnn"
    meta = _meta("musicnn-msd", "MSD_musicnn", "the Million Song Dataset's last.fm top-50 tags")


class MusicnnMTT(_Musicnn):
    checkpoint: ClassVar[str] = "MTT_musicnn"
    meta = _meta("musicnn-mtt", "MTT_musicnn", "MagnaTagATune's top-50 tags")


def main(argv: Sequence[str]) -> int:
    """Freeze both checkpoints into ``argv[0]`` (default :func:`graph_dir`) and print the records."""
    for checkpoint in mtf.CHECKPOINTS:
        pb, rec = frozen_graph(checkpoint, argv[0] if argv else None)
        print(pb, json.dumps(rec, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
