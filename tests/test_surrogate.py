"""Surrogate spike functions: forward step, analytic backward, peers, torch.compile, errors."""

from __future__ import annotations

import doctest
import math
import re
import time
import warnings

import numpy as np
import pytest
import torch

from brainbridge.snn import surrogate
from brainbridge.snn.surrogate import SURROGATES, Surrogate, resolve

D = torch.float64


def _sig(z):
    return 1 / (1 + np.exp(-z))


# analytic derivatives written here independently (numpy), name -> f(x, scale)
ANALYTIC = {
    "fast_sigmoid": lambda x, k: 1 / (1 + k * np.abs(x)) ** 2,
    "arctan": lambda x, a: a / 2 / (1 + (np.pi / 2 * a * x) ** 2),
    "sigmoid": lambda x, a: a * _sig(a * x) * (1 - _sig(a * x)),
    "triangle": lambda x, w: np.maximum(0, 1 - np.abs(x) / w) / w,
    "straight_through": lambda x, w: (np.abs(x) < w).astype(float),
}
# smooth primitives P with P' = surrogate derivative (for finite-difference checks)
PRIMITIVE = {
    "fast_sigmoid": lambda x, k: x / (1 + k * np.abs(x)),
    "arctan": lambda x, a: np.arctan(np.pi / 2 * a * x) / np.pi,
    "sigmoid": lambda x, a: _sig(a * x),
    "triangle": lambda x, w: np.where(np.abs(x) < w, (x - np.sign(x) * x**2 / (2 * w)) / w,
                                      np.sign(x) / 2),
    "straight_through": lambda x, w: np.clip(x, -w, w),
}
SCALES = {"fast_sigmoid": [25.0, 3.0], "arctan": [2.0, 5.0], "sigmoid": [4.0, 1.5],
          "triangle": [1.0, 0.3], "straight_through": [math.inf, 0.5]}


def test_registry_and_defaults():
    assert list(SURROGATES) == list(ANALYTIC)
    assert surrogate.DEFAULT_SCALES == {"fast_sigmoid": 25.0, "arctan": 2.0, "sigmoid": 4.0,
                                        "triangle": 1.0, "straight_through": math.inf}
    for name, fn in SURROGATES.items():
        assert resolve(name) == Surrogate(name, surrogate.DEFAULT_SCALES[name])
        assert resolve(name)(torch.zeros(1)).item() == fn(torch.zeros(1)).item() == 1.0


@pytest.mark.parametrize("name", list(SURROGATES))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_forward_is_heaviside_and_dtype_preserved(rng, name, dtype):
    x = torch.tensor(np.concatenate([rng.normal(0, 1, 50), [0.0, -0.0, 1e-30, -1e-30]]), dtype=dtype)
    x.requires_grad_()
    s = SURROGATES[name](x)
    assert s.dtype == dtype
    expect = (x.detach().double().numpy() >= 0).astype(float)
    np.testing.assert_array_equal(s.detach().double().numpy(), expect)
    (g,) = torch.autograd.grad(s.sum(), x)
    assert g.dtype == dtype


@pytest.mark.parametrize("name", list(SURROGATES))
def test_backward_equals_analytic_derivative(rng, name):
    x = rng.normal(0, 1, 200)
    x[:3] = [0.0, 1e-9, -0.25]
    w = rng.normal(0, 1, 200)
    for scale in SCALES[name]:
        xt = torch.tensor(x, dtype=D, requires_grad=True)
        s = SURROGATES[name](xt, scale)
        (g,) = torch.autograd.grad(s, xt, grad_outputs=torch.tensor(w, dtype=D))
        np.testing.assert_allclose(g.numpy(), w * ANALYTIC[name](x, scale), rtol=1e-13, atol=1e-15)
        for inplace in (False, True):
            z = torch.tensor(x)
            got = Surrogate(name, scale).derivative(z, inplace=inplace)
            np.testing.assert_allclose(got.numpy(), ANALYTIC[name](x, scale), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", list(SURROGATES))
def test_derivative_is_gradient_of_smooth_primitive(rng, name):
    """Gradcheck-style: the surrogate is the true derivative of a smooth sigma (central diffs)."""
    for scale in SCALES[name]:
        x = rng.uniform(-2, 2, 300)
        if not math.isinf(scale):  # keep away from the kinks of triangle / straight-through
            x = x[np.abs(np.abs(x) - scale) > 1e-3]
        x = x[np.abs(x) > 1e-3]
        h = 1e-6
        fd = (PRIMITIVE[name](x + h, scale) - PRIMITIVE[name](x - h, scale)) / (2 * h)
        xt = torch.tensor(x, dtype=D, requires_grad=True)
        (g,) = torch.autograd.grad(SURROGATES[name](xt, scale).sum(), xt)
        np.testing.assert_allclose(g.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_heaviside_tie_convention_vs_peers(rng):
    """We fire at x == 0 like spikingjelly; snntorch fires only for x > 0."""
    snn = pytest.importorskip("snntorch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from spikingjelly.activation_based import surrogate as sj

    x = torch.tensor(rng.normal(0, 1, 100), dtype=D)
    assert not torch.any(x == 0)
    ours = surrogate.arctan(x)
    np.testing.assert_array_equal(ours.numpy(), sj.heaviside(x).numpy())
    np.testing.assert_array_equal(ours.numpy(), snn.surrogate.atan()(x).double().numpy())
    zero = torch.zeros(1, dtype=D)
    assert surrogate.arctan(zero).item() == 1.0 == sj.heaviside(zero).item()
    assert snn.surrogate.atan()(zero).item() == 0.0


@pytest.mark.parametrize(("ours", "peer", "kind"), [
    ("arctan", 2.0, "sj_atan"), ("arctan", 3.0, "sj_atan"), ("sigmoid", 4.0, "sj_sigmoid"),
    ("sigmoid", 2.5, "sj_sigmoid"), ("fast_sigmoid", 25.0, "snn_fast_sigmoid"),
    ("fast_sigmoid", 7.0, "snn_fast_sigmoid"), ("arctan", 2.0, "snn_atan"),
])
def test_backward_matches_peers(rng, ours, peer, kind):
    snn = pytest.importorskip("snntorch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from spikingjelly.activation_based import surrogate as sj
    fn = {"sj_atan": lambda: sj.ATan(alpha=peer), "sj_sigmoid": lambda: sj.Sigmoid(alpha=peer),
          "snn_fast_sigmoid": lambda: snn.surrogate.fast_sigmoid(slope=peer),
          "snn_atan": lambda: snn.surrogate.atan(alpha=peer)}[kind]()
    x = rng.normal(0, 0.5, 300)
    xo = torch.tensor(x, dtype=D, requires_grad=True)
    xp = torch.tensor(x, dtype=D, requires_grad=True)
    (go,) = torch.autograd.grad(SURROGATES[ours](xo, peer).sum(), xo)
    (gp,) = torch.autograd.grad(fn(xp).sum(), xp)
    np.testing.assert_allclose(go.numpy(), gp.numpy(), rtol=1e-12, atol=1e-15)


# torch 2.13 warns from inside its own compiler: dynamo instantiates ``torch.autograd.Function()``
# while tracing any autograd.Function, and inductor calls ``torch.jit.script_method``; with
# filterwarnings=error either aborts the compile. Not ours: ignore DeprecationWarnings raised by
# torch's modules (only) in this test.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch")
@pytest.mark.slow
def test_each_surrogate_runs_under_torch_compile(rng):
    """One compiled graph (inductor) calls every surrogate: one compilation, ~10 s on 2 CPU cores."""
    names = list(SURROGATES)

    def f(x):
        return torch.stack([SURROGATES[n](x * (i + 1)) for i, n in enumerate(names)]).sum(1)

    x = torch.tensor(rng.normal(0, 1, 64), dtype=torch.float32)
    compiled = torch.compile(f, fullgraph=True)
    t0 = time.perf_counter()
    xc = x.clone().requires_grad_()
    out_c = compiled(xc)
    w = torch.arange(1.0, len(names) + 1)
    (gc,) = torch.autograd.grad((out_c * w).sum(), xc)
    elapsed = time.perf_counter() - t0
    xe = x.clone().requires_grad_()
    out_e = f(xe)
    (ge,) = torch.autograd.grad((out_e * w).sum(), xe)
    np.testing.assert_array_equal(out_c.detach().numpy(), out_e.detach().numpy())
    np.testing.assert_allclose(gc.numpy(), ge.numpy(), rtol=1e-5, atol=1e-6)
    assert elapsed > 0


@pytest.mark.parametrize(("call", "msg"), [
    (lambda: surrogate.fast_sigmoid(torch.zeros(1), slope=0), "Invalid value for 'slope': expected a "
     "finite number in (0, inf) (the surrogate's sharpness); got 0. Pass e.g. slope=25.0."),
    (lambda: surrogate.arctan(torch.zeros(1), alpha=-1.0), "Invalid value for 'alpha': expected a "
     "finite number in (0, inf) (the surrogate's sharpness); got -1.0. Pass e.g. alpha=2.0."),
    # each function suggests its own default (sigmoid's alpha is 4.0, arctan's 2.0; issue #14)
    (lambda: surrogate.sigmoid(torch.zeros(1), alpha=-1), "Invalid value for 'alpha': expected a "
     "finite number in (0, inf) (the surrogate's sharpness); got -1. Pass e.g. alpha=4.0."),
    (lambda: surrogate.triangle(torch.zeros(1), width="1"), "Invalid value for 'width': expected a "
     "finite number in (0, inf) (the surrogate's sharpness); got '1'. Pass e.g. width=1.0."),
    (lambda: Surrogate("sigmoid", scale=0.0), "Invalid value for 'scale': expected a "
     "finite number in (0, inf) (the surrogate's sharpness); got 0.0. Pass e.g. scale=4.0."),
    (lambda: Surrogate("sigmod"), "Invalid value for 'surrogate': expected one of 'fast_sigmoid', "
     "'arctan', 'sigmoid', 'triangle', 'straight_through'; got 'sigmod'. Did you mean 'sigmoid'?"),
    (lambda: resolve(3), "Invalid value for 'surrogate': expected one of 'fast_sigmoid', 'arctan', "
     "'sigmoid', 'triangle', 'straight_through', a Surrogate or a callable; got 3."),
    (lambda: resolve(abs, scale=2.0), "Invalid value for 'scale': a scale applies only to a named "
     "surrogate; got scale=2.0 with the callable <built-in function abs>. Bind it in the callable "
     "instead, e.g. functools.partial(surrogate.arctan, alpha=3.0)."),
])
def test_errors(call, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        call()


def test_resolve_passes_callables_and_rescales():
    assert resolve(abs) is abs
    sg = Surrogate("arctan")
    assert resolve(sg) is sg
    assert resolve(sg, scale=3) == Surrogate("arctan", 3.0)


def test_doctests():
    result = doctest.testmod(surrogate, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 10
