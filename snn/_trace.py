"""Tracing hook shared by every neuron layer: how `record` sees spikes, potentials and phases.

A layer never stores its hidden state (STYLE 16). Instead, while :func:`tracing` is active,
each layer hands the tensors it computed to the active callback with :func:`emit`:

* single step (``forward``): ``emit(self, step=True, spikes=s, v=v)`` with ``(batch, ...)``
  tensors, once per call;
* multi-step (``forward_seq``): ``emit(self, step=False, spikes=s_seq, v=v_seq)`` with
  time-first ``(T, batch, ...)`` tensors, once per call.

The names are free (``spikes``, ``v``, ``m``, ``phase``, ...); `record` turns each into a
variable of the returned assembly. Outside :func:`tracing` ``emit`` costs one context-variable
lookup and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_TRACER: ContextVar[Callable[..., None] | None] = ContextVar("brainbridge_snn_tracer", default=None)


def emit(module: Any, *, step: bool, **tensors: Any) -> None:
    """Pass ``tensors`` computed by ``module`` to the active tracer, if any.

    Parameters
    ----------
    module : torch.nn.Module
        The layer that computed them.
    step : bool
        True for one time step (``(batch, ...)`` tensors), False for a time-first sequence
        (``(T, batch, ...)``).
    **tensors : torch.Tensor
        Named traces (detached and copied by the tracer, never by the layer).

    Examples
    --------
    >>> from brainbridge.snn._trace import emit, tracing
    >>> seen = []
    >>> emit("layer", step=True, v=0.5)      # no tracer: nothing happens
    >>> with tracing(lambda module, step, tensors: seen.append((module, step, tensors))):
    ...     emit("layer", step=True, v=0.5)
    >>> seen
    [('layer', True, {'v': 0.5})]
    """
    callback = _TRACER.get()
    if callback is not None:
        callback(module, step, tensors)


@contextmanager
def tracing(callback: Callable[[Any, bool, dict[str, Any]], None]) -> Iterator[None]:
    """Make ``callback(module, step, tensors)`` receive every :func:`emit` inside the block.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn import LIF
    >>> from brainbridge.snn._trace import tracing
    >>> seen = []
    >>> with tracing(lambda module, step, tensors: seen.append((type(module).__name__, step,
    ...                                                         sorted(tensors)))):
    ...     _ = LIF(beta=0.9)(torch.ones(2, 3))
    >>> seen
    [('LIF', True, ['spikes', 'v'])]
    """
    token = _TRACER.set(callback)
    try:
        yield
    finally:
        _TRACER.reset(token)
