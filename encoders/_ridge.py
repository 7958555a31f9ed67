"""``RidgeEncoder``: ridge regression with one cross-validated penalty per target.

A scikit-learn estimator over the pure solver :func:`~brainbridge.encoders._solvers.solve_ridge_cv`
(the equations, the decomposition shared by every penalty / target / fold, and the dtype policy
are documented there), plus :func:`fit_distributed`, which splits the targets over a
``dask.distributed`` cluster.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, clone
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from .._checks import _check_option, _validate_type, check_scalar
from .._scoring import r2_score
from ._solvers import (
    DEFAULT_ALPHAS,
    FORMS,
    SCORES,
    RidgeCVResult,
    _check_batch,
    _concat_results,
    _cpu_threads,
    _plan_for,
    _solve_with_plan,
)

logger = logging.getLogger(__name__)

_SAMPLE_DIMS = ("stimulus", "time")


def _is_dataarray(obj: Any) -> bool:
    return isinstance(obj, xr.DataArray)


def _sample_dim(da: Any, name: str) -> str:
    if da.ndim not in (1, 2):
        raise ValueError(f"Invalid value for {name!r}: expected a DataArray with dims (samples, "
                         f"'unit') or (samples,); got dims {tuple(da.dims)}. Stack or select "
                         "extra dims first, e.g. da.mean('trial').")
    others = [d for d in da.dims if d != "unit"]
    if len(others) != 1:
        raise ValueError(f"Invalid value for {name!r}: expected one sample dim (e.g. 'stimulus' "
                         f"or 'time') besides 'unit'; got dims {tuple(da.dims)}.")
    return str(others[0])


def _values(obj: Any, name: str) -> tuple[Any, str | None]:
    """``(samples, units)`` values of a DataArray (its sample dim), or the object unchanged."""
    if not _is_dataarray(obj):
        return obj, None
    dim = _sample_dim(obj, name)
    order = (dim, "unit") if "unit" in obj.dims else (dim,)
    return obj.transpose(*order).values, dim


def _nanmean(scores: Any) -> float:
    """Mean of the finite per-target scores; NaN (no warning) when there is none."""
    values = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(values)
    return float(values[finite].mean()) if finite.any() else float("nan")


def _check_finite(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind not in "fc":
        return
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise ValueError(
            f"Invalid value for {name!r}: expected finite values; got {n_nan} NaN and {n_inf} "
            "inf entries. Drop or impute them first (e.g. keep the units recorded in every "
            "sample, or sklearn.impute.SimpleImputer)."
        )


class RidgeEncoder(MultiOutputMixin, RegressorMixin, BaseEstimator):
    r"""Ridge encoding model with one penalty per target, chosen by cross-validation.

    For each target (unit, voxel, channel) ``t``::

        w_t = argmin_w ||X_c w - y_t,c||^2 + alpha_t ||w||^2,   alpha_t = argmax_alpha CV(alpha, t)

    with an unpenalised intercept. One decomposition of the training features serves every
    penalty, every target and every fold; the primal (``n_features <= n_samples``) or dual
    (kernel) form is chosen from the shape; targets are processed in batches. See
    :func:`brainbridge.encoders.solve_ridge_cv` for the identity used and the dtype policy.

    Parameters
    ----------
    alphas : sequence of float or None, default=None
        Penalties to try. None uses ``np.logspace(-2, 7, 10)`` (one per decade): the penalty
        multiplies ``||w||^2`` against a *sum* of squared errors, so the useful range scales
        with ``n_samples x`` feature variance; with standardised features and 10^2-10^5 samples
        the eigenvalues of ``X^T X`` span roughly 10^-2-10^7. A penalty at either end of the
        grid for many targets is logged (INFO): widen the grid then.
    cv : int, "gcv", "loo", splitter or iterable of (train, test), default=5
        int: unshuffled ``KFold``; ``"gcv"`` (alias ``"loo"``): exact efficient leave-one-out
        on all samples (what scikit-learn's ``RidgeCV(cv=None)`` does); a splitter, or
        explicit ``(train, test)`` index pairs for runs / blocks (e.g.
        ``list(GroupKFold(5).split(X, groups=runs))``). ``None`` is refused: say ``"gcv"`` or
        an int.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept (refitted inside every training fold).
    solver : {"auto", "primal", "dual"}, default="auto"
        Form of the solver; "auto" picks primal when ``n_features <= n_samples``.
    n_targets_batch : int or None, default=None
        Targets per batch (None: batches of about 256 MiB of scratch memory).
    device : str or torch.device, default="auto"
        Compute device (CUDA when present); fitted attributes are numpy arrays.
    score_func : {"r2", "neg_mse"}, default="r2"
        Criterion, averaged over folds, used to choose each target's penalty.

    Attributes
    ----------
    alpha_ : ndarray, shape (n_targets,) (float for a 1-d ``y``)
        Chosen penalty per target.
    cv_scores_ : ndarray, shape (n_alphas, n_targets) (``(n_alphas,)`` for a 1-d ``y``)
        Mean cross-validation score of every penalty in ``alphas_``.
    alphas_ : ndarray, shape (n_alphas,)
        The penalty grid used.
    coef_ : ndarray, shape (n_targets, n_features) (``(n_features,)`` for a 1-d ``y``)
        Weights; only in the primal form.
    dual_coef_ : ndarray, shape (n_samples, n_targets)
        Dual weights; only in the dual form, with ``X_fit_`` (centred training features,
        ``(n_samples, n_features)``): predictions are ``X @ X_fit_.T @ dual_coef_ + intercept_``.
    intercept_ : ndarray, shape (n_targets,) (float for a 1-d ``y``)
    form_ : str
        "primal" or "dual".
    n_features_in_ : int
    unit_ : ndarray or None
        Unit ids of ``Y`` when it was a DataArray with a ``unit`` dim (used by ``predict``).

    Notes
    -----
    ``score(X, Y)`` returns the scikit-learn scalar, the R^2 averaged over the targets that can
    be scored; :meth:`score_per_target` returns one R^2 per target (like himalaya's
    ``Ridge.score``, which returns per-target scores instead of the scikit-learn scalar).
    Per-target scores depart from scikit-learn's scalar ``score`` in one more way: a target
    that is constant over the scored samples gets NaN (nothing to explain), not scikit-learn's
    1 or 0, the policy of :mod:`brainbridge._scoring` shared by every encoder and
    ``encoding_score``. The penalty search (``cv_scores_``) keeps scikit-learn's convention
    within a fold (a fold where a target is constant adds the same score to every penalty).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.encoders import RidgeEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 10))
    >>> Y = X @ rng.standard_normal((10, 4)) + rng.standard_normal((200, 4))
    >>> enc = RidgeEncoder(alphas=[0.1, 10.0, 1000.0], device="cpu").fit(X[:150], Y[:150])
    >>> enc.alpha_.shape, enc.coef_.shape, enc.form_
    ((4,), (4, 10), 'primal')
    >>> bool(enc.score(X[150:], Y[150:]) > 0.8), enc.score_per_target(X[150:], Y[150:]).shape
    (True, (4,))
    """

    def __init__(self, alphas: Any = None, cv: Any = 5, fit_intercept: bool = True,
                 solver: str = "auto", n_targets_batch: int | None = None,
                 device: Any = "auto", score_func: str = "r2"):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.n_targets_batch = n_targets_batch
        self.device = device
        self.score_func = score_func

    # ----------------------------------------------------------------- fitting
    def _validate_fit(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray, dict]:
        _validate_type("fit_intercept", self.fit_intercept, (bool, np.bool_), "a bool")
        _check_option("solver", self.solver, FORMS)
        _check_option("score_func", self.score_func, list(SCORES))
        _check_batch(self.n_targets_batch)
        meta: dict[str, Any] = {"unit": None, "unit_coords": {}}
        x, _ = _values(X, "X")
        if _is_dataarray(Y):
            if "unit" in Y.dims:
                meta["unit"] = np.asarray(Y["unit"].values)
                meta["unit_coords"] = {k: np.asarray(v.values) for k, v in Y.coords.items()
                                       if v.dims == ("unit",) and k != "unit"}
        y, _ = _values(Y, "Y")
        if Y is not None and X is not None:
            n_x, n_y = _num_samples(x), _num_samples(y)
            if n_x != n_y:
                raise ValueError(
                    f"Invalid shapes: X and Y must have the same number of samples (rows); got "
                    f"X with {n_x} and Y with {n_y}. Align them first, e.g. with "
                    "brainbridge.align(features, responses)."
                )
        for arr, name in ((x, "X"), (y, "Y")):  # before sklearn's own, less specific check
            if arr is not None and not hasattr(arr, "toarray"):
                _check_finite(np.asarray(arr), name)
        x, y = validate_data(self, x, y, reset=True, multi_output=True, y_numeric=True,
                             dtype=[np.float64, np.float32], ensure_all_finite=False)
        _check_finite(x, "X")
        y = np.asarray(y)
        _check_finite(y, "Y")
        meta["y_1d"] = y.ndim == 1
        dtype = np.float32 if (x.dtype == np.float32 and y.dtype == np.float32) else np.float64
        y = y.astype(dtype, copy=False)
        if x.dtype != dtype:
            x = x.astype(dtype)
        return x, (y[:, None] if y.ndim == 1 else y), meta

    def _plan(self, x: np.ndarray, y: np.ndarray) -> Any:
        alphas = DEFAULT_ALPHAS if self.alphas is None else self.alphas
        return _plan_for(x, y, alphas=alphas, cv=self.cv, fit_intercept=bool(self.fit_intercept),
                         form=self.solver, score=self.score_func, device=self.device, dtype=None)

    def _set_result(self, res: RidgeCVResult, meta: dict) -> None:
        one = meta["y_1d"]
        self.alphas_ = res.alphas
        self.alpha_ = float(res.best_alphas[0]) if one else res.best_alphas
        self.cv_scores_ = res.cv_scores[:, 0] if one else res.cv_scores
        self.intercept_ = float(res.intercept[0]) if one else res.intercept
        self.form_ = res.form
        for name in ("coef_", "dual_coef_", "X_fit_"):
            self.__dict__.pop(name, None)
        if res.form == "primal":
            assert res.coef is not None  # set in the primal form
            self.coef_ = res.coef[:, 0] if one else res.coef.T
        else:
            assert res.dual_coef is not None and res.x_fit is not None  # set in the dual form
            self.dual_coef_ = res.dual_coef[:, 0] if one else res.dual_coef
            self.X_fit_ = res.x_fit
        self.unit_ = meta["unit"]
        self._unit_coords = meta["unit_coords"]
        self._y_1d = one
        edge = np.isin(res.best_alphas, [res.alphas.min(), res.alphas.max()]).mean()
        if res.alphas.size > 1 and edge > 0.1:
            logger.info("RidgeEncoder: %.0f%% of targets chose a penalty at the edge of the grid "
                        "[%g, %g]; consider widening 'alphas'.", 100 * edge, res.alphas.min(),
                        res.alphas.max())

    def fit(self, X: Any, Y: Any) -> RidgeEncoder:
        """Choose each target's penalty by cross-validation and refit on all samples.

        Parameters
        ----------
        X : array or DataArray, shape (n_samples, n_features)
            Features; a DataArray uses its values, samples along its non-``unit`` dim.
            Alignment of stimuli / times with ``Y`` is the caller's job (see
            ``brainbridge.align``).
        Y : array or DataArray, shape (n_samples, n_targets) or (n_samples,)
            Responses; a DataArray's ``unit`` ids are kept for ``predict``.

        Returns
        -------
        self : RidgeEncoder
        """
        x, y, meta = self._validate_fit(X, Y)
        plan = self._plan(x, y)
        with _cpu_threads(plan.device):
            self._set_result(_solve_with_plan(plan, y, self.n_targets_batch), meta)
        return self

    # --------------------------------------------------------------- predicting
    def _predict_values(self, X: Any) -> tuple[np.ndarray, Any]:
        check_is_fitted(self)
        x, dim = _values(X, "X")
        x = validate_data(self, x, reset=False, dtype=[np.float64, np.float32],
                          ensure_all_finite=False)
        _check_finite(x, "X")
        if self.form_ == "primal":
            coef = self.coef_ if self._y_1d else self.coef_.T
            pred = x.astype(coef.dtype, copy=False) @ coef + self.intercept_
        else:
            xf = self.X_fit_
            kernel = x.astype(xf.dtype, copy=False) @ xf.T
            pred = kernel @ self.dual_coef_ + self.intercept_
        return pred, dim

    def predict(self, X: Any) -> Any:
        """Predicted responses, ``X @ coef_.T + intercept_`` (or the dual equivalent).

        Parameters
        ----------
        X : array or DataArray, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples, n_targets) (``(n_samples,)`` after a 1-d fit), or a DataArray
        with dims (X's sample dim, ``"unit"``), X's sample coords and Y's unit ids, when ``X`` is
        a DataArray.
        """
        pred, dim = self._predict_values(X)
        if dim is None:
            return pred

        coords = {k: v for k, v in X.coords.items() if v.dims == (dim,)}
        if self._y_1d:
            return xr.DataArray(pred, dims=(dim,), coords=coords, name="prediction")
        units = self.unit_ if self.unit_ is not None else \
            np.array([str(i) for i in range(pred.shape[1])])
        coords["unit"] = ("unit", units)
        for k, v in self._unit_coords.items():
            coords[k] = ("unit", v)
        return xr.DataArray(pred, dims=(dim, "unit"), coords=coords, name="prediction",
                            attrs={"source": "brainbridge.encoders.RidgeEncoder prediction"})

    def score_per_target(self, X: Any, Y: Any) -> Any:
        """R^2 of the predictions, one per target: ``1 - SSE_t / SST_t`` (float64 sums).

        Per-target scores depart from scikit-learn's scalar ``score``: one value per target,
        and NaN for a target that is constant over the samples of ``Y`` (where
        ``sklearn.metrics.r2_score`` would give 1 or 0); see :mod:`brainbridge._scoring`.

        Returns
        -------
        ndarray, shape (n_targets,), or a DataArray over ``unit`` when ``Y`` is a DataArray.
        """
        pred, _ = self._predict_values(X)
        y, _ = _values(Y, "Y")
        y = np.asarray(y, dtype=np.float64)
        if y.shape[0] != pred.shape[0]:
            raise ValueError(f"Invalid shapes: X and Y must have the same number of samples "
                             f"(rows); got X with {pred.shape[0]} and Y with {y.shape[0]}.")
        _check_finite(y, "Y")
        y2 = y[:, None] if y.ndim == 1 else y
        p2 = pred[:, None] if pred.ndim == 1 else pred
        r2 = r2_score(y2, p2)
        if _is_dataarray(Y) and "unit" in Y.dims:
            import xarray as xr

            return xr.DataArray(r2, dims=("unit",), coords={"unit": Y["unit"].values},
                                name="r2")
        return r2

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over targets of :meth:`score_per_target` (the scikit-learn scalar R^2).

        Constant targets (NaN per-target scores) are left out of the mean; NaN when every
        target is constant. With ``sample_weight``, scikit-learn's weighted ``r2_score``.
        """
        if sample_weight is not None:
            return super().score(X, y, sample_weight=sample_weight)
        return _nanmean(self.score_per_target(X, y))


def fit_distributed(encoder: RidgeEncoder, X: Any, Y: Any, *, client: Any,
                    n_chunks: int | None = None) -> RidgeEncoder:
    """Fit a copy of ``encoder`` with its targets split over a ``dask.distributed`` cluster.

    The features are decomposed once, here; the decomposition and every fold's
    target-independent matrices (the "plan") are broadcast to the workers, each of which solves
    one contiguous chunk of targets. Every target is solved from the same plan as in
    ``encoder.fit``, so the results are those of the single-process fit.

    Parameters
    ----------
    encoder : RidgeEncoder
        Unfitted (or fitted: it is cloned, never modified).
    X, Y : arrays or DataArrays
        As in :meth:`RidgeEncoder.fit`.
    client : distributed.Client
        A connected client.
    n_chunks : int or None, default=None
        Number of target chunks (tasks); None: one per worker thread.

    Returns
    -------
    RidgeEncoder
        A fitted clone.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> with LocalCluster(n_workers=2, processes=False) as c, Client(c) as client:  # doctest: +SKIP
    ...     enc = fit_distributed(RidgeEncoder(), X, Y, client=client)
    """
    _validate_type("encoder", encoder, RidgeEncoder, "a RidgeEncoder")
    est = clone(encoder)
    x, y, meta = est._validate_fit(X, Y)
    if n_chunks is None:
        n_chunks = max(1, sum(client.nthreads().values()))
    n_chunks = check_scalar("n_chunks", n_chunks, int, low=1)
    plan = est._plan(x, y)
    bounds = np.linspace(0, y.shape[1], min(n_chunks, y.shape[1]) + 1).round().astype(int)
    plan_f = client.scatter(plan, broadcast=True)
    chunks = client.scatter([np.ascontiguousarray(y[:, a:b]) for a, b in zip(bounds[:-1],
                                                                            bounds[1:])])
    futures = [client.submit(_solve_with_plan, plan_f, c, est.n_targets_batch, pure=False)
               for c in chunks]
    est._set_result(_concat_results(client.gather(futures)), meta)
    return est
