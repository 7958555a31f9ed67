"""One way to make and write a matplotlib figure, for the plots, the studies and the CLI.

:func:`new_figure` picks the non-interactive Agg backend only where no other choice was
made and nothing could show a window (pyplot not yet imported, no backend named by
``MPLBACKEND``, ``matplotlibrc`` or :func:`matplotlib.use`, and no display), so a notebook or
a desktop session keeps its own backend. :func:`save_figure` writes a figure atomically and
closes it. matplotlib is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any


def _has_display() -> bool:
    """Whether a window could be shown (matplotlib's own test; a Linux X/Wayland display)."""
    try:
        from matplotlib import cbook

        return cbook._get_running_interactive_framework() != "headless"
    except (ImportError, AttributeError):  # private helper moved: fall back on the variables
        return sys.platform != "linux" or bool(os.environ.get("DISPLAY")
                                               or os.environ.get("WAYLAND_DISPLAY"))


def _select_backend() -> None:
    """Agg when no backend is in use or chosen and there is no display; else leave it."""
    import matplotlib

    if "matplotlib.pyplot" in sys.modules:  # a backend is in use (or pyplot will pick one)
        return
    try:
        from matplotlib import rcsetup

        chosen = matplotlib.rcParams._get("backend") is not rcsetup._auto_backend_sentinel
    except AttributeError:  # private names moved: only an explicit MPLBACKEND counts
        chosen = bool(os.environ.get("MPLBACKEND"))
    if not chosen and not _has_display():
        matplotlib.use("Agg")


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None,
               squeeze: bool = True, **subplot_kw: Any) -> tuple[Any, Any]:
    """A pyplot figure and its axes, like :func:`matplotlib.pyplot.subplots`.

    Selects the Agg backend first when nothing else is in use or chosen and there is no
    display (module docstring); otherwise the current backend is kept.

    Parameters
    ----------
    nrows, ncols : int, default=1
        The grid of axes.
    size : (float, float), optional
        Figure width and height in inches (default: matplotlib's ``figure.figsize``).
    squeeze : bool, default=True
        As in :func:`~matplotlib.pyplot.subplots`: one Axes for a 1 x 1 grid, a 1-D array
        for one row or column, else a 2-D array; ``False`` always gives a 2-D array.
    **subplot_kw
        Passed to :func:`~matplotlib.pyplot.subplots` (``sharex``, ``gridspec_kw``, ...).

    Returns
    -------
    (Figure, Axes or ndarray of Axes)

    Examples
    --------
    >>> from brainbridge._figures import new_figure
    >>> fig, axes = new_figure(1, 2, size=(6, 3))
    >>> axes.shape, fig.get_size_inches().tolist()
    ((2,), [6.0, 3.0])
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    _select_backend()
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size, squeeze=squeeze, **subplot_kw)


def save_figure(fig: Any, path: str | os.PathLike[str], *, tight: bool = True, **savefig_kw: Any) -> str:
    """Write ``fig`` atomically and close it; return the path.

    The format follows the suffix (``.png``, ``.svg``, ``.pdf``, ...; PNG when there is
    none). The file appears only once it is complete (:func:`brainbridge._storage.atomic_path`):
    a failed write leaves any existing file untouched. The figure is closed either way.

    Parameters
    ----------
    fig : matplotlib Figure
    path : str or path-like
    tight : bool, default=True
        Call ``fig.tight_layout()`` first (axes it cannot arrange, such as a nilearn glass
        brain, are left as they are, without a warning).
    **savefig_kw
        Passed to :meth:`~matplotlib.figure.Figure.savefig` (``dpi``, ``metadata``, ...).

    Examples
    --------
    >>> from pathlib import Path
    >>> from brainbridge._figures import new_figure, save_figure
    >>> fig, ax = new_figure(size=(3, 2))
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> Path(save_figure(fig, "line.svg")).read_text()[:5]
    '<?xml'
    """
    from matplotlib import pyplot as plt

    from ._storage import atomic_path

    path = os.fspath(path)
    try:
        if tight:
            with warnings.catch_warnings():  # axes drawn by nilearn / mne keep their own layout
                warnings.filterwarnings("ignore", "This figure includes Axes that are not compatible",
                                        UserWarning)
                fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=os.path.splitext(path)[1][1:].lower() or "png", **savefig_kw)
    finally:
        plt.close(fig)
    return path
