"""smooth / normalize: per-series filters and normalisation against independent references."""

from __future__ import annotations

import doctest
import re

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter1d
from scipy.stats import zscore

from brainbridge import AssemblyError
from brainbridge.analyses import _preprocess, normalize, smooth


def test_doctests():
    assert doctest.testmod(_preprocess, optionflags=doctest.ELLIPSIS).failed == 0


def _series(rng, n_time=80, step=0.25, shape=(3, 4)):
    """A (subject, time, unit) assembly-like array with a NaN gap and an all-NaN series."""
    values = rng.normal(size=(shape[0], n_time, shape[1])).cumsum(axis=1)
    values[0, 30:35, 1] = np.nan  # a gap inside a series
    values[1, :10, 2] = np.nan  # a late start
    values[2, :, 3] = np.nan  # never recorded
    return xr.DataArray(values, dims=("subject", "time", "unit"),
                        coords={"time": np.arange(n_time) * step, "unit": list("abcd")},
                        attrs={"sampling_rate": 1 / step, "units": "a.u.", "processing": "raw"})


def _runs(y):
    finite = np.isfinite(y)
    out, start = [], None
    for i, ok in enumerate([*finite, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            out.append((start, i))
            start = None
    return out


def _by_run(da, fn):
    out = np.full(da.shape, np.nan)
    for i in range(da.shape[0]):
        for j in range(da.shape[2]):
            y = da.values[i, :, j]
            for a, b in _runs(y):
                out[i, a:b, j] = fn(y[a:b])
    return out


def test_gaussian_matches_scipy(rng):
    da = _series(rng)
    width, step = 0.6, 0.25
    sigma = width / step
    radius = int(np.floor(4 * sigma + 1e-9))

    def reference(y):  # renormalised at the edges: filter the zero-padded series and the ones
        num = gaussian_filter1d(y, sigma, mode="constant", cval=0.0, radius=radius)
        den = gaussian_filter1d(np.ones_like(y), sigma, mode="constant", cval=0.0, radius=radius)
        return num / den

    got = smooth(da, kind="gaussian", width=width)
    np.testing.assert_allclose(got.values, _by_run(da, reference), rtol=1e-12, atol=1e-12)
    assert np.isnan(got.values[0, 30:35, 1]).all() and np.isnan(got.values[2, :, 3]).all()


def test_exponential_matches_a_loop(rng):
    da = _series(rng)
    width, step = 0.7, 0.25
    a = 1 - np.exp(-step / width)

    def reference(y):
        out = np.empty_like(y)
        out[0] = y[0]
        for n in range(1, y.size):
            out[n] = a * y[n] + (1 - a) * out[n - 1]
        return out

    got = smooth(da, width=width)
    np.testing.assert_allclose(got.values, _by_run(da, reference), rtol=1e-12, atol=1e-12)
    assert got.attrs["processing"] == "raw; smooth=exponential(0.7) along 'time'"
    assert got.attrs["units"] == "a.u."


def test_normalize_matches_references(rng):
    da = _series(rng)
    z = normalize(da)
    for i in range(3):
        for j in range(3):
            y = da.values[i, :, j]
            ok = np.isfinite(y)
            np.testing.assert_allclose(z.values[i, ok, j], zscore(y[ok]), rtol=1e-10, atol=1e-12)
            np.testing.assert_array_equal(np.isnan(z.values[i, :, j]), ~ok)
    causal = normalize(da, method="causal")
    y = da.values[1, 10:, 2]
    loop = np.zeros_like(y)
    for t in range(y.size):
        s = y[: t + 1].std()
        loop[t] = (y[t] - y[: t + 1].mean()) / s if s > 0 else 0.0
    np.testing.assert_allclose(causal.values[1, 10:, 2], loop, rtol=1e-9, atol=1e-12)
    assert causal.attrs["units"] == "z-score"
    assert causal.attrs["processing"] == "raw; normalize=causal along 'time'"


def test_keeps_dims_dtype_and_input(rng):
    da = _series(rng).astype(np.float32).transpose("time", "unit", "subject")
    before = da.copy(deep=True)
    out = normalize(smooth(da, kind="gaussian"), method="zscore")
    assert out.dims == da.dims and out.dtype == np.float32
    xr.testing.assert_identical(da, before)
    xr.testing.assert_identical(out.coords.to_dataset(), da.coords.to_dataset())
    # the same numbers as on the (subject, time, unit) layout
    other = normalize(smooth(da.transpose("subject", "time", "unit"), kind="gaussian"))
    xr.testing.assert_allclose(out, other.transpose(*da.dims))


def test_other_dims_use_the_coordinate_spacing(rng):
    x = xr.DataArray(rng.normal(size=(2, 30)), dims=("unit", "position"),
                     coords={"position": np.arange(30) * 2.0})
    got = smooth(x, dim="position", kind="exponential", width=4.0)
    xt = x.rename(position="time").assign_attrs(sampling_rate=0.5)
    np.testing.assert_allclose(got.values, smooth(xt, width=4.0).values, rtol=1e-12)


def test_errors(rng):
    da = _series(rng)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'kind': expected one of 'exponential', 'gaussian'; got 'box'.")):
        smooth(da, kind="box")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'method': expected one of 'zscore', 'causal'; got 'z'.")):
        normalize(da, method="z")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'width': expected a finite number in (0, inf) (time constant or s.d. in "
            "units of 'time'); got -1.")):
        smooth(da, kind="gaussian", width=-1)
    with pytest.raises(AssemblyError, match=re.escape("'da' is missing dim(s) 'trial'")):
        normalize(da, dim="trial")
    irregular = da.assign_attrs(sampling_rate=None).assign_coords(time=np.r_[0.0, np.cumsum(
        rng.uniform(0.1, 0.3, da.sizes["time"] - 1))])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'da': smoothing needs regularly spaced samples along 'time'")):
        smooth(irregular)
