"""Spike-train metrics: the coincidence factor and spike trains drawn from log-rates."""

import doctest
import math
import re

import numpy as np
import pytest
import torch

from brainbridge.snn import _spiketrain, coincidence_factor, sample_spikes


def test_doctests():
    assert doctest.testmod(_spiketrain, optionflags=doctest.ELLIPSIS).failed == 0


def _gamma_by_hand(model, data, delta, duration):
    """Kistler et al. 1997, written out with loops."""
    n_coinc = 0
    for td in data:
        hit = False
        for tm in model:
            if abs(td - tm) <= delta:
                hit = True
        if hit:
            n_coinc += 1
    nu = len(model) / duration
    expected = 2 * nu * delta * len(data)
    norm = 1 - 2 * nu * delta
    return (n_coinc - expected) / (0.5 * (len(data) + len(model))) / norm


def test_coincidence_factor_equals_a_loop(rng):
    for _ in range(5):
        data = np.sort(rng.uniform(0, 2.0, size=rng.integers(5, 40)))
        model = np.sort(np.concatenate([data[rng.random(data.size) < 0.6] + rng.normal(0, 3e-3, size=None),
                                        rng.uniform(0, 2.0, size=rng.integers(0, 20))]))
        got = coincidence_factor(model, data, delta=4e-3, duration=2.0)
        assert got == pytest.approx(_gamma_by_hand(model, data, 4e-3, 2.0), rel=1e-12, abs=1e-12)


def test_coincidence_factor_closed_forms(rng):
    data = np.arange(1, 50) * 0.02  # 49 spikes, 20 ms apart, duration 1 s
    assert coincidence_factor(data, data, duration=1.0) == pytest.approx(1.0, abs=1e-12)
    assert coincidence_factor(data, data, duration=1.0, expected="poisson") == pytest.approx(1.0, abs=1e-12)
    assert coincidence_factor(data + 3e-3, data, duration=1.0) == pytest.approx(1.0, abs=1e-12)
    # shifted by more than delta: no coincidence, Gamma = -2 nu delta / (1 - 2 nu delta)
    p = 2 * 49 * 4e-3
    assert coincidence_factor(data + 6e-3, data, duration=1.0) == pytest.approx(-p / (1 - p), rel=1e-12)
    q = -math.expm1(-2 * 49 * 4e-3)
    assert coincidence_factor(data + 6e-3, data, duration=1.0, expected="poisson") == pytest.approx(
        -q / (1 - q), rel=1e-12)
    # binned trains: the same spikes on a 1 ms grid, one train per column
    binned = np.zeros((1000, 2))
    binned[np.rint(data * 1000).astype(int), 0] = 1
    binned[np.rint(data[:20] * 1000).astype(int), 1] = 1
    assert coincidence_factor(binned, binned, dt=1e-3) == pytest.approx(1.0, abs=1e-12)
    shifted = np.roll(binned, 4, axis=0)  # exactly delta: still coincident
    assert coincidence_factor(shifted, binned, dt=1e-3) == pytest.approx(1.0, abs=1e-12)
    shifted = np.roll(binned, 5, axis=0)
    nu = 69 / 2.0
    assert coincidence_factor(shifted, binned, dt=1e-3) == pytest.approx(
        -2 * nu * 4e-3 / (1 - 2 * nu * 4e-3), rel=1e-12)
    q = 1 - (1 - nu * 1e-3) ** 9  # 9 bins within 4 ms of a data spike
    assert coincidence_factor(shifted, binned, dt=1e-3, expected="poisson") == pytest.approx(
        -q / (1 - q), rel=1e-12)


def test_poisson_trains_score_about_zero(rng):
    # low rate: both chance terms agree and Gamma is about 0
    low = [coincidence_factor(rng.random(20000) < 0.005, rng.random(20000) < 0.005, dt=1e-3)
           for _ in range(20)]
    assert abs(np.mean(low)) < 0.03
    # high rate (90 Hz): only the exact Poisson chance term keeps it at 0
    data = rng.random(20000) < 0.09
    exact = [coincidence_factor(rng.random(20000) < 0.09, data, dt=1e-3, expected="poisson")
             for _ in range(20)]
    linear = [coincidence_factor(rng.random(20000) < 0.09, data, dt=1e-3) for _ in range(20)]
    assert abs(np.mean(exact)) < 0.02
    assert np.mean(linear) < -0.3


def test_coincidence_factor_errors():
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'duration': spike times need the recording length in seconds to know "
            "the model's rate; got None. Pass duration=..., or binned counts with dt.")):
        coincidence_factor([0.1], [0.1])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'delta': expected a number > 0 (precision window in seconds); got 0.")):
        coincidence_factor([0.1], [0.1], delta=0, duration=1.0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'expected': expected one of 'linear', 'poisson'; got 'lin'. Did you "
            "mean 'linear'?")):
        coincidence_factor([0.1], [0.1], duration=1.0, expected="lin")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'spikes': binned trains must hold whole, non-negative spike counts; "
            "got other values. Pass spike times with dt=None instead.")):
        coincidence_factor(np.array([0.5, 0.0]), np.array([1.0, 0.0]), dt=1e-3)
    with pytest.raises(ValueError, match=re.escape(
            "'spikes_model' holds 2 trains but 'spikes_data' holds 1; give one model train per data "
            "train.")):
        coincidence_factor(np.zeros((5, 2)), np.zeros(5), dt=1e-3)
    assert math.isnan(coincidence_factor([], [], duration=1.0))


def test_sample_spikes_probability():
    log_rate = torch.log(torch.tensor([0.05, 0.5, 2.0]))
    s = sample_spikes(log_rate, n_samples=40000, random_state=1)
    np.testing.assert_allclose(s.mean(0), 1 - np.exp(-np.array([0.05, 0.5, 2.0])), atol=0.01)
    np.testing.assert_array_equal(s, sample_spikes(log_rate, n_samples=40000, random_state=1))


def test_sample_spikes_takes_a_generator():
    log_rate = np.log(np.full(50, 0.5))
    a = sample_spikes(log_rate, n_samples=3, random_state=np.random.default_rng(4))
    np.testing.assert_array_equal(a, sample_spikes(log_rate, n_samples=3, random_state=4))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_samples': expected an integer >= 1 (number of draws); got 0.")):
        sample_spikes(log_rate, n_samples=0)
