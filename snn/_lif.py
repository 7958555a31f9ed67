"""Leaky integrate-and-fire neurons: functional core, fused multi-step path, modules.

Dynamics (one step, every neuron independently; ``x`` is the input current of the step)::

    decay:  beta form  a[t] = beta * v[t-1] + x[t]                        (snntorch Leaky)
            tau form   a[t] = v[t-1] + (x[t] - v[t-1]) / tau              (decay_input=True)
                       a[t] = v[t-1] - v[t-1] / tau + x[t]                (decay_input=False)
            i.e. beta = 1 - 1/tau and the input gain is 1/tau (or 1) (spikingjelly LIFNode)
    fire:   s[t] = H(a[t] - theta)                   H(0) = 1, surrogate gradient in backward
    reset:  "subtract"  a - theta * s,  "zero"  a * (1 - s),  "none"  a

Two reset timings exist in the peers, and change the spike trains:

* ``reset_timing="same"`` (spikingjelly, and the default): the spike of step ``t`` resets
  the potential in the same step, ``v[t] = a[t] - theta s[t]``; ``v`` (reported and carried)
  is the post-reset potential, which never stays above threshold.
* ``reset_timing="previous"`` (snntorch ``Leaky``, ``reset_delay=True``): the reset of the
  spike of step ``t-1`` is applied at step ``t``, after the decay,
  ``a[t] = beta a[t-1] + x[t] - theta s[t-1]``; ``v[t] = a[t]`` is the pre-reset potential.

With "subtract", "previous" removes ``theta`` where "same" removes ``beta * theta`` (the
reset decays with the rest of the potential under "same"), so "previous" fires fewer spikes
on the same input (measured by ``bench/bench_lif.py``). With "zero" both give the same spikes
and differ only in the reported ``v``. We default to "same" because the spike and its reset
are one event computed from one potential, the carried state needs no spike bit, and the
reported potential is the physical one after the reset; "previous" reproduces snntorch.

``detach_reset=True`` (default) removes the reset term from the gradient (snntorch always does;
spikingjelly's default is False); Zenke & Vogels 2021 (Neural Computation 33(4)) found it helps
surrogate-gradient learning.

The fused path (:class:`LIF` ``forward_seq``) runs the time loop inside one
``torch.autograd.Function``: the forward loop does three in-place elementwise ops per step and
builds no autograd graph; the backward is the hand-written BPTT recurrence
``da[t] = p[t] + m[t] * da[t+1]``, one op per step, every other term computed for all steps
at once. It gives the same outputs and gradients as looping :func:`lif_step` (tested).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .._checks import _check_option, check_scalar
from . import surrogate as _surrogate
from ._trace import emit

__all__ = ["LIFState", "LIFParams", "lif_step", "lif_seq", "LIF", "RLIF", "RESETS", "RESET_TIMINGS"]

RESETS = ("subtract", "zero", "none")
RESET_TIMINGS = ("same", "previous")


def _check_reset(reset: str, reset_timing: str) -> None:
    """Membership tests first (cheap on the per-step path); the message only on a miss."""
    if reset not in RESETS:
        _check_option("reset", reset, RESETS)
    if reset_timing not in RESET_TIMINGS:
        _check_option("reset_timing", reset_timing, RESET_TIMINGS)
# Elements per backward chunk (steps x neurons): small enough to stay in cache and, at torch's
# intra-op grain size, to run each op on one thread (measured on a busy 2-core machine, T=2000,
# 32 x 256 neurons: 0.22 s with 2**15, 1.4 s with 2**17 as the ops waited for the thread pool).
_CHUNK_NUMEL = 1 << 15


class LIFState(NamedTuple):
    """State of a LIF layer between steps.

    Attributes
    ----------
    v : Tensor, (batch, ...)
        Membrane potential (dimensionless, threshold units): after the reset for
        ``reset_timing="same"``, before it for ``"previous"``.
    s : Tensor, (batch, ...)
        Spikes of the last step (0 or 1); read by ``"previous"`` (its pending reset) and RLIF.
    r : Tensor or None, (batch, ...) int64
        Refractory steps left; None when the refractory period is 0.

    Examples
    --------
    Start one step from given potentials: ``a = 0.9 v + 0.2``; the second neuron crosses the
    threshold and keeps ``1.055 - 1``:

    >>> import torch
    >>> from brainbridge.snn import LIFParams, LIFState, lif_step
    >>> state = LIFState(v=torch.tensor([[0.5, 0.95]]), s=torch.zeros(1, 2))
    >>> s, new = lif_step(torch.tensor([[0.2, 0.2]]), state, LIFParams(beta=0.9, threshold=1.0))
    >>> s, new.v
    (tensor([[0., 1.]]), tensor([[0.6500, 0.0550]]))
    """

    v: Tensor
    s: Tensor
    r: Tensor | None = None


class LIFParams(NamedTuple):
    """Numerical parameters of :func:`lif_step` (floats or tensors broadcastable to the neurons).

    Attributes
    ----------
    beta : float or Tensor
        Decay per step, in [0, 1] (``1 - 1/tau`` for the tau form).
    threshold : float or Tensor
        Firing threshold ``theta``; also the amount removed by the "subtract" reset.
    gain : float or Tensor, default=1.0
        Input gain (``1/tau`` for the tau form with ``decay_input=True``).
    fire_threshold, fire_scale : Tensor or None, default=None
        When set (folded membrane-potential batch norm), the neuron fires on
        ``H(fire_scale * (a - fire_threshold))`` instead of ``H(a - threshold)``.

    Examples
    --------
    The tau form with ``tau = 5`` steps: ``beta = 1 - 1/5``, ``gain = 1/5``; an input of 5
    reaches the threshold in one step:

    >>> import torch
    >>> from brainbridge.snn import LIFParams, lif_step
    >>> params = LIFParams(beta=0.8, threshold=1.0, gain=0.2)
    >>> s, state = lif_step(torch.tensor([[5.0]]), None, params)
    >>> s, state.v
    (tensor([[1.]]), tensor([[0.]]))
    """

    beta: Tensor | float
    threshold: Tensor | float
    gain: Tensor | float = 1.0
    fire_threshold: Tensor | None = None
    fire_scale: Tensor | None = None


def _init_state(x: Tensor, refractory: int) -> LIFState:
    zeros = torch.zeros_like(x)
    r = torch.zeros(x.shape, dtype=torch.int64, device=x.device) if refractory > 0 else None
    return LIFState(zeros, zeros, r)


def lif_step(x: Tensor, state: LIFState | None, params: LIFParams, *, reset: str = "subtract",
             reset_timing: str = "same", detach_reset: bool = True,
             surrogate: Any = "arctan", refractory: int = 0,
             norm: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, LIFState]:
    """One step of a leaky integrate-and-fire layer (the functional core).

    Implements, with ``i = gain * x``, ``s' = s[t-1]`` (detached if ``detach_reset``)::

        "same":      a = beta v + i;  s = H(a - theta);  v' = a - theta s | a (1 - s) | a
        "previous":  a = beta v + i - theta s' | beta (1 - s') v + i | beta v + i;
                     s = H(a - theta);  v' = a

    With ``refractory = n > 0`` a neuron that spikes skips the next ``n`` steps: its potential
    is held (after its reset) and it cannot fire. ``norm`` (membrane-potential batch norm) is
    applied to ``a`` before the firing function only: ``s = H(norm(a) - theta)``.

    Parameters
    ----------
    x : Tensor, (batch, ...)
        Input current of this step (threshold units).
    state : LIFState or None
        Previous state; None starts from rest (zeros).
    params : LIFParams
        ``beta``, ``threshold``, ``gain``, optional folded firing threshold and scale.
    reset : {"subtract", "zero", "none"}, default="subtract"
    reset_timing : {"same", "previous"}, default="same"
    detach_reset : bool, default=True
        Cut the gradient through the reset term.
    surrogate : str, Surrogate or callable, default="arctan"
        Spike function with surrogate gradient (see :mod:`brainbridge.snn.surrogate`).
    refractory : int, default=0
        Refractory period in steps.
    norm : callable or None, default=None

    Returns
    -------
    spikes : Tensor, (batch, ...), dtype of ``x``
    state : LIFState

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.6, 1.5]])
    >>> s, st = lif_step(x, None, LIFParams(beta=0.9, threshold=1.0))
    >>> s, st.v
    (tensor([[0., 1.]]), tensor([[0.6000, 0.5000]]))
    >>> s, st = lif_step(x, st, LIFParams(beta=0.9, threshold=1.0))
    >>> s, st.v
    (tensor([[1., 1.]]), tensor([[0.1400, 0.9500]]))
    """
    _check_reset(reset, reset_timing)
    spike_fn = _surrogate.resolve(surrogate)
    if state is None:
        state = _init_state(x, refractory)
    v, s_prev, r = state
    beta, theta, gain, fire_theta, fire_scale = params
    i = x if (isinstance(gain, float) and gain == 1.0) else x * gain
    if reset_timing == "same":
        a = beta * v + i
        held = v
    else:
        s_r = s_prev.detach() if detach_reset else s_prev
        if reset == "subtract":
            a = beta * v + i - theta * s_r
            held = v - theta * s_r
        elif reset == "zero":
            a = beta * (1 - s_r) * v + i
            held = v * (1 - s_r)
        else:
            a = beta * v + i
            held = v
    active = None
    if refractory > 0:
        if r is None:
            r = torch.zeros(x.shape, dtype=torch.int64, device=x.device)
        active = r == 0
        a = torch.where(active, a, held)
    if fire_theta is not None:
        z = (a - fire_theta) if fire_scale is None else fire_scale * (a - fire_theta)
    elif norm is not None:
        z = norm(a) - theta
    else:
        z = a - theta
    s = spike_fn(z)
    if active is not None:
        s = s * active.to(s.dtype)
    if reset_timing == "same":
        s_r = s.detach() if detach_reset else s
        if reset == "subtract":
            v_new = a - theta * s_r
        elif reset == "zero":
            v_new = a * (1 - s_r)
        else:
            v_new = a
    else:
        v_new = a
    r_new = None
    if refractory > 0:
        r_new = torch.where(s.detach() > 0, torch.full_like(r, refractory), (r - 1).clamp(min=0))
    return s, LIFState(v_new, s, r_new)


# --------------------------------------------------------------------- fused sequence path
class _LIFSequence(torch.autograd.Function):
    """Whole-sequence LIF with a hand-written BPTT backward (see module docstring)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, beta: Tensor, theta: Tensor, v0: Tensor, s0: Tensor,  # type: ignore[override]
                reset: str, timing: str, detach: bool, sg: _surrogate.Surrogate) -> tuple[Tensor, Tensor]:
        S = torch.empty_like(x)
        xs, Ss = x.unbind(0), S.unbind(0)
        T = x.shape[0]
        # "same" + "subtract" keeps no pre-reset potential A (the backward recomputes it as
        # V + theta S, chunk by chunk): one (T, batch, ...) buffer less to allocate and write
        keep_a = not (timing == "same" and reset == "subtract")
        A = torch.empty_like(x) if keep_a else None
        As = A.unbind(0) if A is not None else [torch.empty_like(x[0])] * T
        if timing == "same":
            if reset == "none":
                V, Vs = A, As
            else:
                V = torch.empty_like(x)
                Vs = V.unbind(0)
            c = v0
            for t in range(T):
                a = torch.addcmul(xs[t], c, beta, out=As[t])
                st = torch.ge(a, theta, out=Ss[t])
                if reset == "subtract":
                    c = torch.addcmul(a, st, theta, value=-1.0, out=Vs[t])
                elif reset == "zero":
                    c = torch.addcmul(a, st, a, value=-1.0, out=Vs[t])
                else:
                    c = a
        else:
            V = A
            a, st = v0, s0
            for t in range(T):
                if reset == "zero":
                    a = torch.addcmul(xs[t], torch.addcmul(a, st, a, value=-1.0), beta, out=As[t])
                else:
                    a = torch.addcmul(xs[t], a, beta, out=As[t])
                    if reset == "subtract":
                        a.addcmul_(st, theta, value=-1.0)
                st = torch.ge(a, theta, out=Ss[t])
        ctx.save_for_backward(A, S, V, beta, theta, v0, s0)
        ctx.cfg = (reset, timing, detach, sg)
        ctx.set_materialize_grads(False)
        return S, V

    @staticmethod
    def backward(ctx: Any, gS: Tensor | None, gV: Tensor | None) -> tuple[Any, ...]:  # type: ignore[override]
        A, S, V, beta, theta, v0, s0 = ctx.saved_tensors
        reset, timing, detach, sg = ctx.cfg
        needs = ctx.needs_input_grad
        want_params = needs[1] or needs[2]
        T = S.shape[0]
        dA = torch.empty_like(S)
        acc_beta = acc_theta = None
        # Reverse over chunks of steps small enough to stay in cache: within a chunk every term
        # is computed for all its steps at once, then the recurrence da[t] = p[t] + m[t] da[t+1]
        # runs one fused op per step.
        step_numel = max(S[0].numel(), 1)
        chunk = max(1, _CHUNK_NUMEL // step_numel)
        for t1 in range(T, 0, -chunk):
            t0 = max(0, t1 - chunk)
            Sc = S[t0:t1]
            Ac = A[t0:t1] if A is not None else torch.addcmul(V[t0:t1], Sc, theta)
            gSc = gS[t0:t1] if gS is not None else torch.zeros_like(Ac)
            gVc = gV[t0:t1] if gV is not None else None
            g = sg.derivative(Ac - theta, inplace=True)
            gSg = gSc * g
            if timing == "same":
                # dc[t] = gV[t] + beta da[t+1]; da[t] = kappa[t] dc[t] + gS[t] g[t]
                if reset == "subtract":
                    kappa = None if detach else 1.0 - theta * g
                elif reset == "zero":
                    kappa = (1.0 - Sc) if detach else (1.0 - Sc - Ac * g)
                else:
                    kappa = None
                if kappa is None:
                    p, m = (gSg if gVc is None else gVc + gSg), beta
                else:
                    p = gSg if gVc is None else torch.addcmul(gSg, gVc, kappa)
                    m = beta * kappa
            else:
                p = gSg if gVc is None else gVc + gSg
                if reset == "subtract":
                    m = beta if detach else beta - theta * g
                elif reset == "zero":
                    m = beta * (1.0 - Sc) if detach else beta * (1.0 - Sc - Ac * g)
                else:
                    m = beta
            per_step = isinstance(m, Tensor) and m.dim() == Ac.dim()
            da_next = dA[t1] if t1 < T else None
            for t in range(t1 - 1, t0 - 1, -1):
                if da_next is None:
                    da_next = dA[t].copy_(p[t - t0])
                else:
                    da_next = torch.addcmul(p[t - t0], da_next, m[t - t0] if per_step else m,
                                            out=dA[t])
            if not want_params:
                continue
            dAc = dA[t0:t1]
            dAn = dA[t0 + 1:t1 + 1] if t1 < T else torch.cat([dA[t0 + 1:T], torch.zeros_like(dA[:1])])
            if timing == "same":
                dC = beta * dAn if gVc is None else torch.addcmul(gVc, dAn, beta)
                if detach or reset == "none":
                    dS_tot = gSc
                else:
                    dS_tot = gSc - (theta if reset == "subtract" else Ac) * dC
                prev = V[t0 - 1:t1 - 1] if t0 > 0 else torch.cat([v0.unsqueeze(0), V[:t1 - 1]])
                d_beta = prev * dAc
                d_theta = -dS_tot * g
                if reset == "subtract":
                    d_theta = d_theta - Sc * dC
            else:
                if detach or reset == "none":
                    dS_tot = gSc
                else:
                    dS_tot = gSc - (theta if reset == "subtract" else beta * Ac) * dAn
                a_prev = A[t0 - 1:t1 - 1] if t0 > 0 else torch.cat([v0.unsqueeze(0), A[:t1 - 1]])
                s_prev = S[t0 - 1:t1 - 1] if t0 > 0 else torch.cat([s0.unsqueeze(0), S[:t1 - 1]])
                d_theta = -dS_tot * g
                if reset == "zero":
                    d_beta = (1.0 - s_prev) * a_prev * dAc
                else:
                    d_beta = a_prev * dAc
                if reset == "subtract":
                    d_theta = d_theta - s_prev * dAc
            if needs[1]:
                acc_beta = d_beta.sum(0) if acc_beta is None else acc_beta + d_beta.sum(0)
            if needs[2]:
                acc_theta = d_theta.sum(0) if acc_theta is None else acc_theta + d_theta.sum(0)
        da0 = dA[0]
        if timing == "previous" and reset == "zero":
            d_v0 = beta * (1.0 - s0) * da0
            d_s0 = None if detach else -beta * v0 * da0
        else:
            d_v0 = beta * da0
            d_s0 = (-theta * da0) if (timing == "previous" and reset == "subtract" and not detach) else None
        d_beta = acc_beta.sum_to_size(beta.shape) if needs[1] else None
        d_theta = acc_theta.sum_to_size(theta.shape) if needs[2] else None
        d_v0 = d_v0.sum_to_size(v0.shape) if needs[3] else None
        d_s0 = d_s0.sum_to_size(s0.shape) if (needs[4] and d_s0 is not None) else None
        return dA if needs[0] else None, d_beta, d_theta, d_v0, d_s0, None, None, None, None


def lif_seq(x_seq: Tensor, state: LIFState | None, params: LIFParams, *, reset: str = "subtract",
            reset_timing: str = "same", detach_reset: bool = True,
            surrogate: Any = "arctan") -> tuple[Tensor, Tensor, LIFState]:
    """Fused multi-step LIF: the same dynamics as looping :func:`lif_step`, much faster.

    Parameters
    ----------
    x_seq : Tensor, (T, batch, ...)
        Input currents, time first.
    state, params, reset, reset_timing, detach_reset
        As in :func:`lif_step` (no refractory period, no folded firing parameters).
    surrogate : str or Surrogate, default="arctan"
        A named surrogate (the backward uses its analytic derivative).

    Returns
    -------
    spikes : Tensor, (T, batch, ...)
    v : Tensor, (T, batch, ...)
        Membrane potential of every step (as in ``LIFState.v``).
    state : LIFState
        State after the last step.

    Examples
    --------
    >>> import torch
    >>> x = torch.full((4, 1, 1), 0.6)
    >>> s, v, st = lif_seq(x, None, LIFParams(beta=0.9, threshold=1.0))
    >>> s.flatten(), v.flatten()
    (tensor([0., 1., 0., 1.]), tensor([0.6000, 0.1400, 0.7260, 0.2534]))
    """
    _check_reset(reset, reset_timing)
    sg = _surrogate.resolve(surrogate)
    if not isinstance(sg, _surrogate.Surrogate):
        raise ValueError(
            "Invalid value for 'surrogate': the fused path needs a named surrogate (a str or a "
            f"Surrogate) whose derivative it knows; got {surrogate!r}. Use lif_step in a loop "
            "for an arbitrary callable."
        )
    if x_seq.dim() < 2 or x_seq.shape[0] == 0:
        raise ValueError(
            f"Invalid value for 'x_seq': expected a time-first tensor (T, batch, ...) with T >= 1; "
            f"got shape {tuple(x_seq.shape)}."
        )
    beta, theta, gain = params.beta, params.threshold, params.gain
    if params.fire_threshold is not None or params.fire_scale is not None:
        raise ValueError("Invalid value for 'params': the fused path does not take folded firing "
                         "parameters; use lif_step in a loop.")
    dt, dev = x_seq.dtype, x_seq.device
    beta = torch.as_tensor(beta, dtype=dt, device=dev)
    theta = torch.as_tensor(theta, dtype=dt, device=dev)
    i_seq = x_seq if (isinstance(gain, float) and gain == 1.0) else x_seq * gain
    if state is None:
        v0 = torch.zeros_like(x_seq[0])
        s0 = v0
    else:
        v0, s0 = state.v, state.s
    S, V = _LIFSequence.apply(i_seq.contiguous(), beta, theta, v0, s0, reset, reset_timing,
                              bool(detach_reset), sg)
    return S, V, LIFState(V[-1], S[-1], None)


# ------------------------------------------------------------------------------ modules
def _as_shape(shape: Any) -> tuple[int, ...] | None:
    if shape is None:
        return None
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if (not isinstance(shape, tuple | list) or not shape
            or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0
                       for n in shape)):
        raise ValueError(
            f"Invalid value for 'shape': expected a positive int or a tuple of positive ints (the "
            f"neuron dims after batch, e.g. 128 or (16, 8, 8)); got {shape!r}."
        )
    return tuple(int(n) for n in shape)


def _param_tensor(name: str, value: Any, shape: tuple[int, ...] | None) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).detach().clone()
    if shape is not None:
        try:
            t = t.expand(shape).clone()
        except RuntimeError:
            raise ValueError(
                f"Invalid value for {name!r}: expected a scalar or a tensor broadcastable to the "
                f"neuron shape {shape}; got shape {tuple(t.shape)}."
            ) from None
    return t


class LIF(nn.Module):
    """Leaky integrate-and-fire layer with explicit state (equations in the module docstring).

    Parameters
    ----------
    beta : float or Tensor or None, default=None
        Decay per step in [0, 1] (snntorch form). None and ``tau`` None gives 0.9.
    tau : float or None, default=None
        Membrane time constant (spikingjelly form), > 1 in steps; in seconds when ``dt`` is given.
        Give ``beta`` or ``tau``, not both.
    dt : float or None, default=None
        Time step in seconds; with it, ``tau`` is in seconds and ``tau / dt`` steps.
    decay_input : bool, default=True
        Tau form only: scale the input by ``1/tau`` (spikingjelly ``decay_input``).
    threshold : float or Tensor, default=1.0
        Firing threshold (> 0).
    reset : {"subtract", "zero", "none"}, default="subtract"
    reset_timing : {"same", "previous"}, default="same"
        "same": spikingjelly ``LIFNode``; "previous": snntorch ``Leaky`` (module docstring).
    detach_reset : bool, default=True
    surrogate : str, Surrogate or callable, default="arctan"
        Spike function; a callable that is not a named surrogate disables the fused path.
    surrogate_scale : float or None, default=None
        Scale of a named surrogate (its default when None).
    learn_beta, learn_threshold : bool, default=False
        Make the decay (``beta``, or ``tau`` in the tau form) or the threshold a Parameter.
    shape : int or tuple of int or None, default=None
        Neuron dims after batch; with it the learnable decay and threshold are per neuron.
    refractory : int, default=0
        Refractory period in steps (no integration and no spike after a spike).
    mpbn : bool, default=False
        Membrane-potential batch norm (Guo et al. 2023, ICCV): ``s = H(BN(a) - theta)`` during
        training, per channel (the first dim of ``shape``, required); in eval mode it is folded
        into a per-channel threshold and scale (:meth:`fold_mpbn`).
    fused : bool, default=True
        Use the fused path in ``forward_seq`` where it applies (named surrogate, no refractory
        period, no MPBN).

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> lif = LIF(beta=0.9)
    >>> x = torch.rand(100, 2, 3) * 0.5
    >>> s, state = lif.forward_seq(x)
    >>> s.shape, state.v.shape
    (torch.Size([100, 2, 3]), torch.Size([2, 3]))
    >>> s1, st = lif(x[0])
    >>> bool(torch.equal(s1, s[0]))
    True
    """

    def __init__(self, beta: float | Tensor | None = None, *, tau: float | None = None,
                 dt: float | None = None, decay_input: bool = True, threshold: float | Tensor = 1.0,
                 reset: str = "subtract", reset_timing: str = "same", detach_reset: bool = True,
                 surrogate: Any = "arctan", surrogate_scale: float | None = None,
                 learn_beta: bool = False, learn_threshold: bool = False, shape: Any = None,
                 refractory: int = 0, mpbn: bool = False, fused: bool = True) -> None:
        super().__init__()
        _check_option("reset", reset, RESETS)
        _check_option("reset_timing", reset_timing, RESET_TIMINGS)
        self.shape = _as_shape(shape)
        if beta is not None and tau is not None:
            raise ValueError(
                f"Invalid value for 'tau': give the decay as beta or as tau, not both; got "
                f"beta={beta!r} and tau={tau!r}. Drop one (beta = 1 - 1/tau in steps)."
            )
        self.tau_form = tau is not None
        if self.tau_form:
            if dt is not None:
                dt = check_scalar("dt", dt, float, low=0, closed="neither", what="seconds")
            steps = tau / dt if dt is not None else tau
            if not isinstance(steps, int | float) or isinstance(steps, bool) or not steps > 1:
                unit = "in seconds, with tau / dt > 1" if dt is not None else "in steps"
                raise ValueError(
                    f"Invalid value for 'tau': expected a number > 1 (time constant {unit}); "
                    f"got {tau!r}. Use beta for decays faster than one step."
                )
            decay = _param_tensor("tau", float(steps), self.shape if learn_beta else None)
        else:
            if dt is not None:
                raise ValueError(f"Invalid value for 'dt': dt applies to the tau form only; got "
                                 f"dt={dt!r} with beta. Pass tau (seconds) instead of beta.")
            decay = _param_tensor("beta", 0.9 if beta is None else beta,
                                  self.shape if learn_beta else None)
            if not bool(((decay >= 0) & (decay <= 1)).all()):
                raise ValueError(
                    f"Invalid value for 'beta': expected a decay in [0, 1]; got {beta!r}. "
                    "beta = exp(-dt / tau) for a time constant tau."
                )
        thr = _param_tensor("threshold", threshold, self.shape if learn_threshold else None)
        if not bool((thr > 0).all()):
            raise ValueError(f"Invalid value for 'threshold': expected a number > 0; got {threshold!r}.")
        refractory = check_scalar("refractory", refractory, int, low=0, what="steps")
        # learnable -> Parameter; a fixed scalar stays a Python float (exact in any dtype);
        # a fixed tensor (per-neuron values) is a buffer
        name = "tau" if self.tau_form else "beta"
        self._store(name, decay, learn_beta)
        self._store("threshold", thr, learn_threshold)
        self.decay_input = bool(decay_input)
        self.reset = reset
        self.reset_timing = reset_timing
        self.detach_reset = bool(detach_reset)
        self.surrogate = _surrogate.resolve(surrogate, surrogate_scale)
        self.refractory = refractory
        self.fused = bool(fused)
        self.mpbn = bool(mpbn)
        if self.mpbn:
            if self.shape is None:
                raise ValueError(
                    "Invalid value for 'shape': mpbn=True needs the neuron shape (its first dim is "
                    "the batch-norm channel); got shape=None. Pass e.g. shape=128."
                )
            self.bn = nn.BatchNorm1d(self.shape[0])

    def _store(self, name: str, value: Tensor, learn: bool) -> None:
        if learn:
            self.register_parameter(name, nn.Parameter(value.to(torch.get_default_dtype())))
        elif value.dim() == 0:
            setattr(self, name, float(value))
        else:
            self.register_buffer(name, value.to(torch.get_default_dtype()))

    # -- parameters -------------------------------------------------------------------
    def params(self, dtype: torch.dtype | None = None) -> LIFParams:
        """The :class:`LIFParams` of this layer (with autograd to the learnable tensors)."""
        if self.tau_form:
            tau = self.tau
            beta = 1.0 - 1.0 / tau
            gain = 1.0 / tau if self.decay_input else 1.0
        else:
            beta = self.beta.clamp(0.0, 1.0) if isinstance(self.beta, Tensor) else self.beta
            gain = 1.0
        theta = self.threshold
        if dtype is not None:
            beta, theta, gain = (p.to(dtype) if isinstance(p, Tensor) else p for p in (beta, theta, gain))
        fire_theta = fire_scale = None
        if self.mpbn and not self.training:
            fire_theta, fire_scale = self.fold_mpbn()
            if dtype is not None:
                fire_theta, fire_scale = fire_theta.to(dtype), fire_scale.to(dtype)
        return LIFParams(beta, theta, gain, fire_theta, fire_scale)

    def fold_mpbn(self) -> tuple[Tensor, Tensor]:
        """Fold the membrane-potential batch norm into a per-channel threshold and scale.

        ``BN(a) - theta = k (a - theta')`` with ``k = gamma / sqrt(var + eps)`` and
        ``theta' = mean + (theta - beta_bn) / k`` (running statistics), so the eval-mode
        neuron fires on ``H(k (a - theta'))`` with no batch norm.

        Returns
        -------
        threshold, scale : Tensor, (C, 1, ..., 1) broadcastable to the neuron shape
        """
        if not self.mpbn:
            raise ValueError("Invalid call: fold_mpbn needs mpbn=True; this layer has no batch norm.")
        bn = self.bn
        k = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        if bool((k == 0).any()):
            raise ValueError("Cannot fold the membrane-potential batch norm: a channel has weight 0.")
        view = (-1,) + (1,) * (len(self.shape) - 1)  # type: ignore[arg-type]
        k = k.reshape(view)
        thr = bn.running_mean.reshape(view) + (self.threshold - bn.bias.reshape(view)) / k
        return thr, k

    def _norm(self) -> Callable[[Tensor], Tensor] | None:
        if not (self.mpbn and self.training):
            return None

        def norm(a: Tensor) -> Tensor:
            b, c = a.shape[0], a.shape[1]
            return self.bn(a.reshape(b, c, -1)).reshape(a.shape)

        return norm

    def _check_input(self, x: Tensor, name: str, lead: int) -> None:
        if self.shape is not None and tuple(x.shape[lead:]) != self.shape:
            raise ValueError(
                f"Invalid value for {name!r}: expected neuron dims {self.shape} after "
                f"{'(T, batch)' if lead == 2 else '(batch,)'}; got shape {tuple(x.shape)}."
            )

    def _step_kwargs(self) -> dict[str, Any]:
        return dict(reset=self.reset, reset_timing=self.reset_timing, detach_reset=self.detach_reset,
                    surrogate=self.surrogate, refractory=self.refractory, norm=self._norm())

    def _drive(self, x: Tensor, state: LIFState | None) -> Tensor:
        return x

    # -- forward ---------------------------------------------------------------------
    def forward(self, x: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        """One step. ``x`` (batch, ...) -> ``(spikes, state)``, spikes in the dtype of ``x``."""
        self._check_input(x, "x", 1)
        if state is None:
            state = _init_state(x, self.refractory)
        s, state = lif_step(self._drive(x, state), state, self.params(x.dtype), **self._step_kwargs())
        emit(self, step=True, spikes=s, v=state.v)
        return s, state

    def _can_fuse(self) -> bool:
        return (self.fused and type(self)._drive is LIF._drive and self.refractory == 0
                and not self.mpbn and isinstance(self.surrogate, _surrogate.Surrogate))

    def forward_seq(self, x_seq: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        """All steps of a time-first ``x_seq`` (T, batch, ...) -> ``(spikes (T, batch, ...), state)``.

        Uses the fused path when it applies, else loops :meth:`forward`'s step; both give the
        same outputs and gradients.
        """
        if x_seq.dim() < 2 or x_seq.shape[0] == 0:
            raise ValueError(
                f"Invalid value for 'x_seq': expected a time-first tensor (T, batch, ...) with "
                f"T >= 1; got shape {tuple(x_seq.shape)}."
            )
        self._check_input(x_seq, "x_seq", 2)
        if self._can_fuse():
            s_seq, v_seq, state = lif_seq(x_seq, state, self.params(x_seq.dtype), reset=self.reset,
                                          reset_timing=self.reset_timing,
                                          detach_reset=self.detach_reset, surrogate=self.surrogate)
        else:
            if state is None:
                state = _init_state(x_seq[0], self.refractory)
            params = self.params(x_seq.dtype)
            kwargs = self._step_kwargs()
            spikes, vs = [], []
            for t in range(x_seq.shape[0]):
                s, state = lif_step(self._drive(x_seq[t], state), state, params, **kwargs)
                spikes.append(s)
                vs.append(state.v)
            s_seq, v_seq = torch.stack(spikes), torch.stack(vs)
        emit(self, step=False, spikes=s_seq, v=v_seq)
        return s_seq, state

    def extra_repr(self) -> str:
        name = "tau" if self.tau_form else "beta"
        value = getattr(self, name)
        decay = f"{name}={value:g}" if isinstance(value, float) else f"{name}=<tensor {tuple(value.shape)}>"
        return (f"{decay}, reset={self.reset!r}, reset_timing={self.reset_timing!r}, "
                f"detach_reset={self.detach_reset}, surrogate={self.surrogate!r}")


class RLIF(LIF):
    """Recurrent LIF: the drive of step ``t`` is ``x[t] + W_rec s[t-1]``.

    Parameters
    ----------
    n_neurons : int
        Number of neurons (the last and only neuron dim).
    bias : bool, default=False
        Bias of the recurrent Linear.
    **kwargs
        Every :class:`LIF` option (``shape`` is set to ``n_neurons``).

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> rlif = RLIF(4, beta=0.8)
    >>> s, state = rlif.forward_seq(torch.rand(10, 2, 4))
    >>> s.shape
    torch.Size([10, 2, 4])
    """

    def __init__(self, n_neurons: int, *, bias: bool = False, **kwargs: Any) -> None:
        n_neurons = check_scalar("n_neurons", n_neurons, int, low=1)
        if "shape" in kwargs and _as_shape(kwargs["shape"]) != (n_neurons,):
            raise ValueError(f"Invalid value for 'shape': RLIF neurons have shape ({n_neurons},); "
                             f"got {kwargs['shape']!r}. Leave shape out.")
        kwargs["shape"] = n_neurons
        super().__init__(**kwargs)
        self.recurrent = nn.Linear(n_neurons, n_neurons, bias=bias)

    def _drive(self, x: Tensor, state: LIFState | None) -> Tensor:
        if state is None:
            return x
        return x + self.recurrent(state.s.to(self.recurrent.weight.dtype)).to(x.dtype)

