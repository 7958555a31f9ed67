"""Aligning two assemblies on their shared ids."""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from ._checks import AssemblyError, _check_dims, _duplicates, _listed

logger = logging.getLogger(__name__)


def align(a: xr.DataArray, b: xr.DataArray, *, dim: str = "stimulus") -> tuple[xr.DataArray, xr.DataArray]:
    """Select the ids that ``a`` and ``b`` share along ``dim``, in one order (``a``'s).

    How many ids each side dropped is logged at INFO level (logger
    ``brainbridge._align``); nothing is dropped silently from the return value's point of
    view: compare sizes if you need the count.

    Parameters
    ----------
    a, b : DataArray
        Assemblies with ``dim`` and unique ids along it.
    dim : str, default="stimulus"
        The dim to align on (``"stimulus"``, ``"unit"``, ``"time"``, ...).

    Returns
    -------
    (DataArray, DataArray)
        ``a`` and ``b`` restricted to the shared ids, both in ``a``'s order.

    Examples
    --------
    >>> import numpy as np, brainbridge as bb
    >>> a = bb.assembly(np.zeros((3, 1)), dims=("stimulus", "unit"), modality="ann",
    ...                 coords={"stimulus": ["x", "y", "z"]})
    >>> b = bb.assembly(np.ones((2, 4)), dims=("stimulus", "unit"), modality="fmri",
    ...                 coords={"stimulus": ["z", "x"]})
    >>> a2, b2 = bb.align(a, b)
    >>> a2["stimulus"].values.tolist(), b2["stimulus"].values.tolist()
    (['x', 'z'], ['x', 'z'])
    """
    _check_dims(a, [dim], "a")
    _check_dims(b, [dim], "b")
    ids = {}
    for label, da in (("a", a), ("b", b)):
        if dim not in da.coords:
            raise AssemblyError(
                f"{label!r} has no {dim!r} coordinate to align on; give it ids with "
                f"da.assign_coords({dim}=[...])."
            )
        values = np.asarray(da[dim].values)
        dup = _duplicates(values)
        if dup:
            raise AssemblyError(
                f"{label!r} has repeated {dim!r} ids: {_listed(dup)}. Alignment needs unique "
                f"ids; average repeats first (da.groupby({dim!r}).mean()) or move them to a "
                "'trial' dim."
            )
        ids[label] = values
    in_b = np.isin(ids["a"], ids["b"])
    shared = ids["a"][in_b]
    if shared.size == 0:
        raise AssemblyError(
            f"'a' and 'b' share no {dim!r} ids: 'a' has [{_listed(list(ids['a']))}], 'b' has "
            f"[{_listed(list(ids['b']))}]. Check that both use the same id scheme."
        )
    dropped_a = ids["a"].size - shared.size
    dropped_b = ids["b"].size - shared.size
    log = logger.warning if (dropped_a or dropped_b) else logger.info
    log(
        "align on %r: kept %d shared ids; dropped %d of %d from 'a' and %d of %d from 'b'",
        dim, shared.size, dropped_a, ids["a"].size, dropped_b, ids["b"].size,
    )
    return a.sel({dim: shared}), b.sel({dim: shared})
