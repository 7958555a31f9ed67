"""Tasks, their losses and metrics, and the model zoo."""

import doctest
import math
import re

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from brainbridge._config import torch_threads
from brainbridge.snn import (
    _tasks,
    _zoo,
    adding_task,
    build_model,
    digits_task,
    grasshopper_task,
    memory_task,
)
from brainbridge.snn._tasks import LOSSES, METRICS


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny recurrent models: thread hand-off costs more than the arithmetic (busy CI machines)."""
    with torch_threads(1):
        yield


def test_doctests():
    assert doctest.testmod(_tasks, optionflags=doctest.ELLIPSIS).failed == 0
    assert doctest.testmod(_zoo, optionflags=doctest.ELLIPSIS).failed == 0


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
    pixel, row = digits_task("pixel", random_state=3), digits_task("row", random_state=3)
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
    assert torch.equal(digits_task("row", random_state=3).y_test, row.y_test)
    assert not torch.equal(digits_task("row", random_state=4).y_test, row.y_test)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'order': expected one of 'pixel', 'row'; got 'rows'. Did you mean 'row'?")):
        digits_task("rows")


def test_memory_task():
    task = memory_task(7, n_symbols=3, n_train=50, n_test=20, random_state=np.int64(1))
    x, y = task.x_train.numpy(), task.y_train.numpy()
    assert x.shape == (8, 50, 4) and task.chance == pytest.approx(1 / 3)
    np.testing.assert_array_equal(x[0, :, :3].argmax(1), y)
    assert (x[0, :, :3].sum(1) == 1).all() and (x[0, :, 3] == 0).all()
    assert (x[1:7] == 0).all()
    assert (x[7, :, 3] == 1).all() and (x[7, :, :3] == 0).all()
    noisy = memory_task(7, n_symbols=3, n_train=50, n_test=20, random_state=1, noise=0.5).x_train.numpy()
    assert noisy[1:7, :, :3].std() == pytest.approx(0.5, rel=0.15) and (noisy[1:7, :, 3] == 0).all()
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'horizon': expected an integer >= 1 (steps between cue and recall); got 0.")):
        memory_task(0)


def test_adding_task():
    task = adding_task(20, n_train=4000, n_test=10, random_state=2)
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

    task = grasshopper_task(load_grasshopper(1), window=100, history=10, test_fraction=0.25)
    spikes, stim = load_grasshopper(1, bin_size=1e-3)  # the loader's own 1 ms binning
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
    assert task.name == "grasshopper-1"
    # a recording binned at 1 ms already gives the same task
    again = grasshopper_task(load_grasshopper(1, bin_size=1e-3), window=100, history=10, test_fraction=0.25)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        torch.testing.assert_close(getattr(again, key), getattr(task, key), rtol=0, atol=0, equal_nan=True)


def test_grasshopper_task_errors():
    from brainbridge.loaders import load_grasshopper

    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'recording': expected the (spikes, stimulus) assemblies of "
            "brainbridge.loaders.load_grasshopper(condition), each with dims ('time', 'unit') and one "
            "unit; got int.")):
        grasshopper_task(1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'bin_size': expected a whole multiple of the recording's bin (0.001 s); "
            "got 0.0015.")):
        grasshopper_task(load_grasshopper(1, bin_size=1e-3), bin_size=1.5e-3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'test_fraction': expected a finite number in (0, 1) (fraction held out); "
            "got 1.")):
        grasshopper_task(load_grasshopper(1), test_fraction=1)


# --------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", ["lif", "elm", "lstm"])
def test_build_model(name):
    task = memory_task(4, n_symbols=3, n_train=6, n_test=2)
    a = build_model(name, task, hidden=8, random_state=5)
    b = build_model(name, task, hidden=8, random_state=np.int64(5))
    out = a(task.x_train) if name != "elm" else a.forward_seq(task.x_train)[0]
    assert tuple(out.shape) == (5, 6, 3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'model': expected one of 'lif', 'elm', 'lstm'; got 'gru'.")):
        build_model("gru", task)


def test_lif_net_readout_is_a_leaky_integrator():
    task = memory_task(4, n_symbols=3, n_train=6, n_test=2)
    net = build_model("lif", task, hidden=8, random_state=1, readout_tau=3.0)
    with torch.no_grad():
        spikes, _ = net.lif.forward_seq(net.inp(task.x_train))
        a = math.exp(-1 / 3)
        y = torch.zeros(6, 3)
        for t in range(5):
            y = a * y + (1 - a) * spikes[t] @ net.out.weight.T
        torch.testing.assert_close(net(task.x_train)[-1], y + net.out.bias)
