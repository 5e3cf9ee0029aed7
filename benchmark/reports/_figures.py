"""What every figure of the reports does last: lay out, write the PNG, release the figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, out_png: str | Path, dpi: int) -> Path:
    """``tight_layout`` (below the suptitle, if any), save ``fig`` to ``out_png`` (parent folders
    created), close it."""
    import matplotlib.pyplot as plt

    title = fig.get_suptitle()
    # reserve the title's lines (about 0.22 in each at the sizes used here) above the panels
    top = 1 - 0.22 * (title.count("\n") + 1) / fig.get_figheight() if title else 1
    fig.tight_layout(rect=(0, 0, 1, top))
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
