"""Spike times -> binned counts or rates, and the nitime grasshopper recordings.

Every time given to this module is converted to seconds first. Bins are left-closed,
right-open: a spike at time ``t`` is counted in bin ``i`` when
``edges[i] <= t < edges[i + 1]``, and in a window when ``start <= t < stop``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .._assembly import MODALITIES, assembly
from .._checks import _check_option, check_scalar
from ._common import package_data, provenance, reading, sha256_file

logger = logging.getLogger(__name__)

#: Accepted ``time_unit`` values -> how many of that unit make one second.
TIME_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e3, "us": 1e6}

#: Grasshopper recording conditions -> cut-off frequency (Hz) of the Gaussian noise stimulus.
GRASSHOPPER_CONDITIONS: dict[int, float] = {1: 200.0, 2: 800.0}

_NITIME_INSTALL = "pip install nitime==0.12.1"

#: sha256 of the grasshopper files nitime 0.12.1 ships; a file that differs is damaged.
_GRASSHOPPER_SHA256 = {
    "grasshopper_spike_times1.txt":
        "840014ad9a8f591d02ab108bcbd46715badb3459e0ef7eac95fdd661ff134e3d",
    "grasshopper_spike_times2.txt":
        "389e5dccb709fbe0552589ff2e0b64e15d46665e4d2d4172071f2175c8641541",
    "grasshopper_stimulus1.txt":
        "4b47a4cbca8c5f694f87dd510db608a868dffbaba96845199c8afa545a4c37fa",
    "grasshopper_stimulus2.txt":
        "69f257a8e7a5019897111b07f9cd317b136357d256e99682d40c09d5add18e6a",
}
_REL_TOL = 1e-6  # relative tolerance for "a whole number of bins"


class Grasshopper(NamedTuple):
    """The two aligned assemblies returned by :func:`load_grasshopper`.

    Examples
    --------
    >>> from brainbridge.loaders import load_grasshopper
    >>> data = load_grasshopper(1)
    >>> type(data).__name__, data._fields, data.spikes.sizes["time"] == data.stimulus.sizes["time"]
    ('Grasshopper', ('spikes', 'stimulus'), True)
    """

    spikes: xr.DataArray
    stimulus: xr.DataArray


def _positive(name: str, value: Any) -> float:
    return check_scalar(name, value, float, low=0, closed="neither", what="seconds")


def _finite(name: str, value: Any) -> float:
    return check_scalar(name, value, float, what="seconds")


def _spike_trains(times: Any, unit_ids: Any, time_unit: str) -> tuple[list[str], list[np.ndarray]]:
    """Unit ids and sorted spike times in seconds (new arrays; the input is left untouched)."""
    if isinstance(times, Mapping):
        if unit_ids is not None:
            raise ValueError(
                "Invalid value for 'unit_ids': 'times' is a dict, whose keys are the unit ids; "
                "pass unit_ids=None, or give 'times' as a list."
            )
        ids = [str(k) for k in times]
        trains = list(times.values())
    elif isinstance(times, (list, tuple)) or (
        isinstance(times, np.ndarray) and times.dtype.kind == "O"
    ):
        trains = list(times)
        if unit_ids is None:
            ids = [str(i) for i in range(len(trains))]
        else:
            ids = [str(u) for u in unit_ids]
            if len(ids) != len(trains):
                raise ValueError(
                    f"Invalid value for 'unit_ids': expected {len(trains)} ids, one per spike "
                    f"train in 'times'; got {len(ids)}."
                )
    else:
        raise ValueError(
            "Invalid value for 'times': expected a list of arrays (one per unit) or a dict "
            f"unit id -> array; got {type(times).__name__}. For a single unit, wrap its spike "
            "times in a list: load_spikes([times], ...)."
        )
    if not trains:
        raise ValueError("Invalid value for 'times': it holds no units; give at least one.")
    scale = TIME_UNITS[time_unit]
    converted = []
    for uid, train in zip(ids, trains, strict=True):
        arr = np.asarray(train)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "fiu"):
            raise ValueError(
                f"Invalid value for 'times': the spike train of unit {uid!r} must be a 1-d "
                f"array of numbers; got shape {arr.shape} and dtype {arr.dtype}."
            )
        arr = arr.astype(np.float64)  # always a new array
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"Invalid value for 'times': the spike train of unit {uid!r} holds NaN or "
                "infinite values; remove them first."
            )
        # Division by a power of ten is correctly rounded: 6700 us -> the double nearest 0.0067 s.
        converted.append(np.sort(arr / scale if scale != 1.0 else arr))
    return ids, converted


def _count_in_edges(trains: Sequence[np.ndarray], edges: np.ndarray) -> np.ndarray:
    """``(n_bins, n_units)`` int64 counts; bin ``i`` is ``[edges[i], edges[i + 1])``."""
    n_bins = edges.size - 1
    counts = np.zeros((n_bins, len(trains)), dtype=np.int64)
    dropped = 0
    for j, t in enumerate(trains):
        idx = np.searchsorted(edges, t, side="right") - 1
        inside = (idx >= 0) & (idx < n_bins)
        dropped += int(t.size - inside.sum())
        counts[:, j] = np.bincount(idx[inside], minlength=n_bins)
    if dropped:
        logger.info("%d spikes fall outside [%r, %r) s and are not counted", dropped,
                    float(edges[0]), float(edges[-1]))
    return counts


def _bin_index(t: np.ndarray, t_start: float, bin_size: float) -> np.ndarray:
    """Index of the bin ``[t_start + i * bin_size, t_start + (i + 1) * bin_size)`` of each time.

    Computed as ``floor((t - t_start) / bin_size)``, except that a quotient within a few ulps
    of a whole number ``i`` is ``i``: such a spike sits on the edge ``t_start + i * bin_size``
    up to the rounding of decimal times into binary (300 ms / 0.1 s is 2.9999999999999996 in
    floating point, but 3 exactly) and belongs to the later bin, as the decimal values say.
    """
    q = (t - t_start) / bin_size
    nearest = np.round(q)
    eps = np.finfo(np.float64).eps
    tol = 8 * eps * ((np.abs(t) + abs(t_start)) / bin_size + np.abs(q))
    return np.where(np.abs(q - nearest) <= tol, nearest, np.floor(q)).astype(np.int64)


def _memory_bytes() -> int | None:
    """Physical memory of this machine in bytes, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _size(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} PiB"  # pragma: no cover


def _check_grid_size(n_bins: float, n_units: int, bin_size: float, t_start: float,
                     t_stop: float | None) -> None:
    """Refuse a grid whose counts would not fit in this machine's memory."""
    need = (n_bins * n_units + n_bins + 1) * 8.0  # int64 counts and float64 edges
    memory = _memory_bytes()
    limit = float(memory) if memory else float(2**63)
    if need > limit:
        end = "the last spike" if t_stop is None else f"t_stop={t_stop!r} s"
        raise ValueError(
            f"Invalid value for 'bin_size': {bin_size!r} s from t_start={t_start!r} s to {end} "
            f"makes {n_bins:.4g} bins x {n_units} units, a {_size(need)} array, more than "
            f"this machine's {_size(limit)} of memory. Use a larger bin_size or a shorter "
            "t_stop - t_start."
        )


def _grid(trains: Sequence[np.ndarray], bin_size: float, t_start: float,
          t_stop: float | None) -> int:
    """Number of bins of the grid ``t_start + arange(n + 1) * bin_size`` seconds."""
    if t_stop is None:
        last = max((float(t[-1]) for t in trains if t.size), default=None)
        if last is None:
            raise ValueError(
                "Invalid value for 't_stop': None, but no unit has spikes to infer the end "
                "of the grid from; give t_stop (seconds)."
            )
        if last < t_start:
            raise ValueError(
                f"Invalid value for 't_start': {t_start!r} s is after the last spike "
                f"({last!r} s); give an earlier t_start."
            )
        _check_grid_size((last - t_start) / bin_size + 1, len(trains), bin_size, t_start, None)
        n_bins = int(_bin_index(np.array([last]), t_start, bin_size)[0]) + 1
    else:
        if t_stop <= t_start:
            raise ValueError(
                f"Invalid value for 't_stop': expected a time after t_start={t_start!r} s; got "
                f"{t_stop!r} s."
            )
        span = (t_stop - t_start) / bin_size
        if span < 1 - _REL_TOL:
            raise ValueError(
                f"Invalid value for 'bin_size': {bin_size!r} s is longer than t_stop - t_start "
                f"= {t_stop - t_start!r} s, so the grid holds no whole bin; choose a bin_size "
                "that divides t_stop - t_start."
            )
        _check_grid_size(span, len(trains), bin_size, t_start, t_stop)
        n_bins = int(round(span))
        if n_bins < 1 or abs(span - n_bins) > _REL_TOL * max(1.0, span):
            raise ValueError(
                f"Invalid value for 't_stop': t_stop - t_start = {t_stop - t_start!r} s is not a "
                f"whole number of bins of bin_size={bin_size!r} s; choose t_stop = t_start + "
                "n * bin_size."
            )
    return max(n_bins, 1)


def _count_on_grid(trains: Sequence[np.ndarray], t_start: float, bin_size: float,
                   n_bins: int) -> np.ndarray:
    """``(n_bins, n_units)`` int64 counts on the grid, edges placed by :func:`_bin_index`."""
    counts = np.zeros((n_bins, len(trains)), dtype=np.int64)
    dropped = 0
    for j, t in enumerate(trains):
        idx = _bin_index(t, t_start, bin_size)
        inside = (idx >= 0) & (idx < n_bins)
        dropped += int(t.size - inside.sum())
        counts[:, j] = np.bincount(idx[inside], minlength=n_bins)
    if dropped:
        logger.info("%d spikes fall outside [%r, %r) s and are not counted", dropped,
                    t_start, t_start + n_bins * bin_size)
    return counts


def _windows(windows: Any, stimulus_ids: Any) -> tuple[np.ndarray, list[str]]:
    w = np.asarray(windows)
    if w.ndim != 2 or w.shape[1] != 2 or w.shape[0] == 0 or w.dtype.kind not in "fiu":
        raise ValueError(
            "Invalid value for 'windows': expected an (n_stimuli, 2) array of start and stop "
            f"times in seconds; got shape {w.shape} and dtype {w.dtype}."
        )
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)) or not np.all(w[:, 1] > w[:, 0]):
        bad = int(np.argmax(~(np.isfinite(w).all(1) & (w[:, 1] > w[:, 0]))))
        raise ValueError(
            f"Invalid value for 'windows': every window needs finite times with stop > start; "
            f"row {bad} is {w[bad].tolist()}."
        )
    if stimulus_ids is None:
        ids = [str(i) for i in range(w.shape[0])]
    else:
        ids = [str(s) for s in stimulus_ids]
        if len(ids) != w.shape[0]:
            raise ValueError(
                f"Invalid value for 'stimulus_ids': expected {w.shape[0]} ids, one per row of "
                f"'windows'; got {len(ids)}."
            )
    return w, ids


def _trains_source(ids: Sequence[str], trains: Sequence[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for uid, t in zip(ids, trains, strict=True):
        digest.update(uid.encode())
        digest.update(np.ascontiguousarray(t).tobytes())
    return f"spike times ({len(trains)} units) sha256:{digest.hexdigest()}"


def load_spikes(
    times: Any,
    *,
    time_unit: str = "s",
    bin_size: float | None = None,
    t_start: float | None = None,
    t_stop: float | None = None,
    rate: bool = False,
    windows: Any = None,
    unit_ids: Sequence[Any] | None = None,
    stimulus_ids: Sequence[Any] | None = None,
    modality: str = "ephys",
) -> xr.DataArray:
    """Bin spike times into counts or rates, on a time grid or per stimulus window.

    Give exactly one of ``bin_size`` (a regular time grid) or ``windows`` (one window per
    stimulus). Bins and windows are left-closed and right-open: a spike at ``t`` counts in
    ``[start, stop)`` when ``start <= t < stop``, so a spike exactly on an edge belongs to
    the later bin. Grid edges are placed as the decimal values say: a spike within a few
    ulps of ``t_start + i * bin_size`` (300 ms with 0.1 s bins) is on edge ``i``, whatever
    the binary rounding of ``t / bin_size``. A grid too large for this machine's memory
    raises before anything is allocated.

    Parameters
    ----------
    times : list of array-like or dict
        Spike times, one 1-d array per unit (any order; they are sorted internally), or a
        dict ``{unit id: array}``. Not modified.
    time_unit : {"s", "ms", "us"}, default="s"
        Unit of ``times`` (seconds, milliseconds, microseconds). Only ``times`` uses it:
        ``bin_size``, ``t_start``, ``t_stop`` and ``windows`` are always in seconds.
    bin_size : float, optional
        Width of the time bins in seconds. Bin ``i`` is
        ``[t_start + i * bin_size, t_start + (i + 1) * bin_size)`` and the ``time``
        coordinate holds the left edges; ``sampling_rate`` is ``1 / bin_size`` Hz.
    t_start : float, optional
        Left edge of the first bin in seconds; default 0.0. Grid mode only.
    t_stop : float, optional
        End of the grid in seconds; ``t_stop - t_start`` must be a whole number of bins.
        Default: just far enough for the last spike of any unit to fall in the last bin.
        Spikes outside ``[t_start, t_stop)`` are not counted. Grid mode only.
    rate : bool, default=False
        Return rates in Hz (count divided by the bin or window length) instead of counts.
    windows : array-like, shape (n_stimuli, 2), optional
        Start and stop times in seconds, one row per stimulus presentation; windows may
        overlap. The start and stop are kept as coords ``window_start``/``window_stop``.
    unit_ids : sequence, optional
        Ids of the units when ``times`` is a list; default ``"0"``, ``"1"``, ...
    stimulus_ids : sequence, optional
        Ids of the windows; default ``"0"``, ``"1"``, ... Window mode only.
    modality : str, default="ephys"
        ``"ephys"`` for recorded spikes, ``"snn"`` for a simulated network.

    Returns
    -------
    DataArray
        dims ``("time", "unit")`` with ``bin_size``, or ``("stimulus", "unit")`` with
        ``windows``; int64 counts (``units="count"``) or float64 rates (``units="Hz"``).

    Examples
    --------
    >>> from brainbridge.loaders import load_spikes
    >>> da = load_spikes({"a": [0.0, 0.5, 1.0], "b": [1.2]}, bin_size=0.5)
    >>> da.values.tolist(), da["time"].values.tolist()
    ([[1, 0], [1, 0], [1, 1]], [0.0, 0.5, 1.0])
    >>> load_spikes([[10.0, 20.0, 900.0]], time_unit="ms", windows=[[0.0, 0.1]],
    ...             rate=True).values.tolist()
    [[20.0]]
    """
    _check_option("time_unit", time_unit, TIME_UNITS)
    _check_option("modality", modality, MODALITIES)
    if (bin_size is None) == (windows is None):
        raise ValueError(
            "Give exactly one of 'bin_size' (counts on a time grid) or 'windows' (counts per "
            f"stimulus window); got bin_size={bin_size!r} and "
            f"{'no windows' if windows is None else 'windows'}."
        )
    ids, trains = _spike_trains(times, unit_ids, time_unit)
    source = _trains_source(ids, trains)
    if windows is not None:
        for name, value in (("t_start", t_start), ("t_stop", t_stop)):
            if value is not None:
                raise ValueError(
                    f"Invalid value for {name!r}: it sets the time grid, which 'windows' "
                    f"replaces; got {value!r}. Pass {name}=None with windows."
                )
        return _per_window(trains, ids, windows, stimulus_ids, rate, modality, source)
    if stimulus_ids is not None:
        raise ValueError(
            "Invalid value for 'stimulus_ids': it names 'windows', which were not given; "
            "pass stimulus_ids=None with bin_size."
        )
    bin_size = _positive("bin_size", bin_size)
    start = 0.0 if t_start is None else _finite("t_start", t_start)
    stop = None if t_stop is None else _finite("t_stop", t_stop)
    n_bins = _grid(trains, bin_size, start, stop)
    return _binned(trains, ids, start, n_bins, bin_size, rate, modality, source)


def _binned(trains: Sequence[np.ndarray], ids: Sequence[str], t_start: float, n_bins: int,
            bin_size: float, rate: bool, modality: str, source: str) -> xr.DataArray:
    counts = _count_on_grid(trains, t_start, bin_size, n_bins)
    values = counts / bin_size if rate else counts
    time = t_start + np.arange(n_bins, dtype=np.float64) * bin_size
    return assembly(values, dims=("time", "unit"),
                    coords={"time": time, "unit": np.asarray(ids, dtype=str)},
                    modality=modality, sampling_rate=1.0 / bin_size,
                    units="Hz" if rate else "count", source=source)


def _per_window(trains: Sequence[np.ndarray], ids: Sequence[str], windows: Any,
                stimulus_ids: Any, rate: bool, modality: str, source: str) -> xr.DataArray:
    w, stim = _windows(windows, stimulus_ids)
    counts = np.empty((w.shape[0], len(trains)), dtype=np.int64)
    for j, t in enumerate(trains):
        counts[:, j] = (np.searchsorted(t, w[:, 1], side="left")
                        - np.searchsorted(t, w[:, 0], side="left"))
    values = counts / (w[:, 1] - w[:, 0])[:, None] if rate else counts
    coords = {"stimulus": np.asarray(stim, dtype=str), "unit": np.asarray(ids, dtype=str),
              "window_start": ("stimulus", w[:, 0]), "window_stop": ("stimulus", w[:, 1])}
    return assembly(values, dims=("stimulus", "unit"), coords=coords, modality=modality,
                    units="Hz" if rate else "count", source=source)


def load_grasshopper(condition: int = 1, *, bin_size: float | None = None) -> Grasshopper:
    """Locust auditory-receptor spikes and their sound stimulus, as two aligned assemblies.

    Intracellular recordings from an auditory receptor neuron of the grasshopper *Locusta
    migratoria* driven by a sound whose amplitude follows Gaussian white noise low-passed
    at 200 Hz (condition 1) or 800 Hz (condition 2), 6 dB standard deviation, 2.5 kHz
    carrier (Rokem et al. 2006, J Neurophysiol 95:2541; the files' own headers). 10 s of
    data per condition, shipped inside ``nitime`` (``nitime/data/grasshopper_*.txt``):
    spike times in microseconds and the stimulus amplitude sampled at 20 kHz.

    Both assemblies share the same ``time`` coordinate exactly: bin ``i`` covers
    ``[time[i], time[i] + bin_size)`` (left-closed), and the stimulus value at ``time[i]``
    is the stimulus sample taken there (or, with a coarser ``bin_size``, the mean of the
    stimulus samples inside the bin).

    Parameters
    ----------
    condition : {1, 2}, default=1
        1: stimulus cut-off 200 Hz (929 spikes); 2: cut-off 800 Hz (868 spikes).
    bin_size : float, optional
        Bin width in seconds; a whole multiple of the stimulus sample period (50 us).
        Default: one stimulus sample (50 us, 20 kHz). A last incomplete bin is dropped.

    Returns
    -------
    Grasshopper
        NamedTuple ``(spikes, stimulus)``, both dims ``("time", "unit")``, modality
        ``"ephys"``, ``sampling_rate = 1 / bin_size``. ``spikes``: int64 spike counts per
        bin, one unit ``"receptor"``, ``units="count"``. ``stimulus``: the sound amplitude
        envelope as stored in the file (relative units, maximum 1), one unit
        ``"stimulus"``, ``units="a.u."``.

    Examples
    --------
    >>> from brainbridge.loaders import load_grasshopper
    >>> spikes, stimulus = load_grasshopper(1)
    >>> spikes.sizes["time"], int(spikes.sum()), stimulus.attrs["sampling_rate"]
    (200000, 929, 20000.0)
    """
    if isinstance(condition, (bool, np.bool_)):  # True == 1 would pass the option check
        raise TypeError(
            f"Invalid type for 'condition': expected 1 or 2 (int); got {condition!r}."
        )
    _check_option("condition", condition, GRASSHOPPER_CONDITIONS)
    spike_path = package_data("nitime", "data", f"grasshopper_spike_times{condition}.txt",
                              install=_NITIME_INSTALL)
    stim_path = package_data("nitime", "data", f"grasshopper_stimulus{condition}.txt",
                             install=_NITIME_INSTALL)
    for path in (spike_path, stim_path):
        digest = sha256_file(path)
        if digest != _GRASSHOPPER_SHA256[path.name]:
            raise ValueError(
                f"{str(path)!r} is not the file nitime 0.12.1 ships (sha256 {digest}, expected "
                f"{_GRASSHOPPER_SHA256[path.name]}): it is truncated, corrupt or from another "
                f"version. Reinstall nitime with: {_NITIME_INSTALL} --force-reinstall"
            )
    return _parse_grasshopper(spike_path, stim_path, condition, bin_size)


def _parse_grasshopper(spike_path: Any, stim_path: Any, condition: int,
                       bin_size: float | None) -> Grasshopper:
    with reading(stim_path, "a text table of time (us) and stimulus amplitude"):
        stim = np.loadtxt(stim_path, dtype=np.float64, ndmin=2)
    with reading(spike_path, "a text list of spike times (us)"):
        spikes_us = np.loadtxt(spike_path, dtype=np.float64, comments="#", ndmin=1)
    if stim.shape[1] != 2 or spikes_us.ndim != 1:
        raise ValueError(
            f"{str(stim_path)!r} or {str(spike_path)!r} does not hold the grasshopper layout "
            "(two stimulus columns, one spike time per line); reinstall nitime with: "
            f"{_NITIME_INSTALL}"
        )
    t_us = stim[:, 0].astype(np.int64)
    steps = np.unique(np.diff(t_us))
    if steps.size != 1 or steps[0] <= 0 or not np.array_equal(t_us, stim[:, 0]):
        raise ValueError(
            f"{str(stim_path)!r} is not a regularly sampled stimulus (time steps "
            f"{steps[:5].tolist()} us); reinstall nitime with: {_NITIME_INSTALL}"
        )
    step_us = int(steps[0])
    if bin_size is None:
        k = 1
    else:
        width = _positive("bin_size", bin_size)
        k = int(round(width * 1e6 / step_us))
        if k < 1 or abs(width * 1e6 - k * step_us) > _REL_TOL * width * 1e6:
            raise ValueError(
                f"Invalid value for 'bin_size': expected a whole multiple of the stimulus "
                f"sample period ({step_us / 1e6!r} s); got {bin_size!r}."
            )
    n_bins = t_us.size // k
    edges_us = t_us[0] + np.arange(n_bins + 1, dtype=np.int64) * (k * step_us)
    edges = edges_us / 1e6  # the same correctly rounded division as the spike times below
    stim_values = stim[: n_bins * k, 1].reshape(n_bins, k).mean(axis=1)
    counts = _count_in_edges([np.sort(spikes_us) / 1e6], edges)
    cutoff = GRASSHOPPER_CONDITIONS[condition]
    note = (f"Rokem et al. 2006, locust auditory receptor, condition {condition}: noise "
            f"cut-off {cutoff:g} Hz")
    rate = 1e6 / (k * step_us)
    time = edges[:-1]
    spikes = assembly(counts, dims=("time", "unit"),
                      coords={"time": time, "unit": np.array(["receptor"])},
                      modality="ephys", sampling_rate=rate, units="count",
                      source=f"{provenance(spike_path, dataset='nitime')} ({note})")
    stimulus = assembly(stim_values[:, None], dims=("time", "unit"),
                        coords={"time": time, "unit": np.array(["stimulus"])},
                        modality="ephys", sampling_rate=rate, units="a.u.",
                        source=f"{provenance(stim_path, dataset='nitime')} ({note})")
    return Grasshopper(spikes, stimulus)
