"""Datasets: the canonical format (:mod:`.format`), the catalog of buildable datasets
(:mod:`.catalog`), generators and importers (:mod:`.builders`), and validation."""

from .format import Dataset, DatasetError, Track, caption_for, write_dataset

__all__ = ["Dataset", "DatasetError", "Track", "caption_for", "write_dataset"]
