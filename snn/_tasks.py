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
  (Rokem et al. 2006 data shipped with nitime, read by
  :func:`brainbridge.loaders.load_grasshopper`), scored by the coincidence factor
  (:func:`~brainbridge.snn.coincidence_factor`); its linear-nonlinear-Poisson baseline is
  :func:`brainbridge.encoders.fit_lnp`.

Spike-train metrics live in :mod:`brainbridge.snn._spiketrain`, the small models that
:func:`~brainbridge.snn.build_model` builds in :mod:`brainbridge.snn._zoo`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from .._checks import _check_option, check_random_state, check_scalar
from ._spiketrain import coincidence_factor, sample_spikes

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

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(5, 4, 2)  # 5 steps, 4 samples, 2 inputs
    >>> y = torch.tensor([0, 1, 0, 1])
    >>> Task("toy", x, y, x, y, n_in=2, n_out=2, loss="cross_entropy", metric="accuracy",
    ...      target="last", chance=0.5, higher_is_better=True)
    Task('toy': T=5, 4 train / 4 test, 2 in -> 2 out, loss=cross_entropy, metric=accuracy, chance=0.5)
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
    return F.cross_entropy(out, y)


def _mse(out: Any, y: Any) -> Any:
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
                        n_samples: int = 10, random_state: Any = 0, expected: str = "poisson",
                        **_: Any) -> float:
    """Mean coincidence factor of ``n_samples`` spike trains drawn from the predicted rates."""
    spikes = sample_spikes(out, n_samples=n_samples, random_state=random_state)  # (n_samples, T, B, 1)
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


#: ``order`` of :func:`digits_task` -> (steps, inputs per step).
DIGIT_ORDERS = {"pixel": (64, 1), "row": (8, 8)}


def _int_seed(random_state: Any) -> int:
    """An int seed for code that takes one (scikit-learn's split, ``torch.manual_seed``).

    An int is used as is (numpy ints too); a Generator (or None: fresh entropy) draws one.
    """
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, (bool, np.bool_)):
        check_random_state(random_state)  # the same checks (a seed >= 0)
        return int(random_state)
    return int(check_random_state(random_state).integers(2**31 - 1))


def digits_task(order: str = "row", *, test_size: float = 0.2, random_state: Any = 0) -> Task:
    """Sequential digits: 8 x 8 scikit-learn digit images fed one pixel or one row per step.

    The 1797 images of :func:`sklearn.datasets.load_digits` (grey levels 0..16, scaled to
    [0, 1]) are split once into train and test sets, stratified by class with ``random_state``.
    ``order="pixel"`` gives ``T=64`` steps of 1 input (row-major), ``order="row"`` gives
    ``T=8`` steps of the 8 pixels of a row. The label is read from the last step (cross
    entropy, accuracy); chance is 0.1 (ten balanced classes).

    Parameters
    ----------
    order : {"pixel", "row"}, default="row"
    test_size : float, default=0.2
        Fraction of images held out.
    random_state : int, Generator or None, default=0
        Seed of the split.

    Returns
    -------
    Task

    Examples
    --------
    >>> from brainbridge.snn import digits_task
    >>> task = digits_task("pixel")
    >>> tuple(task.x_train.shape), tuple(task.x_test.shape), task.n_out
    ((64, 1437, 1), (64, 360, 1), 10)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    _check_option("order", order, DIGIT_ORDERS)
    test_size = check_scalar("test_size", test_size, float, low=0.0, high=1.0, closed="neither",
                             what="fraction of images held out")
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=_int_seed(random_state),
                                              stratify=y)
    steps, width = DIGIT_ORDERS[order]

    def seq(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a.reshape(len(a), steps, width).transpose(1, 0, 2)))

    return Task(name=f"digits-{order}", x_train=seq(x_tr), y_train=torch.from_numpy(y_tr),
                x_test=seq(x_te), y_test=torch.from_numpy(y_te), n_in=width, n_out=10,
                loss="cross_entropy", metric="accuracy", target="last", chance=0.1,
                higher_is_better=True,
                description=f"sklearn digits, {'one pixel' if width == 1 else 'one row'} per step")


def memory_task(horizon: int = 50, *, n_symbols: int = 8, n_train: int = 2000, n_test: int = 500,
                noise: float = 0.0, random_state: Any = 0) -> Task:
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
    random_state : int, Generator or None, default=0
        Seed of the samples.

    Returns
    -------
    Task

    Examples
    --------
    >>> from brainbridge.snn import memory_task
    >>> task = memory_task(20, n_symbols=4, n_train=8, n_test=4)
    >>> tuple(task.x_train.shape), task.chance
    ((21, 8, 5), 0.25)
    >>> bool((task.x_train[0, :, :4].argmax(-1) == task.y_train).all())
    True
    """
    horizon = check_scalar("horizon", horizon, int, low=1, what="steps between cue and recall")
    n_symbols = check_scalar("n_symbols", n_symbols, int, low=2, what="number of cues")
    n_train = check_scalar("n_train", n_train, int, low=1, what="training samples")
    n_test = check_scalar("n_test", n_test, int, low=1, what="test samples")
    noise = check_scalar("noise", noise, float, low=0.0, what="standard deviation")
    rng = check_random_state(random_state)

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


def adding_task(horizon: int = 50, *, n_train: int = 2000, n_test: int = 500,
                random_state: Any = 0) -> Task:
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
    random_state : int, Generator or None, default=0
        Seed of the samples.

    Returns
    -------
    Task

    Examples
    --------
    >>> from brainbridge.snn import adding_task
    >>> task = adding_task(10, n_train=4, n_test=2)
    >>> x, y = task.x_train, task.y_train
    >>> bool(((x[:, :, 0] * x[:, :, 1]).sum(0) == y[:, 0]).all()), round(task.chance, 4)
    (True, 0.1667)
    """
    horizon = check_scalar("horizon", horizon, int, low=2, what="sequence length")
    n_train = check_scalar("n_train", n_train, int, low=1, what="training samples")
    n_test = check_scalar("n_test", n_test, int, low=1, what="test samples")
    rng = check_random_state(random_state)
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


def _grasshopper_recording(recording: Any, bin_size: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Stimulus (bin means) and spike counts (bin sums) at ``bin_size``, and the condition label."""
    ok = isinstance(recording, tuple) and len(recording) == 2 and all(
        isinstance(a, xr.DataArray) and a.dims == ("time", "unit") and a.sizes["unit"] == 1
        for a in recording)
    if not ok:
        got = (f"a tuple of {len(recording)}" if isinstance(recording, tuple)
               else type(recording).__name__)
        raise ValueError(
            "Invalid value for 'recording': expected the (spikes, stimulus) assemblies of "
            "brainbridge.loaders.load_grasshopper(condition), each with dims ('time', 'unit') "
            f"and one unit; got {got}."
        )
    spikes, stimulus = recording
    rate = spikes.attrs.get("sampling_rate")
    if (spikes.sizes["time"] != stimulus.sizes["time"] or not rate
            or stimulus.attrs.get("sampling_rate") != rate):
        raise ValueError(
            "Invalid value for 'recording': spikes and stimulus must share one time grid with a "
            f"sampling_rate attr; got {spikes.sizes['time']} and {stimulus.sizes['time']} samples "
            f"at {rate!r} and {stimulus.attrs.get('sampling_rate')!r} Hz."
        )
    k = int(round(bin_size * float(rate)))
    if k < 1 or abs(bin_size * float(rate) - k) > 1e-6 * max(k, 1):
        raise ValueError(
            f"Invalid value for 'bin_size': expected a whole multiple of the recording's bin "
            f"({1.0 / float(rate)!r} s); got {bin_size!r}."
        )
    n_bins = spikes.sizes["time"] // k  # a last incomplete bin is dropped
    s = np.asarray(stimulus.values[: n_bins * k, 0], dtype=np.float64).reshape(n_bins, k).mean(axis=1)
    counts = np.asarray(spikes.values[: n_bins * k, 0], dtype=np.float64).reshape(n_bins, k).sum(axis=1)
    found = re.search(r"condition (\d+)", str(spikes.attrs.get("source", "")))
    return s, counts, found.group(1) if found else ""


def grasshopper_task(recording: Any, *, bin_size: float = 1e-3, window: int = 200,
                     history: int = 20, test_fraction: float = 0.2, delta: float = 4e-3) -> Task:
    """Predict a locust auditory receptor's spike train from its sound stimulus.

    Data: the recording of :func:`brainbridge.loaders.load_grasshopper` (10 s, nitime),
    re-binned at ``bin_size``: the stimulus is the mean in each bin, the spikes are counted
    per bin (at most one per 1 ms bin here), and the stimulus is z-scored with the training
    part's mean and standard deviation. The recording is split in time: the first
    ``1 - test_fraction`` is for training, cut into windows of ``history + window`` bins that
    start ``window`` bins apart; the rest is one test sequence, preceded by ``history`` bins
    of stimulus. In every sequence the first ``history`` bins are burn-in: their targets are
    NaN, so that every scored bin has seen ``history`` bins of stimulus.

    The model outputs the log of the expected spike count per bin (``n_out = 1``, every
    step); the loss is the Poisson negative log-likelihood. The metric is the coincidence
    factor (:func:`~brainbridge.snn.coincidence_factor`, precision ``delta``, with the exact
    Poisson chance level ``expected="poisson"``, since the receptor fires at about 90 Hz where
    Kistler's linear chance term is too large) of spike trains drawn from the predicted rates
    (:func:`~brainbridge.snn.sample_spikes`, 10 draws, ``random_state=0``, averaged). Chance
    is 0: a Poisson train with the right rate but no stimulus dependence.

    Parameters
    ----------
    recording : Grasshopper
        ``(spikes, stimulus)`` as returned by ``load_grasshopper(condition)``: two
        ``('time', 'unit')`` assemblies on one time grid (any bin that divides ``bin_size``).
        The task is named after the condition its ``source`` attr gives.
    bin_size : float, default=1e-3
        Bin width in seconds, a whole multiple of the recording's bin.
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
    >>> from brainbridge.loaders import load_grasshopper
    >>> from brainbridge.snn import grasshopper_task
    >>> task = grasshopper_task(load_grasshopper(1))
    >>> task.name, tuple(task.x_train.shape), tuple(task.x_test.shape)
    ('grasshopper-1', (220, 39, 1), (2020, 1, 1))
    """
    bin_size = check_scalar("bin_size", bin_size, float, low=0.0, closed="neither",
                            what="bin width in seconds")
    window = check_scalar("window", window, int, low=1, what="scored bins per training sequence")
    history = check_scalar("history", history, int, low=0, what="burn-in bins")
    test_fraction = check_scalar("test_fraction", test_fraction, float, low=0.0, high=1.0,
                                 closed="neither", what="fraction held out")
    s, k, condition = _grasshopper_recording(recording, bin_size)
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
    return Task(name=f"grasshopper-{condition}" if condition else "grasshopper",
                x_train=torch.from_numpy(np.ascontiguousarray(x_tr)),
                y_train=torch.from_numpy(np.ascontiguousarray(y_tr)),
                x_test=torch.from_numpy(np.ascontiguousarray(x_te)),
                y_test=torch.from_numpy(np.ascontiguousarray(y_te)), n_in=1, n_out=1,
                loss="poisson", metric="coincidence", target="all", chance=0.0,
                higher_is_better=True, dt=float(bin_size),
                description=("locust auditory receptor"
                             + (f" (condition {condition})" if condition else "")
                             + ", spikes from sound"),
                options={"delta": float(delta), "dt": float(bin_size), "n_samples": 10,
                         "random_state": 0, "expected": "poisson"})


#: Task name -> factory, for the command line (``brainbridge train --task``).
#: :func:`grasshopper_task` takes the recording first: load it with
#: ``brainbridge.loaders.load_grasshopper(condition)``.
TASKS: dict[str, Callable[..., Task]] = {
    "digits": digits_task,
    "memory": memory_task,
    "adding": adding_task,
    "grasshopper": grasshopper_task,
}


def task_score(task: Task, output: Any, *, split: str = "test") -> float:
    """The task's metric for a model output (or ``LNP.log_rate``) on its train or test set.

    ``output`` is laid out like the model outputs :func:`~brainbridge.snn.train` scores (e.g.
    ``(T, batch, n_out)``; the last step is read for a task with ``target="last"``); the metric
    is ``METRICS[task.metric]`` with the task's options, as :func:`~brainbridge.snn.evaluate`
    computes it.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn import memory_task, task_score
    >>> task = memory_task(3, n_symbols=2, n_train=4, n_test=4)
    >>> task_score(task, torch.nn.functional.one_hot(task.y_test, 2).float())
    1.0
    """
    _check_option("split", split, ["train", "test"])
    y = task.y_test if split == "test" else task.y_train
    out = torch.as_tensor(output)
    if task.target == "last" and out.ndim == 3:
        out = out[-1]
    return METRICS[task.metric](out, y, **task.options)
