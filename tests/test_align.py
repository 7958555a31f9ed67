import logging
import re

import numpy as np
import pytest

import brainbridge as bb
from brainbridge import AssemblyError


def _stim(ids, rng, n_units=2, modality="ann"):
    return bb.assembly(rng.normal(size=(len(ids), n_units)), dims=("stimulus", "unit"),
                       modality=modality, coords={"stimulus": ids})


def test_align_keeps_shared_ids_in_a_order(rng, caplog):
    a = _stim(["s1", "s2", "s3", "s4"], rng)
    b = _stim(["s4", "s9", "s2", "s1"], rng, n_units=5, modality="fmri")
    with caplog.at_level(logging.INFO, logger="brainbridge"):
        a2, b2 = bb.align(a, b)
    assert list(a2["stimulus"].values) == ["s1", "s2", "s4"]
    assert list(b2["stimulus"].values) == ["s1", "s2", "s4"]
    np.testing.assert_array_equal(b2.values, b.values[[3, 2, 0]])
    np.testing.assert_array_equal(a2.values, a.values[[0, 1, 3]])
    assert ("align on 'stimulus': kept 3 shared ids; dropped 1 of 4 from 'a' and 1 of 4 from 'b'"
            in caplog.text)


def test_align_identical_ids_is_a_no_op(rng):
    a = _stim(["x", "y"], rng)
    a2, b2 = bb.align(a, a)
    np.testing.assert_array_equal(a2.values, a.values)


def test_align_on_unit_dim(rng):
    a = bb.assembly(rng.normal(size=(2, 3)), dims=("stimulus", "unit"), modality="ann",
                    coords={"unit": ["AVAL", "AVAR", "RIML"]})
    b = bb.assembly(rng.normal(size=(4, 2)), dims=("time", "unit"), modality="celegans",
                    sampling_rate=3.0, coords={"unit": ["RIML", "AVAL"]})
    a2, b2 = bb.align(a, b, dim="unit")
    assert list(b2["unit"].values) == ["AVAL", "RIML"]


def test_align_nothing_shared(rng):
    a, b = _stim(["a", "b"], rng), _stim(["c"], rng)
    msg = ("'a' and 'b' share no 'stimulus' ids: 'a' has ['a', 'b'], 'b' has ['c']. Check that both "
           "use the same id scheme.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.align(a, b)


def test_align_repeated_ids(rng):
    a = _stim(["a", "b"], rng)
    b = _stim(["a", "b"], rng).assign_coords(stimulus=["a", "a"])
    msg = ("'b' has repeated 'stimulus' ids: 'a'. Alignment needs unique ids; average repeats "
           "first (da.groupby('stimulus').mean()) or move them to a 'trial' dim.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.align(a, b)


def test_align_missing_dim(rng):
    a = _stim(["a"], rng)
    b = bb.assembly(rng.normal(size=(3, 2)), dims=("time", "unit"), modality="eeg",
                    sampling_rate=10.0)
    msg = ("'b' is missing dim(s) 'stimulus'; it has dims ('time', 'unit'). Rename or add them, "
           "e.g. da.rename({'old': 'stimulus'}).")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.align(a, b)


def test_align_names_the_callers_arguments(rng):
    a, b = _stim(["s1", "s2"], rng), _stim(["t1"], rng)
    msg = ("'x' and 'y' share no 'stimulus' ids: 'x' has ['s1', 's2'], 'y' has ['t1']. Check "
           "that both use the same id scheme.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.align(a, b, names=("x", "y"))
