"""The study registry: every module here declares ``STUDIES``, a list of
:class:`benchmark.core.study.Study` (the paper's tables and figures, and further tasks).
Third-party packages add studies through the ``larpbench.studies`` entry-point group
(an entry point naming a list of studies)."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from importlib.metadata import entry_points

from benchmark.core.study import Study


def _discover() -> dict[str, Study]:
    found: dict[str, tuple[Study, str]] = {}

    def add(study: Study, origin: str) -> None:
        if not isinstance(study, Study):
            raise TypeError(f"{origin}: STUDIES holds {type(study).__name__}, expected Study")
        if study.name in found and found[study.name][0] is not study:
            raise LookupError(f"duplicate study name {study.name!r}: {found[study.name][1]} and {origin}")
        found[study.name] = (study, origin)

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for study in getattr(module, "STUDIES", []):
            add(study, module.__name__)
    for ep in entry_points(group="larpbench.studies"):
        for study in ep.load():
            add(study, f"entry point {ep.name}")
    return {name: s for name, (s, _) in sorted(found.items())}


def studies() -> dict[str, Study]:
    return _discover()


def get(name: str) -> Study:
    all_ = _discover()
    if name not in all_:
        close = difflib.get_close_matches(name, all_, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise LookupError(f"unknown study {name!r}{hint} (known: {', '.join(all_)})")
    return all_[name]
