"""Dataset manifests (``data_manifests/*.yaml``) and sha256-checked fetching.

A manifest describes one dataset: what it is (title, modality, citation, licence, version),
how to read it (``loader`` and ``loader_args``) and its files. A file either ships inside an
installed package (``package`` + ``path``) or is downloaded (``url``). Every file has a
``sha256``; where the publisher gives none and the file could not be downloaded when the
manifest was written, ``sha256`` is ``null`` and :func:`fetch` pins the hash of the first
download (with ``allow_unpinned=True``) in ``<dataset folder>/.sha256-pins.yaml``, then
verifies every later use against it.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from .._checks import _check_option, _soft_import
from .._config import data_dir
from ._common import package_data, sha256_file

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ("name", "title", "modality", "citation", "license", "version", "loader", "files")
MANIFEST_MODALITIES = ("eeg", "meg", "fmri", "calcium", "ephys", "celegans", "stimuli")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
PINS_FILE = ".sha256-pins.yaml"


def _manifest_files() -> dict[str, Any]:
    root = importlib.resources.files("brainbridge.data_manifests")
    # name-with-dashes <- file name_with_underscores.yaml
    return {p.name[: -len(".yaml")].replace("_", "-"): p for p in root.iterdir()
            if p.name.endswith(".yaml")}


def _read(resource: Any) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(resource.read_text(encoding="utf-8"))


def check_manifest(manifest: dict[str, Any], origin: str = "manifest") -> dict[str, Any]:
    """Raise a ValueError naming every schema problem of one manifest; return it otherwise.

    Examples
    --------
    >>> from brainbridge.loaders._manifests import check_manifest
    >>> check_manifest({"name": "toy", "modality": "eeg", "files": []}, "toy.yaml")
    Traceback (most recent call last):
        ...
    ValueError: Invalid dataset manifest toy.yaml:
      - missing key 'title'
      - missing key 'citation'
      - missing key 'license'
      - missing key 'version'
      - missing key 'loader'
      - 'files' must be a non-empty list
    """
    problems = [f"missing key {k!r}" for k in REQUIRED_KEYS if k not in manifest]
    modality = manifest.get("modality")
    if modality is not None and modality not in MANIFEST_MODALITIES:
        problems.append(f"'modality' is {modality!r}; expected one of {', '.join(MANIFEST_MODALITIES)}")
    loader = manifest.get("loader", "")
    if loader and not re.fullmatch(r"[\w.]+\.\w+", str(loader)):
        problems.append(f"'loader' must be a dotted path like 'brainbridge.loaders.load_eeg'; got {loader!r}")
    files = manifest.get("files")
    if files is not None and (not isinstance(files, list) or not files):
        problems.append("'files' must be a non-empty list")
        files = []
    seen = set()
    for i, entry in enumerate(files or []):
        where = f"files[{i}]"
        if not isinstance(entry, dict) or "name" not in entry:
            problems.append(f"{where} needs a 'name'")
            continue
        if entry["name"] in seen:
            problems.append(f"{where}: name {entry['name']!r} repeats")
        seen.add(entry["name"])
        packaged = "package" in entry or "path" in entry
        if packaged == ("url" in entry):
            problems.append(f"{where} ({entry['name']}) needs either 'url' or 'package' + 'path'")
        if packaged and not ("package" in entry and "path" in entry):
            problems.append(f"{where} ({entry['name']}) needs both 'package' and 'path'")
        if "sha256" not in entry:
            problems.append(f"{where} ({entry['name']}) has no 'sha256' (use null only with a "
                            "'checksum_note' saying why)")
        elif entry["sha256"] is None:
            if packaged or not entry.get("checksum_note"):
                problems.append(f"{where} ({entry['name']}): a null 'sha256' needs a 'url' and a "
                                "'checksum_note'")
        elif not _SHA256.match(str(entry["sha256"])):
            problems.append(f"{where} ({entry['name']}): 'sha256' must be 64 lower-case hex "
                            f"digits; got {entry['sha256']!r}")
        if "size" in entry and (not isinstance(entry["size"], int) or entry["size"] < 0):
            problems.append(f"{where} ({entry['name']}): 'size' must be a byte count")
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ValueError(f"Invalid dataset manifest {origin}:\n{lines}")
    return manifest


def _manifest(name: str) -> dict[str, Any]:
    files = _manifest_files()
    _check_option("name", name, sorted(files))
    manifest = check_manifest(_read(files[name]), files[name].name)
    if manifest["name"] != name:
        raise ValueError(f"Invalid dataset manifest {files[name].name}: its 'name' is "
                         f"{manifest['name']!r}; expected {name!r} to match the file name.")
    return manifest


def datasets() -> Any:
    """The datasets brainbridge knows, one row each (a ``pandas.DataFrame``).

    Columns: ``name``, ``title``, ``modality``, ``license``, ``n_files``, ``where``
    (``package`` when the files ship inside an installed package, ``download`` otherwise)
    and ``checksums`` (``sha256`` when every file has one, ``pinned on first fetch`` when
    the publisher gives none).

    Examples
    --------
    >>> from brainbridge.loaders import datasets
    >>> table = datasets().set_index("name")
    >>> table.loc["nitime-fmri", ["modality", "where", "checksums"]].tolist()
    ['fmri', 'package', 'sha256']
    """
    rows = []
    for name in sorted(_manifest_files()):
        m = _manifest(name)
        packaged = all("package" in f for f in m["files"])
        pinned = all(f.get("sha256") for f in m["files"])
        rows.append({"name": name, "title": m["title"], "modality": m["modality"],
                     "license": m["license"], "n_files": len(m["files"]),
                     "where": "package" if packaged else "download",
                     "checksums": "sha256" if pinned else "pinned on first fetch"})
    return pd.DataFrame(rows)


def dataset_info(name: str) -> dict[str, Any]:
    """The parsed manifest of dataset ``name`` (see :func:`datasets` for the names).

    Examples
    --------
    >>> from brainbridge.loaders import dataset_info
    >>> info = dataset_info("nitime-fmri")
    >>> info["loader"], [f["name"] for f in info["files"]]
    ('brainbridge.loaders.load_fmri', ['fmri_timeseries.csv', 'fmri1.nii.gz', 'fmri2.nii.gz'])
    """
    return _manifest(name)


def _download(url: str, target: Path, sha256: str | None, progress: bool) -> None:
    """Download ``url`` to ``target`` (via a temporary name), checking ``sha256`` when given."""
    pooch = _soft_import("pooch", "downloading datasets", "fetch")
    known = f"sha256:{sha256}" if sha256 else None
    pooch.retrieve(url, known_hash=known, fname=target.name, path=target.parent,
                   progressbar=progress)


def _load_pins(folder: Path) -> dict[str, str]:
    import yaml

    path = folder / PINS_FILE
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def _save_pins(folder: Path, pins: dict[str, str]) -> None:
    import yaml

    tmp = folder / f"{PINS_FILE}.tmp"
    tmp.write_text(yaml.safe_dump(pins, sort_keys=True))
    os.replace(tmp, folder / PINS_FILE)


def _verify(path: Path, expected: str, name: str, dataset: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise ValueError(
            f"Checksum mismatch for {str(path)!r} (file {name!r} of dataset {dataset!r}): expected "
            f"sha256 {expected}, got {got}. The file was left in place; it may be truncated or a "
            "different version. Delete it and fetch again, or put the right file there."
        )


def fetch(name: str, *, files: list[str] | None = None, dest: str | os.PathLike[str] | None = None,
          allow_unpinned: bool = False, progress: bool | None = None) -> dict[str, Path]:
    """Make the files of dataset ``name`` available locally, verified by sha256.

    Packaged files are found inside their installed package and verified in place.
    Downloaded files go to ``dest`` (default ``$BRAINBRIDGE_DATA/<name>``); a file already
    there is verified, not downloaded again, so you can also put files there by hand
    (offline machines). Downloads go through pooch to a temporary name and are renamed
    once their checksum matches.

    Parameters
    ----------
    name : str
        A dataset name from :func:`datasets`.
    files : list of str, optional
        Only these file names (default: all).
    dest : str or Path, optional
        Folder for downloads.
    allow_unpinned : bool, default=False
        Accept files whose manifest has no published sha256: the first download's hash is
        pinned and every later fetch is checked against the pin.
    progress : bool or None, default=None
        Show download progress bars: True always, False never, None on a terminal only.

    Returns
    -------
    dict of str to Path
        File name -> local path.

    Examples
    --------
    A packaged file (inside the installed ``nitime``) is found and verified, not downloaded:

    >>> from brainbridge.loaders import fetch
    >>> paths = fetch("nitime-fmri", files=["fmri_timeseries.csv"])
    >>> path = paths["fmri_timeseries.csv"]
    >>> path.name, path.stat().st_size
    ('fmri_timeseries.csv', 66972)
    """
    manifest = _manifest(name)
    entries = manifest["files"]
    if files is not None:
        known = [f["name"] for f in entries]
        for f in files:
            _check_option("files", f, known)
        entries = [e for e in entries if e["name"] in files]
    folder = Path(dest) if dest is not None else data_dir() / name
    out: dict[str, Path] = {}
    pins: dict[str, str] | None = None
    for entry in entries:
        fname, expected = entry["name"], entry.get("sha256")
        if "package" in entry:
            dist = entry["package"]
            top, *parts = entry["path"].split("/")
            path = package_data(top, *parts, install=f"pip install {dist}")
            _verify(path, expected, fname, name)
            out[fname] = path
            continue
        target = folder / fname
        if expected is None:
            if pins is None:
                pins = _load_pins(folder) if folder.exists() else {}
            expected = pins.get(fname)
            if expected is None and not allow_unpinned:
                raise ValueError(
                    f"File {fname!r} of dataset {name!r} has no published sha256 ("
                    f"{entry['checksum_note']}). Pass allow_unpinned=True (CLI: --allow-unpinned) "
                    "to download it and pin the hash of this first download for every later use."
                )
        if target.exists() and expected is not None:
            _verify(target, expected, fname, name)
            out[fname] = target
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _download(entry["url"], target, expected,
                      sys.stderr.isatty() if progress is None else bool(progress))
        except ValueError as err:  # pooch: hash mismatch of the download
            raise ValueError(
                f"The download of {fname!r} (dataset {name!r}) from {entry['url']} does not match "
                f"its sha256 {expected}: {err}. Nothing was kept."
            ) from err
        except Exception as err:  # no network, HTTP errors
            raise OSError(
                f"Could not download {fname!r} of dataset {name!r} from {entry['url']} ({err}). "
                f"Download it by other means and put it at {str(target)!r}; fetch checks it by "
                "sha256."
            ) from err
        if entry.get("sha256") is None:
            pins = {**(pins or {}), fname: sha256_file(target)}
            _save_pins(folder, pins)
            logger.warning("pinned sha256 of %s (dataset %s) on first download: %s", fname, name,
                           pins[fname])
        out[fname] = target
    return out

