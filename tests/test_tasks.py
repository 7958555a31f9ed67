"""Tasks, the coincidence factor, the LNP baseline and the small models."""

import doctest
import math
import re

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from brainbridge._config import torch_threads
from brainbridge.snn import _tasks
from brainbridge.snn._tasks import (
    LOSSES,
    METRICS,
    Task,
    adding_task,
    build_model,
    coincidence_factor,
    digits_task,
    fit_lnp,
    grasshopper_task,
    memory_task,
    sample_spikes,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny recurrent models: thread hand-off costs more than the arithmetic (busy CI machines)."""
    with torch_threads(1):
        yield


def test_doctests():
    assert doctest.testmod(_tasks, optionflags=doctest.ELLIPSIS).failed == 0


# --------------------------------------------------------------------------- coincidence factor
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
    s = sample_spikes(log_rate, n_samples=40000, seed=1)
    np.testing.assert_allclose(s.mean(0), 1 - np.exp(-np.array([0.05, 0.5, 2.0])), atol=0.01)
    np.testing.assert_array_equal(s, sample_spikes(log_rate, n_samples=40000, seed=1))


# --------------------------------------------------------------------------- losses and metrics
def test_losses_and_metrics_match_references(rng):
    out = torch.as_tensor(rng.normal(size=(6, 5, 1)))
    y = torch.as_tensor(rng.poisson(1.0, size=(6, 5, 1)).astype(float))
    y[:2] = float("nan")
    ref = torch.nn.functional.poisson_nll_loss(out[2:], y[2:], log_input=True, full=False)
    assert float(LOSSES["poisson"](out, y)) == pytest.approx(float(ref), rel=1e-12)
    logits = torch.as_tensor(rng.normal(size=(50, 4)))
    labels = torch.as_tensor(rng.integers(0, 4, size=50))
    from sklearn.metrics import accuracy_score, mean_squared_error

    assert METRICS["accuracy"](logits, labels) == accuracy_score(labels, logits.argmax(1))
    target = torch.as_tensor(rng.normal(size=(50, 4)))
    assert METRICS["mse"](logits, target) == pytest.approx(mean_squared_error(target, logits), rel=1e-12)


# --------------------------------------------------------------------------- tasks
def test_digits_task():
    pixel, row = digits_task("pixel", seed=3), digits_task("row", seed=3)
    assert tuple(pixel.x_train.shape) == (64, 1437, 1) and tuple(row.x_train.shape) == (8, 1437, 8)
    # both orders hold the same images; each is a digit of sklearn, scaled to [0, 1]
    np.testing.assert_array_equal(pixel.x_train[:, :, 0].T.numpy(),
                                  row.x_train.permute(1, 0, 2).reshape(1437, 64).numpy())
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    all_x = np.concatenate([pixel.x_train[:, :, 0].T.numpy(), pixel.x_test[:, :, 0].T.numpy()])
    all_y = np.concatenate([pixel.y_train.numpy(), pixel.y_test.numpy()])
    order_a, order_b = np.lexsort(all_x.T), np.lexsort(images.T)
    np.testing.assert_array_equal(all_x[order_a], images[order_b])
    assert all_x.min() == 0.0 and all_x.max() == 1.0
    assert np.bincount(all_y).tolist() == np.bincount(digits.target).tolist()
    assert torch.equal(digits_task("row", seed=3).y_test, row.y_test)
    assert not torch.equal(digits_task("row", seed=4).y_test, row.y_test)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'order': expected one of 'pixel', 'row'; got 'rows'. Did you mean 'row'?")):
        digits_task("rows")


def test_memory_task():
    task = memory_task(7, n_symbols=3, n_train=50, n_test=20, seed=1)
    x, y = task.x_train.numpy(), task.y_train.numpy()
    assert x.shape == (8, 50, 4) and task.chance == pytest.approx(1 / 3)
    np.testing.assert_array_equal(x[0, :, :3].argmax(1), y)
    assert (x[0, :, :3].sum(1) == 1).all() and (x[0, :, 3] == 0).all()
    assert (x[1:7] == 0).all()
    assert (x[7, :, 3] == 1).all() and (x[7, :, :3] == 0).all()
    noisy = memory_task(7, n_symbols=3, n_train=50, n_test=20, seed=1, noise=0.5).x_train.numpy()
    assert noisy[1:7, :, :3].std() == pytest.approx(0.5, rel=0.15) and (noisy[1:7, :, 3] == 0).all()
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'horizon': expected an int >= 1 (steps between cue and recall); got 0.")):
        memory_task(0)


def test_adding_task():
    task = adding_task(20, n_train=4000, n_test=10, seed=2)
    x, y = task.x_train.numpy(), task.y_train.numpy()
    marks = x[:, :, 1]
    assert (marks.sum(0) == 2).all()
    assert (marks[:10].sum(0) == 1).all() and (marks[10:].sum(0) == 1).all()
    expected = np.array([x[marks[:, i] == 1, i, 0].sum() for i in range(x.shape[1])])
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-6)
    # chance: predicting the mean gives Var(u1 + u2) = 1/6
    assert np.mean((y - 1.0) ** 2) == pytest.approx(task.chance, rel=0.06)


def test_grasshopper_task():
    from brainbridge.loaders import load_grasshopper

    task = grasshopper_task(window=100, history=10, test_fraction=0.25)
    spikes, stim = load_grasshopper(1, bin_size=1e-3)
    s, k = stim.values[:, 0], spikes.values[:, 0]
    z = (s - s[:7500].mean()) / s[:7500].std()
    assert tuple(task.x_train.shape) == (110, 74, 1)
    for i in (0, 5, 73):
        np.testing.assert_allclose(task.x_train[:, i, 0].numpy(), z[i * 100:i * 100 + 110], rtol=1e-5)
        np.testing.assert_array_equal(task.y_train[10:, i, 0].numpy(), k[i * 100 + 10:i * 100 + 110])
    assert task.y_train[:10].isnan().all() and task.y_test[:10].isnan().all()
    np.testing.assert_allclose(task.x_test[:, 0, 0].numpy(), z[7490:], rtol=1e-5)
    assert float(task.y_test[10:].sum()) == k[7500:].sum()
    assert task.dt == 1e-3 and task.options["delta"] == 4e-3


def test_fit_lnp_recovers_a_filter(rng):
    kernel = np.array([0.8, -0.5, 0.3, 0.0, 0.1])
    x = rng.normal(size=(400, 20))  # (T, sequences)
    log_rate = -1.0 + sum(kernel[j] * np.vstack([np.zeros((j, 20)), x[:400 - j]]) for j in range(5))
    y = rng.poisson(np.exp(log_rate)).astype(np.float32)
    y[:5] = np.nan
    task = Task("synthetic", torch.as_tensor(x[..., None], dtype=torch.float32),
                torch.as_tensor(y[..., None]), torch.zeros(10, 1, 1), torch.zeros(10, 1, 1),
                1, 1, "poisson", "coincidence", "all", 0.0, True)
    lnp = fit_lnp(task, n_lags=5, alpha=1e-6)
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


def test_fit_lnp_needs_a_rate_task():
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'task': fit_lnp needs a task with one input, one output and a target "
            "at every step (like grasshopper_task()); got 'memory-h3'.")):
        fit_lnp(memory_task(3, n_train=4, n_test=4))


# --------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", ["lif", "elm", "lstm"])
def test_build_model(name):
    task = memory_task(4, n_symbols=3, n_train=6, n_test=2)
    a = build_model(name, task, hidden=8, seed=5)
    b = build_model(name, task, hidden=8, seed=5)
    out = a(task.x_train) if name != "elm" else a.forward_seq(task.x_train)[0]
    assert tuple(out.shape) == (5, 6, 3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'model': expected one of 'lif', 'elm', 'lstm'; got 'gru'.")):
        build_model("gru", task)


def test_lif_net_readout_is_a_leaky_integrator():
    task = memory_task(4, n_symbols=3, n_train=6, n_test=2)
    net = build_model("lif", task, hidden=8, seed=1, readout_tau=3.0)
    with torch.no_grad():
        spikes, _ = net.lif.forward_seq(net.inp(task.x_train))
        a = math.exp(-1 / 3)
        y = torch.zeros(6, 3)
        for t in range(5):
            y = a * y + (1 - a) * spikes[t] @ net.out.weight.T
        torch.testing.assert_close(net(task.x_train)[-1], y + net.out.bias)
