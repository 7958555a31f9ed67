"""Validation helpers shared by every brainbridge package.

Messages follow one pattern: the argument's name, what was expected, what was received
and, where one exists, the fix.
"""

from __future__ import annotations

import difflib
import importlib
import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


class AssemblyError(ValueError):
    """An xarray object does not follow the brainbridge assembly schema.

    A ``ValueError``, so ``except ValueError`` catches it too.

    Examples
    --------
    >>> import brainbridge as bb
    >>> issubclass(bb.AssemblyError, ValueError)
    True
    >>> try:
    ...     bb.validate([1, 2, 3])
    ... except bb.AssemblyError as err:
    ...     print(err)
    'assembly' must be an xarray.DataArray; got list. Build one with
    brainbridge.assembly(data, dims=..., modality=...).
    """


def _suggest(value: Any, options: Iterable[str]) -> str:
    """Return ' Did you mean ...?' for the closest option, or an empty string."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_option(name: str, value: Any, options: Iterable[Any]) -> Any:
    """Raise a ValueError unless ``value`` is one of ``options``; return it otherwise.

    >>> _check_option("kernel", "lin", ["linear", "rbf"])
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for 'kernel': expected one of 'linear', 'rbf'; got 'lin'. Did you mean 'linear'?
    """
    options = list(options)
    if value in options:
        return value
    expected = ", ".join(repr(o) for o in options)
    raise ValueError(
        f"Invalid value for {name!r}: expected one of {expected}; got {value!r}."
        f"{_suggest(value, [str(o) for o in options])}"
    )


def _validate_type(name: str, value: Any, types: type | tuple[type, ...], expected: str) -> Any:
    """Raise a TypeError naming ``name`` unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        raise TypeError(
            f"Invalid type for {name!r}: expected {expected}; got {type(value).__name__}."
        )
    return value


_INT_MAX = float(np.iinfo(np.int64).max)

_CLOSED = {"both": ("[", "]"), "left": ("[", ")"), "right": ("(", "]"), "neither": ("(", ")")}


def check_scalar(name: str, value: Any, target_type: type | tuple[type, ...], *, low: float | None = None,
                 high: float | None = None, closed: str = "both", allow_none: bool = False,
                 what: str | None = None, fix: str | None = None) -> Any:
    """Check a scalar argument's type and range; return it as a plain Python number.

    In the manner of scikit-learn's ``check_scalar``, with one message pattern. ``int`` accepts
    Python and numpy integers (returned as ``int``); ``float`` accepts any real number
    (returned as ``float``, and it must be finite). ``bool`` is never a number here.
    ``closed`` says which bounds are included: ``"both"``, ``"left"``, ``"right"`` or
    ``"neither"``.

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    value : object
    target_type : type or tuple of types
        ``int``, ``float`` or ``(int, float)`` (any real number).
    low, high : float, optional
        Bounds of the accepted range.
    closed : {"both", "left", "right", "neither"}, default="both"
    allow_none : bool, default=False
        Accept ``None`` (returned as is).
    what : str, optional
        A few words on what the argument means, shown in the message.
    fix : str, optional
        A sentence telling the user what to pass instead, appended to the message.

    Returns
    -------
    int, float or None

    Raises
    ------
    ValueError
        Naming the argument, the expected type and range, and what was received.

    Examples
    --------
    >>> check_scalar("steps", np.int64(3), int, low=1)
    3
    >>> check_scalar("alpha", 0, float, low=0, closed="neither")
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for 'alpha': expected a finite number in (0, inf); got 0.
    """
    opening, closing = _CLOSED[_check_option("closed", closed, _CLOSED)]
    if allow_none and value is None:
        return None
    types = target_type if isinstance(target_type, tuple) else (target_type,)
    want_int = all(t is int or t is numbers.Integral for t in types)
    if want_int:
        kind = "an integer"
        ok_type = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    else:
        kind = "a finite number"
        ok_type = (isinstance(value, (numbers.Real, np.integer, np.floating))
                   and not isinstance(value, (bool, np.bool_)) and math.isfinite(float(value)))
    in_range = ok_type
    if ok_type:
        v = float(value)
        if want_int and high is None and v > _INT_MAX:
            # a count past int64 cannot size any array: say so here, not in numpy's words
            raise ValueError(f"Invalid value for {name!r}: expected an integer below 2**63; got "
                             f"{value!r}, which no array can hold.{' ' + fix if fix else ''}")
        if low is not None:
            in_range &= v >= low if closed in ("both", "left") else v > low
        if high is not None:
            in_range &= v <= high if closed in ("both", "right") else v < high
    if not in_range:
        if low is None and high is None:
            rng = ""
        elif high is None:
            rng = f" {'>=' if opening == '[' else '>'} {low:g}"
        elif low is None:
            rng = f" {'<=' if closing == ']' else '<'} {high:g}"
        else:
            rng = f" in {opening}{low:g}, {high:g}{closing}"
        if not want_int and low is not None and high is None and rng:
            rng = f" in {opening}{low:g}, inf)"
        none = " or None" if allow_none else ""
        about = f" ({what})" if what else ""
        shown = value.item() if isinstance(value, np.generic) else value
        hint = f" {fix}" if fix else ""
        raise ValueError(f"Invalid value for {name!r}: expected {kind}{rng}{none}{about}; "
                         f"got {shown!r}.{hint}")
    return int(value) if want_int else float(value)


def check_random_state(random_state: Any, name: str = "random_state") -> np.random.Generator:
    """Turn ``None``, an int (seed) or a numpy ``Generator`` into a ``Generator``.

    A Generator is returned as is (the caller's stream advances); ``None`` gives fresh
    entropy; an int or numpy integer seeds a new ``default_rng``.

    Examples
    --------
    >>> int(check_random_state(0).integers(10)) == int(np.random.default_rng(0).integers(10))
    True
    >>> check_random_state(1.5)
    Traceback (most recent call last):
    ...
    TypeError: Invalid type for 'random_state': expected an int, a numpy Generator or None; got float.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (isinstance(random_state, (int, np.integer))
                                and not isinstance(random_state, (bool, np.bool_))):
        if random_state is not None and int(random_state) < 0:
            raise ValueError(f"Invalid value for {name!r}: expected a seed >= 0; got {random_state!r}.")
        return np.random.default_rng(None if random_state is None else int(random_state))
    raise TypeError(
        f"Invalid type for {name!r}: expected an int, a numpy Generator or None; got "
        f"{type(random_state).__name__}."
    )


def _soft_import(name: str, purpose: str, extra: str) -> Any:
    """Import an optional dependency, or say which extra installs it.

    Parameters
    ----------
    name : str
        Module to import, e.g. ``"mne"``.
    purpose : str
        What it is needed for, e.g. ``"reading EEG files"``.
    extra : str
        The brainbridge extra that installs it, e.g. ``"eeg"``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(
            f"{name!r} is needed for {purpose} but is not installed. "
            f'Install it with: pip install "brainbridge[{extra}]"'
        ) from err


def _check_dims(da: Any, required: Iterable[str], name: str) -> None:
    """Raise an AssemblyError if ``da`` is not a DataArray holding every ``required`` dim."""
    import xarray as xr

    if not isinstance(da, xr.DataArray):
        raise AssemblyError(
            f"{name!r} must be an xarray.DataArray; got {type(da).__name__}. "
            "Build one with brainbridge.assembly(data, dims=..., modality=...)."
        )
    missing = [d for d in required if d not in da.dims]
    if missing:
        raise AssemblyError(
            f"{name!r} is missing dim(s) {', '.join(map(repr, missing))}; "
            f"it has dims {tuple(da.dims)}. Rename or add them, e.g. da.rename({{'old': "
            f"{missing[0]!r}}})."
        )


_MAX_LISTED = 5


def _listed(items: Sequence[Any]) -> str:
    """``'a', 'b', 'c' and 4 more``: at most a few reprs, numpy scalars shown as Python ones."""
    shown = ", ".join(repr(i.item() if isinstance(i, np.generic) else i)
                      for i in items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _duplicates(values: np.ndarray) -> list[Any]:
    uniq, counts = np.unique(values, return_counts=True)
    return [u.item() if hasattr(u, "item") else u for u in uniq[counts > 1]]


def check_connectome(connectome: Any, name: str = "connectome", *, chemical: bool = False) -> Any:
    """A ``(pre, post, synapse_type)`` DataArray with the same neurons in the same order on both.

    With ``chemical`` it must also have a ``'chemical'`` synapse type (the network models need
    one). Returns the connectome unchanged.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> conn = xr.DataArray(np.zeros((2, 2, 1)), dims=("pre", "post", "synapse_type"),
    ...                     coords={"pre": ["A", "B"], "post": ["B", "A"], "synapse_type": ["chemical"]})
    >>> try:
    ...     check_connectome(conn)
    ... except ValueError as err:
    ...     print(str(err)[:80])
    Invalid value for 'connectome': expected the same neurons in the same order on '
    """
    import xarray as xr

    if (not isinstance(connectome, xr.DataArray)
            or not {"pre", "post", "synapse_type"} <= set(connectome.dims)):
        got = (f"dims {tuple(connectome.dims)}" if isinstance(connectome, xr.DataArray)
               else type(connectome).__name__)
        raise ValueError(
            f"Invalid value for {name!r}: expected a connectome DataArray with dims ('pre', "
            f"'post', 'synapse_type'); got {got}. Load one with "
            "brainbridge.loaders.load_celegans_connectome('cook2019')."
        )
    types = [str(t) for t in connectome["synapse_type"].values]
    if chemical and "chemical" not in types:
        raise ValueError(
            f"Invalid value for {name!r}: expected a 'chemical' synapse type; got "
            f"{', '.join(map(repr, types))}. Use an annotation with chemical synapse counts "
            "(e.g. 'cook2019', 'white1986_whole')."
        )
    pre = [str(n) for n in connectome["pre"].values]
    post = [str(n) for n in connectome["post"].values]
    if pre != post:
        raise ValueError(
            f"Invalid value for {name!r}: expected the same neurons in the same order on 'pre' "
            "and 'post'; they differ. Select them with connectome.sel(post=connectome.pre.values)."
        )
    return connectome


def _position(values: Any, index: tuple[int, ...]) -> str:
    """``stimulus='s3', unit='u1'`` for a DataArray, ``index (3, 1)`` otherwise."""
    dims = getattr(values, "dims", None)
    coords = getattr(values, "coords", None)
    if dims is None or coords is None or len(dims) != len(index):
        return f"index {index if len(index) != 1 else index[0]}"
    parts = []
    for d, i in zip(dims, index, strict=True):
        label = coords[d].values[i] if d in coords else i
        parts.append(f"{d}={label.item() if isinstance(label, np.generic) else label!r}")
    return ", ".join(parts)


def check_nonempty(name: str, values: Any) -> None:
    """Raise a ValueError naming ``name`` if ``values`` has a zero-length axis (or dim).

    Examples
    --------
    >>> try:
    ...     check_nonempty("x", np.zeros((10, 0)))
    ... except ValueError as err:
    ...     print(str(err)[:62])
    Invalid value for 'x': expected at least one entry along every
    """
    shape = tuple(int(n) for n in getattr(values, "shape", np.shape(values)))
    if 0 in shape:
        dims = getattr(values, "dims", None)
        got = (f"sizes {dict(zip(dims, shape, strict=True))}"
               if dims is not None and len(dims) == len(shape) else f"shape {shape}")
        raise ValueError(
            f"Invalid value for {name!r}: expected at least one entry along every dim; got "
            f"{got}. Pass data that is not empty (check an earlier selection or alignment).")


def _real_array(name: str, arr: Any) -> np.ndarray:
    """``arr`` as an array of real numbers (bool / int / float), or a TypeError naming ``name``."""
    arr = np.asarray(arr)
    kind = arr.dtype.kind
    if kind == "O" and all(isinstance(v, numbers.Real) for v in arr.flat):
        arr, kind = arr.astype(np.float64), "f"
    if kind not in "biuf":
        if kind == "c":
            hint = "Pass the part you mean explicitly, e.g. np.abs(x) or x.real."
        elif kind in "USO":
            hint = "Convert text explicitly first, e.g. x.astype(float)."
        else:
            hint = "Pass an array of real numbers."
        raise TypeError(f"Invalid type for {name!r}: expected real numbers; got dtype "
                        f"{arr.dtype}. {hint}")
    return arr


def check_tensor(name: str, values: Any, *, ndim: int | tuple[int, ...] | None = None,
                 allow_nan: bool = True, dtype: Any = None) -> Any:
    """Return ``values`` as a real floating torch tensor, or raise naming ``name``.

    The tensor counterpart of :func:`check_finite` for the layers and steps of spiking and
    oscillator networks: a tensor keeps its floating dtype and device, anything else
    (numpy arrays, lists) becomes a tensor of ``dtype`` (torch's default when None).
    Complex, text and object data raise a ``TypeError``; a wrong number of dims, an empty
    tensor or inf (and NaN unless ``allow_nan``) raise a ``ValueError``.

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    values : tensor or array-like
    ndim : int or tuple of int, optional
        The accepted number(s) of dims.
    allow_nan : bool, default=True
        Let NaN through (a state that diverged is the caller's to report); inf always raises.
    dtype : torch.dtype, optional
        The dtype for data that is not a floating tensor yet.

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> check_tensor("x", [[0.0, 1.0]]).dtype
    torch.float32
    >>> try:
    ...     check_tensor("x", [1.0, 2.0], ndim=2)
    ... except ValueError as err:
    ...     print(str(err)[:60])
    Invalid value for 'x': expected a tensor with 2 dims; got sh
    """
    import torch

    if isinstance(values, torch.Tensor):
        if values.is_complex():
            raise TypeError(f"Invalid type for {name!r}: expected real numbers; got dtype "
                            f"{values.dtype}. Pass the part you mean explicitly, e.g. x.abs() or x.real.")
        out = values if values.is_floating_point() else values.to(dtype or torch.get_default_dtype())
    else:
        arr = _real_array(name, values.values if hasattr(values, "dims") else values)
        out = torch.as_tensor(np.asarray(arr, dtype=np.float64), dtype=dtype or torch.get_default_dtype())
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if out.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"Invalid value for {name!r}: expected a tensor with {want} dims; got "
                             f"shape {tuple(out.shape)}. Reshape it (e.g. x[None] adds a batch dim).")
    check_nonempty(name, out.detach() if out.requires_grad else out)
    bad = torch.isinf(out) if allow_nan else ~torch.isfinite(out)
    if bool(bad.any()):
        what = "finite numbers or NaN" if allow_nan else "finite numbers"
        raise ValueError(f"Invalid value for {name!r}: expected {what}; got {int(bad.sum())} "
                         f"non-finite of {out.numel()} entries. Remove or fill them first.")
    return out


def check_finite(name: str, values: Any, *, allow_nan: bool = False,
                 fix: str | None = None) -> np.ndarray:
    """Return ``values`` as a float64 array of real numbers, or raise naming ``name``.

    The one rule for data given to distances, similarities and statistics:

    - a dtype that is not a real number raises a ``TypeError``: complex values (the
      imaginary part would be dropped), strings (never parsed as numbers), objects that
      are not all real numbers, dates;
    - ``inf`` always raises a ``ValueError``, and ``NaN`` does too unless ``allow_nan``
      (for functions that document NaN as a missing value). The message gives the count
      of bad entries and the position of the first one (dim labels for a DataArray);
    - an empty array (a zero-length axis) raises a ``ValueError`` (:func:`check_nonempty`).

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    values : array-like or DataArray
    allow_nan : bool, default=False
        Let NaN through (a documented missing value); inf still raises.
    fix : str, optional
        The sentence telling the user what to do, appended to the message.

    Returns
    -------
    ndarray, float64

    Examples
    --------
    >>> try:
    ...     check_finite("x", [[1.0, 2.0], [np.inf, np.nan]])
    ... except ValueError as err:
    ...     print(str(err)[:94])
    Invalid value for 'x': expected finite numbers; got 1 NaN and 1 inf of 4 entries, the first at
    >>> check_finite("x", [1.0, np.nan], allow_nan=True)
    array([ 1., nan])
    >>> try:
    ...     check_finite("x", np.array(["1", "2"]))
    ... except TypeError as err:
    ...     print(str(err)[:72])
    Invalid type for 'x': expected real numbers; got dtype <U1. Convert text
    """
    arr = values.values if hasattr(values, "dims") and hasattr(values, "values") else values
    if hasattr(arr, "detach") and hasattr(arr, "cpu"):
        arr = arr.detach().cpu().numpy()
    arr = _real_array(name, arr)
    check_nonempty(name, values if hasattr(values, "dims") else arr)
    arr = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr) if not allow_nan else np.isinf(arr)
    if bad.any():
        n_nan = int(np.isnan(arr).sum()) if not allow_nan else 0
        n_inf = int(np.isinf(arr).sum())
        got = " and ".join(f"{n} {k}" for n, k in ((n_nan, "NaN"), (n_inf, "inf")) if n)
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
        expected = "finite numbers or NaN (a missing value)" if allow_nan else "finite numbers"
        raise ValueError(
            f"Invalid value for {name!r}: expected {expected}; got {got} of {arr.size} entries, "
            f"the first at {_position(values, first)}. {fix or 'Remove or fill them first.'}")
    return arr


def check_varies(name: str, values: Any, *, axis: int = 0, over: str = "stimuli",
                 fix: str | None = None) -> np.ndarray:
    """Raise naming ``name`` if ``values`` is constant along ``axis`` everywhere.

    The policy for degenerate data: a correlation, similarity or score of something that
    never varies is undefined. Where only some slices (units) are constant, the caller keeps
    them and reports them (NaN for that unit, with a flag); where all are, the whole result
    would be meaningless, and this raises. NaN is ignored (a missing value).

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    values : array-like or DataArray
        Real numbers (run :func:`check_finite` first).
    axis : int, default=0
        The axis along which the values must vary (the samples: stimuli, time points).
    over : str, default="stimuli"
        What ``axis`` is, for the message.
    fix : str, optional
        The sentence telling the user what to do, appended to the message.

    Returns
    -------
    ndarray of bool
        Which slices are constant (the shape of ``values`` without ``axis``).

    Examples
    --------
    >>> check_varies("x", [[1.0, 2.0], [1.0, 3.0]])
    array([ True, False])
    >>> try:
    ...     check_varies("x", np.ones((4, 3)))
    ... except ValueError as err:
    ...     print(str(err)[:70])
    Invalid value for 'x': expected values that vary over stimuli; got all
    """
    arr = np.asarray(values.values if hasattr(values, "dims") else values, dtype=np.float64)
    arr = np.moveaxis(arr, axis, 0).reshape(arr.shape[axis], -1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(arr, axis=0) - np.nanmin(arr, axis=0) if arr.shape[0] else np.zeros(0)
    flat = ~(spread > 0)
    if flat.size and flat.all():
        what = "a single value" if arr.shape[0] < 2 else "constant values"
        raise ValueError(
            f"Invalid value for {name!r}: expected values that vary over {over}; got all "
            f"{flat.size} of {flat.size} slices with {what}, so every correlation or score "
            f"would be undefined (0 / 0). {fix or 'Pass data that varies (check the selection).'}")
    shape = list(np.shape(values))
    del shape[axis]
    return flat.reshape(shape)
