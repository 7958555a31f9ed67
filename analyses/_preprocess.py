"""Preprocessing of continuous recordings: smoothing and normalising each series along time.

Explicit steps after a loader (loaders only read), e.g. for C. elegans activity::

    activity = load_celegans_activity(path)
    activity = normalize(smooth(activity, kind="exponential", width=1.0), method="causal")

Each series is one 1-d slice along ``dim`` (one worm x neuron, one channel, ...). NaN samples
stay NaN and take no part: smoothing runs over each stretch of consecutive finite samples on
its own (a gap restarts the filter), normalising uses every finite sample of the series.
Computed in float64, returned in the input's floating dtype; the input is not modified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr
from scipy.signal import lfilter

from .._checks import _check_dims, _check_option, check_scalar

__all__ = ["smooth", "normalize", "SMOOTHERS", "NORMALIZERS"]


def _smooth_exponential(x: np.ndarray, step: float, width: float) -> np.ndarray:
    """Causal exponential moving average, time constant ``width``.

    ``y[0] = x[0]``, ``y[n] = a x[n] + (1 - a) y[n-1]``, ``a = 1 - exp(-step / width)``.
    """
    a = 1.0 - np.exp(-step / width)
    y, _ = lfilter([a], [1.0, a - 1.0], x, zi=[(1.0 - a) * x[0]])
    return y


def _smooth_gaussian(x: np.ndarray, step: float, width: float) -> np.ndarray:
    """Centred Gaussian, s.d. ``width``, truncated at 4 s.d., renormalised at the edges."""
    half = int(np.floor(4.0 * width / step + 1e-9))
    lags = np.arange(-half, half + 1) * step
    kernel = np.exp(-0.5 * (lags / width) ** 2)
    num = np.convolve(x, kernel)[half : half + x.size]
    den = np.convolve(np.ones_like(x), kernel)[half : half + x.size]
    return num / den


def _zscore(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` over the whole series (population std); 0 if the std is 0."""
    centred = x - x.mean()
    std = np.sqrt(np.mean(centred**2))
    return centred / std if std > 0 else np.zeros_like(x)


def _causal(x: np.ndarray) -> np.ndarray:
    """``z[t] = (x[t] - m[t]) / s[t]`` with the mean and population std of ``x[0..t]``.

    Computed from running sums of ``x - x[0]`` in float64; ``z[t] = 0`` where ``s[t] = 0``
    (always at ``t = 0``).
    """
    shifted = x - x[0]
    count = np.arange(1, x.size + 1, dtype=np.float64)
    mean = np.cumsum(shifted) / count
    var = np.maximum(np.cumsum(shifted**2) / count - mean**2, 0.0)
    std = np.sqrt(var)
    out = np.zeros_like(x)
    ok = std > 0
    out[ok] = (shifted[ok] - mean[ok]) / std[ok]
    return out


#: ``kind`` of :func:`smooth` -> ``fn(series, step, width) -> smoothed series``.
SMOOTHERS: dict[str, Callable[[np.ndarray, float, float], np.ndarray]] = {
    "exponential": _smooth_exponential,
    "gaussian": _smooth_gaussian,
}
#: ``method`` of :func:`normalize` -> ``fn(series) -> normalised series``.
NORMALIZERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "zscore": _zscore,
    "causal": _causal,
}


def _step(da: xr.DataArray, dim: str) -> float:
    """Sample spacing along ``dim``: ``1 / sampling_rate`` for time, else the coord's spacing."""
    rate = da.attrs.get("sampling_rate")
    if dim == "time" and rate:
        return 1.0 / float(rate)
    if dim in da.coords and da.sizes[dim] >= 2 and np.issubdtype(da[dim].dtype, np.number):
        diffs = np.diff(np.asarray(da[dim].values, dtype=np.float64))
        if diffs[0] > 0 and np.allclose(diffs, diffs[0], rtol=1e-6, atol=0):
            return float(diffs[0])
    raise ValueError(
        f"Invalid value for 'da': smoothing needs regularly spaced samples along {dim!r} (an "
        "attrs['sampling_rate'] for 'time', or an increasing, evenly spaced numeric coord); "
        "found neither. Resample first, or set da.attrs['sampling_rate']."
    )


def _runs(finite: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each stretch of consecutive True values."""
    edges = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _per_series(da: xr.DataArray, dim: str, fn: Callable[[np.ndarray], np.ndarray], *,
                by_run: bool) -> xr.DataArray:
    """Apply ``fn`` to the finite samples of every 1-d series along ``dim`` (float64)."""
    moved = da.transpose(..., dim)
    values = np.asarray(moved.values, dtype=np.float64)
    flat = values.reshape(-1, values.shape[-1]).copy()
    for row in flat:
        finite = np.isfinite(row)
        if not finite.any():
            continue
        if by_run:
            for start, stop in _runs(finite):
                row[start:stop] = fn(row[start:stop])
        else:
            row[finite] = fn(row[finite])
    out = flat.reshape(values.shape)
    dtype = da.dtype if np.issubdtype(da.dtype, np.floating) else np.float64
    result = moved.copy(data=out.astype(dtype, copy=False))
    result.attrs = dict(da.attrs)
    return result.transpose(*da.dims)


def _note(attrs: dict[str, Any], step: str) -> str:
    before = attrs.get("processing")
    return f"{before}; {step}" if before else step


def smooth(da: xr.DataArray, *, dim: str = "time", kind: str = "exponential",
           width: float = 1.0) -> xr.DataArray:
    """Smooth every series along ``dim``: a causal exponential or a centred Gaussian filter.

    With ``step`` the sample spacing (``1 / sampling_rate`` along ``time``):

    * ``"exponential"``: causal, ``y[0] = x[0]``, ``y[n] = a x[n] + (1 - a) y[n-1]`` with
      ``a = 1 - exp(-step / width)`` (time constant ``width``).
    * ``"gaussian"``: ``y[n] = sum_k w_k x[n+k] / sum_k w_k`` over the samples within
      ``4 width`` (``|k step| <= 4 width``) that exist, ``w_k = exp(-(k step)^2 / (2 width^2))``:
      a Gaussian of s.d. ``width`` truncated at 4 s.d., renormalised at the series' ends.

    NaN samples stay NaN; each stretch of consecutive finite samples is filtered on its own.

    Parameters
    ----------
    da : DataArray
        Any dims, one of them ``dim``; e.g. :func:`brainbridge.loaders.load_celegans_activity`
        ``('subject', 'time', 'unit')``.
    dim : str, default="time"
        The dim to smooth along; regularly spaced (``attrs['sampling_rate']`` for ``time``,
        else an evenly spaced numeric coord).
    kind : {"exponential", "gaussian"}, default="exponential"
        See :data:`SMOOTHERS`.
    width : float, default=1.0
        Time constant (exponential) or s.d. (Gaussian), in the units of ``dim`` (seconds
        for ``time``).

    Returns
    -------
    DataArray
        Same dims, coords, dtype (floating) and attrs; ``attrs['processing']`` notes the step.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray([[0.0], [1.0], [1.0], [np.nan], [1.0]], dims=("time", "unit"),
    ...                  attrs={"sampling_rate": 1.0})
    >>> smooth(x, width=1 / np.log(2)).values[:, 0].tolist()  # a = 1/2; the gap restarts it
    [0.0, 0.5, 0.75, nan, 1.0]
    """
    _check_dims(da, [dim], "da")
    _check_option("kind", kind, SMOOTHERS)
    width = check_scalar("width", width, float, low=0.0, closed="neither",
                         what=f"time constant or s.d. in units of {dim!r}")
    step = _step(da, dim)
    fn = SMOOTHERS[kind]
    out = _per_series(da, dim, lambda x: fn(x, step, width), by_run=True)
    out.attrs["processing"] = _note(da.attrs, f"smooth={kind}({width!r}) along {dim!r}")
    return out


def normalize(da: xr.DataArray, *, dim: str = "time", method: str = "zscore") -> xr.DataArray:
    """Normalise every series along ``dim``: z-score, or causally with running statistics.

    * ``"zscore"``: ``(x - mean) / std`` over the series' finite samples (population std).
    * ``"causal"``: ``z[t] = (x[t] - m[t]) / s[t]`` with the running mean ``m[t]`` and
      population std ``s[t]`` of the finite samples up to ``t`` (no look-ahead; ``z = 0``
      where ``s = 0``, e.g. at the first sample).

    A constant series becomes 0; NaN samples stay NaN.

    Parameters
    ----------
    da : DataArray
        Any dims, one of them ``dim``.
    dim : str, default="time"
    method : {"zscore", "causal"}, default="zscore"
        See :data:`NORMALIZERS`.

    Returns
    -------
    DataArray
        Same dims, coords and dtype (floating); ``attrs['units']`` is ``"z-score"`` and
        ``attrs['processing']`` notes the step.

    Examples
    --------
    >>> import xarray as xr
    >>> x = xr.DataArray([[1.0], [2.0], [3.0]], dims=("time", "unit"))
    >>> normalize(x).values[:, 0].round(4).tolist()
    [-1.2247, 0.0, 1.2247]
    >>> normalize(x, method="causal").values[:, 0].round(4).tolist()
    [0.0, 1.0, 1.2247]
    """
    _check_dims(da, [dim], "da")
    _check_option("method", method, NORMALIZERS)
    out = _per_series(da, dim, NORMALIZERS[method], by_run=False)
    out.attrs["units"] = "z-score"
    out.attrs["processing"] = _note(da.attrs, f"normalize={method} along {dim!r}")
    return out
