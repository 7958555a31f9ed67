"""Spike-train metrics: the coincidence factor, and spike trains drawn from predicted rates.

* :func:`coincidence_factor`: Kistler et al. 1997's Gamma between model and data spike
  trains (spike times or binned counts), with the published or the exact Poisson chance level.
* :func:`sample_spikes`: binned spike trains drawn from per-bin log-rates (at most one spike
  per bin), to score a rate model with the coincidence factor.
* :func:`threshold_spikes`: a deterministic train from a predicted rate, one spike at each
  upward crossing of a threshold set to match a spike count.
* :func:`spike_timing`: how much of a recording's spike timing a predicted rate captures, by
  the coincidence factor of drawn and of threshold trains against time-shifted nulls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from .._checks import _check_option, check_random_state, check_scalar

__all__ = ["coincidence_factor", "sample_spikes", "threshold_spikes", "spike_timing", "EXPECTED"]


def sample_spikes(log_rate: Any, *, n_samples: int = 1, random_state: Any = 0) -> np.ndarray:
    """Draw binned spike trains from per-bin log-rates: at most one spike per bin.

    A bin with expected count ``lam = exp(log_rate)`` holds a spike with probability
    ``1 - exp(-lam)``, the chance that a Poisson process of that rate fires in it.

    Parameters
    ----------
    log_rate : Tensor or array, any shape
        Natural log of the expected spike count per bin.
    n_samples : int, default=1
        Number of independent draws.
    random_state : int, Generator or None, default=0
        Seed (or generator) of the draws.

    Returns
    -------
    ndarray, (n_samples, *log_rate.shape), float64 of 0 and 1

    Examples
    --------
    >>> import numpy as np
    >>> spikes = sample_spikes(np.log([0.5, 2.0]), n_samples=1000, random_state=0)
    >>> spikes.shape, np.round(spikes.mean(0), 1).tolist()
    ((1000, 2), [0.4, 0.9])
    """
    lr = log_rate.detach().cpu().double().numpy() if hasattr(log_rate, "detach") else np.asarray(
        log_rate, dtype=np.float64)
    n_samples = check_scalar("n_samples", n_samples, int, low=1, what="number of draws")
    p = -np.expm1(-np.exp(lr))
    rng = check_random_state(random_state)
    return (rng.random((n_samples, *p.shape)) < p).astype(np.float64)


def _spike_times(trains: Any, dt: float | None) -> list[np.ndarray]:
    if dt is None:
        if isinstance(trains, np.ndarray) and trains.ndim == 1:
            return [np.sort(trains.astype(np.float64))]
        if isinstance(trains, np.ndarray) and trains.dtype == object:
            return [np.sort(np.asarray(t, dtype=np.float64)) for t in trains]
        if isinstance(trains, (list, tuple)) and trains and np.ndim(trains[0]) == 1:
            return [np.sort(np.asarray(t, dtype=np.float64)) for t in trains]
        return [np.sort(np.asarray(trains, dtype=np.float64).ravel())]
    counts = np.asarray(trains)
    if counts.ndim == 1:
        counts = counts[:, None]
    if counts.ndim != 2:
        raise ValueError(
            f"Invalid value for 'spikes': expected binned counts of shape (time,) or (time, "
            f"n_trains) with dt; got shape {counts.shape}."
        )
    if np.any(counts < 0) or not np.all(np.isfinite(counts)) or np.any(counts != np.round(counts)):
        raise ValueError(
            "Invalid value for 'spikes': binned trains must hold whole, non-negative spike counts; "
            "got other values. Pass spike times with dt=None instead."
        )
    out = []
    for col in counts.T.astype(np.int64):
        idx = np.repeat(np.arange(col.size), col)
        out.append(idx * dt)
    return out


def _n_coincident(data: np.ndarray, model: np.ndarray, delta: float) -> int:
    """Data spikes with at least one model spike within ``delta`` (both sorted)."""
    if data.size == 0 or model.size == 0:
        return 0
    lo = np.searchsorted(model, data - delta, side="left")
    hi = np.searchsorted(model, data + delta, side="right")
    return int(np.count_nonzero(hi > lo))


#: ``expected`` of :func:`coincidence_factor` -> chance probability that a data spike has a
#: model spike within the window, from the model rate ``nu`` (Hz), ``delta``, and ``bins``
#: and ``dt`` (bins in the window and their width; ``bins`` is None for spike times).
EXPECTED = {
    "linear": lambda nu, delta, bins, dt: 2.0 * nu * delta,
    "poisson": lambda nu, delta, bins, dt: (-math.expm1(-2.0 * nu * delta) if bins is None
                                            else 1.0 - (1.0 - min(nu * dt, 1.0)) ** bins),
}


def coincidence_factor(
    spikes_model: Any,
    spikes_data: Any,
    *,
    delta: float = 4e-3,
    dt: float | None = None,
    duration: float | None = None,
    expected: str = "linear",
) -> float:
    r"""Coincidence factor Gamma between model and data spike trains (Kistler et al. 1997).

    .. math::

        \Gamma = \frac{N_\mathrm{coinc} - \langle N_\mathrm{coinc} \rangle}
                      {\tfrac12 (N_\mathrm{data} + N_\mathrm{model})}
                 \frac{1}{1 - p},
        \qquad \langle N_\mathrm{coinc} \rangle = p \, N_\mathrm{data},
        \qquad \nu = N_\mathrm{model} / \mathrm{duration}

    ``N_coinc`` counts the data spikes that have at least one model spike within
    ``|t_data - t_model| <= delta``; ``p N_data`` is the number expected by chance from a
    Poisson train with the model's rate ``nu``. ``expected="linear"`` is the published
    formula, ``p = 2 nu delta`` (Kistler, Gerstner & van Hemmen 1997, Neural Comput 9:1015;
    Jolivet et al. 2008, J Neurosci Methods 169:417). It is the first-order expansion of the
    exact chance probability ``expected="poisson"``: ``p = 1 - exp(-2 nu delta)`` for spike
    times (a Poisson process), and ``p = 1 - (1 - nu dt)^(2 k + 1)`` for binned trains (a
    Bernoulli process, at most one spike per bin, over the ``2 k + 1`` bins within
    ``k = floor(delta / dt)`` bins of the data spike). The two agree when ``2 nu delta`` is
    small; at high rates the linear form overestimates chance and a rate-matched Poisson
    train scores below 0 (e.g. about -0.3 at 80 Hz with delta = 4 ms), while the Poisson form
    keeps its chance level at 0. Either way Gamma is 1 when the model reproduces the data
    exactly.

    With several trains (columns, or lists of trains) the counts are pooled over pairs (model
    train i with data train i) before the formula is applied, with ``duration`` the summed
    length.

    Parameters
    ----------
    spikes_model, spikes_data : array-like
        Spike times in seconds (a 1-d array, or a list of them) when ``dt`` is None; binned
        spike counts of shape ``(time,)`` or ``(time, n_trains)`` otherwise (bin ``i`` puts
        its spikes at ``i * dt``).
    delta : float, default=4e-3
        Precision window Delta in seconds.
    dt : float, optional
        Bin width in seconds for binned input.
    duration : float, optional
        Total recording length in seconds; default ``time * dt * n_trains`` for binned
        input. Required for spike times.
    expected : {"linear", "poisson"}, default="linear"
        Chance level: the published ``2 nu delta`` or the exact Poisson probability.

    Returns
    -------
    float
        Gamma; NaN if neither train has a spike.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.snn import coincidence_factor
    >>> data = np.array([0.010, 0.050, 0.120])
    >>> coincidence_factor(data, data, duration=0.2)
    1.0
    >>> round(coincidence_factor(data + 0.002, data, duration=0.2), 6)  # within 4 ms
    1.0
    >>> round(coincidence_factor(data + 0.010, data, duration=0.2), 4)  # none coincide
    -0.1364
    """
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
        raise ValueError(
            f"Invalid value for 'delta': expected a number > 0 (precision window in seconds); "
            f"got {delta!r}."
        )
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0):
        raise ValueError(f"Invalid value for 'dt': expected a number > 0 (bin width in seconds); got {dt!r}.")
    _check_option("expected", expected, EXPECTED)
    model = _spike_times(spikes_model, dt)
    data = _spike_times(spikes_data, dt)
    if len(model) != len(data):
        raise ValueError(
            f"'spikes_model' holds {len(model)} trains but 'spikes_data' holds {len(data)}; "
            "give one model train per data train."
        )
    if duration is None:
        if dt is None:
            raise ValueError(
                "Invalid value for 'duration': spike times need the recording length in seconds "
                "to know the model's rate; got None. Pass duration=..., or binned counts with dt."
            )
        duration = np.asarray(spikes_data).shape[0] * dt * len(data)
    if not duration > 0:
        raise ValueError(f"Invalid value for 'duration': expected a number > 0 (seconds); got {duration!r}.")
    bins = None
    if dt is None:
        model_t, data_t, window = model, data, delta
    else:  # compare bin indices, exactly
        k = int(math.floor(delta / dt + 1e-9))
        bins = 2 * k + 1
        model_t = [np.rint(m / dt) for m in model]
        data_t = [np.rint(d / dt) for d in data]
        window = k
    n_coinc = sum(_n_coincident(d, m, window) for d, m in zip(data_t, model_t))
    n_data = sum(d.size for d in data)
    n_model = sum(m.size for m in model)
    if n_data + n_model == 0:
        return float("nan")
    p = EXPECTED[expected](n_model / duration, delta, bins, dt)
    return float((n_coinc - p * n_data) / (0.5 * (n_data + n_model)) / (1.0 - p))


def _binned_train(values: Any, name: str) -> np.ndarray:
    a = (values.detach().cpu().double().numpy() if hasattr(values, "detach")
         else np.asarray(values, dtype=np.float64))
    if a.ndim != 1 or a.size < 2 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(
            f"Invalid value for {name!r}: expected finite, non-negative values per bin, shape (time,) "
            f"with at least 2 bins; got shape {a.shape}"
            + ("." if a.ndim != 1 or a.size < 2 else " with negative or non-finite values.")
        )
    return a


def threshold_spikes(rate: Any, *, n_spikes: float | None = None, n_levels: int = 400) -> np.ndarray:
    """A deterministic spike train: one spike at each upward crossing of a threshold on a rate.

    Bin ``t`` holds a spike when ``rate[t] > theta >= rate[t - 1]`` (bin 0 never does: a train
    that starts above the threshold has no crossing there). ``theta`` is the one among the
    ``n_levels + 1`` quantiles of ``rate`` (at ``0, 1/n_levels, ..., 1``; duplicates merged)
    whose number of crossings is closest to ``n_spikes`` (ties: the higher threshold). So the
    train has about the model's own spike count and a spike at the onset of each rate peak.

    Parameters
    ----------
    rate : array or Tensor, (time,)
        Predicted spike count per bin (non-negative).
    n_spikes : float, optional
        Wanted number of spikes; default ``rate.sum()``, the predicted count.
    n_levels : int, default=400
        Quantile intervals of the candidate thresholds.

    Returns
    -------
    ndarray, (time,), float64 of 0 and 1

    Examples
    --------
    One peak every 25 bins: 80 peaks in 2000 bins give 80 spikes, as near as a threshold
    gets to the predicted 200.

    >>> import numpy as np
    >>> rate = 0.1 + 0.09 * np.sin(2 * np.pi * np.arange(2000) / 25)
    >>> spikes = threshold_spikes(rate)
    >>> int(spikes.sum()), np.unique(np.diff(np.flatnonzero(spikes))).tolist()
    (80, [25])
    """
    r = _binned_train(rate, "rate")
    target = float(r.sum()) if n_spikes is None else check_scalar("n_spikes", n_spikes, float, low=0,
                                                                  what="spike count")
    n_levels = check_scalar("n_levels", n_levels, int, low=1, what="quantile intervals")
    levels = np.unique(np.quantile(r, np.linspace(0.0, 1.0, n_levels + 1)))
    above = r[None, :] > levels[:, None]
    crossings = np.count_nonzero(above[:, 1:] & ~above[:, :-1], axis=1)
    best = levels.size - 1 - int(np.argmin(np.abs(crossings - target)[::-1]))
    up = r > levels[best]
    out = np.zeros(r.size)
    out[1:] = up[1:] & ~up[:-1]
    return out


def spike_timing(
    rate: Any,
    spikes: Any,
    *,
    dt: float,
    delta: float = 4e-3,
    n_samples: int = 10,
    n_permutations: int = 20,
    random_state: Any = None,
) -> xr.Dataset:
    """How much of the timing of recorded spikes a predicted rate captures.

    Spike trains are made from the rate in two ways, drawn (:func:`sample_spikes`: a
    Poisson process, at most one spike per bin) and placed (:func:`threshold_spikes`), and each
    is scored against the recorded train by the coincidence factor Gamma
    (:func:`coincidence_factor` with the exact Poisson chance level, window ``delta``).
    Gamma is 0 for a Poisson train that is independent of the data, but a regular train can
    score above 0 without any stimulus alignment. So each train also gets a null: the same
    generator applied to the rate shifted in time (``numpy.roll`` by a random number of bins,
    drawn uniformly from ``[T // 10, T - T // 10)``), which keeps the rate's statistics but
    not its alignment. Only the excess over that null is stimulus-locked timing. The Poisson
    ceiling, the Gamma between two independent draws of the rate itself, is what even a model
    whose rate were exactly the neuron's would score if the neuron fired like a Poisson process.

    The random stream is used in this order: the shifts, ``2 * n_samples`` draws (the first
    ``n_samples`` against the data, then pairs ``(i, i + n_samples)`` for the ceiling), then
    one draw per shifted rate.

    Parameters
    ----------
    rate : array or Tensor, (time,)
        Predicted spike count per bin (non-negative; a bin of rate 0 never spikes).
    spikes : array, (time,)
        Recorded spike counts per bin.
    dt : float
        Bin width in seconds.
    delta : float, default=4e-3
        Coincidence window in seconds.
    n_samples : int, default=10
        Poisson draws against the data (and pairs for the ceiling).
    n_permutations : int, default=20
        Time shifts of the null.
    random_state : int, Generator or None
        Seeds the shifts and the draws.

    Returns
    -------
    Dataset
        ``poisson`` and ``poisson_ceiling`` over 'sample'; ``threshold`` (a scalar);
        ``poisson_null`` and ``threshold_null`` over 'permutation' (coord ``shift``, in bins).
        ``attrs``: ``dt``, ``delta``, ``n_spikes`` (recorded), ``n_threshold_spikes``.

    Examples
    --------
    A rate with brief peaks at random times, and spikes drawn from it: both kinds of train
    beat their shifted null, the placed spikes by more.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> rate = 0.01 + 0.3 * (rng.random(20000) < 0.03)
    >>> spikes = (rng.random(rate.size) < rate).astype(float)
    >>> res = spike_timing(rate, spikes, dt=1e-3, random_state=0)
    >>> sorted(res.data_vars)
    ['poisson', 'poisson_ceiling', 'poisson_null', 'threshold', 'threshold_null']
    >>> round(float(res.threshold), 2), round(float(res.threshold_null.mean()), 2)
    (0.37, -0.0)
    >>> round(float(res.poisson.mean()), 2), round(float(res.poisson_null.mean()), 2)
    (0.11, 0.0)
    """
    r = _binned_train(rate, "rate")
    data = _binned_train(spikes, "spikes")
    if data.shape != r.shape:
        raise ValueError(f"Invalid value for 'spikes': expected the shape of 'rate' {r.shape}; got "
                         f"{data.shape}.")
    dt = check_scalar("dt", dt, float, low=0, closed="neither", what="bin width in seconds")
    delta = check_scalar("delta", delta, float, low=0, closed="neither", what="window in seconds")
    n_samples = check_scalar("n_samples", n_samples, int, low=1, what="Poisson draws")
    n_permutations = check_scalar("n_permutations", n_permutations, int, low=1, what="time shifts")

    def gamma(model: np.ndarray, observed: np.ndarray) -> float:
        return coincidence_factor(model[:, None], observed[:, None], delta=delta, dt=dt, expected="poisson")

    log_rate = np.log(np.maximum(r, 1e-12))
    rng = check_random_state(random_state)
    n = r.size
    shifts = rng.integers(n // 10, n - n // 10, size=n_permutations)
    draws = sample_spikes(log_rate, n_samples=2 * n_samples, random_state=rng)
    poisson_null = [gamma(sample_spikes(np.roll(log_rate, s), random_state=rng)[0], data) for s in shifts]
    threshold_null = [gamma(threshold_spikes(np.roll(r, s)), data) for s in shifts]
    placed = threshold_spikes(r)
    return xr.Dataset(
        {
            "poisson": ("sample", [gamma(draws[i], data) for i in range(n_samples)]),
            "poisson_ceiling": ("sample", [gamma(draws[i], draws[i + n_samples]) for i in range(n_samples)]),
            "threshold": ((), gamma(placed, data)),
            "poisson_null": ("permutation", poisson_null),
            "threshold_null": ("permutation", threshold_null),
        },
        coords={"shift": ("permutation", shifts)},
        attrs={"dt": dt, "delta": delta, "n_spikes": float(data.sum()),
               "n_threshold_spikes": int(placed.sum())},
    )
