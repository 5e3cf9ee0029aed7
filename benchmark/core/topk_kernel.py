"""The compiled row kernel of :func:`benchmark.core.ranking.topk_masked` (numba).

Imported at the first ranking, not with :mod:`benchmark.core.ranking` (numba takes 0.3 s
to import). ``cache=True``: the machine code is written beside this module (or to numba's
cache directory where that is read-only) and loaded by later processes instead of being
compiled again (a few seconds per dtype).

Scores are compared as floats; the one read of each row from memory compares their bits
as integers, ``key = bits ^ ((bits >> (width - 1)) & abs_mask)`` (negative floats get their
magnitude bits flipped), which orders like the floats (``-0.0`` just below ``+0.0``) and
vectorises better than a float maximum. Per row: (1) the largest key of each block of
``block`` entries (:data:`BLOCKS`), and the largest magnitude bits, which find NaN of
either sign (refused, as ``+inf`` is in pass (3); ``-inf`` is a masked candidate); (2) the
threshold ``tau``, the float of the ``k + L``-th largest key among the maxima of groups of
:data:`GROUP` blocks (``L``: the row's mask length), so at least ``k + L`` entries, ``k``
of them unmasked, are ``>= tau``;
(3) every unmasked entry ``>= tau`` of the blocks whose largest key reaches ``tau``'s,
kept in column order. Where the kept buffer fills (many ties, or ``tau = -inf`` on short
rows), ``tau`` rises to the ``k``-th largest kept value and the entries below it are
dropped. One stable sort of the kept entries by score descending then orders ties by
column.
"""

from __future__ import annotations

import numba
import numpy as np

#: entries per block whose largest key pass (1) takes, largest first: :func:`block_size`
#: takes the largest that leaves at least ``GROUPS_PER_KEPT * (k + L)`` groups. Measured per
#: batch of ItemKNN scores, k = 40, masks of 40-60 (2026-12-03): 256 × 100,000 rows 7.2 ms
#: with 64, 7.9 with 32, 10.0 with 16; 256 × 30,000 4.5 / 3.9 / 4.2 ms with 64 / 32 / 16;
#: 100 × 10,000 3.9 / 4.0 / 1.9 / 1.9 ms with 64 / 32 / 16 / 8
BLOCKS = (64, 32, 16, 8)

#: groups of blocks per kept entry that :func:`block_size` asks for (more: a tighter
#: threshold from more, smaller blocks)
GROUPS_PER_KEPT = 2

#: blocks per group in the threshold's selection (fewer groups: a faster selection, a
#: looser ``tau``)
GROUP = 4


@numba.njit(nogil=True, cache=True)
def _block_keys(bits, block, n_blocks, out, abs_mask, inf_bits, shift):  # pragma: no cover - compiled
    """``out[b]``: the largest key of block ``b`` of one row's ``bits``; True if the row holds
    NaN (magnitude bits above infinity's, either sign: a negative NaN's key is below every
    other, so only this finds it). ``+inf`` has the largest key, so its block is always
    looked at in pass (3), which refuses it."""
    for b in range(n_blocks):
        blk = bits[b * block:(b + 1) * block]  # a slice: indices known non-negative
        top_key = blk[0] ^ ((blk[0] >> shift) & abs_mask)
        top_abs = blk[0] & abs_mask
        for t in range(block):
            x = blk[t]
            key = x ^ ((x >> shift) & abs_mask)
            top_key = key if key > top_key else top_key
            mag = x & abs_mask
            top_abs = mag if mag > top_abs else top_abs
        out[b] = top_key
        if top_abs > inf_bits:
            return True
    return False


@numba.njit(nogil=True, cache=True)
def _lowest_key_of(value, scratch_vals, scratch_bits, abs_mask, shift):  # pragma: no cover
    """The smallest key of a float equal to ``value`` (``-0.0``'s for zero)."""
    scratch_vals[0] = value
    if value == 0:
        scratch_vals[0] = -0.0
    x = scratch_bits[0]
    return x ^ ((x >> shift) & abs_mask)


@numba.njit(nogil=True, cache=True)
def topk_rows(s, bits, block, mask_start, mask_cols, k, minus_inf, abs_mask, inf_bits, shift,
              scratch_vals, scratch_bits, out):  # pragma: no cover - compiled
    """Fill ``out[r]`` (prefilled with -1) with row ``r``'s masked top-``k`` by (score
    descending, column ascending); return the first row holding NaN or ``+inf`` (``out`` is
    then incomplete), else -1.

    ``s``: C-contiguous float32/float64 ``[n, m]``; ``bits``: the same memory as signed
    integers of its width, with ``abs_mask`` (all bits but the sign), ``inf_bits`` (``+inf``'s
    bits) and ``shift`` (width - 1); ``block``: entries per block (one of :data:`BLOCKS`);
    ``mask_cols[mask_start[r]:mask_start[r + 1]]``: row ``r``'s masked columns, ascending;
    ``minus_inf``: ``-inf`` in ``s``'s dtype; ``scratch_vals``/``scratch_bits``: one float
    and the same memory as an integer."""
    n, m = s.shape
    n_blocks = m // block
    n_groups = n_blocks // GROUP
    block_key = np.empty(n_blocks, dtype=bits.dtype)
    group_key = np.empty(n_groups, dtype=bits.dtype)
    vals = np.empty(max(4 * k, 64), dtype=s.dtype)
    cols = np.empty(vals.shape[0], dtype=np.int64)
    for r in range(n):
        row = s[r]
        mp, me = mask_start[r], mask_start[r + 1]
        if _block_keys(bits[r], block, n_blocks, block_key, abs_mask, inf_bits, shift):
            return r
        kp = k + (me - mp)
        tau = minus_inf
        if n_groups >= kp:  # kp groups' largest keys are kp distinct entries >= tau, <= L masked
            for g in range(n_groups):
                top = block_key[g * GROUP]
                for t in range(1, GROUP):
                    key = block_key[g * GROUP + t]
                    top = key if key > top else top
                group_key[g] = top
            x = np.partition(group_key.copy(), n_groups - kp)[n_groups - kp]
            scratch_bits[0] = x ^ ((x >> shift) & abs_mask)  # the key back to the float's bits
            tau = scratch_vals[0]
        skip_below = _lowest_key_of(tau, scratch_vals, scratch_bits, abs_mask, shift)
        cnt = 0
        for b in range(n_blocks + 1):
            if b < n_blocks:
                if block_key[b] < skip_below:  # no entry of the block reaches tau
                    continue
                j0, j1 = b * block, (b + 1) * block
            else:  # the last m % block columns, in no block: NaN and +inf are checked here
                j0, j1 = n_blocks * block, m
            blk = row[j0:j1]
            for t in range(j1 - j0):
                v = blk[t]
                if v >= tau:
                    if v == np.inf:
                        return r
                    if v == -np.inf:  # a masked candidate
                        continue
                    j = j0 + t
                    while mp < me and mask_cols[mp] < j:
                        mp += 1
                    if mp < me and mask_cols[mp] == j:
                        continue
                    if cnt == vals.shape[0]:  # full: raise tau to the k-th largest kept, drop below
                        tau = np.partition(vals.copy(), cnt - k)[cnt - k]
                        skip_below = _lowest_key_of(tau, scratch_vals, scratch_bits, abs_mask, shift)
                        w = 0
                        for i in range(cnt):
                            if vals[i] >= tau:
                                vals[w] = vals[i]
                                cols[w] = cols[i]
                                w += 1
                        cnt = w
                        if 2 * cnt > vals.shape[0]:  # many ties at tau: a larger buffer
                            grown_vals = np.empty(2 * vals.shape[0], dtype=s.dtype)
                            grown_cols = np.empty(2 * vals.shape[0], dtype=np.int64)
                            grown_vals[:cnt] = vals[:cnt]
                            grown_cols[:cnt] = cols[:cnt]
                            vals, cols = grown_vals, grown_cols
                        if v < tau:
                            continue
                    vals[cnt] = v
                    cols[cnt] = j
                    cnt += 1
                elif v != v:
                    return r
        order = np.argsort(-vals[:cnt], kind="mergesort")  # stable: equal scores keep column order
        for i in range(min(k, cnt)):
            out[r, i] = cols[order[i]]
    return -1


def block_size(m: int, kept: int) -> int:
    """The largest of :data:`BLOCKS` that cuts ``m`` columns into at least ``GROUPS_PER_KEPT *
    kept`` groups of :data:`GROUP` blocks (``kept``: k + the longest mask), else the smallest."""
    for block in BLOCKS:
        if m // (block * GROUP) >= GROUPS_PER_KEPT * kept:
            return block
    return BLOCKS[-1]


#: per float dtype: the integer of its width, its all-but-sign mask, +inf's bits, width - 1
INT_VIEWS = {
    np.dtype(np.float32): (np.int32, np.int32(0x7FFFFFFF), np.int32(0x7F800000), np.int32(31)),
    np.dtype(np.float64): (np.int64, np.int64(0x7FFFFFFFFFFFFFFF), np.int64(0x7FF0000000000000), np.int64(63)),
}
