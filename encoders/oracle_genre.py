"""``oracle-genre``: one-hot of the track's generator genre — the ceiling of the genre signal.

An **oracle** (tag ``"oracle"``; one of the documented exceptions to "encoders never read
the generator's hidden columns", see :mod:`encoders._oracle`): it reads ``tracks.csv``'s
ground-truth column ``genre``. With ItemKNN it scores a candidate by the share of the seeds
in its genre, which is as far as knowing the genre perfectly (from caption or audio) can
take a recommender. The dimension is the number of genres in the dataset (all splits).
Without the column the encoder is unavailable. Never in the paper's tables; the
``ceilings`` study runs it.
"""

from __future__ import annotations

from encoders._oracle import OneHotColumnOracle, oracle_meta

COLUMN = "genre"


class OracleGenreEncoder(OneHotColumnOracle):
    meta = oracle_meta("oracle-genre", "One-hot of the generator genre (tracks.csv column genre): the "
                                       "ceiling of the genre signal (oracle)", "tracks.csv column genre")
    column = COLUMN
