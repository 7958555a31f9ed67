"""BandedRidgeEncoder: against himalaya's MultipleKernelRidgeCV, a closed-form primal solve,
scikit-learn's Ridge in an explicit CV loop, a known-answer problem, and error messages."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score as sk_r2
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainbridge.encoders import BandedRidgeEncoder
from brainbridge.encoders._banded import _candidates, split_r2_score

himalaya_kr = pytest.importorskip("himalaya.kernel_ridge")
himalaya_scoring = pytest.importorskip("himalaya.scoring")

SIZES = [5, 10, 7]
EDGES = np.cumsum([0, *SIZES])
GROUPS = [slice(int(EDGES[i]), int(EDGES[i + 1])) for i in range(len(SIZES))]
ALPHAS = np.logspace(-2, 4, 13)


def _problem(rng, n=80, n_test=30, t=12, offset=3.0, scales=(1.0, 0.3, 0.0), noise=2.0):
    """Three feature spaces; the first informative, the second weakly, the third not at all."""
    p = sum(SIZES)
    X = rng.standard_normal((n + n_test, p)) + offset
    W = rng.standard_normal((p, t)) * np.repeat(scales, SIZES)[:, None]
    Y = X @ W + noise * rng.standard_normal((n + n_test, t)) + 5.0
    return X[:n], Y[:n], X[n:], Y[n:]


def _primal(X, Y, Xt, groups, weights, alpha, fit_intercept):
    """Closed-form banded ridge per target: (Xc' Xc + diag(alpha / gamma_i))^-1 Xc' yc."""
    xm = X.mean(0) if fit_intercept else np.zeros(X.shape[1])
    ym = Y.mean(0) if fit_intercept else np.zeros(Y.shape[1])
    Xc, Yc, Xtc = X - xm, Y - ym, Xt - xm
    out = np.zeros((len(Xt), Y.shape[1]))
    for j in range(Y.shape[1]):
        pen = np.concatenate([np.full(g.stop - g.start, alpha[j] / w if w > 0 else np.inf)
                              for g, w in zip(groups, weights[:, j])])
        keep = np.isfinite(pen)  # a space with weight 0 has an infinite penalty: w_i = 0
        A = Xc[:, keep]
        w = np.linalg.solve(A.T @ A + np.diag(pen[keep]), A.T @ Yc[:, j])
        out[:, j] = Xtc[:, keep] @ w + ym[j]
    return out


def _himalaya_fit(X, Y, cand, cv, fit_intercept):
    Ks = np.stack([X[:, g] @ X[:, g].T for g in GROUPS])
    model = himalaya_kr.MultipleKernelRidgeCV(
        kernels="precomputed", solver="random_search", fit_intercept=fit_intercept, cv=cv,
        solver_params=dict(n_iter=cand, alphas=ALPHAS, score_func=himalaya_scoring.r2_score,
                           progress_bar=False, return_alphas=True))
    with warnings.catch_warnings():
        # himalaya takes log(0) for the simplex corners (weight 0 -> delta -inf), as we do
        warnings.filterwarnings("ignore", "divide by zero encountered in log", RuntimeWarning)
        return model.fit(Ks, Y)


# ---------------------------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_himalaya_random_search(rng, fit_intercept):
    X, Y, Xt, _ = _problem(rng)
    cand = _candidates(12, 3, [0.1, 1.0], np.random.default_rng(0))  # one explicit list for both
    cv = KFold(5)
    ours = BandedRidgeEncoder(groups=GROUPS, n_iter=cand, alphas=ALPHAS, cv=cv, device="cpu",
                              fit_intercept=fit_intercept).fit(X, Y)
    ref = _himalaya_fit(X, Y, cand, cv, fit_intercept)

    # the same (weights, alpha) per target: exactly the same grid points
    np.testing.assert_array_equal(ours.alpha_, ref.best_alphas_)
    np.testing.assert_array_equal(ours.deltas_, ref.deltas_)
    assert len(np.unique(ours.best_candidate_)) > 1  # targets really choose different weights
    np.testing.assert_allclose(ours.cv_scores_, ref.cv_scores_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, rtol=1e-7, atol=1e-8)
    # himalaya predicts from uncentred kernels; with feature offsets of 3 its round-off is
    # ~1e-6 here (ours agrees with the closed form to 1e-9, see the next test)
    Kt = np.stack([Xt[:, g] @ X[:, g].T for g in GROUPS])
    np.testing.assert_allclose(ours.predict(Xt), ref.predict(Kt), rtol=0, atol=1e-5)
    if fit_intercept:
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-4)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_predictions_equal_closed_form_primal(rng, fit_intercept):
    X, Y, Xt, _ = _problem(rng, t=6)
    model = BandedRidgeEncoder(groups=GROUPS, n_iter=10, alphas=ALPHAS, random_state=0,
                               device="cpu", fit_intercept=fit_intercept).fit(X, Y)
    expected = _primal(X, Y, Xt, GROUPS, model.weights_, model.alpha_, fit_intercept)
    np.testing.assert_allclose(model.predict(Xt), expected, rtol=0, atol=1e-9)
    # the uncentred convention: predict = sum_i exp(delta_i) X_i X_fit_i' c + intercept_
    raw = sum(np.exp(model.deltas_[i]) * ((Xt[:, g] @ (X[:, g] - X[:, g].mean(0) * fit_intercept).T)
                                         @ model.dual_coef_) for i, g in enumerate(GROUPS))
    np.testing.assert_allclose(raw + model.intercept_, expected, rtol=0, atol=1e-8)


def test_cv_scores_equal_sklearn_ridge_loop(rng):
    """cv_scores_[c, j] = max over alphas of the fold-mean R^2 of Ridge on sqrt(gamma)-scaled
    features, computed with scikit-learn in an explicit loop."""
    X, Y, _, _ = _problem(rng, n=60, t=3)
    cand = np.array([[1 / 3, 1 / 3, 1 / 3], [0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    alphas = np.array([0.1, 10.0, 1000.0])
    model = BandedRidgeEncoder(groups=GROUPS, n_iter=cand, alphas=alphas, cv=4,
                               device="cpu").fit(X, Y)
    for c, gamma in enumerate(cand):
        Xs = X * np.sqrt(np.repeat(gamma, SIZES))[None, :]
        scores = np.zeros((len(alphas), Y.shape[1]))
        for tr, te in KFold(4).split(X):
            for a, alpha in enumerate(alphas):
                pred = Ridge(alpha=alpha).fit(Xs[tr], Y[tr]).predict(Xs[te])
                scores[a] += sk_r2(Y[te], pred, multioutput="raw_values") / 4
        # himalaya's tie-break adds 1e-10 log(alpha); below the tolerance
        np.testing.assert_allclose(model.cv_scores_[c], scores.max(0), rtol=0, atol=1e-8)
    best = model.cv_scores_.argmax(0)
    np.testing.assert_array_equal(model.best_candidate_, best)


def test_split_r2_matches_himalaya_definition(rng):
    X, Y, Xt, Yt = _problem(rng)
    model = BandedRidgeEncoder(groups=GROUPS, n_iter=8, alphas=ALPHAS, random_state=1,
                               device="cpu").fit(X, Y)
    parts = model.predict_split(Xt)
    np.testing.assert_allclose(parts.sum(0) + model.y_offset_, model.predict(Xt), atol=1e-10)
    r = Yt - model.y_offset_
    with warnings.catch_warnings():
        # held-out targets about the training mean are not exactly zero-mean; himalaya warns
        warnings.filterwarnings("ignore", "y_true has to be zero-mean", UserWarning)
        ref = himalaya_scoring.r2_score_split(r, parts)
    ours = model.split_r2(Xt, Yt)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(split_r2_score(r, parts), ref, rtol=0, atol=1e-12)
    # closed form: the parts sum to 1 - SSE / sum r^2
    total = 1 - ((Yt - model.predict(Xt)) ** 2).sum(0) / (r ** 2).sum(0)
    np.testing.assert_allclose(ours.sum(0), total, atol=1e-12)
    # on the training data the reference mean is the data's mean: the parts sum to the R^2
    np.testing.assert_allclose(model.split_r2(X, Y).sum(0), model.score_per_target(X, Y),
                               atol=1e-12)
    np.testing.assert_allclose(model.score_per_target(Xt, Yt),
                               sk_r2(Yt, model.predict(Xt), multioutput="raw_values"), atol=1e-12)
    assert model.score(Xt, Yt) == pytest.approx(sk_r2(Yt, model.predict(Xt)), abs=1e-12)


def test_constant_target_scores_nan(rng):
    # One scoring policy for every encoder (brainbridge._scoring, issue #14): a constant target
    # has nothing to explain, so its R^2 is NaN (it used to be scikit-learn's 1 / 0 here).
    X, Y, Xt, Yt = _problem(rng)
    model = BandedRidgeEncoder(groups=GROUPS, n_iter=8, alphas=ALPHAS, random_state=1,
                               device="cpu").fit(X, Y)
    Yt = Yt.copy()
    Yt[:, 0] = 1.5
    per = model.score_per_target(Xt, Yt)
    ref = sk_r2(Yt, model.predict(Xt), multioutput="raw_values")
    assert np.isnan(per[0])
    np.testing.assert_allclose(per[1:], ref[1:], atol=1e-12)
    assert model.score(Xt, Yt) == pytest.approx(ref[1:].mean(), abs=1e-12)
    # split R^2: a target equal to the training mean has sum r^2 = 0, nothing to split
    r = np.zeros((4, 1))
    assert np.isnan(split_r2_score(r, np.ones((2, 4, 1)))).all()


def test_split_r2_score_hand_example():
    y = np.array([[1.0], [-1.0]])
    parts = np.array([[[0.5], [-0.5]], [[0.25], [-0.25]]])
    # R2_1 = (2*1 - 0.5*0.75*2)/2 = 0.625 ; R2_2 = (2*0.5 - 0.25*0.75*2)/2 = 0.3125
    np.testing.assert_allclose(split_r2_score(y, parts).ravel(), [0.625, 0.3125])


# ---------------------------------------------------------------------------------------------
# a known answer
# ---------------------------------------------------------------------------------------------

def test_informative_space_gets_smallest_penalty_and_the_split_r2(rng):
    X, Y, Xt, Yt = _problem(rng, n=120, n_test=80, t=8, scales=(1.0, 0.0, 0.0), noise=1.0)
    model = BandedRidgeEncoder(groups=GROUPS, n_iter=20, alphas=ALPHAS, random_state=0,
                               device="cpu").fit(X, Y)
    assert np.all(model.weights_[0] > 0.9)
    penalty = np.exp(-model.deltas_)  # alpha / gamma_i, the effective penalty per space
    assert np.all(penalty.argmin(0) == 0)
    split = model.split_r2(Xt, Yt)
    assert np.all(split[0] > 0.5)
    assert np.all(np.abs(split[1:]) < 0.1)  # the noise spaces take ~0 (at most -0.06 here)
    assert np.abs(split[1:]).mean() < 0.02
    # himalaya, same candidates and folds, selects the same
    ref = _himalaya_fit(X, Y, model.candidates_, KFold(5), True)
    np.testing.assert_array_equal(np.exp(ref.deltas_).argmax(0), np.zeros(Y.shape[1]))
    np.testing.assert_array_equal(ref.deltas_, model.deltas_)


# ---------------------------------------------------------------------------------------------
# candidates, inputs, outputs
# ---------------------------------------------------------------------------------------------

def test_candidates_start_with_equal_weights_and_corners():
    cand = _candidates(10, 3, [0.1, 1.0], np.random.default_rng(0))
    np.testing.assert_allclose(cand[0], [1 / 3] * 3)
    np.testing.assert_array_equal(cand[1:4], np.eye(3))
    assert cand.shape == (10, 3)
    np.testing.assert_allclose(cand.sum(1), 1.0)
    np.testing.assert_array_equal(cand, _candidates(10, 3, [0.1, 1.0], np.random.default_rng(0)))
    assert _candidates(2, 3, 1.0, np.random.default_rng(0)).shape == (2, 3)


def test_random_state_reproducible_and_one_target(rng):
    X, Y, Xt, _ = _problem(rng, t=1)
    kw = dict(groups=GROUPS, n_iter=8, alphas=ALPHAS, random_state=3, device="cpu")
    a = BandedRidgeEncoder(**kw).fit(X, Y[:, 0])
    b = BandedRidgeEncoder(**kw).fit(X, Y)
    assert a.predict(Xt).shape == (len(Xt),)
    assert a.predict_split(Xt).shape == (3, len(Xt))
    np.testing.assert_allclose(a.predict(Xt), b.predict(Xt)[:, 0], atol=1e-12)
    np.testing.assert_array_equal(a.candidates_, b.candidates_)


def test_no_intercept_parts_sum_to_prediction(rng):
    X, Y, Xt, _ = _problem(rng, offset=0.0, t=4)
    model = BandedRidgeEncoder(groups=GROUPS, n_iter=6, alphas=ALPHAS, random_state=0,
                               device="cpu", fit_intercept=False).fit(X, Y)
    np.testing.assert_allclose(model.predict_split(Xt).sum(0), model.predict(Xt), atol=1e-12)
    np.testing.assert_array_equal(model.intercept_, 0.0)


def test_float32_close_to_float64(rng):
    X, Y, Xt, _ = _problem(rng, t=4)
    kw = dict(groups=GROUPS, n_iter=np.eye(3)[[0, 1]] * 0.5 + 1 / 6, alphas=[1.0, 100.0],
              device="cpu")
    p64 = BandedRidgeEncoder(**kw).fit(X, Y).predict(Xt)
    p32 = BandedRidgeEncoder(**kw, dtype="float32").fit(X, Y).predict(Xt)
    np.testing.assert_allclose(p32, p64, rtol=0, atol=1e-3 * np.abs(p64).max())


def test_dataarray_groups_by_layer_name(rng):
    X, Y, Xt, _ = _problem(rng, t=3)
    layers = np.repeat(["conv", "fc", "pool"], SIZES)
    ids = [f"s{i}" for i in range(len(X))]

    def feats(x, idx):
        return xr.DataArray(x, dims=("stimulus", "unit"),
                            coords={"stimulus": idx, "unit": [f"u{j}" for j in range(x.shape[1])],
                                    "layer": ("unit", layers)})

    Xda = feats(X, ids)
    Yda = xr.DataArray(Y, dims=("stimulus", "unit"),
                       coords={"stimulus": ids, "unit": ["v1", "v2", "v3"],
                               "region": ("unit", ["V1", "V1", "IT"])})
    kw = dict(n_iter=6, alphas=ALPHAS, random_state=0, device="cpu")
    by_name = BandedRidgeEncoder(groups=["conv", "fc", "pool"], **kw).fit(Xda, Yda)
    by_default = BandedRidgeEncoder(**kw).fit(Xda, Yda)  # None: one space per layer value
    by_index = BandedRidgeEncoder(groups=GROUPS, **kw).fit(X, Y)
    assert by_name.space_names_ == ["conv", "fc", "pool"] == by_default.space_names_
    Xtda = feats(Xt, [f"t{i}" for i in range(len(Xt))])
    pred = by_name.predict(Xtda)
    assert pred.dims == ("stimulus", "unit")
    assert list(pred["region"].values) == ["V1", "V1", "IT"]
    assert pred["stimulus"].values[0] == "t0"
    np.testing.assert_allclose(pred.values, by_index.predict(Xt), atol=1e-12)
    np.testing.assert_allclose(by_default.predict(Xtda).values, pred.values, atol=1e-12)
    parts = by_name.predict_split(Xtda)
    assert parts.dims == ("space", "stimulus", "unit")
    assert list(parts["space"].values) == ["conv", "fc", "pool"]
    split = by_name.split_r2(Xda, Yda)
    assert split.dims == ("space", "unit") and list(split["unit"].values) == ["v1", "v2", "v3"]
    assert by_name.score_per_target(Xda, Yda).dims == ("unit",)
    # columns of one layer need not be contiguous
    perm = rng.permutation(X.shape[1])
    shuffled = BandedRidgeEncoder(groups=["conv", "fc", "pool"], **kw).fit(Xda[:, perm], Yda)
    np.testing.assert_allclose(shuffled.predict(Xtda[:, perm]).values, pred.values, atol=1e-9)


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        BandedRidgeEncoder(groups=GROUPS).predict(np.zeros((2, 22)))


# ---------------------------------------------------------------------------------------------
# errors, with the full messages
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("groups, msg", [
    ([slice(0, 12), slice(10, 22)],
     "Invalid value for 'groups': feature spaces 0 and 1 overlap in columns [10, 11] "
     "(2 column(s)). Each column must belong to exactly one feature space."),
    ([slice(0, 5), [5, 6, 7]],
     "Invalid value for 'groups': columns [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, ...] "
     "(14 column(s)) of X belong to no feature space (X has 22 columns). Add them to a group, "
     "or drop them from X."),
    ([slice(0, 22)],
     "Invalid value for 'groups': BandedRidgeEncoder needs at least 2 feature spaces; got 1. "
     "Use RidgeEncoder for a single feature space."),
    (["conv", "fc"],
     "Invalid value for 'groups': the name 'conv' needs X to be a DataArray with a 'layer' "
     "coordinate on 'unit'; got ndarray. Pass column index arrays or slices for plain arrays, "
     "or set 'group_coord' to the coord that names the feature spaces."),
    (None,
     "Invalid value for 'groups': None needs X to be a DataArray with a 'layer' coordinate on "
     "'unit' (one feature space per value); got ndarray. Pass groups as a list of column index "
     "arrays or slices, e.g. groups=[slice(0, 10), slice(10, 30)]."),
    ([slice(0, 11), [11, 30]],
     "Invalid value for 'groups': entry 1 has column index(es) [30] out of range for X with 22 "
     "columns."),
    ([slice(0, 22), slice(22, 30)],
     "Invalid value for 'groups': entry 1 (slice(22, 30, None)) selects no columns; every "
     "feature space needs at least one column."),
])
def test_group_errors(rng, groups, msg):
    X, Y, _, _ = _problem(rng, n=20, n_test=0, t=2)
    with pytest.raises(ValueError, match=re.escape(msg)):
        BandedRidgeEncoder(groups=groups, device="cpu").fit(X, Y)


def test_unknown_group_name(rng):
    X, Y, _, _ = _problem(rng, n=20, n_test=0, t=2)
    Xda = xr.DataArray(X, dims=("stimulus", "unit"),
                       coords={"layer": ("unit", np.repeat(["conv", "fc", "pool"], SIZES))})
    msg = ("Invalid value for 'groups': 'fc7' is not a value of X's 'layer' coordinate; its "
           "values are 'conv', 'fc', 'pool'. Did you mean 'fc'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        BandedRidgeEncoder(groups=["conv", "fc7", "pool"], device="cpu").fit(Xda, Y)


@pytest.mark.parametrize("params, msg", [
    (dict(solver="hypergradient"),
     "Invalid value for 'solver': expected one of 'random_search'; got 'hypergradient'."),
    (dict(dtype="float16"),
     "Invalid value for 'dtype': expected one of 'float64', 'float32'; got 'float16'. "
     "Did you mean 'float64'?"),
    (dict(alphas=[1.0, -1.0]),
     "Invalid value for 'alphas': expected a positive float or a 1-D array of positive floats "
     "(e.g. np.logspace(-5, 5, 21)); got [1.0, -1.0]."),
    (dict(n_iter=np.ones((4, 2))),
     "Invalid value for 'n_iter': expected a positive int or an array of candidate weights of "
     "shape (n_candidates, 3), one column per feature space; got"),
    (dict(n_iter=0),
     "Invalid value for 'n_iter': expected a positive int or an array of candidate weights of "
     "shape (n_candidates, 3); got 0."),
    (dict(cv=None),
     "Invalid value for 'cv': expected an int >= 2 (K-fold), a splitter or an iterable of "
     "(train, test) index pairs; got None. Use e.g. cv=5."),
    (dict(n_iter=np.array([[1.0, -1.0, 1.0]])),
     "Invalid value for 'n_iter': candidate weights must be finite, >= 0, with at least one "
     "positive weight per row (rows on the simplex, summing to 1, keep 'alphas' "
     "interpretable)."),
])
def test_parameter_errors(rng, params, msg):
    X, Y, _, _ = _problem(rng, n=20, n_test=0, t=2)
    with pytest.raises(ValueError, match=re.escape(msg)):
        BandedRidgeEncoder(groups=GROUPS, device="cpu", **params).fit(X, Y)


def test_dataarray_sample_ids_must_agree(rng):
    X, Y, _, _ = _problem(rng, n=10, n_test=0, t=2)
    Xda = xr.DataArray(X, dims=("stimulus", "unit"), coords={"stimulus": list("abcdefghij")})
    Yda = xr.DataArray(Y, dims=("stimulus", "unit"), coords={"stimulus": list("jihgfedcba")})
    msg = ("Invalid inputs: X and y list different 'stimulus' ids or a different order. Align "
           "them first with brainbridge.align(X, y, dim='stimulus').")
    with pytest.raises(ValueError, match=re.escape(msg)):
        BandedRidgeEncoder(groups=GROUPS, device="cpu").fit(Xda, Yda)


# ---------------------------------------------------------------------------------------------
# scikit-learn contract and GPU
# ---------------------------------------------------------------------------------------------

class _Halves(BandedRidgeEncoder):
    """Test scaffold: the sklearn checks vary n_features, so split whatever X has in halves."""

    def _resolve_groups(self, X, n_features):
        half = max(n_features // 2, 1)
        return [np.arange(half), np.arange(half, n_features)], ["a", "b"]


_XFAIL: dict[str, str] = {}  # every check passes


@parametrize_with_checks([_Halves(n_iter=4, alphas=[0.1, 1.0, 10.0], cv=3, device="cpu")],
                         expected_failed_checks=lambda est: _XFAIL)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.mark.gpu
def test_cuda_matches_cpu(rng):
    X, Y, Xt, _ = _problem(rng)
    kw = dict(groups=GROUPS, n_iter=8, alphas=ALPHAS, random_state=0)
    cpu = BandedRidgeEncoder(device="cpu", **kw).fit(X, Y)
    gpu = BandedRidgeEncoder(device="cuda", **kw).fit(X, Y)
    np.testing.assert_array_equal(gpu.best_candidate_, cpu.best_candidate_)
    np.testing.assert_allclose(gpu.predict(Xt), cpu.predict(Xt), rtol=0, atol=1e-8)
