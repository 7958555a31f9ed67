"""A linear-nonlinear-Poisson (LNP) encoder: a Poisson GLM on FIR-delayed stimulus.

``log E[n_t] = b + sum_{j=0}^{n_lags-1} k_j x_{t-j}``: a linear filter over the last
``n_lags`` bins of a stimulus (the delays of :func:`brainbridge.encoders.lagged`), an
exponential nonlinearity and Poisson spike counts. Inputs are time-first, ``(T, n_sequences)``
or ``(T, n_sequences, 1)``, the layout of a sequence task's tensors; every sequence is
delayed on its own (zeros before its start, nothing carried over from another sequence).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .._checks import check_scalar
from ._lagged import lagged

__all__ = ["LNP", "fit_lnp"]


def _time_first(x: Any, name: str) -> np.ndarray:
    """``(T, B)`` float64 from a ``(T, B)`` or ``(T, B, 1)`` array or tensor."""
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu()
    values = np.asarray(x, dtype=np.float64)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(
            f"Invalid value for {name!r}: expected a time-first array of shape (T, n_sequences) "
            f"or (T, n_sequences, 1) (one stimulus or one neuron); got shape {values.shape}."
        )
    return values


def _design(x: np.ndarray, n_lags: int) -> np.ndarray:
    """``(T, B)`` -> ``(T, B, n_lags)``, column ``j`` holding ``x[t - j]`` of the same sequence.

    The samples are flattened time-major (sample ``t * B + b``) with the sequence as the run
    id, so :func:`~brainbridge.encoders.lagged` zero-fills each sequence's start.
    """
    n_time, n_seq = x.shape
    flat = xr.DataArray(x.reshape(n_time * n_seq, 1), dims=("time", "unit"), coords={"unit": ["x"]})
    runs = np.tile(np.arange(n_seq), n_time)
    delayed = lagged(flat, np.arange(n_lags), groups=runs)  # delay-major: column j is delay j
    return np.ascontiguousarray(delayed.values).reshape(n_time, n_seq, n_lags)


class LNP(NamedTuple):
    """A fitted linear-nonlinear-Poisson model (see :func:`fit_lnp`).

    Attributes
    ----------
    filter : ndarray, (n_lags,)
        ``k_j``, the weight of the stimulus ``j`` bins back.
    intercept : float
        ``b``.
    n_lags : int

    Examples
    --------
    >>> import numpy as np
    >>> lnp = LNP(filter=np.array([1.0, 0.5]), intercept=-2.0, n_lags=2)
    >>> lnp.log_rate(np.array([[1.0], [0.0], [0.0]]))[:, 0, 0].tolist()  # b + k_0 x_t + k_1 x_{t-1}
    [-1.0, -1.5, -2.0]
    """

    filter: np.ndarray
    intercept: float
    n_lags: int

    def log_rate(self, x: Any) -> np.ndarray:
        """Log expected count per bin, ``(T, B, 1)``, for a time-first stimulus ``x`` (T, B[, 1])."""
        xs = _time_first(x, "x")
        return (_design(xs, self.n_lags) @ self.filter + self.intercept)[..., None]


def fit_lnp(stimulus: Any, counts: Any, *, n_lags: int = 20, alpha: float = 1e-4) -> LNP:
    """Fit a linear-nonlinear-Poisson model (a Poisson GLM) to spike counts.

    ``log E[n_t] = b + sum_{j=0}^{n_lags-1} k_j x_{t-j}``: a linear filter over the last
    ``n_lags`` bins of the stimulus (FIR delays, :func:`brainbridge.encoders.lagged`, per
    sequence), an exponential nonlinearity and Poisson spike counts, fitted by penalised
    maximum likelihood with :class:`sklearn.linear_model.PoissonRegressor` (L2 penalty
    ``alpha``, ``max_iter=1000``) on every bin whose count is not NaN.

    Parameters
    ----------
    stimulus : array or tensor, (T, n_sequences) or (T, n_sequences, 1)
        Time-first stimulus, e.g. ``task.x_train`` of
        :func:`brainbridge.snn.grasshopper_task`.
    counts : array or tensor, the shape of ``stimulus``
        Spike counts per bin; NaN where no target is given (e.g. a burn-in, which should be
        at least ``n_lags`` bins so that every fitted bin has a full history).
    n_lags : int, default=20
        Filter length in bins.
    alpha : float, default=1e-4
        L2 penalty.

    Returns
    -------
    LNP
        ``filter`` (n_lags,), ``intercept``; ``LNP.log_rate(x)`` predicts log-rates in the
        time-first layout ``(T, B, 1)`` of a model output.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 8))
    >>> y = rng.poisson(np.exp(-1.0 + 0.5 * x)).astype(float)
    >>> lnp = fit_lnp(x, y, n_lags=3)
    >>> bool(np.abs(lnp.filter - [0.5, 0.0, 0.0]).max() < 0.05), round(lnp.intercept, 1)
    (True, -1.0)
    """
    from sklearn.linear_model import PoissonRegressor

    n_lags = check_scalar("n_lags", n_lags, int, low=1, what="filter length in bins")
    alpha = check_scalar("alpha", alpha, float, low=0.0, what="L2 penalty")
    x = _time_first(stimulus, "stimulus")
    y = _time_first(counts, "counts")
    if y.shape != x.shape:
        raise ValueError(
            f"Invalid value for 'counts': expected the shape of 'stimulus' {x.shape} (one count "
            f"per stimulus bin); got {y.shape}."
        )
    valid = np.isfinite(y)
    design = _design(x, n_lags)
    glm = PoissonRegressor(alpha=alpha, max_iter=1000).fit(design[valid], y[valid])
    return LNP(filter=glm.coef_.copy(), intercept=float(glm.intercept_), n_lags=n_lags)
