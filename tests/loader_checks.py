"""The conformance check every loader's tests run (compare MNE's ``_test_raw_reader``)."""

from __future__ import annotations

import copy
import hashlib
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
