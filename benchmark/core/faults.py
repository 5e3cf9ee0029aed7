"""Deterministic crash points for the fault-injection tests.

``LARPBENCH_CRASH_AT=<name>`` makes the process die at the named point with ``os._exit``
(as a SIGKILL would: no cleanup, no ``finally``), so tests can check what an interrupted
build, grid cell or cache write leaves behind without racing timed signals. Points:
``build`` (a dataset build, before it is published), ``cell`` (a grid cell, before its
record is written), ``cache-write`` (an embedding cache entry, before it is saved),
``atomic-write`` (any atomic file write, after the temporary file is written, before
the rename).
"""

from __future__ import annotations

import os

ENV = "LARPBENCH_CRASH_AT"
#: ``LARPBENCH_INTERRUPT_AT=<name>`` raises ``KeyboardInterrupt`` there instead (a Ctrl-C)
INTERRUPT_ENV = "LARPBENCH_INTERRUPT_AT"


def crash_point(name: str) -> None:
    """Die here (exit status 137) if ``$LARPBENCH_CRASH_AT`` names this point; raise
    ``KeyboardInterrupt`` if ``$LARPBENCH_INTERRUPT_AT`` does."""
    if os.environ.get(ENV) == name:
        os._exit(137)
    if os.environ.get(INTERRUPT_ENV) == name:
        raise KeyboardInterrupt
