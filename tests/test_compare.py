"""RDM comparisons against rsatoolbox (float64, 1e-8 relative) and explicit loops."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import squareform

import brainbridge as bb
from brainbridge.analyses import COMPARE_ALIASES, COMPARE_METHODS, compare_rdms, rdm, rdm_vector

rsr = pytest.importorskip("rsatoolbox.rdm")

RTOL = 1e-8
N_STIM = 10
N_PAIRS = N_STIM * (N_STIM - 1) // 2
RSATOOLBOX_NAME = {"kendall_tau_a": "tau-a", "rho_a": "rho-a"}


def _ids(n=N_STIM):
    return np.array([f"s{i:03d}" for i in range(n)])


def _tied_vectors(rng, n_rdm):
    """RDM vectors with many ties (small integers), one with a tied block of equal values."""
    v = rng.integers(0, 6, (n_rdm, N_PAIRS)).astype(float)
    v[0, :15] = 2.0
    return v


def _square(vectors, batch="model"):
    squares = np.stack([squareform(v) for v in vectors])
    return xr.DataArray(squares, dims=(batch, "stimulus", "stimulus_"),
                        coords={batch: [f"{batch}{i}" for i in range(len(vectors))],
                                "stimulus": _ids(), "stimulus_": _ids()},
                        attrs={"method": "test"})


def _assert_close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=RTOL * np.abs(theirs).max())


@pytest.mark.parametrize("method", list(COMPARE_METHODS))
def test_matches_rsatoolbox_with_ties(rng, method):
    va = _tied_vectors(rng, 3)
    vb = np.vstack([rng.standard_normal((3, N_PAIRS)), _tied_vectors(rng, 2)])
    ours = compare_rdms(_square(va, "model"), _square(vb, "brain"), method=method, device="cpu")
    theirs = rsr.compare(rsr.RDMs(va), rsr.RDMs(vb), method=RSATOOLBOX_NAME.get(method, method))
    assert ours.dims == ("model", "brain")
    _assert_close(ours.values, theirs)


@pytest.mark.parametrize("alias", list(COMPARE_ALIASES))
def test_aliases(rng, alias):
    v = _tied_vectors(rng, 2)
    a = compare_rdms(_square(v), _square(v), method=alias, device="cpu")
    b = compare_rdms(_square(v), _square(v), method=COMPARE_ALIASES[alias], device="cpu")
    assert a.attrs["method"] == COMPARE_ALIASES[alias]
    np.testing.assert_array_equal(a.values, b.values)


def _tau_a_loop(u, v):
    n = len(u)
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += np.sign(u[i] - u[j]) * np.sign(v[i] - v[j])
    return s / (n * (n - 1) / 2)


def test_tau_a_explicit_loop(rng):
    for _ in range(10):
        u = rng.integers(0, 4, N_PAIRS).astype(float)
        v = rng.integers(0, 7, N_PAIRS).astype(float)
        got = float(compare_rdms(squareform(u), squareform(v), method="tau-a", device="cpu"))
        assert got == pytest.approx(_tau_a_loop(u, v), rel=RTOL, abs=1e-12)
    # larger, continuous with a tied block: 25 stimuli, 300 pairs
    u = rng.standard_normal(300)
    v = u + rng.standard_normal(300)
    v[:40] = 0.0
    got = float(compare_rdms(squareform(u), squareform(v), method="kendall_tau_a", device="cpu"))
    assert got == pytest.approx(_tau_a_loop(u, v), rel=RTOL)


def test_rdm_pipeline_batches_and_clashing_names(rng):
    x = bb.assembly(rng.standard_normal((N_STIM, 8)), dims=("stimulus", "unit"), modality="ann",
                    coords={"stimulus": _ids(), "layer": ("unit", ["a"] * 4 + ["b"] * 4)})
    y = bb.assembly(rng.standard_normal((N_STIM, 6)), dims=("stimulus", "unit"), modality="eeg",
                    coords={"stimulus": _ids(), "layer": ("unit", ["v1"] * 3 + ["it"] * 3)})
    rx = rdm(x, by="layer", device="cpu")
    ry = rdm(y, by="layer", device="cpu")
    sim = compare_rdms(rx, ry, method="corr", device="cpu")
    assert sim.dims == ("layer", "layer_b")
    assert list(sim["layer"].values) == ["a", "b"]
    assert list(sim["layer_b"].values) == ["v1", "it"]
    for i in range(2):
        for j in range(2):
            expected = np.corrcoef(rdm_vector(rx).values[i], rdm_vector(ry).values[j])[0, 1]
            assert sim.values[i, j] == pytest.approx(expected, rel=RTOL)
    # one RDM each: a 0-d result; the vector form gives the same numbers
    single = compare_rdms(rx.isel(layer=0), ry.isel(layer=1), method="spearman", device="cpu")
    assert single.dims == ()
    vec = compare_rdms(rdm_vector(rx.isel(layer=0)), rdm_vector(ry.isel(layer=1)),
                       method="spearman", device="cpu")
    assert float(vec) == pytest.approx(float(single), rel=RTOL)


def test_reorders_b_to_a(rng):
    v = rng.standard_normal((2, N_PAIRS))
    a = _square(v)
    perm = rng.permutation(N_STIM)
    b = a.isel(stimulus=perm, stimulus_=perm)
    for method in ("spearman", "corr_cov"):
        np.testing.assert_allclose(compare_rdms(a, b, method=method, device="cpu").values,
                                   compare_rdms(a, a, method=method, device="cpu").values,
                                   rtol=RTOL)


def test_rsatoolbox_rdms_input_and_nan(rng):
    va, vb = rng.standard_normal((2, N_PAIRS)), rng.standard_normal((3, N_PAIRS))
    va[:, [3, 7]] = np.nan
    vb[:, [3, 7]] = np.nan
    for method in ("cosine", "corr", "spearman", "rho-a", "tau-a"):
        ours = compare_rdms(rsr.RDMs(va), rsr.RDMs(vb), method=method, device="cpu")
        _assert_close(ours.values, rsr.compare(rsr.RDMs(va), rsr.RDMs(vb), method=method))


# ----------------------------------------------------------------------------- errors

def test_unknown_method(rng):
    v = _square(rng.standard_normal((1, N_PAIRS)))
    msg = ("Invalid value for 'method': expected one of 'cosine', 'corr', 'spearman', "
           "'kendall_tau_a', 'rho_a', 'corr_cov', 'cosine_cov', 'pearson', 'tau-a', 'tau_a', "
           "'rho-a'; got 'spearmann'. Did you mean 'spearman'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        compare_rdms(v, v, method="spearmann")


def test_mismatched_stimuli(rng):
    a = _square(rng.standard_normal((1, N_PAIRS)))
    ids = np.r_[_ids()[:-2], ["x1", "x2"]]
    b = a.assign_coords(stimulus=ids, stimulus_=ids)
    msg = ("The stimuli of 'a' and 'b' differ: 'a' has 10, 'b' has 10, 8 shared; only in 'a': "
           "['s008', 's009']; only in 'b': ['x1', 'x2']. Compute both RDMs on the same "
           "stimuli, e.g. x, y = brainbridge.align(x, y) before rdm().")
    with pytest.raises(ValueError, match=re.escape(msg)):
        compare_rdms(a, b)


def test_nan_positions_differ(rng):
    va, vb = rng.standard_normal((1, N_PAIRS)), rng.standard_normal((1, N_PAIRS))
    va[0, 1] = np.nan
    msg = ("'a' has NaN at 1 stimulus pairs and 'b' at 0, not the same ones. Set the same "
           "pairs to NaN in both.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        compare_rdms(rsr.RDMs(va), rsr.RDMs(vb))


def test_not_an_rdm():
    msg = ("'a' must be an RDM with dims (*batch, d, d + '_'), e.g. ('stimulus', 'stimulus_'), "
           "as rdm() returns; got dims ('stimulus', 'unit').")
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        compare_rdms(xr.DataArray(np.zeros((3, 3)), dims=("stimulus", "unit")), np.zeros((3, 3)))


# ----------------------------------------------------------------------------- GPU

@pytest.mark.gpu
@pytest.mark.parametrize("method", list(COMPARE_METHODS))
def test_cuda_equals_cpu(rng, method):
    va, vb = _tied_vectors(rng, 3), rng.standard_normal((2, N_PAIRS))
    np.testing.assert_allclose(
        compare_rdms(_square(va), _square(vb, "b"), method=method, device="cuda").values,
        compare_rdms(_square(va), _square(vb, "b"), method=method, device="cpu").values,
        rtol=1e-10, atol=1e-12)


def test_inf_complex_and_all_nan_rdms_raise(rng):
    """Issue #15, findings 8, 10, 11: one policy for RDM values (NaN = missing pair)."""
    a = _square(rng.standard_normal((1, N_PAIRS)))
    bad = a.copy(deep=True)
    bad[0, 0, 3] = bad[0, 3, 0] = np.inf
    msg = ("Invalid value for 'b': expected finite numbers or NaN (a missing value); got 2 inf "
           "of 100 entries, the first at model='model0', stimulus='s000', stimulus_='s003'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        compare_rdms(a, bad)
    msg = ("Invalid type for 'a': expected real numbers; got dtype complex128. Pass the part "
           "you mean explicitly, e.g. np.abs(x) or x.real.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        compare_rdms(a.values.astype(complex), a.values)
    empty = a.copy(data=np.full(a.shape, np.nan))
    msg = ("Invalid value for 'a': 1 of 1 RDMs are all NaN (no stimulus pair to compare), the "
           "first at model='model0'. Drop them first, e.g. a.dropna('model', how='all').")
    with pytest.raises(ValueError, match=re.escape(msg)):
        compare_rdms(empty, empty)
    msg = ("Invalid value for 'a': expected RDMs over at least 3 stimuli (2 stimulus pairs to "
           "compare); got 2. Add stimuli.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        compare_rdms(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]))


def test_disjoint_stimuli_raise(rng):
    a = _square(rng.standard_normal((1, N_PAIRS)))
    ids = np.array([f"z{i}" for i in range(N_STIM)])
    msg = "The stimuli of 'a' and 'b' differ: 'a' has 10, 'b' has 10, 0 shared;"
    with pytest.raises(ValueError, match=re.escape(msg)):
        compare_rdms(a, a.assign_coords(stimulus=ids, stimulus_=ids))
