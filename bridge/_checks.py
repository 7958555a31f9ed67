"""Validation helpers shared by every brainbridge package.

Messages follow one pattern: the argument's name, what was expected, what was received
and, where one exists, the fix.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


class AssemblyError(ValueError):
    """An xarray object does not follow the brainbridge assembly schema."""


def _suggest(value: Any, options: Iterable[str]) -> str:
    """Return ' Did you mean ...?' for the closest option, or an empty string."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_option(name: str, value: Any, options: Iterable[Any]) -> Any:
    """Raise a ValueError unless ``value`` is one of ``options``; return it otherwise.

    >>> _check_option("kernel", "lin", ["linear", "rbf"])
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for 'kernel': expected one of 'linear', 'rbf'; got 'lin'. Did you mean 'linear'?
    """
    options = list(options)
    if value in options:
        return value
    expected = ", ".join(repr(o) for o in options)
    raise ValueError(
        f"Invalid value for {name!r}: expected one of {expected}; got {value!r}."
        f"{_suggest(value, [str(o) for o in options])}"
    )


def _validate_type(name: str, value: Any, types: type | tuple[type, ...], expected: str) -> Any:
    """Raise a TypeError naming ``name`` unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        raise TypeError(
            f"Invalid type for {name!r}: expected {expected}; got {type(value).__name__}."
        )
    return value


def _soft_import(name: str, purpose: str, extra: str) -> Any:
    """Import an optional dependency, or say which extra installs it.

    Parameters
    ----------
    name : str
        Module to import, e.g. ``"mne"``.
    purpose : str
        What it is needed for, e.g. ``"reading EEG files"``.
    extra : str
        The brainbridge extra that installs it, e.g. ``"eeg"``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(
            f"{name!r} is needed for {purpose} but is not installed. "
            f'Install it with: pip install "brainbridge[{extra}]"'
        ) from err


def _check_dims(da: Any, required: Iterable[str], name: str) -> None:
    """Raise an AssemblyError if ``da`` is not a DataArray holding every ``required`` dim."""
    import xarray as xr

    if not isinstance(da, xr.DataArray):
        raise AssemblyError(
            f"{name!r} must be an xarray.DataArray; got {type(da).__name__}. "
            "Build one with brainbridge.assembly(data, dims=..., modality=...)."
        )
    missing = [d for d in required if d not in da.dims]
    if missing:
        raise AssemblyError(
            f"{name!r} is missing dim(s) {', '.join(map(repr, missing))}; "
            f"it has dims {tuple(da.dims)}. Rename or add them, e.g. da.rename({{'old': "
            f"{missing[0]!r}}})."
        )


_MAX_LISTED = 5


def _listed(items: Sequence[Any]) -> str:
    """``'a', 'b', 'c' and 4 more``: at most a few reprs, numpy scalars shown as Python ones."""
    shown = ", ".join(repr(i.item() if isinstance(i, np.generic) else i)
                      for i in items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _duplicates(values: np.ndarray) -> list[Any]:
    uniq, counts = np.unique(values, return_counts=True)
    return [u.item() if hasattr(u, "item") else u for u in uniq[counts > 1]]
