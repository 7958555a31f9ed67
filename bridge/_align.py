"""Aligning two assemblies on their shared ids."""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from ._checks import AssemblyError, _check_dims, _duplicates, _listed

logger = logging.getLogger(__name__)


def align(a: xr.DataArray, b: xr.DataArray, *, dim: str = "stimulus",
          names: tuple[str, str] = ("a", "b")) -> tuple[xr.DataArray, xr.DataArray]:
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
    names : (str, str), default=("a", "b")
        The names of ``a`` and ``b`` in error messages: a function that aligns its own
        arguments passes theirs (``("x", "y")``).

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
    na, nb = names
    _check_dims(a, [dim], na)
    _check_dims(b, [dim], nb)
    ids = {}
    for label, da in ((na, a), (nb, b)):
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
    in_b = np.isin(ids[na], ids[nb])
    shared = ids[na][in_b]
    if shared.size == 0:
        raise AssemblyError(
            f"{na!r} and {nb!r} share no {dim!r} ids: {na!r} has [{_listed(list(ids[na]))}], "
            f"{nb!r} has [{_listed(list(ids[nb]))}]. Check that both use the same id scheme."
        )
    dropped_a = ids[na].size - shared.size
    dropped_b = ids[nb].size - shared.size
    log = logger.warning if (dropped_a or dropped_b) else logger.info
    log(
        "align on %r: kept %d shared ids; dropped %d of %d from %r and %d of %d from %r",
        dim, shared.size, dropped_a, ids[na].size, na, dropped_b, ids[nb].size, nb,
    )
    return a.sel({dim: shared}), b.sel({dim: shared})
