"""The generated music world: genres -> scenes -> artists -> albums -> tracks.

Everything here is metadata (no audio): who made which track, in which genre, with which
tempo, key and loudness, how popular it is, and how artists relate to each other. The
sound of each track is rendered later from this metadata (see :mod:`.audio`).

Sound signatures are z-vectors over :data:`.genres.FIELD_NAMES`: a track's value of a
field is ``genre mean + genre sd * (scene_spread * z_scene + artist_spread * z_artist +
style_noise * z_track)``, so tracks of one artist, and more loosely of one scene, sound
alike, and genres overlap where their means are close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .genres import (
    FIELD_INDEX,
    FIELD_NAMES,
    GENRES,
    COMPILATION_TEMPLATES,
    MAJORISH,
    NEUTRAL_VOCAB,
    PITCH_CLASSES,
    SCALE_NAMES,
    SHARED_TITLES,
    STYLE_FIELDS,
    Genre,
    VARIOUS_ARTISTS,
    Vocabulary,
    genre_similarity,
    style_mean,
)
from .presets import SynthConfig

# Random streams: every generator is seeded with [seed, STREAM, ...] so that each part of
# the world can be drawn independently and lazily (e.g. per track inside a worker).
S_WORLD, S_NAMES, S_TITLES, S_GRAPH, S_SPLIT, S_RENDER, S_ARTIST_CAT, S_CURATORS, S_ERA, S_CREDITS, S_PSEUDONYMS = range(1, 12)
#: Kinds of credit aliasing (``credit_aliasing``) and their probabilities.
CREDIT_KINDS = {"feat": 0.3, "collab": 0.2, "compilation": 0.3, "pseudonym": 0.2}


def rng_for(seed: int, stream: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stream), *(int(k) for k in keys)])


def _choice_by(rng: np.random.Generator, probs: dict[str, float]) -> str:
    keys = list(probs)
    p = np.asarray([probs[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


# ----------------------------------------------------------------------------- names
def _plural(noun: str, spanish: bool = False) -> str:
    if spanish:
        if noun[-1] in "aeiouáéíóú":
            return noun + "s"
        return noun.replace("ó", "o").replace("á", "a") + "es"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def fill_template(rng: np.random.Generator, template: str, vocab: Vocabulary, *,
                  spanish: bool = False, key: str = "C major") -> str:
    from .genres import FIRST_NAMES, LAST_NAMES

    def pick(seq: tuple[str, ...]) -> str:
        return seq[int(rng.integers(len(seq)))]

    out = template
    # Replace slots one at a time so repeated slots ({noun} {noun}) get different words.
    while "{" in out:
        i = out.index("{")
        j = out.index("}", i)
        slot = out[i + 1:j]
        if slot == "adj":
            word = pick(vocab.adjectives)
        elif slot == "noun":
            word = pick(vocab.nouns)
        elif slot == "nouns":
            word = _plural(pick(vocab.nouns), spanish)
        elif slot == "place":
            word = pick(vocab.places)
        elif slot == "word":
            word = pick(vocab.words)
        elif slot == "first":
            word = pick(FIRST_NAMES)
        elif slot == "last":
            word = pick(LAST_NAMES)
        elif slot == "num":
            word = str(int(rng.integers(1, 13)))
        elif slot == "key":
            word = key
        else:  # pragma: no cover - a typo in a vocabulary
            raise KeyError(f"unknown name slot {{{slot}}} in {template!r}")
        out = out[:i] + word + out[j + 1:]
    return out


# ----------------------------------------------------------------------------- world
@dataclass
class World:
    cfg: SynthConfig
    genres: tuple[Genre, ...]
    genre_sim: np.ndarray  # [G, G]
    # artists
    artist_name: list[str]
    artist_home: np.ndarray  # [A] genre index
    artist_second: np.ndarray  # [A] genre index or -1
    artist_scene: np.ndarray  # [A] scene index
    artist_pop: np.ndarray  # [A] popularity weight (Zipf)
    artist_z: np.ndarray  # [A, F] sound signature
    # scenes
    scene_genre: np.ndarray  # [S]
    scene_z: np.ndarray  # [S, F]
    # albums
    album_name: list[str]
    album_artist: np.ndarray
    album_genre: np.ndarray
    # tracks (uid = index)
    track_artist: np.ndarray
    track_album: np.ndarray
    track_genre: np.ndarray
    track_pop: np.ndarray
    track_tempo: np.ndarray
    track_loudness: np.ndarray
    track_tonic: np.ndarray  # pitch class 0..11
    track_scale: np.ndarray  # index into SCALE_NAMES
    track_meter: np.ndarray  # beats per bar, 3 or 4
    track_era: np.ndarray  # production era in [0, 1]: audible, never in a caption
    artist_era: np.ndarray  # [A] the artist's era (albums jitter around it)
    # artist-relation graph (undirected; both directions stored in the adjacency lists)
    edges: list[tuple[int, int, float]]
    neighbours: list[np.ndarray]
    neighbour_weights: list[np.ndarray]

    @property
    def n_tracks(self) -> int:
        return len(self.track_artist)

    @property
    def n_artists(self) -> int:
        return len(self.artist_name)

    def majorish(self) -> np.ndarray:
        """[T] bool: the track's scale has a major third."""
        flags = np.array([SCALE_NAMES[i] in MAJORISH for i in range(len(SCALE_NAMES))])
        return flags[self.track_scale]

    def key_name(self, uid: int) -> str:
        scale = SCALE_NAMES[int(self.track_scale[uid])]
        return f"{PITCH_CLASSES[int(self.track_tonic[uid])]} {'major' if scale in MAJORISH else 'minor'}"

    def title(self, uid: int) -> str:
        """The track's title (drawn lazily from its own random stream): from its genre's
        vocabulary with probability ``caption_vocab``, else from the neutral pool."""
        rng = rng_for(self.cfg.seed, S_TITLES, uid)
        genre = self.genres[int(self.track_genre[uid])]
        if rng.random() >= self.cfg.caption_vocab:
            return _from_templates(rng, NEUTRAL_VOCAB.title_templates, NEUTRAL_VOCAB)
        if rng.random() < 0.15:
            return SHARED_TITLES[int(rng.integers(len(SHARED_TITLES)))]
        return _from_templates(rng, genre.vocab.title_templates, genre.vocab,
                               spanish=genre.name == "latin", key=self.key_name(uid))

    def credits(self, uid: int) -> tuple[str, str]:
        """The (artist, album) strings the track is credited with: the canonical names, or
        with probability ``credit_aliasing`` an alias (a feature, a collaboration, a
        compilation by "Various Artists", or the artist's pseudonym)."""
        a = int(self.track_artist[uid])
        artist, album = self.artist_name[a], self.album_name[int(self.track_album[uid])]
        rng = rng_for(self.cfg.seed, S_CREDITS, uid)
        if rng.random() >= self.cfg.credit_aliasing:
            return artist, album
        kind = _choice_by(rng, CREDIT_KINDS)
        other = self.artist_name[int(rng.integers(self.n_artists))]
        if kind == "feat":
            return f"{artist} feat. {other}", album
        if kind == "collab":
            return f"{other} & {artist}", album
        if kind == "compilation":
            return VARIOUS_ARTISTS, _from_templates(rng, COMPILATION_TEMPLATES, NEUTRAL_VOCAB)
        return self.pseudonym(a), album

    def pseudonym(self, artist: int) -> str:
        """The artist's one alternative name (neutral vocabulary, its own random stream)."""
        rng = rng_for(self.cfg.seed, S_PSEUDONYMS, artist)
        return _from_templates(rng, NEUTRAL_VOCAB.artist_templates, NEUTRAL_VOCAB)

    def sound_latent(self, uid: int) -> list[float]:
        """The generator's latent sound vector of a track: per mix/arrangement field the expected
        value of its artist and scene (genre mean + genre sd * signature; log fields in
        log space), then the production era. What the oracle ``oracle-latent`` reads."""
        g = self.genres[int(self.track_genre[uid])]
        a = int(self.track_artist[uid])
        sig = (self.cfg.scene_spread * self.scene_z[int(self.artist_scene[a])]
               + self.cfg.artist_spread * self.artist_z[a])
        out = []
        for name in STYLE_FIELDS:  # the mix and arrangement fields (lead fields follow the family)
            mean, sd = style_mean(g, name)
            centre = math.log(mean) if STYLE_FIELDS[name].log else mean
            out.append(centre + sd * float(sig[FIELD_INDEX[name]]))
        out.append(float(self.track_era[uid]))
        return out


def _from_templates(rng: np.random.Generator, templates: tuple[str, ...], vocab: Vocabulary,
                    **kw: object) -> str:
    return fill_template(rng, templates[int(rng.integers(len(templates)))], vocab, **kw)  # type: ignore[arg-type]


def world_size_needed(cfg: SynthConfig) -> int:
    """Tracks the world needs: pretrain + valid/test pools + the largest train pool."""
    return (cfg.n_pretrain + cfg.valid_pool + cfg.test_pool
            + math.ceil(cfg.n_train * cfg.max_train_pool_factor))


def build_world(cfg: SynthConfig) -> World:
    rng = rng_for(cfg.seed, S_WORLD)
    genres = GENRES[: cfg.n_genres]
    G = len(genres)
    F = len(FIELD_NAMES)
    sim = np.asarray(genre_similarity(tuple(g.name for g in genres)))
    shares = np.asarray([g.share for g in genres])
    shares = shares / shares.sum()

    need = world_size_needed(cfg)
    # -- artists: add until their albums hold enough tracks -------------------------------
    mean_albums = max(1.0, cfg.tracks_per_artist / 10.0)
    n_art = max(G * 2, math.ceil(need / cfg.tracks_per_artist * 1.05))
    home = rng.choice(G, size=n_art, p=shares)
    albums_per_artist = 1 + rng.poisson(mean_albums - 1.0, size=n_art)
    tracks_per_album = [rng.integers(6, 15, size=int(k)) for k in albums_per_artist]
    total = int(sum(int(t.sum()) for t in tracks_per_album))
    while total < need:  # rare: top up with more artists
        extra = math.ceil((need - total) / cfg.tracks_per_artist) + 1
        home = np.concatenate([home, rng.choice(G, size=extra, p=shares)])
        more = 1 + rng.poisson(mean_albums - 1.0, size=extra)
        albums_per_artist = np.concatenate([albums_per_artist, more])
        for k in more:
            t = rng.integers(6, 15, size=int(k))
            tracks_per_album.append(t)
            total += int(t.sum())
    n_art = len(home)

    # secondary genres: a related genre
    second = np.full(n_art, -1, dtype=np.int64)
    has2 = rng.random(n_art) < cfg.secondary_genre_prob
    for a in np.flatnonzero(has2):
        w = sim[home[a]].copy()
        w[home[a]] = 0.0
        second[a] = rng.choice(G, p=w / w.sum())

    # scenes: clusters of artists inside a genre, sharing part of a sound signature
    scene_offset = np.zeros(G + 1, dtype=np.int64)
    counts = np.bincount(home, minlength=G)
    n_scenes_g = np.maximum(1, np.round(counts / cfg.artists_per_scene)).astype(np.int64)
    scene_offset[1:] = np.cumsum(n_scenes_g)
    scene_genre = np.repeat(np.arange(G), n_scenes_g)
    n_scenes = int(scene_offset[-1])
    scene_z = rng.standard_normal((n_scenes, F))
    artist_scene = np.empty(n_art, dtype=np.int64)
    cross = rng.random(n_art) < cfg.cross_genre_scene_prob
    for a in range(n_art):
        g = int(home[a])
        if cross[a]:
            if second[a] >= 0:
                g = int(second[a])
            else:
                w = sim[g].copy()
                w[g] = 0.0
                g = int(rng.choice(G, p=w / w.sum()))
        artist_scene[a] = scene_offset[g] + rng.integers(n_scenes_g[g])
    artist_z = rng.standard_normal((n_art, F))

    # popularity: Zipf over a random ranking of the artists
    ranks = rng.permutation(n_art)
    artist_pop = 1.0 / np.power(ranks + 1.0, cfg.popularity_skew)

    # -- albums and tracks ----------------------------------------------------------------
    album_artist = np.repeat(np.arange(n_art), albums_per_artist)
    n_alb = len(album_artist)
    album_genre = home[album_artist].copy()
    sec_alb = (second[album_artist] >= 0) & (rng.random(n_alb) < cfg.secondary_album_prob)
    album_genre[sec_alb] = second[album_artist][sec_alb]
    album_pop = rng.lognormal(0.0, 0.5, size=n_alb)
    album_sizes = np.concatenate(tracks_per_album).astype(np.int64)
    track_album = np.repeat(np.arange(n_alb), album_sizes)
    track_artist = album_artist[track_album]
    track_genre = album_genre[track_album]
    T = len(track_album)
    track_pop = (artist_pop[track_artist] * album_pop[track_album]
                 * rng.lognormal(0.0, cfg.track_popularity_sigma, size=T))

    def field_values(name: str) -> np.ndarray:
        f = FIELD_INDEX[name]
        spec = STYLE_FIELDS[name]
        means = np.asarray([style_mean(g, name)[0] for g in genres])[track_genre]
        sds = np.asarray([style_mean(g, name)[1] for g in genres])[track_genre]
        z = (cfg.scene_spread * scene_z[artist_scene[track_artist], f]
             + cfg.artist_spread * artist_z[track_artist, f]
             + cfg.style_noise * rng.standard_normal(T))
        v = means * np.exp(sds * z) if spec.log else means + sds * z
        return np.clip(v, spec.lo, spec.hi)

    track_tempo = np.round(field_values("tempo"), 1)
    track_loudness = np.round(field_values("loudness"), 2)

    # key: artists have two favourite tonics; scales follow the artist's habit in a genre
    fav_tonics = rng.integers(0, 12, size=(n_art, 2))
    use_fav = rng.random(T) < 0.5
    track_tonic = np.where(use_fav, fav_tonics[track_artist, rng.integers(0, 2, size=T)],
                           rng.integers(0, 12, size=T))
    scale_index = {s: i for i, s in enumerate(SCALE_NAMES)}
    scale_p = np.zeros((G, len(SCALE_NAMES)))
    for gi, g in enumerate(genres):
        for s, p in g.scales.items():
            scale_p[gi, scale_index[s]] = p
    scale_p /= scale_p.sum(axis=1, keepdims=True)
    cum = np.cumsum(scale_p, axis=1)
    # the artist's habitual scale in each genre (drawn for home and second genre)
    habit = np.empty((n_art, G), dtype=np.int64)
    u = rng.random((n_art, G))
    for gi in range(G):
        habit[:, gi] = np.minimum(np.searchsorted(cum[gi], u[:, gi], side="right"),
                                  len(SCALE_NAMES) - 1)
    draw = np.minimum((cum[track_genre] < rng.random(T)[:, None]).sum(axis=1),
                      len(SCALE_NAMES) - 1)
    loyal = rng.random(T) < cfg.artist_loyalty
    track_scale = np.where(loyal, habit[track_artist, track_genre], draw)
    meter3 = np.asarray([g.meter3 for g in genres])[track_genre]
    track_meter = np.where(rng.random(T) < meter3, 3, 4)

    # -- names --------------------------------------------------------------------------
    names_rng = rng_for(cfg.seed, S_NAMES)
    artist_name: list[str] = []
    taken: set[str] = set()
    for a in range(n_art):
        g = genres[int(home[a])]
        vocab, spanish = ((g.vocab, g.name == "latin") if names_rng.random() < cfg.caption_vocab
                          else (NEUTRAL_VOCAB, False))
        name = ""
        for _ in range(40):
            tmpl = vocab.artist_templates[int(names_rng.integers(len(vocab.artist_templates)))]
            name = fill_template(names_rng, tmpl, vocab, spanish=spanish)
            if name not in taken:
                break
        else:
            base, k = name, 2
            while name in taken:
                name, k = f"{base} {k}", k + 1
        taken.add(name)
        artist_name.append(name)
    album_name = []
    for b in range(n_alb):
        g = genres[int(album_genre[b])]
        if names_rng.random() < cfg.caption_vocab:
            album_name.append(_from_templates(names_rng, g.vocab.album_templates, g.vocab,
                                              spanish=g.name == "latin"))
        else:
            album_name.append(_from_templates(names_rng, NEUTRAL_VOCAB.album_templates, NEUTRAL_VOCAB))

    # -- production era: the artist's, jittered per album; independent of genre ---------
    era_rng = rng_for(cfg.seed, S_ERA)
    artist_era = era_rng.random(n_art)
    album_era = np.clip(artist_era[album_artist] + 0.07 * era_rng.standard_normal(n_alb), 0.0, 1.0)
    track_era = np.round(album_era[track_album], 4)

    # -- artist-relation graph ------------------------------------------------------------
    edges, neighbours, neighbour_weights = _relation_graph(
        cfg, home, artist_scene, scene_genre, scene_offset, n_scenes_g, sim)

    return World(
        cfg=cfg, genres=genres, genre_sim=sim, artist_name=artist_name, artist_home=home,
        artist_second=second, artist_scene=artist_scene, artist_pop=artist_pop, artist_z=artist_z,
        scene_genre=scene_genre, scene_z=scene_z, album_name=album_name,
        album_artist=album_artist, album_genre=album_genre, track_artist=track_artist,
        track_album=track_album, track_genre=track_genre, track_pop=track_pop,
        track_tempo=track_tempo, track_loudness=track_loudness,
        track_tonic=track_tonic.astype(np.int64), track_scale=track_scale.astype(np.int64),
        track_meter=track_meter.astype(np.int64), track_era=track_era, artist_era=artist_era, edges=edges, neighbours=neighbours,
        neighbour_weights=neighbour_weights,
    )


def _relation_graph(cfg: SynthConfig, home: np.ndarray, artist_scene: np.ndarray,
                    scene_genre: np.ndarray, scene_offset: np.ndarray, n_scenes_g: np.ndarray,
                    sim: np.ndarray):
    """Related artists: mostly scene-mates, some genre-mates, a few in related genres.

    Edge weights: scene 0.6-1.0, genre 0.3-0.6, other 0.1-0.4. Each artist proposes about
    half of its expected degree, so the mean degree is about ``relations_per_artist``.
    """
    rng = rng_for(cfg.seed, S_GRAPH)
    n_art = len(home)
    G = sim.shape[0]
    by_scene: dict[int, np.ndarray] = {}
    order = np.argsort(artist_scene, kind="stable")
    bounds = np.searchsorted(artist_scene[order], np.arange(int(scene_offset[-1]) + 1))
    for s in range(int(scene_offset[-1])):
        by_scene[s] = order[bounds[s]:bounds[s + 1]]
    by_genre = [np.flatnonzero(home == g) for g in range(G)]
    weights: dict[tuple[int, int], float] = {}
    n_prop = rng.poisson(cfg.relations_per_artist / 2.0, size=n_art)
    for a in range(n_art):
        for _ in range(int(n_prop[a])):
            r = rng.random()
            mates = by_scene[int(artist_scene[a])]
            if r < 0.65 and len(mates) > 1:
                b = int(mates[rng.integers(len(mates))])
                w = rng.uniform(0.6, 1.0)
            elif r < 0.9 and len(by_genre[int(home[a])]) > 1:
                pool = by_genre[int(home[a])]
                b = int(pool[rng.integers(len(pool))])
                w = rng.uniform(0.3, 0.6)
            else:
                p = sim[int(home[a])].copy()
                p[int(home[a])] = 0.0
                g = int(rng.choice(G, p=p / p.sum()))
                if len(by_genre[g]) == 0:
                    continue
                b = int(by_genre[g][rng.integers(len(by_genre[g]))])
                w = rng.uniform(0.1, 0.4)
            if b == a:
                continue
            key = (min(a, b), max(a, b))
            weights[key] = max(weights.get(key, 0.0), round(float(w), 4))
    edges = sorted((a, b, w) for (a, b), w in weights.items())
    adj: list[list[tuple[int, float]]] = [[] for _ in range(n_art)]
    for a, b, w in edges:
        adj[a].append((b, w))
        adj[b].append((a, w))
    neighbours = [np.asarray([b for b, _ in lst], dtype=np.int64) for lst in adj]
    neighbour_weights = [np.asarray([w for _, w in lst], dtype=float) for lst in adj]
    return edges, neighbours, neighbour_weights
