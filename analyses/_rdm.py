"""Representational dissimilarity matrices (RDMs), batched, in torch.

An RDM comes back as one labelled array: dims ``(*batch, "stimulus", "stimulus_")``,
square, symmetric, with an exact zero diagonal; coords ``stimulus`` and ``stimulus_`` hold
the same ids; ``attrs["method"]`` names the dissimilarity. Batch dims are, in this order,
the ``by`` unit coord (one RDM per layer / region) and every other dim of ``x`` that is not
the condition dim, ``unit`` or ``cv_dim`` (e.g. ``subject``, ``time``).

Every method except ``euclidean`` and ``cosine`` equals rsatoolbox 0.3's
``rsatoolbox.rdm.calc_rdm`` on the same data (tested in float64 at 1e-8 relative).
rsatoolbox divides its squared distances by the number of channels, and so do we;
rsatoolbox's method ``"euclidean"`` is our ``"sqeuclidean"``.

Memory: every method works from stimulus x stimulus Gram matrices; nothing of size
``pairs x units`` is ever built. Mahalanobis and crossnobis hold one ``units x units``
precision (or covariance) per batch entry, nothing bigger: 7000 channels take 392 MB per
matrix, where rsatoolbox#214 asked for 657 GiB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
import xarray as xr

from .._checks import (
    AssemblyError,
    _check_option,
    _soft_import,
    _validate_type,
    check_finite,
    check_scalar,
)
from .._config import resolve_device

logger = logging.getLogger(__name__)

__all__ = ["rdm", "rdm_vector", "noise_precision", "to_rsatoolbox_rdms",
           "from_rsatoolbox_rdms", "RDM_METHODS", "NOISE_METHODS"]


# --------------------------------------------------------------------------------------
# torch kernels. Inputs are float64 tensors with arbitrary leading (batch) dims.
# --------------------------------------------------------------------------------------

_NUMPY_SYRK = True


def _gram(a: Any, b: Any = None) -> Any:
    """``a @ b^T`` over the last two dims; ``b=None`` means ``a @ a^T``.

    On the CPU the symmetric case goes through numpy, whose ``a @ a.T`` calls BLAS
    ``syrk`` (half the flops of torch's ``gemm``); the values are the same product.
    """
    if b is None and a.device.type == "cpu" and _NUMPY_SYRK:
        an = a.numpy()
        lead = an.shape[:-2]
        flat = an.reshape((-1,) + an.shape[-2:])
        out = np.empty((flat.shape[0], an.shape[-2], an.shape[-2]), dtype=an.dtype)
        for i, m in enumerate(flat):
            np.matmul(m, m.T, out=out[i])
        return torch.from_numpy(out.reshape(lead + out.shape[-2:]))
    return torch.matmul(a, (a if b is None else b).transpose(-1, -2))


def _sq_from_kernel(k: Any) -> Any:
    """``k_ii + k_jj - k_ij - k_ji`` for a (batch of) kernel matrices."""
    d = k.diagonal(dim1=-2, dim2=-1)
    return d.unsqueeze(-1) + d.unsqueeze(-2) - k - k.transpose(-1, -2)


def _k_euclidean(t: Any, ctx: dict) -> Any:
    return _sq_from_kernel(_gram(t)).clamp_min_(0.0).sqrt_()


def _k_sqeuclidean(t: Any, ctx: dict) -> Any:
    return _sq_from_kernel(_gram(t)).clamp_min_(0.0) / t.shape[-1]


def _k_mahalanobis(t: Any, ctx: dict) -> Any:
    prec = ctx["precision"]
    if prec is None:
        k = _gram(t)
    else:
        k = torch.matmul(torch.matmul(t, prec), t.transpose(-1, -2))
    return _sq_from_kernel(k) / t.shape[-1]


def _cos_from_gram(g: Any) -> Any:
    norm = g.diagonal(dim1=-2, dim2=-1).sqrt()
    return 1.0 - g / (norm.unsqueeze(-1) * norm.unsqueeze(-2))


def _k_correlation(t: Any, ctx: dict) -> Any:
    return _cos_from_gram(_gram(t - t.mean(dim=-1, keepdim=True)))


def _k_cosine(t: Any, ctx: dict) -> Any:
    return _cos_from_gram(_gram(t))


def _k_poisson(t: Any, ctx: dict) -> Any:
    lam, weight = ctx["prior_lambda"], ctx["prior_weight"]
    m = (t + lam * weight) / (1.0 + weight)
    if bool((m <= 0).any()):
        raise ValueError(
            "method='poisson' needs rates with (x + prior_lambda * prior_weight) / "
            f"(1 + prior_weight) > 0 everywhere; the smallest value of x is "
            f"{float(t.min()):.6g}. Pass non-negative rates or spike counts, or raise "
            "prior_lambda."
        )
    k = torch.matmul(m, torch.log(m).transpose(-1, -2))
    return _sq_from_kernel(k) / t.shape[-1]


def _k_crossnobis(t: Any, ctx: dict) -> Any:
    """Leave-one-partition-out crossnobis, rsatoolbox's definition, in closed form.

    ``t`` has shape ``(..., S, F, U)``: one pattern per stimulus and partition. For fold
    ``f`` rsatoolbox uses ``A_f`` = mean of the other partitions and ``B_f`` = partition
    ``f``, ``K_f = A_f P B_f^T``, and averages ``d_ij = K_ii + K_jj - K_ij - K_ji`` over
    folds, divided by U. With ``M_f`` the patterns and ``T = sum_f M_f``, the mean kernel
    is ``(T P T^T - sum_f M_f P M_f^T) / (F (F - 1))``: one pass over the partitions,
    memory ``O(U^2 + F S U)``.
    """
    n_folds = t.shape[-2]
    m = t.transpose(-2, -3)  # (..., F, S, U)
    white = ctx["whiten"]
    left, right = white(m)
    total_l, total_r = left.sum(dim=-3), right.sum(dim=-3)
    g_total = torch.matmul(total_l, total_r.transpose(-1, -2))
    g_diag = torch.matmul(left, right.transpose(-1, -2)).sum(dim=-3)
    k = (g_total - g_diag) / (n_folds * (n_folds - 1))
    return _sq_from_kernel(k) / t.shape[-1]


class _Method(NamedTuple):
    kernel: Callable[[Any, dict], Any]
    description: str
    rsatoolbox: str | None  # rsatoolbox's calc_rdm method computing the same numbers
    noise: bool = False
    cv: bool = False
    prior: bool = False


#: RDM methods: name -> kernel, description, rsatoolbox equivalent, options it takes.
RDM_METHODS: dict[str, _Method] = {
    "euclidean": _Method(_k_euclidean, "euclidean distance ||x_i - x_j||", None),
    "sqeuclidean": _Method(_k_sqeuclidean, "squared euclidean distance / n_units",
                           "euclidean"),
    "correlation": _Method(_k_correlation, "1 - Pearson r across units", "correlation"),
    "cosine": _Method(_k_cosine, "1 - cosine similarity", None),
    "mahalanobis": _Method(_k_mahalanobis,
                           "squared mahalanobis distance / n_units", "mahalanobis",
                           noise=True),
    "crossnobis": _Method(_k_crossnobis,
                          "cross-validated squared mahalanobis distance / n_units",
                          "crossnobis", noise=True, cv=True),
    "poisson": _Method(_k_poisson, "symmetrised Poisson KL divergence / n_units", "poisson",
                       prior=True),
}

#: rsatoolbox's names for the ``dissimilarity_measure`` of each of our methods.
_RSATOOLBOX_MEASURE = {"sqeuclidean": "squared euclidean", "mahalanobis": "squared mahalanobis"}


# --------------------------------------------------------------------------------------
# noise covariance / precision (rsatoolbox.data.noise, without its per-row outer products)
# --------------------------------------------------------------------------------------

def _moments(r: Any) -> tuple[Any, Any]:
    """``sum_n r_n r_n^T`` and ``sum_n (r_n r_n^T)**2`` as two (U, U) products."""
    r2 = r * r
    return _gram(r.transpose(-1, -2).contiguous()), _gram(r2.transpose(-1, -2).contiguous())


def _cov_full(r: Any, dof: float) -> Any:
    return _gram(r.transpose(-1, -2).contiguous()) / dof


def _cov_diag(r: Any, dof: float) -> Any:
    return torch.diag_embed((r * r).sum(dim=-2) / dof)


def _cov_shrinkage_eye(r: Any, dof: float) -> Any:
    n, p = r.shape[-2], r.shape[-1]
    s_sum, s2_sum = _moments(r)
    s = s_sum / n
    b2 = (s2_sum / n - s * s).sum(dim=(-1, -2)) / n
    m = s.diagonal(dim1=-2, dim2=-1).sum(dim=-1) / p
    eye = torch.eye(p, dtype=r.dtype, device=r.device)
    d2 = ((s - m[..., None, None] * eye) ** 2).sum(dim=(-1, -2))
    b2 = torch.minimum(d2, b2)
    shrunk = ((b2 / d2 * m)[..., None, None] * eye + ((d2 - b2) / d2)[..., None, None] * s)
    return shrunk * (n / dof)


def _cov_shrinkage_diag(r: Any, dof: float) -> Any:
    n, p = r.shape[-2], r.shape[-1]
    s_sum, s2_sum = _moments(r)
    s = s_sum / dof
    var = s.diagonal(dim1=-2, dim2=-1)
    std = var.sqrt()
    s_mean = s_sum / (std.unsqueeze(-1) * std.unsqueeze(-2)) / (n - 1)
    s2_mean = s2_sum / (var.unsqueeze(-1) * var.unsqueeze(-2)) / (n - 1)
    var_hat = n / dof**2 * (s2_mean - s_mean**2)
    off = ~torch.eye(p, dtype=torch.bool, device=r.device)
    lamb = (var_hat * off).sum(dim=(-1, -2)) / ((s_mean**2) * off).sum(dim=(-1, -2))
    lamb = lamb.clamp(0.0, 1.0)
    scale = torch.where(off, (1.0 - lamb)[..., None, None], torch.ones_like(s))
    return s * scale


#: Covariance estimators for ``noise`` (rsatoolbox.data.noise, same names and numbers).
NOISE_METHODS: dict[str, Callable[[Any, float], Any]] = {
    "shrinkage_diag": _cov_shrinkage_diag,
    "shrinkage_eye": _cov_shrinkage_eye,
    "diag": _cov_diag,
    "full": _cov_full,
}


def _spd_inverse(cov: Any) -> Any:
    """Inverse of a symmetric positive definite matrix (batch), by Cholesky.

    Falls back to LU when the matrix is not numerically positive definite.
    (``torch.cholesky_inverse`` took 3.7 s for 2000 x 2000 on our 2-core CPU; solving
    against the identity takes 0.35 s.)
    """
    chol, info = torch.linalg.cholesky_ex(cov)
    if bool((info == 0).all()):
        eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
        inv = torch.cholesky_solve(eye.expand_as(cov), chol)
        return 0.5 * (inv + inv.transpose(-1, -2))
    return torch.linalg.inv(cov)


def _prec_shrinkage_diag_lowrank(r: Any, dof: float) -> Any | None:
    """``shrinkage_diag`` precision for fewer observations than units, without ``inv``.

    The shrinkage weight needs only sums over all unit pairs, and those reduce to
    ``n x n`` products: with ``b_ij = r_ij / sqrt(v_j)`` (``v`` the variances),
    ``sum_jk (s_jk / sqrt(v_j v_k))^2 = ||B B^T||_F^2`` and
    ``sum_jk s2_jk / (v_j v_k) = sum_i (sum_j r_ij^2 / v_j)^2``. The shrunk covariance
    ``lambda diag(v) + (1 - lambda) R^T R / dof`` is then inverted by the Woodbury
    identity: one ``n x n`` Cholesky factor and one ``units x units`` product, about a
    third of the flops of factorising the ``units x units`` matrix. Returns None when
    ``lambda`` is 0 (the shrunk covariance is then singular) so the caller falls back.
    """
    n, p = r.shape[-2], r.shape[-1]
    v = (r * r).sum(dim=-2) / dof
    b = r / v.sqrt().unsqueeze(-2)
    g = _gram(b)  # (n, n)
    diag_smean2 = p * dof**2 / (n - 1) ** 2
    off_smean2 = (g * g).sum(dim=(-1, -2)) / (n - 1) ** 2 - diag_smean2
    q = b * b
    off_s2mean = ((q.sum(dim=-1) ** 2).sum(dim=-1) - (q * q).sum(dim=(-1, -2))) / (n - 1)
    lamb = (n / dof**2 * (off_s2mean - off_smean2) / off_smean2).clamp(0.0, 1.0)
    if bool((lamb <= 0).any()):
        return None
    d = lamb.unsqueeze(-1) * v  # the shrunk covariance is diag(d) + c R^T R
    c = (1.0 - lamb) / dof
    bd = r / d.sqrt().unsqueeze(-2)
    eye_n = torch.eye(n, dtype=r.dtype, device=r.device)
    inner = eye_n / c[..., None, None] + _gram(bd)
    chol = torch.linalg.cholesky(inner)
    z = torch.linalg.solve_triangular(chol, bd, upper=False)  # (n, p)
    inv_mid = -_gram(z.transpose(-1, -2).contiguous())
    inv_mid.diagonal(dim1=-2, dim2=-1).add_(1.0)
    scale = d.rsqrt()
    return inv_mid.mul_(scale.unsqueeze(-1)).mul_(scale.unsqueeze(-2))


def noise_precision(residuals: Any, *, method: str = "shrinkage_diag", dof: int | None = None,
                    device: Any = "auto") -> xr.DataArray:
    r"""Noise precision over units from residuals, with optional shrinkage.

    Equals ``rsatoolbox.data.noise.prec_from_residuals(residuals, dof, method)``: the
    residuals are centred over observations, the covariance ``S = R^T R / dof`` is
    estimated with ``method`` and inverted.

    - ``"shrinkage_diag"`` (default; Schäfer & Strimmer 2005): off-diagonal covariances
      are multiplied by ``1 - lambda``, with ``lambda`` the estimated variance of the
      sample correlations over their squared sum, clipped to [0, 1].
    - ``"shrinkage_eye"`` (Ledoit & Wolf 2004): ``S* = b^2/d^2 m I + (1 - b^2/d^2) S``,
      then scaled by ``n / dof``.
    - ``"diag"``: variances only. ``"full"``: the sample covariance, no shrinkage.

    The fourth-moment sums that shrinkage needs are computed as the product
    ``(R∘R)^T (R∘R)``: memory stays ``O(units^2)`` (a few ``units x units`` matrices; 7000
    units take 392 MB each), never ``observations x units x units``. Computed in float64.

    Parameters
    ----------
    residuals : DataArray or ndarray
        A DataArray with a ``unit`` dim (every other dim counts as observations), or an
        array ``(n_observations, n_units)``.
    method : str, default="shrinkage_diag"
        One of :data:`NOISE_METHODS`.
    dof : int, optional
        Degrees of freedom; default ``n_observations - 1``. Lower it by the number of
        regressors when the residuals come from a GLM.
    device : str or torch.device, default="auto"

    Returns
    -------
    DataArray, dims ``("unit", "unit_")``
        The precision (inverse covariance); symmetric positive definite.

    Examples
    --------
    >>> import numpy as np
    >>> res = np.random.default_rng(0).standard_normal((50, 4))
    >>> noise_precision(res, device="cpu").shape
    (4, 4)
    """
    method = _check_option("method", method, NOISE_METHODS)
    values, unit_ids = _residual_matrix(residuals)
    dev = resolve_device(device)
    r = torch.as_tensor(values, dtype=torch.float64, device=dev)
    r = r - r.mean(dim=0, keepdim=True)
    dof = r.shape[0] - 1 if dof is None else check_scalar(
        "dof", dof, int, low=1, what="degrees of freedom of the residuals")
    if dof <= 0:
        raise ValueError(f"Invalid value for 'dof': expected a positive number; got {dof}. "
                         "Pass more observations (at least 2).")
    prec = None
    if method == "shrinkage_diag" and r.shape[0] < r.shape[1]:
        prec = _prec_shrinkage_diag_lowrank(r, float(dof))
    if prec is None:
        prec = _spd_inverse(NOISE_METHODS[method](r, float(dof)))
    return xr.DataArray(prec.cpu().numpy(), dims=("unit", "unit_"),
                        coords={"unit": unit_ids, "unit_": unit_ids},
                        attrs={"method": method, "dof": int(dof)}, name="precision")


def _residual_matrix(residuals: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(residuals, xr.DataArray):
        if "unit" not in residuals.dims:
            raise AssemblyError(
                f"'residuals' must have a 'unit' dim; it has dims {tuple(residuals.dims)}. "
                "Rename the channel dim to 'unit'.")
        others = [d for d in residuals.dims if d != "unit"]
        values = check_finite("residuals", residuals.transpose(*others, "unit"),
                              fix=_RESIDUALS_FIX)
        units = (np.asarray(residuals["unit"].values).astype(str) if "unit" in residuals.coords
                 else np.arange(residuals.sizes["unit"]).astype(str))
        return values.reshape(-1, residuals.sizes["unit"]), units
    values = check_finite("residuals", residuals, fix=_RESIDUALS_FIX)
    if values.ndim != 2:
        raise ValueError(f"'residuals' must be 2-D (n_observations, n_units); got shape "
                         f"{values.shape}. Reshape it, or pass a DataArray with a 'unit' dim.")
    return values, np.arange(values.shape[1]).astype(str)


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------

_RESIDUALS_FIX = ("A noise estimate needs complete residuals; drop the units or observations "
                  "with missing values first, e.g. residuals.dropna('unit').")


def _is_rsatoolbox_dataset(x: Any) -> bool:
    return any(c.__module__.startswith("rsatoolbox.data") and c.__name__.endswith("Dataset")
               for c in type(x).__mro__)


def _from_rsatoolbox_dataset(ds: Any, dim: str, cv_dim: str | None) -> xr.DataArray:
    """An rsatoolbox Dataset as a DataArray ``(dim, [cv_dim,] unit)``.

    Conditions are sorted like rsatoolbox sorts them (``np.unique``); repeated
    observations of a condition are averaged, as rsatoolbox does.
    """
    meas = np.asarray(ds.measurements, dtype=np.float64)
    if meas.ndim != 2:
        raise ValueError(
            f"'x' is an rsatoolbox {type(ds).__name__} with {meas.ndim}-D measurements; rdm "
            "takes 2-D (observations x channels) ones. Use ds.time_as_observations() or "
            "convert a time slice first.")
    obs = ds.obs_descriptors
    for name, what in ((dim, "dim"), (cv_dim, "cv_dim")):
        if name is not None and name not in obs:
            raise ValueError(
                f"Invalid value for {what!r}: the rsatoolbox Dataset has no obs_descriptor "
                f"{name!r}; it has {sorted(obs)}. Pass {what}=<one of them>.")
    labels = np.asarray(obs[dim])
    conds, inverse = np.unique(labels, return_inverse=True)
    chan = {k: np.asarray(v) for k, v in ds.channel_descriptors.items()}
    unit_ids = chan.pop("unit", np.arange(meas.shape[1])).astype(str)
    coords: dict[str, Any] = {dim: conds.astype(str), "unit": unit_ids}
    coords.update({k: ("unit", v) for k, v in chan.items() if v.shape == (meas.shape[1],)})
    if cv_dim is None:
        sums = np.zeros((conds.size, meas.shape[1]))
        np.add.at(sums, inverse, meas)
        counts = np.bincount(inverse, minlength=conds.size)
        return xr.DataArray(sums / counts[:, None], dims=(dim, "unit"), coords=coords)
    folds, f_inv = np.unique(np.asarray(obs[cv_dim]), return_inverse=True)
    cell = inverse * folds.size + f_inv
    counts = np.bincount(cell, minlength=conds.size * folds.size)
    if not np.all(counts == 1):
        raise ValueError(
            f"crossnobis from an rsatoolbox Dataset needs exactly one observation per "
            f"({dim!r}, {cv_dim!r}) pair; counts range from {counts.min()} to "
            f"{counts.max()}. Average repeats within each partition first "
            "(rsatoolbox.data.average_dataset_by on a combined descriptor).")
    values = np.empty((conds.size * folds.size, meas.shape[1]))
    values[cell] = meas
    coords[cv_dim] = folds
    return xr.DataArray(values.reshape(conds.size, folds.size, -1), dims=(dim, cv_dim, "unit"),
                        coords=coords)


def _as_dataarray(x: Any, dim: str, cv_dim: str | None) -> xr.DataArray:
    if isinstance(x, xr.DataArray):
        return x
    if _is_rsatoolbox_dataset(x):
        return _from_rsatoolbox_dataset(x, dim, cv_dim)
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        if x.ndim == 2:
            return xr.DataArray(x, dims=(dim, "unit"))
        if x.ndim == 3 and cv_dim is not None:
            return xr.DataArray(x, dims=(dim, cv_dim, "unit"))
        expected = "(n_stimuli, n_units)" + (
            "" if cv_dim is None else f" or (n_stimuli, n_{cv_dim}, n_units)")
        raise ValueError(f"Invalid shape for 'x': expected {expected}; got {x.shape}. "
                         "Pass a DataArray with named dims for anything else.")
    raise TypeError(
        "Invalid type for 'x': expected an xarray.DataArray, a numpy array (n_stimuli, "
        f"n_units) or an rsatoolbox Dataset; got {type(x).__name__}.")


def _ids(da: xr.DataArray, dim: str) -> np.ndarray:
    if dim in da.coords:
        return np.asarray(da[dim].values)
    return np.arange(da.sizes[dim]).astype(str)


def _check_args(x: xr.DataArray, method: str, spec: _Method, dim: str, cv_dim: str | None,
                noise: Any, by: str | None, prior_lambda: Any, prior_weight: Any) -> None:
    for name in (dim, "unit"):
        if name not in x.dims:
            raise AssemblyError(
                f"'x' is missing dim {name!r}; it has dims {tuple(x.dims)}. "
                + ("Pass dim=<the condition dim>." if name == dim else
                   "Rename the channel / neuron dim to 'unit'."))
    if x.sizes["unit"] < 1:
        raise ValueError(
            "Invalid value for 'x': an RDM needs at least 1 unit (the patterns compared); "
            f"got 0 along 'unit' (x has shape {dict(x.sizes)}). Pass responses with units.")
    if x.sizes[dim] < 2:
        raise ValueError(
            f"Invalid value for 'x': an RDM needs at least 2 conditions along {dim!r} (a "
            f"dissimilarity compares two patterns); got {x.sizes[dim]}. Give x two or more "
            "stimuli, or pass dim= the dim that holds the conditions.")
    if spec.cv and cv_dim is None:
        raise ValueError(
            f"method={method!r} needs 'cv_dim': the dim of x holding independent partitions "
            f"(runs or trials) to cross-validate over; got cv_dim=None and x has dims "
            f"{tuple(x.dims)}. Pass e.g. cv_dim='trial'.")
    if cv_dim is not None and not spec.cv:
        raise ValueError(
            f"'cv_dim' applies to method='crossnobis' only; got cv_dim={cv_dim!r} with "
            f"method={method!r}. Drop cv_dim (average x over {cv_dim!r} first) or use "
            "method='crossnobis'.")
    if cv_dim is not None:
        if cv_dim not in x.dims:
            raise AssemblyError(
                f"Invalid value for 'cv_dim': x has no dim {cv_dim!r}; it has dims "
                f"{tuple(x.dims)}.")
        if x.sizes[cv_dim] < 2:
            raise ValueError(
                f"method='crossnobis' needs at least 2 partitions along {cv_dim!r}; "
                f"x has {x.sizes[cv_dim]}.")
    if noise is not None and not spec.noise:
        raise ValueError(
            f"'noise' applies to method='mahalanobis' or 'crossnobis' only; got a noise "
            f"with method={method!r}. Drop noise or change the method.")
    if isinstance(noise, str):
        if method != "crossnobis":
            raise ValueError(
                f"noise={noise!r} estimates the noise from the residuals around each "
                "stimulus's mean over cv_dim, so it needs method='crossnobis'. For "
                f"method={method!r} pass a precision matrix, e.g. "
                "noise=noise_precision(residuals).")
        _check_option("noise", noise, NOISE_METHODS)
    if not spec.prior and (prior_lambda is not None or prior_weight is not None):
        raise ValueError(
            f"'prior_lambda' and 'prior_weight' apply to method='poisson' only; got "
            f"method={method!r}. Drop them.")
    if by is not None:
        if by not in x.coords or x[by].dims != ("unit",):
            per_unit = [str(k) for k, c in x.coords.items() if c.dims == ("unit",)
                        and k != "unit"]
            raise AssemblyError(
                f"Invalid value for 'by': expected a per-unit coord of x (one of "
                f"{per_unit}); got {by!r}. Add it with x.assign_coords({by}=('unit', ...)).")
        if by in x.dims:
            raise AssemblyError(f"Invalid value for 'by': {by!r} is already a dim of x.")
        if noise is not None and not isinstance(noise, str):
            raise ValueError(
                "A precision matrix cannot be shared across the unit groups of 'by' (the "
                "precision of a subset of units is not a block of the full precision). "
                "Pass noise='shrinkage_diag' (crossnobis) or call rdm once per group.")


_NOISE_FIX = ("A precision matrix must be finite; estimate it from complete residuals, e.g. "
              "noise_precision(residuals.dropna('unit')).")


def _precision_tensor(noise: Any, xs: xr.DataArray, batch: list[str], dev: Any) -> Any:
    """The given precision as a tensor broadcastable to ``(*batch, U, U)``."""
    n_units = xs.sizes["unit"]
    if isinstance(noise, xr.DataArray):
        if not {"unit", "unit_"} <= set(noise.dims) or not set(noise.dims) <= {
                "unit", "unit_", *batch}:
            raise ValueError(
                f"Invalid dims for 'noise': expected ('unit', 'unit_') plus optional batch "
                f"dims of x {tuple(batch)}; got {tuple(noise.dims)}.")
        if "unit" in noise.coords and "unit" in xs.coords:
            ids = xs["unit"].values
            if set(map(str, noise["unit"].values)) != set(map(str, ids)) \
                    or noise.sizes["unit"] != n_units:
                raise ValueError(
                    f"The units of 'noise' ({noise.sizes['unit']}) differ from those of x "
                    f"({n_units}). Estimate the precision on x's units.")
            noise = noise.sel(unit=ids, unit_=ids)
        missing = [d for d in batch if d not in noise.dims]
        noise = noise.expand_dims({d: 1 for d in missing}).transpose(*batch, "unit", "unit_")
        values = check_finite("noise", noise, fix=_NOISE_FIX)
    else:
        values = check_finite("noise", noise, fix=_NOISE_FIX)
        if values.shape != (n_units, n_units):
            raise ValueError(
                f"Invalid shape for 'noise': expected the precision matrix (n_units, n_units) "
                f"= ({n_units}, {n_units}); got {values.shape}.")
    return torch.as_tensor(values, device=dev)


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------

def rdm(x: Any, *, method: str = "correlation", dim: str = "stimulus", cv_dim: str | None = None,
        noise: Any = None, by: str | None = None, prior_lambda: float | None = None,
        prior_weight: float | None = None, device: Any = "auto") -> xr.DataArray:
    r"""Representational dissimilarity matrices, batched over layers, subjects, ...

    With ``x_i`` the pattern of stimulus ``i`` over ``U`` units:

    ============== ==================================================================
    method         ``d(i, j)``
    ============== ==================================================================
    euclidean      ``||x_i - x_j||`` (plain distance, as ``scipy.spatial.distance``)
    sqeuclidean    ``||x_i - x_j||^2 / U`` (rsatoolbox's ``"euclidean"``)
    correlation    ``1 - r(x_i, x_j)``, Pearson r across units
    cosine         ``1 - x_i . x_j / (||x_i|| ||x_j||)``
    mahalanobis    ``(x_i - x_j)^T P (x_i - x_j) / U``, ``P`` the noise precision
                   (identity when ``noise=None``)
    crossnobis     ``mean_f (a_i - a_j)^T P (b_i - b_j) / U`` where, for each partition
                   ``f`` of ``cv_dim``, ``b`` is partition ``f`` and ``a`` the mean of
                   the others (leave one out, rsatoolbox's ``calc_rdm_crossnobis``)
    poisson        ``sum_u (m_iu - m_ju)(log m_iu - log m_ju) / U``, the symmetrised KL
                   divergence of Poisson rates ``m = (x + lambda w) / (1 + w)``
    ============== ==================================================================

    Every method but ``euclidean`` and ``cosine`` (which rsatoolbox lacks) equals
    ``rsatoolbox.rdm.calc_rdm``. Computed in float64 through ``stimulus x stimulus``
    Gram matrices in torch; no ``pairs x units`` array is formed. A stimulus whose
    pattern is constant (correlation) or zero (cosine) gives NaN distances (a missing
    pair to :func:`compare_rdms`). ``x`` and ``noise`` must be finite real numbers: NaN
    or inf raise a ``ValueError`` naming the first bad entry, complex or text a
    ``TypeError``.

    Parameters
    ----------
    x : DataArray, ndarray or rsatoolbox Dataset
        An assembly with dims ``dim`` and ``unit`` (plus ``cv_dim`` for crossnobis; any
        other dim becomes a batch dim), or an array ``(n_stimuli, n_units)`` (or
        ``(n_stimuli, n_partitions, n_units)`` with ``cv_dim``), or an
        ``rsatoolbox.data.Dataset`` whose obs_descriptor ``dim`` names the conditions
        (repeats are averaged and conditions sorted, as rsatoolbox does).
    method : str, default="correlation"
        One of :data:`RDM_METHODS`.
    dim : str, default="stimulus"
        The condition dim: rows and columns of the RDM.
    cv_dim : str, optional
        Crossnobis only: the dim of independent partitions (runs, trials).
    noise : DataArray, ndarray or str, optional
        Mahalanobis / crossnobis only. A precision matrix over units (``(U, U)`` array,
        or DataArray ``("unit", "unit_")`` plus optional batch dims, e.g. from
        :func:`noise_precision`); or, for crossnobis, the name of a covariance estimator
        in :data:`NOISE_METHODS` (e.g. ``"shrinkage_diag"``), estimated per batch entry
        from the residuals of ``x`` around each stimulus's mean over ``cv_dim`` with
        ``dof = n_observations - n_stimuli`` (rsatoolbox's ``prec_from_unbalanced``).
        Default: identity.
    by : str, optional
        A per-unit coord (e.g. ``"layer"``, ``"region"``): one RDM per value, stacked
        along a new batch dim of that name, in order of first appearance.
    prior_lambda, prior_weight : float, optional
        Poisson only: the prior rate and its weight; default 1.0 and 0.1 (rsatoolbox's).
    device : str or torch.device, default="auto"

    Returns
    -------
    DataArray, dims ``(*batch, dim, dim + "_")``
        Square, symmetric, zero diagonal. Coords ``dim`` and ``dim + "_"`` hold the ids,
        batch coords come along; ``attrs["method"]`` is the method.

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> rng = np.random.default_rng(0)
    >>> x = bb.assembly(rng.standard_normal((4, 6)), dims=("stimulus", "unit"),
    ...                 modality="ann")
    >>> r = rdm(x, method="correlation", device="cpu")
    >>> r.dims, r.shape
    (('stimulus', 'stimulus_'), (4, 4))
    >>> bool((r == r.T).all()), float(r[0, 0])
    (True, 0.0)
    """
    method = _check_option("method", method, RDM_METHODS)
    spec = RDM_METHODS[method]
    _validate_type("dim", dim, str, "a dim name (str)")
    x = _as_dataarray(x, dim, cv_dim)
    _check_args(x, method, spec, dim, cv_dim, noise, by, prior_lambda, prior_weight)
    dev = resolve_device(device)
    ctx: dict[str, Any] = {
        "prior_lambda": 1.0 if prior_lambda is None else float(prior_lambda),
        "prior_weight": 0.1 if prior_weight is None else float(prior_weight),
    }
    batch = [str(d) for d in x.dims if d not in (dim, "unit", cv_dim)]
    order = [*batch, dim, *([cv_dim] if cv_dim else []), "unit"]
    if by is None:
        groups: list[tuple[Any, Any]] = [(None, None)]
    else:
        labels = np.asarray(x[by].values)
        groups = [(g, np.flatnonzero(labels == g)) for g in pd.unique(labels)]
    results = []
    for _, idx in groups:
        xs = x if idx is None else x.isel(unit=idx)
        values = np.ascontiguousarray(check_finite("x", xs.transpose(*order), fix=(
            "RDMs need complete, finite patterns. Drop the units with missing values first, "
            "e.g. x.dropna('unit', how='any').")))
        t = torch.as_tensor(values, device=dev)
        if spec.noise:
            _set_noise(ctx, noise, xs, t, batch, dim, cv_dim, dev)
        d = spec.kernel(t, ctx)
        d = 0.5 * (d + d.transpose(-1, -2))
        d.diagonal(dim1=-2, dim2=-1).zero_()
        results.append(d.cpu().numpy())
    out = results[0] if by is None else np.stack(results, axis=0)
    return _wrap(out, x, method, dim, batch, by, [g for g, _ in groups])


def _set_noise(ctx: dict, noise: Any, xs: xr.DataArray, t: Any, batch: list[str], dim: str,
               cv_dim: str | None, dev: Any) -> None:
    """Put the noise model in ``ctx``: a precision and/or a whitening function."""
    if noise is None or not isinstance(noise, str):
        prec = None if noise is None else _precision_tensor(noise, xs, batch, dev)
        ctx["precision"] = prec

        def whiten(m: Any) -> tuple[Any, Any]:
            if prec is None:
                return m, m
            return m, torch.matmul(m, prec.unsqueeze(-3))

        ctx["whiten"] = whiten
        return
    # Estimate the covariance from residuals around each stimulus's mean over cv_dim and
    # whiten with its Cholesky factor: M P M^T = (L^-1 M^T)^T (L^-1 M^T).
    n_stim, n_folds, n_units = t.shape[-3:]
    resid = (t - t.mean(dim=-2, keepdim=True)).reshape(*t.shape[:-3], n_stim * n_folds, n_units)
    resid = resid - resid.mean(dim=-2, keepdim=True)
    dof = n_stim * n_folds - n_stim
    cov = NOISE_METHODS[noise](resid, float(dof))
    chol = torch.linalg.cholesky(cov)

    def whiten_chol(m: Any) -> tuple[Any, Any]:
        # m: (..., F, S, U) -> w = m L^-T, solved as L w^T = m^T.
        lead = chol.unsqueeze(-3)
        w = torch.linalg.solve_triangular(lead, m.transpose(-1, -2), upper=False)
        w = w.transpose(-1, -2)
        return w, w

    ctx["whiten"] = whiten_chol
    ctx["precision"] = None


def _wrap(values: np.ndarray, x: xr.DataArray, method: str, dim: str, batch: list[str],
          by: str | None, group_labels: list[Any]) -> xr.DataArray:
    ids = _ids(x, dim)
    dims = ([by] if by else []) + batch + [dim, dim + "_"]
    coords: dict[Hashable, Any] = {dim: ids, dim + "_": ids}
    for name, c in x.coords.items():
        if name in (dim, "unit") or name == by:
            continue
        if c.dims == (dim,):
            coords[name] = (dim, np.asarray(c.values))
        elif c.dims and set(c.dims) <= set(batch):
            coords[name] = c.variable
    if by:
        coords[by] = np.asarray(group_labels)
    attrs = {"method": method, "description": RDM_METHODS[method].description}
    attrs.update({k: v for k, v in x.attrs.items() if k in ("modality", "source")})
    return xr.DataArray(values, dims=dims, coords=coords, attrs=attrs, name="rdm")


def _square_dims(r: xr.DataArray, name: str = "r") -> tuple[str, str]:
    if r.ndim >= 2:
        a, b = str(r.dims[-2]), str(r.dims[-1])
        if b == a + "_":
            return a, b
    raise AssemblyError(
        f"{name!r} must be an RDM with dims (*batch, d, d + '_'), e.g. ('stimulus', "
        f"'stimulus_'), as rdm() returns; got dims {tuple(r.dims)}.")


def rdm_vector(r: xr.DataArray) -> xr.DataArray:
    """The upper triangle of each RDM, in rsatoolbox's order.

    Pairs ``(i, j)``, ``i < j``, in row-major order (``np.triu_indices(n, k=1)``, the
    order of ``scipy.spatial.distance.squareform`` and of
    ``rsatoolbox.rdm.RDMs.dissimilarities``).

    Parameters
    ----------
    r : DataArray, dims ``(*batch, d, d + "_")``

    Returns
    -------
    DataArray, dims ``(*batch, "pair")``
        Coords ``d`` and ``d + "_"`` along ``pair`` give the two stimulus ids of each pair.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> r = xr.DataArray([[0., 1, 2], [1, 0, 3], [2, 3, 0]], dims=("stimulus", "stimulus_"))
    >>> rdm_vector(r).values
    array([1., 2., 3.])
    """
    d0, d1 = _square_dims(r)
    check_finite("r", r, allow_nan=True, fix="NaN marks a missing pair; inf is no distance.")
    n = r.sizes[d0]
    iu, ju = np.triu_indices(n, k=1)
    values = np.asarray(r.values)[..., iu, ju]
    batch = [str(d) for d in r.dims[:-2]]
    coords: dict[Hashable, Any] = {name: c.variable for name, c in r.coords.items()
                                   if c.dims and set(c.dims) <= set(batch)}
    ids = _ids(r, d0)
    coords[d0] = ("pair", ids[iu])
    coords[d1] = ("pair", ids[ju])
    return xr.DataArray(values, dims=(*batch, "pair"), coords=coords, attrs=dict(r.attrs),
                        name=r.name)


def to_rsatoolbox_rdms(r: xr.DataArray) -> Any:
    """Convert RDMs from :func:`rdm` into an ``rsatoolbox.rdm.RDMs`` object.

    Batch entries become the RDMs (flattened in C order); each batch dim's labels become
    an ``rdm_descriptor`` and the batch layout is kept in ``descriptors`` so that
    :func:`from_rsatoolbox_rdms` restores it. Condition ids (and per-condition coords)
    become ``pattern_descriptors``. ``dissimilarity_measure`` uses rsatoolbox's name where
    it has one (``sqeuclidean`` -> ``"squared euclidean"``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> r = xr.DataArray([[0., 1, 2], [1, 0, 3], [2, 3, 0]], dims=("stimulus", "stimulus_"),
    ...                  coords={"stimulus": ["a", "b", "c"], "stimulus_": ["a", "b", "c"]},
    ...                  attrs={"method": "correlation"})
    >>> to_rsatoolbox_rdms(r).dissimilarities
    array([[1., 2., 3.]])
    """
    rdms_mod = _soft_import("rsatoolbox.rdm", "conversion to rsatoolbox RDMs", "dev")
    d0, _ = _square_dims(r)
    vec = rdm_vector(r)
    batch = [str(d) for d in r.dims[:-2]]
    sizes = [r.sizes[d] for d in batch]
    values = np.asarray(vec.values, dtype=np.float64).reshape(-1, vec.sizes["pair"])
    grids = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij") if batch else []
    rdm_desc = {}
    for d, grid in zip(batch, grids, strict=True):
        labels = np.asarray(r[d].values) if d in r.coords else np.arange(r.sizes[d])
        rdm_desc[d] = labels[grid.ravel()]
    pattern = {d0: np.asarray(_ids(r, d0))}
    for name, c in r.coords.items():
        if c.dims == (d0,) and name != d0:
            pattern[str(name)] = np.asarray(c.values)
    method = r.attrs.get("method")
    descriptors = {"brainbridge_method": method, "brainbridge_batch_dims": list(batch),
                   "brainbridge_dim": d0}
    return rdms_mod.RDMs(values, dissimilarity_measure=_RSATOOLBOX_MEASURE.get(str(method), method),
                         descriptors=descriptors, rdm_descriptors=rdm_desc or None,
                         pattern_descriptors=pattern)


def from_rsatoolbox_rdms(rdms: Any, *, dim: str = "stimulus") -> xr.DataArray:
    """Convert an ``rsatoolbox.rdm.RDMs`` object into our RDM layout.

    The result has dims ``(*batch, dim, dim + "_")``. RDMs made by
    :func:`to_rsatoolbox_rdms` get their batch dims back; any other RDMs object gets one
    batch dim ``"rdm"`` carrying every ``rdm_descriptor`` as a coord. Condition ids are
    the pattern descriptor ``dim`` (else rsatoolbox's ``index``), as strings.

    Examples
    --------
    >>> import numpy as np
    >>> from rsatoolbox.rdm import RDMs
    >>> r = from_rsatoolbox_rdms(RDMs(np.array([[1., 2., 3.]])))
    >>> r.dims, float(r[0, 0, 1])
    (('rdm', 'stimulus', 'stimulus_'), 1.0)
    """
    vectors = np.asarray(rdms.dissimilarities, dtype=np.float64)
    n_rdm, n_pairs = vectors.shape
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    iu, ju = np.triu_indices(n, k=1)
    square = np.zeros((n_rdm, n, n))
    square[:, iu, ju] = vectors
    square[:, ju, iu] = vectors
    pat = rdms.pattern_descriptors
    ids = np.asarray(pat[dim] if dim in pat else pat.get("index", np.arange(n))).astype(str)
    coords: dict[Hashable, Any] = {dim: ids, dim + "_": ids}
    for name, v in pat.items():
        if name not in (dim, "index") and len(v) == n:
            coords[name] = (dim, np.asarray(v))
    desc = rdms.descriptors or {}
    batch = list(desc.get("brainbridge_batch_dims", []) or [])
    method = desc.get("brainbridge_method") or rdms.dissimilarity_measure
    if "brainbridge_batch_dims" in desc and all(d in rdms.rdm_descriptors for d in batch):
        labels = [pd.unique(np.asarray(rdms.rdm_descriptors[d])) for d in batch]
        sizes = [len(lab) for lab in labels]
        if int(np.prod(sizes)) == n_rdm:
            for d, lab in zip(batch, labels, strict=True):
                coords[d] = lab
            return xr.DataArray(square.reshape(*sizes, n, n), dims=(*batch, dim, dim + "_"),
                                coords=coords, attrs={"method": method}, name="rdm")
    for name, v in rdms.rdm_descriptors.items():
        v = np.asarray(v)
        if v.shape == (n_rdm,):
            coords["rdm" if name == "index" else name] = ("rdm", v)
    return xr.DataArray(square, dims=("rdm", dim, dim + "_"), coords=coords,
                        attrs={"method": method}, name="rdm")
