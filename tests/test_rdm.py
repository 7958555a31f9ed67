"""RDMs against rsatoolbox (float64, 1e-8 relative), scipy and explicit loops."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform

import brainbridge as bb
from brainbridge.analyses import (
    NOISE_METHODS,
    RDM_METHODS,
    from_rsatoolbox_rdms,
    noise_precision,
    rdm,
    rdm_vector,
    to_rsatoolbox_rdms,
)

rsd = pytest.importorskip("rsatoolbox.data")
rsr = pytest.importorskip("rsatoolbox.rdm")
rsn = pytest.importorskip("rsatoolbox.data.noise")

RTOL = 1e-8
# rsatoolbox's _build_rdms casts NaN into the integer 'run' descriptor when it averages.
RSA_CAST_WARNING = pytest.mark.filterwarnings(
    "ignore:invalid value encountered in cast:RuntimeWarning")
N_STIM, N_UNITS, N_FOLDS = 9, 14, 4


def _ids(n):
    return np.array([f"s{i:03d}" for i in range(n)])  # sorts like rsatoolbox sorts


def _assembly(values, dims, **coords):
    return bb.assembly(values, dims=dims, coords=coords or None, modality="ann")


def _rsa_vector(values, method, **kw):
    ds = rsd.Dataset(values, obs_descriptors={"stimulus": _ids(values.shape[0])})
    return rsr.calc_rdm(ds, method=method, descriptor="stimulus", **kw).dissimilarities[0]


def _crossnobis_data(rng):
    x = rng.standard_normal((N_STIM, N_FOLDS, N_UNITS)) + rng.standard_normal((N_STIM, 1, N_UNITS))
    ds = rsd.Dataset(x.reshape(N_STIM * N_FOLDS, N_UNITS), obs_descriptors={
        "stimulus": np.repeat(_ids(N_STIM), N_FOLDS), "run": np.tile(np.arange(N_FOLDS), N_STIM)})
    return x, ds


# ----------------------------------------------------------------------------- values

@pytest.mark.parametrize(("ours", "theirs"), [("sqeuclidean", "euclidean"),
                                              ("correlation", "correlation"),
                                              ("poisson", "poisson")])
def test_matches_rsatoolbox(rng, ours, theirs):
    x = rng.standard_normal((N_STIM, N_UNITS)) + 5.0
    if ours == "poisson":
        x = rng.poisson(3.0, (N_STIM, N_UNITS)).astype(float)
    r = rdm(_assembly(x, ("stimulus", "unit"), stimulus=_ids(N_STIM)), method=ours, device="cpu")
    np.testing.assert_allclose(rdm_vector(r).values, _rsa_vector(x, theirs), rtol=RTOL)


def test_poisson_prior_matches_rsatoolbox(rng):
    x = rng.poisson(2.0, (N_STIM, N_UNITS)).astype(float)
    r = rdm(x, method="poisson", prior_lambda=0.5, prior_weight=0.3, device="cpu")
    np.testing.assert_allclose(rdm_vector(r).values,
                               _rsa_vector(x, "poisson", prior_lambda=0.5, prior_weight=0.3),
                               rtol=RTOL)


@pytest.mark.parametrize(("ours", "scipy_metric"), [("euclidean", "euclidean"),
                                                    ("cosine", "cosine"),
                                                    ("correlation", "correlation")])
def test_matches_scipy(rng, ours, scipy_metric):
    x = rng.standard_normal((N_STIM, N_UNITS)) + 1.0
    r = rdm(x, method=ours, device="cpu")
    np.testing.assert_allclose(r.values, squareform(pdist(x, scipy_metric)), rtol=RTOL, atol=0)


def test_sqeuclidean_is_scipy_sqeuclidean_over_units(rng):
    x = rng.standard_normal((N_STIM, N_UNITS))
    r = rdm(x, method="sqeuclidean", device="cpu")
    np.testing.assert_allclose(r.values, squareform(pdist(x, "sqeuclidean")) / N_UNITS, rtol=RTOL)


def test_mahalanobis_matches_rsatoolbox(rng):
    x = rng.standard_normal((N_STIM, N_UNITS))
    prec = rsn.prec_from_residuals(rng.standard_normal((60, N_UNITS)))
    r = rdm(x, method="mahalanobis", noise=prec, device="cpu")
    np.testing.assert_allclose(rdm_vector(r).values, _rsa_vector(x, "mahalanobis", noise=prec),
                               rtol=RTOL)
    # no noise: identity precision, i.e. sqeuclidean
    np.testing.assert_allclose(rdm(x, method="mahalanobis", device="cpu").values,
                               rdm(x, method="sqeuclidean", device="cpu").values, rtol=RTOL)


@RSA_CAST_WARNING
def test_crossnobis_matches_rsatoolbox_same_precision(rng):
    x, ds = _crossnobis_data(rng)
    prec = rsn.prec_from_residuals(rng.standard_normal((80, N_UNITS)))
    expected = rsr.calc_rdm(ds, method="crossnobis", descriptor="stimulus", cv_descriptor="run",
                            noise=prec).dissimilarities[0]
    da = _assembly(x, ("stimulus", "trial", "unit"), stimulus=_ids(N_STIM))
    r = rdm(da, method="crossnobis", cv_dim="trial", noise=prec, device="cpu")
    np.testing.assert_allclose(rdm_vector(r).values, expected, rtol=RTOL)
    # the same from the rsatoolbox Dataset itself, and with the precision as a DataArray
    from_ds = rdm(ds, method="crossnobis", cv_dim="run",
                  noise=xr.DataArray(prec, dims=("unit", "unit_")), device="cpu")
    np.testing.assert_allclose(rdm_vector(from_ds).values, expected, rtol=RTOL)


@RSA_CAST_WARNING
def test_crossnobis_estimated_noise_matches_rsatoolbox(rng):
    x, ds = _crossnobis_data(rng)
    for method in ("shrinkage_diag", "shrinkage_eye"):
        prec = rsn.prec_from_unbalanced(ds, "stimulus", method=method)
        expected = rsr.calc_rdm(ds, method="crossnobis", descriptor="stimulus",
                                cv_descriptor="run", noise=prec).dissimilarities[0]
        r = rdm(x, method="crossnobis", cv_dim="run", noise=method, device="cpu")
        np.testing.assert_allclose(rdm_vector(r).values, expected, rtol=RTOL)


def test_crossnobis_explicit_loop(rng):
    """The leave-one-partition-out definition, written out."""
    x, _ = _crossnobis_data(rng)
    a = rng.standard_normal((N_UNITS, N_UNITS))
    prec = a @ a.T / N_UNITS + np.eye(N_UNITS)
    expected = np.zeros((N_STIM, N_STIM))
    for f in range(N_FOLDS):
        train = np.delete(x, f, axis=1).mean(axis=1)
        test = x[:, f]
        for i in range(N_STIM):
            for j in range(N_STIM):
                expected[i, j] += (train[i] - train[j]) @ prec @ (test[i] - test[j])
    expected /= N_FOLDS * N_UNITS
    r = rdm(x, method="crossnobis", cv_dim="trial", noise=prec, device="cpu")
    np.testing.assert_allclose(r.values, expected, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("method", list(NOISE_METHODS))
def test_noise_precision_matches_rsatoolbox(rng, method):
    res = rng.standard_normal((40, N_UNITS)) @ rng.standard_normal((N_UNITS, N_UNITS))
    ours = noise_precision(res, method=method, device="cpu")
    theirs = rsn.prec_from_residuals(res, method=method)
    assert ours.dims == ("unit", "unit_")
    np.testing.assert_allclose(ours.values, theirs, rtol=RTOL, atol=RTOL * np.abs(theirs).max())


def test_rsatoolbox_dataset_averages_repeats_and_sorts(rng):
    x = rng.standard_normal((12, N_UNITS))
    labels = np.array(["c", "a", "b"] * 4)
    ds = rsd.Dataset(x, obs_descriptors={"stimulus": labels})
    r = rdm(ds, method="correlation", device="cpu")
    expected = rsr.calc_rdm(ds, method="correlation", descriptor="stimulus")
    assert list(r["stimulus"].values) == ["a", "b", "c"]
    np.testing.assert_allclose(rdm_vector(r).values, expected.dissimilarities[0], rtol=RTOL)


# ----------------------------------------------------------------------------- layout, batches

def _network(rng):
    values = rng.standard_normal((N_STIM, 10))
    return _assembly(values, ("stimulus", "unit"), stimulus=_ids(N_STIM),
                     unit=[f"u{i}" for i in range(10)],
                     layer=("unit", ["conv1"] * 4 + ["fc"] * 6))


def test_layout(rng):
    x = _network(rng)
    r = rdm(x, method="correlation", device="cpu")
    assert r.dims == ("stimulus", "stimulus_")
    assert list(r["stimulus"].values) == list(r["stimulus_"].values) == list(_ids(N_STIM))
    assert r.attrs["method"] == "correlation"
    v = rdm_vector(r)
    assert v.dims == ("pair",)
    np.testing.assert_array_equal(v.values, squareform(r.values, checks=False))
    assert (v["stimulus"].values[0], v["stimulus_"].values[0]) == ("s000", "s001")


def test_by_layer_equals_separate_calls(rng):
    x = _network(rng)
    r = rdm(x, method="sqeuclidean", by="layer", device="cpu")
    assert r.dims == ("layer", "stimulus", "stimulus_")
    assert list(r["layer"].values) == ["conv1", "fc"]
    for layer in ("conv1", "fc"):
        sub = x.isel(unit=np.flatnonzero(x["layer"].values == layer))
        np.testing.assert_allclose(r.sel(layer=layer).values,
                                   rdm(sub, method="sqeuclidean", device="cpu").values, rtol=RTOL)


def test_extra_dims_become_batch_dims(rng):
    values = rng.standard_normal((3, N_STIM, 6))
    x = _assembly(values, ("subject", "stimulus", "unit"), subject=["p1", "p2", "p3"])
    r = rdm(x, method="correlation", device="cpu")
    assert r.dims == ("subject", "stimulus", "stimulus_")
    assert list(r["subject"].values) == ["p1", "p2", "p3"]
    for k in range(3):
        np.testing.assert_allclose(r.values[k], squareform(pdist(values[k], "correlation")),
                                   rtol=RTOL)


def test_batched_crossnobis_per_subject_precision(rng):
    x = rng.standard_normal((2, N_STIM, N_FOLDS, N_UNITS))
    da = xr.DataArray(x, dims=("subject", "stimulus", "trial", "unit"))
    precs = []
    for _ in range(2):
        a = rng.standard_normal((N_UNITS, N_UNITS))
        precs.append(a @ a.T / N_UNITS + np.eye(N_UNITS))
    noise = xr.DataArray(np.stack(precs), dims=("subject", "unit", "unit_"))
    r = rdm(da, method="crossnobis", cv_dim="trial", noise=noise, device="cpu")
    for k in range(2):
        np.testing.assert_allclose(
            r.values[k], rdm(x[k], method="crossnobis", cv_dim="trial", noise=precs[k],
                             device="cpu").values, rtol=RTOL)


@pytest.mark.parametrize("method", list(RDM_METHODS))
def test_symmetric_zero_diagonal_nonnegative(rng, method):
    x = np.abs(rng.standard_normal((N_STIM, N_FOLDS, N_UNITS)))
    kw = {"cv_dim": "trial"} if method == "crossnobis" else {}
    data = x if method == "crossnobis" else x[:, 0]
    r = rdm(data, method=method, device="cpu", **kw).values
    np.testing.assert_array_equal(r, r.T)
    np.testing.assert_array_equal(np.diag(r), 0.0)
    if method != "crossnobis":  # crossnobis is unbiased, hence can be negative
        assert (r >= 0).all()


def test_does_not_mutate_input(rng):
    x = _network(rng)
    before = x.copy(deep=True)
    rdm(x, method="correlation", by="layer", device="cpu")
    xr.testing.assert_identical(x, before)


# ----------------------------------------------------------------------------- interop

def test_rsatoolbox_rdms_round_trip(rng):
    values = rng.standard_normal((2, N_STIM, 6))
    x = _assembly(values, ("subject", "stimulus", "unit"), stimulus=_ids(N_STIM))
    r = rdm(x, method="sqeuclidean", device="cpu")
    rdms = to_rsatoolbox_rdms(r)
    assert rdms.n_rdm == 2 and rdms.dissimilarity_measure == "squared euclidean"
    assert list(rdms.pattern_descriptors["stimulus"]) == list(_ids(N_STIM))
    for k in range(2):
        np.testing.assert_allclose(rdms.dissimilarities[k], _rsa_vector(values[k], "euclidean"),
                                   rtol=RTOL)
    back = from_rsatoolbox_rdms(rdms)
    assert back.dims == r.dims
    np.testing.assert_array_equal(back.values, r.values)
    np.testing.assert_array_equal(back["subject"].values, r["subject"].values)


def test_from_plain_rsatoolbox_rdms(rng):
    ds = rsd.Dataset(rng.standard_normal((5, 4)), obs_descriptors={"stimulus": _ids(5)})
    rdms = rsr.calc_rdm(ds, method="correlation", descriptor="stimulus")
    r = from_rsatoolbox_rdms(rdms)
    assert r.dims == ("rdm", "stimulus", "stimulus_")
    np.testing.assert_array_equal(r.values[0], rdms.get_matrices()[0])


# ----------------------------------------------------------------------------- errors

def test_unknown_method():
    msg = ("Invalid value for 'method': expected one of 'euclidean', 'sqeuclidean', "
           "'correlation', 'cosine', 'mahalanobis', 'crossnobis', 'poisson'; got 'corelation'. "
           "Did you mean 'correlation'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(np.zeros((3, 2)), method="corelation")


def test_crossnobis_needs_cv_dim(rng):
    x = xr.DataArray(rng.standard_normal((4, 3, 5)), dims=("stimulus", "trial", "unit"))
    msg = ("method='crossnobis' needs 'cv_dim': the dim of x holding independent partitions "
           "(runs or trials) to cross-validate over; got cv_dim=None and x has dims "
           "('stimulus', 'trial', 'unit'). Pass e.g. cv_dim='trial'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(x, method="crossnobis")


def test_cv_dim_with_other_method(rng):
    x = xr.DataArray(rng.standard_normal((4, 3, 5)), dims=("stimulus", "trial", "unit"))
    msg = ("'cv_dim' applies to method='crossnobis' only; got cv_dim='trial' with "
           "method='correlation'. Drop cv_dim (average x over 'trial' first) or use "
           "method='crossnobis'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(x, method="correlation", cv_dim="trial")


def test_noise_with_other_method():
    msg = ("'noise' applies to method='mahalanobis' or 'crossnobis' only; got a noise with "
           "method='correlation'. Drop noise or change the method.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(np.ones((3, 2)), method="correlation", noise=np.eye(2))


def test_noise_wrong_shape(rng):
    msg = ("Invalid shape for 'noise': expected the precision matrix (n_units, n_units) = "
           "(2, 2); got (3, 3).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(rng.standard_normal((3, 2)), method="mahalanobis", noise=np.eye(3), device="cpu")


def test_by_not_a_unit_coord(rng):
    x = _network(rng)
    msg = ("Invalid value for 'by': expected a per-unit coord of x (one of ['layer']); got "
           "'region'. Add it with x.assign_coords(region=('unit', ...)).")
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        rdm(x, by="region")


def test_nan_input(rng):
    x = rng.standard_normal((4, 3))
    x[1, 2] = np.nan
    msg = ("Invalid value for 'x': expected finite numbers; got 1 NaN of 12 entries, the first "
           "at stimulus=1, unit=2. RDMs need complete, finite patterns. Drop the units with "
           "missing values first, e.g. x.dropna('unit', how='any').")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(x, device="cpu")


def test_missing_dim(rng):
    x = xr.DataArray(rng.standard_normal((4, 3)), dims=("image", "unit"))
    msg = ("'x' is missing dim 'stimulus'; it has dims ('image', 'unit'). "
           "Pass dim=<the condition dim>.")
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        rdm(x)
    r = rdm(x, dim="image", device="cpu")
    assert r.dims == ("image", "image_")


def test_one_stimulus_is_an_error(rng):
    # it used to return [[0]] silently (issue #14)
    msg = ("Invalid value for 'x': an RDM needs at least 2 conditions along 'stimulus' (a "
           "dissimilarity compares two patterns); got 1. Give x two or more stimuli, or pass "
           "dim= the dim that holds the conditions.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(rng.standard_normal((1, 5)), device="cpu")
    x = xr.DataArray(rng.standard_normal((1, 5)), dims=("image", "unit"))
    with pytest.raises(ValueError, match=re.escape(msg.replace("'stimulus'", "'image'"))):
        rdm(x, dim="image", device="cpu")


# ----------------------------------------------------------------------------- GPU

@pytest.mark.gpu
@pytest.mark.parametrize("method", list(RDM_METHODS))
def test_cuda_equals_cpu(rng, method):
    x = np.abs(rng.standard_normal((N_STIM, N_FOLDS, N_UNITS)))
    kw = {"cv_dim": "trial", "noise": "shrinkage_diag"} if method == "crossnobis" else {}
    data = x if method == "crossnobis" else x[:, 0]
    np.testing.assert_allclose(rdm(data, method=method, device="cuda", **kw).values,
                               rdm(data, method=method, device="cpu", **kw).values,
                               rtol=1e-10, atol=1e-12)


def test_noise_precision_fewer_observations_than_units(rng):
    """The low-rank (Woodbury) path of shrinkage_diag against rsatoolbox's inverse."""
    res = rng.standard_normal((12, 30)) @ rng.standard_normal((30, 30))
    ours = noise_precision(res, device="cpu").values
    theirs = rsn.prec_from_residuals(res, method="shrinkage_diag")
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=RTOL * np.abs(theirs).max())


def test_inf_complex_empty_and_bad_noise_raise(rng):
    """Issue #15, findings 10, 11 and 6: one policy for non-finite and degenerate input."""
    x = _assembly(rng.standard_normal((5, 4)), ("stimulus", "unit"), stimulus=_ids(5))
    bad = x.copy(deep=True)
    bad[2, 1] = np.inf
    msg = ("Invalid value for 'x': expected finite numbers; got 1 inf of 20 entries, the first "
           "at stimulus='s002', unit='1'. RDMs need complete, finite patterns.")
    for method in ("euclidean", "correlation"):
        with pytest.raises(ValueError, match=re.escape(msg)):
            rdm(bad, method=method, device="cpu")
    msg = ("Invalid type for 'x': expected real numbers; got dtype complex128. Pass the part you "
           "mean explicitly, e.g. np.abs(x) or x.real.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        rdm(x.values + 1j, device="cpu")
    msg = ("Invalid value for 'x': an RDM needs at least 1 unit (the patterns compared); got 0 "
           "along 'unit' (x has shape {'stimulus': 10, 'unit': 0}). Pass responses with units.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(np.zeros((10, 0)), device="cpu")
    prec = np.eye(4)
    prec[0, 0] = np.nan
    msg = ("Invalid value for 'noise': expected finite numbers; got 1 NaN of 16 entries, the "
           "first at index (0, 0). A precision matrix must be finite;")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm(x, method="mahalanobis", noise=prec, device="cpu")


def test_noise_precision_and_rdm_vector_checks(rng):
    """Issue #15: residuals follow the finite-data rule, dof is an integer >= 1, and an RDM
    vector keeps NaN (a missing pair) but rejects inf."""
    res = rng.standard_normal((20, 4))
    res[3, 2] = np.nan
    msg = ("Invalid value for 'residuals': expected finite numbers; got 1 NaN of 80 entries, the "
           "first at index (3, 2). A noise estimate needs complete residuals;")
    with pytest.raises(ValueError, match=re.escape(msg)):
        noise_precision(res)
    msg = ("Invalid value for 'dof': expected an integer >= 1 (degrees of freedom of the "
           "residuals); got 2.5.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        noise_precision(rng.standard_normal((20, 4)), dof=2.5)
    r = rdm(_assembly(rng.standard_normal((4, 3)), ("stimulus", "unit"), stimulus=_ids(4)),
            device="cpu")
    missing = r.copy(deep=True)
    missing[0, 1] = missing[1, 0] = np.nan
    assert np.isnan(rdm_vector(missing).values[0])
    missing[0, 1] = missing[1, 0] = np.inf
    msg = ("Invalid value for 'r': expected finite numbers or NaN (a missing value); got 2 inf "
           "of 16 entries, the first at stimulus='s000', stimulus_='s001'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        rdm_vector(missing)
