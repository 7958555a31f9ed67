"""Ridge regression with one penalty per target chosen by cross-validation: the pure solver.

The model, for each target ``t`` and penalty ``alpha``::

    w_t(alpha) = argmin_w ||X_c w - Y_c[:, t]||^2 + alpha ||w||^2
               = (X_c^T X_c + alpha I)^{-1} X_c^T Y_c[:, t]            (primal form)
               = X_c^T (X_c X_c^T + alpha I)^{-1} Y_c[:, t]            (dual / kernel form)

with ``X_c = X - mean(X)`` and ``Y_c = Y - mean(Y)`` when an intercept is fitted (the intercept
is never penalised and is re-fitted inside every training fold).

**One decomposition serves every penalty, every target and every fold.** The centred features
are decomposed once, ``X_c = U S W^T`` (``U``: ``n x r``, ``r = rank``), through the
eigendecomposition of the smaller Gram matrix: ``X_c^T X_c = W S^2 W^T`` when
``n_features <= n_samples`` (primal) or ``X_c X_c^T = U S^2 U^T`` otherwise (dual). The hat
matrix of the full-data fit is then ``H(alpha) = U diag(s^2 / (s^2 + alpha)) U^T + 11^T / n``
(the last term is the unpenalised intercept). For a fold that holds out the rows ``V`` and
trains on all the others (``T``), the held-out predictions of the model fitted on ``T`` alone
are, exactly (block leave-out identity; Woodbury on the Gram downdate)::

    Yhat_V(alpha) = (I - H_VV(alpha))^{-1} H_VT(alpha) Y_T
                  = P_V(alpha) (Q - U_V^T Y_V),      Q = U^T Y,
    P_V(alpha)    = (I - H_VV(alpha))^{-1} U_V diag(s^2 / (s^2 + alpha)),

so a fold costs one small ``n_val x n_val`` Cholesky per penalty, independent of the targets,
and one matrix product ``(n_alphas n_val x r) @ (r x n_targets)`` per target batch. Leave-one-
out (``cv="gcv"``, as scikit-learn's ``_RidgeGCV``) is the same identity with one row per fold:
``e_i = (y_i - (H y)_i) / (1 - h_ii)``. Folds whose training rows are not the complement of
their validation rows (e.g. ``TimeSeriesSplit``), or whose validation block is so large that
the identity costs more than a new decomposition, decompose their own training rows instead
(``Yhat_V = X_V W S^{-1} diag(s^2/(s^2+alpha)) U_T^T Y_T``). Memory never holds
``n_alphas x n_features x n_targets``: targets are processed in batches.

**dtype policy.** Gram matrices, eigendecompositions, ``U`` and the small ``n_val x n_val``
solves are always float64 (the Gram squares the condition number). The products that scale
with the number of targets (``U^T Y``, the stacked fold predictions, the refit) run in the
*compute dtype*: float32 when ``X`` and ``Y`` are both float32, else float64; ``dtype=`` forces
either. float32 is refused automatically (float64 used, logged at INFO) when a fold system
amplifies rounding errors by more than ``1e3`` (``||(I - H_VV)^{-1}||_2``, or ``1 / (1 - h_ii)``
for leave-one-out), which happens with very small penalties in the dual form. Means are
computed in float64; per-fold sums of squares are cascade sums in the compute dtype over at most
``n_samples`` terms and are averaged over folds in float64.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
import torch

from .._checks import _check_option, check_scalar
from .._config import resolve_device, torch_threads
from .._linalg import matmul

logger = logging.getLogger(__name__)

#: Default penalty grid of :class:`~brainbridge.encoders.RidgeEncoder`, one per decade.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-2, 7, 10))
#: Bytes the largest per-batch scratch array may take when ``n_targets_batch=None``.
_BATCH_BYTES = 2**28
#: Largest rounding-error amplification accepted in float32 before switching to float64.
_MAX_AMPLIFICATION_F32 = 1e3


class RidgeCVResult(NamedTuple):
    """What :func:`solve_ridge_cv` returns (numpy arrays, on the CPU).

    Attributes
    ----------
    best_alphas : ndarray, shape (n_targets,)
        The penalty chosen for each target (highest mean cross-validation score; exact ties go
        to the largest penalty).
    cv_scores : ndarray, shape (n_alphas, n_targets)
        Cross-validation score of every penalty (rows, in the order of ``alphas``) and target,
        averaged over folds (for ``cv="gcv"``: the leave-one-out score).
    coef : ndarray, shape (n_features, n_targets), or None
        Primal weights refitted on all samples with each target's penalty; None in the dual form.
    dual_coef : ndarray, shape (n_samples, n_targets), or None
        Dual weights ``a`` (predictions ``X_new @ X_c^T @ a + intercept``) in the dual form; None
        in the primal form. ``a = U diag(1 / (s^2 + alpha)) U^T Y_c``, the part of
        ``(X_c X_c^T + alpha I)^{-1} Y_c`` in the range of the kernel (the rest does not change
        any prediction).
    intercept : ndarray, shape (n_targets,)
        Intercepts (zeros when ``fit_intercept=False``), such that predictions are
        ``X_new @ coef + intercept`` (primal) or ``X_new @ X_c^T @ dual_coef + intercept``.
    alphas : ndarray, shape (n_alphas,)
        The penalty grid, in the order given.
    form : str
        ``"primal"`` or ``"dual"``.
    x_fit : ndarray, shape (n_samples, n_features), or None
        The centred training features ``X_c`` needed by dual predictions; None in the primal form.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.encoders import solve_ridge_cv
    >>> X = np.arange(10.0)[:, None]
    >>> res = solve_ridge_cv(X, 2 * X + 1, alphas=[1e-6, 1e3], cv=5, device="cpu")
    >>> res.form, res.best_alphas.tolist()
    ('primal', [1e-06])
    >>> res.coef.round(3).tolist(), res.intercept.round(3).tolist()
    ([[2.0]], [1.0])
    """

    best_alphas: np.ndarray
    cv_scores: np.ndarray
    coef: np.ndarray | None
    dual_coef: np.ndarray | None
    intercept: np.ndarray
    alphas: np.ndarray
    form: str
    x_fit: np.ndarray | None


# --------------------------------------------------------------------------------------
# Decompositions
# --------------------------------------------------------------------------------------


class _Decomposition(NamedTuple):
    """``X_c = U diag(sqrt(lam)) W^T`` for the rows it was built on (float64 tensors)."""

    U: Any  # (n_rows, r), plus a last column 1/sqrt(n_rows) when intercept
    lam: Any  # (r,) eigenvalues of the Gram matrix, > 0
    refit: Any  # (n_features, r) = W / sqrt(lam) (primal) or (n_rows, r) = U / lam (dual)
    x_mean: Any  # (n_features,) or None
    xc: Any  # centred rows (float64)
    form: str
    intercept: bool


def _tensor(a: Any, device: Any) -> Any:
    """A tensor sharing memory with ``a`` when possible (read-only inputs are never written)."""
    import warnings


    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
        return torch.as_tensor(np.asarray(a), device=device)


def _keep(lam: Any, shape: tuple[int, int]) -> Any:
    top = lam.max() if lam.numel() else torch.zeros((), dtype=lam.dtype)
    tol = float(top) * max(shape) * float(torch.finfo(torch.float64).eps)
    return lam > max(tol, 0.0)


def _eigh(a: Any) -> tuple[Any, Any]:
    """``torch.linalg.eigh``; on the CPU through numpy's LAPACK, the BLAS of :func:`matmul`.

    Mixing torch's OpenMP pool and numpy's OpenBLAS threads on a busy machine made a
    2000 x 2000 eigendecomposition 10-30x slower than either alone (measured here).
    """
    if a.device.type != "cpu":
        return torch.linalg.eigh(a)
    lam, vec = np.linalg.eigh(a.numpy())
    return torch.from_numpy(lam), torch.from_numpy(vec)


def _decompose_primal(xc: Any) -> tuple[Any, Any, Any]:
    gram = matmul(xc.T, xc)
    lam, w = _eigh(gram)
    keep = _keep(lam, tuple(xc.shape))
    lam, w = lam[keep], w[:, keep]
    root = lam.sqrt()
    u = matmul(xc, w) / root
    return u, lam, w / root


def _decompose_dual(xc: Any) -> tuple[Any, Any, Any]:
    gram = matmul(xc, xc.T)
    lam, u = _eigh(gram)
    keep = _keep(lam, tuple(xc.shape))
    lam, u = lam[keep], u[:, keep].contiguous()
    return u, lam, u / lam


#: Decompositions of the centred features, by form (see the module docstring).
DECOMPOSITIONS: dict[str, Callable[[Any], tuple[Any, Any, Any]]] = {
    "primal": _decompose_primal,
    "dual": _decompose_dual,
}


def _decompose(x64: Any, form: str, fit_intercept: bool) -> _Decomposition:
    x_mean = x64.mean(0) if fit_intercept else None
    xc = x64 - x_mean if fit_intercept else x64
    u, lam, refit = DECOMPOSITIONS[form](xc)
    if fit_intercept:
        n = xc.shape[0]
        ones = torch.full((n, 1), 1.0 / math.sqrt(n), dtype=u.dtype, device=u.device)
        u = torch.cat([u, ones], dim=1)
    return _Decomposition(u, lam, refit, x_mean, xc, form, fit_intercept)


def _shrink(dec: _Decomposition, alpha: float) -> Any:
    """``diag(s^2 / (s^2 + alpha))`` over the columns of ``U`` (1 for the intercept column)."""
    shrink = dec.lam / (dec.lam + alpha)
    if dec.intercept:
        shrink = torch.cat([shrink, shrink.new_ones(1)])
    return shrink


def _project(dec: _Decomposition, x64: Any) -> Any:
    """Coordinates of new rows in the ``U`` basis: ``(x - mean) W S^{-1}`` (+ intercept)."""
    xc = x64 - dec.x_mean if dec.intercept else x64
    if dec.form == "primal":
        coords = matmul(xc, dec.refit)
    else:
        coords = matmul(matmul(xc, dec.xc.T), dec.refit)
    if dec.intercept:
        n = dec.U.shape[0]
        ones = torch.full((xc.shape[0], 1), 1.0 / math.sqrt(n), dtype=coords.dtype,
                          device=coords.device)
        coords = torch.cat([coords, ones], dim=1)
    return coords


# --------------------------------------------------------------------------------------
# The plan: everything that does not depend on the targets
# --------------------------------------------------------------------------------------


class _Fold(NamedTuple):
    val: Any  # (n_val,) long, global row indices
    P: Any  # (n_alphas * n_val, r') compute dtype
    sub: Any  # (n_val, r') U_V in compute dtype (shared decomposition), or None
    own: Any  # (n_train, r') U_T in compute dtype (own decomposition), or None
    train: Any  # (n_train,) long indices for `own`, or None


class _Plan(NamedTuple):
    dec: _Decomposition
    U: Any  # full-data U in compute dtype
    folds: list[_Fold]
    gcv_h: Any  # (n_alphas, n) float64 leverages for cv="gcv", else None
    alphas: np.ndarray
    score: str
    dtype: Any
    device: Any
    n_samples: int
    n_features: int


def _tri_inverse(chol: Any, eye: Any) -> Any:
    """Inverse of a lower-triangular matrix.

    torch's single-threaded triangular solve; OpenBLAS ``trtri`` / ``potri`` took 40-100x
    longer on a loaded 2-core machine (measured here).
    """
    return torch.linalg.solve_triangular(chol, eye, upper=False)


def _power_norm(m: Any, n_iter: int = 30) -> float:
    """Largest eigenvalue of a symmetric positive definite matrix (power iteration)."""
    v = torch.ones(m.shape[0], 1, dtype=m.dtype, device=m.device) / math.sqrt(m.shape[0])
    est = 0.0
    for _ in range(n_iter):
        v = m @ v
        est = float(torch.linalg.vector_norm(v))
        if est == 0.0:
            return 0.0
        v = v / est
    return est


#: String values of ``cv``: efficient leave-one-out, under its two names.
CV_MODES = ("gcv", "loo")


def _resolve_splits(cv: Any, n: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Splits as (train, val) index arrays, or None for leave-one-out ``"gcv"`` / ``"loo"``."""
    if cv is None:
        raise ValueError(
            "Invalid value for 'cv': expected an int >= 2 (K-fold), 'gcv' or 'loo' (efficient "
            "leave-one-out), a splitter or an iterable of (train, test) index pairs; got None. "
            "Use cv='gcv' for what scikit-learn's RidgeCV(cv=None) does, or cv=5 for 5-fold."
        )
    if isinstance(cv, str):
        _check_option("cv", cv, CV_MODES)
        return None
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(
                f"Invalid value for 'cv': expected at least 2 folds, 'gcv' or a splitter; "
                f"got {cv}. Use cv=5 or cv='gcv' (efficient leave-one-out)."
            )
        if cv > n:
            raise ValueError(
                f"Invalid value for 'cv': {cv} folds need at least {cv} samples; got "
                f"n_samples={n}. Use fewer folds or cv='gcv'."
            )
    from sklearn.model_selection import check_cv

    splitter = check_cv(cv)
    dummy = np.zeros((n, 1))
    splits = [(np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64))
              for tr, te in splitter.split(dummy)]
    if not splits:
        raise ValueError("Invalid value for 'cv': the splitter produced no folds. "
                         "Pass an int, 'gcv' or a splitter with at least one split.")
    for k, (tr, te) in enumerate(splits):
        if tr.size == 0 or te.size == 0:
            raise ValueError(f"Invalid value for 'cv': fold {k} has an empty training or "
                             f"validation set ({tr.size} and {te.size} rows). Use fewer folds.")
        if np.intersect1d(tr, te).size:
            raise ValueError(f"Invalid value for 'cv': fold {k} uses some rows for both "
                             "training and validation. Use a splitter with disjoint sets.")
    return splits


def _check_alphas(alphas: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"Invalid value for 'alphas': expected a non-empty 1-d sequence of "
                         f"positive penalties; got shape {arr.shape}. Use e.g. "
                         "np.logspace(-2, 7, 10).")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = arr[~(np.isfinite(arr) & (arr > 0))]
        raise ValueError(f"Invalid value for 'alphas': every penalty must be positive and "
                         f"finite; got {bad.tolist()}. Use e.g. np.logspace(-2, 7, 10).")
    return arr


def _fold_costs(n_val: int, n_train: int, p: int, r: int, n_alphas: int, n_targets: int
                ) -> tuple[float, float]:
    shared = n_alphas * (3.0 * n_val**2 * r + n_val**3) + 2.0 * n_val * r * n_targets
    m = min(n_train, p)
    own = (2.0 * n_train * p * m + 10.0 * m**3 + 2.0 * n_train * m * n_targets
           + 2.0 * n_val * p * m)
    return shared, own


def _prepare(X: np.ndarray, *, alphas: np.ndarray, cv: Any, fit_intercept: bool, form: str,
             score: str, device: Any, dtype: Any, n_targets: int) -> _Plan:
    """Decompose ``X`` and build every fold's target-independent matrices."""
    n, p = X.shape
    x64 = _tensor(X, device).to(torch.float64)
    dec = _decompose(x64, form, fit_intercept)
    r = dec.U.shape[1]
    splits = _resolve_splits(cv, n)
    amplification = 1.0
    gcv_h = None
    fold_parts: list[tuple] = []
    if splits is None:
        u2 = dec.U.square()
        gcv_h = torch.stack([u2 @ _shrink(dec, a) for a in alphas])
        worst = float(gcv_h.max()) if gcv_h.numel() else 0.0
        if worst >= 1.0 - 1e-12:
            raise ValueError(
                "Invalid value for 'cv': leave-one-out ('gcv') is undefined here because a "
                "sample has leverage 1 (e.g. n_samples is too small for the features and "
                "penalties). Use larger 'alphas' or a K-fold 'cv'."
            )
        amplification = 1.0 / (1.0 - worst)
    else:
        everything = np.arange(n)
        for tr, te in splits:
            complement = tr.size + te.size == n and np.array_equal(
                np.sort(np.concatenate([tr, te])), everything)
            shared_cost, own_cost = _fold_costs(te.size, tr.size, p, r, alphas.size, n_targets)
            val = torch.as_tensor(te, device=device)
            if complement and shared_cost <= own_cost:
                uv = dec.U[val]
                eye = torch.eye(te.size, dtype=uv.dtype, device=device)
                mats = []
                for a in alphas:
                    shrink = _shrink(dec, a)
                    half = uv * shrink.sqrt()
                    hvv = matmul(half, half.T)
                    m = eye - hvv
                    chol, info = torch.linalg.cholesky_ex(m)
                    if int(info) != 0:
                        raise ValueError(
                            "Invalid value for 'cv': a validation fold is perfectly predicted "
                            "from its training rows' leverage (I - H_VV is singular). Use "
                            "larger 'alphas' or fewer folds."
                        )
                    # (L L^T)^{-1} = L^{-T} L^{-1}; LAPACK potri is pathologically slow here
                    linv = _tri_inverse(chol, eye)
                    minv = matmul(linv.T, linv)
                    amplification = max(amplification, _power_norm(minv))
                    mats.append(minv)
                fold_parts.append(("shared", val, mats, None, uv, None))
            else:
                trt = torch.as_tensor(tr, device=device)
                sub = _decompose(x64[trt], "primal" if p <= tr.size else "dual", fit_intercept)
                coords = _project(sub, x64[val])
                blocks = [coords * _shrink(sub, a) for a in alphas]
                fold_parts.append(("own", val, None, blocks, sub.U, trt))

    if dtype is None:  # float32 inputs: float32 unless the fold systems are ill-conditioned
        dtype = torch.float32
        if amplification > _MAX_AMPLIFICATION_F32:
            logger.info("Ridge CV: fold systems amplify rounding errors by %.3g > %.0g; "
                        "computing in float64 instead of float32.", amplification,
                        _MAX_AMPLIFICATION_F32)
            dtype = torch.float64

    folds = []
    for kind, val, mats, blocks, u_part, trt in fold_parts:
        if kind == "shared":
            nv = val.numel()
            P = torch.empty((alphas.size * nv, r), dtype=dtype, device=device)
            uv = u_part.to(dtype)
            for k, a in enumerate(alphas):  # P_k = (I - H_VV)^{-1} U_V diag(shrink)
                matmul(mats[k].to(dtype), uv * _shrink(dec, a).to(dtype), out=P[k * nv:(k + 1) * nv])
            mats.clear()
            folds.append(_Fold(val, P, uv, None, None))
        else:
            P = torch.cat(blocks).to(dtype)
            folds.append(_Fold(val, P, None, u_part.to(dtype), trt))
    return _Plan(dec, dec.U.to(dtype), folds, gcv_h, alphas, score, dtype, device, n, p)


# --------------------------------------------------------------------------------------
# Per target batch
# --------------------------------------------------------------------------------------


class _BatchResult(NamedTuple):
    best: np.ndarray  # (t,) index into alphas
    scores: np.ndarray  # (n_alphas, t) float64
    weights: np.ndarray  # (n_features or n_samples, t)
    intercept: np.ndarray  # (t,)


def _r2_from(sse: Any, sst: Any) -> Any:
    """``1 - SSE / SST``, the penalty-search criterion, with scikit-learn's constant convention.

    A target constant in a validation fold scores 1 (exact) or 0 there, the same for every
    penalty, so that fold does not sway the choice and the fold average stays finite. This is
    the search criterion only; reported scores follow :mod:`brainbridge._scoring` (NaN).
    """
    safe = torch.where(sst > 0, sst, torch.ones_like(sst))
    r2 = 1.0 - sse / safe
    const = torch.where(sse <= 0, torch.ones_like(sse), torch.zeros_like(sse))
    return torch.where(sst > 0, r2, const)


def _solve_batch(plan: _Plan, Y: Any) -> _BatchResult:
    """Scores, chosen penalties and refitted weights for one batch of targets."""
    dt, dev = plan.dtype, plan.device
    y = _tensor(Y, dev)
    y_mean = y.to(torch.float64).mean(0) if plan.dec.intercept else None
    yc = (y.to(torch.float64) - y_mean).to(dt) if plan.dec.intercept else y.to(dt)
    n_alphas, t = plan.alphas.size, yc.shape[1]
    Q = matmul(plan.U.T, yc)  # (r', t)
    scores = torch.zeros((n_alphas, t), dtype=torch.float64, device=dev)

    if plan.gcv_h is not None:
        sse = torch.empty((n_alphas, t), dtype=torch.float64, device=dev)
        buf = torch.empty_like(yc)
        for k, a in enumerate(plan.alphas):
            left = plan.U * _shrink(plan.dec, a).to(dt)
            matmul(left, Q, out=buf)
            buf.sub_(yc).div_((1.0 - plan.gcv_h[k]).to(dt)[:, None])
            sse[k] = buf.square_().sum(0).to(torch.float64)
        if plan.score == "r2":
            y64 = yc.to(torch.float64)
            sst = (y64 - y64.mean(0)).square().sum(0)
            scores = _r2_from(sse, sst[None, :].expand_as(sse))
        else:
            scores = -sse / plan.n_samples
    else:
        n_max = max(f.val.numel() for f in plan.folds)
        buf = torch.empty((n_alphas * n_max, t), dtype=dt, device=dev)
        for fold in plan.folds:
            nv = fold.val.numel()
            yv = yc[fold.val]
            if fold.own is None:
                c = Q - matmul(fold.sub.T, yv)
            else:
                c = matmul(fold.own.T, yc[fold.train])
            out = buf[: n_alphas * nv]
            matmul(fold.P, c, out=out)
            res = out.view(n_alphas, nv, t)
            res.sub_(yv)
            sse = res.square_().sum(1).to(torch.float64)
            if plan.score == "r2":
                yv64 = yv.to(torch.float64)
                sst = (yv64 - yv64.mean(0)).square().sum(0)
                scores += _r2_from(sse, sst[None, :].expand_as(sse))
            else:
                scores -= sse / nv
        scores /= len(plan.folds)

    # ties (e.g. constant targets) go to the largest penalty
    order = np.argsort(plan.alphas, kind="stable")[::-1].copy()
    order_t = torch.as_tensor(order, device=dev)
    best = order_t[torch.argmax(scores[order_t], dim=0)]
    alpha_t = torch.as_tensor(plan.alphas, device=dev)[best]  # (t,)
    dec = plan.dec
    lam = dec.lam[:, None]
    shrink = (lam / (lam + alpha_t[None, :])).to(dt)  # (r, t)
    r = dec.lam.numel()
    weights = matmul(dec.refit.to(dt), shrink * Q[:r])
    if dec.intercept:
        if dec.form == "primal":
            offset = matmul(dec.x_mean[None, :].to(dt), weights)[0]
        else:
            offset = matmul(matmul(dec.x_mean[None, :], dec.xc.T).to(dt),
                            weights)[0]
        intercept = (y_mean - offset.to(torch.float64)).to(dt)
    else:
        intercept = torch.zeros(t, dtype=dt, device=dev)
    return _BatchResult(best.cpu().numpy(), scores.cpu().numpy(), weights.cpu().numpy(),
                        intercept.cpu().numpy())


# --------------------------------------------------------------------------------------
# Public solver
# --------------------------------------------------------------------------------------

#: Scores used to choose the penalty (higher is better), by name.
SCORES: dict[str, str] = {
    "r2": "coefficient of determination 1 - SSE/SST per validation fold, averaged over folds",
    "neg_mse": "minus the mean squared error per validation fold, averaged over folds",
}
#: Forms of the solver, by name ("auto": primal when n_features <= n_samples).
FORMS = ("auto", "primal", "dual")


def _resolve_dtype(dtype: Any, X: np.ndarray, Y: np.ndarray) -> Any:
    options = {None: None, "float32": torch.float32, "float64": torch.float64,
               torch.float32: torch.float32, torch.float64: torch.float64,
               np.float32: torch.float32, np.float64: torch.float64}
    key = dtype
    if isinstance(dtype, np.dtype):
        key = dtype.type
    if key not in options:
        _check_option("dtype", dtype, [None, "float32", "float64"])
    resolved = options[key]
    if resolved is None and X.dtype == np.float32 and Y.dtype == np.float32:
        return None  # float32 unless ill-conditioned (decided in _prepare)
    return resolved if resolved is not None else torch.float64


def _batches(n_targets: int, n_targets_batch: int | None, plan_rows: int, n_alphas: int,
             itemsize: int) -> Iterable[slice]:
    if n_targets_batch is None:
        per_target = max(plan_rows, 1) * itemsize * 3
        n_targets_batch = max(1, min(n_targets, _BATCH_BYTES // per_target))
    for start in range(0, n_targets, n_targets_batch):
        yield slice(start, min(start + n_targets_batch, n_targets))


def _batch_rows(plan: _Plan) -> int:
    n_alphas = plan.alphas.size
    if plan.gcv_h is not None:
        return plan.n_samples * 2 + plan.U.shape[1]
    return (n_alphas * max(f.val.numel() for f in plan.folds) + plan.n_samples
            + plan.U.shape[1])


def _check_batch(n_targets_batch: Any) -> int | None:
    return check_scalar("n_targets_batch", n_targets_batch, int, low=1, allow_none=True)


def _assemble(plan: _Plan, parts: list[_BatchResult]) -> RidgeCVResult:
    best = np.concatenate([p.best for p in parts])
    weights = np.concatenate([p.weights for p in parts], axis=1)
    form = plan.dec.form
    return RidgeCVResult(
        best_alphas=plan.alphas[best],
        cv_scores=np.concatenate([p.scores for p in parts], axis=1),
        coef=weights if form == "primal" else None,
        dual_coef=weights if form == "dual" else None,
        intercept=np.concatenate([p.intercept for p in parts]),
        alphas=plan.alphas.copy(),
        form=form,
        x_fit=plan.dec.xc.to(plan.dtype).cpu().numpy() if form == "dual" else None,
    )


def _plan_for(X: np.ndarray, Y: np.ndarray, *, alphas: Any, cv: Any, fit_intercept: bool,
              form: str, score: str, device: Any, dtype: Any) -> _Plan:
    _check_option("form", form, FORMS)
    _check_option("score_func", score, list(SCORES))
    alphas = _check_alphas(alphas)
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"Invalid shapes: expected X (n_samples, n_features) and Y (n_samples, "
                         f"n_targets); got X {X.shape} and Y {Y.shape}.")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"Invalid shapes: X and Y must have the same number of samples "
                         f"(rows); got X with {X.shape[0]} and Y with {Y.shape[0]}. Align them "
                         "first, e.g. with brainbridge.align(features, responses).")
    if form == "auto":
        form = "primal" if X.shape[1] <= X.shape[0] else "dual"
    dev = resolve_device(device)
    with _cpu_threads(dev):
        return _prepare(X, alphas=alphas, cv=cv, fit_intercept=fit_intercept, form=form,
                        score=score, device=dev, dtype=_resolve_dtype(dtype, X, Y),
                        n_targets=Y.shape[1])


def _cpu_threads(device: Any) -> Any:
    """On the CPU, torch runs single-threaded while numpy's BLAS does the heavy products.

    The big products and eigendecompositions go through numpy (OpenBLAS threads); torch only
    runs element-wise passes. Letting torch's OpenMP pool spin beside OpenBLAS's made whole
    fits 5-10x slower on a loaded 2-core machine (measured here).
    """
    from contextlib import nullcontext

    return torch_threads(1) if device.type == "cpu" else nullcontext()


def solve_ridge_cv(X: Any, Y: Any, *, alphas: Any = DEFAULT_ALPHAS, cv: Any = 5,
                   fit_intercept: bool = True, form: str = "auto", score_func: str = "r2",
                   n_targets_batch: int | None = None, device: Any = "auto",
                   dtype: Any = None) -> RidgeCVResult:
    r"""Ridge regression with one penalty per target chosen by cross-validation.

    For each target ``t`` and penalty ``alpha`` the validation score of
    ``w = (X_T^T X_T + alpha I)^{-1} X_T^T y_T`` (with an unpenalised intercept refitted in
    every training fold ``T`` when ``fit_intercept``) is computed on every fold; the penalty
    with the best mean score is refitted on all samples. One decomposition of ``X`` serves every
    penalty, target and fold (see the module docstring for the identity used).

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
        Features.
    Y : array, shape (n_samples, n_targets)
        Targets (responses of units, voxels, channels).
    alphas : sequence of float, default=DEFAULT_ALPHAS (``np.logspace(-2, 7, 10)``)
        Penalties to try, all positive.
    cv : int, "gcv", "loo", splitter or iterable of (train, test), default=5
        ``int``: unshuffled ``KFold`` (as scikit-learn and himalaya). ``"gcv"`` (alias
        ``"loo"``): efficient exact leave-one-out on the full data (what scikit-learn's
        ``RidgeCV(cv=None)`` does). A splitter or a list of ``(train, test)`` index pairs (use
        this for runs/blocks, e.g. ``list(GroupKFold(5).split(X, groups=runs))``). ``None`` is
        refused (it would be ambiguous between scikit-learn's meanings).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept per target.
    form : {"auto", "primal", "dual"}, default="auto"
        ``"auto"``: primal when ``n_features <= n_samples``, else dual (kernel).
    score_func : {"r2", "neg_mse"}, default="r2"
        Criterion averaged over folds to choose the penalty (see :data:`SCORES`). With
        ``cv="gcv"`` both rank penalties identically (pooled leave-one-out errors).
    n_targets_batch : int or None, default=None
        Targets per batch; None picks a batch whose scratch arrays take about 256 MiB.
    device : str or torch.device, default="auto"
        Where to compute (CUDA when present).
    dtype : {None, "float32", "float64"}, default=None
        Compute dtype of the target products; None: float32 when ``X`` and ``Y`` are float32,
        else float64 (decompositions are always float64; see the module docstring).

    Returns
    -------
    RidgeCVResult
        ``best_alphas (n_targets,)``, ``cv_scores (n_alphas, n_targets)``,
        ``coef (n_features, n_targets)`` or ``dual_coef (n_samples, n_targets)``, ``intercept``,
        ``alphas``, ``form``, ``x_fit``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 5))
    >>> Y = X @ rng.standard_normal((5, 3)) + 0.1 * rng.standard_normal((100, 3))
    >>> res = solve_ridge_cv(X, Y, alphas=[0.01, 1.0, 100.0], cv=5, device="cpu")
    >>> res.best_alphas.shape, res.cv_scores.shape, res.coef.shape, res.form
    ((3,), (3, 3), (5, 3), 'primal')
    >>> bool(res.cv_scores.max(0).min() > 0.9)
    True
    """
    X = np.asarray(X)
    Y = np.asarray(Y)
    _check_batch(n_targets_batch)
    plan = _plan_for(X, Y, alphas=alphas, cv=cv, fit_intercept=fit_intercept, form=form,
                     score=score_func, device=device, dtype=dtype)
    with _cpu_threads(plan.device):
        return _solve_with_plan(plan, Y, n_targets_batch)


def _concat_results(parts: list[RidgeCVResult]) -> RidgeCVResult:
    """Join results solved for consecutive chunks of targets (same plan)."""
    first = parts[0]

    def cat(name: str, axis: int) -> Any:
        arrays = [getattr(p, name) for p in parts]
        return None if arrays[0] is None else np.concatenate(arrays, axis=axis)

    return first._replace(best_alphas=cat("best_alphas", 0), cv_scores=cat("cv_scores", 1),
                          coef=cat("coef", 1), dual_coef=cat("dual_coef", 1),
                          intercept=cat("intercept", 0))


def _solve_with_plan(plan: _Plan, Y: np.ndarray, n_targets_batch: int | None) -> RidgeCVResult:
    itemsize = 4 if plan.dtype == torch.float32 else 8
    parts = [_solve_batch(plan, Y[:, sl])
             for sl in _batches(Y.shape[1], n_targets_batch, _batch_rows(plan),
                                plan.alphas.size, itemsize)]
    return _assemble(plan, parts)
