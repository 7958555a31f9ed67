"""Surrogate gradients of the spike function (STYLE 17).

A spiking neuron fires when its membrane potential ``U`` reaches the threshold ``theta``:
``S = H(x)`` with ``x = U - theta`` and the Heaviside step

.. math:: H(x) = 1 \\text{ if } x \\ge 0 \\text{ else } 0.

Convention at the tie ``x == 0``: brainbridge fires (``x >= 0``), as spikingjelly's
``surrogate.heaviside`` does; snntorch fires only for ``x > 0`` (``U > threshold``). The two
differ only when the potential equals the threshold exactly, which has probability zero for
continuous inputs but happens with hand-made ones (e.g. an input of exactly ``theta``).

The derivative of ``H`` is zero almost everywhere, so training replaces it in the backward pass
by a smooth "surrogate" ``dS/dx = sigma'(x)`` (Neftci, Mostafa & Zenke 2019, IEEE Signal
Processing Magazine 36(6), 51-63). Each surrogate here is a ``torch.autograd.Function`` with
``forward`` (the exact step, in the input's dtype), ``setup_context`` and ``backward`` (the
surrogate derivative times the incoming gradient):

================== ====================================================== =============
name               ``dS/dx``                                              default scale
================== ====================================================== =============
``fast_sigmoid``   ``1 / (1 + k |x|)^2``                                  ``slope=25``
``arctan``         ``(a / 2) / (1 + (pi a x / 2)^2)``                     ``alpha=2``
``sigmoid``        ``a sig(a x) (1 - sig(a x))``                          ``alpha=4``
``triangle``       ``max(0, 1 - |x| / w) / w``                            ``width=1``
``straight_through`` ``1 if |x| < w else 0`` (``w = inf``: always 1)      ``width=inf``
================== ====================================================== =============

Use them as functions (``surrogate.arctan(x, alpha=2.0)``), by name through :data:`SURROGATES`,
or as a :class:`Surrogate` object (a name and a scale) that the LIF layers also accept: a
:class:`Surrogate` exposes its analytic derivative, which the fused multi-step path uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._checks import _check_option, check_scalar

__all__ = ["SURROGATES", "DEFAULT_SCALES", "Surrogate", "resolve", "heaviside", "fast_sigmoid",
           "arctan", "sigmoid", "triangle", "straight_through", "FastSigmoid", "ArcTan",
           "Sigmoid", "Triangle", "StraightThrough"]


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Exact spike function ``H(x) = 1 if x >= 0 else 0``, in the dtype of ``x`` (no gradient).

    >>> import torch
    >>> heaviside(torch.tensor([-0.5, 0.0, 0.5]))
    tensor([0., 1., 1.])
    """
    return (x >= 0).to(x.dtype)


# ---------------------------------------------------------------- analytic derivatives
def _d_fast_sigmoid(x: torch.Tensor, slope: float) -> torch.Tensor:
    return (1.0 + slope * x.abs()).pow(-2)


def _d_arctan(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return (alpha / 2.0) / (1.0 + (math.pi / 2.0 * alpha * x).square())


def _d_sigmoid(x: torch.Tensor, alpha: float) -> torch.Tensor:
    sg = torch.sigmoid(alpha * x)
    return alpha * sg * (1.0 - sg)


def _d_triangle(x: torch.Tensor, width: float) -> torch.Tensor:
    return (1.0 - x.abs() / width).clamp(min=0.0) / width


def _d_straight_through(x: torch.Tensor, width: float) -> torch.Tensor:
    if math.isinf(width):
        return torch.ones_like(x)
    return (x.abs() < width).to(x.dtype)


class _SpikeFunction(torch.autograd.Function):
    """Shared forward / setup_context; subclasses set ``_derivative``."""

    @staticmethod
    def forward(x: torch.Tensor, scale: float) -> torch.Tensor:
        return (x >= 0).to(x.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, scale = inputs
        ctx.save_for_backward(x)
        ctx.scale = scale


class FastSigmoid(_SpikeFunction):
    """SuperSpike surrogate (Zenke & Ganguli 2018, Neural Computation 30(6), 1514-1541).

    Forward ``H(x)``; backward ``dS/dx = 1 / (1 + k |x|)^2``, the derivative of the fast
    sigmoid ``x / (1 + k |x|)`` up to the factor ``k``; ``k`` is the slope (snntorch default 25).

    Examples
    --------
    At ``k |x| = 1`` the gradient is ``1 / 2^2``:

    >>> import torch
    >>> from brainbridge.snn.surrogate import FastSigmoid
    >>> x = torch.tensor([0.04], requires_grad=True)
    >>> FastSigmoid.apply(x, 25.0).sum().backward()
    >>> x.grad
    tensor([0.2500])
    """

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * _d_fast_sigmoid(x, ctx.scale), None


class ArcTan(_SpikeFunction):
    """Arctangent surrogate (Fang et al. 2021, ICCV, "Incorporating learnable membrane time
    constant ...").

    Forward ``H(x)``; backward ``dS/dx = (alpha / 2) / (1 + (pi alpha x / 2)^2)``, the derivative
    of ``arctan(pi alpha x / 2) / pi + 1/2`` (spikingjelly and snntorch default ``alpha = 2``).

    Examples
    --------
    At ``pi alpha x / 2 = 1`` the gradient is half the peak ``alpha / 2``:

    >>> import math
    >>> import torch
    >>> from brainbridge.snn.surrogate import ArcTan
    >>> x = torch.tensor([1 / math.pi], requires_grad=True)
    >>> ArcTan.apply(x, 2.0).sum().backward()
    >>> x.grad
    tensor([0.5000])
    """

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * _d_arctan(x, ctx.scale), None


class Sigmoid(_SpikeFunction):
    """Sigmoid surrogate (Neftci, Mostafa & Zenke 2019; spikingjelly ``Sigmoid``).

    Forward ``H(x)``; backward ``dS/dx = alpha sig(alpha x) (1 - sig(alpha x))`` with
    ``sig`` the logistic function (spikingjelly default ``alpha = 4``).

    Examples
    --------
    The peak is ``alpha / 4`` at ``x = 0``:

    >>> import torch
    >>> from brainbridge.snn.surrogate import Sigmoid
    >>> x = torch.tensor([0.0, 1.0], requires_grad=True)
    >>> Sigmoid.apply(x, 4.0).sum().backward()
    >>> x.grad
    tensor([1.0000, 0.0707])
    """

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * _d_sigmoid(x, ctx.scale), None


class Triangle(_SpikeFunction):
    """Triangular (piecewise-linear) surrogate (Esser et al. 2016, PNAS 113(41); Bellec et al.
    2018, NeurIPS).

    Forward ``H(x)``; backward ``dS/dx = max(0, 1 - |x| / w) / w``: a triangle of half-width
    ``w`` (default 1) and unit area. Bellec et al. use ``0.3 max(0, 1 - |x|)``, i.e. ``w = 1``
    times a dampening factor 0.3 that can be folded into the learning rate.

    Examples
    --------
    With ``w = 2``: ``(1 - 1/2) / 2`` at ``x = 1``, and 0 outside the triangle:

    >>> import torch
    >>> from brainbridge.snn.surrogate import Triangle
    >>> x = torch.tensor([1.0, 3.0], requires_grad=True)
    >>> Triangle.apply(x, 2.0).sum().backward()
    >>> x.grad
    tensor([0.2500, 0.0000])
    """

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * _d_triangle(x, ctx.scale), None


class StraightThrough(_SpikeFunction):
    """Straight-through estimator (Bengio, Leonard & Courville 2013, arXiv:1308.3432).

    Forward ``H(x)``; backward ``dS/dx = 1`` where ``|x| < w`` and 0 elsewhere; the default
    ``w = inf`` passes the gradient unchanged everywhere.

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from brainbridge.snn.surrogate import StraightThrough
    >>> x = torch.tensor([-3.0, 0.5], requires_grad=True)
    >>> s = StraightThrough.apply(x, math.inf)
    >>> s.sum().backward()
    >>> s.detach(), x.grad
    (tensor([0., 1.]), tensor([1., 1.]))
    """

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * _d_straight_through(x, ctx.scale), None


def _check_scale(name: str, value: Any, default: float) -> float:
    """A sharpness > 0 as a float (``inf`` too: the window of :func:`straight_through`)."""
    if isinstance(value, float) and value == math.inf:
        return math.inf
    return check_scalar(name, value, float, low=0, closed="neither",
                        what="the surrogate's sharpness", fix=f"Pass e.g. {name}={default}.")


def fast_sigmoid(x: torch.Tensor, slope: float = 25.0) -> torch.Tensor:
    """Spike ``H(x)`` with the SuperSpike surrogate ``dS/dx = 1 / (1 + slope |x|)^2``.

    Parameters
    ----------
    x : Tensor, any shape
        Membrane potential minus threshold, ``U - theta``.
    slope : float, default=25.0
        ``k`` in the derivative; larger is sharper (Zenke & Ganguli 2018).

    Returns
    -------
    Tensor, same shape and dtype as ``x``, values 0 or 1.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([-0.1, 0.0, 0.2], requires_grad=True)
    >>> s = fast_sigmoid(x, slope=25.0)
    >>> s.sum().backward()
    >>> s.detach(), x.grad
    (tensor([0., 1., 1.]), tensor([0.0816, 1.0000, 0.0278]))
    """
    return FastSigmoid.apply(x, _check_scale("slope", slope, DEFAULT_SCALES["fast_sigmoid"]))


def arctan(x: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Spike ``H(x)`` with the arctangent surrogate ``dS/dx = (alpha/2) / (1 + (pi alpha x/2)^2)``.

    Parameters
    ----------
    x : Tensor, any shape
        ``U - theta``.
    alpha : float, default=2.0
        Sharpness; the peak derivative is ``alpha / 2`` (Fang et al. 2021).

    Returns
    -------
    Tensor, same shape and dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([0.0, 0.5], requires_grad=True)
    >>> arctan(x).sum().backward()
    >>> x.grad
    tensor([1.0000, 0.2884])
    """
    return ArcTan.apply(x, _check_scale("alpha", alpha, DEFAULT_SCALES["arctan"]))


def sigmoid(x: torch.Tensor, alpha: float = 4.0) -> torch.Tensor:
    """Spike ``H(x)`` with the sigmoid surrogate ``dS/dx = alpha sig(alpha x)(1 - sig(alpha x))``.

    Parameters
    ----------
    x : Tensor, any shape
        ``U - theta``.
    alpha : float, default=4.0
        Sharpness; the peak derivative is ``alpha / 4``.

    Returns
    -------
    Tensor, same shape and dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([0.0, 0.5], requires_grad=True)
    >>> sigmoid(x).sum().backward()
    >>> x.grad
    tensor([1.0000, 0.4200])
    """
    return Sigmoid.apply(x, _check_scale("alpha", alpha, DEFAULT_SCALES["sigmoid"]))


def triangle(x: torch.Tensor, width: float = 1.0) -> torch.Tensor:
    """Spike ``H(x)`` with the triangular surrogate ``dS/dx = max(0, 1 - |x|/width) / width``.

    Parameters
    ----------
    x : Tensor, any shape
        ``U - theta``.
    width : float, default=1.0
        Half-width of the triangle, in units of the potential; its area is 1.

    Returns
    -------
    Tensor, same shape and dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([0.0, 0.5, 2.0], requires_grad=True)
    >>> triangle(x).sum().backward()
    >>> x.grad
    tensor([1.0000, 0.5000, 0.0000])
    """
    return Triangle.apply(x, _check_scale("width", width, DEFAULT_SCALES["triangle"]))


def straight_through(x: torch.Tensor, width: float = math.inf) -> torch.Tensor:
    """Spike ``H(x)`` with the straight-through gradient ``dS/dx = 1 if |x| < width else 0``.

    Parameters
    ----------
    x : Tensor, any shape
        ``U - theta``.
    width : float, default=inf
        Window of the gradient; ``inf`` passes it everywhere.

    Returns
    -------
    Tensor, same shape and dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([0.0, 0.5, 2.0], requires_grad=True)
    >>> straight_through(x, width=1.0).sum().backward()
    >>> x.grad
    tensor([1., 1., 0.])
    """
    return StraightThrough.apply(x, _check_scale("width", width, DEFAULT_SCALES["straight_through"]))


#: name -> spike function ``f(x, scale)``.
SURROGATES: dict[str, Callable[..., torch.Tensor]] = {
    "fast_sigmoid": fast_sigmoid,
    "arctan": arctan,
    "sigmoid": sigmoid,
    "triangle": triangle,
    "straight_through": straight_through,
}

#: name -> default scale (the second argument of the function).
DEFAULT_SCALES: dict[str, float] = {
    "fast_sigmoid": 25.0,
    "arctan": 2.0,
    "sigmoid": 4.0,
    "triangle": 1.0,
    "straight_through": math.inf,
}


def _d_arctan_(z: torch.Tensor, alpha: float) -> torch.Tensor:
    return z.mul_(math.pi / 2.0 * alpha).square_().add_(1.0).reciprocal_().mul_(alpha / 2.0)


def _d_fast_sigmoid_(z: torch.Tensor, slope: float) -> torch.Tensor:
    return z.abs_().mul_(slope).add_(1.0).square_().reciprocal_()


def _d_sigmoid_(z: torch.Tensor, alpha: float) -> torch.Tensor:
    sg = z.mul_(alpha).sigmoid_()
    return sg.sub_(sg.square()).mul_(alpha)


# in-place versions (overwrite a temporary ``z``) used by the fused LIF backward
_DERIVATIVES_INPLACE: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "fast_sigmoid": _d_fast_sigmoid_,
    "arctan": _d_arctan_,
    "sigmoid": _d_sigmoid_,
}

_DERIVATIVES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "fast_sigmoid": _d_fast_sigmoid,
    "arctan": _d_arctan,
    "sigmoid": _d_sigmoid,
    "triangle": _d_triangle,
    "straight_through": _d_straight_through,
}


@dataclass(frozen=True)
class Surrogate:
    """A named surrogate and its scale: callable as the spike function, with its derivative.

    Parameters
    ----------
    name : str
        A key of :data:`SURROGATES`.
    scale : float or None, default=None
        Its sharpness parameter (``slope``, ``alpha`` or ``width``); None takes
        ``DEFAULT_SCALES[name]``.

    Examples
    --------
    >>> import torch
    >>> sg = Surrogate("arctan")
    >>> sg.scale
    2.0
    >>> sg(torch.tensor([-1.0, 1.0])), sg.derivative(torch.tensor([0.0]))
    (tensor([0., 1.]), tensor([1.]))
    """

    name: str
    scale: float | None = None

    def __post_init__(self) -> None:
        _check_option("surrogate", self.name, SURROGATES)
        default = DEFAULT_SCALES[self.name]
        scale = default if self.scale is None else _check_scale("scale", self.scale, default)
        object.__setattr__(self, "scale", float(scale))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return SURROGATES[self.name](x, self.scale)

    def derivative(self, x: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
        """The analytic ``dS/dx`` at ``x`` (no autograd), same dtype as ``x``.

        With ``inplace=True`` the result may overwrite ``x`` (pass a temporary).
        """
        if inplace and self.name in _DERIVATIVES_INPLACE:
            return _DERIVATIVES_INPLACE[self.name](x, float(self.scale))  # type: ignore[arg-type]
        return _DERIVATIVES[self.name](x, float(self.scale))  # type: ignore[arg-type]


def resolve(surrogate: str | Surrogate | Callable[[torch.Tensor], torch.Tensor],
            scale: float | None = None) -> Surrogate | Callable[[torch.Tensor], torch.Tensor]:
    """Turn a name, a :class:`Surrogate` or a callable into a spike function.

    Parameters
    ----------
    surrogate : str, Surrogate or callable
        A key of :data:`SURROGATES`, a :class:`Surrogate`, or any ``f(x) -> spikes``
        (e.g. ``functools.partial(arctan, alpha=3.0)``; such callables get no fused backward).
    scale : float or None, default=None
        Scale for a name; None takes its default. Not allowed with a callable.

    Returns
    -------
    Surrogate or callable

    Examples
    --------
    >>> resolve("sigmoid")
    Surrogate(name='sigmoid', scale=4.0)
    >>> resolve("fast_sigmoid", scale=10)
    Surrogate(name='fast_sigmoid', scale=10.0)
    """
    if isinstance(surrogate, str):
        return Surrogate(surrogate, scale)
    if isinstance(surrogate, Surrogate):
        if scale is not None:
            return Surrogate(surrogate.name, scale)
        return surrogate
    if callable(surrogate):
        if scale is not None:
            raise ValueError(
                f"Invalid value for 'scale': a scale applies only to a named surrogate; got "
                f"scale={scale!r} with the callable {surrogate!r}. Bind it in the callable "
                "instead, e.g. functools.partial(surrogate.arctan, alpha=3.0)."
            )
        return surrogate
    names = ", ".join(repr(n) for n in SURROGATES)
    raise ValueError(
        f"Invalid value for 'surrogate': expected one of {names}, a Surrogate or a callable; "
        f"got {surrogate!r}."
    )
