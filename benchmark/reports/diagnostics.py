"""Diagnostics computed from a cell's stored rankings (``seed<k>.rankings.npz``, read by
:func:`benchmark.core.rankings.load_rankings`), without rerunning anything.

For playlist ``q``: ``L_q`` its top-``K`` list (``K = 10``; ``-1`` padding ignored), ``S_q``
its seed tracks, ``G_q`` its ground truth, ``A(t)`` the credited artist of candidate ``t``,
``C`` the number of candidates (all test tracks).

* ``recall_other_artist@K = mean_q |{t ∈ L_q ∩ G_q : A(t) ∉ A(S_q)}| / |G_q|`` — recall@K of
  the paper (same denominator) counting only hits whose artist is not a seed's artist; the
  gap to ``recall@K`` is the share of recall that "same artist as a seed" explains.
* ``seed_artist_hit_share@K = Σ_q |{t ∈ L_q ∩ G_q : A(t) ∈ A(S_q)}| / Σ_q |L_q ∩ G_q|``.
* ``coverage@K = |∪_q L_q| / C`` — fraction of the catalogue that appears in any top-``K``.
* ``artist_diversity@K = mean_q |{A(t) : t ∈ L_q}| / |L_q|`` — distinct artists per list
  (``|L_q| = K`` unless fewer candidates exist).
* recall@K by playlist length ``n_q = |S_q| + |G_q|`` in the buckets :data:`LENGTH_BUCKETS`
  (each bucket: playlists, mean recall@K).

Playlists with empty ground truth are left out, as in :mod:`benchmark.core.metrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.rankings import Rankings, load_rankings, rankings_path
from benchmark.core.results import Record

#: (label, lowest length, highest length) of the playlist-length buckets (whole playlist)
LENGTH_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("≤ 20", 0, 20), ("21–40", 21, 40), ("41–70", 41, 70), ("> 70", 71, 10 ** 9))
NOT_AVAILABLE = "not available (record predates stored rankings)"


def diagnostics(r: Rankings, k: int = 10) -> dict[str, Any]:
    """Every diagnostic of the module docstring for one cell's rankings."""
    keep = [q for q in range(len(r.truth)) if len(r.truth[q]) > 0]
    lists = [r.topk[q, :k][r.topk[q, :k] >= 0] for q in keep]
    recall, other, by_seed_artist, hits_total = [], [], 0, 0
    diversity = []
    shown: set[int] = set()
    for q, top in zip(keep, lists):
        truth = r.truth[q]
        seed_artists = set(r.candidate_artist[r.seeds[q]].tolist())
        hits = top[np.isin(top, truth)]
        same = np.array([r.candidate_artist[t] in seed_artists for t in hits], dtype=bool)
        recall.append(hits.size / truth.size)
        other.append(int((~same).sum()) / truth.size)
        by_seed_artist += int(same.sum())
        hits_total += int(hits.size)
        if top.size:
            diversity.append(len(set(r.candidate_artist[top].tolist())) / top.size)
        shown.update(top.tolist())
    lengths = np.array([len(r.seeds[q]) + len(r.truth[q]) for q in keep])
    rec = np.asarray(recall, dtype=np.float64)
    buckets = []
    for label, lo, hi in LENGTH_BUCKETS:
        mask = (lengths >= lo) & (lengths <= hi)
        buckets.append({"bucket": label, "playlists": int(mask.sum()),
                        f"recall@{k}": float(rec[mask].mean()) if mask.any() else None})
    return {
        "k": k, "playlists": len(keep),
        f"recall@{k}": float(rec.mean()) if rec.size else None,
        f"recall_other_artist@{k}": float(np.mean(other)) if other else None,
        f"seed_artist_hit_share@{k}": by_seed_artist / hits_total if hits_total else None,
        f"coverage@{k}": len(shown) / r.n_candidates if r.n_candidates else None,
        f"artist_diversity@{k}": float(np.mean(diversity)) if diversity else None,
        "by_length": buckets,
    }


def cell_diagnostics(record: Record, k: int = 10) -> dict[str, Any]:
    """Diagnostics of a cell record: ``{"status": "ok", ...}`` from its rankings file, or
    ``{"status": "not available", "reason": ...}`` when the record has none (it predates stored
    rankings, it is not ``ok``, or the file is missing or unreadable; the reason names it)."""
    if record.status != "ok":
        return {"status": "not available", "reason": f"cell status {record.status}"}
    info = record.get("rankings")
    if not info or record.path is None:
        return {"status": "not available", "reason": NOT_AVAILABLE}
    path = Path(record.path).parent / str(info.get("file") or rankings_path(record.path).name)
    if not path.is_file():
        return {"status": "missing", "reason": f"rankings file missing: {path}"}
    try:
        r = load_rankings(path)
    except (OSError, ValueError, KeyError) as e:
        return {"status": "missing", "reason": f"rankings file unreadable: {path} ({e})"}
    return {"status": "ok", **diagnostics(r, k)}
