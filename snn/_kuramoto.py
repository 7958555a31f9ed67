"""Artificial Kuramoto oscillatory neurons (AKOrN; Miyato et al. 2025).

Reference: T. Miyato, S. Löwe, A. Geiger, M. Welling, "Artificial Kuramoto Oscillatory Neurons",
ICLR 2025.

``channels`` features are split into ``G = channels / n`` oscillators ``x_i``, unit vectors in
``R^n``. One step, for every oscillator ``i`` (and every position, for the conv coupling)::

    y   = J(x) + c                                    coupling plus conditioning stimulus
    x_i <- normalize(x_i + gamma * (Omega_i x_i + y_i - <y_i, x_i> x_i))

``Omega_i`` is a learned antisymmetric ``n x n`` matrix (the natural frequency: a rotation of
``x_i``); ``y_i - <y_i, x_i> x_i`` is ``y_i`` with its component along ``x_i`` removed (the
projection onto the sphere's tangent space at ``x_i``). The energy reported is AKOrN's::

    E(x) = -1/2 sum_i <J(x)_i, x_i> - sum_i <c_i, x_i>

(for a linear ``J``, ``-1/2 sum_ij x_i^T J_ij x_j - sum_i c_i^T x_i``). Note that this is not
``-sum_i <y_i, x_i>`` with ``y = J(x) + c`` (the form the authors' code logs): the coupling part
carries the factor 1/2 that makes ``y`` the gradient of ``-E`` for a symmetric ``J``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from brainbridge._checks import _check_option, check_scalar

from ._trace import emit

__all__ = [
    "Kuramoto",
    "KuramotoClassifier",
    "KuramotoParams",
    "KuramotoState",
    "kuramoto_energy",
    "kuramoto_step",
]

_EPS = 1e-12


class KuramotoParams(NamedTuple):
    """Weights used by :func:`kuramoto_step`, already in final form.

    Attributes
    ----------
    coupling : tuple of Tensor
        ``"linear"``: ``(W,)`` with ``W`` (channels, channels), ``J(x) = x @ W.T``;
        ``"conv"``: ``(K,)`` with ``K`` (channels, channels, k, k), ``k`` odd,
        ``J(x) = conv2d(x, K, padding=k // 2)`` (zero padding, output the size of the input);
        ``"attention"``: ``(W_q, W_k, W_v, W_o)``, the first three (heads * n, n), ``W_o``
        (n, heads * n); see :func:`kuramoto_step`.
    omega : Tensor or None, (G, n, n)
        Antisymmetric natural-frequency matrices, one per oscillator group, or None (no rotation).

    Examples
    --------
    Two oscillators in ``R^2`` (4 channels), each coupled to the other by the identity:

    >>> import torch
    >>> from brainbridge.snn import KuramotoParams
    >>> W = torch.tensor([[0.0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]])
    >>> params = KuramotoParams(coupling=(W,), omega=None)
    >>> params.coupling[0].shape, params.omega is None
    (torch.Size([4, 4]), True)
    """

    coupling: tuple[Tensor, ...]
    omega: Tensor | None


class KuramotoState(NamedTuple):
    """Oscillators after the last step and their energy.

    Attributes
    ----------
    x : Tensor, (batch, channels) or (batch, channels, H, W)
        Unit vectors in groups of ``n`` channels.
    energy : Tensor, (batch,)
        ``E(x)`` (module docstring), summed over oscillators and positions.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn import Kuramoto
    >>> _ = torch.manual_seed(0)
    >>> _, state = Kuramoto(16)(torch.randn(2, 16))   # 4 oscillators of n = 4
    >>> state._fields, tuple(state.x.shape), tuple(state.energy.shape)
    (('x', 'energy'), (2, 16), (2,))
    >>> torch.allclose(state.x.reshape(2, 4, 4).norm(dim=-1), torch.ones(2, 4))
    True
    """

    x: Tensor
    energy: Tensor


# ----------------------------------------------------------------------------- couplings
def _j_linear(x: Tensor, weights: tuple[Tensor, ...], n: int) -> Tensor:
    (w,) = weights
    return x @ w.T


def _j_conv(x: Tensor, weights: tuple[Tensor, ...], n: int) -> Tensor:
    (k,) = weights
    return nn.functional.conv2d(x, k, padding=k.shape[-1] // 2)


def _j_attention(x: Tensor, weights: tuple[Tensor, ...], n: int) -> Tensor:
    w_q, w_k, w_v, w_o = weights
    heads = w_q.shape[0] // n
    tokens = x.unflatten(-1, (-1, n))  # (batch, G, n): one token per oscillator

    def split(w: Tensor) -> Tensor:  # (batch, G, heads * n) -> (batch, heads, G, n)
        return (tokens @ w.T).unflatten(-1, (heads, n)).transpose(-3, -2)

    q, k, v = split(w_q), split(w_k), split(w_v)
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(n), dim=-1)
    out = (att @ v).transpose(-3, -2).flatten(-2)  # (batch, G, heads * n)
    return (out @ w_o.T).flatten(-2)


_COUPLINGS: dict[str, Callable[[Tensor, tuple[Tensor, ...], int], Tensor]] = {
    "linear": _j_linear,
    "conv": _j_conv,
    "attention": _j_attention,
}


def _groups(t: Tensor, n: int) -> Tensor:
    """(batch, channels, *spatial) -> (batch, G, n, *spatial)."""
    return t.unflatten(1, (-1, n))


def _normalize(xg: Tensor) -> Tensor:
    return xg / torch.linalg.vector_norm(xg, dim=2, keepdim=True).clamp_min(_EPS)


def _energy(xg: Tensor, jxg: Tensor, cg: Tensor) -> Tensor:
    per = -0.5 * (jxg * xg).sum(2) - (cg * xg).sum(2)
    return per.flatten(1).sum(1)


def kuramoto_energy(x: Tensor, c: Tensor, params: KuramotoParams, *, n: int, coupling: str) -> Tensor:
    """AKOrN's energy ``E(x) = -1/2 sum_i <J(x)_i, x_i> - sum_i <c_i, x_i>``, per sample.

    Parameters
    ----------
    x, c : Tensor, (batch, channels) or (batch, channels, H, W)
    params : KuramotoParams
    n : int
        Oscillator dimension.
    coupling : {"linear", "conv", "attention"}

    Returns
    -------
    energy : Tensor, (batch,)

    Examples
    --------
    Two oscillators in ``R^2`` coupled by the identity: orthogonal, the energy is 0;
    aligned, ``-<x_0, x_1> = -1``:

    >>> import torch
    >>> from brainbridge.snn import KuramotoParams, kuramoto_energy
    >>> W = torch.tensor([[0.0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]])
    >>> params = KuramotoParams(coupling=(W,), omega=None)
    >>> c = torch.zeros(2, 4)
    >>> x = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
    >>> kuramoto_energy(x, c, params, n=2, coupling="linear")
    tensor([ 0., -1.])
    """
    couple = _COUPLINGS.get(coupling) or _check_option("coupling", coupling, _COUPLINGS)
    jx = couple(x, params.coupling, n)
    return _energy(_groups(x, n), _groups(jx, n), _groups(c, n))


def kuramoto_step(
    x: Tensor, c: Tensor, params: KuramotoParams, *, n: int, gamma: float, coupling: str
) -> tuple[Tensor, Tensor]:
    """One AKOrN update of every oscillator.

    ``y = J(x) + c``; ``x_i <- normalize(x_i + gamma (Omega_i x_i + y_i - <y_i, x_i> x_i))``.

    Couplings ``J``: ``"linear"``, ``J(x) = x W^T`` over all channels (block ``J_ij`` of ``W``
    couples oscillator ``j`` to ``i``); ``"conv"``, a 2-D convolution with zero padding;
    ``"attention"``, self-attention among the ``G`` oscillators of a sample (each one a token of
    ``n`` features; ``heads`` heads of width ``n``)::

        J(x)_i = W_o concat_h sum_j softmax_j(<W_q^h x_i, W_k^h x_j> / sqrt(n)) W_v^h x_j

    Parameters
    ----------
    x : Tensor, (batch, channels) or (batch, channels, H, W)
        Oscillators (unit vectors in groups of ``n`` channels); the spatial form is for ``conv``.
    c : Tensor, same shape as ``x``
        Conditioning stimulus.
    params : KuramotoParams
    n : int
        Oscillator dimension.
    gamma : float
        Step size (dimensionless).
    coupling : {"linear", "conv", "attention"}

    Returns
    -------
    x_new : Tensor, same shape as ``x``
    energy : Tensor, (batch,)
        ``E(x)`` of the oscillators *before* the update (it comes free with ``y``).

    Examples
    --------
    Two orthogonal oscillators in ``R^2`` coupled by the identity each move halfway towards
    the other (``gamma = 1``):

    >>> import torch
    >>> from brainbridge.snn import KuramotoParams, kuramoto_step
    >>> W = torch.tensor([[0.0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]])
    >>> params = KuramotoParams(coupling=(W,), omega=None)
    >>> x = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    >>> kuramoto_step(x, torch.zeros(1, 4), params, n=2, gamma=1.0, coupling="linear")
    (tensor([[0.7071, 0.7071, 0.7071, 0.7071]]), tensor([0.]))
    """
    couple = _COUPLINGS.get(coupling) or _check_option("coupling", coupling, _COUPLINGS)
    jx = couple(x, params.coupling, n)
    xg, jxg, cg = _groups(x, n), _groups(jx, n), _groups(c, n)
    yg = jxg + cg
    dx = yg - (yg * xg).sum(2, keepdim=True) * xg
    if params.omega is not None:
        dx = dx + torch.einsum("gab,zgb...->zga...", params.omega, xg)
    x_new = _normalize(xg + gamma * dx).flatten(1, 2)
    return x_new, _energy(xg, jxg, cg)


# ----------------------------------------------------------------------------- readouts
def _readout_linear(module: Kuramoto, x: Tensor, y: Tensor) -> Tensor:
    z = torch.einsum("oc,bc...->bo...", module.readout_weight, x)
    norms = torch.linalg.vector_norm(_groups(z, module.n), dim=2)
    return norms + module.readout_bias.reshape(-1, *([1] * (x.dim() - 2)))


def _readout_y(module: Kuramoto, x: Tensor, y: Tensor) -> Tensor:
    return torch.linalg.vector_norm(_groups(y, module.n), dim=2)


def _readout_x(module: Kuramoto, x: Tensor, y: Tensor) -> Tensor:
    return x


_READOUTS: dict[str, Callable[[Kuramoto, Tensor, Tensor], Tensor]] = {
    "linear": _readout_linear,
    "y": _readout_y,
    "x": _readout_x,
}


class Kuramoto(nn.Module):
    r"""A block of artificial Kuramoto oscillatory neurons (AKOrN; Miyato et al. 2025).

    ``forward(c)`` starts the oscillators at ``x0`` (random unit vectors unless given) and runs
    ``steps`` updates::

        y = J(x) + c
        x_i <- normalize(x_i + gamma * (Omega_i x_i + y_i - <y_i, x_i> x_i))

    with ``x_i`` the ``G = channels / n`` groups of ``n`` channels (per position for ``conv``),
    ``J`` the coupling (see :func:`kuramoto_step`) and ``Omega_i = A_i - A_i^T`` a learned
    antisymmetric matrix per group (its natural frequency). The energy is AKOrN's
    ``E(x) = -1/2 sum_i <J(x)_i, x_i> - sum_i <c_i, x_i>``.

    **When the energy decreases.** With ``Omega = 0`` (``omega=False``) and a symmetric linear
    ``J`` (``symmetric=True``; ``J_ij = J_ji^T``), the update is a projected gradient step of
    ``-E`` on the product of spheres, and ``E`` decreases at every step that moves ``x``
    whenever ``gamma * (R + max_i ||c_i||) <= 1/2``, with ``R = max_i sum_j ||J_ij||_2``
    (largest block-row sum of spectral norms of ``J``'s ``n x n`` blocks; it bounds ``||J||_2``
    and every ``||J(x)_i||``). Proof sketch: ``E(x') - E(x) <= -sum_i gamma ||g_i||^2 (1/r_i -
    gamma (R + max||c||))`` where ``g_i`` is the projected ``y_i`` and ``r_i =
    sqrt(1 + gamma^2 ||g_i||^2) <= sqrt(1.25)``. With rotation, with attention (``J`` depends
    on ``x``) or with a non-symmetric ``J`` there is no such guarantee.

    Parameters
    ----------
    channels : int
        Number of channels, a multiple of ``n``.
    n : int, default=4
        Oscillator dimension (``n >= 2``).
    steps : int, default=3
        Number of updates ``T``.
    gamma : float, default=1.0
        Step size (dimensionless; there is no physical time here).
    coupling : {"linear", "conv", "attention"}, default="linear"
        ``linear`` and ``attention`` take ``(batch, channels)``; ``conv`` takes
        ``(batch, channels, H, W)``.
    kernel_size : int or None, default=None
        Odd kernel size of the conv coupling; None means 3. Only for ``coupling="conv"``.
    heads : int or None, default=None
        Attention heads (each ``n`` wide); None means 1. Only for ``coupling="attention"``.
    omega : bool, default=True
        Learn a natural frequency ``Omega_i`` per group, or none (``Omega = 0``).
    omega_init : float, default=0.1
        Standard deviation of the normal init of ``A`` (our choice; ``Omega = A - A^T``).
    symmetric : bool, default=False
        Use ``(J + J^T) / 2`` (linear: ``(W + W^T) / 2``; conv: the average of the kernel and
        its channel-transposed, spatially flipped copy, which is the adjoint of the zero-padded
        convolution). Not available for attention.
    readout : {"linear", "y", "x"}, default="linear"
        What ``forward`` returns as ``out``, from the final oscillators ``x_T``:
        ``"linear"`` (AKOrN's readout): ``||(W_r x_T)_i|| + b_i``, the group norms of a learned
        channel mix plus a bias, shape ``(batch, G)`` (or ``(batch, G, H, W)``);
        ``"y"``: ``||y_i||`` with ``y = J(x_T) + c``, same shape, no parameters;
        ``"x"``: ``x_T`` itself, the shape of ``c``.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn._kuramoto import Kuramoto
    >>> _ = torch.manual_seed(0)
    >>> block = Kuramoto(16)                         # 4 oscillators of n = 4, T = 3 steps
    >>> c = torch.randn(8, 16)                       # conditioning stimulus, (batch, channels)
    >>> out, state = block(c, generator=torch.Generator().manual_seed(1))
    >>> out.shape, state.x.shape, state.energy.shape
    (torch.Size([8, 4]), torch.Size([8, 16]), torch.Size([8]))
    >>> torch.allclose(state.x.reshape(8, 4, 4).norm(dim=-1), torch.ones(8, 4))
    True
    >>> conv = Kuramoto(8, n=2, coupling="conv")
    >>> conv(torch.randn(2, 8, 5, 5))[0].shape       # (batch, G, H, W)
    torch.Size([2, 4, 5, 5])
    """

    def __init__(
        self,
        channels: int,
        *,
        n: int = 4,
        steps: int = 3,
        gamma: float = 1.0,
        coupling: str = "linear",
        kernel_size: int | None = None,
        heads: int | None = None,
        omega: bool = True,
        omega_init: float = 0.1,
        symmetric: bool = False,
        readout: str = "linear",
    ) -> None:
        super().__init__()
        n = check_scalar("n", n, int, low=2, what="oscillator dimension")
        channels = check_scalar("channels", channels, int, low=n,
                                what="number of channels, a multiple of n")
        if channels % n:
            raise ValueError(
                f"Invalid value for 'channels': expected a multiple of n={n} (channels are split "
                f"into oscillators of n dimensions); got {channels}. Use e.g. channels="
                f"{(channels // n + 1) * n}."
            )
        steps = check_scalar("steps", steps, int, low=1, what="number of updates T")
        gamma = check_scalar("gamma", gamma, float, low=0, closed="neither", what="step size")
        _check_option("coupling", coupling, _COUPLINGS)
        _check_option("readout", readout, _READOUTS)
        if kernel_size is not None and coupling != "conv":
            raise ValueError(
                f"Invalid value for 'kernel_size': only coupling='conv' has a kernel; got "
                f"kernel_size={kernel_size!r} with coupling={coupling!r}. Drop kernel_size."
            )
        if heads is not None and coupling != "attention":
            raise ValueError(
                f"Invalid value for 'heads': only coupling='attention' has heads; got heads={heads!r} "
                f"with coupling={coupling!r}. Drop heads."
            )
        if symmetric and coupling == "attention":
            raise ValueError(
                "Invalid value for 'symmetric': the attention coupling depends on x, so it has no "
                "transpose to symmetrise; got symmetric=True with coupling='attention'. Use "
                "coupling='linear' or 'conv', or symmetric=False."
            )
        omega_init = check_scalar("omega_init", omega_init, float, low=0,
                                  what="standard deviation of the natural-frequency init")
        self.channels, self.n, self.steps, self.gamma = channels, n, steps, float(gamma)
        self.coupling, self.readout, self.symmetric = coupling, readout, bool(symmetric)
        groups = channels // n
        if coupling == "linear":
            self.weight = nn.Parameter(nn.Linear(channels, channels, bias=False).weight.detach().clone())
        elif coupling == "conv":
            kernel_size = 3 if kernel_size is None else kernel_size
            kernel_size = check_scalar("kernel_size", kernel_size, int, low=1, what="odd kernel size")
            if kernel_size % 2 == 0:
                raise ValueError(
                    f"Invalid value for 'kernel_size': expected an odd integer (the output keeps "
                    f"the input's size); got {kernel_size}. Use {kernel_size + 1}."
                )
            conv = nn.Conv2d(channels, channels, kernel_size, bias=False)
            self.weight = nn.Parameter(conv.weight.detach().clone())
        else:
            heads = 1 if heads is None else heads
            heads = check_scalar("heads", heads, int, low=1, what="number of attention heads")
            self.w_q, self.w_k, self.w_v = (
                nn.Parameter(nn.Linear(n, heads * n, bias=False).weight.detach().clone()) for _ in range(3)
            )
            self.w_o = nn.Parameter(nn.Linear(heads * n, n, bias=False).weight.detach().clone())
        self.kernel_size, self.heads = kernel_size, heads
        if omega:
            self.omega_param: nn.Parameter | None = nn.Parameter(torch.randn(groups, n, n) * omega_init)
        else:
            self.omega_param = None
        if readout == "linear":
            self.readout_weight = nn.Parameter(
                nn.Linear(channels, channels, bias=False).weight.detach().clone())
            self.readout_bias = nn.Parameter(torch.zeros(groups))

    @property
    def omega(self) -> Tensor | None:
        """Natural frequencies ``A - A^T``, (G, n, n), or None."""
        if self.omega_param is None:
            return None
        return self.omega_param - self.omega_param.transpose(-1, -2)

    def params(self) -> KuramotoParams:
        """The :class:`KuramotoParams` of this block (differentiable w.r.t. its parameters)."""
        if self.coupling == "attention":
            weights: tuple[Tensor, ...] = (self.w_q, self.w_k, self.w_v, self.w_o)
        elif not self.symmetric:
            weights = (self.weight,)
        elif self.coupling == "linear":
            weights = ((self.weight + self.weight.T) / 2,)
        else:
            weights = ((self.weight + self.weight.transpose(0, 1).flip(-1, -2)) / 2,)
        return KuramotoParams(weights, self.omega)

    def _check_c(self, c: Any) -> None:
        spatial = self.coupling == "conv"
        layout = "(batch, channels, H, W)" if spatial else "(batch, channels)"
        if not isinstance(c, Tensor) or c.dim() != (4 if spatial else 2) or c.shape[1] != self.channels:
            got = tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__
            raise ValueError(
                f"Invalid value for 'c': expected a tensor of shape {layout} with channels="
                f"{self.channels} for coupling={self.coupling!r}; got {got}."
            )

    def forward(
        self, c: Tensor, x0: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, KuramotoState]:
        """Run ``steps`` updates from ``x0`` under the stimulus ``c``.

        Parameters
        ----------
        c : Tensor, (batch, channels), or (batch, channels, H, W) for ``coupling="conv"``
            Conditioning stimulus (normalise it upstream if you want AKOrN's setting, e.g. with
            a LayerNorm as in :class:`KuramotoClassifier`).
        x0 : Tensor or None, same shape as ``c``
            Initial oscillators; each group is normalised to unit length first. None draws them
            from a standard normal (with ``generator``) and normalises.
        generator : torch.Generator or None
            Seeds the random ``x0``; not allowed together with ``x0``.

        Returns
        -------
        out : Tensor
            The readout (class docstring): ``(batch, G)`` / ``(batch, G, H, W)`` for
            ``"linear"`` and ``"y"``, the shape of ``c`` for ``"x"``.
        state : KuramotoState
            ``x_T`` and ``E(x_T)``.

        Notes
        -----
        Emits ``x`` (T, batch, channels[, H, W]), the oscillators after each step, and
        ``energy`` (T, batch), ``E`` of those same states.
        """
        self._check_c(c)
        if x0 is None:
            x = torch.randn(c.shape, generator=generator, dtype=c.dtype, device=c.device)
        else:
            if generator is not None:
                raise ValueError(
                    "Invalid value for 'generator': it seeds a random x0, but x0 was given; got "
                    "both. Pass x0 or generator, not both."
                )
            if not isinstance(x0, Tensor) or x0.shape != c.shape:
                got = tuple(x0.shape) if isinstance(x0, Tensor) else type(x0).__name__
                raise ValueError(
                    f"Invalid value for 'x0': expected a tensor of the shape of c, {tuple(c.shape)}; "
                    f"got {got}."
                )
            x = x0
        x = _normalize(_groups(x, self.n)).flatten(1, 2)
        p = self.params()
        kw: dict[str, Any] = {"n": self.n, "coupling": self.coupling}
        xs, energies = [], []
        for _ in range(self.steps):
            x, e = kuramoto_step(x, c, p, gamma=self.gamma, **kw)
            xs.append(x)
            energies.append(e)
        jx = _COUPLINGS[self.coupling](x, p.coupling, self.n)
        e_last = _energy(_groups(x, self.n), _groups(jx, self.n), _groups(c, self.n))
        x_seq = torch.stack(xs)
        energy_seq = torch.stack(energies[1:] + [e_last])
        out = _READOUTS[self.readout](self, x, jx + c)
        emit(self, step=False, x=x_seq, energy=energy_seq)
        return out, KuramotoState(x, e_last)

    def extra_repr(self) -> str:
        extra = ""
        if self.coupling == "conv":
            extra = f", kernel_size={self.kernel_size}"
        elif self.coupling == "attention":
            extra = f", heads={self.heads}"
        return (
            f"{self.channels}, n={self.n}, steps={self.steps}, gamma={self.gamma}, "
            f"coupling={self.coupling!r}{extra}, omega={self.omega_param is not None}, "
            f"symmetric={self.symmetric}, readout={self.readout!r}"
        )


class KuramotoClassifier(nn.Module):
    """A small AKOrN classifier: features -> stimulus -> Kuramoto block -> linear head.

    ``c = LayerNorm(Linear(x))``; ``h = Kuramoto(c).out`` (AKOrN's ``"linear"`` readout,
    ``(batch, channels / n)``); ``logits = Linear(h)``. It shows the block inside an ordinary
    torch model: ``out`` is a plain tensor, the state is dropped.

    Parameters
    ----------
    n_in : int
        Input features.
    n_classes : int
        Number of classes.
    channels : int, default=64
        Oscillator channels (a multiple of ``n``).
    **kuramoto
        Passed to :class:`Kuramoto` (``n``, ``steps``, ``gamma``, ``coupling`` = ``"linear"``
        or ``"attention"``, ...).

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn._kuramoto import KuramotoClassifier
    >>> _ = torch.manual_seed(0)
    >>> model = KuramotoClassifier(10, 3, channels=16)
    >>> x, labels = torch.randn(32, 10), torch.randint(0, 3, (32,))
    >>> opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    >>> losses = []
    >>> for _ in range(20):
    ...     opt.zero_grad()
    ...     loss = torch.nn.functional.cross_entropy(model(x), labels)
    ...     loss.backward()
    ...     opt.step()
    ...     losses.append(loss.item())
    >>> losses[-1] < losses[0]
    True
    """

    def __init__(self, n_in: int, n_classes: int, *, channels: int = 64, **kuramoto: Any) -> None:
        super().__init__()
        n_in = check_scalar("n_in", n_in, int, low=1, what="number of input features")
        n_classes = check_scalar("n_classes", n_classes, int, low=1, what="number of classes")
        if kuramoto.get("coupling", "linear") == "conv":
            raise ValueError(
                "Invalid value for 'coupling': KuramotoClassifier takes (batch, n_in) features, so "
                "it needs coupling='linear' or 'attention'; got 'conv'. Build a conv model from "
                "Kuramoto(coupling='conv') directly."
            )
        readout = kuramoto.pop("readout", "linear")
        if readout == "x":
            raise ValueError(
                "Invalid value for 'readout': the head reads one value per oscillator, so it needs "
                "readout='linear' or 'y'; got 'x'."
            )
        self.stimulus = nn.Sequential(nn.Linear(n_in, channels), nn.LayerNorm(channels))
        self.kuramoto = Kuramoto(channels, readout=readout, **kuramoto)
        self.head = nn.Linear(channels // self.kuramoto.n, n_classes)

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Logits ``(batch, n_classes)`` for features ``x`` ``(batch, n_in)``."""
        out, _ = self.kuramoto(self.stimulus(x), generator=generator)
        return self.head(out)
