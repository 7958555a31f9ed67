"""AKOrN Kuramoto block: literal update in numpy, unit norms, energy descent, gradients, errors."""

from __future__ import annotations

import doctest
import importlib
import re

import numpy as np
import pytest
import torch

from brainbridge.snn._kuramoto import (
    Kuramoto,
    KuramotoClassifier,
    KuramotoParams,
    kuramoto_energy,
    kuramoto_step,
)
from brainbridge.snn._trace import tracing


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _literal_coupling(x, weights, coupling, n):
    """J(x) for one sample, oscillator by oscillator. x: (G, n) or (G, n, H, W)."""
    groups = x.shape[0]
    if coupling == "linear":
        (w,) = weights
        return np.array([sum(w[i * n:(i + 1) * n, j * n:(j + 1) * n] @ x[j] for j in range(groups))
                         for i in range(groups)])
    if coupling == "conv":
        (k,) = weights
        half = k.shape[-1] // 2
        _, _, height, width = x.shape
        out = np.zeros_like(x)
        for i in range(groups):
            for r in range(height):
                for q in range(width):
                    for j in range(groups):
                        for dr in range(-half, half + 1):
                            for dq in range(-half, half + 1):
                                rr, qq = r + dr, q + dq
                                if 0 <= rr < height and 0 <= qq < width:
                                    block = k[i * n:(i + 1) * n, j * n:(j + 1) * n, dr + half, dq + half]
                                    out[i, :, r, q] += block @ x[j, :, rr, qq]
        return out
    w_q, w_k, w_v, w_o = weights
    heads = w_q.shape[0] // n
    out = np.zeros_like(x)
    for i in range(groups):
        per_head = []
        for h in range(heads):
            rows = slice(h * n, (h + 1) * n)
            q = w_q[rows] @ x[i]
            scores = np.array([q @ (w_k[rows] @ x[j]) / np.sqrt(n) for j in range(groups)])
            a = np.exp(scores - scores.max())
            a /= a.sum()
            per_head.append(sum(a[j] * (w_v[rows] @ x[j]) for j in range(groups)))
        out[i] = w_o @ np.concatenate(per_head)
    return out


def _literal_step(x, c, weights, omega, coupling, n, gamma):
    """AKOrN's update and energy for a batch, written from the equations. x, c: (B, C[, H, W])."""
    x_new = np.zeros_like(x)
    energy = np.zeros(x.shape[0])
    for b in range(x.shape[0]):
        xb = x[b].reshape(-1, n, *x.shape[2:])
        cb = c[b].reshape(xb.shape)
        jx = _literal_coupling(xb, weights, coupling, n)
        y = jx + cb
        out = np.zeros_like(xb)
        for idx in np.ndindex(xb.shape[0], *xb.shape[2:]):  # every oscillator (and position)
            i, pos = idx[0], idx[1:]
            xi = xb[(i, slice(None), *pos)]
            yi = y[(i, slice(None), *pos)]
            tangent = yi - (yi @ xi) * xi
            rot = omega[i] @ xi if omega is not None else 0.0
            v = xi + gamma * (rot + tangent)
            out[(i, slice(None), *pos)] = v / np.linalg.norm(v)
            energy[b] += -0.5 * (jx[(i, slice(None), *pos)] @ xi) - cb[(i, slice(None), *pos)] @ xi
        x_new[b] = out.reshape(x[b].shape)
    return x_new, energy


CASES = [
    ("linear", {}, (3, 8)),
    ("conv", {"kernel_size": 3}, (2, 8, 3, 4)),
    ("attention", {"heads": 2}, (3, 8)),
]


@pytest.mark.parametrize(("coupling", "extra", "shape"), CASES)
@pytest.mark.parametrize("omega", [True, False])
def test_matches_literal_update(rng, coupling, extra, shape, omega):
    torch.manual_seed(0)
    block = Kuramoto(8, n=2, steps=4, gamma=0.7, coupling=coupling, omega=omega, omega_init=0.5,
                     readout="x", **extra).double()
    p = block.params()
    weights = [_np(w) for w in p.coupling]
    om = None if p.omega is None else _np(p.omega)
    if omega:
        np.testing.assert_allclose(om, -om.transpose(0, 2, 1))
        assert np.abs(om).max() > 0.1
    c = rng.normal(size=shape)
    x0 = rng.normal(size=shape)
    x = x0.reshape(shape[0], -1, 2, *shape[2:])
    x = (x / np.linalg.norm(x, axis=2, keepdims=True)).reshape(shape)
    xs, es = [], []
    for _ in range(4):
        e_prev = _literal_step(x, c, weights, om, coupling, 2, 0.7)[1]
        x, _ = _literal_step(x, c, weights, om, coupling, 2, 0.7)
        xs.append(x)
        es.append(e_prev)
    es = es[1:] + [_literal_step(x, c, weights, om, coupling, 2, 0.7)[1]]

    seen = []
    with tracing(lambda module, step, tensors: seen.append((step, tensors))):
        out, state = block(torch.as_tensor(c), torch.as_tensor(x0))
    np.testing.assert_allclose(_np(out), xs[-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(state.x), xs[-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(state.energy), es[-1], rtol=1e-10, atol=1e-12)
    (step, tensors), = seen
    assert step is False and sorted(tensors) == ["energy", "x"]
    np.testing.assert_allclose(_np(tensors["x"]), np.stack(xs), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(tensors["energy"]), np.stack(es), rtol=1e-10, atol=1e-12)

    # the functional core on its own: one step from a unit x
    x1 = torch.as_tensor(xs[0])
    x2, e1 = kuramoto_step(x1, torch.as_tensor(c), p, n=2, gamma=0.7, coupling=coupling)
    np.testing.assert_allclose(_np(x2), xs[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(e1), es[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(kuramoto_energy(x1, torch.as_tensor(c), p, n=2, coupling=coupling)),
                               es[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("coupling", "extra", "shape"), CASES)
def test_unit_norms_preserved(coupling, extra, shape):
    gen = torch.Generator().manual_seed(3)
    block = Kuramoto(8, n=4, steps=6, gamma=2.0, coupling=coupling, readout="x", **extra)
    c = torch.randn(shape, generator=gen) * 5
    seen = []
    with tracing(lambda module, step, tensors: seen.append(tensors)):
        block(c, torch.randn(shape, generator=gen) * 7)  # x0 far from unit length
    x_seq = seen[0]["x"]
    norms = x_seq.unflatten(2, (2, 4)).norm(dim=3)
    torch.testing.assert_close(norms, torch.ones_like(norms))


def _block_row_bound(w, n):
    groups = w.shape[0] // n
    blocks = w.reshape(groups, n, groups, n).transpose(1, 2)
    return torch.linalg.matrix_norm(blocks, ord=2).sum(1).max().item()


@pytest.mark.parametrize("with_c", [False, True])
def test_energy_decreases_symmetric_no_rotation(with_c):
    torch.manual_seed(4)
    n, channels = 4, 32
    block = Kuramoto(channels, n=n, steps=40, symmetric=True, omega=False).double()
    w = block.params().coupling[0]
    torch.testing.assert_close(w, w.T)
    gen = torch.Generator().manual_seed(5)
    c = torch.randn(6, channels, generator=gen, dtype=torch.float64) if with_c \
        else torch.zeros(6, channels, dtype=torch.float64)
    c_max = c.unflatten(1, (-1, n)).norm(dim=2).max().item()
    block.gamma = 0.5 / (_block_row_bound(w, n) + c_max)  # the docstring's sufficient condition
    x0 = torch.randn(6, channels, generator=gen, dtype=torch.float64)
    seen = []
    with tracing(lambda module, step, tensors: seen.append(tensors)):
        block(c, x0)
    e0 = kuramoto_energy(x0 / x0.unflatten(1, (-1, n)).norm(dim=2).repeat_interleave(n, 1), c,
                         block.params(), n=n, coupling="linear")
    energy = torch.cat([e0[None], seen[0]["energy"]])
    steps = energy.diff(dim=0)
    assert (steps <= 1e-12).all()
    assert (energy[-1] < energy[0] - 0.1).all()


def test_energy_decreases_symmetric_conv():
    torch.manual_seed(6)
    block = Kuramoto(8, n=2, steps=30, gamma=0.05, coupling="conv", symmetric=True, omega=False).double()
    k = block.params().coupling[0]
    x, z = torch.randn(2, 2, 8, 5, 6, dtype=torch.float64)
    jx = torch.nn.functional.conv2d(x, k, padding=1)
    jz = torch.nn.functional.conv2d(z, k, padding=1)
    torch.testing.assert_close((jx * z).sum(), (x * jz).sum())  # J is self-adjoint
    seen = []
    with tracing(lambda module, step, tensors: seen.append(tensors)):
        block(torch.zeros(2, 8, 5, 6, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    energy = seen[0]["energy"]
    assert (energy.diff(dim=0) <= 1e-12).all() and (energy[-1] < energy[0]).all()


@pytest.mark.parametrize(("coupling", "extra", "shape"), CASES)
def test_gradcheck(coupling, extra, shape):
    torch.manual_seed(7)
    small = (1, 4, 2, 2) if coupling == "conv" else (2, 4)
    block = Kuramoto(4, n=2, coupling=coupling, omega_init=0.5, **extra).double()
    gen = torch.Generator().manual_seed(8)
    c = torch.randn(small, generator=gen, dtype=torch.float64, requires_grad=True)
    x0 = torch.randn(small, generator=gen, dtype=torch.float64)
    x0 = (x0.unflatten(1, (-1, 2)) / x0.unflatten(1, (-1, 2)).norm(dim=2, keepdim=True)).flatten(1, 2)
    x0.requires_grad_(True)
    p = block.params()
    weights = tuple(w.detach().clone().requires_grad_(True) for w in p.coupling)
    a = block.omega_param.detach().clone().requires_grad_(True)

    def run(c, x0, a, *weights):
        params = KuramotoParams(weights, a - a.transpose(-1, -2))
        x, energies = x0, []
        for _ in range(2):
            x, e = kuramoto_step(x, c, params, n=2, gamma=0.8, coupling=coupling)
            energies.append(e)
        return x, torch.stack(energies)

    # fast_mode (random projections of the Jacobian, still finite differences) keeps conv quick
    assert torch.autograd.gradcheck(run, (c, x0, a, *weights), fast_mode=coupling == "conv")


def test_backward_through_module_reaches_every_parameter():
    model = KuramotoClassifier(6, 3, channels=8, n=4, steps=3, coupling="attention", heads=2)
    logits = model(torch.randn(5, 6), generator=torch.Generator().manual_seed(0))
    assert logits.shape == (5, 3)
    logits.sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_readouts(rng):
    torch.manual_seed(9)
    block = Kuramoto(8, n=2, readout="y").double()
    c = torch.as_tensor(rng.normal(size=(3, 8)))
    x0 = torch.as_tensor(rng.normal(size=(3, 8)))
    out, state = block(c, x0)
    y = state.x @ block.params().coupling[0].T + c
    torch.testing.assert_close(out, y.reshape(3, 4, 2).norm(dim=2))
    lin = Kuramoto(8, n=2).double()
    lin.load_state_dict(block.state_dict(), strict=False)
    with torch.no_grad():
        lin.readout_bias.copy_(torch.arange(4.0))
    out, state = lin(c, x0)
    expected = (state.x @ lin.readout_weight.T).reshape(3, 4, 2).norm(dim=2) + torch.arange(4.0)
    torch.testing.assert_close(out, expected)


def test_seeded_initial_state_reproducible():
    block = Kuramoto(8, n=2)
    c = torch.randn(2, 8)
    a, _ = block(c, generator=torch.Generator().manual_seed(1))
    b, _ = block(c, generator=torch.Generator().manual_seed(1))
    d, _ = block(c, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, d)


def test_defaults():
    block = Kuramoto(16)
    assert (block.n, block.steps, block.gamma) == (4, 3, 1.0)
    assert (block.coupling, block.readout) == ("linear", "linear")
    assert block.omega.shape == (4, 4, 4)
    torch.testing.assert_close(block.omega, -block.omega.transpose(1, 2))
    assert Kuramoto(8, n=2, coupling="conv").kernel_size == 3
    assert Kuramoto(8, n=2, coupling="attention").heads == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1}, "Invalid value for 'n': expected an integer >= 2 (oscillator dimension); got 1."),
        ({"channels": 10},
         "Invalid value for 'channels': expected a multiple of n=4 (channels are split into oscillators "
         "of n dimensions); got 10. Use e.g. channels=12."),
        ({"steps": 0}, "Invalid value for 'steps': expected an integer >= 1 (number of updates T); got 0."),
        ({"gamma": 0.0},
         "Invalid value for 'gamma': expected a finite number in (0, inf) (step size); got 0.0."),
        ({"coupling": "lineer"},
         "Invalid value for 'coupling': expected one of 'linear', 'conv', 'attention'; got 'lineer'. "
         "Did you mean 'linear'?"),
        ({"readout": "norm"}, "Invalid value for 'readout': expected one of 'linear', 'y', 'x'; got 'norm'."),
        ({"kernel_size": 3},
         "Invalid value for 'kernel_size': only coupling='conv' has a kernel; got kernel_size=3 with "
         "coupling='linear'. Drop kernel_size."),
        ({"coupling": "conv", "kernel_size": 4},
         "Invalid value for 'kernel_size': expected an odd integer (the output keeps the input's size); "
         "got 4. Use 5."),
        ({"heads": 2},
         "Invalid value for 'heads': only coupling='attention' has heads; got heads=2 with "
         "coupling='linear'. Drop heads."),
        ({"coupling": "attention", "symmetric": True},
         "Invalid value for 'symmetric': the attention coupling depends on x, so it has no transpose to "
         "symmetrise; got symmetric=True with coupling='attention'. Use coupling='linear' or 'conv', or "
         "symmetric=False."),
        ({"omega_init": -1.0},
         "Invalid value for 'omega_init': expected a finite number in [0, inf) (standard deviation "
         "of the natural-frequency init); got -1.0."),
    ],
)
def test_constructor_errors(kwargs, message):
    args = {"channels": 8} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        Kuramoto(**args)


def test_numpy_integers_are_accepted():
    # Kuramoto(8, steps=np.int64(3)) used to be refused while memory_task accepted numpy
    # integers; one check_scalar now serves both (issue #14)
    torch.manual_seed(0)
    a = Kuramoto(np.int64(8), n=np.int32(2), steps=np.int64(3), gamma=np.float32(0.5))
    torch.manual_seed(0)
    b = Kuramoto(8, n=2, steps=3, gamma=0.5)
    assert (a.channels, a.n, a.steps) == (8, 2, 3) and type(a.steps) is int
    c = torch.randn(4, 8)
    gen = torch.Generator().manual_seed(1)
    out_a = a(c, generator=gen)[0]
    out_b = b(c, generator=torch.Generator().manual_seed(1))[0]
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    assert KuramotoClassifier(np.int64(4), np.int64(3), channels=8).head.out_features == 3


def test_forward_errors():
    block = Kuramoto(8, n=2)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'c': expected a tensor of shape (batch, channels) with channels=8 for "
            "coupling='linear'; got (2, 8, 3, 3).")):
        block(torch.zeros(2, 8, 3, 3))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'c': expected a tensor of shape (batch, channels, H, W) with channels=8 for "
            "coupling='conv'; got (2, 8).")):
        Kuramoto(8, n=2, coupling="conv")(torch.zeros(2, 8))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'x0': expected a tensor of the shape of c, (2, 8); got (2, 6).")):
        block(torch.zeros(2, 8), torch.ones(2, 6))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'generator': it seeds a random x0, but x0 was given; got both. Pass x0 or "
            "generator, not both.")):
        block(torch.zeros(2, 8), torch.ones(2, 8), generator=torch.Generator())
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'coupling': KuramotoClassifier takes (batch, n_in) features, so it needs "
            "coupling='linear' or 'attention'; got 'conv'. Build a conv model from "
            "Kuramoto(coupling='conv') directly.")):
        KuramotoClassifier(4, 2, channels=8, coupling="conv")


def test_doctests():
    module = importlib.import_module("brainbridge.snn._kuramoto")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
