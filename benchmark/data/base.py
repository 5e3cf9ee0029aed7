"""The dataset plugin protocol: a metadata record + a small class, like encoders.

Two kinds of entry share one registry (``benchmark.data.REGISTRY``) and one name space:

- a **builder** (:class:`DatasetBuilder`) writes a complete dataset from nothing but its
  name, a size and a seed (the generated worlds ``synth-*``, ``folk21``); it is built
  by name into ``<data root>/<name>-<size>`` (:func:`benchmark.data.resolve`), or as a
  variant with overrides (``synth-mpd[caption_vocab=0.25,seed=1]``) into
  ``<data root>/<reference>-<size>``;
- an **importer** (:class:`DatasetImporter`) converts files the user has (MPD slices,
  Last.fm TSVs, the LARP release) into a dataset folder that is then used by path; it
  declares its command-line inputs and options, so ``larpbench data import NAME`` needs
  no code per source.

A plugin file in ``benchmark/data/builders/`` or ``benchmark/data/importers/`` defines a
subclass with a ``meta`` :class:`DatasetMeta`; the registry finds it by itself. Third-party
packages register through the ``larpbench.datasets`` entry-point group
(``name = "package.module:Class"``). Plugins import only :mod:`benchmark.core` and their
own private modules; heavy imports belong inside :meth:`DatasetBuilder.build` and
:meth:`DatasetImporter.run`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchmark.core.dataref import DatasetRef
from benchmark.core.dataset import Dataset

KINDS = ("builder", "importer")


@dataclass(frozen=True)
class DatasetMeta:
    """What a user needs to know about a dataset entry (``larpbench data list``)."""

    name: str
    description: str
    #: builders: the sizes it builds, smallest first (importers: empty)
    sizes: tuple[str, ...] = ()
    #: "MPD" or "LFM": the paper column this dataset stands for (None: none)
    paper_column: str | None = None
    #: builders: the seed used when none is given
    default_seed: int = 0
    #: importers: what it reads, as on its command line, e.g. "SLICES_DIR"
    inputs: str = ""
    #: where the data comes from (paper, URL, licence)
    source: str = ""
    #: builders: the generator version a build records in its manifest's
    #: ``params["generator"]``; a build recording another version is stale and is rebuilt
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DatasetPlugin:
    """Base of both kinds. Subclasses set ``meta``; the registry instantiates nothing."""

    kind: ClassVar[str] = ""
    meta: ClassVar[DatasetMeta | None] = None

    @property
    def name(self) -> str:
        assert self.meta is not None
        return self.meta.name


class DatasetBuilder(DatasetPlugin):
    """A dataset built by name at one of ``meta.sizes``.

    A **variant** is the same builder with overrides, named by a reference such as
    ``synth-mpd[caption_vocab=0.25,seed=1]`` (:mod:`benchmark.core.dataref`): ``seed`` (the
    world seed) is taken by every builder; other names only when :meth:`override_names`
    lists them. The catalog checks them with :meth:`coerce_override` and
    :meth:`check_overrides`, builds into ``<data root>/<reference>-<size>`` and passes the
    reference to :meth:`build` as ``variant``.
    """

    kind: ClassVar[str] = "builder"

    @classmethod
    def override_names(cls) -> tuple[str, ...]:
        """The names a reference may override besides ``seed`` (default: none)."""
        return ()

    @classmethod
    def coerce_override(cls, key: str, value: Any) -> Any:
        """``value`` (as parsed from the reference) converted to the type ``key`` takes; a
        ``TypeError``/``ValueError`` naming ``key`` when it cannot be. Default: unchanged."""
        return value

    @classmethod
    def check_overrides(cls, size: str, seed: int, overrides: Mapping[str, Any]) -> None:
        """Refuse values out of their range at ``size`` (a ``ValueError`` naming the field and
        its allowed range) before anything is built. Default: nothing to check."""

    def build(self, root: Path, *, size: str, seed: int, progress: bool,
              variant: DatasetRef | None = None) -> None:
        """Write a complete dataset (manifest last) into the empty folder ``root``.
        ``variant``: the reference with its overrides (only passed when it has any; its
        ``seed`` is already in ``seed``)."""
        raise NotImplementedError

    @classmethod
    def expected_params(cls, size: str, seed: int, overrides: Mapping[str, Any]) -> dict[str, Any] | None:
        """The manifest ``params`` (without ``derived``) a fresh build would record, so the
        catalog can tell a build made with other settings (stale) from a current one;
        None: the builder does not say (only ``meta.version`` is compared)."""
        return None


class DatasetImporter(DatasetPlugin):
    """A converter of user-supplied files into a dataset folder.

    Every importer takes ``--audio DIR``, ``--out DIR``, ``--overwrite`` and ``--quiet``
    (added by :meth:`configure_parser`); :meth:`add_arguments` declares the rest.
    """

    kind: ClassVar[str] = "importer"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the positional inputs and the importer's own options."""

    def run(self, args: argparse.Namespace) -> Dataset:
        """Import from parsed arguments (``args.audio``, ``args.out``, ``args.overwrite``,
        ``args.quiet`` and those of :meth:`add_arguments`); return the dataset written."""
        raise NotImplementedError

    # -- provided --------------------------------------------------------------------
    def configure_parser(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        self.add_arguments(parser)
        parser.add_argument("--audio", required=True, help="folder of audio files named by track id/URI")
        parser.add_argument("--out", required=True, help="output dataset folder")
        parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
        parser.add_argument("--quiet", action="store_true", help="do not print the import report")
        return parser

    def parser(self) -> argparse.ArgumentParser:
        assert self.meta is not None
        return self.configure_parser(argparse.ArgumentParser(
            prog=f"larpbench data import {self.meta.name}", description=self.meta.description))

    def import_argv(self, argv: Sequence[str]) -> Dataset:
        """Parse ``argv`` as ``larpbench data import NAME`` would, and import."""
        return self.run(self.parser().parse_args(list(argv)))
