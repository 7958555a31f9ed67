"""The ELM neuron (Spieler et al. 2023) and its branch variant, with a fast multi-step path.

Reference: A. Spieler, N. Rahaman, G. Martius, B. Schölkopf, A. Levina, "The ELM neuron: an
efficient and expressive cortical neuron model can solve long-horizon tasks" (2023).

One step of the Expressive Leaky Memory neuron, for an input ``x_t`` of ``n_in`` synapses::

    s_t     = kappa_s * s_{t-1} + w_s * x_t                          synapse traces
    delta_m = tanh~(MLP([s_t, kappa_m * m_{t-1}]))                  tanh~(z) = 1.7159 tanh(2 z / 3)
    m_t     = kappa_m * m_{t-1} + lambda * (1 - kappa_m) * delta_m   memory units
    y_t     = W_y m_t + b_y                                          output
    kappa   = exp(-dt / tau)

Branch-ELM (``variant="branch"``) replaces the synapse traces by one trace per dendritic branch
and the memory gain by one that does not grow with ``lambda``::

    b_t = kappa_b * b_{t-1} + sum_{j in branch} w_s[j] x_t[j]
    m_t = kappa_m * m_{t-1} + (1 - kappa_lambda) * delta_m,   kappa_lambda = exp(-dt lambda / tau_m)

and the MLP reads ``[b_t, kappa_m * m_{t-1}]``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from brainbridge._checks import _check_option, check_scalar

from ._trace import emit

__all__ = ["ELM", "ELMParams", "ELMState", "elm_step", "scaled_tanh"]


class ELMState(NamedTuple):
    """Hidden state of an ELM layer.

    Attributes
    ----------
    s : Tensor, (batch, n_traces)
        Synapse traces (``n_traces = n_in``) or, for Branch-ELM, branch traces
        (``n_traces = num_branches``).
    m : Tensor, (batch, n_memory)
        Memory units.

    Examples
    --------
    >>> from brainbridge.snn import ELM
    >>> state = ELM(4, 1, n_memory=3).initial_state(2)  # an ELMState of zeros
    >>> state._fields, tuple(state.s.shape), tuple(state.m.shape)
    (('s', 'm'), (2, 4), (2, 3))
    """

    s: Tensor
    m: Tensor


class ELMParams(NamedTuple):
    """Everything :func:`elm_step` needs, already transformed (no ``relu`` or ``exp`` left to do).

    Attributes
    ----------
    w_s : Tensor, (n_in,)
        Synaptic weights, ``>= 0`` (the module passes ``relu(param)``).
    kappa_s : Tensor, (n_traces,)
        Trace decay per step, ``exp(-dt / tau_s)``.
    kappa_m : Tensor, (n_memory,)
        Memory decay per step, ``exp(-dt / tau_m)``.
    gain : Tensor, (n_memory,)
        Factor on ``delta_m``: ``lambda * (1 - kappa_m)`` (v1) or ``1 - exp(-dt lambda / tau_m)``
        (branch).
    mlp : tuple of (weight, bias) pairs
        The MLP's linear layers in order; weights are ``(out, in)`` as in ``nn.Linear``. The first
        layer reads ``n_traces + n_memory`` inputs, the last writes ``n_memory``; ReLU sits between
        layers and ``tanh~`` after the last.
    w_y : Tensor, (n_out, n_memory)
        Output weights.
    b_y : Tensor, (n_out,)
        Output bias.
    branch : Tensor or None, (n_in, num_branches)
        0/1 matrix assigning each synapse to one branch (Branch-ELM), or None (v1).

    Examples
    --------
    With ``dt=1``, ``tau_s=5`` and ``tau_m`` log-spaced over 1..1000, the decays are
    ``exp(-1/5)`` and ``exp(-1/tau_m)``:

    >>> from brainbridge.snn import ELM
    >>> params = ELM(4, 1, n_memory=3).params()
    >>> round(params.kappa_s[0].item(), 4), params.kappa_m
    (0.8187, tensor([0.3679, 0.9689, 0.9990]))
    """

    w_s: Tensor
    kappa_s: Tensor
    kappa_m: Tensor
    gain: Tensor
    mlp: tuple[tuple[Tensor, Tensor], ...]
    w_y: Tensor
    b_y: Tensor
    branch: Tensor | None


def scaled_tanh(z: Tensor) -> Tensor:
    """LeCun's scaled tanh, ``1.7159 * tanh(2 z / 3)``, the ELM's output nonlinearity.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn import scaled_tanh
    >>> scaled_tanh(torch.tensor([0.0, 1.5, 100.0]))
    tensor([0.0000, 1.3068, 1.7159])
    """
    return 1.7159 * torch.tanh(z * (2.0 / 3.0))


def _mlp(h: Tensor, layers: tuple[tuple[Tensor, Tensor], ...]) -> Tensor:
    """Linear layers with ReLU between them and tanh~ after the last."""
    for i, (weight, bias) in enumerate(layers):
        if i:
            h = torch.relu(h)
        h = nn.functional.linear(h, weight, bias)
    return scaled_tanh(h)


def elm_step(x: Tensor, state: ELMState, params: ELMParams) -> tuple[Tensor, ELMState]:
    """Advance an ELM neuron layer by one step (the published equations, literally).

    Parameters
    ----------
    x : Tensor, (batch, n_in)
        Input to the synapses at step t.
    state : ELMState
        ``s`` (batch, n_traces) and ``m`` (batch, n_memory) at step t - 1.
    params : ELMParams
        See :class:`ELMParams`; :meth:`ELM.params` builds it from a module.

    Returns
    -------
    y : Tensor, (batch, n_out)
        ``W_y m_t + b_y``.
    state : ELMState
        ``(s_t, m_t)``.

    Notes
    -----
    ``s_t = kappa_s s_{t-1} + drive_t`` with ``drive_t = w_s * x_t`` (v1) or
    ``(w_s * x_t) @ branch`` (Branch-ELM); ``m_t = kappa_m m_{t-1} + gain * delta_m`` with
    ``delta_m = tanh~(MLP([s_t, kappa_m m_{t-1}]))``.

    Examples
    --------
    From zero state, the first traces are ``w_s * x`` (``w_s = 0.5`` at initialisation), and
    the step equals the module's ``forward``:

    >>> import torch
    >>> from brainbridge.snn import ELM, elm_step
    >>> _ = torch.manual_seed(0)
    >>> layer = ELM(4, 1, n_memory=3)
    >>> x = torch.ones(2, 4)
    >>> y, state = elm_step(x, layer.initial_state(2), layer.params())
    >>> state.s[0].tolist(), torch.equal(y, layer(x)[0])
    ([0.5, 0.5, 0.5, 0.5], True)
    """
    drive = params.w_s * x
    if params.branch is not None:
        drive = drive @ params.branch
    s = params.kappa_s * state.s + drive
    decayed = params.kappa_m * state.m
    delta = _mlp(torch.cat([s, decayed], dim=-1), params.mlp)
    m = decayed + params.gain * delta
    y = nn.functional.linear(m, params.w_y, params.b_y)
    return y, ELMState(s, m)


def _linear_scan(decay: Tensor, drive: Tensor, s0: Tensor) -> Tensor:
    """All ``s_t = decay * s_{t-1} + drive_t`` for t = 0..T-1 at once (Hillis-Steele scan).

    ``ceil(log2 T)`` whole-sequence operations instead of T small ones; only non-negative powers
    of ``decay`` appear, so nothing overflows on long sequences.
    """
    n_steps = drive.shape[0]
    s = drive
    power = decay
    shift = 1
    while shift < n_steps:
        s = torch.cat([s[:shift], s[shift:] + power * s[:-shift]], dim=0)
        power = power * power
        shift *= 2
    steps = torch.arange(1, n_steps + 1, device=drive.device, dtype=drive.dtype)
    carry = decay ** steps.reshape(-1, *([1] * (drive.dim() - 1)))
    return s + carry * s0


def _memory_step(
    a_t: Tensor,
    m: Tensor,
    kappa_m: Tensor,
    gain: Tensor,
    w_m_t: Tensor,
    rest: tuple[tuple[Tensor, Tensor], ...],
) -> Tensor:
    """One memory update from the precomputed first-layer trace part ``a_t`` (batch, hidden).

    Constants are folded in by the caller: ``a_t`` is the first MLP layer's trace part plus
    bias, ``w_m_t = (W_1m * kappa_m).T`` so that ``m @ w_m_t = W_1m (kappa_m m)``, the last
    layer is pre-multiplied by 2/3 and ``gain`` by 1.7159, which leaves ``tanh`` of ``tanh~``
    (same value up to rounding). A step is ``addmm``, (``relu``, ``addmm``) per further layer,
    ``tanh``, ``mul``, ``addcmul``.
    """
    h = torch.addmm(a_t, m, w_m_t)
    for weight_t, bias in rest:
        h = torch.addmm(bias, torch.relu(h), weight_t)
    return torch.addcmul(kappa_m * m, gain, torch.tanh(h))


_COMPILED: dict[str, Callable[..., Tensor]] = {}


def _compiled_memory_step() -> Callable[..., Tensor]:
    """torch.compile'd :func:`_memory_step` (built on first use, shared: it holds no state)."""
    if "memory_step" not in _COMPILED:
        _COMPILED["memory_step"] = torch.compile(_memory_step, dynamic=False)
    return _COMPILED["memory_step"]


def _memory_loop(step: Callable[..., Tensor], a_seq: Tensor, m: Tensor, *args: Any) -> Tensor:
    # unbind, not a_seq[t]: the backward of T selects would write T full-size zero tensors
    ms = []
    for a_t in a_seq.unbind(0):
        m = step(a_t, m, *args)
        ms.append(m)
    return torch.stack(ms)


def _gain_v1(kappa_m: Tensor, tau_m: Tensor, lam: float, dt: float) -> Tensor:
    return lam * (1.0 - kappa_m)


def _gain_branch(kappa_m: Tensor, tau_m: Tensor, lam: float, dt: float) -> Tensor:
    return 1.0 - torch.exp(-dt * lam / tau_m)


_GAINS: dict[str, Callable[[Tensor, Tensor, float, float], Tensor]] = {
    "v1": _gain_v1,
    "branch": _gain_branch,
}


class ELM(nn.Module):
    r"""A layer of ELM neurons (Expressive Leaky Memory; Spieler et al. 2023).

    ``n_in`` synapses feed ``n_memory`` memory units through an MLP; ``n_out`` outputs read the
    memory linearly. One step (``variant="v1"``)::

        s_t     = kappa_s * s_{t-1} + w_s * x_t
        delta_m = tanh~(MLP([s_t, kappa_m * m_{t-1}])),    tanh~(z) = 1.7159 tanh(2 z / 3)
        m_t     = kappa_m * m_{t-1} + lambda (1 - kappa_m) * delta_m
        y_t     = W_y m_t + b_y,                            kappa = exp(-dt / tau)

    Branch-ELM (``variant="branch"``): the ``n_in`` synapses are split into ``num_branches``
    contiguous groups (sizes as in ``torch.tensor_split``: the first ``n_in % num_branches``
    groups get one synapse more), each branch keeps one trace
    ``b_t = kappa_b * b_{t-1} + sum_{j in branch} w_s[j] x_t[j]`` with ``kappa_b = exp(-dt/tau_s)``,
    the MLP reads ``[b_t, kappa_m * m_{t-1}]`` and
    ``m_t = kappa_m * m_{t-1} + (1 - kappa_lambda) * delta_m``, ``kappa_lambda = exp(-dt lambda/tau_m)``.

    Choices where the paper leaves room (all follow the authors' reference code unless noted):

    * the MLP has ReLU between its layers, no activation on its input, and tanh~ on its output;
    * ``W_y`` has a bias ``b_y`` (an ``nn.Linear``);
    * ``tau_m`` is fixed by default (``learn_tau_m=False``, as in the paper's experiments); with
      ``learn_tau_m=True`` it is learned through ``log(tau_m)`` (our choice: unbounded, always
      positive; the reference code instead bounds it with a scaled sigmoid);
    * ``tau_s`` is one fixed value for every synapse (and branch); ``w_s = relu(param)``, so a
      synapse never turns inhibitory (the sign is learned by the MLP);
    * branch traces decay with ``tau_s`` (``kappa_b = kappa_s``).

    Parameters
    ----------
    n_in : int
        Number of input synapses.
    n_out : int
        Number of outputs.
    n_memory : int, default=100
        Number of memory units.
    variant : {"v1", "branch"}, default="v1"
        Published ELM (v1) or Branch-ELM.
    num_branches : int or None, default=None
        Number of dendritic branches; required for ``variant="branch"`` (``1 <= num_branches <=
        n_in``), not allowed for v1.
    lam : float, default=5.0
        ``lambda``, the memory's speed-up factor (dimensionless).
    mlp_hidden : int or None, default=None
        Width of each hidden MLP layer; None means ``2 * n_memory``.
    mlp_layers : int, default=1
        Number of hidden MLP layers (0 makes the MLP one linear layer).
    tau_s : float, default=5.0
        Synapse (and branch) trace time constant, in the unit of ``dt``.
    tau_m_range : (float, float), default=(1.0, 1000.0)
        ``tau_m`` is log-spaced over this closed interval (``n_memory`` values), in the unit of
        ``dt``.
    learn_tau_m : bool, default=False
        Learn ``tau_m`` (through the parameter ``log_tau_m``) or keep it fixed (then
        ``log_tau_m`` is None and ``tau_m`` is recomputed from ``tau_m_range``).
    w_s_init : float, default=0.5
        Initial synaptic weight (``relu(0.5) = 0.5``); must be ``>= 0``.
    dt : float, default=1.0
        Time step. Only the ratios ``dt / tau`` enter, so ``dt``, ``tau_s`` and ``tau_m_range``
        share one unit: with the defaults it is one step (1 ms in the paper's NeuronIO task);
        pass ``dt=1e-3, tau_s=5e-3, tau_m_range=(1e-3, 1.0)`` to state them in seconds.
    compile : bool, default=False
        Run each memory update of :meth:`forward_seq` through ``torch.compile`` (same outputs
        and gradients; the first call compiles, later calls with the same shapes reuse it). On
        a 2-core CPU it is slower than the plain fast path (dynamo's per-call overhead exceeds
        the few fused ops of one step; see ``bench/bench_elm.py``); it is there for devices
        where kernel fusion pays.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn._elm import ELM
    >>> _ = torch.manual_seed(0)
    >>> layer = ELM(8, 2, n_memory=16)
    >>> y, state = layer(torch.randn(3, 8))            # one step, batch of 3
    >>> y.shape, state.m.shape
    (torch.Size([3, 2]), torch.Size([3, 16]))
    >>> y_seq, state = layer.forward_seq(torch.randn(50, 3, 8))   # 50 steps, time first
    >>> y_seq.shape
    torch.Size([50, 3, 2])
    >>> branchy = ELM(8, 2, n_memory=16, variant="branch", num_branches=4)
    >>> branchy.forward_seq(torch.randn(50, 3, 8))[1].s.shape   # one trace per branch
    torch.Size([3, 4])
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        n_memory: int = 100,
        *,
        variant: str = "v1",
        num_branches: int | None = None,
        lam: float = 5.0,
        mlp_hidden: int | None = None,
        mlp_layers: int = 1,
        tau_s: float = 5.0,
        tau_m_range: tuple[float, float] = (1.0, 1000.0),
        learn_tau_m: bool = False,
        w_s_init: float = 0.5,
        dt: float = 1.0,
        compile: bool = False,
    ) -> None:
        super().__init__()
        n_in = check_scalar("n_in", n_in, int, low=1, what="number of input synapses")
        n_out = check_scalar("n_out", n_out, int, low=1, what="number of outputs")
        n_memory = check_scalar("n_memory", n_memory, int, low=1, what="number of memory units")
        _check_option("variant", variant, _GAINS)
        if variant == "branch":
            if num_branches is None:
                raise ValueError(
                    "Invalid value for 'num_branches': variant='branch' needs the number of "
                    "dendritic branches; got None. Pass e.g. num_branches=4."
                )
            num_branches = check_scalar("num_branches", num_branches, int, low=1,
                                        what="number of dendritic branches")
            if num_branches > n_in:
                raise ValueError(
                    f"Invalid value for 'num_branches': expected at most n_in={n_in} (each branch "
                    f"needs a synapse); got {num_branches}. Lower num_branches or add inputs."
                )
        elif num_branches is not None:
            raise ValueError(
                f"Invalid value for 'num_branches': only variant='branch' has branches; got "
                f"num_branches={num_branches!r} with variant={variant!r}. Drop num_branches or "
                "pass variant='branch'."
            )
        lam = check_scalar("lam", lam, float, low=0, closed="neither",
                           what="memory speed-up factor lambda")
        if mlp_hidden is None:
            mlp_hidden = 2 * n_memory
        mlp_hidden = check_scalar("mlp_hidden", mlp_hidden, int, low=1,
                                  what="width of the MLP's hidden layers")
        mlp_layers = check_scalar("mlp_layers", mlp_layers, int, low=0,
                                  what="number of hidden MLP layers")
        tau_s = check_scalar("tau_s", tau_s, float, low=0, closed="neither",
                             what="synapse time constant, in the unit of dt")
        if (not isinstance(tau_m_range, (tuple, list)) or len(tau_m_range) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in tau_m_range)
                or not 0 < tau_m_range[0] <= tau_m_range[1] < math.inf):
            raise ValueError(
                "Invalid value for 'tau_m_range': expected (tau_min, tau_max) with "
                f"0 < tau_min <= tau_max (memory time constants, in the unit of dt); got "
                f"{tau_m_range!r}. Pass e.g. tau_m_range=(1.0, 1000.0)."
            )
        w_s_init = check_scalar("w_s_init", w_s_init, float, low=0,
                                what="initial synaptic weight, passed through relu",
                                fix="A negative start would leave the synapse dead (relu gradient "
                                "0); pass e.g. w_s_init=0.5.")
        dt = check_scalar("dt", dt, float, low=0, closed="neither",
                          what="time step, in the unit of tau_s and tau_m")

        self.n_in, self.n_out, self.n_memory = n_in, n_out, n_memory
        self.variant = variant
        self.num_branches = num_branches
        self.lam = lam
        self.dt = dt
        self.tau_s = tau_s
        self.tau_m_range = (float(tau_m_range[0]), float(tau_m_range[1]))
        self.learn_tau_m = bool(learn_tau_m)
        self.compile = bool(compile)  # type: ignore[method-assign, assignment]  # shadows Module.compile
        n_traces = n_in if variant == "v1" else int(num_branches)  # type: ignore[arg-type]
        self.n_traces = n_traces

        self.w_s_param = nn.Parameter(torch.full((n_in,), float(w_s_init)))
        if self.learn_tau_m:
            self.log_tau_m: nn.Parameter | None = nn.Parameter(
                self._log_tau_m_init().to(torch.get_default_dtype()))
        else:
            self.log_tau_m = None
        if variant == "branch":
            sizes = [len(g) for g in torch.arange(n_in).tensor_split(n_traces)]
            owner = torch.repeat_interleave(torch.arange(n_traces), torch.tensor(sizes))
            branch = nn.functional.one_hot(owner, n_traces).to(torch.get_default_dtype())
            self.register_buffer("branch", branch)
        else:
            self.branch = None
        widths = [n_traces + n_memory] + [mlp_hidden] * mlp_layers + [n_memory]
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.readout = nn.Linear(n_memory, n_out)

    # ----------------------------------------------------------------- derived quantities
    @property
    def w_s(self) -> Tensor:
        """Synaptic weights ``relu(w_s_param)``, (n_in,)."""
        return torch.relu(self.w_s_param)

    def _log_tau_m_init(self) -> Tensor:
        """``log(tau_m)`` log-spaced over ``tau_m_range``, in float64."""
        lo, hi = self.tau_m_range
        return torch.linspace(math.log(lo), math.log(hi), self.n_memory, dtype=torch.float64)

    @property
    def tau_m(self) -> Tensor:
        """Memory time constants, (n_memory,), in the unit of ``dt``.

        Fixed ones are recomputed from ``tau_m_range`` in float64 and cast to the layer's dtype,
        so a float64 layer holds them to full precision.
        """
        if self.log_tau_m is not None:
            return torch.exp(self.log_tau_m)
        ref = self.w_s_param
        return torch.exp(self._log_tau_m_init().to(ref.device)).to(ref.dtype)

    def params(self) -> ELMParams:
        """The :class:`ELMParams` of this layer (differentiable w.r.t. its parameters)."""
        tau_m = self.tau_m
        kappa_m = torch.exp(-self.dt / tau_m)
        kappa_s = torch.full(
            (self.n_traces,), math.exp(-self.dt / self.tau_s),
            dtype=self.w_s_param.dtype, device=self.w_s_param.device,
        )
        return ELMParams(
            w_s=self.w_s,
            kappa_s=kappa_s,
            kappa_m=kappa_m,
            gain=_GAINS[self.variant](kappa_m, tau_m, self.lam, self.dt),
            mlp=tuple((layer.weight, layer.bias) for layer in self.mlp),  # type: ignore[misc]
            w_y=self.readout.weight,
            b_y=self.readout.bias,
            branch=self.branch,
        )

    def initial_state(self, batch: int, *, like: Tensor | None = None) -> ELMState:
        """Zero traces and memory for ``batch`` samples (dtype and device of ``like``)."""
        ref = self.w_s_param if like is None else like
        kw: dict[str, Any] = {"dtype": ref.dtype, "device": ref.device}
        return ELMState(torch.zeros(batch, self.n_traces, **kw), torch.zeros(batch, self.n_memory, **kw))

    def _check_input(self, x: Tensor, name: str, ndim: int, layout: str) -> None:
        if not isinstance(x, Tensor) or x.dim() != ndim or x.shape[-1] != self.n_in:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"Invalid value for {name!r}: expected a tensor of shape {layout} with "
                f"n_in={self.n_in}; got {got}."
            )

    def _check_state(self, state: Any, batch: int) -> None:
        if not isinstance(state, ELMState) or tuple(state.s.shape) != (batch, self.n_traces) \
                or tuple(state.m.shape) != (batch, self.n_memory):
            raise ValueError(
                f"Invalid value for 'state': expected an ELMState with s of shape "
                f"({batch}, {self.n_traces}) and m of shape ({batch}, {self.n_memory}); got "
                f"{_describe_state(state)}. Pass the state returned by this layer, or None."
            )

    # ----------------------------------------------------------------- forward passes
    def forward(self, x: Tensor, state: ELMState | None = None) -> tuple[Tensor, ELMState]:
        """One step.

        Parameters
        ----------
        x : Tensor, (batch, n_in)
        state : ELMState or None
            None starts from zero traces and memory.

        Returns
        -------
        y : Tensor, (batch, n_out)
        state : ELMState
        """
        self._check_input(x, "x", 2, "(batch, n_in)")
        if state is None:
            state = self.initial_state(x.shape[0], like=x)
        self._check_state(state, x.shape[0])
        y, state = elm_step(x, state, self.params())
        emit(self, step=True, out=y, m=state.m)
        return y, state

    def forward_seq(self, x_seq: Tensor, state: ELMState | None = None) -> tuple[Tensor, ELMState]:
        """Many steps, time first; equal (outputs and gradients) to looping :meth:`forward`.

        The trace recurrence is linear, so all ``s_t`` come from one parallel scan and the
        first MLP layer's trace part, ``W_1s s_t + b_1``, from one matmul over all steps; only
        the memory update through the MLP runs step by step, with the constants of ``tanh~``
        and ``kappa_m`` folded into the weights (6 ops a step for one hidden layer), and
        ``y_t = W_y m_t + b_y`` is one matmul again. With ``compile=True`` each memory update
        runs through ``torch.compile``.

        Parameters
        ----------
        x_seq : Tensor, (T, batch, n_in)
        state : ELMState or None
            State before the first step; None means zeros.

        Returns
        -------
        y_seq : Tensor, (T, batch, n_out)
        state : ELMState
            State after the last step.
        """
        self._check_input(x_seq, "x_seq", 3, "(T, batch, n_in)")
        n_steps, batch = x_seq.shape[:2]
        if state is None:
            state = self.initial_state(batch, like=x_seq)
        self._check_state(state, batch)
        if n_steps == 0:
            raise ValueError(
                "Invalid value for 'x_seq': expected at least one time step (T >= 1); got T = 0."
            )
        p = self.params()
        drive = p.w_s * x_seq
        if p.branch is not None:
            drive = drive @ p.branch
        s_seq = _linear_scan(p.kappa_s, drive, state.s)
        # fold the constants of tanh~ and kappa_m into the weights (see _memory_step)
        layers = [(w, b) for w, b in p.mlp]
        w_last, b_last = layers[-1]
        layers[-1] = (w_last * (2.0 / 3.0), b_last * (2.0 / 3.0))
        (w_first, b_first), rest = layers[0], tuple((w.T, b) for w, b in layers[1:])
        a_seq = nn.functional.linear(s_seq, w_first[:, : self.n_traces], b_first)
        w_m_t = (w_first[:, self.n_traces:] * p.kappa_m).T
        gain = p.gain * 1.7159
        args = (p.kappa_m, gain, w_m_t, rest)
        if self.compile:  # type: ignore[truthy-function]
            with warnings.catch_warnings():
                # Tracing reads .grad of non-leaf inputs (kappa_m, a weight slice) and torch's
                # inductor import uses torch.jit.script_method: torch internals, nothing to fix here.
                warnings.filterwarnings("ignore", message=r"The \.grad attribute of a Tensor that is not")
                warnings.filterwarnings("ignore", message=r"`torch\.jit\.script_method` is deprecated")
                m_seq = _memory_loop(_compiled_memory_step(), a_seq, state.m, *args)
        else:
            m_seq = _memory_loop(_memory_step, a_seq, state.m, *args)
        y_seq = nn.functional.linear(m_seq, p.w_y, p.b_y)
        emit(self, step=False, out=y_seq, m=m_seq)
        return y_seq, ELMState(s_seq[-1], m_seq[-1])

    def extra_repr(self) -> str:
        branches = f", num_branches={self.num_branches}" if self.variant == "branch" else ""
        return (
            f"n_in={self.n_in}, n_out={self.n_out}, n_memory={self.n_memory}, "
            f"variant={self.variant!r}{branches}, lam={self.lam}, tau_s={self.tau_s}, "
            f"tau_m_range={self.tau_m_range}, dt={self.dt}"
        )


def _describe_state(state: Any) -> str:
    if isinstance(state, ELMState):
        return f"s of shape {tuple(state.s.shape)} and m of shape {tuple(state.m.shape)}"
    return type(state).__name__
