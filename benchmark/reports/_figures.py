"""What every figure of the reports does last: lay out, write the PNG, release the figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, out_png: str | Path, dpi: int) -> Path:
    """``tight_layout``, save ``fig`` to ``out_png`` (parent folders created), close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
