"""``oracle-relations``: the canonical artist plus its relation neighbourhood — the ceiling
of the artist-relation signal.

An **oracle** (tag ``"oracle"``; one of the documented exceptions to "encoders never read
the generator's hidden columns", see :mod:`encoders._oracle`). It reads ``tracks.csv``'s
column ``canonical_artist`` and the generator's relation graph ``artist_relations.csv``
(``artist_a,artist_b,weight``, undirected). A track by artist ``a`` gets

    v = (e_a + Σ_b w_ab · e_b) / ‖e_a + Σ_b w_ab · e_b‖₂

over the artists ``b`` related to ``a`` (``e`` = one-hot over the dataset's canonical
artists, all splits). With ItemKNN a candidate then scores by how many seeds share its
artist **or** are by related artists: what a model that learned the relation graph from
playlists (relations span the splits and no caption states them) could reach. Without the
column or the file the encoder is unavailable. Never in the paper's tables; the
``ceilings`` study runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.core.dataset import Dataset
from encoders._oracle import (
    OracleEncoder,
    column_values,
    oracle_meta,
    read_relations,
    require_column,
    unit_rows,
    vocabulary,
)

COLUMN = "canonical_artist"


@dataclass(frozen=True)
class Neighbourhoods:
    index: dict[str, int]  # canonical artist -> coordinate
    #: artist coordinate -> (neighbour coordinates, weights)
    neighbours: dict[int, tuple[np.ndarray, np.ndarray]]


class OracleRelationsEncoder(OracleEncoder):
    meta = oracle_meta("oracle-relations", "Canonical-artist one-hot plus the weighted one-hots of its related "
                                           "artists (artist_relations.csv), L2-normalised: the ceiling of the "
                                           "relation signal (oracle)",
                       "tracks.csv column canonical_artist and artist_relations.csv")

    def _build(self, dataset: Dataset) -> Neighbourhoods:
        require_column(dataset, COLUMN, self.name)
        index = vocabulary(dataset, COLUMN)
        lists: dict[int, list[tuple[int, float]]] = {}
        for a, b, w in read_relations(dataset, set(index), self.name):
            lists.setdefault(index[a], []).append((index[b], w))
            lists.setdefault(index[b], []).append((index[a], w))
        neighbours = {i: (np.array([j for j, _ in nb], dtype=np.int64), np.array([w for _, w in nb]))
                      for i, nb in lists.items()}
        return Neighbourhoods(index, neighbours)

    def _vectors(self, table: Neighbourhoods, dataset: Dataset, track_ids: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(track_ids), len(table.index)), dtype=np.float64)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
        for row, artist in enumerate(column_values(dataset, COLUMN, track_ids)):
            a = table.index[artist]
            cols, weights = table.neighbours.get(a, empty)
            out[row, a] = 1.0
            np.add.at(out[row], cols, weights)
        return unit_rows(out)
