"""Saving and loading assemblies: NetCDF4 (h5netcdf) or zarr, chosen by suffix; atomic writes."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._checks import _validate_type

logger = logging.getLogger(__name__)

#: File suffix -> storage format.
FORMATS: dict[str, str] = {
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".h5": "netcdf",
    ".hdf5": "netcdf",
    ".zarr": "zarr",
}

_ATTR_TYPES = (str, int, float, np.integer, np.floating)


def _format_of(path: Path, name: str = "path") -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"Invalid value for {name!r}: expected a file ending in "
            f"{', '.join(FORMATS)}; got {str(path)!r}. "
            "Use .nc for NetCDF4/HDF5 or .zarr for a zarr store."
        )
    return FORMATS[suffix]


def _check_attrs_storable(da: xr.DataArray) -> None:
    """NetCDF and zarr store strings, numbers and 1-d sequences of them; nothing else."""
    holders = [("the assembly", da.attrs)] + [(f"coord {k!r}", c.attrs) for k, c in da.coords.items()]
    for owner, attrs in holders:
        for key, value in attrs.items():
            items = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
            ok = all(isinstance(v, _ATTR_TYPES) and not isinstance(v, (bool, np.bool_))
                     for v in np.asarray(items, dtype=object).ravel())
            if not ok:
                raise ValueError(
                    f"Cannot save attr {key!r} of {owner}: {type(value).__name__} {value!r} is "
                    "not storable (NetCDF and zarr keep strings, numbers and lists of them). "
                    "Convert it, e.g. to a string with json.dumps, or to 0/1 for a bool."
                )


def _temporary_sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; move it onto ``path`` only if the body succeeds.

    A crash or an exception leaves any existing ``path`` untouched. A file is replaced with
    one ``os.replace``. A directory (a zarr store) cannot be swapped in one step: the old
    one is first renamed aside, the new one renamed in, then the old one removed, so at
    every moment one complete copy exists under one of the two names.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from brainbridge._storage import atomic_path
    >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("complete")
    >>> target.read_text(), tmp.exists()
    ('complete', False)
    """
    path = Path(path)
    tmp = _temporary_sibling(path, "tmp")
    try:
        yield tmp
        if tmp.is_dir() and path.exists():
            old = _temporary_sibling(path, "old")
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


def _writer(fmt: str) -> Callable[[xr.DataArray, Path], None]:
    def netcdf(da: xr.DataArray, target: Path) -> None:
        # invalid_netcdf=True lets h5netcdf store float16, which classic NetCDF4 lacks.
        invalid = da.dtype == np.float16 or any(c.dtype == np.float16 for c in da.coords.values())
        da.to_netcdf(target, engine="h5netcdf", invalid_netcdf=invalid)

    def zarr(da: xr.DataArray, target: Path) -> None:
        da.to_zarr(target, mode="w", zarr_format=2, consolidated=True)

    return {"netcdf": netcdf, "zarr": zarr}[fmt]


def save(da: xr.DataArray, path: str | os.PathLike[str]) -> Path:
    """Write an assembly to NetCDF4 (``.nc``, via h5netcdf) or zarr (``.zarr``), atomically.

    The data go to a temporary sibling first, which is renamed onto ``path`` once
    complete, so an interrupted write never corrupts an existing file. Values, coords
    (including string ids and NaN) and attrs round-trip exactly through :func:`load`.

    Parameters
    ----------
    da : DataArray
        The assembly (any DataArray is accepted; nothing is modified).
    path : str or Path
        Target; the suffix picks the format (see :data:`FORMATS`).

    Returns
    -------
    Path
        The written path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> da = bb.assembly(np.arange(6.0).reshape(3, 2), dims=("stimulus", "unit"), modality="fmri")
    >>> path = bb.save(da, Path(tempfile.mkdtemp()) / "betas.nc")
    >>> path.name, bb.load(path).identical(da)
    ('betas.nc', True)
    """
    _validate_type("da", da, xr.DataArray, "an xarray.DataArray")
    path = Path(path)
    fmt = _format_of(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the folder {str(path.parent)!r} does not exist. "
            "Create it first (Path(...).mkdir(parents=True))."
        )
    if path.is_dir() and fmt == "netcdf":
        raise IsADirectoryError(f"Cannot save to {str(path)!r}: it is a directory.")
    _check_attrs_storable(da)
    with atomic_path(path) as tmp:
        _writer(fmt)(da, tmp)
    logger.info("saved %s %s to %s", dict(da.sizes), fmt, path)
    return path


def _restore(da: xr.DataArray) -> xr.DataArray:
    """Undo storage quirks: string coords come back as objects, list attrs as arrays."""
    da.attrs = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in da.attrs.items()}
    fixed = {}
    for key, coord in da.coords.items():
        if coord.dtype.kind == "O" and coord.size and isinstance(coord.values.flat[0], str):
            fixed[key] = (coord.dims, coord.values.astype(str), coord.attrs)
    return da.assign_coords(fixed) if fixed else da


def load(path: str | os.PathLike[str], *, chunks: Any = None) -> xr.DataArray:
    """Read an assembly written by :func:`save` (or any single-variable NetCDF4 / zarr store).

    Parameters
    ----------
    path : str or Path
        A ``.nc`` / ``.h5`` file or a ``.zarr`` store.
    chunks : None, "auto", dict or int, default=None
        ``None`` reads everything into memory and closes the file. Anything else opens
        the values lazily as a dask array with those chunks (``{}`` keeps the chunks
        stored on disk); only the coordinates are read.

    Returns
    -------
    DataArray

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> da = bb.assembly(np.arange(6.0).reshape(3, 2), dims=("stimulus", "unit"), modality="fmri")
    >>> path = bb.save(da, Path(tempfile.mkdtemp()) / "betas.zarr")
    >>> bb.load(path).sel(stimulus="2").values.tolist()
    [4.0, 5.0]
    >>> lazy = bb.load(path, chunks={})
    >>> type(lazy.data).__module__.split(".")[0], float(lazy.sum())
    ('dask', 15.0)
    """
    path = Path(path)
    fmt = _format_of(path)
    if not path.exists():
        raise FileNotFoundError(f"No assembly at {str(path)!r}: the path does not exist.")
    engine = {"netcdf": "h5netcdf", "zarr": "zarr"}[fmt]
    kwargs: dict[str, Any] = {"engine": engine, "decode_times": False, "decode_timedelta": False}
    if chunks is not None:
        kwargs["chunks"] = chunks
    try:
        da = xr.open_dataarray(path, **kwargs)
    except ValueError as err:
        raise ValueError(
            f"Cannot read {str(path)!r} as an assembly: {err}. Files written by "
            "brainbridge.save hold exactly one data variable."
        ) from err
    except OSError as err:
        raise OSError(
            f"Cannot read {str(path)!r} as {fmt}: {err}. The file may be truncated or not "
            f"a {fmt} file."
        ) from err
    if chunks is None:
        with da:
            da = da.load()
    return _restore(da)

