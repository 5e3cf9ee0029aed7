"""Dataset builders: each module defines :class:`~benchmark.data.base.DatasetBuilder`
subclasses with a ``meta`` record; ``benchmark.data.REGISTRY`` finds them by itself."""
