import re

import numpy as np
import pytest
import xarray as xr

import brainbridge as bb
from brainbridge import AssemblyError


def _valid(rng, **kw):
    return bb.assembly(rng.normal(size=(4, 3)), dims=("stimulus", "unit"), modality="ann", **kw)


def test_assembly_defaults(rng):
    data = rng.normal(size=(4, 3))
    da = bb.assembly(data, dims=("stimulus", "unit"), modality="ann")
    np.testing.assert_array_equal(da.values, data)
    assert list(da["stimulus"].values) == ["0", "1", "2", "3"]
    assert list(da["unit"].values) == ["0", "1", "2"]
    assert da.attrs == {"modality": "ann", "units": "a.u.", "source": "unspecified",
                        "schema_version": bb.SCHEMA_VERSION}


def test_assembly_time_axis_from_sampling_rate(rng):
    da = bb.assembly(rng.normal(size=(5, 2)), dims=("time", "unit"), modality="eeg",
                     sampling_rate=250.0, units="V", source="test")
    np.testing.assert_allclose(da["time"].values, np.arange(5) / 250.0)
    assert da.attrs["sampling_rate"] == 250.0


def test_assembly_from_torch_and_extra_coords(rng):
    import torch

    t = torch.tensor(rng.normal(size=(2, 3)))
    da = bb.assembly(t, dims=("stimulus", "unit"), modality="ann",
                     coords={"unit": ["a", "b", "c"], "region": ("unit", ["V1", "V1", "IT"])})
    np.testing.assert_array_equal(da.values, t.numpy())
    assert list(da["region"].values) == ["V1", "V1", "IT"]


def test_assembly_dims_mismatch(rng):
    msg = ("'dims' has 1 names ('unit',) but 'data' has 2 dimensions (shape (2, 3)). "
           "Give one name per dimension of the data.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.assembly(rng.normal(size=(2, 3)), dims=("unit",), modality="ann")


def test_assembly_unknown_modality(rng):
    with pytest.raises(ValueError, match=re.escape("Invalid value for 'modality': expected one of "
                                                   "'eeg', 'meg', 'fmri', 'calcium', 'ephys', "
                                                   "'celegans', 'ann', 'snn'; got 'fmr'. Did you "
                                                   "mean 'fmri'?")):
        bb.assembly(rng.normal(size=(2, 3)), dims=("stimulus", "unit"), modality="fmr")


def _raw(data, dims, coords=None, **attrs):
    base = {"modality": "ann", "units": "a.u.", "source": "test", "schema_version": "1.0"}
    base.update(attrs)
    return xr.DataArray(data, dims=dims, coords=coords, attrs={k: v for k, v in base.items()
                                                               if v is not None})


def _message(*problems):
    noun = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"Invalid assembly: {len(problems)} {noun}:\n{lines}"


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda: _raw(np.zeros((2, 2)), ("stimulus", "neuron"), {"stimulus": ["a", "b"]}),
         ["missing dim 'unit' (dims are ('stimulus', 'neuron')); every assembly has one",
          "unknown dim(s) 'neuron'; allowed dims are 'unit', 'stimulus', 'time', 'trial', "
          "'subject', 'token'"]),
        (lambda: _raw(np.zeros((2, 2)), ("trial", "unit"), {"unit": ["a", "b"]}),
         ["needs a 'stimulus' or a 'time' dim; dims are ('trial', 'unit')"]),
        (lambda: _raw(np.zeros((2, 3)), ("stimulus", "unit"),
                      {"stimulus": ["a", "b"], "unit": ["x", "y", "x"]}),
         ["'unit' ids repeat: 'x'; every id must be unique"]),
        (lambda: _raw(np.zeros((2, 1)), ("stimulus", "unit"), {"stimulus": [1, 2], "unit": ["u"]}),
         ["'stimulus' ids must be strings; got dtype int64. Convert them with "
          "da.assign_coords(stimulus=da['stimulus'].astype(str))"]),
        (lambda: _raw(np.zeros((2, 1)), ("stimulus", "unit"), {"unit": ["u"]}),
         ["dim 'stimulus' has no coordinate; give string ids, e.g. "
          "da.assign_coords(stimulus=[...])"]),
        (lambda: _raw(np.zeros((3, 1)), ("time", "unit"), {"time": [0.0, 0.2, 0.1], "unit": ["u"]},
                      sampling_rate=10.0),
         ["'time' is not strictly increasing (t[1]=0.2 is followed by t[2]=0.1); sort with "
          "da.sortby('time')"]),
        (lambda: _raw(np.zeros((3, 1)), ("time", "unit"), {"time": [0.0, 0.1, 0.2], "unit": ["u"]},
                      sampling_rate=100.0),
         ["attr 'sampling_rate'=100.0 Hz disagrees with the 'time' coordinate (median step "
          "0.1 s, i.e. 10.0 Hz); fix one of them"]),
        (lambda: _raw(np.zeros((2, 1)), ("time", "unit"), {"time": [0.0, 0.1], "unit": ["u"]}),
         ["attr 'sampling_rate' must be a positive number of Hz when 'time' is a dim; got None"]),
        (lambda: _raw(np.array([["a"], ["b"]]), ("stimulus", "unit"),
                      {"stimulus": ["a", "b"], "unit": ["u"]}),
         ["values must be numbers (float, int or bool); got dtype <U1"]),
        (lambda: _raw(np.zeros((1, 1)), ("stimulus", "unit"), {"stimulus": ["a"], "unit": ["u"]},
                      modality=None, units="", source=None, schema_version=None),
         ["attr 'modality' is missing; set one of 'eeg', 'meg', 'fmri', 'calcium', 'ephys' and "
          "3 more",
          "attr 'units' must be a non-empty string (e.g. 'V'); got ''",
          "attr 'source' must be a non-empty string (e.g. 'dataset:file.nc sha256:...'); got None",
          "attr 'schema_version' is missing; set it to '1.0'"]),
        (lambda: _raw(np.zeros((1, 1)), ("stimulus", "unit"), {"stimulus": ["a"], "unit": ["u"]},
                      modality="brain"),
         ["attr 'modality' is 'brain'; expected one of 'eeg', 'meg', 'fmri', 'calcium', 'ephys', "
          "'celegans', 'ann', 'snn'"]),
    ],
)
def test_validate_messages(make, problem):
    with pytest.raises(AssemblyError, match=re.escape(_message(*problem))):
        bb.validate(make())


def test_validate_nan_policy():
    da = _raw(np.array([[np.nan], [1.0]]), ("stimulus", "unit"),
              {"stimulus": ["a", "b"], "unit": ["u"]})
    assert bb.validate(da) is da
    msg = _message("values hold 1 NaN but allow_nan=False; drop or fill them first")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.validate(da, allow_nan=False)


def test_validate_rejects_non_dataarray():
    msg = ("'assembly' must be an xarray.DataArray; got ndarray. Build one with "
           "brainbridge.assembly(data, dims=..., modality=...).")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.validate(np.zeros(3))
    assert issubclass(AssemblyError, ValueError)


def test_validate_returns_input_unchanged(rng):
    da = _valid(rng)
    before = da.copy(deep=True)
    assert bb.validate(da) is da
    xr.testing.assert_identical(da, before)


def test_accessor_forwards(rng, tmp_path):
    da = _valid(rng)
    assert da.bb.validate() is da
    path = da.bb.save(tmp_path / "x.nc")
    xr.testing.assert_identical(bb.load(path), da)
    a, b = da.bb.align(da.isel(stimulus=[2, 0]))
    assert list(a["stimulus"].values) == ["0", "2"]


@pytest.mark.parametrize("shape, dims, dim", [((0, 5), ("stimulus", "unit"), "stimulus"),
                                              ((4, 0), ("stimulus", "unit"), "unit"),
                                              ((3, 0), ("time", "unit"), "unit")])
def test_empty_id_dim_is_named(shape, dims, dim):
    # issue 15: zero stimuli used to be reported as "'stimulus' ids must be strings"
    msg = (f"'data' has 0 entries along {dim!r} (shape {shape}, dims {dims}); an assembly "
           f"needs at least one {dim}. Check the selection or filter that produced the data.")
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        bb.assembly(np.zeros(shape), dims=dims, modality="ephys", sampling_rate=10.0)
    da = xr.DataArray(np.zeros(shape), dims=dims,
                      attrs={"modality": "ephys", "units": "a.u.", "source": "test",
                             "schema_version": bb.SCHEMA_VERSION, "sampling_rate": 10.0})
    with pytest.raises(bb.AssemblyError, match=re.escape(
            f"dim {dim!r} has 0 entries; an assembly needs at least one")):
        bb.validate(da.assign_coords({dim: np.zeros(0)}))
