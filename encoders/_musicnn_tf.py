"""MusiCNN with TensorFlow: freeze the packaged checkpoints, compute reference outputs.

This module imports only the standard library and NumPy at module level, so the encoder
(:mod:`encoders.musicnn_models`) and the tests can use its constants and clip generator
without TensorFlow. The TensorFlow parts run in a separate Python (the one that has
``tensorflow`` and ``tf-keras``: ``pip install 'larpbench[musicnn-freeze]'``), as a
script::

    python encoders/_musicnn_tf.py freeze MSD_musicnn OUT.pb      # writes OUT.pb and OUT.json
    python encoders/_musicnn_tf.py reference OUT.npz            # parity fixture (librosa too)

The model graph is musicnn 0.1.0's own ``models.define_model`` (the package is installed
with ``pip install --no-deps musicnn==0.1.0``); the checkpoint is restored **strictly**:
every graph variable must be in the checkpoint with the same shape, every checkpoint
entry that is not an optimiser slot must be used, and the restored values are compared
with the checkpoint reader's. musicnn's own ``extractor()`` hides restore failures behind
a bare ``except:`` and repeats the first patch's penultimate features for later patches;
neither is used here.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: musicnn's front end: 16 kHz, 512-point FFT, hop 256, 96 mel bands, log10(10000·x + 1)
SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: frames per patch (3 s): librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
PATCH_FRAMES = 187
#: the shortest signal that yields one patch of centred frames: 1 + n // 256 >= 187
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP
#: checkpoints of musicnn 0.1.0 this project freezes (the VGG ones are not wired up)
CHECKPOINTS = ("MSD_musicnn", "MTT_musicnn")
NUM_TAGS = 50
#: outputs kept in the frozen graph and their widths (musicnn with 64 mid-end filters)
OUTPUT_DIMS = {"penultimate": 200, "taggram": NUM_TAGS, "mean_pool": 753, "max_pool": 753}
#: checkpoint entries that belong to the optimiser, not the model
_OPTIMISER_SUFFIXES = ("/Adam", "/Adam_1")
_OPTIMISER_NAMES = frozenset({"beta1_power", "beta2_power", "global_step"})
PARITY_FORMAT = 1
#: MatMul attributes TF >= 2.13 writes that only gradients read
_GRADIENT_ATTRS = ("grad_a", "grad_b")


class MusicnnError(RuntimeError):
    """A checkpoint could not be found, restored or frozen (the message says which and why)."""


def musicnn_package_dir() -> Path:
    """Directory of the installed ``musicnn`` package, found without importing it (its
    modules import TensorFlow)."""
    import importlib.util

    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise MusicnnError("the musicnn package (its checkpoints) is not installed: "
                           "pip install --no-deps musicnn==0.1.0")
    return Path(next(iter(spec.submodule_search_locations)))


def checkpoint_prefix(checkpoint: str) -> Path:
    """The TF checkpoint prefix of ``checkpoint`` (its files are ``<dir>/.index`` and
    ``<dir>/.data-00000-of-00001``, so the prefix is the directory plus ``/``)."""
    if checkpoint not in CHECKPOINTS:
        raise MusicnnError(f"unknown musicnn checkpoint {checkpoint!r}; known: {CHECKPOINTS}")
    d = musicnn_package_dir() / checkpoint
    for f in (".index", ".data-00000-of-00001"):
        if not (d / f).is_file():
            raise MusicnnError(f"musicnn checkpoint file {d / f} is missing; reinstall musicnn==0.1.0")
    return d


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checkpoint_sha256(checkpoint: str) -> str:
    """sha256 over the checkpoint's index and data files (what the frozen graph derives from)."""
    d = checkpoint_prefix(checkpoint)
    h = hashlib.sha256()
    for f in (".index", ".data-00000-of-00001"):
        h.update(f.encode())
        h.update(bytes.fromhex(sha256_file(d / f)))
    return h.hexdigest()


def pad_clip(y: np.ndarray, min_samples: int = SR * 3, mode: str = "repeat") -> np.ndarray:
    """Pad a clip shorter than ``min_samples`` to that length: ``"repeat"`` tiles the clip
    (musicnn's training used repeat-padding for short songs, ``pad_short: repeat-pad`` in
    its config.json), ``"zero"`` appends zeros. An empty clip becomes zeros."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if y.shape[0] >= min_samples:
        return y
    if mode == "zero" or y.shape[0] == 0:
        return np.pad(y, (0, min_samples - y.shape[0]))
    if mode == "repeat":
        return np.tile(y, -(-min_samples // y.shape[0]))[:min_samples]
    raise ValueError(f"pad must be 'repeat' or 'zero', not {mode!r}")


def fixture_clips() -> dict[str, np.ndarray]:
    """The parity fixture's clips at 16 kHz (deterministic; NumPy only): a harmonic tone,
    noise, a chirp with a beat, a clip shorter than one patch (padded), and silence."""
    t = lambda s: np.arange(round(s * SR), dtype=np.float64) / SR  # noqa: E731
    rng = np.random.default_rng(20190901)
    tone_t = t(3.5)
    tone = sum(0.2 / k * np.sin(2 * np.pi * 220.0 * k * tone_t) for k in range(1, 6))
    noise = 0.1 * rng.standard_normal(int(6.2 * SR))
    ct = t(10.0)
    chirp = 0.25 * np.sin(2 * np.pi * (100.0 * ct + 0.5 * 150.0 * ct ** 2))
    beat = (np.sin(2 * np.pi * 2.0 * ct) > 0.95) * rng.standard_normal(ct.size) * 0.3
    short = 0.3 * np.sin(2 * np.pi * 660.0 * t(1.3)) * np.hanning(int(1.3 * SR))
    clips = {"tone_3.5s": tone, "noise_6.2s": noise, "chirp_beat_10s": chirp + beat,
             "short_1.3s": short, "silence_4s": np.zeros(4 * SR)}
    return {k: np.asarray(v, dtype=np.float32) for k, v in clips.items()}


# -- TensorFlow (run in a Python that has tensorflow + tf-keras) ----------------------------
def _import_tf() -> Any:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.compat.v1.layers need tf-keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as e:
        raise MusicnnError("freezing the musicnn checkpoints needs TensorFlow: "
                           "pip install 'larpbench[musicnn-freeze]' (tensorflow, tf-keras)") from e
    tf.compat.v1.disable_eager_execution()
    return tf


def _build(tf: Any, checkpoint: str) -> tuple[Any, Any, dict[str, Any]]:
    """musicnn's graph in inference mode: (graph, input placeholder, named outputs)."""
    from musicnn import models

    g = tf.Graph()
    with g.as_default(), tf.name_scope("model"):
        # graph seed for the random-init control of reference(); tf-keras's initialisers still draw
        # their own seeds, so the control's values vary between runs (the real outputs do not)
        tf.compat.v1.set_random_seed(0)
        x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS])
        outs = models.define_model(x, False, checkpoint, NUM_TAGS)
        named = {"penultimate": outs[8], "taggram": tf.nn.sigmoid(outs[0]),
                 "mean_pool": outs[6], "max_pool": outs[7]}
    return g, x, named


def _restore_strictly(tf: Any, g: Any, checkpoint: str) -> Any:
    """A session with every variable restored from the checkpoint; raises on any mismatch."""
    prefix = str(checkpoint_prefix(checkpoint)) + "/"
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    stored = reader.get_variable_to_shape_map()
    with g.as_default():
        variables = tf.compat.v1.global_variables()
        wanted = {v.op.name: v.shape.as_list() for v in variables}
        missing = sorted(set(wanted) - set(stored))
        wrong = sorted(n for n in wanted if n in stored and list(stored[n]) != wanted[n])
        unused = sorted(n for n in set(stored) - set(wanted)
                        if not n.endswith(_OPTIMISER_SUFFIXES) and n not in _OPTIMISER_NAMES)
        if missing or wrong or unused:
            raise MusicnnError(f"{checkpoint}: checkpoint does not match musicnn's graph: missing "
                               f"{missing[:5]}, wrong shape {wrong[:5]}, unused {unused[:5]}")
        sess = tf.compat.v1.Session(graph=g)
        tf.compat.v1.train.Saver(var_list=variables).restore(sess, prefix)
        for v in variables:  # the values in the session are the checkpoint's
            if not np.array_equal(sess.run(v), reader.get_tensor(v.op.name)):
                raise MusicnnError(f"{checkpoint}: variable {v.op.name} differs from the checkpoint after restore")
    return sess


def freeze(checkpoint: str, out: Path) -> dict[str, Any]:
    """Freeze ``checkpoint`` into the GraphDef ``out`` (input ``model/Placeholder``
    [None, 187, 96]; outputs in ``OUTPUT_DIMS``) and write ``out`` with ``.json`` suffix
    (node names, sha256s, versions). Returns that record."""
    tf = _import_tf()
    g, x, named = _build(tf, checkpoint)
    sess = _restore_strictly(tf, g, checkpoint)
    nodes = {k: t.op.name for k, t in named.items()}
    with g.as_default():
        n_params = int(sum(np.prod(v.shape.as_list()) for v in tf.compat.v1.global_variables()))
        gd = tf.compat.v1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), list(nodes.values()))
    gd = tf.compat.v1.graph_util.extract_sub_graph(gd, list(nodes.values()))
    for node in gd.node:  # gradient-only attributes that older TF runtimes (essentia's) do not know
        for attr in _GRADIENT_ATTRS:
            if attr in node.attr:
                del node.attr[attr]
    sess.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".pb.tmp")
    tmp.write_bytes(gd.SerializeToString())
    os.replace(tmp, out)
    record = {"checkpoint": checkpoint, "checkpoint_sha256": checkpoint_sha256(checkpoint),
              "graph_sha256": sha256_file(out), "input": x.op.name, "outputs": nodes, "parameters": n_params,
              "tensorflow": tf.__version__, "musicnn": _musicnn_version()}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    return record


def _musicnn_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("musicnn")
    except metadata.PackageNotFoundError:
        return None


def librosa_patches(y: np.ndarray) -> np.ndarray:
    """musicnn 0.1.0's front end (``extractor.batch_data``): librosa mel power rounded to
    float16, ``log10(10000·x + 1)``, non-overlapping 187-frame patches -> [p, 187, 96]."""
    import librosa

    rep = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    rep = np.log10(10000 * rep.astype(np.float16) + 1)
    starts = range(0, rep.shape[0] - PATCH_FRAMES + 1, PATCH_FRAMES)
    return np.stack([rep[s:s + PATCH_FRAMES] for s in starts]).astype(np.float32)


def parity_key(checkpoint: str, clip: str, what: str) -> str:
    """Array name in the parity fixture (``.npz``)."""
    return f"{checkpoint}__{clip}__{what}"


def reference(out: Path) -> dict[str, Any]:
    """Outputs of the original models (strict restore, librosa front end) on
    :func:`fixture_clips` padded by :func:`pad_clip`, averaged over patches (``penultimate``
    [200], ``taggram`` [50]), and how far the same graph at random initialisation (what a
    failed restore leaves) is from them (``random_init_max_abs_diff``). Written to ``out``
    (compressed ``.npz``; key ``meta`` holds a JSON record). Returns the meta record."""
    import librosa

    tf = _import_tf()
    clips = {k: pad_clip(v) for k, v in fixture_clips().items()}
    patches = {k: librosa_patches(v) for k, v in clips.items()}
    meta: dict[str, Any] = {"format": PARITY_FORMAT, "sample_rate": SR, "pad": "repeat to 3 s",
                            "tensorflow": tf.__version__, "librosa": librosa.__version__,
                            "musicnn": _musicnn_version(), "patches": {k: len(p) for k, p in patches.items()},
                            "checkpoint_sha256": {}}
    arrays: dict[str, np.ndarray] = {}
    for ck in CHECKPOINTS:
        g, x, named = _build(tf, ck)
        sess = _restore_strictly(tf, g, ck)
        rand = tf.compat.v1.Session(graph=g)
        with g.as_default():
            rand.run(tf.compat.v1.global_variables_initializer())
        for name, p in patches.items():
            real = sess.run(named, {x: p})
            ctrl = rand.run(named, {x: p})
            for k in ("penultimate", "taggram"):
                arrays[parity_key(ck, name, k)] = real[k].mean(0).astype(np.float32)
            diff = np.abs(ctrl["penultimate"].mean(0) - real["penultimate"].mean(0)).max()
            arrays[parity_key(ck, name, "random_init_max_abs_diff")] = np.float32(diff)
        sess.close()
        rand.close()
        meta["checkpoint_sha256"][ck] = checkpoint_sha256(ck)
    np.savez_compressed(out, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    return meta


def main(argv: list[str]) -> int:
    usage = "usage: _musicnn_tf.py freeze CHECKPOINT OUT.pb | reference OUT.npz"
    if len(argv) == 3 and argv[0] == "freeze":
        print(json.dumps(freeze(argv[1], Path(argv[2]))))
        return 0
    if len(argv) == 2 and argv[0] == "reference":
        rec = reference(Path(argv[1]))
        print(f"wrote {argv[1]}: {CHECKPOINTS} x {sorted(rec['patches'])}")
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
