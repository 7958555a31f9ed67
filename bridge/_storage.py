"""Saving and loading assemblies: NetCDF4 (h5netcdf) or zarr, chosen by suffix; atomic writes.

Guarantees: a write goes to a temporary sibling renamed into place only when complete;
save never replaces a file or folder it did not write (a NetCDF root attribute / a zarr
manifest marks its own); read-only targets and folders are refused and symlinks are
followed and kept; a zarr store's manifest (size and sha256 of every file) is checked on
load; every error names the user's path, never the temporary one.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import stat
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def _check_values_storable(da: xr.DataArray) -> None:
    """Object arrays round-trip only when they hold strings; anything else is refused."""
    arrays = [("its values are", da.variable)] + [(f"its coord {k!r} is", c.variable)
                                                  for k, c in da.coords.items()]
    for what, var in arrays:
        if var.dtype.kind != "O" or var.size == 0:
            continue
        items = np.asarray(var.values).ravel()
        if all(isinstance(v, str) for v in items):
            continue
        kinds = sorted({type(v).__name__ for v in items})
        raise ValueError(
            f"Invalid value for 'da': {what} an object array holding {', '.join(kinds)}, "
            "which NetCDF and zarr cannot store exactly (only strings or numbers). Convert "
            "first, e.g. with .astype(float) (None becomes NaN) or .astype(str)."
        )


def _temporary_sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _shown(path: Path, target: Path) -> str:
    """``'p'``, or ``'p' (a link to 't')`` when ``path`` is a symlink."""
    return repr(str(path)) + (f" (a link to {str(target)!r})" if target != path else "")


def _link_target(path: Path, action: str) -> Path:
    """The path a write to ``path`` lands on: the end of its symlink chain (or ``path``)."""
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():
        raise OSError(f"Cannot {action} {str(path)!r}: it is a symlink loop. Point the link at "
                      "a file, or choose another path.")
    return target


def _writable(path: Path) -> bool:
    """Write permission for this user; root, which ignores permissions, still obeys the bits.

    For root the owner's write bit counts on its own files, any write bit on others' files,
    so a file made read-only with ``chmod 444`` is never replaced.
    """
    if not os.access(path, os.W_OK):
        return False
    if getattr(os, "geteuid", lambda: -1)() != 0:
        return True
    st = path.stat()
    return bool(st.st_mode & (stat.S_IWUSR if st.st_uid == 0 else 0o222))


def _check_writable(path: Path, target: Path, action: str) -> None:
    """Refuse, as ``open(path, "w")`` would, a missing or read-only folder or target."""
    folder = target.parent
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"Cannot {action} {_shown(path, target)}: {str(folder)!r} is a file, not a "
            "folder. Choose another path."
        )
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot {action} {_shown(path, target)}: the folder {str(folder)!r} does not "
            "exist. Create it first (Path(...).mkdir(parents=True))."
        )
    if not _writable(folder) or not os.access(folder, os.X_OK):
        raise PermissionError(
            f"Cannot {action} {_shown(path, target)}: the folder {str(folder)!r} is read-only "
            f"(mode {oct(stat.S_IMODE(folder.stat().st_mode))}). Make it writable "
            "(chmod u+w) or choose another folder."
        )
    if target.exists() and not _writable(target):
        raise PermissionError(
            f"Cannot {action} {_shown(path, target)}: it is read-only (mode "
            f"{oct(stat.S_IMODE(target.stat().st_mode))}) and would be replaced. Make it "
            "writable (chmod u+w) or choose another path."
        )


def _naming_user_path(err: Exception, path: Path, temporaries: list[Path],
                      action: str) -> Exception:
    """``err`` reworded with the user's path in place of a temporary one (or ``err`` itself).

    The new exception has the type of ``err`` when it is a builtin one, else its nearest
    builtin base (an h5py OSError stays an OSError), and chains the original.
    """
    text = str(err)
    for tmp in temporaries:
        text = text.replace(str(tmp), str(path)).replace(tmp.name, path.name)
    filename = getattr(err, "filename", None)
    if text == str(err) and filename not in {str(t) for t in temporaries}:
        return err
    if isinstance(err, OSError) and filename is not None and err.strerror:
        text = f"[Errno {err.errno}] {err.strerror}"  # not "...: '<tmp>'"
    kind = type(err) if type(err).__module__ == "builtins" else next(
        base for base in (OSError, ValueError, TypeError, KeyError, RuntimeError, Exception)
        if isinstance(err, base))
    new = kind(f"Cannot {action} {str(path)!r}: {text}")
    if isinstance(err, OSError):
        new.errno = err.errno  # type: ignore[attr-defined]
    return new


def _move_onto(tmp: Path, target: Path, old: Path) -> None:
    """``os.replace`` for a file; for a directory, swap via ``old`` so one copy always exists."""
    if target.exists():  # keep the permissions of what is replaced
        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
    if not (tmp.is_dir() and target.exists()):
        os.replace(tmp, target)
        return
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    _remove(old)


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, action: str = "write") -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; move it onto ``path`` only if the body succeeds.

    A crash or an exception leaves any existing ``path`` untouched. A file is replaced with
    one ``os.replace``. A directory (a zarr store) cannot be swapped in one step: the old
    one is first renamed aside, the new one renamed in, then the old one removed, so at
    every moment one complete copy exists under one of the two names.

    Permissions and links are respected as ``open(path, "w")`` would: a read-only target
    or folder raises PermissionError (also for root, which ignores the mode bits), a
    symlink is kept and its target rewritten, and a replaced file keeps its mode. An error
    whose message names the temporary sibling is raised again naming ``path`` instead.

    Parameters
    ----------
    path : str or Path
    action : str, default="write"
        The verb in error messages ("Cannot {action} 'path': ...").

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
    target = _link_target(path, action)
    _check_writable(path, target, action)
    tmp = _temporary_sibling(target, "tmp")
    old = tmp.with_name(tmp.name.replace(".tmp-", ".old-"))
    try:
        try:
            yield tmp
            _move_onto(tmp, target, old)
        except Exception as err:
            new = _naming_user_path(err, path, [tmp, old], action)
            if new is err:
                raise
            raise new from err
    finally:
        _remove(tmp)


#: Root attribute of a NetCDF file, and manifest file of a zarr store, that mark what
#: :func:`save` wrote (and may therefore replace).
_MARKER = ("brainbridge_writer", "brainbridge.save")
_MANIFEST = ".brainbridge-manifest.json"
_CHUNK_BYTES = 1 << 22


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        while block := f.read(_CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _sha256s(files: list[Path]) -> list[str]:
    """sha256 of each file, several at a time (hashlib releases the GIL)."""
    if len(files) < 2:
        return [_sha256(f) for f in files]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1, len(files))) as pool:
        return list(pool.map(_sha256, files))


def _store_files(store: Path) -> dict[str, Path]:
    """Every file of a zarr store but its manifest, by ``/``-separated relative name."""
    return {f.relative_to(store).as_posix(): f for f in sorted(store.rglob("*"))
            if f.is_file() and f.name != _MANIFEST}


def _seal(tmp: Path, fmt: str) -> None:
    """Mark what save wrote; for zarr, record every file's size and sha256 for :func:`load`."""
    if fmt == "netcdf":
        import h5py

        with h5py.File(tmp, "a") as f:
            f.attrs[_MARKER[0]] = _MARKER[1]
        return
    found = _store_files(tmp)
    files = {name: [f.stat().st_size, digest]
             for (name, f), digest in zip(found.items(), _sha256s(list(found.values())))}
    manifest = {_MARKER[0]: _MARKER[1], "manifest_version": 1, "algorithm": "sha256",
                "files": files}
    (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=0, sort_keys=True) + "\n")


def _manifest(store: Path) -> dict[str, Any] | None:
    """The store's manifest, or None when it has none (a store save did not write)."""
    file = store / _MANIFEST
    if not store.is_dir() or not file.is_file():
        return None
    try:
        manifest = json.loads(file.read_text())
        files = manifest["files"]
        ok = (manifest.get(_MARKER[0]) == _MARKER[1] and isinstance(files, dict)
              and all(isinstance(v, list) and len(v) == 2 for v in files.values()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"Cannot read {str(store)!r} as zarr: its manifest {_MANIFEST!r} is damaged "
            f"({type(err).__name__}: {err}). Save the assembly again from its source."
        ) from err
    if not ok:
        raise ValueError(
            f"Cannot read {str(store)!r} as zarr: its manifest {_MANIFEST!r} is damaged (not "
            "the layout brainbridge.save writes). Save the assembly again from its source."
        )
    return dict(manifest)


def _written_by_save(target: Path, fmt: str) -> tuple[bool, str]:
    """Whether ``target`` (which exists) carries save's marker; else why not."""
    if fmt == "zarr":
        if not target.is_dir():
            return False, "it is a file, not a zarr store"
        try:
            if _manifest(target) is not None:
                return True, ""
        except ValueError:
            return False, f"its {_MANIFEST} is damaged"
        return False, f"it is a folder without brainbridge's {_MANIFEST}"
    import h5py

    try:
        with h5py.File(target, "r") as f:
            marked = f.attrs.get(_MARKER[0]) == _MARKER[1]
    except Exception:  # not HDF5, truncated, unreadable: not something save wrote
        return False, "it is not a NetCDF/HDF5 file that brainbridge.save wrote"
    return marked, f"it is a NetCDF/HDF5 file without brainbridge's {_MARKER[0]!r} attribute"


def _check_replaceable(path: Path, target: Path, fmt: str, action: str) -> None:
    """Never replace what save did not write: refuse an existing foreign file or folder."""
    if not target.exists():
        return
    if fmt == "netcdf" and target.is_dir():
        raise IsADirectoryError(
            f"Cannot {action} {_shown(path, target)}: it is a folder, not a NetCDF file. "
            "Choose another path."
        )
    ok, why = _written_by_save(target, fmt)
    if not ok:
        raise FileExistsError(
            f"Cannot {action} {_shown(path, target)}: it exists and was not written by "
            f"brainbridge ({why}), and brainbridge never replaces what it did not write. "
            "Choose another path, or delete it yourself first."
        )


@contextmanager
def _atomic_store(path: str | os.PathLike[str], *, name: str = "path",
                  action: str = "save to") -> Iterator[Path]:
    """:func:`atomic_path` for a ``.nc`` / ``.zarr`` target that save may replace; sealed.

    Refuses an existing target that save did not write, and marks the new one (NetCDF: a
    root attribute; zarr: a manifest of every file's size and sha256, checked by
    :func:`load`). ``name`` is the argument named when the suffix is wrong.
    """
    path = Path(path)
    fmt = _format_of(path, name)
    with atomic_path(path, action=action) as tmp:
        _check_replaceable(path, _link_target(path, action), fmt, action)
        yield tmp
        _seal(tmp, fmt)


_NC_VARIABLE = "__xarray_dataarray_variable__"  # xarray's name for an unnamed DataArray


def _writer(fmt: str) -> Callable[[xr.DataArray, Path], None]:
    def netcdf(da: xr.DataArray, target: Path) -> None:
        # invalid_netcdf=True lets h5netcdf store float16, which classic NetCDF4 lacks.
        invalid = da.dtype == np.float16 or any(c.dtype == np.float16 for c in da.coords.values())
        # HDF5's Fletcher-32 checksum on every numeric chunk: a damaged chunk fails to read
        # instead of loading as other numbers (text coords are stored unfiltered)
        checked = {da.name if da.name is not None else _NC_VARIABLE: da.dtype,
                   **{k: c.dtype for k, c in da.coords.items()}}
        encoding = {k: {"fletcher32": True} for k, dtype in checked.items()
                    if dtype.kind in "fiub"}
        da.to_netcdf(target, engine="h5netcdf", invalid_netcdf=invalid, encoding=encoding)

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
    with _atomic_store(path) as tmp:
        _check_values_storable(da)
        _check_attrs_storable(da)
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


def _verify_store(store: Path, manifest: dict[str, Any], hashes: bool) -> None:
    """Raise naming the store and the file unless every file the manifest lists is intact."""
    fix = ("Save the assembly again from its source; if you changed the store on purpose, "
           f"delete its {_MANIFEST} to load it unchecked.")
    files = _store_files(store)
    listed = manifest["files"]
    for name, (size, _) in listed.items():
        file = files.get(name)
        if file is None:
            problem = "is missing"
        elif file.stat().st_size != size:
            problem = f"has {file.stat().st_size} bytes, {size} when saved (truncated or changed)"
        else:
            continue
        raise ValueError(f"Cannot read {str(store)!r} as zarr: the file {name!r} {problem}. {fix}")
    if hashes:
        names = list(listed)
        for name, digest in zip(names, _sha256s([files[n] for n in names])):
            if digest != listed[name][1]:
                raise ValueError(
                    f"Cannot read {str(store)!r} as zarr: the file {name!r} does not match its "
                    f"sha256 checksum (corrupt or changed). {fix}"
                )
    extra = sorted(n for n in files if n not in manifest["files"]
                   and not any(part.startswith(".") for part in n.split("/")))
    if extra:
        raise ValueError(
            f"Cannot read {str(store)!r} as zarr: {extra[0]!r} was added after it was saved "
            f"({len(extra)} unexpected file(s)). {fix}"
        )


def load(path: str | os.PathLike[str], *, chunks: Any = None, verify: bool = True) -> xr.DataArray:
    """Read an assembly written by :func:`save` (or any single-variable NetCDF4 / zarr store).

    A zarr store written by :func:`save` is checked before anything is read, also when
    ``chunks`` opens it lazily: every file it had must be there with its size and sha256
    (the manifest save wrote), so a deleted or truncated chunk raises instead of loading as
    NaN or garbage. A NetCDF file is checked by HDF5 itself: a truncated file does not open,
    and a damaged chunk fails its Fletcher-32 checksum (save writes one per numeric chunk).
    A damaged file raises a ValueError naming it.

    Parameters
    ----------
    path : str or Path
        A ``.nc`` / ``.h5`` file or a ``.zarr`` store.
    chunks : None, "auto", dict or int, default=None
        ``None`` reads everything into memory and closes the file. Anything else opens
        the values lazily as a dask array with those chunks (``{}`` keeps the chunks
        stored on disk); only the coordinates are read.
    verify : bool, default=True
        Compare every file of a zarr store with the sha256 that save recorded (about 1 s
        per GB on one core, once per call, also for a lazy load); ``False`` checks only that
        every file is there with its size (for very large lazy stores).

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
    _validate_type("verify", verify, bool, "a bool")
    if not path.exists():
        left = sorted(path.parent.glob(f".{glob.escape(path.name)}.old-*"))
        hint = (f" An interrupted save left the previous store at {str(left[-1])!r}: rename it "
                "back to load it." if left else "")
        raise FileNotFoundError(f"No assembly at {str(path)!r}: the path does not exist.{hint}")
    if fmt == "zarr":
        manifest = _manifest(path)
        if manifest is not None:
            _verify_store(path, manifest, hashes=verify)
    engine = {"netcdf": "h5netcdf", "zarr": "zarr"}[fmt]
    kwargs: dict[str, Any] = {"engine": engine, "decode_times": False, "decode_timedelta": False}
    if chunks is not None:
        kwargs["chunks"] = chunks
    try:
        with warnings.catch_warnings():
            if fmt == "netcdf":  # save picks the HDF5 chunks (for their checksums), not the reader
                warnings.filterwarnings("ignore", "The specified chunks separate", UserWarning)
            da = xr.open_dataarray(path, **kwargs)
        if chunks is None:
            with da:
                da = da.load()
    except (ImportError, MemoryError, RecursionError):
        raise
    except ValueError as err:
        if "data variable" not in str(err):
            raise _damaged(path, fmt, err) from err
        raise ValueError(
            f"Cannot read {str(path)!r} as an assembly: {err}. Files written by "
            "brainbridge.save hold exactly one data variable."
        ) from err
    except Exception as err:
        raise _damaged(path, fmt, err) from err
    return _restore(da)


def _damaged(path: Path, fmt: str, err: Exception) -> ValueError:
    detail = str(err).strip() or "no message"
    fmt = {"netcdf": "NetCDF4/HDF5", "zarr": "a zarr store"}[fmt]
    return ValueError(
        f"Cannot read {str(path)!r} as {fmt} ({type(err).__name__}: {detail}). The file may be "
        f"truncated or corrupt, or its content may not be {fmt} despite its ending. Save it "
        "again from its source, or give it the ending of its real format."
    )
