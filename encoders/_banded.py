"""Banded ridge regression: one penalty per feature space, fitted in kernel (dual) form.

The features ``X`` (n_samples, n_features) are split into feature spaces ``X_1 ... X_m``
(several models, layers or stimulus descriptors). Banded ridge fits, for each target ``y``,

.. math::

    \\hat w = \\arg\\min_w \\|y - \\sum_i X_i w_i\\|^2 + \\sum_i \\lambda_i \\|w_i\\|^2,

one penalty ``lambda_i`` per space, chosen by cross-validation. Writing
``lambda_i = alpha / gamma_i`` with space weights ``gamma`` on the simplex
(``gamma_i >= 0``, ``sum_i gamma_i = 1``) and a global ``alpha``, the solution is kernel ridge
regression on the weighted kernel ``K = sum_i gamma_i X_i X_i^T`` (Nunez-Elizalde et al. 2019;
Dupre la Tour et al. 2022, himalaya):

.. math::

    c = \\alpha (K + \\alpha I)^{-1} y, \\qquad
    \\hat y(X') = \\sum_i e^{\\delta_i} X'_i X_i^T c, \\qquad \\delta_i = \\log(\\gamma_i / \\alpha).

The random search tries candidate weight vectors ``gamma`` (the equal-weights point, the
simplex corners, then Dirichlet samples); for each candidate and each cross-validation fold
**one eigendecomposition** ``K_train = V diag(l) V^T`` serves every ``alpha`` of the grid and
every target: ``Y_val_hat(alpha) = K_val V diag(1 / (l + alpha)) V^T Y_train``. Each target
keeps the (gamma, alpha) pair with the best cross-validated R^2.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted

from .._checks import _check_option, _suggest, check_random_state
from .._config import resolve_device
from .._linalg import matmul
from .._scoring import r2_score

logger = logging.getLogger(__name__)

__all__ = ["BandedRidgeEncoder", "BandedRidgeResult", "solve_banded_ridge_random_search",
           "split_r2_score"]

_DTYPES = {"float64": "float64", "float32": "float32"}
_SAMPLE_DIMS = ("stimulus", "time")


# --------------------------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------------------------

def _candidates(n_iter: Any, n_spaces: int, concentration: Any, rng: np.random.Generator
                ) -> np.ndarray:
    """Candidate space weights, (n_candidates, n_spaces).

    An int ``n_iter`` gives the equal-weights point, the ``n_spaces`` simplex corners, then
    Dirichlet samples cycling over ``concentration`` (as himalaya's
    ``generate_dirichlet_samples``), ``n_iter`` rows in all. An array is used as given.
    """
    if isinstance(n_iter, numbers.Integral) and not isinstance(n_iter, bool):
        if n_iter < 1:
            raise ValueError(
                f"Invalid value for 'n_iter': expected a positive int or an array of candidate "
                f"weights of shape (n_candidates, {n_spaces}); got {n_iter!r}.")
        conc = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
        if conc.ndim != 1 or conc.size == 0 or not np.all(conc > 0):
            raise ValueError(
                "Invalid value for 'concentration': expected a positive float or a list of "
                f"positive floats (Dirichlet concentrations, e.g. [0.1, 1.0]); got {concentration!r}.")
        fixed = np.vstack([np.full((1, n_spaces), 1.0 / n_spaces), np.eye(n_spaces)])
        n_random = max(int(n_iter) - len(fixed), 0)
        per = int(np.ceil(n_random / conc.size)) if n_random else 0
        draws = [rng.dirichlet(np.full(n_spaces, c), per) if np.isfinite(c)
                 else np.full((per, n_spaces), 1.0 / n_spaces) for c in conc]
        # alternate the concentrations: [c0, c1, c0, c1, ...], as himalaya
        random = (np.stack(draws, 1).reshape(-1, n_spaces) if per else
                  np.zeros((0, n_spaces)))[:n_random]
        return np.vstack([fixed, random])[: int(n_iter)]
    cand = np.asarray(n_iter, dtype=np.float64) if not isinstance(n_iter, str) else None
    if cand is None or cand.ndim != 2 or cand.shape[1] != n_spaces or cand.shape[0] == 0:
        shape = getattr(cand, "shape", None)
        raise ValueError(
            f"Invalid value for 'n_iter': expected a positive int or an array of candidate "
            f"weights of shape (n_candidates, {n_spaces}), one column per feature space; got "
            f"{n_iter!r}" + (f" with shape {shape}." if shape is not None else "."))
    if not np.all(np.isfinite(cand)) or np.any(cand < 0) or np.any(cand.sum(1) <= 0):
        raise ValueError(
            "Invalid value for 'n_iter': candidate weights must be finite, >= 0, with at least "
            "one positive weight per row (rows on the simplex, summing to 1, keep 'alphas' "
            "interpretable).")
    return cand


# --------------------------------------------------------------------------------------------
# the solver
# --------------------------------------------------------------------------------------------

class BandedRidgeResult(NamedTuple):
    """Output of :func:`solve_banded_ridge_random_search` (CPU tensors).

    Examples
    --------
    >>> from brainbridge.encoders._banded import BandedRidgeResult
    >>> BandedRidgeResult._fields[:3]
    ('deltas', 'alphas', 'weights')
    """

    deltas: Any  #: (n_spaces, n_targets) log space weights, ``log(gamma / alpha)``
    alphas: Any  #: (n_targets,) selected global penalty
    weights: Any  #: (n_spaces, n_targets) selected space weights ``gamma`` (simplex rows)
    dual_coef: Any  #: (n_samples, n_targets) ``alpha (K + alpha I)^-1 (Y - Y_mean)``
    cv_scores: Any  #: (n_candidates, n_targets) CV R^2 of each candidate at its best alpha
    best_candidate: Any  #: (n_targets,) row of the candidate list each target selected
    x_mean: Any  #: (n_features,) training feature means (zeros without intercept)
    y_mean: Any  #: (n_targets,) training target means (zeros without intercept)


def _centre_kernels(K: Any, train: Any, test: Any) -> tuple[Any, Any]:
    """Train and test blocks of ``K`` centred with the training-fold feature means.

    Equals the kernels of ``X_train - mean`` and ``X_test - mean``, the training-fold mean.
    """
    ktr = K[train][:, train]
    kte = K[test][:, train]
    row_tr = ktr.mean(0)  # (n_train,)
    all_tr = row_tr.mean()
    ktr = ktr - row_tr[None, :] - row_tr[:, None] + all_tr
    kte = kte - kte.mean(1, keepdim=True) - row_tr[None, :] + all_tr
    return ktr, kte


def _eigh(K: Any) -> tuple[Any, Any]:
    """Eigendecomposition of a symmetric kernel, eigenvalues clamped at 0.

    CPU tensors go through numpy's LAPACK (``np.linalg.eigh``): measured here 10x faster
    than ``torch.linalg.eigh`` on an 800 x 800 float64 kernel (0.23 s vs 2.5 s).
    """
    if K.device.type == "cpu":
        lam_np, V_np = np.linalg.eigh(K.numpy())
        lam, V = torch.from_numpy(lam_np), torch.from_numpy(V_np)
    else:
        lam, V = torch.linalg.eigh(K)
    return lam.clamp_min(0), V  # round-off can make a PSD kernel's smallest ones negative


def _space_kernels(X: Any, cols: list[Any], device: Any, dtype: Any) -> Any:
    """``(n_spaces, n, n)`` linear kernels ``X_i X_i^T`` of the (already centred) features."""
    n = X.shape[0]
    Ks = torch.empty((len(cols), n, n), dtype=dtype, device=device)
    for i, c in enumerate(cols):
        xi = X[:, c]
        matmul(xi, xi.T, out=Ks[i])
    return Ks


def solve_banded_ridge_random_search(
    X: Any, Y: Any, *, groups: Sequence[Any], candidates: Any, alphas: Any, splits: Sequence[Any],
    fit_intercept: bool = True, n_targets_batch: int | None = None, device: Any = "auto",
    dtype: str = "float64",
) -> BandedRidgeResult:
    """Banded ridge by random search over space weights and a per-target grid of alphas.

    For each candidate ``gamma`` (a row of ``candidates``) and each fold, the training kernel
    ``K = sum_i gamma_i X_i X_i^T`` (features centred with the training-fold means when
    ``fit_intercept``) is diagonalised once, ``K = V diag(l) V^T``; validation predictions for
    every alpha are ``K_val V diag(1/(l + alpha)) V^T Y_train``, scored by R^2 per target
    (``1 - SSE / SST``, SST about the validation mean) and averaged over folds in float64.
    A target's best alpha per candidate is the argmax of that mean plus ``1e-10 log(alpha)``
    (ties go to the larger alpha); its best candidate is the first one whose score beats all
    earlier ones by more than the dtype's machine epsilon -- both rules as in himalaya's
    ``solve_multiple_kernel_ridge_random_search``, so the same candidates give the same choice.
    The refit on all samples needs one eigendecomposition per candidate that some target chose.

    Parameters
    ----------
    X : array or tensor, (n_samples, n_features)
    Y : array or tensor, (n_samples, n_targets)
    groups : list of slices or int index arrays
        Columns of each feature space; they must partition the columns.
    candidates : array, (n_candidates, n_spaces)
        Space weights to try.
    alphas : array, (n_alphas,)
        Global penalties (positive).
    splits : list of (train, test) int index arrays
    fit_intercept : bool, default=True
        Centre features and targets with the training means (per fold, and for the refit).
    n_targets_batch : int or None, default=None
        Targets processed together (None: up to 4096). ``Y`` stays on the CPU; batches move
        to ``device``. Peak memory of the search grows as ``n_test * n_alphas * batch``.
    device : str or torch.device, default="auto"
        "auto": CUDA when present (or ``$BRAINBRIDGE_DEVICE``), else the CPU.
    dtype : {"float64", "float32"}, default="float64"

    Returns
    -------
    BandedRidgeResult
        CPU tensors; see the field comments.

    Examples
    --------
    Only the first of two feature spaces drives the target, so the search weights it most:

    >>> import numpy as np
    >>> from brainbridge.encoders import solve_banded_ridge_random_search
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 4))
    >>> Y = X[:, :2] @ [[1.0], [-1.0]] + 0.5 * rng.standard_normal((60, 1))
    >>> folds = [(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
    >>> res = solve_banded_ridge_random_search(
    ...     X, Y, groups=[slice(0, 2), slice(2, 4)], candidates=[[0.5, 0.5], [0.9, 0.1], [0.1, 0.9]],
    ...     alphas=[10.0, 100.0], splits=folds, device="cpu")
    >>> res.weights[:, 0].tolist(), res.alphas.tolist()
    ([0.9, 0.1], [10.0])
    >>> res.cv_scores[:, 0].numpy().round(2).tolist()
    [0.67, 0.76, 0.32]
    """
    tdtype = getattr(torch, dtype)
    device = resolve_device(device)
    Xt = X.to(tdtype) if torch.is_tensor(X) else torch.from_numpy(np.array(X, dtype=dtype))
    Yt = Y.to(tdtype) if torch.is_tensor(Y) else torch.from_numpy(np.array(Y, dtype=dtype))
    n, t = Yt.shape
    batch = int(n_targets_batch or min(t, 4096))
    gam = torch.as_tensor(np.asarray(candidates), dtype=tdtype, device=device)
    al = torch.as_tensor(np.asarray(alphas), dtype=tdtype, device=device)
    n_cand, n_alph = gam.shape[0], al.shape[0]
    eps = float(np.finfo(dtype).eps)
    tie = (torch.log(al.to(torch.float64)) * 1e-10)[:, None]  # prefer larger alphas on ties

    # Centre once with the full-data means: fold centring below then only corrects small
    # offsets, which keeps the kernel subtraction accurate (also in float32).
    x_mean = Xt.mean(0, dtype=torch.float64).to(tdtype) if fit_intercept else torch.zeros(
        Xt.shape[1], dtype=tdtype)
    y_mean = Yt.mean(0, dtype=torch.float64).to(tdtype) if fit_intercept else torch.zeros(
        t, dtype=tdtype)
    Xc = (Xt - x_mean).to(device)
    Ks = _space_kernels(Xc, list(groups), device, tdtype)
    del Xc

    best_score = torch.full((t,), -np.inf, dtype=torch.float64)
    best_cand = torch.zeros(t, dtype=torch.long)
    best_alpha = torch.ones(t, dtype=tdtype)
    cv_scores = torch.zeros((n_cand, t), dtype=torch.float64)
    folds = [(torch.as_tensor(np.asarray(tr), device=device),
              torch.as_tensor(np.asarray(te), device=device)) for tr, te in splits]

    for c in range(n_cand):
        K = torch.einsum("s,sij->ij", gam[c], Ks)
        score_sum = torch.zeros((n_alph, t), dtype=torch.float64)
        for tr, te in folds:
            if fit_intercept:
                ktr, kte = _centre_kernels(K, tr, te)
            else:
                ktr, kte = K[tr][:, tr], K[te][:, tr]
            lam, V = _eigh(ktr)
            A = matmul(kte, V)  # (n_test, n_train)
            inv = 1.0 / (lam[None, :] + al[:, None])  # (n_alphas, n_train)
            tr_c, te_c = tr.cpu(), te.cpu()
            for s in range(0, t, batch):
                yb = Yt[:, s:s + batch]
                ytr, yte = yb[tr_c].to(device), yb[te_c].to(device)
                if fit_intercept:
                    mu = ytr.mean(0)
                    ytr, yte = ytr - mu, yte - mu
                B = matmul(V.T.contiguous(), ytr)  # (n_train, nb)
                nb = B.shape[1]
                sst = ((yte - yte.mean(0)) ** 2).sum(0, dtype=torch.float64)
                sst_safe = torch.where(sst > 0, sst, torch.ones_like(sst))
                # all alphas in one product: (n_test, n_train) @ (n_train, n_alphas * nb)
                scaled = (inv[:, :, None] * B[None]).permute(1, 0, 2).reshape(B.shape[0], -1)
                pred = matmul(A, scaled).reshape(A.shape[0], n_alph, nb)
                del scaled
                sse = pred.sub_(yte[:, None, :]).pow_(2).sum(0, dtype=torch.float64)
                del pred
                # search criterion only: a target constant in this fold scores 0 for every
                # alpha and candidate (as himalaya), so the fold does not sway the choice;
                # reported scores follow brainbridge._scoring (NaN)
                r2 = torch.where(sst > 0, 1.0 - sse / sst_safe, torch.zeros_like(sse))
                score_sum[:, s:s + batch] += r2.cpu()
        mean = score_sum / len(folds) + tie.cpu()
        arg = mean.argmax(0)
        score = mean.gather(0, arg[None])[0]
        cv_scores[c] = score
        better = score > best_score + eps
        best_score = torch.where(better, score, best_score)
        best_cand[better] = c
        best_alpha[better] = al.cpu()[arg[better]]
        logger.debug("banded ridge: candidate %d/%d, %d targets improved", c + 1, n_cand,
                     int(better.sum()))

    # refit on all samples: one eigendecomposition per chosen candidate
    dual = torch.zeros((n, t), dtype=tdtype)
    for c in torch.unique(best_cand).tolist():
        idx = torch.nonzero(best_cand == c).ravel()
        lam, V = _eigh(torch.einsum("s,sij->ij", gam[c], Ks))
        for s in range(0, idx.numel(), batch):
            ib = idx[s:s + batch]
            yc = (Yt[:, ib] - y_mean[ib]).to(device)
            a = best_alpha[ib].to(device)
            B = matmul(V.T.contiguous(), yc) / (lam[:, None] + a[None, :])
            dual[:, ib] = (matmul(V, B) * a[None, :]).cpu()

    weights = gam.cpu()[best_cand].T.contiguous()  # (n_spaces, n_targets)
    deltas = torch.log(weights / best_alpha[None, :])  # -inf where a weight is 0
    return BandedRidgeResult(deltas, best_alpha, weights, dual, cv_scores.to(tdtype),
                             best_cand, x_mean, y_mean)


# --------------------------------------------------------------------------------------------
# split R^2
# --------------------------------------------------------------------------------------------

def split_r2_score(y_true: Any, y_pred_split: Any) -> np.ndarray:
    """Split the R^2 of a sum of per-space predictions into per-space parts (product measure).

    With ``y_hat = sum_i y_hat_i`` and zero-mean ``y`` (subtract the model's intercept first),

    .. math::

        R^2_i = \\frac{\\sum_t \\left(2\\, y_t \\hat y_{i,t} - \\hat y_{i,t}\\,\\hat y_t\\right)}
                      {\\sum_t y_t^2}, \\qquad \\sum_i R^2_i = 1 - \\frac{\\sum_t (y_t - \\hat y_t)^2}
                      {\\sum_t y_t^2},

    the definition of himalaya's ``r2_score_split(include_correlation=True)``: each space
    gets its own explained part plus half of every covariance term it shares with another.
    Sums over samples are accumulated in float64. A target with ``sum_t y_t^2 = 0`` (nothing
    to explain) gets NaN in every space, the policy of :mod:`brainbridge._scoring`.

    Parameters
    ----------
    y_true : array, (n_samples, n_targets)
        Targets, centred (the denominator is ``sum y^2``).
    y_pred_split : array, (n_spaces, n_samples, n_targets)
        Per-space contributions to the prediction.

    Returns
    -------
    ndarray, (n_spaces, n_targets)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0], [-1.0]])
    >>> parts = np.array([[[0.5], [-0.5]], [[0.25], [-0.25]]])
    >>> split_r2_score(y, parts).ravel().round(4)
    array([0.625 , 0.3125])
    """
    y = torch.as_tensor(np.asarray(y_true), dtype=torch.float64)
    p = torch.as_tensor(np.asarray(y_pred_split), dtype=torch.float64)
    if p.ndim != 3 or p.shape[1:] != y.shape:
        raise ValueError(
            f"Invalid shapes: 'y_pred_split' must be (n_spaces, {', '.join(map(str, y.shape))}) "
            f"to match 'y_true' {tuple(y.shape)}; got {tuple(p.shape)}.")
    total = p.sum(0)
    sst = (y ** 2).sum(0)
    num = (2 * y[None] * p - p * total[None]).sum(1)
    split = num / torch.where(sst > 0, sst, torch.ones_like(sst))
    return torch.where(sst > 0, split, torch.full_like(split, float("nan"))).numpy()


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------

def _is_dataarray(x: Any) -> bool:
    return isinstance(x, xr.DataArray)


def _sample_dim(da: Any, name: str) -> str:
    others = [d for d in da.dims if d != "unit"]
    if "unit" not in da.dims or len(others) != 1:
        raise ValueError(
            f"Invalid value for {name!r}: a DataArray must have two dims, 'unit' and one sample "
            f"dim (e.g. 'stimulus' or 'time'); got dims {tuple(da.dims)}. Reduce or stack the "
            "extra dims first, e.g. da.mean('trial').")
    return others[0]


def _as_2d(x: Any, name: str) -> tuple[np.ndarray, str | None]:
    """``(array (n_samples, n_columns), sample dim or None)``; DataArrays go (sample, unit)."""
    if _is_dataarray(x):
        dim = _sample_dim(x, name)
        return np.asarray(x.transpose(dim, "unit").values), dim
    return x, None


def _fmt_cols(cols: np.ndarray) -> str:
    shown = ", ".join(str(int(c)) for c in cols[:10])
    return f"[{shown}{', ...' if cols.size > 10 else ''}] ({cols.size} column(s))"


def _resolve_groups(groups: Any, X: Any, n_features: int, group_coord: str
                    ) -> tuple[list[Any], list[str]]:
    """Column index arrays and names of the feature spaces; check they partition the columns."""
    names_avail: list[Hashable] | None = None
    coord_values = None
    if _is_dataarray(X) and group_coord in X.coords and X[group_coord].dims == ("unit",):
        coord_values = np.asarray(X[group_coord].values)
        names_avail = list(dict.fromkeys(coord_values.tolist()))
    if groups is None:
        if names_avail is None:
            raise ValueError(
                "Invalid value for 'groups': None needs X to be a DataArray with a "
                f"{group_coord!r} coordinate on 'unit' (one feature space per value); got "
                f"{type(X).__name__}" + (" without it" if _is_dataarray(X) else "") + ". Pass "
                "groups as a list of column index arrays or slices, e.g. "
                "groups=[slice(0, 10), slice(10, 30)].")
        groups = names_avail
    if isinstance(groups, (str, slice)) or not isinstance(groups, Sequence | np.ndarray):
        raise ValueError(
            "Invalid value for 'groups': expected a list with one entry per feature space (column "
            f"index arrays, slices, or {group_coord!r} names); got {groups!r}.")
    cols: list[np.ndarray] = []
    labels: list[str] = []
    for k, g in enumerate(groups):
        if isinstance(g, str):
            if coord_values is None or names_avail is None:
                raise ValueError(
                    f"Invalid value for 'groups': the name {g!r} needs X to be a DataArray with "
                    f"a {group_coord!r} coordinate on 'unit'; got {type(X).__name__}"
                    + (" without it" if _is_dataarray(X) else "") + ". Pass column index "
                    "arrays or slices for plain arrays, or set 'group_coord' to the coord that "
                    "names the feature spaces.")
            if g not in names_avail:
                opts = ", ".join(repr(str(v)) for v in names_avail)
                raise ValueError(
                    f"Invalid value for 'groups': {g!r} is not a value of X's {group_coord!r} "
                    f"coordinate; its values are {opts}.{_suggest(g, map(str, names_avail))}")
            idx = np.flatnonzero(coord_values == g)
            labels.append(g)
        elif isinstance(g, slice):
            idx = np.arange(n_features)[g]
            labels.append(f"space{k}")
        else:
            arr = np.asarray(g)
            if arr.dtype == bool or arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
                raise ValueError(
                    f"Invalid value for 'groups': entry {k} must be a slice, a 1-D array of int "
                    f"column indices, or a {group_coord!r} name; got {g!r}.")
            bad = arr[(arr < -n_features) | (arr >= n_features)]
            if bad.size:
                raise ValueError(
                    f"Invalid value for 'groups': entry {k} has column index(es) "
                    f"{bad[:10].tolist()} out of range for X with {n_features} columns.")
            idx = np.unique(arr % n_features) if arr.size else arr.astype(np.int64)
            if idx.size != arr.size:
                raise ValueError(
                    f"Invalid value for 'groups': entry {k} lists some columns twice; list each "
                    "column once.")
            labels.append(f"space{k}")
        if idx.size == 0:
            raise ValueError(
                f"Invalid value for 'groups': entry {k} ({g!r}) selects no columns; every "
                "feature space needs at least one column.")
        cols.append(np.asarray(idx, dtype=np.int64))
    if len(cols) < 2:
        raise ValueError(
            f"Invalid value for 'groups': BandedRidgeEncoder needs at least 2 feature spaces; "
            f"got {len(cols)}. Use RidgeEncoder for a single feature space.")
    owner = np.full(n_features, -1)
    for k, idx in enumerate(cols):
        clash = idx[owner[idx] >= 0]
        if clash.size:
            other = int(owner[clash[0]])
            raise ValueError(
                f"Invalid value for 'groups': feature spaces {other} and {k} overlap in columns "
                f"{_fmt_cols(clash)}. Each column must belong to exactly one feature space.")
        owner[idx] = k
    missing = np.flatnonzero(owner < 0)
    if missing.size:
        raise ValueError(
            f"Invalid value for 'groups': columns {_fmt_cols(missing)} of X belong to no feature "
            f"space (X has {n_features} columns). Add them to a group, or drop them from X.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"Invalid value for 'groups': names repeat in {labels}; list each once.")
    return cols, labels


def _compact(idx: np.ndarray) -> Any:
    """A slice when the indices are contiguous and increasing, else the index array."""
    if idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


# --------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------

_SOLVERS = {"random_search": solve_banded_ridge_random_search}


class BandedRidgeEncoder(RegressorMixin, BaseEstimator):
    """Banded ridge encoder: one ridge penalty per feature space, per target.

    For each target ``y`` the model is ``y_hat = b + sum_i X_i w_i`` with
    ``w = argmin ||y - sum_i X_i w_i||^2 + sum_i (alpha / gamma_i) ||w_i||^2``: the space
    weights ``gamma`` (on the simplex) and the global penalty ``alpha`` are chosen per target
    by cross-validated R^2 (random search over ``gamma``, grid over ``alpha``). It is solved in
    kernel (dual) form, ``K = sum_i gamma_i X_i X_i^T``, with one eigendecomposition per
    candidate and fold serving every alpha and every target, in torch on CPU or GPU.
    A space that does not help gets ``gamma_i`` near 0, i.e. a large effective penalty
    ``alpha / gamma_i``.

    Parameters
    ----------
    groups : list or None, default=None
        The feature spaces, one entry each, partitioning X's columns:

        - column index arrays or slices, e.g. ``[slice(0, 512), slice(512, 1280)]``;
        - names, when X is an assembly (DataArray with a ``unit`` dim) whose ``group_coord``
          coordinate labels the columns, e.g. ``["conv3", "fc7"]`` with ``group_coord="layer"``;
        - None: X must be such an assembly; one space per value of ``group_coord``, in order
          of first appearance.
    n_iter : int or array (n_candidates, n_spaces), default=100
        Number of candidate weight vectors: the equal-weights point, the simplex corners, then
        Dirichlet samples (concentrations cycling over ``concentration``). An array is the
        candidate list itself (rows are used as given; rows summing to 1 keep ``alphas``
        interpretable).
    alphas : array (n_alphas,), default=np.logspace(-5, 5, 21)
        Grid of global penalties (positive), searched per target for each candidate.
    cv : int, splitter or iterable of (train, test), default=5
        Cross-validation for the search; an int is ``KFold(cv)`` (contiguous folds, no
        shuffling). Pass ``GroupKFold`` splits (a list) to keep runs / blocks together.
    solver : {"random_search"}, default="random_search"
        Hyper-gradient refinement is not implemented yet.
    concentration : float or list of float, default=(0.1, 1.0)
        Dirichlet concentrations of the random candidates (small: near the corners).
    group_coord : str, default="layer"
        The ``unit`` coordinate that names feature spaces when X is a DataArray.
    n_targets_batch : int or None, default=None
        Targets processed together (None: up to 4096); lower it to bound memory (the search
        holds ``n_validation_samples * n_alphas * n_targets_batch`` predictions at a time).
    random_state : int, np.random.Generator or None, default=None
        Seeds the Dirichlet draws.
    device : str or torch.device, default="auto"
        "auto": CUDA when present (or ``$BRAINBRIDGE_DEVICE``), else the CPU.
    dtype : {"float64", "float32"}, default="float64"
        Compute dtype; CV scores are accumulated in float64 either way.
    fit_intercept : bool, default=True
        Centre features and targets with training means (per fold in the search).

    Attributes
    ----------
    deltas_ : ndarray (n_spaces, n_targets)
        Log space weights, ``log(gamma_i / alpha)`` (himalaya's convention; ``-inf`` for a
        space with weight 0). Effective penalty of space i: ``exp(-deltas_[i])``.
    weights_ : ndarray (n_spaces, n_targets)
        Selected space weights ``gamma`` (each column sums to 1 for simplex candidates).
    alpha_ : ndarray (n_targets,)
        Selected global penalty per target.
    dual_coef_ : ndarray (n_samples_fit, n_targets)
        ``alpha (K + alpha I)^-1 (Y - mean)``; the prediction is
        ``sum_i exp(deltas_[i]) (X_i - mean_i) X_fit_i^T dual_coef_ + y_offset_``.
    intercept_ : ndarray (n_targets,)
        ``predict(X) = sum_i exp(deltas_[i]) X_i X_fit_i^T dual_coef_ + intercept_`` with X
        uncentred (the convention of himalaya and scikit-learn).
    y_offset_ : ndarray (n_targets,)
        Training target means (zeros without intercept); ``predict_split(X).sum(0) +
        y_offset_ == predict(X)``.
    cv_scores_ : ndarray (n_candidates, n_targets)
        Cross-validated R^2 of each candidate at its best alpha, averaged over folds.
    candidates_ : ndarray (n_candidates, n_spaces)
        The weight vectors tried.
    best_candidate_ : ndarray (n_targets,)
        Row of ``candidates_`` each target selected.
    space_names_ : list of str
        Names of the spaces (``group_coord`` values, else ``"space0"``, ``"space1"``, ...).
    groups_ : list of slices or int arrays
        Columns of each space.
    X_fit_ : ndarray (n_samples_fit, n_features)
        Training features, centred; kept for the dual-form prediction.

    Notes
    -----
    ``score`` returns the mean R^2 over targets (the scikit-learn scalar);
    ``score_per_target`` the per-target values, ``split_r2`` the per-space split.
    Per-target scores depart from scikit-learn's scalar ``score``: a target that is constant
    over the scored samples gets NaN, not scikit-learn's 1 or 0 (the policy of
    :mod:`brainbridge._scoring`, shared by every encoder), and ``score`` averages the others.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.encoders import BandedRidgeEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Y = X[:, :4] @ rng.standard_normal((4, 3)) + 0.1 * rng.standard_normal((60, 3))
    >>> model = BandedRidgeEncoder(groups=[slice(0, 4), slice(4, 8)], n_iter=10,
    ...                            alphas=np.logspace(-3, 3, 7), random_state=0, device="cpu")
    >>> model = model.fit(X, Y)
    >>> model.weights_.argmax(0)  # the informative first space dominates every target
    array([0, 0, 0])
    >>> model.predict_split(X).shape  # (n_spaces, n_samples, n_targets)
    (2, 60, 3)
    >>> bool(model.score(X, Y) > 0.95)
    True
    """

    def __init__(self, groups: Any = None, *, n_iter: Any = 100, alphas: Any = None, cv: Any = 5,
                 solver: str = "random_search", concentration: Any = (0.1, 1.0),
                 group_coord: str = "layer", n_targets_batch: int | None = None,
                 random_state: Any = None, device: Any = "auto", dtype: str = "float64",
                 fit_intercept: bool = True) -> None:
        self.groups = groups
        self.n_iter = n_iter
        self.alphas = alphas
        self.cv = cv
        self.solver = solver
        self.concentration = concentration
        self.group_coord = group_coord
        self.n_targets_batch = n_targets_batch
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.fit_intercept = fit_intercept

    # ---- sklearn plumbing
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _resolve_groups(self, X: Any, n_features: int) -> tuple[list[Any], list[str]]:
        return _resolve_groups(self.groups, X, n_features, self.group_coord)

    def _alphas(self) -> np.ndarray:
        a = np.logspace(-5, 5, 21) if self.alphas is None else np.atleast_1d(
            np.asarray(self.alphas, dtype=np.float64))
        if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(
                "Invalid value for 'alphas': expected a positive float or a 1-D array of "
                f"positive floats (e.g. np.logspace(-5, 5, 21)); got {self.alphas!r}.")
        return np.unique(a)

    def fit(self, X: Any, y: Any) -> BandedRidgeEncoder:
        """Fit the model: search space weights and penalties per target, then refit.

        Parameters
        ----------
        X : array (n_samples, n_features) or DataArray with dims (sample, "unit")
            Features. A DataArray's ``group_coord`` coordinate can name the spaces.
        y : array (n_samples,) or (n_samples, n_targets), or DataArray (sample, "unit")
            Targets. When both are DataArrays their sample ids must agree (use
            ``brainbridge.align`` first).

        Returns
        -------
        self
        """
        from sklearn.utils.validation import validate_data

        _check_option("solver", self.solver, _SOLVERS)
        _check_option("dtype", self.dtype, _DTYPES)
        Xa, xdim = _as_2d(X, "X")
        ya, ydim = _as_2d(y, "y")
        if xdim is not None and ydim is not None:
            self._check_ids(X, y, xdim, ydim)
        Xa, ya = validate_data(self, Xa, ya, multi_output=True, y_numeric=True,
                               dtype=np.float64)
        cols, names = self._resolve_groups(X, Xa.shape[1])
        rng = check_random_state(self.random_state)
        cand = _candidates(self.n_iter, len(cols), self.concentration, rng)
        alphas = self._alphas()
        if self.cv is None:
            raise ValueError(
                "Invalid value for 'cv': expected an int >= 2 (K-fold), a splitter or an "
                "iterable of (train, test) index pairs; got None. Use e.g. cv=5.")
        cv = check_cv(self.cv)
        splits = list(cv.split(Xa))
        for k, (tr, te) in enumerate(splits):
            if len(tr) == 0 or len(te) == 0:
                raise ValueError(
                    f"Invalid value for 'cv': split {k} has an empty training or validation "
                    f"set; {len(Xa)} samples cannot make {len(splits)} folds this way.")
        device = resolve_device(self.device)
        self._ravel = ya.ndim == 1
        Y2 = ya[:, None] if self._ravel else ya
        groups = [_compact(c) for c in cols]
        res = _SOLVERS[self.solver](
            Xa, Y2, groups=groups, candidates=cand, alphas=alphas, splits=splits,
            fit_intercept=self.fit_intercept, n_targets_batch=self.n_targets_batch,
            device=device, dtype=self.dtype)

        self.groups_ = groups
        self.space_names_ = names
        self.candidates_ = cand
        self.deltas_ = res.deltas.numpy()
        self.weights_ = res.weights.numpy()
        self.alpha_ = res.alphas.numpy()
        self.dual_coef_ = res.dual_coef.numpy()
        self.cv_scores_ = res.cv_scores.numpy()
        self.best_candidate_ = res.best_candidate.numpy()
        self.x_mean_ = res.x_mean.numpy()
        self.y_offset_ = res.y_mean.numpy()
        self.X_fit_ = (Xa.astype(self.dtype) - self.x_mean_).astype(self.dtype)
        # intercept in the uncentred convention: b = y_mean - sum_i e^d_i mean_i X_fit_i^T c
        shift = np.zeros_like(self.y_offset_)
        for i, g in enumerate(groups):
            proj = self.x_mean_[g] @ (self.X_fit_[:, g].T @ self.dual_coef_)
            shift = shift + np.exp(self.deltas_[i]) * proj
        self.intercept_ = self.y_offset_ - shift
        self._y_unit = y["unit"] if ydim is not None else None
        logger.info("banded ridge: %d targets, %d spaces, %d candidates x %d alphas x %d folds",
                    Y2.shape[1], len(groups), len(cand), len(alphas), len(splits))
        return self

    @staticmethod
    def _check_ids(X: Any, y: Any, xdim: str, ydim: str) -> None:
        if xdim != ydim:
            raise ValueError(
                f"Invalid inputs: X's sample dim is {xdim!r} but y's is {ydim!r}; they must "
                "match. Rename one, e.g. y.rename({" + f"{ydim!r}: {xdim!r}" + "}).")
        if xdim in X.coords and ydim in y.coords and not np.array_equal(
                np.asarray(X[xdim].values), np.asarray(y[ydim].values)):
            raise ValueError(
                f"Invalid inputs: X and y list different {xdim!r} ids or a different order. "
                "Align them first with brainbridge.align(X, y, dim=" + f"{xdim!r}).")

    # ---- prediction
    def _contributions(self, X: Any) -> Any:
        """(n_spaces, n_samples, n_targets) float64 tensor of centred per-space contributions."""
        from sklearn.utils.validation import validate_data

        check_is_fitted(self)
        Xa, _ = _as_2d(X, "X")
        Xa = validate_data(self, Xa, reset=False, dtype=np.float64)
        device = resolve_device(self.device)
        tdtype = getattr(torch, self.dtype)
        xt = torch.as_tensor(Xa - self.x_mean_, dtype=tdtype, device=device)
        xf = torch.as_tensor(self.X_fit_, dtype=tdtype, device=device)
        dual = torch.as_tensor(self.dual_coef_, dtype=tdtype, device=device)
        scale = torch.as_tensor(np.exp(self.deltas_), dtype=tdtype, device=device)
        out = torch.empty((len(self.groups_), xt.shape[0], dual.shape[1]), dtype=torch.float64)
        for i, g in enumerate(self.groups_):
            g = torch.as_tensor(g) if not isinstance(g, slice) else g
            k = matmul(xt[:, g].contiguous(), xf[:, g].T.contiguous())
            out[i] = (matmul(k, dual) * scale[i][None, :]).to("cpu", torch.float64)
        return out

    def _wrap(self, values: np.ndarray, X: Any, lead: tuple[str, ...] = ()) -> Any:
        """A DataArray (lead..., sample, unit) when X was one, else the array (raveled 1-target)."""
        if not _is_dataarray(X):
            return values[..., 0] if self._ravel else values

        dim = _sample_dim(X, "X")
        coords: dict[str, Any] = {}
        if dim in X.coords:
            coords[dim] = X[dim]
        if "space" in lead:
            coords["space"] = list(self.space_names_)
        if self._y_unit is not None:
            coords.update({k: v.variable for k, v in self._y_unit.coords.items()
                           if v.dims == ("unit",)})
        else:
            coords["unit"] = [f"target{j}" for j in range(values.shape[-1])]
        return xr.DataArray(values, dims=(*lead, dim, "unit"), coords=coords)

    def predict(self, X: Any) -> Any:
        """Predicted responses, ``sum_i exp(deltas_[i]) (X_i - mean_i) X_fit_i^T dual_coef_ + y_offset_``.

        Parameters
        ----------
        X : array (n_samples, n_features) or DataArray (sample, "unit")

        Returns
        -------
        ndarray (n_samples, n_targets), or (n_samples,) if fitted on 1-D ``y``; a DataArray
        (sample, "unit") with the targets' unit coords when X is a DataArray.
        """
        pred = self._contributions(X).sum(0).numpy() + self.y_offset_[None, :]
        return self._wrap(pred, X)

    def predict_split(self, X: Any) -> Any:
        """Per-space contributions to the prediction, ``exp(deltas_[i]) (X_i - mean_i) X_fit_i^T c``.

        ``predict_split(X).sum(0) + y_offset_`` equals ``predict(X)``; without an intercept the
        contributions sum to the prediction exactly. Features are centred with the training
        means, so a constant offset in one space moves no contribution.

        Returns
        -------
        ndarray (n_spaces, n_samples, n_targets); a DataArray ("space", sample, "unit") when
        X is a DataArray.
        """
        parts = self._contributions(X).numpy()
        if not _is_dataarray(X):
            return parts[..., 0] if self._ravel else parts
        return self._wrap(parts, X, lead=("space",))

    # ---- scores
    def _targets(self, y: Any) -> np.ndarray:
        ya, _ = _as_2d(y, "y")
        ya = np.asarray(ya, dtype=np.float64)
        if ya.ndim == 1:
            ya = ya[:, None]
        if ya.ndim != 2 or ya.shape[1] != self.dual_coef_.shape[1]:
            raise ValueError(
                f"Invalid value for 'y': expected {self.dual_coef_.shape[1]} target(s), as in "
                f"fit; got shape {tuple(np.shape(ya))}.")
        return ya

    def _per_target(self, values: np.ndarray, y: Any, lead: tuple[str, ...] = ()) -> Any:
        if not _is_dataarray(y):
            return values[..., 0] if self._ravel else values

        coords = {k: v.variable for k, v in y["unit"].coords.items() if v.dims == ("unit",)}
        if lead:
            coords["space"] = list(self.space_names_)
        return xr.DataArray(values, dims=(*lead, "unit"), coords=coords)

    def score_per_target(self, X: Any, y: Any) -> Any:
        """R^2 per target, ``1 - sum (y - y_hat)^2 / sum (y - mean(y))^2`` (sums in float64).

        Per-target scores depart from scikit-learn's scalar ``score``: one value per target,
        and NaN for a target that is constant over the samples of ``y`` (where
        ``sklearn.metrics.r2_score`` gives 1 or 0); see :mod:`brainbridge._scoring`.
        Returns (n_targets,), or a DataArray ("unit",) when y is one.
        """
        yt = self._targets(y)
        pred = self._contributions(X).sum(0).numpy() + self.y_offset_[None, :]
        return self._per_target(np.atleast_1d(r2_score(yt, pred)), y)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean R^2 over targets (the scalar scikit-learn expects); see ``score_per_target``.

        Constant targets (NaN per-target scores) are left out of the mean; NaN when every
        target is constant. With ``sample_weight``, scikit-learn's weighted ``r2_score``.
        """
        if sample_weight is not None:
            from sklearn.metrics import r2_score as sk_r2_score

            pred = np.asarray(self.predict(X))
            ya, _ = _as_2d(y, "y")
            return float(sk_r2_score(ya, pred, sample_weight=sample_weight))
        values = np.asarray(self.score_per_target(X, y), dtype=np.float64)
        finite = np.isfinite(values)
        return float(values[finite].mean()) if finite.any() else float("nan")

    def split_r2(self, X: Any, y: Any) -> Any:
        """Per-space split R^2 (product measure), summing over spaces to the model's R^2.

        ``R^2_i = sum_t (2 r_t y_hat_i,t - y_hat_i,t y_hat_t) / sum_t r_t^2`` with
        ``r = y - y_offset_`` (targets about the training mean) and ``y_hat_i`` from
        :meth:`predict_split`; see :func:`split_r2_score`. The parts sum to
        ``1 - SSE / sum_t r_t^2``, which is ``score_per_target`` when the mean of ``y`` equals
        the training mean (close to it on held-out data from the same distribution).

        Returns
        -------
        ndarray (n_spaces, n_targets); a DataArray ("space", "unit") when y is a DataArray.
        """
        r = self._targets(y) - self.y_offset_[None, :]
        parts = self._contributions(X).numpy()
        return self._per_target(split_r2_score(r, parts), y, lead=("space",))
