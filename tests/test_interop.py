import re

import numpy as np
import pytest

import brainbridge as bb
from brainbridge import AssemblyError


@pytest.fixture
def neural(rng):
    return bb.assembly(
        rng.normal(size=(3, 4, 2)), dims=("stimulus", "unit", "trial"), modality="ephys",
        units="Hz", source="test", coords={"stimulus": ["a", "b", "c"],
                                           "unit": ["n0", "n1", "n2", "n3"],
                                           "region": ("unit", ["V4", "V4", "IT", "IT"]),
                                           "category": ("stimulus", ["face", "car", "face"])})


def test_to_brainscore_layout(neural):
    bs = bb.to_brainscore(neural)
    assert bs.dims == ("presentation", "neuroid")
    assert bs.shape == (3 * 2, 4)
    pres = bs.indexes["presentation"]
    assert list(pres.names) == ["stimulus_id", "stimulus_index", "category", "repetition"]
    assert list(bs["stimulus_id"].values) == ["a", "a", "b", "b", "c", "c"]
    assert list(bs["repetition"].values) == [0, 1, 0, 1, 0, 1]
    assert list(bs["category"].values[::2]) == ["face", "car", "face"]
    assert list(bs.indexes["neuroid"].names) == ["neuroid_id", "region"]
    assert list(bs["region"].values) == ["V4", "V4", "IT", "IT"]
    # presentation (b, repetition 1), neuroid n2  <->  stimulus b, trial 1, unit n2
    value = bs.isel(presentation=3).sel(neuroid_id="n2").item()
    assert value == neural.sel(stimulus="b", unit="n2").isel(trial=1).item()


def test_to_brainscore_ann_time_and_subjects(rng):
    ann = bb.assembly(rng.normal(size=(2, 3)), dims=("stimulus", "unit"), modality="ann",
                      coords={"layer": ("unit", ["l1", "l1", "l2"])})
    bs = bb.to_brainscore(ann)
    assert list(bs["region"].values) == ["l1", "l1", "l2"]
    assert list(bs.indexes["neuroid"].names) == ["neuroid_id", "region", "layer"]
    np.testing.assert_array_equal(bs.values, ann.values)
    eeg = bb.assembly(rng.normal(size=(2, 2, 3, 4)), dims=("subject", "stimulus", "unit", "time"),
                      modality="eeg", sampling_rate=100.0, units="V",
                      coords={"subject": ["s1", "s2"]})
    bs = bb.to_brainscore(eeg)
    assert bs.dims == ("presentation", "neuroid", "time_bin") and bs.shape == (2, 6, 4)
    assert list(bs["neuroid_id"].values[:4]) == ["s1/0", "s1/1", "s1/2", "s2/0"]
    np.testing.assert_allclose(bs["time_bin_start"].values, [0, 10, 20, 30])
    np.testing.assert_allclose(bs["time_bin_end"].values, [10, 20, 30, 40])
    assert bs.isel(presentation=1, neuroid=4, time_bin=2).item() == \
        eeg.isel(subject=1, stimulus=1, unit=1, time=2).item()


def test_to_brainscore_needs_stimuli(rng):
    da = bb.assembly(rng.normal(size=(3, 2)), dims=("time", "unit"), modality="eeg",
                     sampling_rate=10.0)
    msg = ("to_brainscore needs a 'stimulus' dim (Brain-Score indexes presentations); got dims "
           "('time', 'unit'). Epoch continuous data into stimuli first.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.to_brainscore(da)


def test_to_rsatoolbox_dataset(neural):
    rsd = pytest.importorskip("rsatoolbox.data")
    ds = bb.to_rsatoolbox(neural)
    assert isinstance(ds, rsd.Dataset)
    assert ds.measurements.shape == (6, 4)
    assert list(ds.obs_descriptors["stimulus"]) == ["a", "a", "b", "b", "c", "c"]
    assert list(ds.obs_descriptors["trial"]) == [0, 1, 0, 1, 0, 1]
    assert list(ds.obs_descriptors["category"]) == ["face", "face", "car", "car", "face", "face"]
    assert list(ds.channel_descriptors["region"]) == ["V4", "V4", "IT", "IT"]
    np.testing.assert_array_equal(ds.measurements[3], neural.sel(stimulus="b").isel(trial=1).values)
    assert ds.descriptors["modality"] == "ephys"


def test_to_rsatoolbox_temporal_and_continuous(rng):
    rsd = pytest.importorskip("rsatoolbox.data")
    da = bb.assembly(rng.normal(size=(3, 2, 5)), dims=("stimulus", "unit", "time"),
                     modality="meg", sampling_rate=50.0, units="T")
    ds = bb.to_rsatoolbox(da)
    assert isinstance(ds, rsd.TemporalDataset)
    assert ds.measurements.shape == (3, 2, 5)
    np.testing.assert_allclose(ds.time_descriptors["time"], np.arange(5) / 50.0)
    cont = bb.assembly(rng.normal(size=(6, 2)), dims=("time", "unit"), modality="eeg",
                       sampling_rate=2.0)
    ds = bb.to_rsatoolbox(cont)
    np.testing.assert_array_equal(ds.measurements, cont.values)
    np.testing.assert_allclose(ds.obs_descriptors["time"], np.arange(6) / 2.0)


def test_to_rsatoolbox_one_subject_at_a_time(rng):
    da = bb.assembly(rng.normal(size=(2, 3, 2)), dims=("subject", "stimulus", "unit"),
                     modality="fmri")
    msg = ("to_rsatoolbox converts one subject at a time (an rsatoolbox Dataset has no subject "
           "axis); use [to_rsatoolbox(da.sel(subject=s)) for s in da['subject'].values].")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.to_rsatoolbox(da)


@pytest.mark.parametrize("func, mapped, layout", [
    (bb.to_brainscore, "'stimulus', 'trial', 'unit', 'subject' and 'time'",
     "presentation x neuroid x time_bin"),
    (bb.to_rsatoolbox, "'stimulus', 'trial', 'unit' and 'time'", "observations x channels x time"),
])
def test_unmapped_dims_are_named(rng, func, mapped, layout):
    """Issue 15: a 'token' dim gave xarray's transpose error."""
    pytest.importorskip("rsatoolbox.data")
    da = bb.assembly(rng.normal(size=(3, 4, 2)), dims=("stimulus", "token", "unit"), modality="ann")
    msg = (f"Invalid value for 'da': {func.__name__} cannot convert dim(s) 'token': it maps only "
           f"{mapped} ({layout}). "
           "Reduce the other dims first, e.g. da.mean('token') to pool over them or "
           "da.isel(token=-1) to keep one token.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        func(da)
    pooled = func(da.mean("token"))  # the fix the message gives
    shape = pooled.measurements.shape if hasattr(pooled, "measurements") else pooled.shape
    assert shape == (3, 2)


def test_to_rsatoolbox_trials_over_time(rng):
    """Trials without stimuli, over time: a TemporalDataset whose observations are trials."""
    rsd = pytest.importorskip("rsatoolbox.data")
    da = bb.assembly(rng.normal(size=(2, 5, 3)), dims=("trial", "time", "unit"), modality="eeg",
                     sampling_rate=100.0)
    ds = bb.to_rsatoolbox(da)
    assert isinstance(ds, rsd.TemporalDataset) and ds.measurements.shape == (2, 3, 5)
    assert list(ds.obs_descriptors["trial"]) == [0, 1]
    np.testing.assert_array_equal(ds.measurements[1], da.isel(trial=1).transpose("unit", "time").values)


@pytest.mark.parametrize("func", [bb.to_brainscore, bb.to_rsatoolbox])
def test_empty_assembly_is_refused(rng, func):
    pytest.importorskip("rsatoolbox.data")
    da = bb.assembly(rng.normal(size=(3, 2)), dims=("stimulus", "unit"), modality="fmri")
    msg = (f"Invalid value for 'da': {func.__name__} needs at least one entry along every dim; "
           "'stimulus' has none (sizes {'stimulus': 0, 'unit': 2}). Select a non-empty part of the "
           "assembly.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        func(da.isel(stimulus=slice(0, 0)))
