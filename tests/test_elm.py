"""ELM neuron: the published equations (literal loop in numpy), fast path, defaults, errors."""

from __future__ import annotations

import doctest
import importlib
import re

import numpy as np
import pytest
import torch

from brainbridge.snn._elm import ELM, ELMState, _linear_scan, elm_step
from brainbridge.snn._trace import tracing


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _literal_elm(layer, x_seq, s0, m0):
    """Spieler et al. 2023, one step at a time, one unit at a time, written from the equations.

    Nothing is taken from the layer but its raw weights and its documented hyper-parameters:
    w_s = relu(param), kappa = exp(-dt / tau), tau_m log-spaced in tau_m_range, contiguous
    branches (numpy.array_split), ReLU hidden layers and tanh~ on the MLP's output.
    """
    dt, lam = layer.dt, layer.lam
    w_s = np.maximum(_np(layer.w_s_param), 0.0)
    kappa_s = np.exp(-dt / layer.tau_s)
    lo, hi = layer.tau_m_range
    tau_m = np.logspace(np.log10(lo), np.log10(hi), layer.n_memory)
    kappa_m = np.exp(-dt / tau_m)
    if layer.variant == "v1":
        gain = lam * (1.0 - kappa_m)
        groups = None
    else:
        gain = 1.0 - np.exp(-dt * lam / tau_m)
        groups = np.array_split(np.arange(layer.n_in), layer.num_branches)
    layers = [(_np(lin.weight), _np(lin.bias)) for lin in layer.mlp]
    w_y, b_y = _np(layer.readout.weight), _np(layer.readout.bias)

    def tanh_tilde(z):
        return 1.7159 * np.tanh(2.0 * z / 3.0)

    n_steps, batch, _ = x_seq.shape
    ys = np.zeros((n_steps, batch, layer.n_out))
    ms = np.zeros((n_steps, batch, layer.n_memory))
    s_end = np.zeros((batch, len(s0[0])))
    for b in range(batch):
        s, m = s0[b].copy(), m0[b].copy()
        for t in range(n_steps):
            x = x_seq[t, b]
            if groups is None:
                s = np.array([kappa_s * s[j] + w_s[j] * x[j] for j in range(layer.n_in)])
            else:
                s = np.array([kappa_s * s[k] + sum(w_s[j] * x[j] for j in g) for k, g in enumerate(groups)])
            h = np.concatenate([s, kappa_m * m])
            for i, (w, bias) in enumerate(layers):
                if i:
                    h = np.maximum(h, 0.0)
                h = w @ h + bias
            delta_m = tanh_tilde(h)
            m = kappa_m * m + gain * delta_m
            ys[t, b] = w_y @ m + b_y
            ms[t, b] = m
        s_end[b] = s
    return ys, ms, s_end, ms[-1]


def _randomise(layer, rng):
    """Give every parameter a random value; some synaptic params negative (relu clips them)."""
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.as_tensor(rng.normal(0, 0.5, p.shape)))
        layer.w_s_param.copy_(torch.as_tensor(rng.normal(0.5, 0.6, layer.n_in)))
    assert (layer.w_s_param < 0).any()
    return layer


@pytest.mark.parametrize(
    ("variant", "num_branches", "mlp_layers"),
    [("v1", None, 1), ("v1", None, 2), ("branch", 3, 1), ("branch", 7, 0)],
)
def test_matches_literal_equations(rng, variant, num_branches, mlp_layers):
    torch.manual_seed(0)
    layer = ELM(7, 3, n_memory=5, variant=variant, num_branches=num_branches, mlp_layers=mlp_layers,
                lam=3.0, tau_s=4.0, tau_m_range=(2.0, 50.0), dt=1.5).double()
    _randomise(layer, rng)
    x = rng.normal(size=(12, 2, 7))
    s0 = rng.normal(size=(2, layer.n_traces))
    m0 = rng.normal(size=(2, 5))
    ys, ms, s_end, m_end = _literal_elm(layer, x, s0, m0)
    state = ELMState(torch.as_tensor(s0), torch.as_tensor(m0))

    y_seq, out = layer.forward_seq(torch.as_tensor(x), state)
    np.testing.assert_allclose(_np(y_seq), ys, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(out.s), s_end, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(out.m), m_end, rtol=1e-10, atol=1e-12)

    st = state
    for t in range(12):  # the one-step module path and the functional core
        y_t, st = layer(torch.as_tensor(x[t]), st)
        np.testing.assert_allclose(_np(y_t), ys[t], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(_np(st.m), ms[t], rtol=1e-10, atol=1e-12)
    y_core, _ = elm_step(torch.as_tensor(x[0]), state, layer.params())
    np.testing.assert_allclose(_np(y_core), ys[0], rtol=1e-10, atol=1e-12)


def test_branch_assignment_contiguous():
    layer = ELM(7, 1, n_memory=2, variant="branch", num_branches=3)
    owner = layer.branch.argmax(1).tolist()
    assert owner == [0, 0, 0, 1, 1, 2, 2]  # numpy.array_split / torch.tensor_split sizes 3, 2, 2
    assert layer.branch.sum(1).tolist() == [1.0] * 7


def _loop(layer, x_seq, state):
    ys = []
    for t in range(x_seq.shape[0]):
        y, state = layer(x_seq[t], state)
        ys.append(y)
    return torch.stack(ys), state


def _grads(layer, x, state, fn):
    layer.zero_grad()
    x = x.clone().requires_grad_(True)
    s0 = state.s.clone().requires_grad_(True)
    m0 = state.m.clone().requires_grad_(True)
    y, st = fn(layer, x, ELMState(s0, m0))
    loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum() \
        + (st.m ** 2).sum() + st.s.sum()
    loss.backward()
    grads = {"x": x.grad, "s0": s0.grad, "m0": m0.grad}
    grads.update({n: p.grad.clone() for n, p in layer.named_parameters()})
    return y.detach(), st, grads


@pytest.mark.parametrize(("variant", "num_branches"), [("v1", None), ("branch", 4)])
def test_fast_path_equals_step_loop(rng, variant, num_branches):
    torch.manual_seed(1)
    layer = ELM(9, 2, n_memory=6, variant=variant, num_branches=num_branches, mlp_layers=2,
                learn_tau_m=True).double()
    _randomise(layer, rng)
    x = torch.as_tensor(rng.normal(size=(37, 3, 9)))  # T not a power of two
    state = ELMState(torch.as_tensor(rng.normal(size=(3, layer.n_traces))),
                     torch.as_tensor(rng.normal(size=(3, 6))))
    y_fast, st_fast, g_fast = _grads(layer, x, state, lambda m, a, s: m.forward_seq(a, s))
    y_loop, st_loop, g_loop = _grads(layer, x, state, _loop)
    torch.testing.assert_close(y_fast, y_loop, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(st_fast.s, st_loop.s, rtol=1e-11, atol=1e-12)
    assert set(g_fast) == set(g_loop) and "log_tau_m" in g_fast and "w_s_param" in g_fast
    for name in g_loop:
        assert g_loop[name].abs().sum() > 0, name
        torch.testing.assert_close(g_fast[name], g_loop[name], rtol=1e-10, atol=1e-11, msg=name)


@pytest.mark.slow  # torch.compile of the step and its backward: 2-12 s on a 2-core CPU
def test_compiled_path_equals_step_loop(rng):
    torch.manual_seed(2)
    plain = ELM(5, 2, n_memory=4, mlp_layers=1).double()
    _randomise(plain, rng)
    fused = ELM(5, 2, n_memory=4, mlp_layers=1, compile=True).double()
    fused.load_state_dict(plain.state_dict())
    x = torch.as_tensor(rng.normal(size=(6, 2, 5)))
    state = plain.initial_state(2, like=x)
    y_c, st_c, g_c = _grads(fused, x, state, lambda m, a, s: m.forward_seq(a, s))
    y_l, st_l, g_l = _grads(plain, x, state, _loop)
    torch.testing.assert_close(y_c, y_l, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(st_c.m, st_l.m, rtol=1e-10, atol=1e-12)
    for name in g_l:
        torch.testing.assert_close(g_c[name], g_l[name], rtol=1e-9, atol=1e-11, msg=name)


def test_linear_scan_long_sequence_no_overflow():
    # float32, T = 3000 and a fast decay: a cumulative form kappa^-t would overflow here.
    decay = torch.tensor([0.5, 0.9, 0.999])
    drive = torch.randn(3000, 2, 3, generator=torch.Generator().manual_seed(0))
    s0 = torch.ones(2, 3)
    s, expected = s0, []
    for t in range(3000):
        s = decay * s + drive[t]
        expected.append(s)
    got = _linear_scan(decay, drive, s0)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, torch.stack(expected), rtol=1e-4, atol=1e-3)


def test_defaults():
    layer = ELM(3, 2)
    assert layer.n_memory == 100 and layer.lam == 5.0 and layer.tau_s == 5.0 and layer.dt == 1.0
    assert layer.variant == "v1" and layer.branch is None
    np.testing.assert_allclose(_np(layer.tau_m), np.logspace(0, 3, 100), rtol=1e-6)
    assert layer.log_tau_m is None  # fixed unless learn_tau_m=True
    assert "log_tau_m" not in dict(layer.named_parameters())
    torch.testing.assert_close(layer.w_s, torch.full((3,), 0.5))
    assert [(lin.in_features, lin.out_features) for lin in layer.mlp] == [(103, 200), (200, 100)]
    assert (layer.readout.in_features, layer.readout.out_features) == (100, 2)
    p = layer.params()
    torch.testing.assert_close(p.kappa_s, torch.full((3,), float(np.exp(-1 / 5))))
    torch.testing.assert_close(p.gain, 5.0 * (1 - p.kappa_m))
    learn = ELM(3, 2, learn_tau_m=True)
    assert learn.log_tau_m.requires_grad and "log_tau_m" in dict(learn.named_parameters())
    branch = ELM(6, 1, variant="branch", num_branches=2)
    bp = branch.params()
    torch.testing.assert_close(bp.gain, 1 - torch.exp(-5.0 / branch.tau_m))
    assert branch.mlp[0].in_features == 2 + 100


def test_time_unit_only_ratios_matter(rng):
    torch.manual_seed(3)
    steps = ELM(4, 2, n_memory=5).double()
    seconds = ELM(4, 2, n_memory=5, dt=1e-3, tau_s=5e-3, tau_m_range=(1e-3, 1.0)).double()
    seconds.load_state_dict(steps.state_dict())
    x = torch.as_tensor(rng.normal(size=(20, 2, 4)))
    torch.testing.assert_close(seconds.forward_seq(x)[0], steps.forward_seq(x)[0], rtol=1e-9, atol=1e-12)


def test_emit_records_out_and_memory(rng):
    layer = ELM(4, 2, n_memory=3)
    x = torch.as_tensor(rng.normal(size=(5, 2, 4)), dtype=torch.float32)
    seen = []
    with tracing(lambda module, step, tensors: seen.append((module, step, tensors))):
        y_seq, _ = layer.forward_seq(x)
        y, state = layer(x[0])
    assert [(m is layer, s, sorted(t)) for m, s, t in seen] == [
        (True, False, ["m", "out"]), (True, True, ["m", "out"])]
    assert seen[0][2]["out"] is y_seq and seen[0][2]["m"].shape == (5, 2, 3)
    assert seen[1][2]["out"] is y and seen[1][2]["m"] is state.m
    layer(x[0])  # outside tracing: nothing recorded
    assert len(seen) == 2


def test_no_hidden_state_kept(rng):
    layer = ELM(4, 2, n_memory=3)
    x = torch.as_tensor(rng.normal(size=(2, 4)), dtype=torch.float32)
    y1, _ = layer(x)
    y2, _ = layer(x)
    torch.testing.assert_close(y1, y2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_in": 0},
         "Invalid value for 'n_in': expected an integer >= 1 (number of input synapses); got 0."),
        ({"n_memory": 2.5},
         "Invalid value for 'n_memory': expected an integer >= 1 (number of memory units); got 2.5."),
        ({"variant": "branches"},
         "Invalid value for 'variant': expected one of 'v1', 'branch'; got 'branches'. "
         "Did you mean 'branch'?"),
        ({"variant": "branch"},
         "Invalid value for 'num_branches': variant='branch' needs the number of dendritic branches; "
         "got None. Pass e.g. num_branches=4."),
        ({"variant": "branch", "num_branches": 5},
         "Invalid value for 'num_branches': expected at most n_in=4 (each branch needs a synapse); got 5. "
         "Lower num_branches or add inputs."),
        ({"num_branches": 2},
         "Invalid value for 'num_branches': only variant='branch' has branches; got num_branches=2 with "
         "variant='v1'. Drop num_branches or pass variant='branch'."),
        ({"lam": 0},
         "Invalid value for 'lam': expected a finite number in (0, inf) (memory speed-up factor lambda); "
         "got 0."),
        ({"tau_s": -1.0},
         "Invalid value for 'tau_s': expected a finite number in (0, inf) (synapse time constant, in the "
         "unit of dt); got -1.0."),
        ({"tau_m_range": (10.0, 1.0)},
         "Invalid value for 'tau_m_range': expected (tau_min, tau_max) with 0 < tau_min <= tau_max (memory "
         "time constants, in the unit of dt); got (10.0, 1.0). Pass e.g. tau_m_range=(1.0, 1000.0)."),
        ({"w_s_init": -0.1},
         "Invalid value for 'w_s_init': expected a finite number in [0, inf) (initial synaptic weight, "
         "passed through relu); got -0.1. A negative start would leave the synapse dead (relu gradient "
         "0); pass e.g. w_s_init=0.5."),
        ({"dt": float("nan")},
         "Invalid value for 'dt': expected a finite number in (0, inf) (time step, in the unit of tau_s "
         "and tau_m); got nan."),
        ({"mlp_layers": -1},
         "Invalid value for 'mlp_layers': expected an integer >= 0 (number of hidden MLP layers); got -1."),
    ],
)
def test_constructor_errors(kwargs, message):
    args = {"n_in": 4, "n_out": 2} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        ELM(**args)


def test_numpy_scalars_are_accepted():
    # one check_scalar for every layer: numpy integers and floats count (issue #14)
    elm = ELM(np.int64(4), np.int32(2), n_memory=np.int64(3), lam=np.float32(2.0), dt=np.float64(1.0))
    assert (elm.n_in, elm.n_out, elm.n_memory) == (4, 2, 3) and type(elm.n_memory) is int
    assert type(elm.lam) is float and elm.lam == 2.0


def test_input_errors():
    layer = ELM(4, 2, n_memory=3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'x': expected a tensor of shape (batch, n_in) with n_in=4; got (2, 5).")):
        layer(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'x_seq': expected a tensor of shape (T, batch, n_in) with n_in=4; "
            "got (2, 4).")):
        layer.forward_seq(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'x_seq': expected at least one time step (T >= 1); got T = 0.")):
        layer.forward_seq(torch.zeros(0, 2, 4))
    bad = ELMState(torch.zeros(2, 4), torch.zeros(2, 5))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'state': expected an ELMState with s of shape (2, 4) and m of shape (2, 3); "
            "got s of shape (2, 4) and m of shape (2, 5). Pass the state returned by this layer, or None.")):
        layer(torch.zeros(2, 4), bad)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'state': expected an ELMState with s of shape (2, 4) and m of shape (2, 3); "
            "got tuple. Pass the state returned by this layer, or None.")):
        layer.forward_seq(torch.zeros(3, 2, 4), (torch.zeros(2, 4), torch.zeros(2, 3)))


def test_doctests():
    module = importlib.import_module("brainbridge.snn._elm")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
