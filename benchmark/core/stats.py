"""Sound comparisons of encoders over the same test playlists: paired sign-flip tests with
Holm's correction, paired-bootstrap intervals of differences, compact letter displays and
the spread over training seeds. Core, so that the harness and the reports share it.

Notation: rows ``i = 1..k`` (encoders of one dataset × recommender × metric) evaluated on the
same ``P`` playlists; ``x_i[p]`` the per-playlist metric of row ``i`` (averaged over its
seeds); ``d[p] = x_i[p] - x_j[p]`` the paired differences of a pair ``(i, j)``.

Why not ``scipy.stats.permutation_test``: it gives the same p-values (the tests check this
by exact enumeration) but draws its own signs for each pair, one pair at a time. A Table 2
family has up to ``k(k-1)/2 = 78`` pairs and there are dozens of families; drawing one sign
matrix per family and taking every pair's null distribution as one matrix product is about
280 times faster (78 pairs × 220 playlists × 10,000 resamples: 0.10 s against 29 s, measured
on 2 shared cores) and makes every pair of a family use the same resamples.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import ascii_lowercase

import numpy as np

#: resamples of the Monte-Carlo sign-flip test (exact enumeration below 2**EXACT_MAX_N)
N_PERM = 10_000
#: resamples of the paired bootstrap
N_BOOT = 2_000
#: up to this many playlists the sign-flip test enumerates all 2**P sign vectors
EXACT_MAX_N = 13
#: relative tolerance of "a resampled statistic is at least as extreme as the observed one"
_TIE = 1e-12


# ----------------------------------------------------------------------------- tests
def _sign_matrix(n: int, n_perm: int, seed: int) -> tuple[np.ndarray, bool]:
    """``[R, n]`` of ±1 and whether it is the complete enumeration (R = 2**n)."""
    if n <= EXACT_MAX_N and 2 ** n <= n_perm:
        grid = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.float64)
        return 1.0 - 2.0 * grid, True
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(n_perm, n)), False


def sign_flip_pvalues(diffs: np.ndarray, n_perm: int = N_PERM, seed: int = 0) -> np.ndarray:
    """Two-sided paired sign-flip permutation test of ``mean(d) = 0`` for each row of ``diffs``
    (``[n_pairs, P]`` paired differences, or one ``[P]`` vector).

    Under the null hypothesis the sign of each playlist's difference is exchangeable, so the
    statistic ``T(s) = |Σ_p s_p d_p| / P`` is compared with its value for sign vectors ``s``:

    * exact, when ``2**P ≤ n_perm`` (and ``P ≤ 13``): ``p = #{s ∈ {±1}^P : T(s) ≥ T(1)} / 2**P``;
    * otherwise with ``R = n_perm`` random sign vectors (shared by every row):
      ``p = (1 + #{r : T(s_r) ≥ T(1)}) / (1 + R)`` (never 0, Phipson & Smyth 2010).

    A row of zeros gets ``p = 1``; an empty row ``nan``.
    """
    d = np.atleast_2d(np.asarray(diffs, dtype=np.float64))
    n = d.shape[1]
    if n == 0:
        out = np.full(d.shape[0], np.nan)
        return out if np.ndim(diffs) > 1 else out[:1]
    signs, exact = _sign_matrix(n, n_perm, seed)
    observed = np.abs(d.sum(axis=1))
    null = np.abs(d @ signs.T)  # [n_pairs, R]
    tol = _TIE * np.maximum(np.abs(d).sum(axis=1), 1.0)
    count = (null >= (observed - tol)[:, None]).sum(axis=1)
    p = count / signs.shape[0] if exact else (1 + count) / (1 + signs.shape[0])
    p = np.minimum(p, 1.0)
    return p if np.ndim(diffs) > 1 else p[:1]


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of ``m`` p-values (family-wise error rate).

    Sort ascending, ``p_(1) ≤ … ≤ p_(m)``; the adjusted value of the ``i``-th smallest is
    ``p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j))``, returned in the input order.
    ``nan`` entries stay ``nan`` and do not count in ``m``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def paired_bootstrap_ci(diffs: np.ndarray, n_boot: int = N_BOOT, level: float = 0.95,
                        seed: int = 0) -> np.ndarray:
    """Percentile paired-bootstrap interval of ``mean(d)`` for each row of ``diffs``
    (``[n_pairs, P]``): draw ``B = n_boot`` index vectors ``I_b`` of ``P`` playlists with
    replacement (the same for every row, so both rows of a pair keep their pairing), take
    ``m_b = mean_p d[I_b,p]``, and return the ``α/2`` and ``1−α/2`` quantiles of ``m_b``
    (``α = 1 − level``) as ``[n_pairs, 2]`` (``nan`` for empty rows)."""
    d = np.atleast_2d(np.asarray(diffs, dtype=np.float64))
    n = d.shape[1]
    if n == 0:
        return np.full((d.shape[0], 2), np.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot, n))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n), idx.ravel()), 1.0)
    means = d @ counts.T / n  # [n_pairs, B]
    alpha = (1.0 - level) / 2.0
    return np.quantile(means, [alpha, 1.0 - alpha], axis=1).T


# ----------------------------------------------------------------------------- letters
def compact_letters(order: Sequence[str], significant: Mapping[frozenset[str], bool]) -> dict[str, str]:
    """Compact letter display (insert-and-absorb, Piepho 2004) of a significance relation.

    ``order`` lists the rows best first; ``significant[frozenset({a, b})]`` is True when
    ``a`` and ``b`` differ (after correction). Start with one group of all rows; for every
    significant pair split each group holding both into ``group − {a}`` and ``group − {b}``;
    drop groups contained in another. Groups are lettered a, b, … by their best row
    (ties: the next row), so two rows share a letter iff no significant difference
    separates them within some group. Returns ``{row: letters}``.
    """
    names = list(order)
    pos = {n: i for i, n in enumerate(names)}
    groups: list[frozenset[str]] = [frozenset(names)] if names else []
    for a, b in itertools.combinations(names, 2):
        if not significant.get(frozenset((a, b)), False):
            continue
        new: list[frozenset[str]] = []
        for g in groups:
            if a in g and b in g:
                new += [g - {a}, g - {b}]
            else:
                new.append(g)
        new = [g for g in dict.fromkeys(new) if g]
        groups = [g for g in new if not any(g < h for h in new)]
    groups.sort(key=lambda g: sorted(pos[n] for n in g))
    out = {n: "" for n in names}
    for i, g in enumerate(groups):
        letter = _letter(i)
        for n in g:
            out[n] += letter
    return out


def _letter(i: int) -> str:
    return ascii_lowercase[i] if i < 26 else f"{ascii_lowercase[i // 26 - 1]}{ascii_lowercase[i % 26]}"


# ----------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Comparison:
    """One pair of a family: ``a`` minus ``b`` over the shared playlists."""

    a: str
    b: str
    diff: float
    ci: tuple[float, float]
    p: float
    p_holm: float

    @property
    def significant(self) -> bool:
        return bool(self.p_holm < 0.05)


@dataclass(frozen=True)
class Family:
    """All-pairs comparisons of one dataset × recommender × metric."""

    order: tuple[str, ...]  # rows best first (by mean)
    means: dict[str, float]
    comparisons: tuple[Comparison, ...]
    letters: dict[str, str]
    alpha: float
    n_playlists: int
    exact: bool

    def pair(self, a: str, b: str) -> Comparison | None:
        for c in self.comparisons:
            if {c.a, c.b} == {a, b}:
                return c
        return None


def compare_all(per_playlist: Mapping[str, np.ndarray], alpha: float = 0.05, n_perm: int = N_PERM,
                n_boot: int = N_BOOT, seed: int = 0) -> Family:
    """Every pair of rows of one family (``{row: per-playlist values}``, the same playlists
    in the same order): sign-flip p-value (:func:`sign_flip_pvalues`), Holm-adjusted over
    the family's ``m = k(k−1)/2`` pairs (:func:`holm`), paired-bootstrap interval of the
    difference of means (:func:`paired_bootstrap_ci`), and letters (:func:`compact_letters`)
    where a pair differs iff its adjusted ``p < alpha``. Pairs are oriented best − worse."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in per_playlist.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) > 1:
        raise ValueError(f"rows are not paired: per-playlist arrays of shapes {sorted(shapes)}")
    means = {k: float(v.mean()) if v.size else float("nan") for k, v in arrays.items()}
    order = tuple(sorted(arrays, key=lambda k: (-means[k], k)))
    pairs = list(itertools.combinations(order, 2))
    n = next(iter(shapes))[0] if shapes else 0
    exact = n <= EXACT_MAX_N and 2 ** n <= n_perm
    if pairs:
        diffs = np.stack([arrays[a] - arrays[b] for a, b in pairs])
        p = sign_flip_pvalues(diffs, n_perm=n_perm, seed=seed)
        cis = paired_bootstrap_ci(diffs, n_boot=n_boot, seed=seed)
        adj = holm(p)
        comps = tuple(Comparison(a, b, float(d.mean()), (float(lo), float(hi)), float(pp), float(pa))
                      for (a, b), d, pp, pa, (lo, hi) in zip(pairs, diffs, p, adj, cis))
    else:
        comps = ()
    sig = {frozenset((c.a, c.b)): bool(c.p_holm < alpha) for c in comps}
    return Family(order, means, comps, compact_letters(order, sig), alpha, n, exact)


def seed_spread(seed_means: Sequence[float]) -> tuple[float, float] | None:
    """Mean and sample standard deviation over training seeds of a row's mean metric:
    ``m̄ = Σ_s m_s / S``, ``sd = sqrt(Σ_s (m_s − m̄)² / (S − 1))``; ``None`` for ``S < 2``.
    This is the seed-to-seed variation, kept apart from the playlist interval (which
    resamples playlists of the seed-averaged values)."""
    x = np.asarray(seed_means, dtype=np.float64)
    if x.size < 2:
        return None
    return float(x.mean()), float(x.std(ddof=1))


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """Mean and Student-t interval of independent replicates (e.g. one mean metric per
    generated world): ``m̄ ± t_{(1+level)/2, n−1} · s / √n`` with ``s`` the sample standard
    deviation (``ddof=1``). Returns ``(m̄, low, high)``; ``None`` for ``n < 2``."""
    from scipy.stats import t

    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    m = float(x.mean())
    half = float(t.ppf((1.0 + level) / 2.0, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return m, m - half, m + half
