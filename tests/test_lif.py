"""LIF / RLIF: against snntorch Leaky, spikingjelly LIFNode and literal loops, float64."""

from __future__ import annotations

import doctest
import math
import re
import warnings

import numpy as np
import pytest
import torch

from brainbridge.snn import _lif
from brainbridge.snn._lif import LIF, RLIF, LIFParams, LIFState, lif_seq, lif_step
from brainbridge.snn._trace import tracing
from brainbridge.snn.surrogate import Surrogate

D = torch.float64


class _RefATan(torch.autograd.Function):
    """Test-local spike function: H(x) = [x >= 0], dS/dx = (a/2) / (1 + (pi a x / 2)^2)."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        return g * (a / 2) / (1 + (math.pi / 2 * a * x) ** 2), None


def ref_lif(x, beta, theta, *, reset, timing, detach, v0=None, s0=None, gain=1.0):
    """Literal reference loop (independent of brainbridge), returns (S, V) stacked."""
    v = torch.zeros_like(x[0]) if v0 is None else v0
    s = torch.zeros_like(x[0]) if s0 is None else s0
    ss, vs = [], []
    for t in range(x.shape[0]):
        i = gain * x[t]
        if timing == "same":
            a = beta * v + i
            s = _RefATan.apply(a - theta, 2.0)
            r = s.detach() if detach else s
            v = {"subtract": a - r * theta, "zero": a * (1 - r), "none": a}[reset]
        else:
            r = s.detach() if detach else s
            a = {"subtract": beta * v + i - r * theta, "zero": beta * (1 - r) * v + i,
                 "none": beta * v + i}[reset]
            s = _RefATan.apply(a - theta, 2.0)
            v = a
        ss.append(s)
        vs.append(v)
    return torch.stack(ss), torch.stack(vs)


def _x(rng, shape, mean=0.35, sd=0.5):
    return torch.tensor(rng.normal(mean, sd, shape), dtype=D)


# ------------------------------------------------------------------- peers: snntorch
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("reset_delay", [True, False])
def test_matches_snntorch_leaky(rng, reset, reset_delay):
    snn = pytest.importorskip("snntorch")
    T, B, N = 40, 3, 5
    beta, theta = 0.85, 0.75  # theta exactly representable in float32 (snntorch's spike dtype)
    # reset_delay=False equals the "same" timing only while the potential after a reset stays
    # below threshold (otherwise snntorch's "avoid double reset" term fires on a - theta): an
    # input below (2 - beta) theta guarantees it.
    x = _x(rng, (T, B, N), mean=0.5).clamp(max=(2 - beta) * theta - 1e-3)
    peer = snn.Leaky(beta=torch.tensor(beta, dtype=D), threshold=torch.tensor(theta, dtype=D),
                     reset_mechanism=reset, reset_delay=reset_delay, init_hidden=False)
    # reset_delay=True subtracts the previous step's spike (timing "previous"); False resets in
    # the same step: mem - (spk - reset) * theta telescopes to the "same" timing.
    timing = "previous" if reset_delay else "same"
    ours = LIF(beta=beta, threshold=theta, reset=reset, reset_timing=timing).double()
    mem = peer.reset_mem()
    state = None
    n_spikes = 0
    for t in range(T):
        spk_p, mem = peer(x[t], mem)
        spk_o, state = ours(x[t], state)
        assert not torch.any(state.v == theta)  # no exact tie (the conventions differ there)
        np.testing.assert_array_equal(spk_o.numpy(), spk_p.double().numpy())
        np.testing.assert_allclose(state.v.numpy(), mem.numpy(), rtol=0, atol=1e-12)
        n_spikes += int(spk_o.sum())
    assert n_spikes > 20  # the comparison saw spikes and resets


def test_matches_snntorch_gradients(rng):
    snn = pytest.importorskip("snntorch")
    T, B, N = 30, 2, 4
    x = _x(rng, (T, B, N))
    w = torch.tensor(rng.integers(-4, 5, (T, B, N)) / 4, dtype=D)  # float32-exact weights
    xp, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    peer = snn.Leaky(beta=torch.tensor(0.8, dtype=D), threshold=torch.tensor(1.0, dtype=D),
                     learn_beta=True, spike_grad=snn.surrogate.atan(alpha=2.0))
    mem = peer.reset_mem()
    spk = []
    for t in range(T):
        s, mem = peer(xp[t], mem)
        spk.append(s)
    (torch.stack(spk).double() * w).sum().backward()
    ours = LIF(beta=0.8, reset_timing="previous", learn_beta=True, surrogate="arctan").double()
    with torch.no_grad():
        ours.beta.fill_(0.8)  # exactly the peer's float64 value
    s, _ = ours.forward_seq(xo)
    (s * w).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xp.grad.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.beta.grad.numpy(), peer.beta.grad.numpy(), rtol=1e-6)


# --------------------------------------------------------------- peers: spikingjelly
@pytest.mark.parametrize("tau", [2.0, 3.5])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("v_reset", [None, 0.0])
@pytest.mark.parametrize("detach_reset", [True, False])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_matches_spikingjelly_lifnode(rng, tau, decay_input, v_reset, detach_reset, step_mode):
    with warnings.catch_warnings():  # spikingjelly decorates with torch.jit.script (deprecated)
        warnings.simplefilter("ignore", DeprecationWarning)
        pytest.importorskip("spikingjelly.activation_based")
        from spikingjelly.activation_based import functional, neuron, surrogate

    T, B, N = 40, 3, 5
    x = _x(rng, (T, B, N), mean=1.1 if decay_input else 0.35, sd=0.6)
    w = _x(rng, (T, B, N))
    xp, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    peer = neuron.LIFNode(tau=tau, decay_input=decay_input, v_threshold=1.0, v_reset=v_reset,
                          detach_reset=detach_reset, surrogate_function=surrogate.ATan(alpha=2.0),
                          step_mode=step_mode, store_v_seq=True)
    functional.reset_net(peer)
    if step_mode == "m":
        s_p = peer(xp)
        v_p = peer.v_seq
    else:
        outs, vs = [], []
        for t in range(T):
            outs.append(peer(xp[t]))
            vs.append(peer.v)
        s_p, v_p = torch.stack(outs), torch.stack(vs)
    reset = "subtract" if v_reset is None else "zero"
    ours = LIF(tau=tau, decay_input=decay_input, reset=reset, reset_timing="same",
               detach_reset=detach_reset, surrogate="arctan").double()
    if step_mode == "m":
        s_o, _ = ours.forward_seq(xo)
        v_o = None
    else:
        state, outs, vs = None, [], []
        for t in range(T):
            s, state = ours(xo[t], state)
            outs.append(s)
            vs.append(state.v)
        s_o, v_o = torch.stack(outs), torch.stack(vs)
    assert float(s_o.detach().sum()) > 20
    np.testing.assert_array_equal(s_o.detach().numpy(), s_p.detach().numpy())
    if v_o is not None:
        np.testing.assert_allclose(v_o.detach().numpy(), v_p.detach().numpy(), rtol=0, atol=1e-12)
    (s_p * w).sum().backward()
    (s_o * w).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xp.grad.numpy(), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ reference loop, gradients
CASES = [(r, t, d) for r in ("subtract", "zero", "none") for t in ("same", "previous")
         for d in (True, False)]


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, allow_unused=True)


@pytest.mark.parametrize(("reset", "timing", "detach"), CASES)
@pytest.mark.parametrize(("chunk", "loss_on"), [(None, "both"), (24, "both"), (36, "spikes"),
                                                (None, "v")])
def test_fused_and_step_match_reference_loop(rng, monkeypatch, reset, timing, detach, chunk, loss_on):
    if chunk is not None:  # backward chunks of 2 or 3 steps (12 neurons x batch per step)
        monkeypatch.setattr(_lif, "_CHUNK_NUMEL", chunk)
    T, B, N = 25, 3, 4
    x = _x(rng, (T, B, N)).requires_grad_()
    v0 = _x(rng, (B, N), mean=0.2, sd=0.3).requires_grad_()
    s0 = torch.tensor(rng.integers(0, 2, (B, N)), dtype=D).requires_grad_()
    wS, wV = _x(rng, (T, B, N)), _x(rng, (T, B, N))
    if loss_on == "spikes":
        wV = torch.zeros_like(wV)
    elif loss_on == "v":
        wS = torch.zeros_like(wS)
    lif = LIF(beta=0.8, threshold=0.9, reset=reset, reset_timing=timing, detach_reset=detach,
              learn_beta=True, learn_threshold=True, shape=N).double()
    with torch.no_grad():
        lif.beta.copy_(torch.tensor(rng.uniform(0.5, 0.95, N)))
        lif.threshold.copy_(torch.tensor(rng.uniform(0.7, 1.2, N)))
    inputs = [x, v0, s0, lif.beta, lif.threshold]

    # reference (test-local loop and surrogate)
    S_r, V_r = ref_lif(x, lif.beta, lif.threshold, reset=reset, timing=timing, detach=detach,
                       v0=v0, s0=s0)
    g_ref = _grads((S_r * wS).sum() + (V_r * wV).sum(), inputs)
    # fused
    S_f, state_f = lif.forward_seq(x, LIFState(v0, s0))
    assert lif._can_fuse()
    S_f2, V_f, _ = lif_seq(x, LIFState(v0, s0), lif.params(D), reset=reset, reset_timing=timing,
                           detach_reset=detach, surrogate="arctan")
    # a term that is not used gets no gradient at all (None in the backward)
    loss_f = ((S_f2 * wS).sum() if loss_on != "v" else 0) + ((V_f * wV).sum() if loss_on != "spikes" else 0)
    g_fused = _grads(loss_f, inputs)
    # step loop through the module
    state, ss, vs = LIFState(v0, s0), [], []
    for t in range(T):
        s, state = lif(x[t], state)
        ss.append(s)
        vs.append(state.v)
    S_l, V_l = torch.stack(ss), torch.stack(vs)
    g_loop = _grads((S_l * wS).sum() + (V_l * wV).sum(), inputs)

    assert 0.1 < float(S_r.detach().mean()) < 0.9
    for S_, V_ in ((S_f2, V_f), (S_l, V_l)):
        np.testing.assert_array_equal(S_.detach().numpy(), S_r.detach().numpy())
        np.testing.assert_allclose(V_.detach().numpy(), V_r.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(S_f.detach().numpy(), S_r.detach().numpy())
    np.testing.assert_allclose(state_f.v.detach().numpy(), V_r[-1].detach().numpy(), atol=1e-12)
    names = ["x", "v0", "s0", "beta", "threshold"]
    for name, gr, gf, gl in zip(names, g_ref, g_fused, g_loop, strict=True):
        for got in (gf, gl):
            if gr is None:
                assert got is None or float(got.abs().max()) == 0, name
            else:
                assert got is not None, name
                np.testing.assert_allclose(got.numpy(), gr.numpy(), rtol=1e-10, atol=1e-10,
                                           err_msg=name)


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize(("reset", "timing", "detach"), [("subtract", "same", False),
                                                          ("zero", "previous", True)])
def test_fused_equals_step_loop_tau_form(rng, decay_input, reset, timing, detach):
    T, B = 30, 4
    shape = (2, 3)
    x = _x(rng, (T, B, *shape), mean=0.8).requires_grad_()
    w = _x(rng, (T, B, *shape))
    lif = LIF(tau=2.5, decay_input=decay_input, reset=reset, reset_timing=timing, detach_reset=detach,
              learn_beta=True, learn_threshold=True, surrogate="sigmoid", shape=shape).double()
    s_f, st_f = lif.forward_seq(x)
    loss_f = (s_f * w).sum() + st_f.v.square().sum()
    g_f = _grads(loss_f, [x, lif.tau, lif.threshold])
    state, ss = None, []
    for t in range(T):
        s, state = lif(x[t], state)
        ss.append(s)
    s_l = torch.stack(ss)
    g_l = _grads((s_l * w).sum() + state.v.square().sum(), [x, lif.tau, lif.threshold])
    assert 0.05 < float(s_l.detach().mean()) < 0.95
    np.testing.assert_array_equal(s_f.detach().numpy(), s_l.detach().numpy())
    for a, b in zip(g_f, g_l, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_fused_path_continues_from_state(rng):
    x = _x(rng, (40, 2, 3))
    lif = LIF(beta=0.9, reset_timing="previous").double()
    s_all, st_all = lif.forward_seq(x)
    s1, st = lif.forward_seq(x[:15])
    s2, st2 = lif.forward_seq(x[15:], st)
    np.testing.assert_array_equal(torch.cat([s1, s2]).numpy(), s_all.numpy())
    np.testing.assert_allclose(st2.v.numpy(), st_all.v.numpy(), atol=1e-12)


def test_callable_surrogate_uses_step_loop(rng):
    x = _x(rng, (20, 2, 3)).requires_grad_()
    fn = _RefATan.apply
    lif = LIF(beta=0.8, surrogate=lambda z: fn(z, 2.0)).double()
    assert not lif._can_fuse()
    s, _ = lif.forward_seq(x)
    S_r, _ = ref_lif(x, 0.8, 1.0, reset="subtract", timing="same", detach=True)
    np.testing.assert_array_equal(s.detach().numpy(), S_r.detach().numpy())
    g1 = torch.autograd.grad(s.sum(), x)[0]
    g2 = torch.autograd.grad(S_r.sum(), x)[0]
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-12)


def test_dtype_preserved(rng):
    for dtype in (torch.float32, torch.float64):
        lif = LIF(beta=0.9).to(dtype)
        x = _x(rng, (5, 2, 3)).to(dtype)
        s, st = lif.forward_seq(x)
        assert s.dtype == dtype and st.v.dtype == dtype
        s, st = lif(x[0])
        assert s.dtype == dtype and st.v.dtype == dtype


# -------------------------------------------------------------------------- refractory
@pytest.mark.parametrize("timing", ["same", "previous"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_refractory_matches_literal_loop(rng, timing, reset):
    T, B, N, n_ref, beta, theta = 40, 2, 3, 3, 0.9, 1.0
    x = rng.normal(0.5, 0.5, (T, B, N))
    lif = LIF(beta=beta, threshold=theta, reset=reset, reset_timing=timing, refractory=n_ref).double()
    s_seq, _ = lif.forward_seq(torch.tensor(x))
    # literal scalar loop
    ref = np.zeros((T, B, N))
    for b in range(B):
        for n in range(N):
            v, s, left = 0.0, 0.0, 0
            for t in range(T):
                if timing == "same":
                    a = beta * v + x[t, b, n] if left == 0 else v
                else:
                    post = v - theta * s if reset == "subtract" else v * (1 - s)
                    a = (beta * post + x[t, b, n] if reset == "zero" else beta * v + x[t, b, n]
                         - theta * s) if left == 0 else post
                fired = left == 0 and a >= theta
                left = n_ref if fired else max(left - 1, 0)
                s = 1.0 if fired else 0.0
                v = (a - theta * s if reset == "subtract" else a * (1 - s)) if timing == "same" else a
                ref[t, b, n] = s
    assert ref.sum() > 10
    np.testing.assert_array_equal(s_seq.numpy(), ref)
    # no two spikes closer than n_ref + 1 steps
    idx = [np.flatnonzero(ref[:, b, n]) for b in range(B) for n in range(N)]
    assert all(np.all(np.diff(i) > n_ref) for i in idx)


# ------------------------------------------------------------------------------- RLIF
def test_rlif_matches_literal_loop(rng):
    T, B, N = 20, 3, 4
    torch.manual_seed(0)
    rlif = RLIF(N, beta=0.8, reset_timing="same").double()
    x = _x(rng, (T, B, N)).requires_grad_()
    s_seq, _ = rlif.forward_seq(x)
    W = rlif.recurrent.weight
    gx, gW = torch.autograd.grad(s_seq.sum(), [x, W])
    v = torch.zeros(B, N, dtype=D)
    s = torch.zeros(B, N, dtype=D)
    out = []
    for t in range(T):
        a = 0.8 * v + x[t] + s @ W.T
        s = _RefATan.apply(a - 1.0, 2.0)
        v = a - s.detach()
        out.append(s)
    ref = torch.stack(out)
    rx, rW = torch.autograd.grad(ref.sum(), [x, W])
    np.testing.assert_array_equal(s_seq.detach().numpy(), ref.detach().numpy())
    np.testing.assert_allclose(gx.numpy(), rx.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gW.numpy(), rW.numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------- MPBN
def test_mpbn_train_and_folded_eval_match_unfolded(rng):
    T, B, C = 15, 8, 4
    torch.manual_seed(1)
    lif = LIF(beta=0.9, mpbn=True, shape=(C, 2), reset="zero").double()
    with torch.no_grad():
        lif.bn.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, C)))
        lif.bn.bias.copy_(torch.tensor(rng.normal(0, 0.3, C)))
    x = _x(rng, (T, B, C, 2), mean=0.5)
    bn = lif.bn

    def unfolded(x, training):
        v = torch.zeros_like(x[0])
        out = []
        for t in range(T):
            a = 0.9 * v + x[t]
            z = torch.nn.functional.batch_norm(
                a.reshape(B, C, -1), bn.running_mean.clone(), bn.running_var.clone(), bn.weight,
                bn.bias, training=training, eps=bn.eps).reshape(a.shape)
            s = (z - 1.0 >= 0).to(D)
            v = a * (1 - s)
            out.append(s)
        return torch.stack(out)

    ref_train = unfolded(x, True)  # batch statistics (running buffers are copies)
    s_train, _ = lif.forward_seq(x)
    np.testing.assert_array_equal(s_train.detach().numpy(), ref_train.numpy())
    assert int(lif.bn.num_batches_tracked) == T
    lif.eval()
    s_eval, _ = lif.forward_seq(x)
    ref_eval = unfolded(x, False)
    assert 0 < float(ref_eval.mean()) < 1
    np.testing.assert_array_equal(s_eval.detach().numpy(), ref_eval.numpy())
    thr, k = lif.fold_mpbn()
    assert thr.shape == (C, 1) and k.shape == (C, 1)
    expect = bn.running_mean + (1.0 - bn.bias) * torch.sqrt(bn.running_var + bn.eps) / bn.weight
    np.testing.assert_allclose(thr.flatten().detach().numpy(), expect.detach().numpy(), rtol=1e-12)


# ------------------------------------------------------------------- state, tracing
def test_two_modules_do_not_share_state(rng):
    x = _x(rng, (10, 2, 3))
    lif1, lif2 = LIF(beta=0.9).double(), LIF(beta=0.5).double()
    alone, _ = lif2.forward_seq(x)
    s1, _ = lif1.forward_seq(x)
    after, _ = lif2.forward_seq(x)  # lif1 ran in between: nothing of it leaks into lif2
    np.testing.assert_array_equal(alone.numpy(), after.numpy())
    # a model using both, stepped: states are the caller's
    st1 = st2 = None
    for t in range(10):
        a, st1 = lif1(x[t], st1)
        b, st2 = lif2(x[t], st2)
        np.testing.assert_array_equal(a.numpy(), s1[t].numpy())
        np.testing.assert_array_equal(b.numpy(), alone[t].numpy())
    assert not list(lif1.buffers()) and not list(lif1.parameters())  # fixed scalars are floats


def test_emit_traces_spikes_and_v(rng):
    x = _x(rng, (6, 2, 3))
    lif = LIF(beta=0.9).double()
    got = []
    with tracing(lambda m, step, t: got.append((m, step, t))):
        s, st = lif.forward_seq(x)
        s1, st1 = lif(x[0])
    assert got[0][0] is lif and got[0][1] is False and set(got[0][2]) == {"spikes", "v"}
    np.testing.assert_array_equal(got[0][2]["spikes"].numpy(), s.numpy())
    np.testing.assert_allclose(got[0][2]["v"][-1].numpy(), st.v.numpy())
    assert got[1][1] is True
    np.testing.assert_array_equal(got[1][2]["v"].numpy(), st1.v.numpy())


def test_lif_step_functional_matches_module(rng):
    x = _x(rng, (2, 3))
    s, st = lif_step(x, None, LIFParams(0.9, 1.0))
    s2, st2 = LIF(beta=0.9).double()(x)
    np.testing.assert_array_equal(s.numpy(), s2.numpy())
    np.testing.assert_array_equal(st.v.numpy(), st2.v.numpy())


def test_surrogate_scale_is_used():
    lif = LIF(surrogate="fast_sigmoid", surrogate_scale=10.0)
    assert lif.surrogate == Surrogate("fast_sigmoid", 10.0)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(("kwargs", "msg"), [
    (dict(beta=0.9, tau=2.0), "Invalid value for 'tau': give the decay as beta or as tau, not both; "
     "got beta=0.9 and tau=2.0. Drop one (beta = 1 - 1/tau in steps)."),
    (dict(tau=0.5), "Invalid value for 'tau': expected a number > 1 (time constant in steps); got 0.5. "
     "Use beta for decays faster than one step."),
    (dict(tau=0.01, dt=0.02), "Invalid value for 'tau': expected a number > 1 (time constant in "
     "seconds, with tau / dt > 1); got 0.01. Use beta for decays faster than one step."),
    (dict(beta=1.5), "Invalid value for 'beta': expected a decay in [0, 1]; got 1.5. "
     "beta = exp(-dt / tau) for a time constant tau."),
    (dict(beta=0.9, dt=0.001), "Invalid value for 'dt': dt applies to the tau form only; got "
     "dt=0.001 with beta. Pass tau (seconds) instead of beta."),
    (dict(threshold=0.0), "Invalid value for 'threshold': expected a number > 0; got 0.0."),
    (dict(reset="substract"), "Invalid value for 'reset': expected one of 'subtract', 'zero', 'none'; "
     "got 'substract'. Did you mean 'subtract'?"),
    (dict(reset_timing="prev"), "Invalid value for 'reset_timing': expected one of 'same', "
     "'previous'; got 'prev'."),
    (dict(refractory=-1), "Invalid value for 'refractory': expected an integer >= 0 (steps); got -1."),
    (dict(mpbn=True), "Invalid value for 'shape': mpbn=True needs the neuron shape (its first dim is "
     "the batch-norm channel); got shape=None. Pass e.g. shape=128."),
    (dict(shape=(3, 0)), "Invalid value for 'shape': expected a positive int or a tuple of positive "
     "ints (the neuron dims after batch, e.g. 128 or (16, 8, 8)); got (3, 0)."),
    (dict(surrogate="atan"), "Invalid value for 'surrogate': expected one of 'fast_sigmoid', "
     "'arctan', 'sigmoid', 'triangle', 'straight_through'; got 'atan'. Did you mean 'arctan'?"),
])
def test_errors(kwargs, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        LIF(**kwargs)


def test_input_errors():
    lif = LIF(shape=4)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'x': expected neuron dims (4,) after (batch,); got shape (2, 5).")):
        lif(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'x_seq': expected a time-first tensor (T, batch, ...) with T >= 1; "
            "got shape (0, 2, 4).")):
        lif.forward_seq(torch.zeros(0, 2, 4))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'surrogate': the fused path needs a named surrogate (a str or a "
            "Surrogate) whose derivative it knows; got <built-in function abs>. Use lif_step in a "
            "loop for an arbitrary callable.")):
        lif_seq(torch.zeros(3, 2), None, LIFParams(0.9, 1.0), surrogate=abs)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_neurons': expected an integer >= 1; got 0.")):
        RLIF(0)


def test_doctests():
    result = doctest.testmod(_lif, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 5
