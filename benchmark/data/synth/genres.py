"""The genres of the generated music world: musical style priors and name vocabularies.

Every genre describes a *distribution*, not a sound: continuous style fields (tempo,
loudness, note density, drum-kit tuning, ...) have a genre mean and spread, and
categorical choices (lead instrument family, drum pattern, bass and chord styles,
scales, chord progressions) have genre probabilities. Artists, the scenes they belong
to, and single tracks then shift these draws (see :mod:`.world` and :mod:`.audio`), so
neighbouring genres (pop/rock, jazz/blues, ambient/classical, ...) overlap in sound.

The vocabularies give each genre its own flavour of artist, album and track names; a
shared pool of common titles makes some titles occur in many genres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ----------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldSpec:
    """A continuous style field: value = mean + sd * z (or mean * exp(sd * z) if ``log``)."""

    mean: float
    sd: float
    lo: float
    hi: float
    log: bool = False

    def value(self, z: float, mean: float | None = None) -> float:
        m = self.mean if mean is None else mean
        v = m * pow(2.718281828459045, self.sd * z) if self.log else m + self.sd * z
        return min(self.hi, max(self.lo, v))


#: Mix and arrangement fields; genres override the mean (and optionally the sd).
STYLE_FIELDS: dict[str, FieldSpec] = {
    "tempo": FieldSpec(110.0, 9.0, 50.0, 210.0),
    "loudness": FieldSpec(-17.0, 1.8, -32.0, -10.0),  # target RMS, dBFS
    "swing": FieldSpec(0.0, 0.015, 0.0, 0.17),  # offbeat delay, in beats
    "density": FieldSpec(1.5, 0.25, 0.25, 4.0, log=True),  # lead notes per beat
    "legato": FieldSpec(0.8, 0.08, 0.25, 1.0),
    "leap": FieldSpec(0.15, 0.05, 0.0, 0.6),
    "rest": FieldSpec(0.12, 0.05, 0.0, 0.5),
    "register": FieldSpec(67.0, 2.5, 50.0, 84.0),  # MIDI centre of the melody
    "repetition": FieldSpec(0.6, 0.12, 0.0, 1.0),
    "lead_gain": FieldSpec(0.0, 1.2, -12.0, 6.0),  # dB
    "bass_gain": FieldSpec(-3.0, 1.5, -24.0, 6.0),
    "pad_gain": FieldSpec(-8.0, 1.8, -30.0, 3.0),
    "drum_gain": FieldSpec(-2.0, 1.5, -24.0, 6.0),
    "kick_pitch": FieldSpec(55.0, 5.0, 35.0, 100.0),  # Hz
    "kick_decay": FieldSpec(0.22, 0.25, 0.05, 0.8, log=True),  # s
    "snare_tone": FieldSpec(190.0, 18.0, 110.0, 360.0),  # Hz
    "snare_noise": FieldSpec(0.6, 0.1, 0.05, 1.0),
    "hat_decay": FieldSpec(0.035, 0.3, 0.006, 0.35, log=True),  # s
    "hat_gain": FieldSpec(-12.0, 2.0, -30.0, 0.0),  # dB relative to the kit
    "echo": FieldSpec(0.08, 0.06, 0.0, 0.7),  # echo feedback
    "noise_floor": FieldSpec(-85.0, 4.0, -95.0, -40.0),  # dBFS of a vinyl-crackle bed
    "humanize": FieldSpec(0.006, 0.003, 0.0, 0.03),  # s of timing jitter
    "pad_slope": FieldSpec(1.8, 0.3, 0.5, 4.0),
    "pad_attack": FieldSpec(0.12, 0.35, 0.004, 2.0, log=True),  # s
    "bass_slope": FieldSpec(2.0, 0.35, 0.5, 4.5),
    "cutoff": FieldSpec(3000.0, 0.25, 1200.0, 7000.0, log=True),  # Hz, tonal low-pass
}

#: Lead-instrument timbre fields; the instrument family gives the mean, genres may shift it.
LEAD_FIELDS: dict[str, FieldSpec] = {
    "slope": FieldSpec(1.2, 0.2, 0.3, 4.0),  # harmonic roll-off exponent
    "even": FieldSpec(0.8, 0.15, 0.0, 1.2),  # even-harmonic gain
    "formant": FieldSpec(2.0, 0.35, 1.0, 16.0, log=True),  # harmonic number of the formant
    "formant_gain": FieldSpec(0.5, 0.35, 0.0, 5.0),
    "drive": FieldSpec(0.0, 0.6, 0.0, 8.0),  # tanh waveshaping drive
    "fm_mix": FieldSpec(0.0, 0.1, 0.0, 1.0),
    "fm_index": FieldSpec(1.0, 0.35, 0.0, 6.0),
    "attack": FieldSpec(0.01, 0.4, 0.001, 0.6, log=True),  # s
    "decay": FieldSpec(0.5, 0.35, 0.04, 4.0, log=True),  # s
    "sustain": FieldSpec(0.6, 0.1, 0.0, 1.0),
    "vibrato": FieldSpec(0.0, 0.04, 0.0, 0.6),  # semitones
    "vib_rate": FieldSpec(5.5, 0.5, 3.0, 8.0),  # Hz
    "bright_decay": FieldSpec(0.0, 0.4, 0.0, 2.0, log=True),  # s; 0 = static timbre
}

#: All continuous fields in a fixed order: the columns of artist and scene z-vectors.
FIELD_NAMES: tuple[str, ...] = (*STYLE_FIELDS, *(f"lead_{k}" for k in LEAD_FIELDS))
FIELD_INDEX: dict[str, int] = {n: i for i, n in enumerate(FIELD_NAMES)}

#: Lead instrument families: the means of the lead fields (plus an FM ratio).
FAMILIES: dict[str, dict[str, float]] = {
    "pluck": dict(slope=1.6, even=0.8, formant=2.0, formant_gain=0.4, attack=0.003, decay=0.35,
                  sustain=0.05, bright_decay=0.15),
    "bowed": dict(slope=1.5, even=0.9, formant=3.0, formant_gain=1.0, attack=0.12, decay=1.0,
                  sustain=0.85, vibrato=0.16, vib_rate=5.5),
    "reed": dict(slope=1.3, even=0.35, formant=3.5, formant_gain=1.5, attack=0.04, decay=0.8,
                 sustain=0.8, vibrato=0.1, vib_rate=5.0),
    "brass": dict(slope=1.2, even=0.9, formant=5.0, formant_gain=2.0, attack=0.06, decay=0.5,
                  sustain=0.75, drive=0.8),
    "organ": dict(slope=2.0, even=1.0, formant=4.0, formant_gain=1.2, attack=0.01, decay=2.0,
                  sustain=1.0, vibrato=0.05, vib_rate=6.5),
    "distorted": dict(slope=1.0, even=0.9, formant=2.0, formant_gain=0.5, drive=3.5,
                      attack=0.005, decay=0.8, sustain=0.7),
    "synth_saw": dict(slope=1.0, even=1.0, formant=1.5, formant_gain=0.0, attack=0.01, decay=0.3,
                      sustain=0.6),
    "synth_square": dict(slope=1.1, even=0.05, formant=1.5, formant_gain=0.0, attack=0.01,
                         decay=0.3, sustain=0.6),
    "bell": dict(slope=1.5, fm_mix=1.0, fm_ratio=4.0, fm_index=2.5, attack=0.002, decay=0.6,
                 sustain=0.0, bright_decay=0.3),
    "mallet": dict(slope=2.5, fm_mix=0.8, fm_ratio=4.0, fm_index=1.2, attack=0.002, decay=0.25,
                   sustain=0.0),
    "epiano": dict(slope=2.0, fm_mix=0.7, fm_ratio=1.0, fm_index=1.2, attack=0.003, decay=0.7,
                   sustain=0.2, bright_decay=0.3),
    "flute": dict(slope=3.0, even=0.6, formant=1.0, formant_gain=0.0, attack=0.06, decay=1.0,
                  sustain=0.9, vibrato=0.12, vib_rate=5.0),
}

# ----------------------------------------------------------------------------- music theory
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "pent_major": (0, 2, 4, 7, 9),
    "pent_minor": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
SCALE_NAMES: tuple[str, ...] = tuple(SCALES)
MAJORISH = frozenset({"major", "mixolydian", "lydian", "pent_major"})
PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

#: Chord progressions per style and mode: lists of (semitones above the tonic, quality).
PROGRESSIONS: dict[str, dict[str, list[list[tuple[int, str]]]]] = {
    "standard": {
        "major": [
            [(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")],
            [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")],
            [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")],
            [(0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")],
            [(2, "min"), (7, "maj"), (0, "maj"), (0, "maj")],
        ],
        "minor": [
            [(0, "min"), (8, "maj"), (3, "maj"), (10, "maj")],
            [(0, "min"), (5, "min"), (7, "min"), (0, "min")],
            [(0, "min"), (10, "maj"), (8, "maj"), (7, "maj")],
            [(0, "min"), (0, "min"), (5, "min"), (7, "maj")],
        ],
    },
    "jazz": {
        "major": [
            [(2, "min7"), (7, "dom7"), (0, "maj7"), (0, "maj7")],
            [(0, "maj7"), (9, "min7"), (2, "min7"), (7, "dom7")],
            [(4, "min7"), (9, "dom7"), (2, "min7"), (7, "dom7")],
        ],
        "minor": [
            [(0, "min7"), (5, "dom7"), (0, "min7"), (5, "dom7")],
            [(0, "min7"), (5, "min7"), (10, "dom7"), (3, "maj7")],
        ],
    },
    "blues": {
        "major": [
            [(0, "dom7")] * 4 + [(5, "dom7")] * 2 + [(0, "dom7")] * 2
            + [(7, "dom7"), (5, "dom7"), (0, "dom7"), (7, "dom7")],
            [(0, "dom7"), (5, "dom7"), (0, "dom7"), (0, "dom7"), (5, "dom7"), (5, "dom7"),
             (0, "dom7"), (0, "dom7"), (7, "dom7"), (5, "dom7"), (0, "dom7"), (7, "dom7")],
        ],
        "minor": [
            [(0, "min7")] * 4 + [(5, "min7")] * 2 + [(0, "min7")] * 2
            + [(8, "dom7"), (7, "dom7"), (0, "min7"), (7, "dom7")],
        ],
    },
    "vamp": {
        "major": [[(0, "maj")], [(0, "maj"), (5, "maj")], [(0, "maj7"), (2, "min7")]],
        "minor": [[(0, "min")], [(0, "min"), (10, "maj")], [(0, "min"), (8, "maj")]],
    },
}

#: Just-intonation chord spectra: chord tones as integer multiples of a common fundamental.
CHORD_RATIOS: dict[str, tuple[tuple[int, ...], int]] = {
    # quality: (multipliers, multiplier of the root)
    "maj": ((4, 5, 6), 4),
    "min": ((10, 12, 15), 10),
    "dom7": ((4, 5, 6, 7), 4),
    "maj7": ((8, 10, 12, 15), 8),
    "min7": ((10, 12, 15, 18), 10),
}
CHORD_QUALITIES: tuple[str, ...] = tuple(CHORD_RATIOS)

# ----------------------------------------------------------------------------- rhythm
#: Drum patterns: per instrument one 16-step bar (4/4, sixteenth notes); digits = velocity/9.
DRUM_PATTERNS: dict[str, dict[str, str]] = {
    "none": {},
    "rock": {"kick": "9.......9.5.....", "snare": "....9.......9...", "hat": "7.5.7.5.7.5.7.5."},
    "pop": {"kick": "9.....6.9.......", "snare": "....9.......9...", "hat": "6.4.6.4.6.4.6.4."},
    "four_floor": {"kick": "9...9...9...9...", "snare": "....7.......7...",
                   "ohat": "..7...7...7...7.", "hat": "3.3.3.3.3.3.3.3."},
    "breakbeat": {"kick": "9.........9.....", "snare": "....9..5.9..9...",
                  "hat": "6.6.6.6.6.6.6.6."},
    "boom_bap": {"kick": "9......79.5.....", "snare": "....9.......9...",
                 "hat": "6.4.6.4.6.4.6.4."},
    "trap": {"kick": "9......9..9.....", "snare": "........9.......",
             "hat": "5454545454545454"},
    "double_kick": {"kick": "7777777777777777", "snare": "....9.......9...",
                    "ride": "7...7...7...7..."},
    "jazz_ride": {"ride": "8...7.58...7.5..", "hat": "....6.......6...",
                  "kick": "3.......3......."},
    "shuffle": {"kick": "9.......9.......", "snare": "....9.......9...",
                "hat": "7.5.7.5.7.5.7.5."},
    "one_drop": {"kick": "........9.......", "snare": "........8.......",
                 "hat": "5.3.5.3.5.3.5.3."},
    "latin": {"clave": "9..9..9...9.9...", "conga": "..6.7..5..6.7..5",
              "shaker": "4343434343434343", "kick": "7.......7......."},
    "folk": {"kick": "7.......6.......", "snare": "....4.......4...",
             "shaker": "4.3.4.3.4.3.4.3."},
}
DRUM_INSTRUMENTS = ("kick", "snare", "hat", "ohat", "ride", "clave", "conga", "shaker")
BASS_STYLES = ("none", "roots", "eighths", "offbeat", "walking", "sustained", "boogie",
               "reggae", "tumbao")
PAD_STYLES = ("none", "sustain", "strum", "stabs", "skank", "comp")
PROG_STYLES = tuple(PROGRESSIONS)

# ----------------------------------------------------------------------------- names
FIRST_NAMES = (
    "Ada", "Ben", "Cleo", "Dario", "Edith", "Felix", "Greta", "Hugo", "Ines", "Jonah",
    "Kira", "Leon", "Mara", "Nico", "Olive", "Pablo", "Quinn", "Rosa", "Silas", "Tessa",
    "Umar", "Vera", "Wade", "Xenia", "Yusuf", "Zoe", "Alma", "Bruno", "Celine", "Dmitri",
    "Elena", "Frank", "Gloria", "Henry", "Iris", "Jules", "Karl", "Lena", "Milo", "Nora",
    "Oscar", "Paula", "Ruben", "Sofia", "Theo", "Ulla", "Victor", "Willa", "Yara", "Amos",
    "Bea", "Cyrus", "Dora", "Emil", "Fiona", "Gus", "Hana", "Ivo", "June", "Kofi",
)
LAST_NAMES = (
    "Abbott", "Bianchi", "Carver", "Delgado", "Ellery", "Fontaine", "Garland", "Holloway",
    "Ibarra", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Pereira",
    "Quigley", "Rasmussen", "Santos", "Thornton", "Ueda", "Valdez", "Whitlock", "Yilmaz",
    "Zeller", "Ashford", "Brennan", "Castillo", "Dunmore", "Eriksen", "Falk", "Grady",
    "Hargrove", "Ivers", "Jovanovic", "Kerrigan", "Lowell", "Marlowe", "Novak", "Orsini",
    "Pryce", "Roth", "Sutter", "Tamura", "Underwood", "Vance", "Winslow", "Yardley",
    "Achebe", "Bergström", "Coleman", "Duval", "Esposito", "Fairweather", "Gallo", "Haddad",
)

#: Titles that occur in every genre (so a title alone does not give the genre away).
SHARED_TITLES = (
    "Home", "Tonight", "Forever", "Intro", "Stay", "Alone", "Midnight", "Runaway",
    "Together", "Gone", "Daydream", "Heartbeat", "Echoes", "Sunrise", "Outro", "Lost",
    "Falling", "Paradise", "Remember", "Slow Down", "Hold On", "Interlude", "Lullaby",
    "Wildfire", "Say It", "Golden", "Blue", "Closer", "Shadows", "Waves",
)


@dataclass(frozen=True)
class Vocabulary:
    """Genre-flavoured word lists; templates use ``{adj} {noun} {nouns} {place} {first}
    {last} {word} {num}`` slots (``nouns`` = plural)."""

    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    places: tuple[str, ...]
    words: tuple[str, ...]  # free title words (verbs, phrases)
    artist_templates: tuple[str, ...]
    album_templates: tuple[str, ...]
    title_templates: tuple[str, ...]


def _v(adjectives: str, nouns: str, places: str, words: str, artist: str, album: str,
       title: str) -> Vocabulary:
    split = lambda s: tuple(x.strip() for x in s.split("|") if x.strip())  # noqa: E731
    return Vocabulary(split(adjectives), split(nouns), split(places), split(words), split(artist),
                      split(album), split(title))


@dataclass(frozen=True)
class Genre:
    name: str
    share: float  # fraction of the world's artists whose home genre this is
    style: dict[str, float | tuple[float, float]]  # STYLE_FIELDS overrides: mean or (mean, sd)
    lead_shift: dict[str, float]  # additive shifts of the family's lead-field means
    families: dict[str, float]
    drums: dict[str, float]
    bass: dict[str, float]
    pads: dict[str, float]
    scales: dict[str, float]
    progressions: dict[str, float]
    vocab: Vocabulary
    meter3: float = 0.0  # probability of 3/4
    related: dict[str, float] = field(default_factory=dict)


GENRES: tuple[Genre, ...] = (
    Genre(
        "pop", 0.14,
        style=dict(tempo=112, loudness=-14, density=1.6, legato=0.75, leap=0.12, register=69,
                   repetition=0.8, kick_pitch=56, hat_gain=-10, echo=0.1, pad_gain=-7),
        lead_shift={},
        families=dict(synth_square=0.25, epiano=0.2, pluck=0.2, synth_saw=0.15, flute=0.1,
                      organ=0.1),
        drums=dict(pop=0.7, four_floor=0.2, rock=0.1),
        bass=dict(roots=0.4, eighths=0.3, offbeat=0.3),
        pads=dict(sustain=0.5, strum=0.3, stabs=0.2),
        scales=dict(major=0.6, minor=0.25, mixolydian=0.05, pent_major=0.1),
        progressions=dict(standard=0.85, vamp=0.15),
        vocab=_v(
            "Electric|Sweet|Golden|Neon|Perfect|Crazy|Pretty|Shiny|Bright|Lucky|Candy|Summer|Pink|Velvet|Sugar",
            "Heart|Star|Kiss|Dream|Party|Light|Love|Girl|Boy|Night|Sky|Rainbow|Mirror|Diamond|Cherry",
            "Malibu|Paris|Tokyo|Miami|Hollywood|Ibiza|Venice|Monaco",
            "Dancing|Dance With Me|Call Me|Shine|Fly Away|Touch|Feel It|Baby|Oh My|Glow",
            "{first} {last}|{first}|The {adj} {nouns}|{first} & the {nouns}|{adj} {noun}|{first} {noun}",
            "{adj} {noun}|{noun}|{adj} {nouns}|{place}|{noun} Club|Hello {place}|{adj}",
            "{adj} {noun}|{word}|{noun}|{word} Tonight|{adj} Love|My {noun}|{noun} in {place}",
        ),
        related=dict(rock=0.6, electronic=0.5, hiphop=0.4, latin=0.3, folk=0.3),
    ),
    Genre(
        "rock", 0.14,
        style=dict(tempo=(128, 11), loudness=-13, density=1.4, legato=0.8, register=64,
                   repetition=0.65, kick_pitch=60, snare_tone=205, drum_gain=0, bass_gain=-2),
        lead_shift={},
        families=dict(distorted=0.55, organ=0.15, pluck=0.15, synth_saw=0.15),
        drums=dict(rock=0.8, shuffle=0.1, pop=0.1),
        bass=dict(eighths=0.6, roots=0.4),
        pads=dict(strum=0.4, sustain=0.3, none=0.3),
        scales=dict(minor=0.35, major=0.35, mixolydian=0.15, pent_minor=0.15),
        progressions=dict(standard=0.9, vamp=0.1),
        vocab=_v(
            "Broken|Wild|Rusty|Stone|Loud|Burning|Black|Dirty|Electric|Lonely|Hollow|Rebel|Reckless|Empty|Savage",
            "Highway|Engine|Wolf|Crow|Bone|Fire|Rebel|Stone|Thunder|Riot|Bullet|Road|Vulture|Pistol|Ghost",
            "Detroit|Memphis|Manchester|Seattle|Route 66|Berlin|the Garage|the Underground",
            "Run|Burn It Down|Kick Out|Break Free|Ride|Rock On|Breaking Through|Going Nowhere",
            "The {adj} {nouns}|{noun}|The {nouns}|{adj} {noun}|{last}|{first} {last} Band|{noun} Machine",
            "{adj} {noun}|{noun} {noun}|Live at {place}|{adj} {nouns}|{noun} of {place}|{adj}",
            "{adj} {noun}|{word}|{noun}|{adj} Road|{noun} on Fire|{word} Again|Down in {place}",
        ),
        related=dict(metal=0.6, blues=0.5, pop=0.6, folk=0.3),
    ),
    Genre(
        "metal", 0.06,
        style=dict(tempo=(165, 14), loudness=-11, density=2.6, legato=0.9, leap=0.1, register=58,
                   repetition=0.6, kick_pitch=66, kick_decay=0.12, hat_decay=0.03, drum_gain=0,
                   bass_gain=-1, pad_gain=-12),
        lead_shift=dict(drive=1.5),
        families=dict(distorted=0.85, synth_saw=0.15),
        drums=dict(double_kick=0.7, rock=0.3),
        bass=dict(eighths=0.8, roots=0.2),
        pads=dict(none=0.6, sustain=0.4),
        scales=dict(phrygian=0.3, minor=0.4, harmonic_minor=0.2, pent_minor=0.1),
        progressions=dict(standard=0.7, vamp=0.3),
        vocab=_v(
            "Iron|Grim|Infernal|Frozen|Eternal|Blood|Dark|Cursed|Molten|Rotten|Unholy|Ancient|Savage|Obsidian|Doomed",
            "Throne|Skull|Abyss|Serpent|Wraith|Storm|Blade|Void|Tomb|Raven|Legion|Plague|Crypt|Titan|Hammer",
            "Valhalla|the Abyss|the Underworld|Hades|the North|Mordheim",
            "Descend|Annihilate|Rise|Devour|Awaken|Unleash|Rites|Oblivion",
            "{adj} {noun}|{noun}|{noun} of {place}|{adj}{noun}|{noun}{noun}|{adj} {nouns}",
            "{adj} {noun}|{noun} of the {adj}|{word}|Rites of {place}|{nouns} of {place}|{adj} {nouns}",
            "{adj} {noun}|{word}|{word} the {noun}|{noun} of {place}|{adj} {nouns}|{noun}",
        ),
        related=dict(rock=0.6, electronic=0.1),
    ),
    Genre(
        "electronic", 0.11,
        style=dict(tempo=(124, 5), loudness=-12, swing=0.01, density=2.2, legato=0.5, leap=0.2,
                   rest=0.2, register=72, repetition=0.9, kick_pitch=50, kick_decay=0.35,
                   hat_decay=0.03, echo=0.25, bass_gain=-1, pad_gain=-7),
        lead_shift={},
        families=dict(synth_saw=0.35, synth_square=0.35, bell=0.15, epiano=0.15),
        drums=dict(four_floor=0.85, breakbeat=0.15),
        bass=dict(offbeat=0.6, eighths=0.2, roots=0.2),
        pads=dict(sustain=0.5, stabs=0.3, none=0.2),
        scales=dict(minor=0.6, dorian=0.2, phrygian=0.1, major=0.1),
        progressions=dict(vamp=0.6, standard=0.4),
        vocab=_v(
            "Digital|Binary|Synthetic|Modular|Analog|Quantum|Liquid|Hyper|Deep|Infinite|Chrome|Pulse|Sonic|Orbital|Acid",
            "Circuit|Signal|Pulse|Vector|Grid|Matrix|Frequency|Loop|System|Orbit|Prism|Wave|Echo|Code|Voltage",
            "Detroit|Berlin|Chicago|Warehouse 9|Sector 7|Ibiza|Tresor|Room 303",
            "Rewind|Transmission|Overdrive|Phase Shift|Jack Your Body|Reboot|Sequence|Strobe",
            "DJ {first}|{adj} {noun}|{noun}{num}|{first} {noun}|{adj}{noun}|The {noun} Project|{noun} Unit",
            "{adj} {noun}|{noun} EP|{word}|{noun} Vol. {num}|{place} Sessions|{adj} {nouns}",
            "{adj} {noun}|{word}|{noun} {num}|{noun} ({adj} Mix)|{word} ({adj} Remix)|{noun}",
        ),
        related=dict(pop=0.5, hiphop=0.4, ambient=0.5),
    ),
    Genre(
        "hiphop", 0.11,
        style=dict(tempo=(90, 5), loudness=-13, swing=0.09, density=1.0, legato=0.6, rest=0.3,
                   register=65, repetition=0.85, kick_pitch=48, kick_decay=0.5, snare_noise=0.8,
                   noise_floor=(-58, 5), bass_gain=0),
        lead_shift=dict(slope=0.4),
        families=dict(epiano=0.35, pluck=0.2, synth_square=0.15, flute=0.15, bell=0.15),
        drums=dict(boom_bap=0.7, trap=0.3),
        bass=dict(roots=0.5, sustained=0.3, offbeat=0.2),
        pads=dict(sustain=0.5, stabs=0.2, none=0.3),
        scales=dict(minor=0.55, dorian=0.2, pent_minor=0.25),
        progressions=dict(vamp=0.5, standard=0.3, jazz=0.2),
        vocab=_v(
            "Young|Real|Rich|Gold|Cold|Street|Hard|Lil|Big|Slick|Fresh|True|Heavy|Certified|Raw",
            "Block|Hustle|Crown|Chain|Corner|Cash|Game|Flow|King|Rhyme|Beat|Dollar|Boss|Check|Mic",
            "Brooklyn|Compton|Atlanta|the Bronx|Houston|Oakland|Southside|Queens",
            "Grind|No Sleep|Made It|On My Way|Real Talk|Stack It Up|Keep It 100|Get Money",
            "Lil {noun}|MC {first}|{adj} {first}|{first} {noun}|{adj} {noun}|Young {first}|{first} the {noun}",
            "{adj} {noun}|{place} Tape|{noun} Season|The {noun} Mixtape|{word}|{adj} {nouns}",
            "{adj} {noun}|{word}|{noun}|{word} (feat. {first})|{place} {noun}|{noun} Talk",
        ),
        related=dict(electronic=0.4, pop=0.4, reggae=0.4, jazz=0.2),
    ),
    Genre(
        "jazz", 0.08,
        style=dict(tempo=(140, 22), loudness=-20, swing=0.14, density=2.0, legato=0.85,
                   leap=0.3, rest=0.15, register=66, repetition=0.3, kick_decay=0.2,
                   hat_decay=0.14, drum_gain=-6, pad_gain=-6, bass_gain=-2, snare_noise=0.9),
        lead_shift={},
        families=dict(reed=0.4, brass=0.2, epiano=0.2, pluck=0.1, mallet=0.1),
        drums=dict(jazz_ride=0.9, latin=0.1),
        bass=dict(walking=0.85, roots=0.15),
        pads=dict(comp=0.8, sustain=0.2),
        scales=dict(dorian=0.35, mixolydian=0.25, major=0.25, minor=0.15),
        progressions=dict(jazz=0.85, blues=0.15),
        vocab=_v(
            "Blue|Smoky|Cool|Late|Mellow|Velvet|Crescent|Quiet|Round|Sophisticated|Indigo|Lazy|Modal|Silver|Easy",
            "Note|Moon|Lady|Cat|Corner|Train|Club|Hour|Serenade|Bird|Street|Trumpet|Melody|Bounce|Groove",
            "Birdland|the Village|Montreux|Harlem|New Orleans|the Blue Note|Kansas City|52nd Street",
            "Take Five|Round Midnight|Swingin'|Bebop|Straight Ahead|So What|Walkin'|Moanin'",
            "The {first} {last} Trio|{first} {last} Quartet|{first} {last}|{first} {last} Quintet|{adj} {noun} Ensemble",
            "{adj} {noun}|Live at {place}|{first}'s {noun}|{word}|{adj} Sessions|{noun} Suite",
            "{adj} {noun}|{word}|{noun} for {first}|{adj} {noun} Blues|{word} in {place}|{noun}",
        ),
        related=dict(blues=0.6, latin=0.4, classical=0.3, hiphop=0.2),
    ),
    Genre(
        "blues", 0.05,
        style=dict(tempo=(95, 12), loudness=-16, swing=0.13, density=1.3, legato=0.8, leap=0.2,
                   register=64, repetition=0.6, drum_gain=-3),
        lead_shift=dict(drive=-1.5),
        families=dict(distorted=0.25, pluck=0.3, organ=0.25, reed=0.2),
        drums=dict(shuffle=0.8, rock=0.2),
        bass=dict(boogie=0.6, walking=0.2, roots=0.2),
        pads=dict(comp=0.4, sustain=0.3, strum=0.3),
        scales=dict(blues=0.55, pent_minor=0.25, mixolydian=0.2),
        progressions=dict(blues=0.85, standard=0.15),
        vocab=_v(
            "Muddy|Lonesome|Crossroad|Old|Weary|Rollin'|Ramblin'|Dusty|Mean|Smokestack|Sweet|Low-Down|Moanin'|Tired|Brokedown",
            "River|Train|Mule|Shack|Devil|Whiskey|Delta|Levee|Porch|Harp|Juke|Mojo|Boogie|Hound|Preacher",
            "Mississippi|Chicago|Clarksdale|Memphis|Beale Street|the Delta|Highway 61|St. Louis",
            "Woke Up This Morning|Ain't Got You|Hard Times|Catfish|Goin' Down Slow|Got My Mojo|Sittin' on Top",
            "{adj} {first} {last}|{first} \"{noun}\" {last}|Big {first}|{first} {last}|Blind {first} {last}|{first} {last} & His {nouns}",
            "{adj} {noun}|{place} Blues|{noun} Blues|{word}|{adj} {nouns}|Live in {place}",
            "{adj} {noun} Blues|{word}|{noun} Blues|{place} {noun}|{adj} {noun}|{word} Blues",
        ),
        related=dict(jazz=0.6, rock=0.5, folk=0.3),
    ),
    Genre(
        "folk", 0.08,
        style=dict(tempo=(100, 13), loudness=-20, density=1.3, legato=0.8, leap=0.1, register=67,
                   repetition=0.7, drum_gain=-8, pad_gain=-5, hat_gain=-14),
        lead_shift={},
        families=dict(pluck=0.6, flute=0.2, reed=0.1, bowed=0.1),
        drums=dict(none=0.45, folk=0.4, pop=0.15),
        bass=dict(roots=0.6, sustained=0.2, none=0.2),
        pads=dict(strum=0.7, sustain=0.3),
        scales=dict(major=0.6, minor=0.2, dorian=0.1, mixolydian=0.1),
        progressions=dict(standard=0.9, vamp=0.1),
        vocab=_v(
            "Green|Wandering|Willow|Old|Little|Morning|Autumn|Gentle|Rolling|Wild|Silver|Quiet|Faraway|Misty|Wooden",
            "Meadow|River|Hill|Sparrow|Lantern|Orchard|Harbour|Valley|Fiddle|Hearth|Cottage|Field|Pine|Creek|Shore",
            "Galway|Appalachia|the Highlands|Avalon|Nashville|the Old Country|Cape Breton|Dover",
            "Wayfaring|Homeward Bound|Farewell|Ballad|Come All Ye|Cotton Eyed|Over the Hills|Lament",
            "{first} {last}|The {adj} {nouns}|{first} & {first}|The {noun} Band|{adj} {noun}|The {last} Family",
            "{adj} {noun}|Songs of {place}|{noun} and {noun}|{adj} {nouns}|{word}|The {noun}",
            "{adj} {noun}|{word}|The {noun}|{noun} of {place}|{word} to {place}|{adj} {noun} Waltz",
        ),
        meter3=0.3,
        related=dict(rock=0.3, classical=0.3, blues=0.3, pop=0.3),
    ),
    Genre(
        "classical", 0.07,
        style=dict(tempo=(88, 14), loudness=-24, density=1.5, legato=0.95, leap=0.2, rest=0.05,
                   register=70, repetition=0.5, echo=0.15, pad_attack=0.35, pad_gain=-5,
                   bass_gain=-5),
        lead_shift={},
        families=dict(bowed=0.55, pluck=0.2, flute=0.15, reed=0.1),
        drums=dict(none=0.95, folk=0.05),
        bass=dict(sustained=0.7, roots=0.3),
        pads=dict(sustain=0.85, none=0.15),
        scales=dict(major=0.45, minor=0.25, harmonic_minor=0.25, lydian=0.05),
        progressions=dict(standard=1.0),
        vocab=_v(
            "Grand|Little|Pastoral|Solemn|Heroic|Tragic|Spring|Unfinished|Noble|Joyful|Italian|Gothic|Vivace|Sacred|Romantic",
            "Sonata|Nocturne|Etude|Fugue|Prelude|Concerto|Symphony|Rhapsody|Serenade|Requiem|Partita|Cantata|Overture|Caprice|Variation",
            "Vienna|Leipzig|Salzburg|Prague|St. Petersburg|Venice|Bohemia|Versailles",
            "Allegro|Adagio|Andante|Largo|Scherzo|Minuet|Rondo|Presto",
            "{first} {last}|{last} String Quartet|{place} Philharmonic|{last} Chamber Ensemble|{first} {last} & the {place} Orchestra|{last} Trio",
            "{noun} No. {num}|{adj} {noun}|{nouns} and {nouns}|{place} {nouns}|Complete {nouns}|{adj} {nouns}",
            "{noun} No. {num}|{noun} in {key}|{word}|{word} from {noun} No. {num}|{adj} {noun}|{noun} in {key}: {word}",
        ),
        meter3=0.25,
        related=dict(ambient=0.4, jazz=0.3, folk=0.3),
    ),
    Genre(
        "ambient", 0.05,
        style=dict(tempo=(70, 8), loudness=-24, density=0.5, legato=1.0, leap=0.25, rest=0.3,
                   register=74, repetition=0.5, echo=(0.5, 0.08), pad_gain=0, pad_attack=1.0,
                   drum_gain=-10, bass_gain=-6),
        lead_shift=dict(attack=0.2),
        families=dict(bell=0.35, flute=0.25, bowed=0.2, synth_square=0.2),
        drums=dict(none=0.75, four_floor=0.1, folk=0.15),
        bass=dict(sustained=0.8, none=0.2),
        pads=dict(sustain=1.0),
        scales=dict(major=0.35, lydian=0.25, pent_major=0.2, minor=0.2),
        progressions=dict(vamp=0.8, standard=0.2),
        vocab=_v(
            "Drifting|Silent|Distant|Floating|Endless|Pale|Soft|Submerged|Frozen|Still|Luminous|Weightless|Hazy|Glacial|Slow",
            "Horizon|Tide|Cloud|Glacier|Field|Fog|Aurora|Dust|Space|Ocean|Mist|Breath|Light|Drone|Stillness",
            "Svalbard|the Sea|the Stratosphere|Lake Baikal|the Desert|Kyoto",
            "Reflections|Dissolve|Stasis|Breathe|Meditation|Weightless|Afterglow|Elsewhere",
            "{adj} {noun}|{noun}|{noun}s of {place}|{first} {last}|{adj}{noun}|{noun} & {noun}",
            "{adj} {noun}|{nouns}|Music for {place}|{word}|{adj} {nouns}|{noun} Studies",
            "{adj} {noun}|{word}|{noun} {num}|{noun} ({place})|{adj}|{word} II",
        ),
        related=dict(electronic=0.5, classical=0.4),
    ),
    Genre(
        "reggae", 0.05,
        style=dict(tempo=(76, 5), loudness=-15, swing=0.05, density=1.2, legato=0.7, rest=0.25,
                   register=66, repetition=0.75, echo=(0.35, 0.1), bass_gain=0, pad_gain=-6),
        lead_shift={},
        families=dict(organ=0.35, pluck=0.25, brass=0.2, synth_square=0.2),
        drums=dict(one_drop=0.85, rock=0.15),
        bass=dict(reggae=0.8, roots=0.2),
        pads=dict(skank=0.85, stabs=0.15),
        scales=dict(major=0.45, minor=0.35, dorian=0.2),
        progressions=dict(standard=0.6, vamp=0.4),
        vocab=_v(
            "Rasta|Natty|Irie|Roots|Conscious|Mighty|Dread|Sweet|Jah|Humble|Uprising|Kingston|Bless|Zion|Righteous",
            "Lion|Riddim|Sound|Dub|Selector|Yard|Warrior|Rock|Dread|Vibe|Prophet|Sunshine|Skank|Drum|Trench",
            "Kingston|Trenchtown|Zion|Montego Bay|Spanish Town|Studio One|Negril",
            "One Love|Stir It Up|Jah Guide|Rise Up|Dub Plate|Easy Skanking|Forward Ever|Irie Vibes",
            "{first} {last} & the {nouns}|{adj} {noun}|The {adj} {nouns}|{noun} {first}|{adj} {first}|Sly & {first}",
            "{adj} {noun}|{noun} in Dub|{place} {noun}|{word}|{adj} {nouns}|{noun} Showcase",
            "{adj} {noun}|{word}|{noun} Dub|{adj} {noun} Dub|{word} in {place}|{noun}",
        ),
        related=dict(hiphop=0.4, latin=0.4, pop=0.2),
    ),
    Genre(
        "latin", 0.06,
        style=dict(tempo=(105, 11), loudness=-15, swing=0.02, density=2.0, legato=0.6,
                   leap=0.15, register=70, repetition=0.7, hat_gain=-12),
        lead_shift={},
        families=dict(brass=0.35, mallet=0.3, pluck=0.2, flute=0.15),
        drums=dict(latin=0.8, pop=0.2),
        bass=dict(tumbao=0.75, roots=0.25),
        pads=dict(comp=0.5, stabs=0.3, strum=0.2),
        scales=dict(major=0.5, minor=0.3, harmonic_minor=0.1, dorian=0.1),
        progressions=dict(standard=0.8, jazz=0.2),
        vocab=_v(
            "Caliente|Dulce|Loca|Bonita|Tropical|Morena|Linda|Salvaje|Eterna|Rumbera|Alegre|Negra|Roja|Bella|Sabrosa",
            "Corazón|Noche|Fuego|Luna|Sol|Baile|Amor|Ritmo|Sabor|Son|Calle|Vida|Playa|Guitarra|Tambor",
            "La Habana|San Juan|Cali|Veracruz|Buenos Aires|Salvador|Santo Domingo|Medellín",
            "Bailando|Te Quiero|Vamos|Mi Gente|Dime|Oye|Azúcar|Olé",
            "{first} {last}|Orquesta {adj}|Los {nouns}|{first} y Su {noun}|Grupo {noun}|La {noun} {adj}",
            "{noun} {adj}|{word}|{noun} de {place}|{noun} y {noun}|Ritmo {adj}|{adj}",
            "{noun} {adj}|{word}|Mi {noun}|{noun} de {place}|{word} {noun}|{noun}",
        ),
        related=dict(jazz=0.4, reggae=0.4, pop=0.3),
    ),
)

GENRE_NAMES: tuple[str, ...] = tuple(g.name for g in GENRES)
GENRE_INDEX: dict[str, int] = {n: i for i, n in enumerate(GENRE_NAMES)}


def genre_similarity(names: tuple[str, ...] = GENRE_NAMES, floor: float = 0.05) -> list[list[float]]:
    """Symmetric genre relatedness (1 on the diagonal, ``floor`` for unrelated pairs)."""
    idx = {n: i for i, n in enumerate(names)}
    sim = [[floor] * len(names) for _ in names]
    for i in range(len(names)):
        sim[i][i] = 1.0
    for g in GENRES:
        if g.name not in idx:
            continue
        for other, w in g.related.items():
            if other in idx:
                a, b = idx[g.name], idx[other]
                sim[a][b] = sim[b][a] = max(sim[a][b], w)
    return sim


def style_mean(genre: Genre, name: str) -> tuple[float, float]:
    """(mean, sd) of a style field for ``genre``."""
    spec = STYLE_FIELDS[name]
    v = genre.style.get(name)
    if v is None:
        return spec.mean, spec.sd
    if isinstance(v, tuple):
        return float(v[0]), float(v[1])
    return float(v), spec.sd


#: The shared neutral pool of the ``caption_vocab`` dial: names that carry no genre. A name
#: slot (title, artist, album) draws from its genre's vocabulary with probability
#: ``caption_vocab`` and from here otherwise. No word here occurs in a genre's lists
#: (checked by tests), and no template names a key or mode.
NEUTRAL_VOCAB = _v(
    "Sudden|Open|Paper|Second|Early|Simple|Hidden|Usual|Common|Steady|Narrow|Plain|Borrowed|Yellow|Ordinary|Middle",
    "Window|Letter|Garden|Bridge|Hallway|Harbor|Ladder|Pocket|Station|Kitchen|Cupboard|Island|Pavement|Doorway|Tunnel|Balcony",
    "Oakridge|Millbrook|Fairview|Ashby|Linden|Westerly|Brookside|Hollins",
    "Waiting|Somewhere|Almost|Nothing Else|Everyday|Far From Here|Small Hours|Not Yet|Later On",
    "{first} {last}|{last}|{first} {last} Group|The {nouns}|{adj} {nouns}|{first} and the {nouns}|{place} {nouns}",
    "{adj} {noun}|{noun}|{nouns}|{place}|{adj} {nouns}|{noun} {num}|Postcards, {place}",
    "{adj} {noun}|{word}|{noun}|{noun} {num}|{word} Twice|The {noun}|{adj} {nouns}",
)
#: Credited artist strings of compilations (the ``credit_aliasing`` dial).
VARIOUS_ARTISTS = "Various Artists"
COMPILATION_TEMPLATES = ("{adj} {nouns} Vol. {num}", "The Best of {place}", "{noun} Collection {num}",
                         "Selected {nouns}")
