"""Ablation and clamping of chosen units of a torch model, and the change it makes."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._checks import _check_option, _suggest, _validate_type, check_scalar
from .._config import resolve_device
from ._extract import _batches, _channel_first, _to_device
from ._units import _POSITION_NAMES

logger = logging.getLogger(__name__)

_UNIT_ID = re.compile(r"^(?P<layer>.+?):c(?P<channel>\d+)(?::(?P<position>(?:[a-z]\d+)+))?$")
_UNIT_ID_HELP = (
    "expected '{layer}:c{channel}' (the whole channel) or '{layer}:c{channel}:{position}' "
    "(e.g. 'conv1:c3:y1x2', 'fc:c7', 'encoder.0:c5:t2'), as in the 'unit' coord of "
    "brainbridge.extract"
)


def _zero(selected: Any, value: Any) -> Any:
    return selected.new_zeros(())


def _clamp(selected: Any, value: Any) -> Any:
    return value


def _mean(selected: Any, value: Any) -> Any:
    return selected.mean(dim=0, keepdim=True)


#: How the chosen units are replaced: ``f(selected (batch, n), value (n,)) -> replacement``.
MODES: dict[str, Callable[[Any, Any], Any]] = {"zero": _zero, "clamp": _clamp, "mean": _mean}


def _parse_position(pos: str, unit: str) -> tuple[int, ...]:
    pairs = re.findall(r"([a-z])(\d+)", pos)
    letters = tuple(p[0] for p in pairs)
    if letters not in _POSITION_NAMES.values():
        raise ValueError(f"Invalid value for 'units': {unit!r} is not a unit id; {_UNIT_ID_HELP}.")
    return tuple(int(p[1]) for p in pairs)


def _parse_units(units: Any) -> list[tuple[str, int, tuple[int, ...] | None]]:
    """Normalise ``units`` into a list of (layer, channel, position or None for all)."""
    if isinstance(units, Mapping):
        out: list[tuple[str, int, tuple[int, ...] | None]] = []
        for layer, channels in units.items():
            chans = [channels] if np.ndim(channels) == 0 else list(np.asarray(channels).ravel())
            for c in chans:
                if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)) or c < 0:
                    raise ValueError(
                        f"Invalid value for 'units': channel {c!r} of layer {layer!r} is not a "
                        "non-negative int; give a dict layer -> channel indices, e.g. {'conv1': [0, 3]}."
                    )
                out.append((str(layer), int(c), None))
        return out
    if isinstance(units, xr.DataArray):
        units = units.values
    if isinstance(units, str):
        units = [units]
    ids = np.asarray(units).ravel()
    out = []
    for unit in ids:
        if not isinstance(unit, (str, np.str_)):
            raise ValueError(
                f"Invalid value for 'units': {unit!r} is not a unit id; {_UNIT_ID_HELP}."
            )
        m = _UNIT_ID.match(str(unit))
        if m is None:
            raise ValueError(
                f"Invalid value for 'units': {str(unit)!r} is not a unit id; {_UNIT_ID_HELP}."
            )
        pos = m["position"]
        out.append((m["layer"], int(m["channel"]),
                    None if pos is None else _parse_position(pos, str(unit))))
    return out


def _values(mode: str, value: Any, entries: list, units: Any) -> np.ndarray | None:
    """One clamp value per entry (or None when the mode takes none)."""
    if mode != "clamp":
        if value is not None:
            raise ValueError(
                f"Invalid value for 'value': it is only used with mode='clamp'; got value="
                f"{value!r} with mode={mode!r}. Drop 'value' or use mode='clamp'."
            )
        return None
    if value is None:
        raise ValueError(
            "Invalid value for 'value': mode='clamp' needs a value (a number, one number per "
            "unit, or a dict unit id -> number); got None."
        )
    if isinstance(value, Mapping):
        if isinstance(units, Mapping):
            raise ValueError(
                "Invalid value for 'value': a dict of values needs 'units' given as unit ids; "
                "with a dict layer -> channels give a number or one number per channel."
            )
        ids = [str(u) for u in np.asarray(units.values if isinstance(units, xr.DataArray)
                                          else units).ravel()]
        missing = [u for u in ids if u not in value]
        if missing:
            raise ValueError(
                f"Invalid value for 'value': no value for unit(s) {missing[:5]}; give one "
                "value per unit in 'units'."
            )
        return np.array([float(value[u]) for u in ids])
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(len(entries), float(arr))
    arr = arr.ravel()
    if arr.size != len(entries):
        raise ValueError(
            f"Invalid value for 'value': expected a number or {len(entries)} numbers (one per "
            f"unit or channel); got {arr.size}."
        )
    return arr


def _make_hook(layer: str, picks: list[tuple[int, tuple[int, ...] | None, int]],
               values: np.ndarray | None, fn: Callable, channel_dim: int | str) -> Callable:
    """A forward hook that replaces the chosen units of ``layer``'s output."""
    cache: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    def columns(shape: tuple[int, ...], device: Any) -> tuple[Any, np.ndarray]:
        """Flat (channel * position) indices of the picks, and which pick owns each."""
        key = (shape, str(device))
        if key in cache:
            return cache[key]
        n_ch, positions = shape[0], shape[1:]
        n_pos = int(np.prod(positions)) if positions else 1
        cols: list[np.ndarray] = []
        owner: list[np.ndarray] = []
        for channel, pos, k in picks:
            if channel >= n_ch:
                raise ValueError(
                    f"Invalid value for 'units': channel {channel} of layer {layer!r} does not "
                    f"exist; the layer has {n_ch} channels (0 to {n_ch - 1})."
                )
            if pos is None:
                cols.append(channel * n_pos + np.arange(n_pos))
                owner.append(np.full(n_pos, k))
                continue
            if len(pos) != len(positions) or any(p >= s for p, s in zip(pos, positions)):
                raise ValueError(
                    f"Invalid value for 'units': position {pos} does not exist in layer "
                    f"{layer!r}, whose positions have shape {positions}."
                )
            cols.append(np.array([channel * n_pos + np.ravel_multi_index(pos, positions)]))
            owner.append(np.array([k]))
        cache[key] = (torch.as_tensor(np.concatenate(cols), device=device), np.concatenate(owner))
        return cache[key]

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        out = output[0] if isinstance(output, (tuple, list)) else output
        if not isinstance(out, torch.Tensor):
            raise ValueError(
                f"Layer {layer!r} returned {type(out).__name__}, not a tensor; ablate units of "
                "a submodule that returns a tensor."
            )
        t = out[:, None] if out.ndim == 1 else out
        t = _channel_first(t, channel_dim).clone(memory_format=torch.contiguous_format)
        idx, owner = columns(tuple(t.shape[1:]), t.device)
        flat = t.view(t.shape[0], -1)
        val = None
        if values is not None:
            val = torch.as_tensor(values[owner], dtype=t.dtype, device=t.device)
        flat[:, idx] = fn(flat[:, idx], val).to(t.dtype)
        if out.ndim == 1:
            new = t[:, 0]
        elif channel_dim == -1 or (channel_dim == "auto" and out.ndim == 3):
            new = t.movedim(1, -1) if out.ndim > 2 else t
        else:
            new = t
        if isinstance(output, tuple):
            return (new, *output[1:])
        if isinstance(output, list):
            return [new, *output[1:]]
        return new

    return hook


@contextlib.contextmanager
def ablate(
    model: Any,
    units: Any,
    *,
    mode: str = "zero",
    value: Any = None,
    channel_dim: int | str = "auto",
) -> Iterator[Any]:
    """Zero, clamp or mean-replace chosen units of a torch model while the context is active.

    Forward hooks on the units' layers replace each chosen unit ``u`` of the layer output
    ``h`` (shape ``(batch, channel, *positions)``, read as in :func:`brainbridge.extract`)
    by ``h'[b, u] = 0`` (``mode="zero"``), ``h'[b, u] = v_u`` (``"clamp"``) or
    ``h'[b, u] = mean_b h[b, u]`` (``"mean"``, the mean over the current batch); the
    rest of the output is unchanged, and downstream layers see ``h'``. The hooks are
    removed when the context exits, also on error; parameters are never touched.

    Parameters
    ----------
    model : torch.nn.Module
        The model; layers are named by module path, as in ``model.named_modules()``.
    units : str, sequence of str, DataArray or dict
        Unit ids ``"{layer}:c{channel}:{position}"`` (the ``unit`` coord of
        :func:`brainbridge.extract`, e.g. ``acts.unit[mask]``); an id without position,
        ``"{layer}:c{channel}"``, means the whole channel at every position. Or a dict
        ``layer -> channel index or indices`` (whole channels).
    mode : {"zero", "clamp", "mean"}, default="zero"
        The replacement (see above; the registry is :data:`MODES`).
    value : float, array or dict, optional
        Only for ``mode="clamp"``: one number for all units, one number per unit id (or
        per channel of the dict, in order), or a dict unit id -> number.
    channel_dim : "auto", 1 or -1, default="auto"
        The channel axis of layer outputs, as in :func:`brainbridge.extract`
        (``"auto"``: last for 3-D outputs, else 1).

    Yields
    ------
    torch.nn.Module
        The same model, hooked.

    Examples
    --------
    >>> import torch
    >>> from brainbridge import ablate
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    >>> x = torch.ones(1, 3)
    >>> with torch.no_grad(), ablate(model, ["0:c1"], mode="clamp", value=5.0):
    ...     float(model(x)[0, 1])
    5.0
    """
    _validate_type("model", model, torch.nn.Module, "a torch.nn.Module")
    fn = MODES[_check_option("mode", mode, list(MODES))]
    _check_option("channel_dim", channel_dim, ["auto", 1, -1])
    entries = _parse_units(units)
    if not entries:
        raise ValueError("Invalid value for 'units': expected at least one unit; got none.")
    values = _values(mode, value, entries, units)
    modules = dict(model.named_modules())
    by_layer: dict[str, list[tuple[int, tuple[int, ...] | None, int]]] = {}
    for k, (layer, channel, pos) in enumerate(entries):
        if layer not in modules or layer == "":
            raise ValueError(
                f"Invalid value for 'units': layer {layer!r} is not a module of the model."
                f"{_suggest(layer, [m for m in modules if m])} List the names with "
                "[n for n, _ in model.named_modules()]."
            )
        by_layer.setdefault(layer, []).append((channel, pos, k))
    handles = []
    try:
        for layer, picks in by_layer.items():
            handles.append(modules[layer].register_forward_hook(
                _make_hook(layer, picks, values, fn, channel_dim)))
        logger.debug("ablating %d unit(s) in %d layer(s), mode=%s", len(entries), len(by_layer), mode)
        yield model
    finally:
        for h in handles:
            h.remove()


def _outputs(model: Any, stimuli: Any, batch_size: int, dev: Any) -> tuple[list[str], np.ndarray, int]:
    """The model's output per stimulus, flattened to (n_stimuli, n_outputs), and its ndim."""
    batches, _ = _batches(stimuli, batch_size, None, getattr(model, "preprocess", None))
    ids: list[str] = []
    rows = []
    ndim = 0
    with torch.inference_mode():
        for batch_ids, batch in batches:
            batch = _to_device(batch, dev)
            out = model(**batch) if isinstance(batch, dict) else model(batch)
            if isinstance(out, (tuple, list)):
                out = out[0]
            if hasattr(out, "logits"):
                out = out.logits
            if not isinstance(out, torch.Tensor):
                raise ValueError(
                    f"The model returned {type(out).__name__}, not a tensor; give 'layers' "
                    "to compare layer outputs instead."
                )
            ids.extend(batch_ids)
            ndim = out.ndim
            rows.append(out.detach().reshape(out.shape[0], -1).to("cpu", torch.float64).numpy())
    if not rows:
        raise ValueError("Invalid value for 'stimuli': it yielded no stimuli.")
    return ids, np.concatenate(rows, axis=0), ndim


def ablation_effect(
    model: Any,
    stimuli: Any,
    units: Any,
    *,
    layers: str | Sequence[str] | None = None,
    mode: str = "zero",
    value: Any = None,
    channel_dim: int | str = "auto",
    batch_size: int = 64,
    device: Any = "auto",
) -> xr.Dataset:
    """Measure how ablating ``units`` changes a model's output or chosen layers, per stimulus.

    The model runs twice on ``stimuli`` (eval mode, no gradients): as is, giving ``y``,
    and inside :func:`ablate` with the same ``units``/``mode``/``value``, giving ``y'``.
    Per stimulus and per compared layer (or the model output),

    ``change_norm = ||y' - y||_2``, ``baseline_norm = ||y||_2`` and
    ``relative_change = change_norm / baseline_norm`` (NaN where ``baseline_norm`` is 0),

    the norms taken over that layer's units (float64). When the model output is compared
    (``layers=None``) and is 2-D ``(batch, classes)``, it is read as logits and the
    Dataset also holds ``top_class`` (argmax of ``y``), ``ablated_top_class`` (argmax of
    ``y'``), ``top_class_changed``, ``top_prob`` (softmax probability of ``top_class``
    under ``y``) and ``ablated_top_prob`` (its probability under ``y'``).

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    stimuli : tensor, array, sequence or DataArray
        As in :func:`brainbridge.extract` (its stimulus ids are used).
    units, mode, value, channel_dim
        As in :func:`ablate`. With ``mode="mean"`` the mean is over each batch of
        ``batch_size`` stimuli.
    layers : str or sequence of str, optional
        Compare these layers' outputs (via :func:`brainbridge.extract`); default: the
        model's output (``.logits`` if it has one, else its first element if a tuple).
    batch_size : int, default=64
        Stimuli per forward pass.
    device : "auto", str or torch.device, default="auto"
        Where the model runs (see :func:`brainbridge.resolve_device`).

    Returns
    -------
    Dataset
        Variables ``change_norm``, ``baseline_norm``, ``relative_change`` with dims
        ``("stimulus", "layer")`` (``layer="output"`` for the model output), plus the
        ``top_*`` variables (dim ``stimulus``) for 2-D model outputs.

    Examples
    --------
    >>> import torch
    >>> from brainbridge import ablation_effect
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> eff = ablation_effect(model, torch.randn(5, 3), ["0:c0"], device="cpu")
    >>> sorted(eff.data_vars)[:3]
    ['ablated_top_class', 'ablated_top_prob', 'baseline_norm']
    """
    from ._extract import extract

    _validate_type("model", model, torch.nn.Module, "a torch.nn.Module")
    batch_size = check_scalar("batch_size", batch_size, int, low=1)
    dev = resolve_device(device)
    out_ndim = 0
    hooked = dict(units=units, mode=mode, value=value, channel_dim=channel_dim)
    if layers is None:
        was_training = model.training
        first = next(model.parameters(), None)
        home = first.device if first is not None else dev
        try:
            model.eval().to(dev)
            ids, base, out_ndim = _outputs(model, stimuli, batch_size, dev)
            with ablate(model, **hooked):
                _, abl, _ = _outputs(model, stimuli, batch_size, dev)
        finally:
            model.train(was_training)
            model.to(home)
        if isinstance(stimuli, xr.DataArray) and "stimulus" in stimuli.coords:
            ids = [str(s) for s in stimuli["stimulus"].values]
        groups = {"output": slice(None)}
    else:
        kw = dict(layers=layers, batch_size=batch_size, device=device, channel_dim=channel_dim,
                  progress=False)
        base_da = extract(model, stimuli, **kw)
        with ablate(model, **hooked):
            abl_da = extract(model, stimuli, **kw)
        ids = [str(s) for s in base_da["stimulus"].values]
        base = base_da.values.astype(np.float64)
        abl = abl_da.values.astype(np.float64)
        unit_layer = base_da["layer"].values
        names = [layers] if isinstance(layers, str) else list(layers)
        groups = {n: unit_layer == n for n in names}
    diff = abl - base
    change = np.stack([np.linalg.norm(diff[:, g], axis=1) for g in groups.values()], axis=1)
    norm = np.stack([np.linalg.norm(base[:, g], axis=1) for g in groups.values()], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(norm > 0, change / np.where(norm > 0, norm, 1.0), np.nan)
    dims = ("stimulus", "layer")
    data: dict[str, Any] = {
        "change_norm": (dims, change),
        "baseline_norm": (dims, norm),
        "relative_change": (dims, rel),
    }
    if layers is None and out_ndim == 2 and base.shape[1] > 1:
        p = torch.softmax(torch.from_numpy(base), dim=1).numpy()
        q = torch.softmax(torch.from_numpy(abl), dim=1).numpy()
        top = base.argmax(axis=1)
        rows = np.arange(len(top))
        data.update(
            top_class=("stimulus", top),
            ablated_top_class=("stimulus", abl.argmax(axis=1)),
            top_class_changed=("stimulus", abl.argmax(axis=1) != top),
            top_prob=("stimulus", p[rows, top]),
            ablated_top_prob=("stimulus", q[rows, top]),
        )
    return xr.Dataset(
        data,
        coords={"stimulus": np.array(ids, dtype=str), "layer": np.array(list(groups), dtype=str)},
        attrs={"mode": mode, "n_units": len(_parse_units(units))},
    )
