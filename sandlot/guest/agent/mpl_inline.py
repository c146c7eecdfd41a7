"""A matplotlib backend that turns shown figures into PNG results, as notebooks do.

Selected with MPLBACKEND=module://<package>.agent.mpl_inline. `plt.show()` and any figure
still open when a cell ends are rendered once and closed.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase

shown: list[bytes] = []  # PNGs of the figures shown since the cell began


def render_open_figures() -> None:
    """Render every open figure to PNG into `shown`, then close them."""
    import matplotlib.pyplot as plt

    for num in plt.get_fignums():
        fig = plt.figure(num)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        shown.append(buf.getvalue())
    plt.close("all")


def show(*args: Any, **kwargs: Any) -> None:
    render_open_figures()
