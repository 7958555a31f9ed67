"""Finite-impulse-response (FIR) delays: time-lagged copies of features for encoding models.

A linear model on lagged features, ``y[t] = sum_d sum_j w[j, d] x_j[t - d]``, is a temporal
receptive field (FIR filter) per feature. Delays are counted in samples; a **positive delay
takes the feature from the past** (``x[t - d]``, the response follows the stimulus), a
negative one from the future (``x[t + |d|]``, anticipation). Samples shifted in from beyond
the start or end of a run are zero, never wrapped around, and never taken from another run.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import xarray as xr

from .._assembly import assembly
from .._checks import AssemblyError

logger = logging.getLogger(__name__)

#: Coords on the sample dim that name runs / blocks; ``groups=None`` uses the first present.
GROUP_COORDS = ("run", "block")


def _delays(delays: Any) -> np.ndarray:
    """Validate ``delays`` (an int or a sequence of distinct ints) and return them as int64."""
    values = [delays] if np.isscalar(delays) else list(np.asarray(delays, dtype=object).ravel())
    ok = len(values) > 0 and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) for d in values)
    if not ok:
        raise ValueError(
            "Invalid value for 'delays': expected an int or a non-empty sequence of ints "
            f"(delays in samples, e.g. range(0, 10)); got {delays!r}. Convert seconds to "
            "samples with round(seconds * sampling_rate).")
    out = np.asarray(values, dtype=np.int64)
    uniq, counts = np.unique(out, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"Invalid value for 'delays': every delay must appear once; "
            f"{uniq[counts > 1].tolist()} repeat(s). Pass distinct delays.")
    return out


def _resolve_groups(da: xr.DataArray, groups: Any, dim: str) -> tuple[np.ndarray | None, str]:
    """Group (run) id per sample along ``dim``, and a description of where it came from."""
    n = da.sizes[dim]
    if groups is None:
        for name in GROUP_COORDS:
            if name in da.coords and da[name].dims == (dim,):
                logger.info("lagged: delaying each %r separately (coord found on %r)", name, dim)
                return np.asarray(da[name].values), f"coord {name!r}"
        return None, "none"
    if isinstance(groups, str):
        if groups not in da.coords or da[groups].dims != (dim,):
            have = [str(c) for c in da.coords if da[c].dims == (dim,) and c != dim]
            raise ValueError(
                f"Invalid value for 'groups': no coord {groups!r} along {dim!r} in 'features'; "
                f"coords along {dim!r} are {have}. Add one with "
                f"features.assign_coords({groups}=({dim!r}, run_ids)) or pass the ids.")
        return np.asarray(da[groups].values), f"coord {groups!r}"
    values = np.asarray(groups)
    if values.ndim != 1 or values.shape[0] != n:
        raise ValueError(
            f"Invalid value for 'groups': expected one run id per sample along {dim!r} "
            f"({n} values); got shape {values.shape}.")
    return values, "array"


def _lag_array(x: np.ndarray, delays: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """``(n, ...)`` -> ``(n_delays, n, ...)`` with ``out[k, t] = x[t - delays[k]]`` or 0."""
    out = np.zeros((delays.size, *x.shape), dtype=x.dtype)
    if groups is None:
        segments = [np.arange(x.shape[0])]
    else:
        segments = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    for idx in segments:
        contiguous = idx.size > 0 and idx[-1] - idx[0] + 1 == idx.size
        seg = x[idx[0]: idx[-1] + 1] if contiguous else x[idx]
        m = idx.size
        for k, d in enumerate(delays):
            if abs(d) >= m:
                continue
            shifted = np.zeros_like(seg)
            if d > 0:
                shifted[d:] = seg[: m - d]
            elif d < 0:
                shifted[: m + d] = seg[-d:]
            else:
                shifted[:] = seg
            if contiguous:
                out[k, idx[0]: idx[-1] + 1] = shifted
            else:
                out[k, idx] = shifted
    return out


def lagged(features: Any, delays: Any, *, dim: str = "time", groups: Any = None,
           sampling_rate: float | None = None) -> xr.DataArray:
    """Stack time-lagged copies of every feature: FIR delays for temporal receptive fields.

    For each delay ``d`` (in samples) and feature ``j``,

    ``out[t, j@d] = x[t - d, j]`` if ``t - d`` lies in the same run as ``t``, else ``0``.

    A positive delay takes the feature from the past (the response at ``t`` sees the stimulus
    at ``t - d``: the usual causal receptive field); a negative delay takes it from the
    future (anticipation). Samples that would come from before the start or after the end
    of a run are zero-filled, never wrapped (``np.roll``) and never taken from the
    neighbouring run, so no information crosses run boundaries. Within a run, samples keep
    their order along ``dim``; a run whose samples are not contiguous is lagged as if they
    were (the samples of one run, in order).

    Parameters
    ----------
    features : DataArray, dims (dim, 'unit'), or array (n_samples, n_features)
        The features, e.g. a stimulus envelope or ANN activations on a time grid. Other dims
        (``trial``, ...) are carried along unchanged. A plain array becomes an assembly with
        modality ``"ann"``, unit ids ``"0"``, ``"1"``, ... and needs ``sampling_rate``.
    delays : int or sequence of int
        Distinct delays in samples, e.g. ``range(0, 31)``; may be negative (see above).
    dim : str, default="time"
        The dim to delay along.
    groups : str, array-like or None, default=None
        Runs / blocks lagged separately: the name of a coord along ``dim`` or one id per
        sample. ``None`` uses a ``run`` (then ``block``) coord along ``dim`` when present,
        and otherwise treats the whole recording as one run.
    sampling_rate : float, optional
        Samples per second (Hz) for array input (assemblies carry their own in
        ``attrs["sampling_rate"]``); it gives the ``delay_s`` coord.

    Returns
    -------
    DataArray, dims (dim, 'unit')
        ``n_delays * n_features`` units, delay-major (all features at ``delays[0]``, then
        all at ``delays[1]``, ...), ids ``"{unit}@{delay}"``. Coords on ``unit``: ``delay``
        (samples, int), ``delay_s`` (seconds; NaN without a sampling rate), ``source_unit``
        (the original unit id) and every per-unit coord of the input, repeated per delay.
        Coords along ``dim`` and the attrs are kept; the input is not modified.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.encoders import lagged
    >>> x = lagged(np.arange(1.0, 6.0)[:, None], [0, 2], sampling_rate=1000.0)
    >>> x["unit"].values.tolist(), x["delay_s"].values.tolist()
    (['0@0', '0@2'], [0.0, 0.002])
    >>> x.values.T.tolist()
    [[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 1.0, 2.0, 3.0]]

    Two runs of three samples: nothing is carried across the boundary.

    >>> y = lagged(np.arange(1.0, 7.0)[:, None], 1, groups=[0, 0, 0, 1, 1, 1],
    ...            sampling_rate=1.0)
    >>> y.values[:, 0].tolist()
    [0.0, 1.0, 2.0, 0.0, 4.0, 5.0]
    """
    d = _delays(delays)
    if isinstance(features, xr.DataArray):
        da = features
        if dim not in da.dims or "unit" not in da.dims:
            raise AssemblyError(
                f"'features' must have dims {dim!r} and 'unit'; it has dims {tuple(da.dims)}. "
                f"Pass dim=... naming the dim to delay along.")
        if sampling_rate is not None:
            raise ValueError(
                "Invalid value for 'sampling_rate': an assembly carries its own "
                f"(attrs['sampling_rate']={da.attrs.get('sampling_rate')!r}); got "
                f"{sampling_rate!r}. Leave sampling_rate=None for assemblies.")
        rate = da.attrs.get("sampling_rate") if dim == "time" else None
    else:
        values = np.asarray(features)
        if values.ndim != 2 or not np.issubdtype(values.dtype, np.number):
            raise ValueError(
                "Invalid value for 'features': expected a DataArray or a numeric 2-D array "
                f"(n_samples, n_features); got {type(features).__name__} with shape "
                f"{getattr(values, 'shape', None)}.")
        if dim == "time" and sampling_rate is None:
            raise ValueError(
                "Invalid value for 'sampling_rate': an array along 'time' needs its sampling "
                "rate in Hz; got None. Pass sampling_rate=... or an assembly.")
        da = assembly(values, dims=(dim, "unit"), modality="ann", sampling_rate=sampling_rate,
                      source="array passed to brainbridge.encoders.lagged")
        rate = sampling_rate
    g, _ = _resolve_groups(da, groups, dim)
    x = da.transpose(dim, "unit", ...)
    other = [str(o) for o in x.dims[2:]]
    out = _lag_array(np.asarray(x.values), d, g)  # (n_delays, n, n_unit, *other)
    n_delay, n, n_unit = d.size, x.sizes[dim], x.sizes["unit"]
    out = np.moveaxis(out, 0, 1).reshape(n, n_delay * n_unit, *out.shape[3:])
    units = np.asarray(x["unit"].values).astype(str)
    coords: dict[Any, Any] = {
        c: x.coords[c] for c in x.coords if "unit" not in x.coords[c].dims}
    coords["unit"] = np.array([f"{u}@{k}" for k in d for u in units])
    coords["delay"] = ("unit", np.repeat(d, n_unit))
    seconds = d / float(rate) if rate else np.full(d.size, np.nan)
    coords["delay_s"] = ("unit", np.repeat(seconds, n_unit))
    coords["source_unit"] = ("unit", np.tile(units, n_delay))
    for c in x.coords:
        if x.coords[c].dims == ("unit",) and c != "unit" and c not in coords:
            coords[c] = ("unit", np.tile(np.asarray(x.coords[c].values), n_delay))
    result = xr.DataArray(out, dims=(dim, "unit", *other), coords=coords, attrs=dict(x.attrs),
                          name=x.name)
    return result
