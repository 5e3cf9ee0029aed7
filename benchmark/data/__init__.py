"""Dataset plugins: builders (generated worlds :mod:`.synth`, real music :mod:`.folk21`,
declared in :mod:`.builders`) and importers (:mod:`.importers`), all entries of one
registry, :data:`REGISTRY` (:mod:`.catalog`). Third-party datasets register through the
``larpbench.datasets`` entry-point group. :func:`resolve` turns a catalog name or a dataset
folder into a :class:`~benchmark.core.dataset.Dataset`; a builder's variant is named by a
reference with overrides, ``synth-mpd[caption_vocab=0.25,seed=1]`` (:func:`reference`). The canonical format they all
write lives in :mod:`benchmark.core.dataset`."""

from .base import DatasetBuilder, DatasetImporter, DatasetMeta, DatasetPlugin
from .catalog import REGISTRY, build, check_reference, data_root, dataset_path, locate, reference, resolve

# (catalog.builders() and catalog.importers() are not re-exported: ``importers`` is the subpackage)
__all__ = ["REGISTRY", "DatasetBuilder", "DatasetImporter", "DatasetMeta", "DatasetPlugin", "build",
           "check_reference", "data_root", "dataset_path", "locate", "reference", "resolve"]
