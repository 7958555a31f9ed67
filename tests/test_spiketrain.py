"""Spike-train metrics: the coincidence factor, spike trains drawn from log-rates or placed at
threshold crossings, and the spike-timing comparison built on them."""

import doctest
import math
import re

import numpy as np
import pytest
import torch

from brainbridge.snn import _spiketrain, coincidence_factor, sample_spikes, spike_timing, threshold_spikes


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


def _threshold_by_hand(rate, n_spikes, n_levels=400):
    """threshold_spikes written out: try every quantile level, keep the closest count (ties: higher)."""
    levels = sorted(set(np.quantile(rate, np.linspace(0.0, 1.0, n_levels + 1)).tolist()))
    best, best_err = None, math.inf
    for level in levels:  # ascending, so "<=" keeps the higher of tied levels
        count = sum(1 for t in range(1, len(rate)) if rate[t] > level >= rate[t - 1])
        if abs(count - n_spikes) <= best_err:
            best, best_err = level, abs(count - n_spikes)
    return np.array([0.0] + [float(rate[t] > best >= rate[t - 1]) for t in range(1, len(rate))])


def test_threshold_spikes_closed_form():
    """A sinusoid with one peak every 25 bins: one spike per peak, on its rising flank."""
    t = np.arange(2000)
    rate = 0.1 + 0.09 * np.sin(2 * np.pi * t / 25.0)  # 80 peaks, 200 expected spikes
    spikes = threshold_spikes(rate)
    assert set(np.unique(spikes)) == {0.0, 1.0}
    assert spikes.sum() == 80  # the count closest to rate.sum() = 200 that a threshold can give
    idx = np.flatnonzero(spikes)
    assert np.all(np.diff(idx) == 25) and np.all(np.sin(2 * np.pi * idx / 25.0) > -1e-9)
    assert threshold_spikes(np.full(100, 0.3)).sum() == 0  # a constant rate never crosses
    # a wanted count of 0 puts the threshold at the top: no spikes
    assert threshold_spikes(rate, n_spikes=0).sum() == 0


def test_threshold_spikes_matches_a_loop(rng):
    for _ in range(3):
        rate = np.convolve(rng.exponential(0.05, size=600), np.ones(5) / 5, mode="same")
        for n_spikes, n_levels in ((None, 400), (12, 400), (30.5, 37)):
            want = rate.sum() if n_spikes is None else n_spikes
            got = threshold_spikes(torch.as_tensor(rate), n_spikes=n_spikes, n_levels=n_levels)
            np.testing.assert_array_equal(got, _threshold_by_hand(rate, want, n_levels))


def test_spike_timing_matches_a_loop(rng):
    """Every Gamma of spike_timing, from trains drawn and placed by hand on the same stream."""
    n, dt, delta = 3000, 1e-3, 3e-3
    rate = 0.01 + 0.4 * np.convolve(rng.random(n) < 0.02, np.ones(2), mode="same")
    data = (rng.random(n) < rate).astype(float)
    res = spike_timing(rate, data, dt=dt, delta=delta, n_samples=3, n_permutations=4,
                       random_state=np.random.default_rng(9))

    def gamma(model, observed):
        return coincidence_factor(model, observed, delta=delta, dt=dt, expected="poisson")

    gen = np.random.default_rng(9)
    p = 1 - np.exp(-rate)
    shifts = gen.integers(n // 10, n - n // 10, size=4)
    draws = (gen.random((6, n)) < p).astype(float)
    assert res["shift"].values.tolist() == shifts.tolist()
    np.testing.assert_allclose(res.poisson.values, [gamma(draws[i], data) for i in range(3)])
    np.testing.assert_allclose(res.poisson_ceiling.values, [gamma(draws[i], draws[i + 3]) for i in range(3)])
    null = [gamma((gen.random(n) < np.roll(p, s)).astype(float), data) for s in shifts]
    np.testing.assert_allclose(res.poisson_null.values, null)
    placed_null = [gamma(_threshold_by_hand(np.roll(rate, s), rate.sum()), data) for s in shifts]
    np.testing.assert_allclose(res.threshold_null.values, placed_null)
    placed = _threshold_by_hand(rate, rate.sum())
    assert float(res.threshold) == pytest.approx(gamma(placed, data))
    assert res.attrs["n_threshold_spikes"] == placed.sum() and res.attrs["n_spikes"] == data.sum()
    # the placed train is aligned with the data, its shifted copies are not
    assert float(res.threshold) > res.threshold_null.values.max()


def test_spike_timing_errors():
    rate = np.full(50, 0.1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'spikes': expected the shape of 'rate' (50,); got (40,).")):
        spike_timing(rate, np.zeros(40), dt=1e-3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'rate': expected finite, non-negative values per bin, shape (time,) with at "
            "least 2 bins; got shape (50,) with negative or non-finite values.")):
        spike_timing(-rate, np.zeros(50), dt=1e-3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'dt': expected a finite number in (0, inf) (bin width in seconds); got 0.")):
        spike_timing(rate, np.zeros(50), dt=0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_spikes': expected a finite number in [0, inf) (spike count); got -1.")):
        threshold_spikes(rate, n_spikes=-1)
