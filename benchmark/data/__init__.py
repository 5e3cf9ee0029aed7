"""Dataset plugins: the catalog of buildable datasets (:mod:`.catalog`), the generated
worlds (:mod:`.synth`), real music (:mod:`.folk21`) and importers (:mod:`.importers`).
The canonical format they all write lives in :mod:`benchmark.core.dataset`."""
