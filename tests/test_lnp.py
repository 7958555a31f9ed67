"""The linear-nonlinear-Poisson encoder (a Poisson GLM on lagged stimulus)."""

import doctest
import re

import numpy as np
import pytest
import torch

from brainbridge.encoders import _lnp, fit_lnp
from brainbridge.encoders._lnp import _design
from brainbridge.snn import Task, memory_task


def test_doctests():
    assert doctest.testmod(_lnp, optionflags=doctest.ELLIPSIS).failed == 0


def test_fit_lnp_recovers_a_filter(rng):
    kernel = np.array([0.8, -0.5, 0.3, 0.0, 0.1])
    x = rng.normal(size=(400, 20))  # (T, sequences)
    log_rate = -1.0 + sum(kernel[j] * np.vstack([np.zeros((j, 20)), x[:400 - j]]) for j in range(5))
    y = rng.poisson(np.exp(log_rate)).astype(np.float32)
    y[:5] = np.nan
    task = Task("synthetic", torch.as_tensor(x[..., None], dtype=torch.float32),
                torch.as_tensor(y[..., None]), torch.zeros(10, 1, 1), torch.zeros(10, 1, 1),
                1, 1, "poisson", "coincidence", "all", 0.0, True)
    lnp = fit_lnp(task.x_train, task.y_train, n_lags=5, alpha=1e-6)
    np.testing.assert_allclose(lnp.filter, kernel, atol=0.05)
    assert lnp.intercept == pytest.approx(-1.0, abs=0.05)
    # log_rate: the lagged filter written as a loop
    xt = rng.normal(size=(30, 2, 1))
    by_hand = np.full((30, 2), lnp.intercept)
    for t in range(30):
        for j in range(5):
            if t - j >= 0:
                by_hand[t] += lnp.filter[j] * xt[t - j, :, 0]
    np.testing.assert_allclose(lnp.log_rate(xt)[..., 0], by_hand, rtol=1e-12)


def test_fit_lnp_needs_one_stimulus_and_one_neuron():
    task = memory_task(3, n_train=4, n_test=4)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'stimulus': expected a time-first array of shape (T, n_sequences) or "
            "(T, n_sequences, 1) (one stimulus or one neuron); got shape (4, 4, 9).")):
        fit_lnp(task.x_train, task.y_train)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'counts': expected the shape of 'stimulus' (4, 2) (one count per stimulus "
            "bin); got (4, 3).")):
        fit_lnp(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_lags': expected an integer >= 1 (filter length in bins); got 0.")):
        fit_lnp(np.zeros((4, 2)), np.zeros((4, 2)), n_lags=0)


def test_lnp_design_is_lagged_per_sequence(rng):
    """The design matrix: encoders.lagged per sequence equals an explicit loop."""
    x = rng.normal(size=(7, 3))
    design = _design(x, 4)
    by_hand = np.zeros((7, 3, 4))
    for t in range(7):
        for b in range(3):
            for j in range(4):
                by_hand[t, b, j] = x[t - j, b] if t - j >= 0 else 0.0
    np.testing.assert_array_equal(design, by_hand)


def test_lnp_on_the_grasshopper_task():
    """The receptor task's baseline: a causal filter that beats chance on held-out data."""
    from brainbridge.loaders import load_grasshopper
    from brainbridge.snn import grasshopper_task, task_score

    task = grasshopper_task(load_grasshopper(1))
    lnp = fit_lnp(task.x_train, task.y_train)
    assert lnp.filter.shape == (20,) and lnp.n_lags == 20
    assert task_score(task, lnp.log_rate(task.x_test)) > 0.02
