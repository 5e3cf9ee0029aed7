"""``oracle-artist``: one-hot of the track's canonical artist — the ceiling of the artist signal.

An **oracle** (tag ``"oracle"``; one of the documented exceptions to "encoders never read
the generator's hidden columns", see :mod:`encoders._oracle`): it reads ``tracks.csv``'s
ground-truth column ``canonical_artist``, the artist's canonical name. There is no
fallback to the ``artist`` column: that is the *credited* string, which may be an alias
("X feat. Y", "Various Artists"), so a one-hot of it would measure the caption, not the
artist. Without ``canonical_artist`` the encoder is unavailable. With ItemKNN it scores a
candidate by the share of the seeds by its artist. The dimension is the number of
canonical artists in the dataset (all splits). Never in the paper's tables; the
``ceilings`` study runs it.
"""

from __future__ import annotations

from encoders._oracle import OneHotColumnOracle, oracle_meta

COLUMN = "canonical_artist"


class OracleArtistEncoder(OneHotColumnOracle):
    meta = oracle_meta("oracle-artist", "One-hot of the canonical artist (tracks.csv column canonical_artist): "
                                        "the ceiling of the artist signal (oracle)",
                       "tracks.csv column canonical_artist")
    column = COLUMN
