"""The pieces of the music21 corpus that folk21 uses, with their metadata.

ABC collections are read from the ABC text directly (headers ``T: C: O: R: B: S:``,
one entry per ``X:`` tune), which is fast and keeps fields that music21's metadata
cache drops (the tune type ``R:``). Other formats get their metadata from their Humdrum
reference records (``!!!OPR``, ``!!!OTL``, ``!!!AGN``), MusicXML title/creator tags
(read with regular expressions) and file names; music21 parses them only when they
are rendered.

Every piece has a stable id, a collection, an album (the printed collection it comes
from), a title, a composer (empty when unknown) and an editor, and where the source
says so a genre (tune type) and a region, plus a "volume" (book, mass, volume of an
edition) for collections organised that way.
"""

from __future__ import annotations

import functools
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Piece:
    piece_id: str
    collection: str  # collection key (see COLLECTIONS)
    album: str
    title: str
    composer: str  # "" when unknown
    editor: str
    genre: str = ""
    region: str = ""
    volume: str = ""
    source: str = ""  # path relative to the music21 corpus folder
    ref: int = 0  # ABC X: number (0 for non-ABC files)
    order: int = 0  # position in the collection's source order
    kind: str = "abc"  # "abc" (abc2midi or music21) or "music21"
    licence: str = ""
    abc: str = field(default="", repr=False, compare=False)  # the tune's ABC text (ABC pieces)


@dataclass(frozen=True)
class Collection:
    key: str
    album: str
    editor: str
    licence: str
    description: str


LICENCES = {
    "essen": (
        "Essen Folksong Collection (EsAC; Helmut Schaffrath, continued by Ewa Dahlig-Turek), "
        "ABC conversion by Seymour Shlien, distributed in music21 by permission for "
        "NON-COMMERCIAL use and distribution only; legal status otherwise unclear "
        "(music21/corpus/essenFolksong/license.txt)."
    ),
    "abc-transcription": (
        "ABC transcriptions of public-domain 19th-century printed collections, distributed with "
        "music21 with the transcribers' permission; music21's corpus licence applies "
        "(music21/corpus/license.txt: some encodings may not be used commercially)."
    ),
    "music21-corpus": (
        "Encodings distributed with music21 with the encoders' permission (music21/corpus/license.txt); "
        "the music is out of copyright; some encodings may be restricted to non-commercial use."
    ),
    "humdrum-palestrina": (
        "Humdrum encodings by John Miller (c) 2000, distributed with music21 with permission; "
        "music21/corpus/license.txt applies (non-commercial use may be required)."
    ),
}

COLLECTIONS: dict[str, Collection] = {
    c.key: c
    for c in [
        Collection("essen", "Essen Folksong Collection", "Helmut Schaffrath", "essen",
                   "Essen folk songs (German, Lorraine, Luxembourg, Irish, Chinese Han, ballads, children's songs)"),
        Collection("oneills", "O'Neill's Music of Ireland (1850 Melodies)", "Francis O'Neill",
                   "abc-transcription", "Irish airs and dance tunes, ed. Francis O'Neill (1903)"),
        Collection("ryans", "Ryan's Mammoth Collection", "William Bradbury Ryan", "abc-transcription",
                   "American/Irish/Scottish fiddle tunes, ed. W. B. Ryan (1883)"),
        Collection("airds", "Aird's Selection of Scotch, English, Irish and Foreign Airs", "James Aird",
                   "abc-transcription", "Airs and dance tunes, ed. James Aird (1782-1803), books 1-6"),
        Collection("fife", "American Fife Tunes", "Jack Campin", "abc-transcription",
                   "American fife tunes (miscFolk/americanfifeopus.abc)"),
        Collection("northumbrian", "Northumbrian Minstrelsy", "John Collingwood Bruce and John Stokoe",
                   "abc-transcription", "Northumbrian songs and tunes, Bruce and Stokoe (1882)"),
        Collection("bach", "Bach Four-Part Chorales", "Johann Sebastian Bach", "music21-corpus",
                   "J. S. Bach's four-part chorale harmonisations"),
        Collection("palestrina", "Palestrina Masses", "John Miller", "humdrum-palestrina",
                   "Mass movements by Giovanni Pierluigi da Palestrina"),
        Collection("monteverdi", "Monteverdi Madrigals", "Claudio Monteverdi", "music21-corpus",
                   "Madrigals by Claudio Monteverdi, books 3-5"),
        Collection("trecento", "Trecento Polyphony (PMFC)", "Polyphonic Music of the Fourteenth Century",
                   "music21-corpus", "Italian 14th-century polyphony (Landini, Jacopo, Giovanni, Ciconia, ...)"),
    ]
}

#: canonical order of collections (dedupe keeps the first copy of a melody in this order)
COLLECTION_ORDER = tuple(COLLECTIONS)

_ESSEN_SKIP = {"test0", "test1", "testd", "teste"}  # music21's own test fixtures (copies of other songs)
_CONTINENTS = {"europa", "mitteleuropa", "osteuropa", "suedosteuropa", "westeuropa", "nordeuropa",
               "suedeuropa", "asien", "ostasien", "amerika", "mittelamerika", "nordamerika", "afrika"}


def corpus_root() -> Path:
    import music21

    return Path(music21.__file__).resolve().parent / "corpus"


# ----------------------------------------------------------------------------- text helpers
def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def clean(text: str) -> str:
    """Strip ABC/Essen decorations: brackets, quotes, stray backslashes, whitespace runs."""
    text = text.replace("]", " ").replace("[", " ").replace('"', " ").replace("\\", " ")
    text = re.sub(r"\s+", " ", text).strip(" .,;:-")
    return text


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def normalise_genre(raw: str) -> str:
    """The first category of an ``R:`` field, in a canonical spelling.

    ``"Liebes - Lied, Leid, Klage"`` -> ``"Liebeslied"``, ``"Xiaodiao. Xin minge]"`` ->
    ``"Xiaodiao"``, ``"double jig"`` -> ``"jig"``, ``"slipjig"`` -> ``"slip jig"``.
    """
    text = clean(raw)
    if not text or set(text) <= {"?", "y", " "}:
        return ""
    parts = [p.strip() for p in re.split(r"[,;.(/]", text) if p.strip()]
    if not parts:
        return ""
    first = parts[0]
    if first.endswith("-"):  # "Staende -, Soldaten -, Kriegs - Lied" -> "Staende-Lied"
        tail = next((p for p in parts[1:] if not p.endswith("-")), "")
        first = first.rstrip("- ") + "-" + re.split(r"\s*-\s*", tail)[-1] if tail else first.rstrip("- ")
    first = re.sub(r"\s*-\s*", "-", first)  # "Liebes - Lied" -> "Liebes-Lied"
    first = re.sub(r"-(?=[A-Za-zäöüÄÖÜ])", "", first)  # "Liebes-Lied" -> "LiebesLied"
    first = first[:1].upper() + first[1:].lower() if first else ""
    if first.endswith("lieder"):
        first = first[:-2]
    low = first.lower()
    if low in {"double jig", "single jig", "jigs"}:
        return "Jig"
    if low in {"slipjig", "slip jig", "slide"}:
        return "Slip jig"
    if low in {"reels"}:
        return "Reel"
    if not first or first.strip("?y ") == "":
        return ""
    return first


def normalise_region(raw: str) -> str:
    """Country and first sub-region of an Essen ``O:`` field, without continent names.

    ``"Europa, Mitteleuropa, Deutschland, Schlesien"`` -> ``"Deutschland / Schlesien"``.
    """
    text = clean(raw.split(";")[0].split(" / ")[0])
    parts = [p.strip() for p in text.split(",") if p.strip()]
    parts = [p for p in parts if p.lower().replace(" ", "") not in _CONTINENTS]
    parts = [re.sub(r"\s*\(.*?\)\s*", " ", p).strip() for p in parts]
    parts = [p for p in parts if p]
    return " / ".join(parts[:2])


# ----------------------------------------------------------------------------- ABC
_FIELD = re.compile(r"^([A-Za-z]):\s?(.*)$")


@dataclass
class AbcTune:
    ref: int
    fields: dict[str, list[str]]
    text: str
    line: int  # line number of the X: field in the file


def split_abc(text: str) -> list[AbcTune]:
    """Split an ABC file into tunes (one per ``X:`` field) with their header fields."""
    lines = text.splitlines()
    tunes: list[AbcTune] = []
    start: int | None = None

    def close(end: int) -> None:
        if start is None:
            return
        block = lines[start:end]
        while block and not block[-1].strip():
            block.pop()
        fields: dict[str, list[str]] = {}
        in_header = True
        for ln in block:
            m = _FIELD.match(ln)
            if m and in_header:
                fields.setdefault(m.group(1).upper(), []).append(m.group(2).strip())
                if m.group(1) == "K":
                    in_header = False
            elif m and m.group(1) in "TPVNRW" and not in_header:
                continue
        try:
            ref = int(re.match(r"\s*(\d+)", fields.get("X", ["0"])[0]).group(1))  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            ref = 0
        tunes.append(AbcTune(ref, fields, "\n".join(block) + "\n", start + 1))

    for i, ln in enumerate(lines):
        if ln.startswith("X:"):
            close(i)
            start = i
    close(len(lines))
    # a tune needs a key field and some music after it
    return [t for t in tunes if "K" in t.fields and len(t.text.splitlines()) > len(functools.reduce(operator.iadd, t.fields.values(), []))]


def _first(fields: dict[str, list[str]], key: str) -> str:
    vals = [clean(v) for v in fields.get(key, []) if clean(v)]
    return vals[0] if vals else ""


def _abc_pieces(coll: str, files: Sequence[Path], root: Path, *, album_of=None, volume_of=None) -> list[Piece]:
    info = COLLECTIONS[coll]
    out: list[Piece] = []
    order = 0
    for path in files:
        rel = path.relative_to(root).as_posix()
        for tune in split_abc(read_text(path)):
            f = tune.fields
            title = _first(f, "T") or f"{path.stem} no. {tune.ref}"
            composer = ""
            region = ""
            genre = normalise_genre(_first(f, "R"))
            c = _first(f, "C")
            if coll == "essen":
                region = normalise_region(_first(f, "O"))
            elif coll == "oneills":
                if c and "collect" not in c.lower() and "o'neill" not in c.lower().replace(" ", ""):
                    composer = c
            elif coll == "ryans":
                if c and not re.search(r"scotch|irish|english|welsh", c, re.I):
                    composer = c.title() if c.isupper() else c
            elif coll == "airds":
                if c.lower().startswith("by "):
                    composer = c[3:].strip()
                elif c:
                    region = c.replace(" Air", "").strip()
            elif c:
                composer = c
            album = album_of(path) if album_of else info.album
            volume = volume_of(path) if volume_of else ""
            pid = f"{coll}-{slug(path.stem)}-{tune.ref:04d}-{order:05d}"
            out.append(Piece(pid, coll, album, title, composer, info.editor, genre, region, volume,
                             rel, tune.ref, order, "abc", info.licence, tune.text))
            order += 1
    return out


def _natural_key(p: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


# ----------------------------------------------------------------------------- music21 formats
def _bach_titles() -> dict[str, str]:
    try:
        from music21.corpus import chorales

        cl = chorales.ChoraleList()
        return {str(v["bwv"]): str(v["title"]) for v in cl.byRiemenschneider.values()}
    except Exception:
        return {}


def _bach_pieces(root: Path) -> list[Piece]:
    info = COLLECTIONS["bach"]
    titles = _bach_titles()
    files = sorted((root / "bach").glob("bwv*.mxl"), key=_natural_key)
    out = []
    for order, path in enumerate(files):
        bwv = path.stem[3:]
        title = titles.get(bwv) or f"Chorale BWV {bwv}"
        out.append(Piece(f"bach-bwv{slug(bwv)}", "bach", info.album, title, "Johann Sebastian Bach",
                         info.editor, "", "", "", path.relative_to(root).as_posix(), 0, order,
                         "music21", info.licence))
    return out


def _humdrum_refs(path: Path) -> dict[str, str]:
    """Humdrum reference records (``!!!KEY: value``) of a ``.krn`` file."""
    out: dict[str, str] = {}
    for ln in read_text(path).splitlines():
        if ln.startswith("!!!") and ":" in ln:
            k, v = ln[3:].split(":", 1)
            out.setdefault(k.strip(), v.strip())
    return out


def _musicxml_meta(path: Path) -> dict[str, str]:
    """Title and composer of a MusicXML file, read with regular expressions (no parsing)."""
    text = read_text(path)[:20000]
    out: dict[str, str] = {}
    for key, pat in (("title", r"<work-title>([^<]*)"), ("movement", r"<movement-title>([^<]*)"),
                     ("composer", r'<creator type="composer">([^<]*)')):
        m = re.search(pat, text)
        if m and m.group(1).strip():
            out[key] = m.group(1).strip()
    return out


def _palestrina_pieces(root: Path) -> list[Piece]:
    info = COLLECTIONS["palestrina"]
    files = sorted((root / "palestrina").glob("*.krn"), key=_natural_key)
    out = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        m = _humdrum_refs(path)
        mass = clean(m.get("OPR", "")) or "Missa"
        movement = clean(m.get("OTL", "")) or path.stem.split("_")[0]
        genre = m.get("AGN", "")
        genre = genre[genre.find("(") + 1:genre.find(")")] if "(" in genre and ")" in genre else genre
        out.append([mass, path, rel, movement, genre])
    # source order: by mass, then movement file (keeps a mass together)
    out.sort(key=lambda r: (r[0].lower(), _natural_key(r[1])))
    pieces = []
    for order, (mass, path, rel, movement, genre) in enumerate(out):
        pieces.append(Piece(f"palestrina-{slug(path.stem)}", "palestrina", info.album, f"{mass}: {movement}",
                            "Giovanni Pierluigi da Palestrina", info.editor, genre, "", mass, rel, 0, order,
                            "music21", info.licence))
    return pieces


def _monteverdi_pieces(root: Path) -> list[Piece]:
    info = COLLECTIONS["monteverdi"]
    files = sorted((root / "monteverdi").glob("madrigal.*.mxl"), key=_natural_key)
    out = []
    for order, path in enumerate(files):
        parts = path.stem.split(".")
        book, num = (parts[1], parts[2]) if len(parts) >= 3 else ("?", path.stem)
        out.append(Piece(f"monteverdi-{slug(path.stem)}", "monteverdi", info.album,
                         f"Madrigali, Libro {book}, No. {num}", "Claudio Monteverdi", info.editor, "", "",
                         f"Libro {book}", path.relative_to(root).as_posix(), 0, order, "music21", info.licence))
    return out


def _trecento_pieces(root: Path) -> list[Piece]:
    info = COLLECTIONS["trecento"]
    files = sorted((root / "trecento").glob("*.xml"), key=_natural_key)
    out = []
    for order, path in enumerate(files):
        rel = path.relative_to(root).as_posix()
        m = _musicxml_meta(path)
        name = path.stem
        vol = re.match(r"PMFC_(\d+)", name)
        volume = f"PMFC {int(vol.group(1))}" if vol else "Other sources"
        title = clean(m.get("title", "")) or clean(m.get("movement", ""))
        if not title or title.endswith(".xml"):
            title = clean(re.sub(r"^PMFC_[\d_]*-?", "", name).replace("_", " ")) or name
        composer = clean(m.get("composer", ""))
        if composer.lower().startswith("anonymous"):
            composer = ""
        out.append(Piece(f"trecento-{slug(name)}", "trecento", info.album, title, composer, info.editor,
                         "", "", volume, rel, 0, order, "music21", info.licence))
    return out


# ----------------------------------------------------------------------------- catalogue
def load_pieces(collections: Iterable[str] | None = None) -> list[Piece]:
    """All pieces of the given collections (default: all), in canonical order."""
    wanted = list(COLLECTION_ORDER if collections is None else collections)
    unknown = [c for c in wanted if c not in COLLECTIONS]
    if unknown:
        raise ValueError(f"unknown folk21 collection(s) {unknown}; known: {list(COLLECTIONS)}")
    root = corpus_root()
    pieces: list[Piece] = []
    for coll in COLLECTION_ORDER:
        if coll not in wanted:
            continue
        if coll == "essen":
            files = [p for p in sorted((root / "essenFolksong").glob("*.abc"), key=_natural_key)
                     if p.stem not in _ESSEN_SKIP]
            pieces += _abc_pieces(coll, files, root,
                                  album_of=lambda p: f"Essen Folksong Collection ({p.stem})")
        elif coll == "oneills":
            files = [p for p in sorted((root / "oneills1850").glob("*.abc"), key=_natural_key)]
            pieces += _abc_pieces(coll, files, root)
        elif coll == "ryans":
            pieces += _abc_pieces(coll, sorted((root / "ryansMammoth").glob("*.abc"), key=_natural_key), root)
        elif coll == "airds":
            pieces += _abc_pieces(coll, sorted((root / "airdsAirs").glob("*.abc"), key=_natural_key), root,
                                  volume_of=lambda p: f"Book {p.stem.replace('book', '')}")
        elif coll == "fife":
            pieces += _abc_pieces(coll, [root / "miscFolk" / "americanfifeopus.abc"], root)
        elif coll == "northumbrian":
            pieces += _abc_pieces(coll, [root / "miscFolk" / "northumbrianminstrelsyopus.abc"], root)
        elif coll == "bach":
            pieces += _bach_pieces(root)
        elif coll == "palestrina":
            pieces += _palestrina_pieces(root)
        elif coll == "monteverdi":
            pieces += _monteverdi_pieces(root)
        elif coll == "trecento":
            pieces += _trecento_pieces(root)
    ids = [p.piece_id for p in pieces]
    if len(set(ids)) != len(ids):  # pragma: no cover - guarded by construction
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise RuntimeError(f"duplicate folk21 piece ids {dup}")
    return pieces
