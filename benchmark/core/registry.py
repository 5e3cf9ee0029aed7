"""A small plugin registry shared by encoders, recommenders and datasets.

Entries are discovered by importing every module of one or more packages (one file per
entry, like MTEB's model implementations) and, for third-party code, through an
``importlib.metadata`` entry-point group. Each entry is a class with a ``meta``
record whose ``name`` must be unique; unknown names get close-match suggestions.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Iterator, Sequence
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T", bound=type)


class RegistryError(LookupError):
    """An unknown or duplicated registry name."""


class Registry(Generic[T]):
    """Name -> class mapping filled by scanning packages and an entry-point group.

    ``package`` is one package name or several (scanned in the order given; one name
    space: a name defined in two of them is a duplicate).
    """

    def __init__(self, kind: str, package: str | Sequence[str], base: type, entry_point_group: str,
                 skip_modules: frozenset[str] = frozenset()) -> None:
        self.kind = kind
        self.packages: tuple[str, ...] = (package,) if isinstance(package, str) else tuple(package)
        self.package = self.packages[0]
        self.base = base
        self.entry_point_group = entry_point_group
        self.skip_modules = skip_modules
        self._entries: dict[str, T] | None = None
        self._origins: dict[str, str] = {}

    # -- discovery -----------------------------------------------------------------
    def _add(self, cls: T, origin: str) -> None:
        assert self._entries is not None
        name = cls.meta.name
        if name in self._entries and self._entries[name] is not cls:
            raise RegistryError(
                f"duplicate {self.kind} name {name!r}: defined in {self._origins[name]} "
                f"and in {origin}"
            )
        self._entries[name] = cls
        self._origins[name] = origin

    def _discover(self) -> dict[str, T]:
        if self._entries is not None:
            return self._entries
        self._entries = {}
        for package in self.packages:
            pkg = importlib.import_module(package)
            for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                if info.name.startswith("_") or info.name in self.skip_modules:
                    continue
                module = importlib.import_module(f"{package}.{info.name}")
                for obj in vars(module).values():
                    if (isinstance(obj, type) and issubclass(obj, self.base)
                            and obj is not self.base and obj.__module__ == module.__name__
                            and getattr(obj, "meta", None) is not None):
                        self._add(obj, module.__file__ or module.__name__)
        for ep in entry_points(group=self.entry_point_group):
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise RegistryError(
                    f"entry point {ep.name!r} in group {self.entry_point_group!r} is not a "
                    f"{self.base.__name__} subclass"
                )
            self._add(cls, f"entry point {ep.value}")
        return self._entries

    # -- lookup --------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._discover())

    def get(self, name: str) -> T:
        entries = self._discover()
        if name not in entries:
            close = difflib.get_close_matches(name, entries, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(sorted(entries))})"
            )
        return entries[name]

    def origin(self, name: str) -> str:
        self.get(name)
        return self._origins[name]

    def __iter__(self) -> Iterator[tuple[str, T]]:
        entries = self._discover()
        return iter(sorted(entries.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._discover()
