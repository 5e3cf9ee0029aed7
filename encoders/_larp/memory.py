"""What one LARP training step needs in accelerator memory, computed on the ``meta`` device.

:func:`model_on_meta` builds the model of a config without weights (the HTS-AT is built on
the CPU and moved; the text tower is built from its ``transformers`` config, e.g.
``BertConfig()`` = bert-base-uncased). :func:`step_memory` adds up, in bytes:

* ``params``: every parameter (online towers, momentum copies, projections, temperature,
  fusion), float32;
* ``grads`` and ``adam``: one and two float32 copies of the parameters the stage trains;
* ``buffers``: queues, lookup tables (``num_tracks`` rows) and batch-norm statistics;
* ``activations``: the tensors autograd saves for backward in one forward of the stage
  loss at ``batch_size`` (pairs in stages 2-3: twice as many clips), counted exactly by a
  ``saved_tensors_hooks`` pack hook on a meta-device forward (each storage once), in
  float32 (no autocast: there is none for meta tensors); the TPC fusion's own
  activations (batch x n_seed x 256 floats, under a megabyte) are left out.

Not counted: the CUDA context and allocator slack, the transient tensors of the largest
single operation, and the no-grad momentum forward (freed as it goes); under bf16
autocast the saved inputs of matrix products are bfloat16 copies, so the real figure
for activations is expected to be lower than the float32 count.
"""

from __future__ import annotations

from typing import Any

GIB = 1024**3


def text_config_of(name: str) -> Any:
    """The ``transformers`` config of a text tower name: ``bert-base-uncased`` ->
    ``BertConfig()`` (its defaults are bert-base-uncased's architecture); any other name
    from its local ``config.json`` (:func:`encoders._text.check_text_model`)."""
    from transformers import AutoConfig, BertConfig

    from encoders._text import PAPER_TEXT_MODEL, check_text_model

    if name == PAPER_TEXT_MODEL:
        return BertConfig()
    return AutoConfig.from_pretrained(check_text_model(name).source, local_files_only=True)


def model_on_meta(cfg: dict[str, Any], num_tracks: int, stage: int = 3) -> Any:
    """The LARP model of ``cfg`` (stage ``stage``'s: fusion only in stage 3) on the meta device."""
    from encoders._larp.model import LarpModel

    cfg = {**cfg, "fusion": bool(cfg["fusion"]) and stage >= 3}
    model = LarpModel(cfg, num_tracks, seed=0, text_config=text_config_of(str(cfg["text_model"])))
    model.to("meta")
    model.trainable_parameters(stage)
    return model


def parameter_counts(model: Any) -> dict[str, int]:
    """Parameters by part: ``audio``/``text`` towers, ``proj``, ``momentum`` copies,
    ``fusion``, ``temp``; ``total`` and ``trainable``."""
    parts = {"audio": model.audio_encoder, "text": model.text_encoder, "fusion": model.fusion}
    out = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    out["proj"] = sum(p.numel() for m in (model.audio_proj, model.text_proj) for p in m.parameters())
    out["momentum"] = sum(p.numel() for m in (model.audio_encoder_m, model.text_encoder_m, model.audio_proj_m,
                                              model.text_proj_m) for p in m.parameters())
    out["temp"] = model.temp.numel()
    out["total"] = sum(p.numel() for p in model.parameters())
    out["trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return out


def _meta_batch(model: Any, stage: int, batch_size: int, text_len: int) -> dict[str, Any]:
    import torch

    hc = model.htsat_config
    n = batch_size * (1 if stage == 1 else 2)
    b = {"mel": torch.zeros(n, hc.frames, hc.mel_bins, device="meta"),
         "input_ids": torch.zeros(n, text_len, dtype=torch.long, device="meta"),
         "attention_mask": torch.ones(n, text_len, dtype=torch.long, device="meta"),
         "track_idx": torch.zeros(n, dtype=torch.long, device="meta")}
    if stage == 3:
        k = int(model.cfg["n_seed"])
        b.update({"ctx_idx": torch.zeros(batch_size, k, dtype=torch.long, device="meta"),
                  "ctx_pad": torch.zeros(batch_size, k, dtype=torch.bool, device="meta"),
                  "playlist_idx": torch.zeros(batch_size, dtype=torch.long, device="meta")})
    return b


def saved_activation_bytes(model: Any, stage: int, batch_size: int, text_len: int = 30) -> int:
    """Bytes autograd saves for backward in one training forward of ``stage`` on the meta
    device (each saved storage counted once). The queue and table updates are in-place
    bookkeeping without gradient and are skipped (they cannot run on meta)."""
    import torch

    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        seen[st._cdata] = max(seen.get(st._cdata, 0), st.nbytes())
        return t

    from encoders._larp.model import LarpModel

    model.train()
    model.enqueue = lambda *a, **k: None  # instance attributes: this meta model only
    model.update_tables = lambda *a, **k: None
    # an all-ones attention mask: transformers checks mask.all() (a host read) to drop it
    model._text = lambda ids, mask, momentum: LarpModel._text(model, ids, None, momentum)
    # the fusion reads no gradient from the towers (its inputs are the detached tables) and
    # branches on its padding; its activations (batch x n_seed x 256 floats) are left out
    model.playlist_vectors = lambda ctx, pad: (model.audio_table[ctx].mean(1), model.text_table[ctx].mean(1))
    if stage >= 2:
        model.set_cooccurrence(torch.zeros(1, dtype=torch.long, device="meta"))
    if stage >= 3:
        model.set_membership(torch.zeros(1, dtype=torch.long, device="meta"))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(_meta_batch(model, stage, batch_size, text_len), stage, 0.4)
    return sum(seen.values())


def step_memory(cfg: dict[str, Any], num_tracks: int, stage: int = 3) -> dict[str, Any]:
    """Bytes of one training step of ``stage`` at ``cfg["batch_size"]`` per process (see the
    module docstring); ``total`` = their sum, and the parameter counts."""
    model = model_on_meta(cfg, num_tracks, stage)
    counts = parameter_counts(model)
    out: dict[str, Any] = {
        "params": 4 * counts["total"], "grads": 4 * counts["trainable"], "adam": 8 * counts["trainable"],
        "buffers": sum(b.numel() * b.element_size() for b in model.buffers()),
        "activations": saved_activation_bytes(model, stage, int(cfg["batch_size"]), int(cfg["text_max_length"])),
    }
    out["total"] = sum(out.values())
    out["counts"] = counts
    return out


def main() -> None:  # pragma: no cover - a report for docs/larp.md
    """``python -m encoders._larp.memory [NUM_TRACKS]``: the paper config's figures."""
    import sys

    from encoders._larp import configs as C

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for text in ("bert-base-uncased", "all-mpnet-base-v2"):
        cfg = C.resolve("paper", {"text_model": text})
        for stage in (1, 3):
            m = step_memory(cfg, n, stage)
            parts = ", ".join(f"{k} {v / GIB:.2f}" for k, v in m.items() if k not in ("counts",))
            print(f"{text} stage {stage} batch {cfg['batch_size']} tracks {n}: GiB {parts}; params {m['counts']}")


if __name__ == "__main__":  # pragma: no cover
    main()
