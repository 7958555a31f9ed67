"""Helpers shared by every loader: path checks, checksums, package data, provenance."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

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
