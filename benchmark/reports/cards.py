"""Encoder cards: what each encoder of a results folder is, from its cell records only
(``encoder.meta``, ``encoder_fit``, ``encoder_trained_on`` and, in newer records,
``cost.encoder_parameters`` / ``cost.embedding_dim``).

Overlap with the evaluation data (per evaluated dataset):

* trained on another dataset (``encoder_trained_on``, Table 4) → ``none``;
* trained on the evaluated dataset's train split and/or pre-training pool → ``no test
  tracks`` (the cold-start split keeps test tracks and playlists out of both);
* no training here (weights pretrained elsewhere, or none) → ``none``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from benchmark.core.results import Record

NOT_RECORDED = "not recorded (record predates this field)"
_TRAINS_HERE = ("train split", "pretrain", "train playlists", "training split")


def overlap(record: Record | dict[str, Any]) -> str:
    """The overlap of an encoder's training data with the evaluated dataset's test tracks."""
    other = record.get("encoder_trained_on")
    if isinstance(other, dict) and other.get("name"):
        return f"none (trained on another dataset, {other['name']})"
    meta = (record.get("encoder") or {}).get("meta") or {}
    fit = record.get("encoder_fit") if isinstance(record.get("encoder_fit"), dict) else {}
    text = " ".join(str(x) for x in (fit.get("trained_on"), meta.get("trains_on")) if x).lower()
    if fit.get("trained_on") or any(s in text for s in _TRAINS_HERE):
        return "no test tracks (trained on this dataset's train split / pre-training pool)"
    return "none (no training on this dataset)"


def _trained_on(record: Record | dict[str, Any]) -> str:
    meta = (record.get("encoder") or {}).get("meta") or {}
    fit = record.get("encoder_fit") if isinstance(record.get("encoder_fit"), dict) else {}
    if fit.get("trained_on"):
        pre = fit.get("pretrained") if isinstance(fit.get("pretrained"), dict) else {}
        return " then ".join(str(x) for x in (pre.get("trained_on"), fit["trained_on"]) if x)
    return str(meta.get("trains_on") or NOT_RECORDED)


def encoder_cards(records: Iterable[Record]) -> list[dict[str, Any]]:
    """One card per encoder label (``<encoder>[@<train dataset>]``) of the cell records, sorted
    by label; per-dataset fields (what it trained on, overlap) are keyed by dataset."""
    cards: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.kind != "cell" or rec.identity.get("variant"):
            continue
        cell = rec.identity
        label = cell["encoder"] + (f"@{cell['train_dataset']}" if cell.get("train_dataset") else "")
        meta = (rec.get("encoder") or {}).get("meta") or {}
        card = cards.setdefault(label, {
            "label": label, "name": meta.get("name", cell["encoder"]), "paper_row": meta.get("paper_row"),
            "version": meta.get("version"), "description": meta.get("description", ""),
            "parameters": None, "dim": None, "weights_source": meta.get("weights_source") or meta.get("weights")
            or NOT_RECORDED, "licence_code": meta.get("licence_code") or NOT_RECORDED,
            "licence_weights": meta.get("licence_weights") or NOT_RECORDED,
            "output_libraries": ", ".join(meta.get("output_libraries") or ()) or NOT_RECORDED,
            "citation": meta.get("citation") or NOT_RECORDED, "modalities": ", ".join(meta.get("modalities") or ()),
            "trained_on": {}, "overlap": {}, "status": set(),
        })
        cost = rec.get("cost") if isinstance(rec.get("cost"), dict) else {}
        if card["parameters"] is None and cost.get("encoder_parameters") is not None:
            card["parameters"] = int(cost["encoder_parameters"])
        if cost.get("embedding_dim"):  # measured on the embeddings: preferred over the declared dim
            card["dim"] = int(cost["embedding_dim"])
        card.setdefault("declared_dim", meta.get("dim"))
        card["status"].add(rec.status)
        if rec.status == "ok":
            card["trained_on"][cell["dataset"]] = _trained_on(rec)
            card["overlap"][cell["dataset"]] = overlap(rec)
    out = []
    for card in sorted(cards.values(), key=lambda c: c["label"]):
        card["parameters"] = (f"{card['parameters']:,}" if card["parameters"] is not None
                              else "not recorded (record predates cost)")
        dim = card["dim"] or card.pop("declared_dim", None)
        card.pop("declared_dim", None)
        card["dim"] = str(dim) if dim else "not recorded (set by config)"
        card["status"] = ", ".join(sorted(card["status"]))
        out.append(card)
    return out
