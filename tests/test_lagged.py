"""FIR delays: ``lagged`` against an explicit loop, run boundaries, coords and errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

import brainbridge as bb
from brainbridge.encoders import lagged


def _loop_reference(x: np.ndarray, delays, groups=None) -> np.ndarray:
    """out[t, k * n_unit + j] = x[t - d_k, j] when t - d_k is in t's run (runs in order)."""
    n, n_unit = x.shape
    groups = np.zeros(n, dtype=int) if groups is None else np.asarray(groups)
    out = np.zeros((n, len(delays) * n_unit))
    for t in range(n):
        members = [s for s in range(n) if groups[s] == groups[t]]  # t's run, in order
        pos = members.index(t)
        for k, d in enumerate(delays):
            src = pos - d
            if 0 <= src < len(members):
                for j in range(n_unit):
                    out[t, k * n_unit + j] = x[members[src], j]
    return out


def _features(x: np.ndarray, rate: float = 100.0, **coords) -> xr.DataArray:
    return bb.assembly(x, dims=("time", "unit"), modality="ann", sampling_rate=rate,
                       coords={"unit": [f"f{j}" for j in range(x.shape[1])], **coords})


def test_matches_loop_without_groups(rng):
    x = rng.normal(size=(40, 3))
    delays = [-3, -1, 0, 2, 5]
    out = lagged(_features(x), delays)
    np.testing.assert_array_equal(out.values, _loop_reference(x, delays))


def test_matches_loop_with_runs(rng):
    x = rng.normal(size=(30, 2))
    runs = np.repeat(["a", "b", "c"], [12, 7, 11])
    delays = [-2, 0, 1, 3, 8]
    out = lagged(_features(x), delays, groups=runs)
    np.testing.assert_array_equal(out.values, _loop_reference(x, delays, runs))
    # the 'run' coord is picked up by default, another name by groups="block"
    by_coord = lagged(_features(x, run=("time", runs)), delays)
    np.testing.assert_array_equal(by_coord.values, out.values)
    named = lagged(_features(x, block=("time", runs)), delays, groups="block")
    np.testing.assert_array_equal(named.values, out.values)
    # nothing crosses a boundary: the first sample of each run at delay 1 is zero
    first = [0, 12, 19]
    assert np.all(out.sel(unit=["f0@1", "f1@1"]).values[first] == 0)


def test_non_contiguous_run_is_lagged_in_order(rng):
    x = rng.normal(size=(12, 1))
    runs = np.array([0, 0, 1, 1, 1, 0, 0, 2, 2, 1, 2, 0])
    out = lagged(_features(x), [0, 1, -2], groups=runs)
    np.testing.assert_array_equal(out.values, _loop_reference(x, [0, 1, -2], runs))


def test_fir_model_equals_convolution(rng):
    """A linear model on lagged features is a causal FIR filter: lagged @ h == convolve(x, h)."""
    x = rng.normal(size=200)
    h = rng.normal(size=6)
    out = lagged(x[:, None], range(6), sampling_rate=1000.0)
    np.testing.assert_allclose(out.values @ h, np.convolve(x, h)[:200], rtol=0, atol=1e-12)


def test_coords_attrs_and_no_mutation(rng):
    x = rng.normal(size=(10, 2))
    feats = _features(x, rate=50.0, region=("unit", ["A1", "A2"]),
                      run=("time", np.repeat([0, 1], 5)))
    before = feats.copy(deep=True)
    out = lagged(feats, [0, 2, -1])
    xr.testing.assert_identical(feats, before)
    assert out["unit"].values.tolist() == ["f0@0", "f1@0", "f0@2", "f1@2", "f0@-1", "f1@-1"]
    assert out["delay"].values.tolist() == [0, 0, 2, 2, -1, -1]
    np.testing.assert_allclose(out["delay_s"].values, [0, 0, 0.04, 0.04, -0.02, -0.02])
    assert out["source_unit"].values.tolist() == ["f0", "f1"] * 3
    assert out["region"].values.tolist() == ["A1", "A2"] * 3
    np.testing.assert_array_equal(out["time"].values, feats["time"].values)
    np.testing.assert_array_equal(out["run"].values, feats["run"].values)
    assert out.attrs == feats.attrs
    bb.validate(out)


def test_delay_longer_than_run_is_zero_and_extra_dims_carried(rng):
    x = rng.normal(size=(8, 2, 3))  # (time, trial, unit)
    feats = bb.assembly(x, dims=("time", "trial", "unit"), modality="ann", sampling_rate=10.0)
    out = lagged(feats, [0, 9])
    assert out.dims == ("time", "unit", "trial")
    assert np.all(out.sel(unit=["0@9", "1@9", "2@9"]).values == 0)
    for trial in range(2):
        np.testing.assert_array_equal(out.isel(trial=trial).values,
                                      _loop_reference(x[:, trial], [0, 9]))


def test_array_input_and_single_delay():
    out = lagged(np.arange(1.0, 6.0)[:, None], 1, sampling_rate=1000.0)
    assert out.values[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert out.attrs["sampling_rate"] == 1000.0
    assert out["unit"].values.tolist() == ["0@1"]


def test_errors(rng):
    feats = _features(rng.normal(size=(6, 1)))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'delays': expected an int or a non-empty sequence of ints "
            "(delays in samples, e.g. range(0, 10)); got [0.0, 0.01]. Convert seconds to "
            "samples with round(seconds * sampling_rate).")):
        lagged(feats, [0.0, 0.01])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'delays': every delay must appear once; [1] repeat(s). "
            "Pass distinct delays.")):
        lagged(feats, [0, 1, 1])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'groups': expected one run id per sample along 'time' "
            "(6 values); got shape (4,).")):
        lagged(feats, [0], groups=[0, 0, 1, 1])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'groups': no coord 'session' along 'time' in 'features'; "
            "coords along 'time' are []. Add one with "
            "features.assign_coords(session=('time', run_ids)) or pass the ids.")):
        lagged(feats, [0], groups="session")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'sampling_rate': an array along 'time' needs its sampling rate "
            "in Hz; got None. Pass sampling_rate=... or an assembly.")):
        lagged(np.zeros((5, 2)), [0])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'sampling_rate': an assembly carries its own "
            "(attrs['sampling_rate']=100.0); got 50.0. Leave sampling_rate=None for "
            "assemblies.")):
        lagged(feats, [0], sampling_rate=50.0)
    stim = bb.assembly(np.zeros((3, 2)), dims=("stimulus", "unit"), modality="ann")
    with pytest.raises(bb.AssemblyError, match=re.escape(
            "'features' must have dims 'time' and 'unit'; it has dims ('stimulus', 'unit'). "
            "Pass dim=... naming the dim to delay along.")):
        lagged(stim, [0])
