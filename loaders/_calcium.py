"""Calcium imaging traces -> assemblies: NWB files, suite2p output folders and plain arrays.

All three sources end as one ``("time", "unit")`` assembly with modality ``"calcium"``.
NWB files and suite2p folders can stay on disk (``chunks=...``): the values are then a
dask array that reads only the chunks a computation needs.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from .._assembly import assembly
from .._checks import _check_option, _listed, _soft_import, check_scalar
from ._common import check_file, provenance, reading, reject_inf

logger = logging.getLogger(__name__)

#: suite2p's default neuropil coefficient (``ops["neucoeff"]``).
SUITE2P_NEUROPIL = 0.7

#: Units of an NWB series that mean "none given".
_UNSPECIFIED_UNITS = ("", "n.a.", "n/a", "na", "none", "no unit", "unknown", "unitless")

#: PlaneSegmentation columns read as the probability that an ROI is a cell.
_PROBABILITY_COLUMNS = ("cell_probability", "probcell", "prob_cell", "probability")

_SUITE2P_FILES = ("F.npy", "Fneu.npy", "iscell.npy")
_PLANE = re.compile(r"plane(\d+)$")
_DIMS = ("time", "unit")


@dataclass
class _Traces:
    """What a parser hands back: ``(time, unit)`` values and everything around them."""

    data: Any  # numpy or dask, (n_frames, n_rois)
    time: np.ndarray
    sampling_rate: float
    unit_ids: list[str]
    units: str
    source: str
    coords: dict[str, Any] = field(default_factory=dict)
    is_dff: bool = False


# --------------------------------------------------------------------------- baselines


def _percentile_baseline(x: np.ndarray, half: int, percentile: float) -> np.ndarray:
    """Running ``percentile`` (``method="lower"``) over ``x[t - half : t + half + 1]``."""
    f0 = (pd.DataFrame(np.asarray(x, dtype=np.float64))
          .rolling(2 * half + 1, center=True, min_periods=1)
          .quantile(percentile / 100.0, interpolation="lower"))
    return f0.to_numpy()


#: ``baseline`` name -> function ``(block, half_window_frames, percentile) -> F0``.
BASELINES: dict[str, Callable[[np.ndarray, int, float], np.ndarray]] = {
    "percentile": _percentile_baseline,
}


def _dff_block(x: np.ndarray, baseline: str, half: int, percentile: float,
               unit_ids: Any = None, block_info: Any = None) -> np.ndarray:
    f0 = BASELINES[baseline](x, half, percentile)
    bad = np.any(f0 <= 0, axis=0)  # NaN F0 (no sample in the window) compares False
    if bad.any():
        offset = 0 if block_info is None else int(block_info[0]["array-location"][1][0])
        columns = np.flatnonzero(bad) + offset
        names = [str(unit_ids[c]) if unit_ids is not None else str(c) for c in columns]
        shown = _listed(names)
        raise ValueError(
            f"Invalid value for 'dff': the baseline F0 is <= 0 for {len(names)} unit(s) "
            f"({shown}), so dF/F = (F - F0) / F0 is undefined there (F0 = {baseline} "
            "baseline). Such traces are "
            "usually background- or neuropil-subtracted: add a constant offset so that "
            "F > 0 (or load with neuropil=0 for suite2p), drop those units, or pass "
            "dff=False."
        )
    out = (x - f0) / f0
    return out.astype(x.dtype, copy=False)


def _dff(data: Any, sampling_rate: float, baseline: str, window: float,
         percentile: float, unit_ids: Any = None) -> Any:
    half = int(round(window * sampling_rate / 2.0))
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    if hasattr(data, "map_overlap"):  # dask: overlap chunks in time by the half window
        # a window longer than the recording covers all of it: n - 1 frames of overlap do
        depth = max(min(half, data.shape[0] - 1), 0)
        return data.map_overlap(_dff_block, depth={0: depth, 1: 0}, boundary="none",
                                dtype=data.dtype, baseline=baseline, half=half,
                                percentile=percentile, unit_ids=unit_ids)
    return _dff_block(data, baseline, half, percentile, unit_ids)


# --------------------------------------------------------------------------- helpers


def _dask_chunks(chunks: Any) -> Any:
    """``chunks`` as dask understands it for a ``(time, unit)`` array."""
    if isinstance(chunks, Mapping):
        unknown = [k for k in chunks if k not in _DIMS]
        if unknown:
            raise ValueError(
                f"Invalid value for 'chunks': dict keys must be dims 'time' or 'unit'; got "
                f"{', '.join(map(repr, unknown))}."
            )
        for dim, size in chunks.items():
            _check_chunk(f"chunks[{dim!r}]", size)
        return tuple(chunks.get(d, -1) for d in _DIMS)
    if chunks is not None:
        _check_chunk("chunks", chunks)
    return chunks


def _check_chunk(name: str, size: Any) -> None:
    """A chunk size is a positive integer, -1 (the whole dim) or "auto"."""
    if isinstance(size, str) and size == "auto":
        return
    if isinstance(size, tuple):  # dask's explicit block sizes, e.g. ((100, 200), (4,))
        for i, part in enumerate(size):
            _check_chunk(f"{name}[{i}]", part)
        return
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size == -1:
        return
    check_scalar(name, size, int, low=1, what="frames or ROIs per chunk",
                 fix='Give a positive number of frames or ROIs per chunk, -1 for the whole '
                     'dim, or "auto".')


class _LazyH5:
    """A read-only view of one HDF5 dataset that opens the file only while it reads.

    dask calls ``__getitem__`` once per chunk; each call opens the file with h5py, reads
    the selection and closes the file again. No handle stays open between computations,
    the object pickles (for dask.distributed), and the file must stay where it is,
    unchanged, for as long as the lazy assembly is used.
    """

    def __init__(self, filename: str, dataset: str, shape: tuple[int, ...], dtype: Any,
                 chunks: tuple[int, ...] | None) -> None:
        self.filename, self.dataset = filename, dataset
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)
        self.chunks = chunks  # the on-disk chunks, which dask's chunks="auto" follows

    def __getitem__(self, key: Any) -> np.ndarray:
        import h5py

        with h5py.File(self.filename, "r") as f:
            return f[self.dataset][key]


def _array_source(values: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()
    return f"array {values.shape[0]}x{values.shape[1]} {values.dtype} sha256:{digest}"


# --------------------------------------------------------------------------- arrays


def _parse_array(source: Any, frame_rate: float | None, chunks: Any) -> _Traces:
    if frame_rate is None:
        raise ValueError(
            "Invalid value for 'frame_rate': an array carries no time base; give "
            "frame_rate in Hz (frames per second), e.g. load_calcium(x, frame_rate=30.0)."
        )
    rate = check_scalar("frame_rate", frame_rate, float, low=0, closed="neither",
                        what="frames per second, Hz")
    values = np.array(source, copy=True)  # the assembly never shares memory with the input
    if values.ndim != 2 or values.dtype.kind not in "fiub":
        raise ValueError(
            "Invalid value for 'source': expected an (n_frames, n_rois) array of numbers, a "
            f"suite2p folder or an NWB file; got an array of shape {values.shape} and dtype "
            f"{values.dtype}."
        )
    if 0 in values.shape:
        raise ValueError(
            f"Invalid value for 'source': the array of shape {values.shape} holds no "
            f"{'frame' if values.shape[0] == 0 else 'ROI'}; expected (n_frames, n_rois) with "
            "at least one of each."
        )
    src = _array_source(values)
    if chunks is not None:
        import dask.array as da

        values = da.from_array(values, chunks=_dask_chunks(chunks))
    n_frames, n_rois = values.shape
    return _Traces(values, np.arange(n_frames) / rate, rate,
                   [f"roi{i}" for i in range(n_rois)], "fluorescence (a.u.)", src)


# --------------------------------------------------------------------------- suite2p


def _suite2p_planes(folder: Path) -> list[Path]:
    if (folder / "F.npy").exists():
        return [folder]
    planes = [p for p in folder.iterdir() if p.is_dir() and _PLANE.match(p.name)]
    if not planes:
        raise ValueError(
            f"Invalid value for 'source': the folder {str(folder)!r} holds neither suite2p "
            "output (F.npy) nor plane0, plane1, ... folders; give a suite2p plane folder or "
            "its parent."
        )
    return sorted(planes, key=lambda p: int(_PLANE.match(p.name).group(1)))  # type: ignore[union-attr]


def _read_plane(plane: Path, neuropil: float, frame_rate: float | None,
                chunks: Any) -> tuple[Any, np.ndarray, float]:
    missing = [f for f in _SUITE2P_FILES if not (plane / f).exists()]
    if frame_rate is None and not (plane / "ops.npy").exists():
        missing.append("ops.npy")
    if missing:
        raise FileNotFoundError(
            f"Invalid value for 'source': the suite2p folder {str(plane)!r} lacks "
            f"{', '.join(missing)}. Point to a complete suite2p output folder (give "
            "frame_rate if ops.npy is missing)."
        )
    lazy = chunks is not None
    mode: Literal["r"] | None = "r" if lazy else None
    with reading(plane / "F.npy", "a NumPy .npy array"):
        f = np.load(plane / "F.npy", mmap_mode=mode)
    with reading(plane / "Fneu.npy", "a NumPy .npy array"):
        fneu = np.load(plane / "Fneu.npy", mmap_mode=mode)
    with reading(plane / "iscell.npy", "a NumPy .npy array"):
        iscell = np.load(plane / "iscell.npy")
    if f.ndim != 2 or fneu.shape != f.shape or iscell.shape[0] != f.shape[0]:
        raise ValueError(
            f"Invalid value for 'source': in {str(plane)!r}, F.npy {f.shape}, Fneu.npy "
            f"{fneu.shape} and iscell.npy {iscell.shape} do not describe the same ROIs "
            "(expected (n_rois, n_frames) twice and (n_rois, 2))."
        )
    if frame_rate is None:
        # ops.npy is a pickled dict written by np.save: a trusted local file, so it is
        # unpickled (allow_pickle=True). Never point this loader at folders you do not trust.
        with reading(plane / "ops.npy", "a NumPy .npy file holding suite2p's ops dict"):
            ops = np.load(plane / "ops.npy", allow_pickle=True).item()
        if not isinstance(ops, dict) or "fs" not in ops:
            raise ValueError(
                f"Invalid value for 'source': {str(plane / 'ops.npy')!r} has no 'fs' entry; "
                "give frame_rate (Hz)."
            )
        fs = float(ops["fs"])
    else:
        fs = frame_rate
    if lazy:
        import dask.array as da

        # suite2p stores (n_rois, n_frames): chunk in that order, so .T has (time, unit) chunks
        c = _dask_chunks(chunks)
        c = tuple(reversed(c)) if isinstance(c, tuple) else c
        f, fneu = da.from_array(f, chunks=c), da.from_array(fneu, chunks=c)
    traces = (f - neuropil * fneu) if neuropil else f
    return traces, np.asarray(iscell), fs


def _parse_suite2p(folder: Path, neuropil: float, frame_rate: float | None,
                   chunks: Any) -> _Traces:
    planes = _suite2p_planes(folder)
    lazy = chunks is not None
    parts, iscells, rates, ids, plane_names, sources = [], [], [], [], [], []
    for plane in planes:
        traces, iscell, fs = _read_plane(plane, neuropil, frame_rate, chunks)
        parts.append(traces.T)
        iscells.append(iscell if iscell.ndim == 2 else iscell[:, None])
        rates.append(fs)
        ids += [f"{plane.name}/roi{i}" for i in range(traces.shape[0])]
        plane_names += [plane.name] * traces.shape[0]
        sources.append(provenance(plane / "F.npy", dataset=f"suite2p:{plane.name}"))
    if len(set(rates)) > 1 or len({p.shape[0] for p in parts}) > 1:
        raise ValueError(
            f"Invalid value for 'source': the planes of {str(folder)!r} differ in frame rate "
            f"({rates} Hz) or frame count ({[p.shape[0] for p in parts]}); load each plane "
            "folder separately."
        )
    if lazy:
        import dask.array as da

        data = da.concatenate(parts, axis=1)
    else:
        data = np.concatenate(parts, axis=1)
    iscell = np.concatenate(iscells, axis=0)
    coords: dict[str, Any] = {"is_cell": ("unit", iscell[:, 0].astype(bool)),
                              "plane": ("unit", np.asarray(plane_names, dtype=str))}
    if iscell.shape[1] > 1:
        coords["cell_probability"] = ("unit", iscell[:, 1].astype(np.float64))
    rate = rates[0]
    units = "fluorescence (a.u.)"
    return _Traces(data, np.arange(data.shape[0]) / rate, rate, ids, units,
                   "; ".join(sources), coords)


# --------------------------------------------------------------------------- NWB


def _series_label(series: Any) -> str:
    names, node = [series.name], series.parent
    while node is not None and node.parent is not None:  # stop below the NWBFile root
        names.insert(0, node.name)
        node = node.parent
    return "/".join(names)


def _pick_series(nwbfile: Any, series: str | None, path: Path) -> Any:
    from pynwb.ophys import RoiResponseSeries

    found = {_series_label(o): o for o in nwbfile.objects.values()
             if isinstance(o, RoiResponseSeries)}
    labels = sorted(found)
    if not found:
        raise ValueError(
            f"Invalid value for 'source': {str(path)!r} holds no RoiResponseSeries (searched "
            "every Fluorescence, DfOverF and other container); is it an optical-physiology "
            "file?"
        )
    if series is None:
        if len(found) == 1:
            return found[labels[0]]
        raise ValueError(
            f"Invalid value for 'series': {str(path)!r} holds {len(found)} RoiResponseSeries: "
            f"{', '.join(map(repr, labels))}; pick one with series=<name>."
        )
    if series in found:
        return found[series]
    matches = [k for k in labels if k.endswith("/" + series)]
    if len(matches) == 1:
        return found[matches[0]]
    why = f"matches {len(matches)}" if matches else "matches none"
    raise ValueError(
        f"Invalid value for 'series': {series!r} {why} of the RoiResponseSeries in "
        f"{str(path)!r}: {', '.join(map(repr, labels))}; give one of these names."
    )


def _roi_coords(series: Any) -> tuple[list[str], dict[str, Any]]:
    region = series.rois
    table = region.table
    rows = np.asarray(region.data[:], dtype=np.int64)
    ids = [str(i) for i in np.asarray(table.id.data[:])[rows]]
    plane = getattr(getattr(table, "imaging_plane", None), "name", None) or table.name
    coords: dict[str, Any] = {"plane": ("unit", np.full(rows.size, plane, dtype=object)
                                        .astype(str))}
    colnames = tuple(getattr(table, "colnames", ()))
    if "iscell" in colnames:  # suite2p's export: columns (is-cell flag, probability)
        iscell = np.asarray(table["iscell"].data[:])[rows]
        iscell = iscell if iscell.ndim == 2 else iscell[:, None]
        coords["is_cell"] = ("unit", iscell[:, 0].astype(bool))
        if iscell.shape[1] > 1:
            coords["cell_probability"] = ("unit", iscell[:, 1].astype(np.float64))
    for name in _PROBABILITY_COLUMNS:
        if name in colnames and "cell_probability" not in coords:
            prob = np.asarray(table[name].data[:], dtype=np.float64)[rows]
            coords["cell_probability"] = ("unit", prob)
    return ids, coords


def _parse_nwb(path: Path, series: str | None, chunks: Any) -> _Traces:
    pynwb = _soft_import("pynwb", "reading NWB files", "nwb")
    from pynwb.ophys import DfOverF

    with reading(path, "NWB (HDF5)"), pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        rrs = _pick_series(nwbfile, series, path)
        label = _series_label(rrs)
        dset = rrs.data
        n_frames = dset.shape[0]
        if chunks is None:
            data = np.asarray(dset[()])
        else:
            import dask.array as da

            lazy = _LazyH5(dset.file.filename, dset.name, dset.shape, dset.dtype, dset.chunks)
            c = _dask_chunks(chunks)
            if dset.ndim == 1 and isinstance(c, tuple):  # one ROI stored as a 1-d dataset
                c = c[0]
            data = da.from_array(lazy, chunks=c,
                                 meta=np.empty((0,) * dset.ndim, dtype=dset.dtype),
                                 name=f"nwb-{hashlib.sha1(f'{path}:{label}'.encode()).hexdigest()}")
        if data.ndim == 1:  # one ROI
            data = data[:, None]
        if rrs.timestamps is not None:
            time = np.asarray(rrs.timestamps[:], dtype=np.float64)
            rate = float(rrs.rate) if rrs.rate else 1.0 / float(np.median(np.diff(time)))
        else:
            rate = float(rrs.rate)
            time = float(rrs.starting_time or 0.0) + np.arange(n_frames) / rate
        conversion, offset = float(rrs.conversion), float(getattr(rrs, "offset", 0.0) or 0.0)
        is_dff = isinstance(rrs.parent, DfOverF)
        unit = str(rrs.unit or "")
        ids, coords = _roi_coords(rrs)
    if conversion != 1.0 or offset != 0.0:
        data = data * conversion + offset
    if unit.strip().lower() in _UNSPECIFIED_UNITS:
        unit = "dF/F" if is_dff else "fluorescence (a.u.)"
    if len(ids) != data.shape[1]:
        raise ValueError(
            f"Invalid value for 'source': the series {label!r} in {str(path)!r} has "
            f"{data.shape[1]} columns but its 'rois' region names {len(ids)} ROIs."
        )
    return _Traces(data, time, rate, ids, unit, f"{provenance(path)} {label}", coords, is_dff)


# --------------------------------------------------------------------------- public


def load_calcium(
    source: Any,
    *,
    frame_rate: float | None = None,
    series: str | None = None,
    neuropil: float | None = None,
    dff: bool = False,
    baseline: str = "percentile",
    baseline_window: float = 60.0,
    percentile: float = 8,
    chunks: Any = None,
) -> xr.DataArray:
    """Load calcium-imaging traces from an NWB file, a suite2p folder or an array.

    Three kinds of source are read:

    - **NWB** (``.nwb``, read with pynwb): one ``RoiResponseSeries`` from a
      ``Fluorescence``, ``DfOverF`` or other container of a processing module. Time is
      ``starting_time + arange(n) / rate`` seconds, or the series' ``timestamps``;
      ``sampling_rate`` is ``rate`` (or 1 / the median timestamp step). Values are
      ``data * conversion + offset`` in the series' ``unit``; an unspecified unit
      (``""``, ``"n.a."``, ``"unknown"``, ...) becomes ``"dF/F"`` for a ``DfOverF`` series
      and ``"fluorescence (a.u.)"`` otherwise. Unit ids are the PlaneSegmentation row ids
      of the series' ``rois`` region, as strings.
    - **suite2p** output: a ``plane0``-style folder, or its parent with ``plane0``,
      ``plane1``, ... folders (concatenated along ``unit``; all planes share the time grid
      ``arange(n) / fs``, the offset between planes within a volume is not applied). Reads
      ``F.npy`` and ``Fneu.npy`` (``(n_rois, n_frames)``), ``iscell.npy`` (column 0 the
      is-cell flag, column 1 the classifier probability) and ``ops.npy`` for the frame
      rate ``ops["fs"]``. ``ops.npy`` is a pickled dict, loaded with
      ``allow_pickle=True``: only load folders you trust (as you would with suite2p
      itself). Values are ``F - neuropil * Fneu``. Unit ids are ``"plane0/roi3"``.
    - **array** ``(n_frames, n_rois)`` of fluorescence with ``frame_rate`` (copied). Unit
      ids are ``"roi0"``, ``"roi1"``, ...

    Parameters
    ----------
    source : str, Path or array-like
        An ``.nwb`` file, a suite2p folder, or an ``(n_frames, n_rois)`` array. Not modified.
    frame_rate : float, optional
        Frames per second (Hz). Required for an array; for suite2p it replaces
        ``ops["fs"]``; not accepted for NWB, whose file holds the time base.
    series : str, optional
        NWB only: which ``RoiResponseSeries`` to read, by full name
        (``"ophys/DfOverF/RoiResponseSeries"``) or any unambiguous ending of it
        (``"DfOverF/RoiResponseSeries"``). Required when the file holds several; the
        error lists them.
    neuropil : float, optional
        suite2p only: neuropil coefficient ``r`` in ``F - r * Fneu``; default
        ``None`` means 0.7, suite2p's own default; 0 disables the correction.
    dff : bool, default=False
        Return dF/F = (F - F0) / F0 (``units="dF/F"``) instead of F. F0 is the baseline
        below. A unit whose F0 is <= 0 anywhere raises a ValueError naming it (when
        computed, for a lazy source): dF/F is undefined there. Not accepted for a series that is already dF/F.
    baseline : {"percentile"}, default="percentile"
        How F0 is computed. ``"percentile"``: for each frame ``t`` and ROI, the
        ``percentile``-th percentile (``numpy.percentile(..., method="lower")``, i.e. the
        order statistic of rank ``floor(q * (m - 1))`` of the ``m`` non-NaN samples) of F
        over frames ``t - h`` to ``t + h``, with ``h = round(baseline_window *
        sampling_rate / 2)``; the window is truncated at the start and end of the
        recording.
    baseline_window : float, default=60.0
        Length of the sliding baseline window in seconds (suite2p's ``win_baseline``).
    percentile : float, default=8
        Percentile of the baseline, between 0 and 100 (suite2p's ``prctile_baseline``).
    chunks : int, tuple, dict or "auto", optional
        ``None`` reads all values into memory. Otherwise the values stay on disk as a
        dask array with these chunks (a dict maps ``"time"``/``"unit"`` to sizes; ``-1``
        is a whole dim). For NWB, each chunk read opens the HDF5 file read-only, reads
        and closes it (no handle stays open; the file must stay in place until the data
        are computed). suite2p arrays are memory-mapped. dF/F stays lazy too (chunks
        overlap by the half window, so they may be enlarged to at least ``h`` frames).

    Returns
    -------
    DataArray
        dims ``("time", "unit")``, time in seconds, modality ``"calcium"``, ``units`` as
        above, ``sampling_rate`` in Hz. Unit coords ``plane`` (NWB imaging plane name or
        suite2p plane folder), and where the source has them ``is_cell`` (bool) and
        ``cell_probability`` (NWB: a PlaneSegmentation column ``iscell`` as suite2p
        exports it, or ``cell_probability``/``probcell``).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.loaders import load_calcium
    >>> rng = np.random.default_rng(0)
    >>> da = load_calcium(rng.uniform(1, 2, size=(300, 4)), frame_rate=30.0, dff=True,
    ...                   baseline_window=2.0)
    >>> da.dims, da.attrs["units"], da.attrs["sampling_rate"]
    (('time', 'unit'), 'dF/F', 30.0)
    """
    _check_option("baseline", baseline, BASELINES)
    _dask_chunks(chunks)  # checked before any file is opened
    window = check_scalar("baseline_window", baseline_window, float, low=0, closed="neither",
                          what="seconds")
    check_scalar("percentile", percentile, float, low=0, high=100)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            folder = check_file(path, suffixes=(), what="a suite2p output folder",
                                directory=True)
            if series is not None:
                raise ValueError(
                    f"Invalid value for 'series': it picks a series in an NWB file; got "
                    f"{series!r} for the suite2p folder {str(folder)!r}. Pass series=None."
                )
            coef = SUITE2P_NEUROPIL if neuropil is None else float(neuropil)
            if not math.isfinite(coef):
                raise ValueError(
                    f"Invalid value for 'neuropil': expected a finite coefficient; got "
                    f"{neuropil!r}."
                )
            rate = check_scalar("frame_rate", frame_rate, float, low=0, closed="neither",
                                allow_none=True, what="frames per second, Hz")
            traces = _parse_suite2p(folder, coef, rate, chunks)
        else:
            path = check_file(path, suffixes=(".nwb",),
                              what="an NWB file (.nwb) or a suite2p output folder")
            _not_for(neuropil=neuropil, frame_rate=frame_rate, kind="an NWB file",
                     why="the file holds the time base and one trace per ROI")
            traces = _parse_nwb(path, series, chunks)
    else:
        if series is not None:
            raise ValueError(
                f"Invalid value for 'series': it picks a series in an NWB file; got {series!r} "
                "for an array. Pass series=None."
            )
        _not_for(neuropil=neuropil, kind="an array", why="it holds one trace per ROI")
        traces = _parse_array(source, frame_rate, chunks)
    return _to_assembly(traces, dff, baseline, window, float(percentile))


def _not_for(*, kind: str, why: str, **given: Any) -> None:
    for name, value in given.items():
        if value is not None:
            raise ValueError(
                f"Invalid value for {name!r}: it does not apply to {kind} ({why}); got "
                f"{value!r}. Pass {name}=None."
            )


def _to_assembly(traces: _Traces, dff: bool, baseline: str, window: float,
                 percentile: float) -> xr.DataArray:
    data, units = traces.data, traces.units
    reject_inf(data, traces.unit_ids, traces.source, axis=1)
    if dff:
        if traces.is_dff or units == "dF/F":
            raise ValueError(
                "Invalid value for 'dff': the series already holds dF/F (units "
                f"{units!r}); pass dff=False."
            )
        data = _dff(data, traces.sampling_rate, baseline, window, percentile,
                    list(traces.unit_ids))
        units = "dF/F"
    coords = {"time": traces.time, "unit": np.asarray(traces.unit_ids, dtype=str),
              **traces.coords}
    da = assembly(data, dims=_DIMS, coords=coords, modality="calcium",
                  sampling_rate=traces.sampling_rate, units=units, source=traces.source)
    logger.info("loaded calcium traces %s (%s) from %s", dict(da.sizes), units, traces.source)
    return da
