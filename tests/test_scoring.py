"""The shared per-target scores against scipy and scikit-learn, and the NaN policy."""

import re

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import r2_score as sk_r2_score

from brainbridge._scoring import pearson_r, r2_score, spearman_r, zscore


@pytest.fixture
def data(rng):
    y = rng.standard_normal((30, 5))
    p = 0.6 * y + 0.8 * rng.standard_normal((30, 5))
    return y, p


def test_pearson_r_matches_scipy(data):
    y, p = data
    ref = [stats.pearsonr(y[:, j], p[:, j]).statistic for j in range(y.shape[1])]
    np.testing.assert_allclose(pearson_r(y, p), ref, rtol=1e-12)
    np.testing.assert_allclose(pearson_r(y.T, p.T, axis=1), ref, rtol=1e-12)
    assert isinstance(pearson_r(y[:, 0], p[:, 0]), float)


def test_spearman_r_matches_scipy(data):
    y, p = data
    y = np.round(y, 1)  # ties: average ranks, as scipy
    ref = [stats.spearmanr(y[:, j], p[:, j]).statistic for j in range(y.shape[1])]
    np.testing.assert_allclose(spearman_r(y, p), ref, rtol=1e-12)


def test_r2_score_matches_sklearn(data):
    y, p = data
    ref = sk_r2_score(y, p, multioutput="raw_values", force_finite=False)
    np.testing.assert_allclose(r2_score(y, p), ref, rtol=1e-12)
    np.testing.assert_allclose(r2_score(y[:, 2], p[:, 2]), ref[2], rtol=1e-12)


def test_float32_inputs_are_scored_in_float64(data):
    y, p = data
    out = r2_score(y.astype(np.float32), p.astype(np.float32))
    assert out.dtype == np.float64
    ref = sk_r2_score(y.astype(np.float32).astype(np.float64), p.astype(np.float32).astype(np.float64),
                      multioutput="raw_values")
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_constant_target_is_nan_never_zero_or_one(data):
    # the one policy: nothing to explain or correlate with -> NaN, where sklearn gives 1 or 0
    # (force_finite=True) or -inf (force_finite=False, SSE / 0)
    y, p = data
    y = y.copy()
    y[:, 1] = 3.0
    p = p.copy()
    p[:, 3] = -1.0  # a constant prediction has no correlation either
    r2 = r2_score(y, p)
    with np.errstate(divide="ignore"):
        ref = sk_r2_score(y, p, multioutput="raw_values", force_finite=False)
    assert np.isnan(r2[1]) and ref[1] == -np.inf
    np.testing.assert_allclose(np.delete(r2, 1), np.delete(ref, 1), rtol=1e-12)
    assert np.isnan(r2_score(y[:, 1], y[:, 1]))  # even a perfect prediction of a constant
    r = pearson_r(y, p)
    assert np.isnan(r[[1, 3]]).all() and np.isfinite(np.delete(r, [1, 3])).all()
    assert np.isnan(spearman_r(y, p)[[1, 3]]).all()


def test_constant_up_to_rounding_is_nan():
    y = np.full(7, 0.1) * 3  # the mean is not exactly representable
    assert np.isnan(pearson_r(y, np.arange(7.0)))
    assert np.isnan(r2_score(y, np.arange(7.0)))


def test_fewer_than_two_samples_is_nan():
    assert np.isnan(pearson_r([1.0], [2.0]))
    assert np.isnan(r2_score(np.ones((1, 3)), np.ones((1, 3)))).all()


def test_inputs_are_not_modified(data):
    y, p = data
    y0, p0 = y.copy(), p.copy()
    pearson_r(y, p), spearman_r(y, p), r2_score(y, p), zscore(y)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(p, p0)


def test_shape_mismatch_message(data):
    y, p = data
    msg = "Invalid value for 'y_pred': expected the shape of 'y_true' (30, 5); got (30, 4)."
    with pytest.raises(ValueError, match=re.escape(msg)):
        r2_score(y, p[:, :4])


@pytest.mark.parametrize("ddof", [0, 1])
def test_zscore_matches_scipy(data, ddof):
    y, _ = data
    np.testing.assert_allclose(zscore(y, ddof=ddof), stats.zscore(y, ddof=ddof), rtol=1e-12)
    np.testing.assert_allclose(zscore(y.T, axis=1, ddof=ddof), stats.zscore(y.T, axis=1, ddof=ddof),
                               rtol=1e-12)


def test_zscore_constant_series_is_zero():
    x = np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 6.0]])
    np.testing.assert_array_equal(zscore(x)[:, 0], 0.0)
    np.testing.assert_array_equal(zscore(x[:1], ddof=1), 0.0)  # n <= ddof: centred only
