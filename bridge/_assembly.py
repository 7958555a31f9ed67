"""The assembly: one data model for every neuron.

An assembly is a plain :class:`xarray.DataArray` that follows a small schema (see
README, "The assembly"): a ``unit`` dim always, a ``stimulus`` and/or ``time`` dim, optional
``trial`` and ``subject`` dims, string ids for units and stimuli, time in seconds, and
provenance attrs.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ._align import align
from ._checks import AssemblyError, _check_option, _duplicates, _listed
from ._storage import save

SCHEMA_VERSION = "1.0"

#: The dim vocabulary. Keys are the only dims an assembly may have.
DIMS: dict[str, str] = {
    "unit": "one neuron, voxel, channel, ROI or ANN unit (string ids)",
    "stimulus": "one condition or presentation (string ids)",
    "time": "samples of a continuous recording (seconds)",
    "trial": "repetitions of the same stimulus",
    "subject": "animals or participants",
    "token": "positions in a sequence (language-model activations per token)",
}

#: Dims whose coordinate holds string ids that must be unique.
ID_DIMS = ("unit", "stimulus")

#: Recording modalities an assembly can declare in ``attrs["modality"]``.
MODALITIES: dict[str, str] = {
    "eeg": "electroencephalography",
    "meg": "magnetoencephalography",
    "fmri": "functional MRI",
    "calcium": "calcium imaging",
    "ephys": "extracellular or intracellular electrophysiology",
    "celegans": "C. elegans whole-brain imaging",
    "ann": "artificial neural network activations",
    "snn": "spiking or biophysical network recordings",
}



def _as_numpy(data: Any) -> Any:
    """Turn torch tensors and lists into numpy; keep numpy and dask arrays as they are."""
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch.Tensor, without importing torch
        return data.detach().cpu().numpy()
    if hasattr(data, "__array_function__") or hasattr(data, "dask"):
        return data
    return np.asarray(data)


def _default_coord(dim: str, size: int, sampling_rate: float | None) -> Any:
    if dim in ID_DIMS:
        return np.array([str(i) for i in range(size)])
    if dim == "time" and sampling_rate is not None:
        return np.arange(size, dtype=np.float64) / float(sampling_rate)
    if dim in ("trial", "subject"):
        return np.arange(size)
    return None


def assembly(
    data: Any,
    *,
    dims: Sequence[str],
    coords: Mapping[Any, Any] | None = None,
    modality: str,
    sampling_rate: float | None = None,
    units: str | None = None,
    source: str | None = None,
    name: str | None = None,
) -> xr.DataArray:
    """Build a validated assembly.

    Parameters
    ----------
    data : array-like, numpy, dask or torch
        The values; ``data.ndim == len(dims)``.
    dims : sequence of str
        Dim names from the vocabulary in :data:`DIMS`; ``"unit"`` is required, and
        ``"stimulus"`` or ``"time"``.
    coords : mapping, optional
        Extra coordinates, as for :class:`xarray.DataArray` (``{"region": ("unit", [...])}``).
        Ids default to ``"0"``, ``"1"``, ... for ``unit`` and ``stimulus``; ``time``
        defaults to ``arange(n) / sampling_rate`` seconds.
    modality : str
        One of :data:`MODALITIES`.
    sampling_rate : float, optional
        Samples per second (Hz); required when ``"time"`` is a dim.
    units : str, optional
        Physical unit of the values, e.g. ``"V"`` or ``"dF/F"``; default ``"a.u."``.
    source : str, optional
        Provenance: dataset id and file sha256, or model name and layer; default
        ``"unspecified"``.
    name : str, optional
        Name of the DataArray.

    Returns
    -------
    DataArray
        The assembly, validated with :func:`validate`.

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> rng = np.random.default_rng(0)
    >>> da = bb.assembly(rng.normal(size=(3, 2)), dims=("stimulus", "unit"), modality="ann")
    >>> da.sizes["stimulus"], da["unit"].values.tolist()
    (3, ['0', '1'])
    """
    _check_option("modality", modality, MODALITIES)
    dims = tuple(dims)
    values = _as_numpy(data)
    if values.ndim != len(dims):
        raise AssemblyError(
            f"'dims' has {len(dims)} names {dims} but 'data' has {values.ndim} dimensions "
            f"(shape {tuple(values.shape)}). Give one name per dimension of the data."
        )
    if values.dtype.kind not in "fiub":
        hint = ("pass the part you mean, e.g. np.abs(data) or data.real" if values.dtype.kind == "c"
                else "convert it explicitly first, e.g. np.asarray(data, dtype=float)")
        raise AssemblyError(
            f"'data' must hold numbers (float, int or bool); got dtype {values.dtype}. Nothing is "
            f"cast silently: {hint}."
        )
    # default ids for an empty dim would be a float array: say what is really wrong
    empty = [d for d, n in zip(dims, values.shape)
             if n == 0 and d in ID_DIMS and d not in (coords or {})]
    if empty:
        raise AssemblyError(
            f"'data' has 0 entries along {empty[0]!r} (shape {tuple(values.shape)}, dims "
            f"{dims}); an assembly needs at least one {empty[0]}. Check the selection or "
            "filter that produced the data."
        )
    all_coords: dict[Hashable, Any] = dict(coords or {})
    for dim, size in zip(dims, values.shape):
        if dim not in all_coords:
            default = _default_coord(dim, size, sampling_rate)
            if default is not None:
                all_coords[dim] = default
    attrs: dict[str, Any] = {
        "modality": modality,
        "units": "a.u." if units is None else units,
        "source": "unspecified" if source is None else source,
        "schema_version": SCHEMA_VERSION,
    }
    if sampling_rate is not None:
        attrs["sampling_rate"] = float(sampling_rate)
    try:
        da = xr.DataArray(values, dims=dims, coords=all_coords, attrs=attrs, name=name)
    except (ValueError, TypeError) as err:
        raise AssemblyError(f"Could not build the assembly from 'coords': {err}") from err
    return validate(da)


def _is_string_array(values: np.ndarray) -> bool:
    if values.dtype.kind == "U":
        return True
    if values.dtype.kind == "O":
        return all(isinstance(v, str) for v in values.ravel())
    return False


def _check_id_coord(da: xr.DataArray, dim: str, problems: list[str]) -> None:
    if dim not in da.coords:
        problems.append(
            f"dim {dim!r} has no coordinate; give string ids, e.g. "
            f"da.assign_coords({dim}=[...])"
        )
        return
    values = np.asarray(da[dim].values)
    if values.size == 0 and not _is_string_array(values):
        problems.append(f"dim {dim!r} has 0 entries; an assembly needs at least one")
        return
    if not _is_string_array(values):
        problems.append(
            f"{dim!r} ids must be strings; got dtype {values.dtype}. "
            f"Convert them with da.assign_coords({dim}=da[{dim!r}].astype(str))"
        )
        return
    dup = _duplicates(values)
    if dup:
        problems.append(f"{dim!r} ids repeat: {_listed(dup)}; every id must be unique")


def _check_time(da: xr.DataArray, problems: list[str]) -> None:
    if "time" not in da.coords:
        problems.append("dim 'time' has no coordinate; give sample times in seconds")
        return
    t = np.asarray(da["time"].values)
    if t.dtype.kind not in "fiu":
        problems.append(f"'time' must hold seconds as numbers; got dtype {t.dtype}")
        return
    if not np.all(np.isfinite(t)):
        problems.append("'time' has non-finite values (NaN or inf)")
        return
    if t.size > 1 and not np.all(np.diff(t) > 0):
        bad = int(np.argmax(np.diff(t) <= 0))
        problems.append(
            f"'time' is not strictly increasing (t[{bad}]={float(t[bad])!r} is followed by "
            f"t[{bad + 1}]={float(t[bad + 1])!r}); sort with da.sortby('time')"
        )
        return
    sr = da.attrs.get("sampling_rate")
    if t.size > 1 and isinstance(sr, (int, float)) and math.isfinite(sr) and sr > 0:
        step = float(np.median(np.diff(t)))
        if abs(step * sr - 1.0) > 0.01:
            problems.append(
                f"attr 'sampling_rate'={sr!r} Hz disagrees with the 'time' coordinate "
                f"(median step {step!r} s, i.e. {1.0 / step!r} Hz); fix one of them"
            )


def _check_attrs(da: xr.DataArray, problems: list[str]) -> None:
    attrs = da.attrs
    modality = attrs.get("modality")
    if modality is None:
        problems.append(f"attr 'modality' is missing; set one of {_listed(list(MODALITIES))}")
    elif modality not in MODALITIES:
        problems.append(
            f"attr 'modality' is {modality!r}; expected one of {', '.join(map(repr, MODALITIES))}"
        )
    for key, example in (("units", "'V'"), ("source", "'dataset:file.nc sha256:...'")):
        value = attrs.get(key)
        if not isinstance(value, str) or not value:
            problems.append(
                f"attr {key!r} must be a non-empty string (e.g. {example}); got {value!r}"
            )
    if "schema_version" not in attrs:
        problems.append(f"attr 'schema_version' is missing; set it to {SCHEMA_VERSION!r}")
    if "time" in da.dims:
        sr = attrs.get("sampling_rate")
        valid = (isinstance(sr, (int, float, np.number)) and not isinstance(sr, bool)
                 and math.isfinite(float(sr)) and float(sr) > 0)
        if not valid:
            problems.append(
                f"attr 'sampling_rate' must be a positive number of Hz when 'time' is a dim; "
                f"got {sr!r}"
            )


def validate(da: Any, *, allow_nan: bool = True, name: str = "assembly") -> xr.DataArray:
    """Check that ``da`` follows the assembly schema and return it unchanged.

    Every violation is listed in one :class:`AssemblyError`: missing or unknown dims,
    missing, non-string or duplicate ids, a time axis that is not strictly increasing
    seconds, a sampling rate that disagrees with the time axis, values that are not
    numbers, NaN when ``allow_nan=False``, and missing provenance attrs.

    Parameters
    ----------
    da : DataArray
        The object to check.
    allow_nan : bool, default=True
        NaN marks missing values (e.g. a neuron a worm did not record). Pass ``False``
        where an analysis cannot handle them; for dask-backed data this computes the check.
    name : str, default="assembly"
        How the object is called in the message.

    Returns
    -------
    DataArray
        ``da`` itself, so that ``x = validate(load(path))`` reads naturally.

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> da = bb.assembly(np.zeros((2, 3)), dims=("stimulus", "unit"), modality="ann")
    >>> bb.validate(da) is da
    True
    >>> bb.validate(da.rename(unit="neuron"), name="x")
    Traceback (most recent call last):
        ...
    brainbridge._checks.AssemblyError: Invalid x: 2 problems:
      - missing dim 'unit' (dims are ('stimulus', 'neuron')); every assembly has one
      - unknown dim(s) 'neuron'; allowed dims are 'unit', 'stimulus', 'time', 'trial', 'subject', 'token'
    """
    if not isinstance(da, xr.DataArray):
        raise AssemblyError(
            f"{name!r} must be an xarray.DataArray; got {type(da).__name__}. "
            "Build one with brainbridge.assembly(data, dims=..., modality=...)."
        )
    problems: list[str] = []
    dims = tuple(str(d) for d in da.dims)
    if "unit" not in dims:
        problems.append(f"missing dim 'unit' (dims are {dims}); every assembly has one")
    if "stimulus" not in dims and "time" not in dims:
        problems.append(f"needs a 'stimulus' or a 'time' dim; dims are {dims}")
    unknown = [d for d in dims if d not in DIMS]
    if unknown:
        problems.append(
            f"unknown dim(s) {_listed(unknown)}; allowed dims are {', '.join(map(repr, DIMS))}"
        )
    for dim in ID_DIMS:
        if dim in dims:
            _check_id_coord(da, dim, problems)
    if "time" in dims:
        _check_time(da, problems)
    for dim in ("trial", "subject"):
        if dim in dims and dim in da.coords:
            dup = _duplicates(np.asarray(da[dim].values))
            if dup:
                problems.append(f"{dim!r} coordinate repeats: {_listed(dup)}")
    kind = da.dtype.kind
    if kind not in "fiub":
        problems.append(
            f"values must be numbers (float, int or bool); got dtype {da.dtype}"
        )
    elif not allow_nan and kind == "f" and bool(da.isnull().any()):
        n = int(da.isnull().sum())
        problems.append(f"values hold {n} NaN but allow_nan=False; drop or fill them first")
    _check_attrs(da, problems)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        raise AssemblyError(f"Invalid {name}: {len(problems)} {noun}:\n{lines}")
    return da


@xr.register_dataarray_accessor("bb")
class BrainbridgeAccessor:
    """Sugar: ``da.bb.validate()``, ``da.bb.save(path)``, ``da.bb.align(other)``.

    Each method forwards to the function of the same name in :mod:`brainbridge`.

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> da = bb.assembly(np.zeros((2, 3)), dims=("stimulus", "unit"), modality="ann")
    >>> da.bb.validate() is da
    True
    """

    def __init__(self, da: xr.DataArray) -> None:
        self._da = da

    def validate(self, **kwargs: Any) -> xr.DataArray:
        return validate(self._da, **kwargs)

    def save(self, path: Any) -> Any:
        return save(self._da, path)

    def align(self, other: xr.DataArray, *, dim: str = "stimulus") -> tuple[Any, Any]:
        return align(self._da, other, dim=dim)
