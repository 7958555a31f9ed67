"""Small training tasks for spiking and biophysical networks, built without downloads.

Every task is a :class:`Task`: train and test tensors in the time-first layout the layers'
``forward_seq`` takes, ``x`` of shape ``(T, n_samples, n_in)``, and the names of its loss
and metric (keys of :data:`LOSSES` and :data:`METRICS`). A model maps ``x`` to outputs of
shape ``(T, n_samples, n_out)``; ``Task.target`` says whether the loss reads the last step
(``"last"``: ``y`` has shape ``(n_samples,)`` for class labels or ``(n_samples, n_out)``) or
every step (``"all"``: ``y`` has shape ``(T, n_samples, n_out)``, NaN where no target is given).

* :func:`digits_task`: sequential 8 x 8 digits (scikit-learn), pixel by pixel or row by row.
* :func:`memory_task`: delayed recall of one of ``n_symbols`` cues after ``horizon`` steps.
* :func:`adding_task`: the adding problem (Hochreiter & Schmidhuber 1997).
* :func:`grasshopper_task`: predict a locust auditory receptor's spikes from the sound
  (Rokem et al. 2006 data shipped with nitime), scored by the coincidence factor
  :func:`coincidence_factor` against the linear-nonlinear-Poisson baseline :func:`fit_lnp`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from brainbridge._checks import _check_option

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """A supervised sequence task, time-first.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"digits-row"`` or ``"memory-h50"``.
    x_train, x_test : Tensor, (T, n_samples, n_in), float32
        Inputs, time first.
    y_train, y_test : Tensor
        Targets: int64 labels ``(n_samples,)`` or floats ``(n_samples, n_out)`` for
        ``target="last"``; floats ``(T, n_samples, n_out)`` for ``target="all"``, with NaN
        where the loss should not look (e.g. a burn-in).
    n_in, n_out : int
        Input and output sizes.
    loss : str
        Key of :data:`LOSSES`.
    metric : str
        Key of :data:`METRICS`.
    target : {"last", "all"}
        Which steps of the model output the loss and metric read.
    chance : float
        The metric of a model that ignores the input (stated per task).
    higher_is_better : bool
        Direction of the metric.
    dt : float
        Seconds per step (1 ms for the synthetic tasks, by convention).
    description : str
        One line saying what the task is.
    options : dict
        Options of the metric (e.g. the coincidence window).
    """

    name: str
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    n_in: int
    n_out: int
    loss: str
    metric: str
    target: str
    chance: float
    higher_is_better: bool
    dt: float = 1e-3
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        t, n_train = self.x_train.shape[:2]
        return (f"Task({self.name!r}: T={t}, {n_train} train / {self.x_test.shape[1]} test, "
                f"{self.n_in} in -> {self.n_out} out, loss={self.loss}, metric={self.metric}, "
                f"chance={self.chance:.4g})")


# --------------------------------------------------------------------------- losses and metrics
def _cross_entropy(out: Any, y: Any) -> Any:
    import torch.nn.functional as F

    return F.cross_entropy(out, y)


def _mse(out: Any, y: Any) -> Any:
    import torch.nn.functional as F

    return F.mse_loss(out, y)


def _poisson(out: Any, y: Any) -> Any:
    """Poisson negative log-likelihood per valid bin, ``exp(o) - y o``, for log-rates ``o``
    (the ``log(y!)`` term is constant); bins where ``y`` is NaN are left out."""
    valid = ~y.isnan()
    o, k = out[valid], y[valid]
    return (o.exp() - k * o).mean()


#: Loss name -> ``fn(output, target) -> scalar tensor``.
LOSSES: dict[str, Callable[[Any, Any], Any]] = {
    "cross_entropy": _cross_entropy,
    "mse": _mse,
    "poisson": _poisson,
}


def _accuracy(out: Any, y: Any, **_: Any) -> float:
    return float((out.argmax(dim=-1) == y).double().mean())


def _mse_metric(out: Any, y: Any, **_: Any) -> float:
    return float(((out.double() - y.double()) ** 2).mean())


def _coincidence_metric(out: Any, y: Any, *, delta: float = 4e-3, dt: float = 1e-3,
                        n_samples: int = 10, seed: int = 0, expected: str = "poisson",
                        **_: Any) -> float:
    """Mean coincidence factor of ``n_samples`` spike trains drawn from the predicted rates."""
    spikes = sample_spikes(out, n_samples=n_samples, seed=seed)  # (n_samples, T, B, 1)
    data = y.detach().cpu().numpy()
    valid = np.isfinite(data)
    gammas = []
    for s in spikes:
        model = np.where(valid, s, 0)
        gammas.append(coincidence_factor(_columns(model), _columns(np.nan_to_num(data)), delta=delta,
                                         dt=dt, duration=valid[..., 0].sum() * dt,
                                         expected=expected))
    return float(np.mean(gammas))


def _columns(a: np.ndarray) -> np.ndarray:
    """(T, B, 1) -> (T, B): one binned train per column."""
    return a.reshape(a.shape[0], -1)


#: Metric name -> ``fn(output, target, **task.options) -> float``, computed on a whole set.
METRICS: dict[str, Callable[..., float]] = {
    "accuracy": _accuracy,
    "mse": _mse_metric,
    "coincidence": _coincidence_metric,
}


def sample_spikes(log_rate: Any, *, n_samples: int = 1, seed: int = 0) -> np.ndarray:
    """Draw binned spike trains from per-bin log-rates: at most one spike per bin.

    A bin with expected count ``lam = exp(log_rate)`` holds a spike with probability
    ``1 - exp(-lam)``, the chance that a Poisson process of that rate fires in it.

    Parameters
    ----------
    log_rate : Tensor or array, any shape
        Natural log of the expected spike count per bin.
    n_samples : int, default=1
        Number of independent draws.
    seed : int, default=0
        Seed of the draws (numpy ``default_rng``).

    Returns
    -------
    ndarray, (n_samples, *log_rate.shape), float64 of 0 and 1
    """
    lr = log_rate.detach().cpu().double().numpy() if hasattr(log_rate, "detach") else np.asarray(
        log_rate, dtype=np.float64)
    p = -np.expm1(-np.exp(lr))
    rng = np.random.default_rng(seed)
    return (rng.random((n_samples, *p.shape)) < p).astype(np.float64)


# --------------------------------------------------------------------------- coincidence factor
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
    >>> from brainbridge.snn._tasks import coincidence_factor
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


# --------------------------------------------------------------------------- tasks
def _check_int(name: str, value: Any, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"Invalid value for {name!r}: expected an int >= {minimum} ({what}); got {value!r}.")
    return int(value)


def _check_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"Invalid value for {name!r}: expected a number in (0, 1); got {value!r}.")
    return float(value)


#: ``order`` of :func:`digits_task` -> (steps, inputs per step).
DIGIT_ORDERS = {"pixel": (64, 1), "row": (8, 8)}


def digits_task(order: str = "row", *, test_size: float = 0.2, seed: int = 0) -> Task:
    """Sequential digits: 8 x 8 scikit-learn digit images fed one pixel or one row per step.

    The 1797 images of :func:`sklearn.datasets.load_digits` (grey levels 0..16, scaled to
    [0, 1]) are split once into train and test sets, stratified by class with ``seed``.
    ``order="pixel"`` gives ``T=64`` steps of 1 input (row-major), ``order="row"`` gives
    ``T=8`` steps of the 8 pixels of a row. The label is read from the last step (cross
    entropy, accuracy); chance is 0.1 (ten balanced classes).

    Parameters
    ----------
    order : {"pixel", "row"}, default="row"
    test_size : float, default=0.2
        Fraction of images held out.
    seed : int, default=0
        Seed of the split.

    Returns
    -------
    Task

    Examples
    --------
    >>> from brainbridge.snn._tasks import digits_task
    >>> task = digits_task("pixel")
    >>> tuple(task.x_train.shape), tuple(task.x_test.shape), task.n_out
    ((64, 1437, 1), (64, 360, 1), 10)
    """
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    _check_option("order", order, DIGIT_ORDERS)
    test_size = _check_fraction("test_size", test_size)
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    steps, width = DIGIT_ORDERS[order]

    def seq(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a.reshape(len(a), steps, width).transpose(1, 0, 2)))

    return Task(name=f"digits-{order}", x_train=seq(x_tr), y_train=torch.from_numpy(y_tr),
                x_test=seq(x_te), y_test=torch.from_numpy(y_te), n_in=width, n_out=10,
                loss="cross_entropy", metric="accuracy", target="last", chance=0.1,
                higher_is_better=True,
                description=f"sklearn digits, {'one pixel' if width == 1 else 'one row'} per step")


def memory_task(horizon: int = 50, *, n_symbols: int = 8, n_train: int = 2000, n_test: int = 500,
                noise: float = 0.0, seed: int = 0) -> Task:
    """Delayed recall: remember which of ``n_symbols`` cues came at t=0, answer ``horizon`` steps later.

    ``T = horizon + 1`` steps and ``n_symbols + 1`` inputs: at ``t = 0`` the one-hot cue
    (inputs ``0..n_symbols-1``); at ``t = 1 .. horizon - 1`` blank inputs (plus Gaussian
    noise of standard deviation ``noise`` on the cue inputs); at ``t = horizon`` the recall
    signal (input ``n_symbols`` set to 1). The answer is read at the last step (cross
    entropy, accuracy). Chance is ``1 / n_symbols``.

    Parameters
    ----------
    horizon : int, default=50
        Steps between cue and recall (>= 1).
    n_symbols : int, default=8
    n_train, n_test : int, default=2000, 500
    noise : float, default=0.0
        Distractor noise during the delay.
    seed : int, default=0
        Seed of the samples.

    Returns
    -------
    Task

    Examples
    --------
    >>> from brainbridge.snn._tasks import memory_task
    >>> task = memory_task(20, n_symbols=4, n_train=8, n_test=4)
    >>> tuple(task.x_train.shape), task.chance
    ((21, 8, 5), 0.25)
    >>> bool((task.x_train[0, :, :4].argmax(-1) == task.y_train).all())
    True
    """
    import torch

    horizon = _check_int("horizon", horizon, 1, "steps between cue and recall")
    n_symbols = _check_int("n_symbols", n_symbols, 2, "number of cues")
    n_train = _check_int("n_train", n_train, 1, "training samples")
    n_test = _check_int("n_test", n_test, 1, "test samples")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(
            f"Invalid value for 'noise': expected a number >= 0 (standard deviation); got {noise!r}."
        )
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[Any, Any]:
        labels = rng.integers(0, n_symbols, size=n)
        x = np.zeros((horizon + 1, n, n_symbols + 1), dtype=np.float32)
        if noise > 0:
            x[1:horizon, :, :n_symbols] = rng.normal(0.0, noise, size=(horizon - 1, n, n_symbols))
        x[0, np.arange(n), labels] = 1.0
        x[horizon, :, n_symbols] = 1.0
        return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))

    x_tr, y_tr = make(n_train)
    x_te, y_te = make(n_test)
    return Task(name=f"memory-h{horizon}", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
                n_in=n_symbols + 1, n_out=n_symbols, loss="cross_entropy", metric="accuracy",
                target="last", chance=1.0 / n_symbols, higher_is_better=True,
                description=f"delayed recall of 1 of {n_symbols} cues after {horizon} steps")


def adding_task(horizon: int = 50, *, n_train: int = 2000, n_test: int = 500, seed: int = 0) -> Task:
    """The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers.

    ``T = horizon`` steps of 2 inputs: a value drawn uniformly in [0, 1] and a marker that
    is 1 at exactly two steps, one in the first half and one in the second half (the
    variant of Le et al. 2015). The target is the sum of the two marked values, read at the
    last step (mean squared error). Chance: predicting the mean sum 1 gives
    ``MSE = Var(u1 + u2) = 2 / 12 = 0.1667``.

    Parameters
    ----------
    horizon : int, default=50
        Sequence length (>= 2).
    n_train, n_test : int, default=2000, 500
    seed : int, default=0

    Returns
    -------
    Task

    Examples
    --------
    >>> from brainbridge.snn._tasks import adding_task
    >>> task = adding_task(10, n_train=4, n_test=2)
    >>> x, y = task.x_train, task.y_train
    >>> bool(((x[:, :, 0] * x[:, :, 1]).sum(0) == y[:, 0]).all()), round(task.chance, 4)
    (True, 0.1667)
    """
    import torch

    horizon = _check_int("horizon", horizon, 2, "sequence length")
    n_train = _check_int("n_train", n_train, 1, "training samples")
    n_test = _check_int("n_test", n_test, 1, "test samples")
    rng = np.random.default_rng(seed)
    half = horizon // 2

    def make(n: int) -> tuple[Any, Any]:
        values = rng.random((horizon, n)).astype(np.float32)
        marks = np.zeros((horizon, n), dtype=np.float32)
        first = rng.integers(0, half, size=n)
        second = rng.integers(half, horizon, size=n)
        marks[first, np.arange(n)] = 1.0
        marks[second, np.arange(n)] = 1.0
        target = (values * marks).sum(axis=0, dtype=np.float32)[:, None]
        return torch.from_numpy(np.stack([values, marks], axis=-1)), torch.from_numpy(target)

    x_tr, y_tr = make(n_train)
    x_te, y_te = make(n_test)
    return Task(name=f"adding-h{horizon}", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
                n_in=2, n_out=1, loss="mse", metric="mse", target="last", chance=2.0 / 12.0,
                higher_is_better=False, description=f"adding problem over {horizon} steps")


def grasshopper_task(condition: int = 1, *, bin_size: float = 1e-3, window: int = 200,
                     history: int = 20, test_fraction: float = 0.2, delta: float = 4e-3) -> Task:
    """Predict a locust auditory receptor's spike train from its sound stimulus.

    Data: :func:`brainbridge.loaders.load_grasshopper` (10 s, nitime). The stimulus is
    binned at ``bin_size`` (mean in each bin) and z-scored with the training part's mean and
    standard deviation; the spikes are counted per bin (at most one per 1 ms bin here). The
    recording is split in time: the first ``1 - test_fraction`` is for training, cut into
    windows of ``history + window`` bins that start ``window`` bins apart; the rest is one
    test sequence, preceded by ``history`` bins of stimulus. In every sequence the first
    ``history`` bins are burn-in: their targets are NaN, so that every scored bin has seen
    ``history`` bins of stimulus.

    The model outputs the log of the expected spike count per bin (``n_out = 1``, every
    step); the loss is the Poisson negative log-likelihood. The metric is the coincidence
    factor (:func:`coincidence_factor`, precision ``delta``, with the exact Poisson chance
    level ``expected="poisson"``, since the receptor fires at about 90 Hz where Kistler's
    linear chance term is too large) of spike trains drawn from the predicted rates
    (:func:`sample_spikes`, 10 draws, seed 0, averaged). Chance is 0: a Poisson train with
    the right rate but no stimulus dependence.

    Parameters
    ----------
    condition : {1, 2}, default=1
        Stimulus cut-off 200 Hz (1) or 800 Hz (2).
    bin_size : float, default=1e-3
        Bin width in seconds.
    window : int, default=200
        Scored bins per training sequence.
    history : int, default=20
        Burn-in bins before each scored stretch.
    test_fraction : float, default=0.2
        Fraction of the recording (at its end) held out.
    delta : float, default=4e-3
        Coincidence window in seconds.

    Returns
    -------
    Task

    Examples
    --------
    >>> from brainbridge.snn._tasks import grasshopper_task
    >>> task = grasshopper_task()
    >>> tuple(task.x_train.shape), tuple(task.x_test.shape)
    ((220, 39, 1), (2020, 1, 1))
    """
    import torch

    from brainbridge.loaders import load_grasshopper

    window = _check_int("window", window, 1, "scored bins per training sequence")
    history = _check_int("history", history, 0, "burn-in bins")
    test_fraction = _check_fraction("test_fraction", test_fraction)
    spikes, stimulus = load_grasshopper(condition, bin_size=bin_size)
    s = np.asarray(stimulus.values[:, 0], dtype=np.float64)
    k = np.asarray(spikes.values[:, 0], dtype=np.float64)
    split = int(round(len(s) * (1 - test_fraction)))
    mean, std = s[:split].mean(), s[:split].std()
    z = ((s - mean) / std).astype(np.float32)
    starts = list(range(0, split - history - window + 1, window))
    if not starts:
        raise ValueError(
            f"Invalid value for 'window': {history} + {window} bins do not fit in the "
            f"{split} training bins; use a smaller window or history."
        )
    x_tr = np.stack([z[a:a + history + window] for a in starts], axis=1)[..., None]
    y_tr = np.stack([k[a:a + history + window] for a in starts], axis=1)[..., None].astype(np.float32)
    y_tr[:history] = np.nan
    a = split - history
    x_te = z[a:][:, None, None]
    y_te = k[a:][:, None, None].astype(np.float32)
    y_te[:history] = np.nan
    return Task(name=f"grasshopper-{condition}", x_train=torch.from_numpy(np.ascontiguousarray(x_tr)),
                y_train=torch.from_numpy(np.ascontiguousarray(y_tr)),
                x_test=torch.from_numpy(np.ascontiguousarray(x_te)),
                y_test=torch.from_numpy(np.ascontiguousarray(y_te)), n_in=1, n_out=1,
                loss="poisson", metric="coincidence", target="all", chance=0.0,
                higher_is_better=True, dt=float(bin_size),
                description=f"locust auditory receptor (condition {condition}), spikes from sound",
                options={"delta": float(delta), "dt": float(bin_size), "n_samples": 10, "seed": 0,
                         "expected": "poisson"})


#: Task name -> factory, for the command line (``brainbridge train --task``).
TASKS: dict[str, Callable[..., Task]] = {
    "digits": digits_task,
    "memory": memory_task,
    "adding": adding_task,
    "grasshopper": grasshopper_task,
}


# --------------------------------------------------------------------------- LNP baseline
def _lagged(x: np.ndarray, n_lags: int) -> np.ndarray:
    """(T, B) -> (T, B, n_lags) with column j holding x[t - j] (zeros before the start)."""
    out = np.zeros((*x.shape, n_lags), dtype=np.float64)
    for j in range(n_lags):
        out[j:, :, j] = x[: x.shape[0] - j]
    return out


class LNP(NamedTuple):
    """A fitted linear-nonlinear-Poisson model (see :func:`fit_lnp`)."""

    filter: np.ndarray
    intercept: float
    n_lags: int

    def log_rate(self, x: Any) -> np.ndarray:
        """Log expected count per bin for a time-first stimulus ``x`` of shape (T, B, 1)."""
        xs = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)[..., 0]
        return (_lagged(xs, self.n_lags) @ self.filter + self.intercept)[..., None]


def fit_lnp(task: Task, *, n_lags: int = 20, alpha: float = 1e-4) -> LNP:
    """Fit a linear-nonlinear-Poisson model on a task's training sequences (a Poisson GLM).

    ``log E[n_t] = b + sum_{j=0}^{n_lags-1} k_j x_{t-j}``: a linear filter over the last
    ``n_lags`` bins of the stimulus, an exponential nonlinearity and Poisson spike counts,
    fitted by penalised maximum likelihood with :class:`sklearn.linear_model.PoissonRegressor`
    (L2 penalty ``alpha``) on every bin whose target is not NaN.

    Parameters
    ----------
    task : Task
        A task with one input and one output per step and ``target="all"`` (the
        grasshopper task).
    n_lags : int, default=20
        Filter length in bins (at most the task's burn-in, so every fitted bin has a full
        history).
    alpha : float, default=1e-4
        L2 penalty.

    Returns
    -------
    LNP
        ``filter`` (n_lags,), ``intercept``; ``LNP.log_rate(x)`` predicts log-rates in the
        layout of a model output, for ``METRICS["coincidence"]``.
    """
    from sklearn.linear_model import PoissonRegressor

    n_lags = _check_int("n_lags", n_lags, 1, "filter length in bins")
    if task.target != "all" or task.n_in != 1 or task.n_out != 1:
        raise ValueError(
            f"Invalid value for 'task': fit_lnp needs a task with one input, one output and a "
            f"target at every step (like grasshopper_task()); got {task.name!r}."
        )
    x = np.asarray(task.x_train[..., 0], dtype=np.float64)
    y = np.asarray(task.y_train[..., 0], dtype=np.float64)
    design = _lagged(x, n_lags)
    valid = np.isfinite(y)
    glm = PoissonRegressor(alpha=alpha, max_iter=1000).fit(design[valid], y[valid])
    return LNP(filter=glm.coef_.copy(), intercept=float(glm.intercept_), n_lags=n_lags)


def score(task: Task, output: Any, *, split: str = "test") -> float:
    """The task's metric for a model output (or :meth:`LNP.log_rate`) on its train or test set."""
    import torch

    _check_option("split", split, ["train", "test"])
    y = task.y_test if split == "test" else task.y_train
    out = torch.as_tensor(output)
    if task.target == "last" and out.ndim == 3:
        out = out[-1]
    return METRICS[task.metric](out, y, **task.options)


# --------------------------------------------------------------------------- small models
def _lif_net(task: Task, hidden: int, **options: Any) -> Any:
    import torch

    from ._lif import LIF, RLIF

    class LIFNet(torch.nn.Module):
        """Linear -> (recurrent) LIF layer -> linear leaky-integrator readout.

        ``y_t = a y_{t-1} + (1 - a) (W s_t) + b`` with ``a = exp(-1 / readout_tau)``: a
        non-spiking output neuron that integrates the hidden spikes ``s_t``.
        """

        def __init__(self, n_in: int, n_hidden: int, n_out: int, *, recurrent: bool = True,
                     beta: float = 0.9, learn_beta: bool = True, readout_tau: float = 5.0,
                     threshold: float = 1.0) -> None:
            super().__init__()
            self.inp = torch.nn.Linear(n_in, n_hidden)
            kw = {"beta": beta, "learn_beta": learn_beta, "threshold": threshold}
            self.lif = (RLIF(n_hidden, **kw) if recurrent
                        else LIF(shape=n_hidden if learn_beta else None, **kw))
            self.out = torch.nn.Linear(n_hidden, n_out)
            self.decay = math.exp(-1.0 / readout_tau)

        def forward(self, x_seq: Any) -> Any:
            spikes, _ = self.lif.forward_seq(self.inp(x_seq))
            drive = (1.0 - self.decay) * torch.nn.functional.linear(spikes, self.out.weight)
            y, ys = torch.zeros_like(drive[0]), []
            for t in range(drive.shape[0]):
                y = self.decay * y + drive[t]
                ys.append(y)
            return torch.stack(ys) + self.out.bias

    return LIFNet(task.n_in, hidden, task.n_out, **options)


def _elm_net(task: Task, hidden: int, **options: Any) -> Any:
    from ._elm import ELM

    return ELM(task.n_in, task.n_out, n_memory=hidden, **options)


def _lstm_net(task: Task, hidden: int, **options: Any) -> Any:
    import torch

    class LSTMNet(torch.nn.Module):
        """``nn.LSTM`` followed by a linear readout at every step."""

        def __init__(self, n_in: int, n_hidden: int, n_out: int, **kw: Any) -> None:
            super().__init__()
            self.rnn = torch.nn.LSTM(n_in, n_hidden, **kw)
            self.out = torch.nn.Linear(n_hidden, n_out)

        def forward(self, x_seq: Any) -> Any:
            return self.out(self.rnn(x_seq)[0])

    return LSTMNet(task.n_in, hidden, task.n_out, **options)


#: Model name -> factory ``(task, hidden, **options) -> nn.Module`` mapping a time-first
#: ``(T, batch, n_in)`` input to ``(T, batch, n_out)``.
MODELS: dict[str, Callable[..., Any]] = {"lif": _lif_net, "elm": _elm_net, "lstm": _lstm_net}


def build_model(name: str, task: Task, *, hidden: int = 64, seed: int = 0, **options: Any) -> Any:
    """A small network for ``task``, initialised with ``torch.manual_seed(seed)``.

    * ``"lif"``: ``Linear(n_in, hidden)`` -> :class:`~brainbridge.snn._lif.RLIF` (recurrent
      LIF, learnable per-neuron ``beta`` starting at 0.9, threshold 1, arctan surrogate) ->
      a leaky-integrator readout ``y_t = a y_{t-1} + (1 - a) W s_t + b``, ``a = exp(-1/5)``.
      Options: ``recurrent``, ``beta``, ``learn_beta``, ``readout_tau`` (steps), ``threshold``.
    * ``"elm"``: one :class:`~brainbridge.snn._elm.ELM` layer with ``n_memory=hidden`` (its
      defaults otherwise: ``tau_m`` log-spaced in [1, 1000] steps); options go to ``ELM``.
    * ``"lstm"``: ``nn.LSTM(n_in, hidden)`` and a linear readout.

    Parameters
    ----------
    name : {"lif", "elm", "lstm"}
    task : Task
        Gives ``n_in`` and ``n_out``.
    hidden : int, default=64
        Hidden neurons, memory units or LSTM cells.
    seed : int, default=0
        Seed of the initial weights.
    **options
        Passed to the model (see above).

    Returns
    -------
    torch.nn.Module
    """
    import torch

    _check_option("model", name, MODELS)
    hidden = _check_int("hidden", hidden, 1, "hidden size")
    torch.manual_seed(seed)
    return MODELS[name](task, hidden, **options)
