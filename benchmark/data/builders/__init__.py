"""Dataset builders: each module exposes ``DATASETS`` (a list of ``DatasetSpec``)."""
