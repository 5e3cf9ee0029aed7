"""folk21's playlists and splits, on metadata only (no audio): pool selection, melody
dedupe, curatorial groups and the cold-start split.

- **Groups** are the corpus's own curatorial groupings: collection x genre (tune type,
  song category), collection x region, collection x volume (book, mass, edition
  volume). Pieces with none of these fall into their collection's plain group. Groups
  are cut, in source order, into near-equal chunks of at most ``max_len`` pieces.
- **Dedupe**: two pieces with the same melodic interval sequence (top line, repeated
  notes merged, first ``n_intervals`` intervals) are the same tune; the first one in
  canonical order (collection order, then source order) is kept, the others removed
  from the dataset altogether (so no copy can sit on the other side of a split).
- **Split**: groups are playlists. Each is assigned to ``train``, ``valid`` or
  ``test`` at random (seeded; only groups of at least
  ``min_eval_len`` pieces can go to valid/test). Then, split by split in ``priority``
  order, a playlist loses the tracks an earlier split already holds and is kept only
  if it still has ``min_eval_len`` (valid/test) or ``min_train_len`` (train) tracks —
  the official MPD procedure's "tracks of earlier splits are removed from later
  ones". Tracks in no kept playlist form the ``pretrain`` pool.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .corpus import COLLECTION_ORDER, Piece, slug

FAMILIES = ("genre", "region", "volume")


@dataclass(frozen=True)
class Group:
    group_id: str
    family: str  # "genre" | "region" | "volume" | "collection"
    collection: str
    value: str
    members: tuple[str, ...]  # piece ids in source order


def stable_int(*parts: object) -> int:
    """A platform-independent 64-bit integer from ``parts`` (for per-item seeded RNGs)."""
    h = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "little")


def item_rng(seed: int, *parts: object) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the item (not on processing order)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, stable_int(*parts) & 0xFFFFFFFFFFFFFFFF])


def _canonical(pieces: Iterable[Piece]) -> list[Piece]:
    rank = {c: i for i, c in enumerate(COLLECTION_ORDER)}
    return sorted(pieces, key=lambda p: (rank.get(p.collection, len(rank)), p.order, p.piece_id))


def chunk(members: Sequence[str], max_len: int) -> list[list[str]]:
    """Cut ``members`` in order into ``ceil(n / max_len)`` near-equal consecutive chunks."""
    n = len(members)
    if n == 0:
        return []
    k = max(1, math.ceil(n / max_len))
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [list(members[bounds[i]:bounds[i + 1]]) for i in range(k)]


def piece_families(p: Piece, families: Sequence[str] = FAMILIES) -> list[tuple[str, str]]:
    out = [(f, getattr(p, f)) for f in families if getattr(p, f)]
    return out or [("collection", "all")]


def make_groups(pieces: Iterable[Piece], *, max_len: int = 100,
                families: Sequence[str] = FAMILIES) -> list[Group]:
    """The curatorial groups of ``pieces``, chunked to at most ``max_len`` members each."""
    buckets: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for p in _canonical(pieces):
        for fam, value in piece_families(p, families):
            # Essen's sub-collections (files) are albums of their own
            buckets[(p.collection if p.collection != "essen" else p.album, fam, value)].append(p.piece_id)
    groups: list[Group] = []
    for (coll, fam, value), members in buckets.items():
        parts = chunk(members, max_len)
        for i, part in enumerate(parts, 1):
            gid = f"{slug(coll)}.{fam}.{slug(value)}" + (f".{i}" if len(parts) > 1 else "")
            groups.append(Group(gid, fam, coll, value, tuple(part)))
    return groups


# ----------------------------------------------------------------------------- dedupe
def melody_key(pitches: Sequence[int], n_intervals: int = 24, min_intervals: int = 4) -> tuple[int, ...] | None:
    """Transposition-invariant key of a melody: its first ``n_intervals`` semitone intervals
    after merging repeated notes (rhythm, ties and repeated-note splitting do not matter).
    ``None`` for melodies with fewer than ``min_intervals`` intervals (too short to tell)."""
    seq: list[int] = []
    for p in pitches:
        if not seq or seq[-1] != p:
            seq.append(int(p))
    iv = tuple(b - a for a, b in itertools.pairwise(seq))
    if len(iv) < min_intervals:
        return None
    return iv[:n_intervals]


def dedupe(pieces: Iterable[Piece], keys: Mapping[str, tuple[int, ...] | None]) -> tuple[list[Piece], dict[str, str]]:
    """Keep the first piece (canonical order) of every melody key; return kept pieces and
    ``removed piece id -> kept piece id``. Pieces without a key are kept."""
    seen: dict[tuple[int, ...], str] = {}
    kept: list[Piece] = []
    removed: dict[str, str] = {}
    for p in _canonical(pieces):
        k = keys.get(p.piece_id)
        if k is not None and k in seen:
            removed[p.piece_id] = seen[k]
            continue
        if k is not None:
            seen[k] = p.piece_id
        kept.append(p)
    return kept, removed


# ----------------------------------------------------------------------------- pool selection
def primary_units(pieces: Iterable[Piece], max_len: int = 100) -> list[list[str]]:
    """Pieces cut into their primary groups (genre, else volume, else region, else the
    plain collection), chunked like playlists; the unit of pool selection and hold-out."""
    primary: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for p in _canonical(pieces):
        fam = "genre" if p.genre else "volume" if p.volume else "region" if p.region else "collection"
        primary[(p.album, fam, getattr(p, fam) if fam != "collection" else "all")].append(p.piece_id)
    return [c for members in primary.values() for c in chunk(members, max_len)]


def _take_units(units: list[list[str]], share: int, rng: np.random.Generator) -> set[str]:
    chosen: set[str] = set()
    for i in rng.permutation(len(units)):
        if len(chosen) >= share:
            break
        unit = units[int(i)]
        if chosen and len(chosen) + len(unit) > share * 1.25:
            continue  # a unit that would overshoot the share by far: try a smaller one
        chosen.update(unit)
    return chosen


def select_pool(pieces: Sequence[Piece], budget: int | None, seed: int, *,
                max_len: int = 100) -> list[Piece]:
    """About ``budget`` pieces made of whole primary groups (so playlists stay whole).

    The budget is shared among collections in proportion to their size; inside a
    collection, primary units are taken in a seeded random order until its share is
    reached. ``budget=None`` takes everything.
    """
    pieces = _canonical(pieces)
    if budget is None or budget >= len(pieces):
        return pieces
    by_coll: dict[str, list[Piece]] = defaultdict(list)
    for p in pieces:
        by_coll[p.collection].append(p)
    chosen: set[str] = set()
    for coll, items in by_coll.items():
        share = max(1, round(budget * len(items) / len(pieces)))
        chosen |= _take_units(primary_units(items, max_len), share, item_rng(seed, "folk21-pool", coll))
    return [p for p in pieces if p.piece_id in chosen]


def hold_out_pretrain(pieces: Sequence[Piece], frac: float, seed: int, *,
                      max_len: int = 100) -> tuple[list[Piece], list[Piece]]:
    """Set aside about ``frac`` of the pieces (whole primary units, per collection) as the
    pre-training pool: they join no playlist. Returns ``(pretrain, rest)``."""
    if frac <= 0:
        return [], list(pieces)
    by_coll: dict[str, list[Piece]] = defaultdict(list)
    for p in _canonical(pieces):
        by_coll[p.collection].append(p)
    held: set[str] = set()
    for coll, items in by_coll.items():
        units = primary_units(items, max_len)
        if len(units) < 3:
            continue  # too few groups to spare any
        held |= _take_units(units, round(frac * len(items)), item_rng(seed, "folk21-pretrain", coll))
    pre = [p for p in pieces if p.piece_id in held]
    return pre, [p for p in pieces if p.piece_id not in held]


# ----------------------------------------------------------------------------- split
@dataclass
class SplitResult:
    playlists: list[tuple[str, str, list[str]]]  # (playlist id, split, track ids)
    track_split: dict[str, str]  # every piece id -> train/valid/test/pretrain
    stats: dict[str, object]


def assign_splits(groups: Sequence[Group], piece_ids: Sequence[str], *, seed: int,
                  valid_frac: float = 0.12, test_frac: float = 0.18,
                  min_eval_len: int = 11, min_train_len: int = 2, max_eval_len: int = 101,
                  priority: Sequence[str] = ("test", "valid", "train")) -> SplitResult:
    """Assign groups to splits and resolve tracks shared by playlists of different splits.

    ``valid_frac``/``test_frac`` are fractions of the groups long enough for evaluation
    (``>= min_eval_len``; at least one each when there are three such groups); the
    other groups are training playlists. ``priority`` says which split keeps a shared
    track (the first); the official MPD order is ``("train", "valid", "test")``, whose
    evaluation playlists lose every track that also sits in a training playlist.
    """
    if sorted(priority) != ["test", "train", "valid"]:
        raise ValueError(f"priority must order train, valid and test, not {priority}")
    rng = item_rng(seed, "folk21-split")
    order = [groups[int(i)] for i in rng.permutation(len(groups))]
    eligible = [g for g in order if len(g.members) >= min_eval_len]
    n_test = round(test_frac * len(eligible))
    n_valid = round(valid_frac * len(eligible))
    if len(eligible) >= 3:
        n_test, n_valid = max(n_test, 1), max(n_valid, 1)
    assigned: dict[str, str] = {}
    # evaluation groups are drawn so that they do not eat each other: a group whose
    # still-unclaimed tracks are too few for an evaluation playlist is passed over
    claimed: set[str] = set()
    quota = {"test": n_test, "valid": n_valid}
    for split in ("test", "valid"):
        for g in eligible:
            if quota[split] <= 0:
                break
            if g.group_id in assigned or len(set(g.members) - claimed) < min_eval_len:
                continue
            assigned[g.group_id] = split
            claimed.update(g.members)
            quota[split] -= 1
    for g in order:
        assigned.setdefault(g.group_id, "train")

    owner: dict[str, str] = {}
    playlists: list[tuple[str, str, list[str]]] = []
    dropped: dict[str, int] = defaultdict(int)
    lost_tracks: dict[str, int] = defaultdict(int)
    by_split: dict[str, list[Group]] = defaultdict(list)
    for g in groups:  # groups' own (canonical) order inside each split
        by_split[assigned[g.group_id]].append(g)
    for split in priority:
        min_len = min_train_len if split == "train" else min_eval_len
        for g in by_split[split]:
            tracks = [t for t in g.members if owner.get(t, split) == split]
            lost_tracks[split] += len(g.members) - len(tracks)
            if split != "train":
                tracks = tracks[:max_eval_len]
            if len(tracks) < min_len:
                dropped[split] += 1
                continue
            for t in tracks:
                owner[t] = split
            playlists.append((g.group_id, split, tracks))
    track_split = {pid: owner.get(pid, "pretrain") for pid in piece_ids}
    stats = {
        "groups": len(groups),
        "groups_assigned": {s: sum(1 for v in assigned.values() if v == s) for s in ("train", "valid", "test")},
        "playlists_dropped_too_short": dict(dropped),
        "tracks_removed_as_cross_split": dict(lost_tracks),
        "priority": list(priority),
    }
    return SplitResult(playlists, track_split, stats)
