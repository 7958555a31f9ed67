"""Small sequence models for the tasks: LIF network, ELM, LSTM (the model zoo of ``train``).

:func:`build_model` makes one by name (:data:`MODELS`), sized for a
:class:`~brainbridge.snn.Task`: each maps a time-first ``(T, batch, n_in)`` input to
``(T, batch, n_out)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .._checks import _check_option, check_scalar
from ._tasks import Task, _int_seed

__all__ = ["build_model", "MODELS"]


def _lif_net(task: Task, hidden: int, **options: Any) -> Any:
    from ._lif import LIF, RLIF

    class LIFNet(torch.nn.Module):
        """Linear -> (recurrent) LIF layer -> linear leaky-integrator readout.

        ``y_t = a y_{t-1} + (1 - a) (W s_t) + b`` with ``a = exp(-1 / readout_tau)``: a
        non-spiking output neuron that integrates the hidden spikes ``s_t``.
        """

        def __init__(self, n_in: int, n_hidden: int, n_out: int, *, recurrent: bool = True,
                     beta: float = 0.9, learn_beta: bool = True, readout_tau: float = 5.0,
                     threshold: float = 1.0) -> None:
            super().__init__()
            self.inp = torch.nn.Linear(n_in, n_hidden)
            kw: dict[str, Any] = {"beta": beta, "learn_beta": learn_beta, "threshold": threshold}
            self.lif = (RLIF(n_hidden, **kw) if recurrent
                        else LIF(shape=n_hidden if learn_beta else None, **kw))
            self.out = torch.nn.Linear(n_hidden, n_out)
            self.decay = math.exp(-1.0 / readout_tau)

        def forward(self, x_seq: Any) -> Any:
            spikes, _ = self.lif.forward_seq(self.inp(x_seq))
            drive = (1.0 - self.decay) * torch.nn.functional.linear(spikes, self.out.weight)
            y, ys = torch.zeros_like(drive[0]), []
            for t in range(drive.shape[0]):
                y = self.decay * y + drive[t]
                ys.append(y)
            return torch.stack(ys) + self.out.bias

    return LIFNet(task.n_in, hidden, task.n_out, **options)


def _elm_net(task: Task, hidden: int, **options: Any) -> Any:
    from ._elm import ELM

    return ELM(task.n_in, task.n_out, n_memory=hidden, **options)


def _lstm_net(task: Task, hidden: int, **options: Any) -> Any:
    class LSTMNet(torch.nn.Module):
        """``nn.LSTM`` followed by a linear readout at every step."""

        def __init__(self, n_in: int, n_hidden: int, n_out: int, **kw: Any) -> None:
            super().__init__()
            self.rnn = torch.nn.LSTM(n_in, n_hidden, **kw)
            self.out = torch.nn.Linear(n_hidden, n_out)

        def forward(self, x_seq: Any) -> Any:
            return self.out(self.rnn(x_seq)[0])

    return LSTMNet(task.n_in, hidden, task.n_out, **options)


#: Model name -> factory ``(task, hidden, **options) -> nn.Module`` mapping a time-first
#: ``(T, batch, n_in)`` input to ``(T, batch, n_out)``.
MODELS: dict[str, Callable[..., Any]] = {"lif": _lif_net, "elm": _elm_net, "lstm": _lstm_net}


def build_model(name: str, task: Task, *, hidden: int = 64, random_state: Any = 0, **options: Any) -> Any:
    """A small network for ``task``, initialised after ``torch.manual_seed(random_state)``.

    * ``"lif"``: ``Linear(n_in, hidden)`` -> :class:`~brainbridge.snn._lif.RLIF` (recurrent
      LIF, learnable per-neuron ``beta`` starting at 0.9, threshold 1, arctan surrogate) ->
      a leaky-integrator readout ``y_t = a y_{t-1} + (1 - a) W s_t + b``, ``a = exp(-1/5)``.
      Options: ``recurrent``, ``beta``, ``learn_beta``, ``readout_tau`` (steps), ``threshold``.
    * ``"elm"``: one :class:`~brainbridge.snn._elm.ELM` layer with ``n_memory=hidden`` (its
      defaults otherwise: ``tau_m`` log-spaced in [1, 1000] steps); options go to ``ELM``.
    * ``"lstm"``: ``nn.LSTM(n_in, hidden)`` and a linear readout.

    Parameters
    ----------
    name : {"lif", "elm", "lstm"}
    task : Task
        Gives ``n_in`` and ``n_out``.
    hidden : int, default=64
        Hidden neurons, memory units or LSTM cells.
    random_state : int, Generator or None, default=0
        Seed of the initial weights (an int is passed to ``torch.manual_seed``; a Generator
        or None draws one).
    **options
        Passed to the model (see above).

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> from brainbridge.snn import build_model, memory_task
    >>> task = memory_task(4, n_symbols=3, n_train=6, n_test=2)
    >>> model = build_model("lstm", task, hidden=8)
    >>> tuple(model(task.x_train).shape)
    (5, 6, 3)
    """
    _check_option("model", name, MODELS)
    hidden = check_scalar("hidden", hidden, int, low=1, what="hidden size")
    torch.manual_seed(_int_seed(random_state))
    return MODELS[name](task, hidden, **options)
