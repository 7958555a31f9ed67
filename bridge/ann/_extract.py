"""Activation extraction: any torch module's layer outputs as a ``stimulus x unit`` assembly."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._assembly import SCHEMA_VERSION, validate
from .._checks import AssemblyError, _check_option, _suggest, _validate_type, check_scalar
from .._config import resolve_device
from .._storage import _atomic_store, _format_of, load
from ._units import Units, unit_table

logger = logging.getLogger(__name__)

_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)

#: How a layer's output of shape (batch, channel, *positions) becomes units.
#: ``None`` is the same as ``"flatten"``: one unit per channel and position.
REDUCTIONS = ("flatten", "mean", "max")

def _channel_first(t: Any, channel_dim: int | str) -> Any:
    """Move the channel axis to position 1: (batch, channel, *positions)."""
    if channel_dim == "auto":
        channel_dim = -1 if t.ndim == 3 else 1
    return t if channel_dim == 1 or t.ndim == 2 else t.movedim(-1, 1)


def _layer_units(
    out: Any, layer: str, reduce: str, channel_dim: int | str, mask: Any
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Turn one hooked output into a (batch, n_units) array and its (channel, *positions) shape."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise AssemblyError(
            f"Layer {layer!r} returned {type(out).__name__}, not a tensor; hook a submodule "
            "that returns a tensor."
        )
    t = out.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    if t.ndim == 1:
        t = t[:, None]
    t = _channel_first(t, channel_dim)
    token_mask = None
    if mask is not None and t.ndim == 3 and mask.shape == (t.shape[0], t.shape[2]):
        token_mask = mask.to(t.device, torch.bool)[:, None, :]
    if reduce == "flatten" or t.ndim == 2:
        if token_mask is not None:
            t = t.masked_fill(~token_mask, float("nan"))
        shape = tuple(t.shape[1:])
        return t.reshape(t.shape[0], -1).cpu().numpy(), shape
    flat = t.reshape(t.shape[0], t.shape[1], -1)
    if reduce == "mean":
        if token_mask is None:
            pooled = flat.mean(dim=2)
        else:
            w = token_mask.to(flat.dtype)
            pooled = (flat * w).sum(dim=2) / w.sum(dim=2).clamp(min=1)
    else:  # max
        if token_mask is not None:
            flat = flat.masked_fill(~token_mask, float("-inf"))
        pooled = flat.amax(dim=2)
    return pooled.cpu().numpy(), (t.shape[1],)


def _stack(items: Sequence[Any]) -> Any:
    if all(isinstance(i, str) for i in items):
        return list(items)
    try:
        return torch.stack([torch.as_tensor(np.asarray(i)) if not isinstance(i, torch.Tensor) else i
                            for i in items])
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(
            f"Cannot stack the stimuli of a batch into one tensor ({err}). Give a "
            "'preprocess' function that turns a list of stimuli into the model's input, "
            "e.g. resizing images to one size."
        ) from err


def _batches(
    stimuli: Any, batch_size: int, stimulus_ids: Sequence[Any] | None, preprocess: Callable | None
) -> tuple[Iterator[tuple[list[str], Any]], int | None]:
    """Yield (ids, model input) per batch, and the number of stimuli if it is known."""
    prep = preprocess or (lambda batch: batch)
    if isinstance(stimuli, xr.DataArray):
        if "stimulus" not in stimuli.dims:
            raise AssemblyError(
                f"'stimuli' is a DataArray without a 'stimulus' dim (dims {tuple(stimuli.dims)}); "
                "rename the dim that indexes stimuli to 'stimulus'."
            )
        if stimulus_ids is None and "stimulus" in stimuli.coords:
            stimulus_ids = [str(s) for s in stimuli["stimulus"].values]
        stimuli = stimuli.transpose("stimulus", ...).values
    if preprocess is None:
        _check_numeric(stimuli)
    if isinstance(stimuli, (np.ndarray, torch.Tensor)) or (
        isinstance(stimuli, Sequence) and not isinstance(stimuli, (str, bytes))
    ):
        n = len(stimuli)
        ids = [str(i) for i in (stimulus_ids if stimulus_ids is not None else range(n))]
        if len(ids) != n:
            raise ValueError(
                f"'stimulus_ids' has {len(ids)} ids but 'stimuli' holds {n} stimuli; give one "
                "id per stimulus."
            )

        def sized() -> Iterator[tuple[list[str], Any]]:
            for start in range(0, n, batch_size):
                chunk = stimuli[start:start + batch_size]
                if isinstance(stimuli, np.ndarray) and preprocess is None:
                    chunk = torch.from_numpy(np.ascontiguousarray(chunk))
                elif not isinstance(stimuli, (np.ndarray, torch.Tensor)) and preprocess is None:
                    chunk = _stack(chunk)  # type: ignore[arg-type]
                yield ids[start:start + batch_size], prep(chunk)

        return sized(), n
    if isinstance(stimuli, Iterable) and not isinstance(stimuli, (str, bytes)):
        given = iter(stimulus_ids) if stimulus_ids is not None else None

        def streamed() -> Iterator[tuple[list[str], Any]]:
            count = 0
            for batch in stimuli:
                size = _batch_len(batch)
                if given is None:
                    ids = [str(count + i) for i in range(size)]
                else:
                    ids = [str(i) for _, i in zip(range(size), given)]
                    if len(ids) < size:
                        raise ValueError(
                            f"'stimulus_ids' has fewer ids than 'stimuli' yields (ran out after "
                            f"{count + len(ids)}); give one id per stimulus."
                        )
                count += size
                yield ids, prep(batch)

        return streamed(), (len(stimulus_ids) if stimulus_ids is not None else None)
    raise TypeError(
        "Invalid type for 'stimuli': expected a tensor, an array, a sequence of stimuli, an "
        f"iterable of batches or a DataArray with a 'stimulus' dim; got {type(stimuli).__name__}."
    )


def _batch_len(batch: Any) -> int:
    if isinstance(batch, dict):
        batch = next(iter(batch.values()))
    return len(batch)


def _check_numeric(x: Any, name: str = "stimuli") -> None:
    """Raise a TypeError unless an array or tensor holds real numbers (bool, int or float)."""
    if isinstance(x, np.ndarray):
        kind, dtype = x.dtype.kind, str(x.dtype)
    elif isinstance(x, torch.Tensor):
        kind, dtype = ("c" if x.is_complex() else "f"), str(x.dtype)
    else:
        return
    if kind == "c":
        raise TypeError(
            f"Invalid type for {name!r}: expected real numbers; got complex values ({dtype}). "
            "The imaginary part would be lost: pass np.abs(...) or np.real(...) explicitly."
        )
    if kind not in "biuf":
        raise TypeError(
            f"Invalid type for {name!r}: expected an array of numbers; got dtype {dtype}. "
            "Convert it (e.g. np.asarray(stimuli, dtype=np.float32)), or give a 'preprocess' "
            "function that turns a batch of stimuli into the model's input."
        )


def _shape(batch: Any) -> str:
    if isinstance(batch, dict):
        return ", ".join(f"{k}: {tuple(getattr(v, 'shape', ()))}" for k, v in batch.items())
    return str(tuple(getattr(batch, "shape", (len(batch),) if hasattr(batch, "__len__") else ())))


def _model_dtype(model: Any) -> Any:
    """The dtype of the model's first floating-point parameter (or buffer), or None."""
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return None


def _to_device(batch: Any, device: Any, dtype: Any = None) -> Any:
    """Move a batch to ``device``; floating-point arrays and tensors are cast to ``dtype``
    (the model's), integer ones (token ids, masks) are left as they are."""
    _check_numeric(batch)
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(np.ascontiguousarray(batch))
    if isinstance(batch, torch.Tensor):
        if dtype is not None and batch.is_floating_point() and batch.dtype != dtype:
            return batch.to(device=device, dtype=dtype)
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device, dtype) for k, v in batch.items()}
    return batch


class _Writer:
    """Receives batches of per-layer rows; keeps them in memory or streams them to a file.

    In memory, the output is allocated once when the stimulus count is known and filled
    batch by batch (one copy of the data); otherwise batches are joined at the end.
    """

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.fmt = _format_of(out, "out") if out is not None else None
        self.ids: list[str] = []
        self.rows: list[np.ndarray] = []
        self._buffer: np.ndarray | None = None
        self._file: Any = None
        self._var: Any = None
        self._stim: Any = None
        self._n = 0

    def open(self, tmp: Path | None, units: list[Units], dtype: np.dtype, attrs: dict[str, Any],
             n_total: int | None) -> None:
        self.dtype, self.attrs, self.tmp = dtype, attrs, tmp
        self.coords = {
            "unit": np.concatenate([u.ids for u in units]),
            "layer": np.concatenate([u.layer for u in units]),
            "channel": np.concatenate([u.channel for u in units]),
            "position": np.concatenate([u.position for u in units]),
        }
        self.columns = np.cumsum([0] + [u.size for u in units])
        n_units = int(self.columns[-1])
        if self.fmt is None and n_total is not None:
            self._buffer = np.empty((n_total, n_units), dtype=dtype)
        if self.fmt != "netcdf":
            return
        import h5netcdf
        import h5py

        f = h5netcdf.File(tmp, "w")
        f.dimensions = {"stimulus": None, "unit": n_units}
        text = h5py.string_dtype()
        for name, values in self.coords.items():
            if values.dtype.kind == "U":
                f.create_variable(name, ("unit",), dtype=text, data=values.astype(object))
            else:
                f.create_variable(name, ("unit",), data=values)
        self._stim = f.create_variable("stimulus", ("stimulus",), dtype=text, chunks=(1024,))
        chunk_units = max(1, min(n_units, (4 << 20) // (64 * dtype.itemsize)))
        self._var = f.create_variable("activations", ("stimulus", "unit"), dtype=dtype,
                                      chunks=(64, chunk_units))
        self._var.attrs.update({**attrs, "coordinates": "layer channel position"})
        self._file = f

    def _frame(self, ids: list[str], rows: np.ndarray) -> xr.DataArray:
        coords = {k: ("unit", v) for k, v in self.coords.items()}
        coords["stimulus"] = ("stimulus", np.array(ids, dtype=str))
        return xr.DataArray(rows, dims=("stimulus", "unit"), coords=coords, attrs=self.attrs,
                            name="activations")

    def write(self, ids: list[str], parts: list[np.ndarray]) -> None:
        start, self._n = self._n, self._n + len(ids)
        if self.fmt == "netcdf":
            self._file.resize_dimension("stimulus", self._n)
            for lo, hi, part in zip(self.columns[:-1], self.columns[1:], parts):
                self._var[start:self._n, lo:hi] = part
            self._stim[start:self._n] = np.array(ids, dtype=object)
            return
        if self._buffer is not None:
            if self._n > len(self._buffer):
                raise ValueError(
                    f"'stimuli' yielded more than the {len(self._buffer)} stimuli it announced."
                )
            for lo, hi, part in zip(self.columns[:-1], self.columns[1:], parts):
                self._buffer[start:self._n, lo:hi] = part
            self.ids.extend(ids)
            return
        rows = np.concatenate(parts, axis=1).astype(self.dtype, copy=False)
        if self.fmt is None:
            self.ids.extend(ids)
            self.rows.append(rows)
        elif start == 0:
            self._frame(ids, rows).to_zarr(self.tmp, mode="w", zarr_format=2, consolidated=True)
        else:
            self._frame(ids, rows).to_zarr(self.tmp, append_dim="stimulus", zarr_format=2,
                                           consolidated=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def result(self) -> xr.DataArray:
        if self._buffer is not None:
            return self._frame(self.ids, self._buffer[:self._n])
        return self._frame(self.ids, np.concatenate(self.rows, axis=0))


def _run(model, batches, layer_list, captured, reduce_name, channel_dim, dev, writer, tmp,
         attrs, bar, n_total):
    """The extraction loop; returns the layers' unit tables (None if there was no batch)."""
    units: list[Units] | None = None
    shapes: list[tuple[int, ...]] = []
    dtype = None
    input_dtype = _model_dtype(model)
    with torch.inference_mode():
        for ids, batch in batches:
            captured.clear()
            batch = _to_device(batch, dev, input_dtype)
            try:
                if isinstance(batch, dict):
                    model(**batch)
                else:
                    model(batch)
            except RuntimeError as err:  # torch's shape / dtype errors for an input it cannot take
                if isinstance(err, _OOM):
                    raise
                raise ValueError(
                    f"Invalid value for 'stimuli': the model cannot run on a batch of shape "
                    f"{_shape(batch)} ({' '.join(str(err).split())[:300]}). Give stimuli of the "
                    "shape the model takes, or a 'preprocess' function that makes its input."
                ) from err
            mask = batch.get("attention_mask") if isinstance(batch, dict) else None
            parts = []
            for i, name in enumerate(layer_list):
                if name not in captured:
                    raise AssemblyError(
                        f"Layer {name!r} did not run during the forward pass; choose a "
                        "module that the model's forward calls."
                    )
                rows, shape = _layer_units(captured[name], name, reduce_name, channel_dim, mask)
                if units is None:
                    shapes.append(shape)
                elif shape != shapes[i]:
                    raise AssemblyError(
                        f"Layer {name!r} gave units of shape {shape} in this batch but "
                        f"{shapes[i]} before. Inputs of different sizes give different "
                        "unit counts: resize them in 'preprocess', pad to a fixed length, "
                        "or use reduce='mean'."
                    )
                parts.append(rows)
            if units is None:
                units = [unit_table(n, s[0], s[1:]) for n, s in zip(layer_list, shapes)]
                dtype = np.result_type(*[p.dtype for p in parts])
                writer.open(tmp, units, dtype, attrs, n_total)
            writer.write(ids, parts)
            bar.update(len(ids))
    return units


def extract(
    model: Any,
    stimuli: Any,
    *,
    layers: str | Sequence[str],
    batch_size: int = 64,
    device: Any = "auto",
    reduce: str | None = None,
    out: str | os.PathLike[str] | None = None,
    stimulus_ids: Sequence[Any] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    channel_dim: int | str = "auto",
    progress: bool | None = None,
) -> xr.DataArray:
    """Record the outputs of named layers of a torch model as a ``stimulus x unit`` assembly.

    Forward hooks on each layer (named by its module path, as in ``model.named_modules()``)
    capture its output for every batch; the model runs in eval mode under
    ``torch.inference_mode``, so extraction is deterministic and keeps no graph. The
    model's own training flag and device are restored afterwards.

    A layer output of shape ``(batch, channel, *positions)`` gives one unit per channel
    and position, with id ``"{layer}:c{channel}:{position}"`` (``position`` like ``y4x5``
    for images, ``t3`` for tokens) and unit coords ``layer``, ``channel``, ``position``.
    Three-dim outputs are read as ``(batch, token, channel)``, the transformer layout,
    unless ``channel_dim=1``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module. If it has a ``preprocess`` method (the adapters in
        :mod:`brainbridge.models` do) and ``preprocess`` is not given, it is used.
    stimuli : tensor, array, sequence, iterable of batches or DataArray
        A tensor or array indexed by stimulus along its first axis; a sequence of
        stimuli (images, sentences) batched ``batch_size`` at a time; any other iterable,
        read as already-made batches (tensors, arrays or dicts of tensors); or a DataArray
        with a ``stimulus`` dim, whose ids are used. Floating-point inputs (arrays, tensors,
        the values of a dict batch) are cast to the dtype of the model's parameters, so a
        float64 array runs through a float32 model (as float32); integer inputs (token ids,
        attention masks) are passed unchanged.
    layers : str or sequence of str
        Module paths, e.g. ``["_blocks.3", "_blocks.15"]``.
    batch_size : int, default=64
        Stimuli per forward pass (ignored for iterables of batches).
    device : "auto", str or torch.device, default="auto"
        Where the model runs; ``"auto"`` is ``$BRAINBRIDGE_DEVICE``, else CUDA when present.
    reduce : None, "flatten", "mean" or "max", default=None
        ``None``/``"flatten"`` keeps every position; ``"mean"``/``"max"`` pool over
        positions, one unit per channel. When a batch is a dict with an
        ``attention_mask`` of shape (batch, tokens), padded tokens are left out of the
        pooling and are NaN when flattened.
    out : str or Path, optional
        Stream activations to this ``.nc`` or ``.zarr`` file batch by batch (memory stays
        at one batch; the write is atomic) and return the result opened lazily.
    stimulus_ids : sequence, optional
        One id per stimulus; default ``"0"``, ``"1"``, ... or the DataArray's ids.
    preprocess : callable, optional
        Turns one batch of stimuli into the model's input.
    channel_dim : "auto", 1 or -1, default="auto"
        The channel axis of layer outputs (see above).
    progress : bool or None, default=None
        Show a progress bar; ``None`` shows it on a terminal only.

    Returns
    -------
    DataArray, dims ("stimulus", "unit")
        A validated assembly with ``modality="ann"``.

    Examples
    --------
    >>> import torch
    >>> import brainbridge as bb
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.ReLU())
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]]))
    >>> x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 1.0]])
    >>> acts = bb.extract(net, x, layers=["1"], stimulus_ids=["a", "b"], device="cpu")
    >>> acts["unit"].values.tolist(), acts.values.tolist()
    (['1:c0', '1:c1'], [[1.0, 0.0], [4.0, 4.0]])
    """
    from tqdm.auto import tqdm

    _validate_type("model", model, torch.nn.Module, "a torch.nn.Module")
    layer_list = [layers] if isinstance(layers, str) else list(layers)
    if not layer_list:
        raise ValueError("Invalid value for 'layers': expected at least one module path; got [].")
    modules = dict(model.named_modules())
    for name in layer_list:
        if name not in modules or name == "":
            raise ValueError(
                f"Invalid value for 'layers': {name!r} is not a module of the model."
                f"{_suggest(name, [m for m in modules if m])} List the names with "
                "[n for n, _ in model.named_modules()]."
            )
    batch_size = check_scalar("batch_size", batch_size, int, low=1)
    reduce_name = _check_option("reduce", "flatten" if reduce is None else reduce, REDUCTIONS)
    _check_option("channel_dim", channel_dim, ["auto", 1, -1])
    dev = resolve_device(device)
    writer = _Writer(Path(out) if out is not None else None)
    batches, n_total = _batches(stimuli, batch_size, stimulus_ids,
                                preprocess or getattr(model, "preprocess", None))

    captured: dict[str, Any] = {}
    handles = [
        modules[name].register_forward_hook(lambda _m, _i, o, name=name: captured.__setitem__(name, o))
        for name in layer_list
    ]
    was_training = model.training
    first_param = next(model.parameters(), None)
    home = first_param.device if first_param is not None else dev
    model_name = getattr(model, "name", type(model).__name__)
    attrs = {
        "modality": "ann",
        "units": "a.u.",
        "source": f"model:{model_name}; layers:{','.join(layer_list)}; reduce:{reduce_name}",
        "schema_version": SCHEMA_VERSION,
    }
    with contextlib.ExitStack() as stack:
        tmp = (stack.enter_context(_atomic_store(writer.out, name="out"))
               if writer.out is not None else None)
        try:
            model.eval().to(dev)
            units = _run(model, batches, layer_list, captured, reduce_name, channel_dim, dev,
                         writer, tmp, attrs, stack.enter_context(tqdm(
                             total=n_total, unit="stim", desc="extract",
                             disable=None if progress is None else not progress)), n_total)
        finally:
            writer.close()
            for h in handles:
                h.remove()
            model.train(was_training)
            model.to(home)
        if units is None:
            raise ValueError("Invalid value for 'stimuli': it yielded no stimuli.")
    if writer.out is not None:
        logger.info("streamed activations of %d stimuli to %s", writer._n, writer.out)
        return validate(load(writer.out, chunks={}, verify=False))  # hashed just now
    return validate(writer.result())
