"""Figures shown during a cell, kept apart from the backend so that a cell which never
imports matplotlib never pays for importing it."""

from __future__ import annotations

import sys


def reset() -> None:
    backend = sys.modules.get(__package__ + ".mpl_inline")
    if backend is not None:
        backend.shown.clear()


def collect() -> list[bytes]:
    """PNGs of the figures shown in the cell, plus any still open at its end."""
    if "matplotlib.pyplot" not in sys.modules:
        return []
    from . import mpl_inline as backend

    backend.render_open_figures()
    shown = list(backend.shown)
    backend.shown.clear()
    return shown
