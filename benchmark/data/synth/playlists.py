"""Simulated curators, track pools per split, and the cold-start split itself.

Split layout (a random permutation of the world's tracks)::

    [ pretrain | valid pool | test pool | train candidates ............ ]

The pretrain tracks belong to no playlist. Playlists of a split draw only from that
split's pool; pool tracks that no playlist picks are dropped from the dataset (as in real
data, where a dataset holds the tracks that have interactions). The train pool is a
prefix of the train candidates whose length is calibrated so that the training split has
about ``playlists_per_track`` playlists per track.

A curator has

* a taste over 1-3 (``lfm``: up to 4) related genres, with Dirichlet weights;
* a few favourite artists in those genres, and their neighbours in the artist-relation
  graph (weighted by edge weight); both weighted by how close the artist's production era
  is to the curator's (``era_preference``, ``era_tolerance``);
* a preferred sound: tempo, mode (major/minor), loudness and production era of a typical
  track.

Each pick of a playlist is, independently,

* an **outlier** with probability ``outlier_rate``: a track drawn by global popularity;
* else **relation-driven** with probability ``relation_picks``: a neighbour of a favourite
  artist in the relation graph (by edge weight), then one of its tracks by popularity;
* else **artist-driven** with probability ``artist_affinity``: a favourite artist, then
  one of the artist's tracks by popularity;
* else **genre/content-driven**: a genre from the taste, a track of it by popularity,
  accepted with a probability that falls off with the distance of the track's tempo,
  mode, loudness and (weighted by ``era_preference``) production era from the curator's
  preference (never below ``content_floor``).

Popularity is Zipf-like (artist Zipf rank x log-normal album and track factors), so a few
tracks appear in many playlists and the tail appears once or never.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .presets import SynthConfig
from .world import S_CURATORS, S_SPLIT, World, rng_for

SPLIT_CODES = {"train": 1, "valid": 2, "test": 3}


class _GroupSampler:
    """Draw pool positions by weight within a group (genre, artist), vectorised.

    Positions are sorted by group; each group's cumulative weights are scaled to (0, 1]
    and shifted by the group's rank, so a draw from group g is one ``searchsorted`` of
    ``g + u`` on a single monotone array.
    """

    def __init__(self, groups: np.ndarray, weights: np.ndarray) -> None:
        self.order = np.argsort(groups, kind="stable")
        g_sorted = groups[self.order]
        self.keys, starts, counts = np.unique(g_sorted, return_index=True, return_counts=True)
        w = weights[self.order].astype(np.float64)
        rank = np.repeat(np.arange(len(self.keys)), counts)
        totals = np.add.reduceat(w, starts)
        within = np.cumsum(w) - np.repeat(np.cumsum(totals) - totals, counts)
        self.cum = rank + within / np.repeat(totals, counts)
        self.cum[np.concatenate([starts[1:] - 1, [len(w) - 1]])] = np.arange(1, len(self.keys) + 1)
        self.rank_of = {int(k): i for i, k in enumerate(self.keys)}
        self.total = dict(zip((int(k) for k in self.keys), totals))

    def draw(self, rng: np.random.Generator, group_ranks: np.ndarray) -> np.ndarray:
        u = 1.0 - rng.random(len(group_ranks))  # (0, 1]
        pos = np.searchsorted(self.cum, group_ranks + u, side="left")
        return self.order[np.minimum(pos, len(self.order) - 1)]


@dataclass
class Pool:
    """The tracks a split's playlists may use, with samplers over them."""

    split: str
    uids: np.ndarray  # world uids
    genre: np.ndarray
    artist: np.ndarray
    pop: np.ndarray
    tempo: np.ndarray
    loudness: np.ndarray
    major: np.ndarray
    era: np.ndarray

    tau: float = 1.0  # sampling temperature: tracks are drawn by popularity ** tau

    @classmethod
    def make(cls, world: World, split: str, uids: np.ndarray, tau: float = 1.0) -> Pool:
        uids = np.asarray(uids, dtype=np.int64)
        pop = world.track_pop[uids]
        p = cls(split, uids, world.track_genre[uids], world.track_artist[uids],
                pop if tau == 1.0 else np.power(pop, tau), world.track_tempo[uids],
                world.track_loudness[uids], world.majorish()[uids], world.track_era[uids], tau)
        p._index()
        return p

    def _index(self) -> None:
        w = self.pop / self.pop.sum()
        self.global_cum = np.cumsum(w)
        self.global_cum[-1] = 1.0
        self.by_genre = _GroupSampler(self.genre, self.pop)
        self.by_artist = _GroupSampler(self.artist, self.pop)
        self.genre_mass = np.zeros(int(self.genre.max()) + 1)
        np.add.at(self.genre_mass, self.genre, self.pop)
        self.artists = self.by_artist.keys  # world artist ids present in the pool
        # artists with at least one track of genre g in the pool (sorted), per genre
        n_art = int(self.artist.max()) + 1
        pairs = np.unique(self.genre.astype(np.int64) * n_art + self.artist)
        pg, pa = np.divmod(pairs, n_art)
        cuts = np.searchsorted(pg, np.arange(len(self.genre_mass) + 1))
        self.genre_artists = [pa[cuts[g]:cuts[g + 1]] for g in range(len(self.genre_mass))]

    def draw_global(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.global_cum, rng.random(n), side="right"),
                          len(self.uids) - 1)


@dataclass
class Curator:
    genres: np.ndarray  # world genre ids
    genre_p: np.ndarray
    artists: np.ndarray  # favourite artists' ranks in pool.by_artist
    artist_p: np.ndarray
    neighbours: np.ndarray  # ranks of the favourites' relation-graph neighbours
    neighbour_p: np.ndarray  # by edge weight (the strongest tie to any favourite)
    tempo: float
    major: bool
    loudness: float
    era: float


def make_curator(rng: np.random.Generator, world: World, pool: Pool, cfg: SynthConfig) -> Curator:
    G = len(world.genres)
    present = np.zeros(G)
    present[: len(pool.genre_mass)] = pool.genre_mass > 0
    k = 1 + int(rng.choice(len(cfg.curator_genres), p=np.asarray(cfg.curator_genres)))
    k = min(k, int(present.sum()))
    mass = np.zeros(G)
    mass[: len(pool.genre_mass)] = pool.genre_mass
    p_main = np.sqrt(mass) * present
    chosen = [int(rng.choice(G, p=p_main / p_main.sum()))]
    while len(chosen) < k:
        p = world.genre_sim[chosen].max(axis=0) * present
        p[chosen] = 0.0
        chosen.append(int(rng.choice(G, p=p / p.sum())))
    weights = np.sort(rng.dirichlet(np.full(k, 2.0)))[::-1]
    genres = np.asarray(chosen)

    # preferred sound: that of a typical track of the main genre
    ref = int(pool.by_genre.draw(rng, np.asarray([pool.by_genre.rank_of[chosen[0]]]))[0])
    era = float(pool.era[ref])

    def era_fit(artists: np.ndarray) -> np.ndarray:  # curators like artists of their era
        d = (world.artist_era[artists] - era) / cfg.era_tolerance
        return np.exp(-0.5 * cfg.era_preference * d * d)

    # favourite artists: popular-ish artists of the taste genres present in the pool
    cand_artists = np.unique(np.concatenate([pool.genre_artists[int(g)] for g in genres]))
    gw = dict(zip(genres.tolist(), weights.tolist()))
    home = world.artist_home[cand_artists]
    aw = (np.power(world.artist_pop[cand_artists], 0.6 * pool.tau)
          * np.asarray([gw.get(int(h), 0.2) for h in home]) * era_fit(cand_artists))
    n_fav = int(rng.integers(cfg.favourite_artists[0], cfg.favourite_artists[1] + 1))
    n_fav = min(n_fav, len(cand_artists))
    favs = rng.choice(cand_artists, size=n_fav, replace=False, p=aw / aw.sum())
    fav_set = {int(a) for a in favs}
    ties: dict[int, float] = {}
    for a in favs:
        fit = era_fit(world.neighbours[int(a)])
        for b, w, f in zip(world.neighbours[int(a)], world.neighbour_weights[int(a)], fit):
            if int(b) not in fav_set:
                ties[int(b)] = max(ties.get(int(b), 0.0), float(w * f))
    fav_ranks, fav_p = _present(pool, {a: 1.0 for a in sorted(fav_set)})
    nb_ranks, nb_p = _present(pool, ties)

    return Curator(genres, weights, fav_ranks, fav_p, nb_ranks, nb_p,
                   float(pool.tempo[ref] + 4.0 * rng.standard_normal()), bool(pool.major[ref]),
                   float(pool.loudness[ref]), era)


def _present(pool: Pool, weights: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """Ranks in ``pool.by_artist`` of the weighted artists that have tracks in the pool,
    with their weights normalised to probabilities."""
    ranks, probs = [], []
    for a, w in sorted(weights.items()):
        r = pool.by_artist.rank_of.get(a)
        if r is not None:
            ranks.append(r)
            probs.append(w)
    p = np.asarray(probs, dtype=float)
    return np.asarray(ranks, dtype=np.int64), (p / p.sum() if len(p) else p)


def _acceptance(cur: Curator, pool: Pool, pos: np.ndarray, cfg: SynthConfig) -> np.ndarray:
    dt = (pool.tempo[pos] - cur.tempo) / cfg.tempo_tolerance
    dl = (pool.loudness[pos] - cur.loudness) / cfg.loudness_tolerance
    de = (pool.era[pos] - cur.era) / cfg.era_tolerance
    match = np.exp(-0.5 * (dt * dt + dl * dl + cfg.era_preference * de * de))
    match = match * np.where(pool.major[pos] == cur.major, 1.0, 1.0 - cfg.mode_strictness)
    return cfg.content_floor + (1.0 - cfg.content_floor) * match


def fill_playlist(rng: np.random.Generator, cur: Curator, pool: Pool, length: int,
                  cfg: SynthConfig) -> list[int]:
    """Pool positions of a playlist of ``length`` distinct tracks (fewer if the pool is tiny).

    The playlist's composition is fixed first (binomial numbers of outlier, relation-driven,
    artist-driven and genre-driven picks), so it does not depend on the pool size;
    relation- and artist-driven slots that those artists cannot fill (too few of their
    tracks in the pool) fall back to genre-driven picks.
    """
    length = min(length, len(pool.uids))
    chosen: list[int] = []
    seen: set[int] = set()

    def take(cands: np.ndarray, quota: int) -> int:
        got = 0
        for c in cands.tolist():
            if got >= quota:
                break
            if c not in seen:
                seen.add(c)
                chosen.append(c)
                got += 1
        return got

    n_out = int(rng.binomial(length, cfg.outlier_rate))
    r = cfg.relation_picks if len(cur.neighbours) else 0.0
    n_rel = int(rng.binomial(length - n_out, r))
    a = cfg.artist_affinity if len(cur.artists) else 0.0
    n_art = int(rng.binomial(length - n_out - n_rel, a))
    # relation-driven, then artist-driven picks
    for ranks, probs, quota in ((cur.neighbours, cur.neighbour_p, n_rel),
                                (cur.artists, cur.artist_p, n_art)):
        need = quota
        for _ in range(12):
            if need <= 0:
                break
            picks = ranks[rng.choice(len(ranks), size=max(8, 2 * need), p=probs)]
            need -= take(pool.by_artist.draw(rng, picks), need)
    # genre/content-driven picks (plus what the artists could not fill)
    need = length - n_out - len(chosen)
    genre_ranks = np.asarray([pool.by_genre.rank_of[int(g)] for g in cur.genres])
    for attempt in range(40):
        if need <= 0:
            break
        m = max(16, 3 * need)
        gc = pool.by_genre.draw(rng, genre_ranks[rng.choice(len(genre_ranks), size=m, p=cur.genre_p)])
        if attempt < 30:  # late attempts take any pick of the taste genres
            gc = gc[rng.random(m) < _acceptance(cur, pool, gc, cfg)]
        need -= take(gc, need)
    # outliers: global popularity
    need = length - len(chosen)
    for _ in range(12):
        if need <= 0:
            break
        need -= take(pool.draw_global(rng, max(8, 2 * need)), need)
    if len(chosen) < length:  # tiny pools: top up with the most popular remaining tracks
        take(np.argsort(-pool.pop, kind="stable"), length - len(chosen))
    order = rng.permutation(len(chosen))
    return [chosen[i] for i in order]


def draw_length(rng: np.random.Generator, lo: int, hi: int, mean: float) -> int:
    """A playlist length: ``lo`` + a Gamma(1.5) tail with the given mean, cut to ``hi``."""
    if hi <= lo:
        return lo
    extra = rng.gamma(1.5, max(mean - lo, 0.5) / 1.5)
    return int(min(hi, lo + round(extra)))


# ----------------------------------------------------------------------------- splits
@dataclass
class SplitResult:
    pretrain: np.ndarray  # world uids
    playlists: list[tuple[str, str, list[int]]]  # (playlist id, split, world uids)
    train_pool: int
    popularity_temperature: float
    train_ratio: float
    calibration: list[tuple[int, float, int, float]]  # (pool, temperature, distinct, ratio)


def _train_playlists(world: World, cfg: SynthConfig, pool: Pool,
                     tick: Callable[[int], None] | None = None) -> list[list[int]]:
    rng = rng_for(cfg.seed, S_CURATORS, SPLIT_CODES["train"])
    out: list[list[int]] = []
    used: set[int] = set()
    while len(used) < cfg.n_train:
        cur = make_curator(rng, world, pool, cfg)
        L = draw_length(rng, cfg.length_min, cfg.length_max, cfg.length_mean)
        pl = fill_playlist(rng, cur, pool, L, cfg)
        before = len(used)
        used.update(pl)
        out.append([int(pool.uids[i]) for i in pl])
        if tick is not None:
            tick(len(used) - before)
        if len(out) > 50 * cfg.n_train:  # pragma: no cover - pool far too small
            break
    return out


def make_splits(world: World, cfg: SynthConfig, progress: bool = False) -> SplitResult:
    from tqdm.auto import tqdm

    perm = rng_for(cfg.seed, S_SPLIT).permutation(world.n_tracks)
    a = cfg.n_pretrain
    b = a + cfg.valid_pool
    c = b + cfg.test_pool
    pretrain, valid_pool, test_pool, train_cands = perm[:a], perm[a:b], perm[b:c], perm[c:]

    # -- train split: calibrate to about playlists_per_track playlists per track ----------
    # Phase 1 searches the pool size (popularity as generated). In very large worlds the
    # superstar artists alone cause more repeats than the target even with the largest
    # pool; phase 2 then flattens the sampling popularity (pop ** temperature) instead.
    target = cfg.playlists_per_track
    calib: list[tuple[int, float, int, float]] = []
    best: tuple[float, int, float, list[list[int]]] | None = None
    bar = tqdm(total=16, desc="calibrating train playlists", disable=not progress, leave=False)

    def simulate(m: int, tau: float) -> float:
        nonlocal best
        pool = Pool.make(world, "train", train_cands[:m], tau)
        pls = _train_playlists(world, cfg, pool)
        distinct = len({u for pl in pls for u in pl})
        ratio = sum(len(pl) for pl in pls) / max(distinct, 1)
        calib.append((m, tau, distinct, round(ratio, 4)))
        err = abs(ratio - target) / target
        if best is None or err < best[0]:
            best = (err, m, tau, pls)
        bar.update(1)
        return ratio

    lo = float(cfg.n_train)
    hi = float(min(len(train_cands), math.ceil(cfg.n_train * cfg.max_train_pool_factor)))
    for _ in range(8):
        m = round(math.sqrt(lo * hi))
        ratio = simulate(m, 1.0)
        if abs(ratio - target) / target < 0.02 or hi - lo < 2:
            break
        if ratio > target:
            lo = float(m)  # too many repeats: a larger pool
        else:
            hi = float(m)
    assert best is not None
    if best[0] >= 0.03 and min(r for *_, r in calib) > target:
        m_max = int(min(len(train_cands), math.ceil(cfg.n_train * cfg.max_train_pool_factor)))
        t_lo, t_hi = 0.05, 1.0
        for _ in range(8):
            tau = round((t_lo + t_hi) / 2, 4)
            ratio = simulate(m_max, tau)
            if abs(ratio - target) / target < 0.02:
                break
            if ratio > target:
                t_hi = tau
            else:
                t_lo = tau
    bar.close()
    _, m, tau, pls = best

    playlists: list[tuple[str, str, list[int]]] = [
        (f"train-{i + 1:05d}", "train", pl) for i, pl in enumerate(pls)]
    distinct = len({u for pl in pls for u in pl})
    ratio = sum(len(pl) for pl in pls) / max(distinct, 1)

    # -- eval splits: fixed pools and playlist counts, same popularity temperature -------
    eval_mean = cfg.eval_length_mean or min(max(cfg.length_mean, cfg.eval_length_min), cfg.eval_length_max)
    for split, n, pool_uids in (("valid", cfg.n_valid_playlists, valid_pool),
                                ("test", cfg.n_test_playlists, test_pool)):
        pool = Pool.make(world, split, pool_uids, tau)
        rng = rng_for(cfg.seed, S_CURATORS, SPLIT_CODES[split])
        for i in tqdm(range(n), desc=f"{split} playlists", disable=not progress, leave=False):
            cur = make_curator(rng, world, pool, cfg)
            L = draw_length(rng, cfg.eval_length_min, cfg.eval_length_max, eval_mean)
            pl = fill_playlist(rng, cur, pool, L, cfg)
            playlists.append((f"{split}-{i + 1:05d}", split, [int(pool.uids[j]) for j in pl]))
    return SplitResult(np.sort(pretrain), playlists, m, tau, ratio, calib)
