"""RidgeEncoder and solve_ridge_cv against scikit-learn, himalaya and explicit per-fold loops.

Tolerances: float64 predictions, coefficients and CV scores agree with the references to
rtol 1e-8 (the references use an SVD of X, we use an eigendecomposition of the Gram matrix
and a block leave-out identity; observed differences are ~1e-13). Chosen penalties are
compared exactly (same grid), except himalaya's, which it recomputes as exp(-log(alpha)) and
so differs from the grid by ~1 ulp (rtol 1e-10). float32 fits are compared with float64 fits
to rtol 1e-4 on predictions.
"""

from __future__ import annotations

import doctest
import importlib
import logging
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, TimeSeriesSplit
from sklearn.utils.estimator_checks import parametrize_with_checks

import brainbridge as bb
from brainbridge.encoders import RidgeEncoder, fit_distributed, solve_ridge_cv

ALPHAS = np.logspace(-2, 4, 13)


def make_data(rng, n, p, t, noise=2.0, offset=3.0):
    """Correlated features with a mean, targets of varying signal-to-noise ratio."""
    X = rng.standard_normal((n, p)) @ (np.eye(p) + 0.3 * rng.standard_normal((p, p))) + 1.5
    W = rng.standard_normal((p, t)) * rng.uniform(0.02, 1.0, t)
    Y = X @ W + noise * rng.standard_normal((n, t)) + offset
    return X, Y


def predict(res, X):
    if res.form == "primal":
        return X @ res.coef + res.intercept
    return X @ res.x_fit.T @ res.dual_coef + res.intercept


# ------------------------------------------------------------------ references


@pytest.mark.parametrize(("n", "p"), [(80, 12), (70, 50), (40, 90)])
def test_gcv_matches_sklearn(rng, n, p):
    X, Y = make_data(rng, n, p, 9)
    res = solve_ridge_cv(X, Y, alphas=ALPHAS, cv="gcv", score_func="neg_mse", device="cpu")
    ref = RidgeCV(alphas=ALPHAS, alpha_per_target=True, store_cv_results=True).fit(X, Y)
    assert res.form == ("primal" if p <= n else "dual")
    assert_array_equal(res.best_alphas, ref.alpha_)
    assert len(np.unique(res.best_alphas)) > 1  # the test discriminates between penalties
    assert_allclose(predict(res, X), ref.predict(X), rtol=1e-8, atol=1e-10)
    # sklearn's cv_results_: squared leave-one-out errors, (n_samples, n_targets, n_alphas)
    assert_allclose(res.cv_scores, -ref.cv_results_.mean(0).T, rtol=1e-8)
    # r2 ranks the penalties the same way under leave-one-out
    r2 = solve_ridge_cv(X, Y, alphas=ALPHAS, cv="gcv", score_func="r2", device="cpu")
    assert_array_equal(r2.best_alphas, ref.alpha_)


@pytest.mark.parametrize(("n", "p"), [(90, 8), (90, 40), (50, 80)])
@pytest.mark.parametrize("score", ["neg_mse", "r2"])
def test_kfold_matches_himalaya(rng, n, p, score):
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV
    from himalaya.scoring import l2_neg_loss
    from himalaya.scoring import r2_score as h_r2

    X, Y = make_data(rng, n, p, 10)
    cv = KFold(5)
    enc = RidgeEncoder(alphas=ALPHAS, cv=cv, score_func=score, device="cpu").fit(X, Y)
    ref = HimalayaRidgeCV(alphas=ALPHAS, cv=cv, fit_intercept=True, solver_params=dict(
        warn=False, score_func=l2_neg_loss if score == "neg_mse" else h_r2)).fit(X, Y)
    assert_allclose(enc.alpha_, ref.best_alphas_, rtol=1e-10)
    assert len(np.unique(enc.alpha_)) > 1
    assert_allclose(enc.predict(X), ref.predict(X), rtol=1e-8, atol=1e-10)
    best = np.searchsorted(ALPHAS, enc.alpha_)
    # himalaya adds 1e-10 * log(alpha) to the mean score to break ties
    assert_allclose(enc.cv_scores_[best, np.arange(Y.shape[1])], ref.cv_scores_, atol=1e-9)
    if enc.form_ == "primal":
        assert_allclose(enc.coef_, np.asarray(ref.coef_).T, rtol=1e-8, atol=1e-10)
        assert_allclose(enc.intercept_, ref.intercept_, rtol=1e-8)


def loop_reference(X, Y, alphas, splits):
    """Per fold, per penalty: scikit-learn Ridge with intercept; per-fold R^2 averaged."""
    scores = np.zeros((len(alphas), Y.shape[1]))
    for train, test in splits:
        for k, a in enumerate(alphas):
            pred = Ridge(alpha=a).fit(X[train], Y[train]).predict(X[test])
            scores[k] += r2_score(Y[test], pred, multioutput="raw_values")
    return scores / len(splits)


@pytest.mark.parametrize(("n", "p"), [(60, 6), (60, 30), (40, 70)])
def test_any_splitter_matches_loop(rng, n, p):
    """Splits whose training rows are not the validation complement, and overlapping ones."""
    X, Y = make_data(rng, n, p, 5)
    alphas = ALPHAS[::3]
    for splits in (list(TimeSeriesSplit(4).split(X)),
                   [(np.arange(20, n), np.arange(0, 20)), (np.arange(0, n - 15), np.arange(n - 15, n)),
                    (np.r_[0:10, 30:n], np.arange(10, 30))]):
        res = solve_ridge_cv(X, Y, alphas=alphas, cv=splits, device="cpu")
        assert_allclose(res.cv_scores, loop_reference(X, Y, alphas, splits), rtol=1e-8,
                        atol=1e-10)
        best = alphas[np.argmax(res.cv_scores, axis=0)]
        assert_array_equal(res.best_alphas, best)
        for t in range(Y.shape[1]):
            ref = Ridge(alpha=best[t]).fit(X, Y[:, t])
            assert_allclose(predict(res, X)[:, t], ref.predict(X), rtol=1e-8, atol=1e-10)


def test_no_intercept_matches_himalaya(rng):
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV

    X, Y = make_data(rng, 80, 20, 6, offset=0.0)
    X -= X.mean(0)
    Y -= Y.mean(0)
    enc = RidgeEncoder(alphas=ALPHAS, cv=KFold(4), fit_intercept=False,
                       score_func="neg_mse", device="cpu").fit(X, Y)
    ref = HimalayaRidgeCV(alphas=ALPHAS, cv=KFold(4)).fit(X, Y)
    assert_allclose(enc.alpha_, ref.best_alphas_, rtol=1e-10)
    assert_allclose(enc.predict(X), ref.predict(X), rtol=1e-8, atol=1e-10)
    assert_array_equal(enc.intercept_, np.zeros(6))


# ------------------------------------------------------------------ internal consistency


@pytest.mark.parametrize("cv", [5, "gcv"])
def test_primal_and_dual_agree(rng, cv):
    X, Y = make_data(rng, 50, 35, 8)
    primal = RidgeEncoder(alphas=ALPHAS, cv=cv, solver="primal", device="cpu").fit(X, Y)
    dual = RidgeEncoder(alphas=ALPHAS, cv=cv, solver="dual", device="cpu").fit(X, Y)
    assert (primal.form_, dual.form_) == ("primal", "dual")
    assert hasattr(primal, "coef_") and not hasattr(primal, "dual_coef_")
    assert hasattr(dual, "dual_coef_") and not hasattr(dual, "coef_")
    assert_array_equal(primal.alpha_, dual.alpha_)
    assert_allclose(primal.cv_scores_, dual.cv_scores_, rtol=1e-9, atol=1e-11)
    assert_allclose(primal.predict(X), dual.predict(X), rtol=1e-9, atol=1e-10)
    assert_allclose(primal.coef_, (dual.X_fit_.T @ dual.dual_coef_).T, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("cv", [5, "gcv"])
def test_target_batches_give_identical_results(rng, cv):
    X, Y = make_data(rng, 60, 20, 11)
    whole = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=cv, device="cpu")
    batched = solve_ridge_cv(X, Y, alphas=ALPHAS, cv=cv, n_targets_batch=3, device="cpu")
    assert_array_equal(batched.best_alphas, whole.best_alphas)
    assert_allclose(batched.cv_scores, whole.cv_scores, rtol=1e-12, atol=1e-14)
    assert_allclose(batched.coef, whole.coef, rtol=1e-12, atol=1e-14)
    assert_allclose(batched.intercept, whole.intercept, rtol=1e-12, atol=1e-14)


def test_float32_inputs(rng):
    X, Y = make_data(rng, 120, 30, 8)
    enc64 = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X, Y)
    enc32 = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X.astype(np.float32),
                                                         Y.astype(np.float32))
    assert enc32.coef_.dtype == np.float32
    pred32 = enc32.predict(X.astype(np.float32))
    assert pred32.dtype == np.float32
    assert_array_equal(enc32.alpha_, enc64.alpha_)
    assert_allclose(pred32, enc64.predict(X), rtol=1e-4, atol=1e-4 * np.abs(Y).max())
    assert_allclose(enc32.cv_scores_, enc64.cv_scores_, atol=1e-4)


def test_float32_ill_conditioned_falls_back_to_float64(rng, caplog):
    """Dual form with a tiny penalty: (I - H_VV)^-1 amplifies float32 rounding errors."""
    X, Y = make_data(rng, 40, 200, 4)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    alphas = [1e-6, 1e-3, 1.0]
    with caplog.at_level(logging.INFO, logger="brainbridge.encoders._solvers"):
        res32 = solve_ridge_cv(X, Y, alphas=alphas, device="cpu")
    assert "computing in float64 instead of float32" in caplog.text
    # the same float32-rounded data, in float64 from the start
    res64 = solve_ridge_cv(X.astype(np.float64), Y.astype(np.float64), alphas=alphas,
                           device="cpu")
    assert res32.dual_coef.dtype == np.float64
    assert_allclose(res32.cv_scores, res64.cv_scores, rtol=1e-9)
    assert_allclose(res32.dual_coef, res64.dual_coef, rtol=1e-9)


def test_one_dimensional_target(rng):
    X, Y = make_data(rng, 50, 5, 1)
    enc = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X, Y[:, 0])
    assert isinstance(enc.alpha_, float) and isinstance(enc.intercept_, float)
    assert enc.coef_.shape == (5,) and enc.cv_scores_.shape == (13,)
    assert enc.predict(X).shape == (50,)
    two = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X, Y)
    assert_allclose(enc.predict(X), two.predict(X)[:, 0], rtol=1e-12)


def test_score_matches_sklearn_r2(rng):
    X, Y = make_data(rng, 80, 10, 6)
    enc = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X[:60], Y[:60])
    pred = enc.predict(X[60:])
    assert_allclose(enc.score_per_target(X[60:], Y[60:]),
                    r2_score(Y[60:], pred, multioutput="raw_values"), rtol=1e-12)
    assert enc.score(X[60:], Y[60:]) == pytest.approx(r2_score(Y[60:], pred), rel=1e-12)


def test_loo_is_an_alias_of_gcv(rng):
    X, Y = make_data(rng, 50, 8, 4)
    gcv = RidgeEncoder(alphas=ALPHAS, cv="gcv", device="cpu").fit(X, Y)
    loo = RidgeEncoder(alphas=ALPHAS, cv="loo", device="cpu").fit(X, Y)
    ref = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y)  # cv=None: leave-one-out
    assert_array_equal(loo.alpha_, gcv.alpha_)
    assert_array_equal(loo.alpha_, ref.alpha_)
    assert_allclose(loo.predict(X), ref.predict(X), rtol=1e-8)
    enc = RidgeEncoder(alphas=ALPHAS, n_targets_batch=np.int64(2), device="cpu").fit(X, Y)
    assert_allclose(enc.predict(X), RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X, Y).predict(X),
                    rtol=1e-12)


def test_constant_target_scores_nan(rng):
    # One scoring policy for every encoder (brainbridge._scoring, issue #14): a target that is
    # constant over the scored samples has nothing to explain, so its R^2 is NaN (it used to
    # be scikit-learn's 1 / 0 here, and NaN in AttentionReadout and encoding_score).
    X, Y = make_data(rng, 80, 10, 4)
    enc = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X[:60], Y[:60])
    Yt = Y[60:].copy()
    Yt[:, 1] = 2.0
    per = enc.score_per_target(X[60:], Yt)
    ref = r2_score(Yt, enc.predict(X[60:]), multioutput="raw_values")
    assert np.isnan(per[1])
    assert_allclose(np.delete(per, 1), np.delete(ref, 1), rtol=1e-12)
    assert enc.score(X[60:], Yt) == pytest.approx(np.mean(np.delete(ref, 1)), rel=1e-12)
    assert np.isnan(enc.score(X[60:], np.full((20, 4), 2.0)))


def test_assemblies_in_and_out(rng):
    X, Y = make_data(rng, 40, 6, 3)
    stim = [f"s{i}" for i in range(40)]
    feats = bb.assembly(X, dims=("stimulus", "unit"), modality="ann",
                        coords={"stimulus": stim, "unit": [f"f{i}" for i in range(6)]})
    resp = bb.assembly(Y.T, dims=("unit", "stimulus"), modality="fmri",
                       coords={"stimulus": stim, "unit": ["v1", "v2", "v3"],
                               "region": ("unit", ["V1", "V1", "IT"])})
    enc = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(feats, resp)
    ref = RidgeEncoder(alphas=ALPHAS, device="cpu").fit(X, Y)
    pred = enc.predict(feats)
    assert pred.dims == ("stimulus", "unit")
    assert list(pred["unit"].values) == ["v1", "v2", "v3"]
    assert list(pred["region"].values) == ["V1", "V1", "IT"]
    assert list(pred["stimulus"].values) == stim
    assert_allclose(pred.values, ref.predict(X), rtol=1e-12)
    scores = enc.score_per_target(feats, resp)
    assert scores.dims == ("unit",)
    assert_allclose(scores.values, ref.score_per_target(X, Y), rtol=1e-12)


# ------------------------------------------------------------------ errors


def test_error_messages(rng):
    X, Y = make_data(rng, 30, 4, 2)
    msg = ("Invalid shapes: X and Y must have the same number of samples (rows); got X with 30 "
           "and Y with 29. Align them first, e.g. with brainbridge.align(features, responses).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder().fit(X, Y[:-1])
    with pytest.raises(ValueError, match=re.escape(msg)):
        solve_ridge_cv(X, Y[:-1])
    bad = X.copy()
    bad[0, 0], bad[1, 1] = np.nan, np.inf
    msg = ("Invalid value for 'X': expected finite values; got 1 NaN and 1 inf entries. Drop or "
           "impute them first (e.g. keep the units recorded in every sample, or "
           "sklearn.impute.SimpleImputer).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder().fit(bad, Y)
    bad = Y.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape(msg.replace("'X'", "'Y'").replace(
            "1 NaN and 1 inf", "1 NaN and 0 inf"))):
        RidgeEncoder().fit(X, bad)
    msg = ("Invalid value for 'alphas': every penalty must be positive and finite; got [0.0, "
           "-1.0]. Use e.g. np.logspace(-2, 7, 10).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder(alphas=[0.0, 1.0, -1.0]).fit(X, Y)
    msg = ("This RidgeEncoder instance is not fitted yet. Call 'fit' with appropriate arguments "
           "before using this estimator.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder().predict(X)
    msg = ("Invalid value for 'solver': expected one of 'auto', 'primal', 'dual'; got 'primel'. "
           "Did you mean 'primal'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder(solver="primel").fit(X, Y)
    msg = "Invalid value for 'cv': expected one of 'gcv', 'loo'; got 'lo'. Did you mean 'loo'?"
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder(cv="lo").fit(X, Y)
    # cv=None is refused: scikit-learn's RidgeCV(cv=None) means leave-one-out, check_cv(None)
    # means 5-fold; it used to do the latter silently (issue #14)
    msg = ("Invalid value for 'cv': expected an int >= 2 (K-fold), 'gcv' or 'loo' (efficient "
           "leave-one-out), a splitter or an iterable of (train, test) index pairs; got None. "
           "Use cv='gcv' for what scikit-learn's RidgeCV(cv=None) does, or cv=5 for 5-fold.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder(cv=None).fit(X, Y)
    with pytest.raises(ValueError, match=re.escape(msg)):
        solve_ridge_cv(X, Y, cv=None)
    msg = "Invalid value for 'n_targets_batch': expected an integer >= 1 or None; got 0."
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder(n_targets_batch=0).fit(X, Y)
    msg = ("Invalid value for 'cv': 50 folds need at least 50 samples; got n_samples=30. Use "
           "fewer folds or cv='gcv'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder(cv=50).fit(X, Y)


# ------------------------------------------------------------------ estimator contract


def expected_failed_checks(estimator):
    # None: every scikit-learn check passes (check_array_api_input skips without
    # SCIPY_ARRAY_API; RidgeEncoder converts to numpy / torch itself).
    return {}


@parametrize_with_checks([RidgeEncoder(device="cpu")],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="SCIPY_ARRAY_API is not set")
        check(estimator)


# ------------------------------------------------------------------ distributed


def test_fit_distributed_matches_single_process(rng):
    distributed = pytest.importorskip("distributed")
    X, Y = make_data(rng, 60, 15, 23)
    enc = RidgeEncoder(alphas=ALPHAS, device="cpu")
    single = enc.fit(X, Y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dist = fit_distributed(RidgeEncoder(alphas=ALPHAS, device="cpu"), X, Y, client=client,
                               n_chunks=3)
    assert_array_equal(dist.alpha_, single.alpha_)
    assert_allclose(dist.coef_, single.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(dist.intercept_, single.intercept_, rtol=1e-12, atol=1e-14)
    assert_allclose(dist.cv_scores_, single.cv_scores_, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ docs


@pytest.mark.parametrize("name", ["brainbridge.encoders._solvers", "brainbridge.encoders._ridge"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
