"""Per-target scores shared by every encoder and analysis: Pearson r, Spearman r and R^2.

One policy for targets that cannot be scored: a target (or a prediction) that is constant over
the samples has no variance to explain or correlate with, so its r, Spearman r and R^2 are
**NaN**, never 0 or 1. So is a target with fewer than 2 samples. Averages over targets should
skip NaN (``np.nanmean``) and say how many targets were left out. Sums are accumulated in
float64 whatever the input dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = ["pearson_r", "spearman_r", "r2_score", "zscore", "SCORE_POLICY"]

#: The documented policy, quoted by docstrings and reports.
SCORE_POLICY = "NaN for a target (or prediction) that is constant over samples, or has < 2 samples"


def _pair(y_true: Any, y_pred: Any, axis: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(
            f"Invalid value for 'y_pred': expected the shape of 'y_true' {y.shape}; got {p.shape}."
        )
    return np.moveaxis(y, axis, 0), np.moveaxis(p, axis, 0)


def pearson_r(y_true: Any, y_pred: Any, *, axis: int = 0) -> Any:
    """Pearson correlation along ``axis``, one value per target, in float64.

    ``r = sum(yc * pc) / sqrt(sum(yc^2) * sum(pc^2))`` with ``yc = y - mean(y)`` and
    ``pc = p - mean(p)`` over the samples, clipped to [-1, 1]. NaN where either side is
    constant (see the module's policy).

    Parameters
    ----------
    y_true, y_pred : array-like, same shape, e.g. ``(n_samples, n_targets)`` or ``(n_samples,)``
    axis : int, default=0
        The samples axis.

    Returns
    -------
    ndarray of shape without ``axis`` (a float for 1-D inputs)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    >>> pearson_r(y, y * 2 + 1).tolist()
    [1.0, nan]
    >>> pearson_r([1, 2, 3, 4], [1, 3, 2, 4])
    0.8
    """
    y, p = _pair(y_true, y_pred, axis)
    if y.shape[0] < 2:
        return _out(np.full(y.shape[1:], np.nan))
    yc = y - y.mean(axis=0)
    pc = p - p.mean(axis=0)
    num = np.einsum("i...,i...->...", yc, pc)
    ss_y = np.einsum("i...,i...->...", yc, yc)
    ss_p = np.einsum("i...,i...->...", pc, pc)
    # "constant": no spread beyond rounding of the mean (relative to the values' scale)
    flat = (ss_y <= _tiny(y)) | (ss_p <= _tiny(p))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(num / np.sqrt(ss_y * ss_p), -1.0, 1.0)
    return _out(np.where(flat, np.nan, r))


def spearman_r(y_true: Any, y_pred: Any, *, axis: int = 0) -> Any:
    """Spearman rank correlation along ``axis`` (Pearson r of average ranks), per target.

    Examples
    --------
    >>> spearman_r([1, 2, 3, 4], [1, 10, 100, 1000])
    1.0
    """
    y, p = _pair(y_true, y_pred, axis)
    return pearson_r(rankdata(y, axis=0), rankdata(p, axis=0))


def r2_score(y_true: Any, y_pred: Any, *, axis: int = 0) -> Any:
    """Coefficient of determination ``1 - SSE / SST`` along ``axis``, per target, in float64.

    ``SST`` is taken about the target's own mean over the scored samples (as in
    :func:`sklearn.metrics.r2_score`); NaN for a constant target, never the 1 or 0 that
    scikit-learn's ``force_finite=True`` substitutes nor the ``-inf`` (``SSE / 0``) of its
    ``force_finite=False``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    >>> r2_score(y, y + [[0.5, 0.0]]).tolist()
    [0.625, nan]
    """
    y, p = _pair(y_true, y_pred, axis)
    if y.shape[0] < 2:
        return _out(np.full(y.shape[1:], np.nan))
    yc = y - y.mean(axis=0)
    sst = np.einsum("i...,i...->...", yc, yc)
    sse = np.einsum("i...,i...->...", y - p, y - p)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - sse / sst
    return _out(np.where(sst <= _tiny(y), np.nan, r2))


def zscore(x: Any, *, axis: int = 0, ddof: int = 0) -> np.ndarray:
    """Standardise along ``axis``: ``(x - mean) / std``, in float64; constant series give 0.

    ``std`` is ``sqrt(sum((x - mean)^2) / (n - ddof))``. A series whose ``std`` is below
    float64's machine epsilon (or that has ``n <= ddof`` samples) is centred only, so it
    becomes all zeros (nilearn's ``signal.clean`` convention), never NaN or inf.

    Parameters
    ----------
    x : array-like
    axis : int, default=0
        The axis along which each series runs.
    ddof : int, default=0
        Delta degrees of freedom of the standard deviation (1: the sample standard deviation).

    Returns
    -------
    ndarray, float64, the shape of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> zscore(np.array([[1.0, 4.0], [3.0, 4.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    >>> zscore([1.0, 2.0, 3.0], ddof=1).tolist()
    [-1.0, 0.0, 1.0]
    """
    a = np.asarray(x, dtype=np.float64)
    centred = a - a.mean(axis=axis, keepdims=True)
    n = a.shape[axis] if a.ndim else 1
    if n <= ddof:
        return np.zeros_like(centred)
    std = np.sqrt(np.square(centred).sum(axis=axis, keepdims=True) / (n - ddof))
    std = np.where(std < np.finfo(np.float64).eps, 1.0, std)
    return centred / std


def _tiny(a: np.ndarray) -> np.ndarray:
    """Sum of squares below which a column counts as constant (rounding of its mean)."""
    scale = np.max(np.abs(a), axis=0) if a.size else np.zeros(a.shape[1:])
    return (np.finfo(np.float64).eps * scale) ** 2 * a.shape[0] * 16


def _out(a: np.ndarray) -> Any:
    return float(a) if a.ndim == 0 else a
