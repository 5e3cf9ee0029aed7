"""Private implementation of LARP (Salganik et al., KDD 2024): model, losses, fusion,
data, three-stage trainer and named configurations. The registry entries live in
:mod:`encoders.larp`; see ``docs/larp.md``.

Importing this package is cheap: torch and the towers are imported by the submodules
that need them (``model``, ``train``).
"""

from encoders._larp.configs import CODE_VERSION, MODEL_CONFIGS, OPTION_NOTES, PAPER, STAGES, resolve

__all__ = ["CODE_VERSION", "MODEL_CONFIGS", "OPTION_NOTES", "PAPER", "STAGES", "resolve"]
