"""Helpers shared by every loader: path checks, checksums, package data, provenance."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import _listed

_CHUNK = 1 << 20


def check_file(source: str | os.PathLike[str], *, suffixes: Sequence[str], what: str,
               name: str = "source", directory: bool = False) -> Path:
    """Return ``source`` as a Path after checking that it exists and has an accepted suffix.

    Parameters
    ----------
    source : str or Path
        The path a user gave.
    suffixes : sequence of str
        Accepted endings, lower case with the dot (``".edf"``, ``".nii.gz"``); empty accepts any.
    what : str
        What the file should be, for the message (``"an EEG recording"``).
    name : str, default="source"
        The argument's name, for the message.
    directory : bool, default=False
        Expect a folder instead of a file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from brainbridge.loaders._common import check_file
    >>> path = Path(tempfile.mkdtemp()) / "rec.edf"
    >>> _ = path.write_bytes(b"abc")
    >>> check_file(path, suffixes=[".edf"], what="an EEG recording") == path
    True
    >>> check_file(path, suffixes=[".fif"], what="an EEG recording")
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for 'source': expected an EEG recording ending in .fif; got '.../rec.edf'.
    Rename the file if its content has one of these formats.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"Invalid value for {name!r}: {str(path)!r} does not exist. Give the path to "
            f"{what}."
        )
    if directory and not path.is_dir():
        raise ValueError(
            f"Invalid value for {name!r}: expected a folder holding {what}; got the file "
            f"{str(path)!r}."
        )
    if not directory and path.is_dir():
        raise ValueError(
            f"Invalid value for {name!r}: expected {what}; got the folder {str(path)!r}."
        )
    lower = path.name.lower()
    if suffixes and not any(lower.endswith(s) for s in suffixes):
        raise ValueError(
            f"Invalid value for {name!r}: expected {what} ending in {', '.join(suffixes)}; got "
            f"{str(path)!r}. Rename the file if its content has one of these formats."
        )
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (memory stays flat for any size).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from brainbridge.loaders._common import sha256_file
    >>> path = Path(tempfile.mkdtemp()) / "abc.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> sha256_file(path)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(path: str | os.PathLike[str], dataset: str | None = None) -> str:
    """The ``source`` attr of a loaded file: ``"[dataset:]name sha256:<hex>"``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from brainbridge.loaders._common import provenance
    >>> path = Path(tempfile.mkdtemp()) / "rec.edf"
    >>> _ = path.write_bytes(b"abc")
    >>> provenance(path, "toy")
    'toy:rec.edf sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    path = Path(path)
    head = f"{dataset}:" if dataset else ""
    if path.is_dir():
        return f"{head}{path.name}"
    return f"{head}{path.name} sha256:{sha256_file(path)}"


def package_data(package: str, *parts: str, install: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package.

    Parameters
    ----------
    package : str
        Top-level package name (``"cect"``).
    *parts : str
        Path inside the package folder (``"cache", "White_whole.json"``).
    install : str
        The pip command that installs it, for the message.

    Examples
    --------
    >>> from brainbridge.loaders._common import package_data
    >>> path = package_data("sklearn", "datasets", "data", "iris.csv", install="pip install scikit-learn")
    >>> path.name, path.parent.name
    ('iris.csv', 'data')
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"The package {package!r} is not installed; it holds the data asked for. "
            f"Install it with: {install}"
        )
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{str(path)!r} is missing from the installed {package!r}; reinstall it with: "
            f"{install}"
        )
    return path


#: Exceptions that say nothing about the file and pass through :func:`reading` unchanged.
_PASS_THROUGH = (ImportError, MemoryError, RecursionError)


@contextmanager
def reading(path: str | os.PathLike[str], fmt: str, *, fix: str | None = None,
            warnings_as_errors: Sequence[str] = (), keep_own: bool = True) -> Iterator[None]:
    """Turn a parser's failure on a bad file into one ValueError naming the file and format.

    Every loader reads files inside this block, so a truncated, corrupt or renamed file
    gives the same message whatever the parser (expat, h5py, pyarrow, pickle, json,
    nibabel, mne): the path, the format, the parser's own words, and the fix. The
    original exception is chained (``raise ... from err``).

    Parameters
    ----------
    path : str or Path
        The file being read, as the user named it.
    fmt : str
        The format it should hold, for the message (``"GIFTI"``, ``"NWB (HDF5)"``).
    fix : str, optional
        The last sentence of the message; default: re-export or re-download the file, or
        give it the ending of its real format.
    warnings_as_errors : sequence of str
        Regular expressions of parser warnings that mean a damaged file (mne warns on a
        truncated FIF or EDF, then returns part of it); they raise instead.
    keep_own : bool, default=True
        Let a ValueError, FileNotFoundError or PermissionError whose message already names
        ``path`` (a loader's own, more specific message) through unchanged.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from brainbridge.loaders._common import reading
    >>> path = Path(tempfile.mkdtemp()) / "graph.json"
    >>> _ = path.write_text('{"nodes": [1, 2')
    >>> with reading(path, "JSON"):
    ...     json.loads(path.read_text())
    Traceback (most recent call last):
        ...
    ValueError: Cannot read '.../graph.json' as JSON (JSONDecodeError: Expecting ',' delimiter:
    ...). The file may be truncated or corrupt, or its content may not be JSON despite its
    ending. Re-export or re-download it, or give it the ending of its real format.
    """
    where = str(path)
    with warnings.catch_warnings():
        for message in warnings_as_errors:
            warnings.filterwarnings("error", message=message, category=RuntimeWarning)
        try:
            yield
        except _PASS_THROUGH:
            raise
        except Exception as err:
            if (keep_own and isinstance(err, (ValueError, FileNotFoundError, PermissionError))
                    and where in str(err)):
                raise
            detail = str(err).strip() or "no message"
            raise ValueError(
                f"Cannot read {where!r} as {fmt} ({type(err).__name__}: {detail}). The file "
                f"may be truncated or corrupt, or its content may not be {fmt} despite its "
                "ending. "
                + (fix or "Re-export or re-download it, or give it the ending of its real "
                          "format.")
            ) from err


def reject_inf(values: Any, unit_ids: Any, where: str, *, axis: int = -1) -> None:
    """Raise when a recording holds +-inf: never a measurement (NaN, a missing sample, is kept).

    ``axis`` is the unit axis of ``values``; ``where`` names the source for the message. A
    lazy (dask) array is not checked here: it would have to be read.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.loaders._common import reject_inf
    >>> reject_inf(np.array([[1.0, np.nan], [2.0, 3.0]]), ["a", "b"], "the array")
    >>> reject_inf(np.array([[1.0, np.inf], [2.0, 3.0]]), ["a", "b"], "the array")
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for 'source': the array holds 1 infinite value(s), in unit(s) 'b'; a
    recording cannot measure infinity. Replace them with NaN (a missing sample) if they mark
    gaps, or check how the data were written.
    """
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "fc":
        return
    inf = np.isinf(values)
    if not inf.any():
        return
    per_unit = np.moveaxis(inf, axis, -1).reshape(-1, values.shape[axis]).any(axis=0)
    names = [str(u) for u in np.asarray(unit_ids)[per_unit]]
    shown = _listed(names)
    raise ValueError(
        f"Invalid value for 'source': {where} holds {int(inf.sum())} infinite value(s), in "
        f"unit(s) {shown}; a recording cannot measure infinity. Replace them with NaN (a "
        "missing sample) if they mark gaps, or check how the data were written."
    )
