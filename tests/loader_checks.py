"""The conformance check every loader's tests run (compare MNE's ``_test_raw_reader``)."""

from __future__ import annotations

import copy
import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import brainbridge as bb


def _snapshot(obj: Any) -> Any:
    """Something to compare before and after loading, to prove the input was not mutated."""
    if isinstance(obj, (str, Path)) and Path(obj).exists():
        path = Path(obj)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    if isinstance(obj, np.ndarray):
        return obj.copy()
    try:
        return copy.deepcopy(obj)
    except Exception:  # objects that cannot be copied (open files, C handles)
        return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if hasattr(a, "get_data"):  # mne objects
        return np.array_equal(a.get_data(), b.get_data())
    return a is None or a == b


def check_assembly(da: xr.DataArray, tmp_path: Path, *, modality: str) -> xr.DataArray:
    """A valid assembly with stated units and time base that survives save/load exactly."""
    bb.validate(da)
    assert da.attrs["modality"] == modality
    assert da.attrs["units"] and da.attrs["source"] and da.attrs["source"] != "unspecified"
    if "time" in da.dims:
        assert da.attrs["sampling_rate"] > 0
    path = tmp_path / f"roundtrip-{len(list(tmp_path.glob('roundtrip-*')))}.nc"
    bb.save(da, path)
    xr.testing.assert_identical(bb.load(path), da)
    return da


def check_loader(load: Any, source: Any, tmp_path: Path, *, modality: str,
                 **kwargs: Any) -> xr.DataArray:
    """Run ``load(source, **kwargs)``; check the assembly and that ``source`` is unchanged."""
    before = _snapshot(source)
    da = load(source, **kwargs)
    after = _snapshot(source)
    assert before is None or _same(before, after), "the loader modified its input"
    return check_assembly(da, tmp_path, modality=modality)


# -- damaged files ----------------------------------------------------------------------------

#: The ways a file is damaged: cut to half its size; replaced by another format's content
#: under the same name (a text file, or ``other`` bytes); its first bytes overwritten.
DAMAGES = ("truncated", "renamed", "corrupt")


def damage(path: Path, kind: str, *, other: bytes | None = None, at: int = 0) -> None:
    """Damage the file ``path`` in place, as :data:`DAMAGES` describes.

    ``at``: where "corrupt" starts overwriting (past a free-text preamble a reader ignores,
    such as the 128-byte description of a MATLAB file).
    """
    content = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(content[: len(content) // 2])
    elif kind == "renamed":
        path.write_bytes(other if other is not None else b"this is not that format\n" * 20)
    elif kind == "corrupt":
        n = min(64, max(len(content) // 4, 1))
        path.write_bytes(content[:at] + bytes(range(255, 255 - n, -1)) + content[at + n:])
    else:  # pragma: no cover - a typo in a test
        raise AssertionError(f"unknown damage {kind!r}")


def _copy_source(source: Path, dest: Path, companions: Sequence[str] = ()) -> Path:
    """Copy ``source`` (a folder, or a file with its same-stem siblings and ``companions``,
    names in its folder) into ``dest``."""
    dest.mkdir()
    if source.is_dir():
        shutil.copytree(source, dest / source.name)
    else:
        stem = source.name.split(".")[0]
        for sibling in [*source.parent.glob(f"{stem}.*"),
                        *(source.parent / c for c in companions)]:
            if sibling.is_file():
                shutil.copy2(sibling, dest / sibling.name)
    return dest / source.name


def check_bad_files(load: Any, source: Path, tmp_path: Path, *,
                    target: str | dict[str, str] | None = None,
                    kinds: Sequence[str] = DAMAGES, other: bytes | None = None,
                    corrupt_at: int = 0, companions: Sequence[str] = (),
                    **kwargs: Any) -> dict[str, BaseException]:
    """Each damaged copy of ``source`` must raise a ValueError (or FileNotFoundError) naming it.

    ``source`` is a good file (with its same-stem siblings: a BrainVision .vhdr/.vmrk/.eeg)
    or folder written by the format's own writer (``companions``: other files in its folder
    that go with it). For each kind in ``kinds``, it is copied to
    its own folder, the file ``target`` (a name inside the folder ``source``, or a sibling's
    name; per kind with a dict; default ``source`` itself) is damaged, and
    ``load(copy, **kwargs)`` must raise an error whose message holds the path of the copy or
    of the damaged file. Returns the errors by kind, for finer checks.
    """
    errors = {}
    for kind in kinds:
        copy = _copy_source(Path(source), tmp_path / f"damaged-{kind}", companions)
        name = target.get(kind) if isinstance(target, dict) else target
        if name is None:
            damaged = copy
        elif copy.is_dir():
            damaged = copy / name
        else:
            damaged = copy.parent / name
        damage(damaged, kind, other=other, at=corrupt_at)
        try:
            result = load(copy, **kwargs)
            if hasattr(result, "values"):
                np.asarray(result.values)  # a lazy result must fail when computed, at least
        except (ValueError, FileNotFoundError) as err:
            message = str(err)
            assert str(copy) in message or str(damaged) in message, (kind, message)
            errors[kind] = err
        else:
            raise AssertionError(f"{kind} {damaged}: loaded without an error")
    return errors


def bad_file_message(path: Path, fmt: str, cause: BaseException, fix: str | None = None) -> str:
    """The message of ``brainbridge.loaders._common.reading`` for ``path``."""
    return (
        f"Cannot read {str(path)!r} as {fmt} ({type(cause).__name__}: "
        f"{str(cause).strip() or 'no message'}). The file may be truncated or corrupt, or its "
        f"content may not be {fmt} despite its ending. "
        + (fix or "Re-export or re-download it, or give it the ending of its real format.")
    )
