"""Record spikes, membrane potentials and other traces of a network as assemblies.

Works with the brainbridge layers (which hand their traces over with
:func:`brainbridge.snn._trace.emit`) and with networks built from snntorch or spikingjelly
neurons (read with forward hooks).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._assembly import SCHEMA_VERSION, validate
from .._checks import AssemblyError, _check_option, _validate_type, check_scalar
from .._config import resolve_device
from ..ann import Units, unit_table
from ._trace import tracing

logger = logging.getLogger(__name__)


def _sum64(x: Any) -> Any:
    return x.sum(dim=1, dtype=torch.float64)


#: ``readout`` name -> function of a (stimulus, time, unit) tensor and ``dt``, giving
#: (stimulus, unit). Sums and means are accumulated in float64 and cast back.
READOUTS = {
    "count": lambda x, dt: _sum64(x).to(x.dtype),
    "rate": lambda x, dt: (_sum64(x) / (x.shape[1] * dt)).to(x.dtype),
    "mean": lambda x, dt: (_sum64(x) / x.shape[1]).to(x.dtype),
    "last": lambda x, dt: x[:, -1],
}

#: ``call`` name -> how the model is driven (see :func:`record`).
CALLS = ("sequence", "step")

#: ``units`` attr of a ``spikes`` assembly per readout (other traces are "a.u.").
_SPIKE_UNITS = {None: "count", "count": "count", "rate": "Hz", "mean": "count/step", "last": "count"}


def _peer_kind(module: Any) -> str | None:
    """``"snntorch"`` or ``"spikingjelly"`` for a neuron module of those libraries, else None.

    The libraries are never imported here: a network built with one has already imported it.
    """
    snntorch = sys.modules.get("snntorch")
    if snntorch is not None and isinstance(module, getattr(snntorch, "SpikingNeuron", ())):
        return "snntorch"
    sj = sys.modules.get("spikingjelly.activation_based.neuron")
    if sj is not None and isinstance(module, getattr(sj, "BaseNode", ())):
        return "spikingjelly"
    return None


def _reset_peers(peers: dict[Any, str]) -> None:
    """Clear the hidden state that snntorch / spikingjelly neurons keep between calls."""
    for module, kind in peers.items():
        if kind == "spikingjelly":
            module.reset()
        elif getattr(module, "init_hidden", False) and hasattr(module, "reset_mem"):
            module.reset_mem()


class _Collector:
    """Receives emitted and hooked traces during one batch."""

    def __init__(self) -> None:
        self.traces: dict[int, dict[str, list[Any]]] = {}
        self.steps: dict[int, bool] = {}
        self.modules: dict[int, Any] = {}

    def clear(self) -> None:
        self.traces.clear()
        self.steps.clear()

    def __call__(self, module: Any, step: bool, tensors: dict[str, Any]) -> None:
        key = id(module)
        self.modules[key] = module
        if key in self.steps and self.steps[key] != bool(step):
            raise AssemblyError(
                f"Module {type(module).__name__} emitted both single steps and whole sequences "
                "in one forward pass; call either its forward or its forward_seq, not both."
            )
        self.steps[key] = bool(step)
        per_name = self.traces.setdefault(key, {})
        for name, value in tensors.items():
            if value is None:
                continue
            per_name.setdefault(name, []).append(value.detach().to("cpu", copy=True))

    def hook(self, kind: str) -> Any:
        def snntorch_hook(module: Any, _inputs: Any, output: Any) -> None:
            if isinstance(output, (tuple, list)):
                spikes, v = output[0], output[-1]  # (spk, mem), (spk, syn, mem), ...
            else:
                spikes, v = output, getattr(module, "mem", None)
            self(module, True, {"spikes": spikes, "v": v})

        def spikingjelly_hook(module: Any, _inputs: Any, output: Any) -> None:
            if module.step_mode == "s":
                self(module, True, {"spikes": output, "v": module.v})
                return
            v_seq = getattr(module, "v_seq", None)
            if v_seq is None:
                logger.warning(
                    "%s runs in multi-step mode without store_v_seq=True; only its spikes are "
                    "recorded. Build it with store_v_seq=True to record 'v' too.",
                    type(module).__name__)
            self(module, False, {"spikes": output, "v": v_seq})

        return snntorch_hook if kind == "snntorch" else spikingjelly_hook


def _sequence(values: list[Any], step: bool) -> Any:
    """Time-first (T, batch, ...) tensor from the emits of one trace in one batch."""
    if step:
        return torch.stack(values, dim=0)
    return values[0] if len(values) == 1 else torch.cat(values, dim=0)


def _as_input(inputs: Any, time_dim: int, stimulus_ids: Sequence[Any] | None) -> tuple[Any, list[str]]:
    """Return a time-first (T, stimulus, ...) tensor and the stimulus ids."""
    if isinstance(inputs, xr.DataArray):
        for dim in ("stimulus", "time"):
            if dim not in inputs.dims:
                raise AssemblyError(
                    f"'inputs' is a DataArray without a {dim!r} dim (dims {tuple(inputs.dims)}); "
                    f"rename the dim that indexes {'stimuli' if dim == 'stimulus' else 'time steps'} "
                    f"to {dim!r}."
                )
        if stimulus_ids is None and "stimulus" in inputs.coords:
            stimulus_ids = [str(s) for s in inputs["stimulus"].values]
        x = torch.as_tensor(np.ascontiguousarray(inputs.transpose("time", "stimulus", ...).values))
    else:
        _validate_type("inputs", inputs, (np.ndarray, torch.Tensor),
                       "a tensor, an array or a DataArray with 'stimulus' and 'time' dims")
        _check_option("time_dim", time_dim, [0, 1])
        x = torch.as_tensor(np.ascontiguousarray(inputs)) if isinstance(inputs, np.ndarray) else inputs
        if x.ndim < 2:
            raise ValueError(
                f"Invalid value for 'inputs': expected at least 2 dims (stimulus and time); got "
                f"shape {tuple(x.shape)}. Add a time axis, e.g. inputs[:, None]."
            )
        if time_dim == 1:
            x = x.transpose(0, 1)
    n = x.shape[1]
    ids = [str(i) for i in (stimulus_ids if stimulus_ids is not None else range(n))]
    if len(ids) != n:
        raise ValueError(
            f"'stimulus_ids' has {len(ids)} ids but 'inputs' holds {n} stimuli; give one id per "
            "stimulus."
        )
    return x, ids


def _run_model(model: Any, x: Any, call: str) -> None:
    if call == "sequence":
        if hasattr(model, "forward_seq"):
            model.forward_seq(x)
        else:
            model(x)
        return
    state = None
    threaded = hasattr(model, "forward_seq")  # brainbridge layers return (out, state)
    for t in range(x.shape[0]):
        if threaded:
            _, state = model(x[t], state)
        else:
            model(x[t])


def _layer_names(model: Any) -> dict[int, str]:
    names = {id(m): name for name, m in model.named_modules()}
    names[id(model)] = type(model).__name__
    return names


def record(
    model: Any,
    inputs: Any,
    *,
    readout: str | None = None,
    unit_prefix: str = "",
    dt: float = 1e-3,
    time_dim: int = 1,
    call: str = "sequence",
    stimulus_ids: Sequence[Any] | None = None,
    device: Any = "auto",
    batch_size: int = 64,
    progress: bool | None = None,
) -> dict[str, xr.DataArray]:
    """Run a spiking or biophysical network and return what its neurons did as assemblies.

    Every trace a layer hands over during the forward pass becomes one assembly, keyed by its
    name: ``"spikes"`` and ``"v"`` for LIF layers (and for snntorch / spikingjelly neurons),
    ``"out"`` and ``"m"`` for ELM layers, ``"x"`` and ``"energy"`` for Kuramoto layers. The
    units of all layers that emit a trace are concatenated along ``unit``, like
    :func:`brainbridge.extract` does for ANN layers: a layer output of shape
    ``(batch, channel, *positions)`` per step gives unit ids ``"{prefix}{layer}:c{channel}"``
    (dense layers) or ``"{prefix}{layer}:c{channel}:{position}"`` (e.g. ``y4x5`` for
    convolutional maps), with unit coords ``layer``, ``channel`` and ``position``; ``layer``
    is the module path in ``model.named_modules()`` (the class name for the model itself).

    How traces are found:

    * brainbridge layers call ``emit`` (see :mod:`brainbridge.snn._trace`). Single-step emits
      of a layer are stacked over time; a multi-step (``forward_seq``) emit is used as is
      (several in one forward pass are joined along time).
    * snntorch neurons (subclasses of ``snntorch.SpikingNeuron``, e.g. ``Leaky``): a forward
      hook reads ``spikes`` and ``v`` from the returned ``(spk, mem)`` (``init_hidden=False``;
      the last element for ``Synaptic``/``Alpha``) or from ``spk`` and ``module.mem``
      (``init_hidden=True``), one step per call.
    * spikingjelly neurons (subclasses of ``BaseNode``, e.g. ``LIFNode``): the spikes returned
      and ``module.v`` in single-step mode; in multi-step mode ``module.v_seq``, which exists
      only with ``store_v_seq=True`` (otherwise only spikes are recorded, with a logged warning).

    The hidden state that peer neurons keep between calls (spikingjelly memories, snntorch
    ``init_hidden`` membranes) is reset before every batch and after the run, so each batch
    starts from rest. The model runs in eval mode under ``torch.no_grad``; its training flag
    and device are restored afterwards.

    Parameters
    ----------
    model : torch.nn.Module
        The network, or a single layer.
    inputs : tensor, array or DataArray
        A tensor or array of shape ``(stimulus, T, ...)`` (``time_dim=1``, the default) or
        ``(T, stimulus, ...)`` (``time_dim=0``), or a DataArray with ``stimulus`` and ``time``
        dims (its stimulus ids are kept; other dims follow in their order).
    readout : None, "count", "rate", "mean" or "last", default=None
        ``None`` keeps time: assemblies with dims ``(stimulus, time, unit)``. Otherwise time
        is reduced and the assemblies have dims ``(stimulus, unit)``, ready for RSA, CKA and
        encoding models: ``"count"`` sums over time (spike counts), ``"rate"`` divides the
        count by the duration ``T * dt`` (Hz for spikes), ``"mean"`` averages and ``"last"``
        keeps the final step. Sums are accumulated in float64.
    unit_prefix : str, default=""
        Put before every unit id (e.g. ``"snn/"``) so that units of several networks stay
        distinct when concatenated.
    dt : float, default=1e-3
        Duration of one step in seconds; the ``time`` coord is ``arange(T) * dt`` and
        ``sampling_rate`` is ``1 / dt`` Hz.
    time_dim : {0, 1}, default=1
        The time axis of a tensor or array ``inputs``.
    call : {"sequence", "step"}, default="sequence"
        ``"sequence"``: one call per batch with the time-first ``(T, batch, ...)`` input,
        ``model.forward_seq(x)`` when the model has it (a brainbridge layer), else
        ``model(x)`` (a network that loops over time itself, or a spikingjelly multi-step
        network). ``"step"``: ``T`` calls with ``(batch, ...)``, threading the state of a
        brainbridge layer (``out, state = model(x_t, state)``) or calling ``model(x_t)``
        for a network that keeps its own state (snntorch ``init_hidden=True``,
        spikingjelly single-step).
    stimulus_ids : sequence, optional
        One id per stimulus; default the DataArray's ids, else ``"0"``, ``"1"``, ...
    device : "auto", str or torch.device, default="auto"
        Where the model runs; traces are copied to the CPU.
    batch_size : int, default=64
        Stimuli per forward pass.
    progress : bool or None, default=None
        Show a progress bar; ``None`` shows it on a terminal only.

    Returns
    -------
    dict of str to DataArray
        One validated assembly (``modality="snn"``) per trace name, dims
        ``(stimulus, time, unit)`` or ``(stimulus, unit)`` with a ``readout``. ``units`` is
        ``"count"`` for spikes (``"Hz"`` with ``readout="rate"``, ``"count/step"`` with
        ``"mean"``), else ``"a.u."``.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn._record import record
    >>> from brainbridge.snn._trace import emit
    >>> class Threshold(torch.nn.Module):  # a toy layer: spikes where the input exceeds 0.5
    ...     def forward(self, x):
    ...         s = (x > 0.5).float()
    ...         emit(self, step=False, spikes=s, v=x)
    ...         return s
    >>> x = torch.tensor([[[0.9, 0.1], [0.7, 0.2], [0.1, 0.8]]])  # (stimulus, T, unit)
    >>> rec = record(Threshold(), x, device="cpu")
    >>> rec["spikes"].dims, rec["spikes"]["unit"].values.tolist()
    (('stimulus', 'time', 'unit'), ['Threshold:c0', 'Threshold:c1'])
    >>> record(Threshold(), x, readout="count", device="cpu")["spikes"].values.tolist()
    [[2.0, 1.0]]
    """
    from tqdm.auto import tqdm

    _validate_type("model", model, torch.nn.Module, "a torch.nn.Module")
    if readout is not None:
        _check_option("readout", readout, READOUTS)
    _check_option("call", call, CALLS)
    dt = check_scalar("dt", dt, float, low=0, closed="neither", what="seconds per step")
    batch_size = check_scalar("batch_size", batch_size, int, low=1)
    _validate_type("unit_prefix", unit_prefix, str, "a string")
    x, ids = _as_input(inputs, time_dim, stimulus_ids)
    dev = resolve_device(device)

    collector = _Collector()
    peers = {m: kind for m in model.modules() if (kind := _peer_kind(m)) is not None}
    handles = [m.register_forward_hook(collector.hook(kind)) for m, kind in peers.items()]
    names = _layer_names(model)
    was_training = model.training
    first_param = next(model.parameters(), None)
    home = first_param.device if first_param is not None else dev
    parts: dict[str, list[np.ndarray]] = {}
    tables: dict[str, list[Units]] | None = None
    n_steps: int | None = None
    try:
        model.eval().to(dev)
        with torch.no_grad(), tracing(collector), tqdm(
                total=len(ids), unit="stim", desc="record",
                disable=None if progress is None else not progress) as bar:
            for start in range(0, len(ids), batch_size):
                _reset_peers(peers)
                collector.clear()
                _run_model(model, x[:, start:start + batch_size].to(dev), call)
                batch, units, n_steps = _batch_traces(collector, names, readout, dt, n_steps)
                if tables is None:
                    tables = units
                elif {k: [u.ids.tolist() for u in v] for k, v in units.items()} != {
                        k: [u.ids.tolist() for u in v] for k, v in tables.items()}:
                    raise AssemblyError(
                        "The traced layers or their unit counts changed between batches; give "
                        "inputs of one shape and a model whose layers run on every batch."
                    )
                for name, rows in batch.items():
                    parts.setdefault(name, []).append(rows)
                bar.update(min(batch_size, len(ids) - start))
    finally:
        for h in handles:
            h.remove()
        _reset_peers(peers)
        model.train(was_training)
        model.to(home)
    if not tables:
        raise ValueError(
            "Invalid value for 'model': no layer emitted a trace. Use brainbridge.snn layers, "
            "snntorch or spikingjelly neurons, or call brainbridge.snn._trace.emit in your "
            "own layers."
        )
    return {name: _assembly(name, np.concatenate(parts[name], axis=0), tables[name], ids,
                            readout, dt, unit_prefix, model)
            for name in tables}


def _batch_traces(collector: _Collector, names: dict[int, str], readout: str | None, dt: float,
                  n_steps: int | None) -> tuple[dict[str, np.ndarray], dict[str, list[Units]], int | None]:
    """(stimulus, [time,] unit) arrays per trace name for one batch, and their unit tables."""
    rows: dict[str, list[np.ndarray]] = {}
    units: dict[str, list[Units]] = {}
    rank = {key: i for i, key in enumerate(names)}
    order = sorted(collector.traces, key=lambda k: rank.get(k, len(rank)))
    for key in order:
        layer = names.get(key, type(collector.modules[key]).__name__)
        for name, values in collector.traces[key].items():
            seq = _sequence(values, collector.steps[key])  # (T, batch, ...)
            if seq.ndim == 2:
                seq = seq[..., None]
            if readout is None:
                if n_steps is not None and seq.shape[0] != n_steps:
                    raise AssemblyError(
                        f"Layer {layer!r} gave {seq.shape[0]} time steps of {name!r} but other "
                        f"traces have {n_steps}; layers with different time lengths need a "
                        "'readout' (e.g. readout='count') to be recorded together."
                    )
                n_steps = seq.shape[0]
            flat = seq.movedim(0, 1).reshape(seq.shape[1], seq.shape[0], -1)
            if not flat.dtype.is_floating_point:
                flat = flat.float()
            if readout is not None:
                flat = READOUTS[readout](flat, dt)
            rows.setdefault(name, []).append(flat.numpy())
            units.setdefault(name, []).append(unit_table(layer, seq.shape[2], tuple(seq.shape[3:])))
    joined = {name: np.concatenate(r, axis=-1) for name, r in rows.items()}
    return joined, units, n_steps


def _assembly(name: str, values: np.ndarray, units: list[Units], ids: list[str],
              readout: str | None, dt: float, prefix: str, model: Any) -> xr.DataArray:
    unit_ids = np.concatenate([u.ids for u in units])
    coords: dict[str, Any] = {
        "stimulus": np.asarray(ids, dtype=str),
        "unit": np.char.add(prefix, unit_ids) if prefix else unit_ids,
        "layer": ("unit", np.concatenate([u.layer for u in units])),
        "channel": ("unit", np.concatenate([u.channel for u in units])),
        "position": ("unit", np.concatenate([u.position for u in units])),
    }
    attrs: dict[str, Any] = {
        "modality": "snn",
        "units": _SPIKE_UNITS[readout] if name == "spikes" else "a.u.",
        "source": f"model:{type(model).__name__}; trace:{name}; readout:{readout or 'none'}",
        "schema_version": SCHEMA_VERSION,
    }
    if readout is None:
        dims: tuple[str, ...] = ("stimulus", "time", "unit")
        coords["time"] = np.arange(values.shape[1], dtype=np.float64) * dt
        attrs["sampling_rate"] = 1.0 / dt
    else:
        dims = ("stimulus", "unit")
    da = xr.DataArray(values, dims=dims, coords=coords, attrs=attrs, name=name)
    return validate(da)
