"""EEG / MEG recordings (FIF, EDF/BDF, BrainVision, EEGLAB, mne objects, arrays) -> assemblies.

mne reads every file format; this module only converts what mne holds into the assembly
data model: a continuous recording becomes ``(time, unit)``, an epoched one
``(stimulus, trial, time, unit)``, with the channel metadata as coords on ``unit``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._assembly import assembly
from .._checks import _soft_import, _validate_type, check_scalar
from ._common import check_file, provenance, reading, reject_inf

logger = logging.getLogger(__name__)

#: File ending -> (format name, name of the mne reader in ``mne.io``).
FORMATS: dict[str, tuple[str, str]] = {
    ".fif": ("FIF", "read_raw_fif"),
    ".fif.gz": ("FIF", "read_raw_fif"),
    ".edf": ("EDF", "read_raw_edf"),
    ".bdf": ("BDF", "read_raw_bdf"),
    ".vhdr": ("BrainVision", "read_raw_brainvision"),
    ".set": ("EEGLAB", "read_raw_eeglab"),
}

#: Endings of epoched FIF files (mne's naming convention), read with ``mne.read_epochs``.
_EPOCHS_FIF = ("epo.fif", "epo.fif.gz")

#: mne warns, then returns part of the data, when a file was cut short; we raise instead.
_TRUNCATION_WARNINGS = (
    r"Invalid tag with only",  # FIF
    r"Number of records from the header does not match the file size",  # EDF / BDF
    # annotations past the end of the data: the data were cut short (any format)
    r"Omitted \d+ annotation\(s\) that were outside data range",
)

#: BrainVision ``BinaryFormat`` -> bytes per value.
_BRAINVISION_BYTES = {"INT_16": 2, "UINT_16": 2, "INT_32": 4, "IEEE_FLOAT_32": 4}

#: Channel types that make a recording MEG rather than EEG.
_MEG_TYPES = frozenset({"mag", "grad", "ref_meg"})

#: Auxiliary channel types (not brain signals); they do not decide the modality.
_AUX_TYPES = frozenset({
    "eog", "ecg", "emg", "stim", "misc", "resp", "bio", "syst", "chpi", "exci", "ias", "gof",
    "dipole", "gsr", "temperature", "eyegaze", "pupil",
})

#: FIFF unit code (``info["chs"][i]["unit"]``) -> SI unit of what ``get_data`` returns.
_FIFF_UNITS: dict[int, str] = {
    -1: "a.u.",  # FIFF_UNIT_NONE (misc channels)
    0: "a.u.",  # FIFF_UNIT_UNITLESS
    1: "m",
    4: "A",
    6: "M",  # FIFF_UNIT_MOL: mne means mol/L for hbo / hbr
    7: "rad",
    101: "Hz",
    107: "V",
    110: "S",
    112: "T",
    114: "degC",
    117: "V/m^2",
    201: "T/m",
    202: "Am",
    203: "Am/m^2",
    204: "Am/m^3",
    210: "px",
}

#: Annotations that mne.events_from_annotations turns into events by default.
_EVENT_ANNOTATION = re.compile(r"^(?![Bb][Aa][Dd]|[Ee][Dd][Gg][Ee]).*$")

_MIXED_UNITS = "SI (see unit coord 'si_unit')"
_PATH_TYPES = (str, os.PathLike)


def load_eeg(
    source: Any,
    *,
    sfreq: float | None = None,
    ch_names: Sequence[str] | None = None,
    ch_types: str | Sequence[str] | None = None,
    events: Any = None,
    event_id: Mapping[str, int] | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    picks: Any = None,
    preload: bool = False,
) -> xr.DataArray:
    """Load an EEG or MEG recording as an assembly.

    A continuous recording gives dims ``("time", "unit")``. With ``events`` and a window
    (``tmin``, ``tmax``), or when ``source`` is already epoched, it gives dims
    ``("stimulus", "trial", "time", "unit")``: ``stimulus`` is the event label, ``trial``
    the repetition of that label (0, 1, ... in the order of the events), and ``time`` the
    seconds relative to the event. Labels with fewer repetitions than the most frequent one
    are padded with NaN, as are events whose window leaves the recording. An event whose
    sample lies outside the recording, or a window that leaves it around every event, raises.
    NaN samples stay NaN; +-inf raises (a recording cannot measure infinity).

    Values are in SI units, as mne returns them: volts for EEG, EOG, ECG and EMG, tesla for
    magnetometers, T/m for gradiometers. No filtering, re-referencing, baseline correction,
    projection or rejection is applied.

    Parameters
    ----------
    source : str, Path, mne.io.BaseRaw, mne.BaseEpochs or ndarray
        A file ending in ``.fif``, ``.fif.gz`` (``-epo.fif`` / ``_epo.fif`` are read as
        epochs), ``.edf``, ``.bdf``, ``.vhdr`` (BrainVision) or ``.set`` (EEGLAB); an mne Raw
        or Epochs object; or an array of shape ``(n_channels, n_times)`` in SI units (volts
        for EEG), which needs ``sfreq``.
    sfreq : float, optional
        Sampling rate in Hz of an array ``source`` (required then; not allowed otherwise).
    ch_names : sequence of str, optional
        One name per row of an array ``source``; default ``"0"``, ``"1"``, ...
    ch_types : str or sequence of str, optional
        mne channel type of an array ``source``, one for all rows or one per row;
        default ``"eeg"``.
    events : ndarray of shape (n_events, 3) or "annotations", optional
        mne events (sample number counted from the start of the acquisition, i.e. including
        ``raw.first_samp``; previous value; event id), or ``"annotations"`` to turn the
        recording's annotations into events (``mne.events_from_annotations``, which skips
        ``BAD_`` and ``EDGE`` annotations). Requires ``tmin`` and ``tmax``.
    event_id : dict of str to int, optional
        Event label -> id. Only events with these ids are kept, and labels become the
        ``stimulus`` ids in this order. Default: every id in ``events``, labelled
        ``str(id)``; with ``events="annotations"``, one label per annotation description.
    tmin, tmax : float, optional
        Epoch window in seconds relative to each event, both ends included (mne's
        convention). Required with ``events``.
    picks : str, list of str or int, optional
        Channels to keep, as in mne: names, types (``"eeg"``), indices, ``"data"`` or
        ``"all"``. Bad channels are kept and flagged. Default: every channel except
        trigger (``stim``) channels, whose values are event codes, not signals.
    preload : bool, default=False
        For a file ``source``: read the whole file into memory first. ``False`` reads only
        the picked channels and epochs, which needs less memory.

    Returns
    -------
    DataArray
        dims ``("time", "unit")`` or ``("stimulus", "trial", "time", "unit")``.
        Coords on ``unit`` (the channel name): ``ch_type`` (mne type), ``si_unit``,
        ``x``, ``y``, ``z`` (position in metres as mne stores it: head coordinates for an
        EEG montage, the device frame for MEG sensors; NaN when unknown), ``bad`` (bool,
        from ``info["bads"]``). ``time`` is in seconds: for a continuous recording,
        ``(raw.first_samp + i) / sfreq``, so an event at sample ``s`` sits at
        ``s / sfreq``. Epoched assemblies add ``event_id`` (on ``stimulus``) and ``onset``
        (on ``stimulus`` x ``trial``, seconds on that same clock, NaN for padding).
        attrs: ``modality`` ``"meg"`` when every non-auxiliary channel is MEG, else
        ``"eeg"``; ``units`` the SI unit shared by all channels, or
        ``"SI (see unit coord 'si_unit')"`` when they differ; ``sampling_rate`` in Hz;
        ``source`` the file name and sha256 (for a BrainVision or EEGLAB recording, of the
        ``.vhdr`` / ``.set`` header).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        An unsupported file ending, a file mne cannot read (truncated, or not the format
        its ending says), or options that do not fit the source.

    Notes
    -----
    What each format keeps (as read back by mne): FIF keeps everything (types, positions,
    bad channels, annotations). EDF/BDF keep names, values (16 / 24-bit integers: the
    precision is the physical range over 65535 / 16777215) and annotations, but not
    channel types (all read as EEG), positions or bad channels. BrainVision (pybv) keeps
    names and values (float32) and annotations (as ``"Comment/<text>"``), not types or
    positions. EEGLAB keeps names, values (float32), positions and annotations, not types
    or bad channels.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.loaders import load_eeg
    >>> rng = np.random.default_rng(0)
    >>> da = load_eeg(rng.normal(scale=1e-5, size=(3, 500)), sfreq=250.0,
    ...               ch_names=["Fz", "Cz", "Pz"])
    >>> da.dims, da.attrs["units"], da.attrs["sampling_rate"]
    (('time', 'unit'), 'V', 250.0)
    >>> events = np.array([[100, 0, 1], [300, 0, 2], [350, 0, 1]])
    >>> ep = load_eeg(rng.normal(size=(3, 500)) * 1e-5, sfreq=250.0, events=events,
    ...               event_id={"face": 1, "house": 2}, tmin=-0.1, tmax=0.2)
    >>> dict(ep.sizes)
    {'stimulus': 2, 'trial': 2, 'time': 76, 'unit': 3}
    """
    mne = _soft_import("mne", "reading EEG and MEG recordings", "eeg")
    is_path = isinstance(source, _PATH_TYPES)
    is_mne = isinstance(source, (mne.io.BaseRaw, mne.BaseEpochs))
    if not (is_path or is_mne or isinstance(source, (np.ndarray, list, tuple))):
        raise TypeError(
            "Invalid type for 'source': expected a path (.fif, .edf, .bdf, .vhdr, .set), an "
            "mne Raw or Epochs object, or an array of shape (n_channels, n_times); got "
            f"{type(source).__name__}."
        )
    array_options = {"sfreq": sfreq, "ch_names": ch_names, "ch_types": ch_types}
    if not isinstance(source, (np.ndarray, list, tuple)):
        _check_unused(array_options, "apply only to an array source",
                      "mne objects and files carry their own sampling rate, names and types")
    _validate_type("preload", preload, bool, "a bool")
    if not is_path and preload:
        raise ValueError(
            "Invalid value for 'preload': True applies only to a file source; got a "
            f"{type(source).__name__}. Leave preload out (its default is False)."
        )
    window = _check_window(events, event_id, tmin, tmax)

    if is_path:
        path = check_file(source, suffixes=tuple(FORMATS), what="an EEG/MEG recording")
        inst = _read_file(mne, path, preload=preload)
        origin = provenance(path)
    elif is_mne:
        inst, path = source, None
        origin = _object_provenance(source)
    else:
        inst, path = _raw_from_array(mne, source, sfreq, ch_names, ch_types), None
        origin = "numpy array (in memory)"

    if isinstance(inst, mne.BaseEpochs) and window is not None:
        raise ValueError(
            "Invalid value for 'events': the source is already epoched (mne Epochs), so "
            "'events', 'event_id', 'tmin' and 'tmax' do not apply. Leave them out, or pass "
            "the continuous recording instead."
        )
    idx = _pick(mne, inst.info, picks)
    if isinstance(inst, mne.BaseEpochs):
        return _epochs_assembly(inst, idx, origin, path)
    if window is not None:
        return _epoch_raw(mne, inst, idx, window, origin, path)
    return _continuous_assembly(inst, idx, origin, path)


# -- options ---------------------------------------------------------------------------------


def _check_unused(options: Mapping[str, Any], why: str, fix: str) -> None:
    given = [k for k, v in options.items() if v is not None]
    if given:
        names = ", ".join(repr(k) for k in given)
        raise ValueError(
            f"Invalid value for {given[0]!r}: {names} {why}; {fix}. Leave "
            f"{'it' if len(given) == 1 else 'them'} out."
        )


def _check_window(events: Any, event_id: Any, tmin: Any, tmax: Any) -> dict[str, Any] | None:
    """Validate the epoching options; return them, or None for a continuous load."""
    if events is None:
        _check_unused({"event_id": event_id, "tmin": tmin, "tmax": tmax},
                      "need 'events'", "pass events=<(n, 3) array> or events='annotations'")
        return None
    if isinstance(events, str):
        if events != "annotations":
            raise ValueError(
                "Invalid value for 'events': expected an (n_events, 3) array of mne events "
                f"or 'annotations'; got {events!r}."
            )
    else:
        arr = np.asarray(events)
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0 or arr.dtype.kind not in "iu":
            raise ValueError(
                "Invalid value for 'events': expected an (n_events, 3) integer array of mne "
                f"events (sample, previous value, id); got {arr.dtype} array of shape "
                f"{arr.shape}. Build it with mne.find_events or mne.events_from_annotations."
            )
        events = arr.astype(np.int64)
    if tmin is None or tmax is None:
        raise ValueError(
            f"Invalid value for 'tmin'/'tmax': epoching with 'events' needs both; got "
            f"tmin={tmin!r}, tmax={tmax!r}. Pass the window in seconds around each event, "
            "e.g. tmin=-0.2, tmax=0.8."
        )
    for name, value in (("tmin", tmin), ("tmax", tmax)):
        check_scalar(name, value, float, what="seconds")
    if float(tmin) >= float(tmax):
        raise ValueError(
            f"Invalid value for 'tmin'/'tmax': tmin must be below tmax; got tmin={tmin!r}, "
            f"tmax={tmax!r}."
        )
    if event_id is not None:
        ok = isinstance(event_id, Mapping) and len(event_id) > 0 and all(
            isinstance(k, str) and isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            for k, v in event_id.items())
        if not ok:
            raise ValueError(
                "Invalid value for 'event_id': expected a non-empty dict of label (str) -> "
                f"event id (int), e.g. {{'face': 1, 'house': 2}}; got {event_id!r}."
            )
        ids = [int(v) for v in event_id.values()]
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"Invalid value for 'event_id': two labels share an id ({event_id!r}); give "
                "each label its own id."
            )
        event_id = {k: int(v) for k, v in event_id.items()}
    return {"events": events, "event_id": event_id, "tmin": float(tmin), "tmax": float(tmax)}


def _raw_from_array(mne: Any, source: Any, sfreq: Any, ch_names: Any, ch_types: Any) -> Any:
    data = np.asarray(source)
    if data.ndim != 2 or data.dtype.kind not in "fiu":
        raise ValueError(
            "Invalid value for 'source': expected a numeric array of shape (n_channels, "
            f"n_times); got {data.dtype} array of shape {data.shape}. For epoched data, "
            "build mne.EpochsArray and pass it instead."
        )
    if 0 in data.shape:
        raise ValueError(
            f"Invalid value for 'source': the array of shape {data.shape} holds no "
            f"{'channel' if data.shape[0] == 0 else 'sample'}; expected (n_channels, n_times) "
            "with at least one of each."
        )
    n_channels = data.shape[0]
    if sfreq is None:
        raise ValueError(
            "Invalid value for 'sfreq': an array source needs its sampling rate in Hz; got "
            "None. Pass it, e.g. load_eeg(data, sfreq=250.0)."
        )
    check_scalar("sfreq", sfreq, float, low=0, closed="neither", what="Hz")
    if ch_names is None:
        names = [str(i) for i in range(n_channels)]
    else:
        names = [ch_names] if isinstance(ch_names, str) else list(ch_names)
        if len(names) != n_channels or not all(isinstance(n, str) for n in names):
            raise ValueError(
                f"Invalid value for 'ch_names': expected {n_channels} names (str), one per "
                f"row of the array of shape {data.shape}; got {len(names)}. Give one name per "
                "channel, or transpose the array if its rows are samples."
            )
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"Invalid value for 'ch_names': names must be unique; {repeated!r} repeat."
            )
    valid = list(mne.io.get_channel_type_constants(include_defaults=True))
    types = ["eeg"] * n_channels if ch_types is None else (
        [ch_types] * n_channels if isinstance(ch_types, str) else list(ch_types))
    if len(types) != n_channels:
        raise ValueError(
            f"Invalid value for 'ch_types': expected one type or {n_channels} (one per "
            f"channel); got {len(types)}."
        )
    unknown = sorted({str(t) for t in types if t not in valid})
    if unknown:
        raise ValueError(
            f"Invalid value for 'ch_types': {unknown!r} are not mne channel types; expected "
            f"some of {', '.join(map(repr, valid))}."
        )
    info = mne.create_info(names, float(sfreq), types, verbose=False)
    # RawArray keeps (never modifies) a float64 array; get_data returns a copy
    return mne.io.RawArray(np.asarray(data, dtype=np.float64), info, verbose=False)


def _pick(mne: Any, info: Any, picks: Any) -> np.ndarray:
    """Channel indices: mne's picks, bad channels kept; by default all but stim channels."""
    if picks is None:
        types = info.get_channel_types()
        idx = np.array([i for i, t in enumerate(types) if t != "stim"], dtype=int)
        if idx.size == 0:
            raise ValueError(
                "Invalid value for 'picks': the recording holds only trigger (stim) channels, "
                "which are left out by default; pass picks='stim' to load them."
            )
        return idx
    from mne._fiff.pick import _picks_to_idx  # mne's own picks parser (names, types, ints)

    return np.asarray(_picks_to_idx(info, picks, none="all", exclude=()), dtype=int)


# -- reading ---------------------------------------------------------------------------------


def _format_of(path: Path) -> tuple[str, str]:
    lower = path.name.lower()
    # the longest matching ending wins (".fif.gz" before ".fif")
    suffix = max((s for s in FORMATS if lower.endswith(s)), key=len)
    return FORMATS[suffix]


def _reading(path: Path, fmt: str) -> AbstractContextManager[None]:
    """Turn mne's failures on a bad file into one ValueError naming the file and the fix."""
    return reading(
        path, fmt, keep_own=False,
        warnings_as_errors=_TRUNCATION_WARNINGS,
        fix=(f"Re-export or re-download it, or give it the ending of its real format "
             f"({', '.join(FORMATS)}). To accept a partial recording, read it with mne "
             "yourself and pass the mne object."))


def _guard(path: Path | None) -> AbstractContextManager[None]:
    """:func:`_reading` for data still on disk (a file read with preload=False)."""
    return nullcontext() if path is None else _reading(path, _format_of(path)[0])


#: The first 8 bytes (version field) of an EDF and a BDF file.
_EDF_MAGIC = {"EDF": b"0       ", "BDF": b"\xffBIOSEMI"}


def _read_file(mne: Any, path: Path, *, preload: bool) -> Any:
    fmt, reader = _format_of(path)
    if fmt in _EDF_MAGIC:
        with open(path, "rb") as f:
            head = f.read(8)
        if head != _EDF_MAGIC[fmt]:
            raise ValueError(
                f"Cannot read {str(path)!r} as {fmt}: it starts with {head!r}, not the {fmt} "
                f"version field {_EDF_MAGIC[fmt]!r}. The file is corrupt, or its content is "
                f"not {fmt} despite its ending. Re-export or re-download it, or give it the "
                f"ending of its real format ({', '.join(FORMATS)})."
            )
    with _reading(path, fmt):
        if path.name.lower().endswith(_EPOCHS_FIF):
            return mne.read_epochs(path, preload=preload, proj=False, verbose=False)
        raw = getattr(mne.io, reader)(path, preload=preload, verbose=False)
    if fmt == "BrainVision":
        _check_brainvision_size(path, int(raw.info["nchan"]), int(raw.n_times))
    return raw


def _vhdr_entries(path: Path) -> dict[str, str]:
    """``key=value`` lines of a BrainVision header, keys in lower case (sections ignored)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    entries: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith(";"):
            entries.setdefault(key.strip().lower(), value.strip())
    return entries


def _check_brainvision_size(path: Path, n_channels: int, n_times: int) -> None:
    """Raise when the binary file does not hold the whole recording the header describes.

    The data file must be ``n_channels x n_samples x bytes per value`` long: a size that is
    not a whole number of samples, or fewer samples than the header's optional
    ``DataPoints``, means the file was cut short (mne would read the part that is left).
    """
    entries = _vhdr_entries(path)
    width = _BRAINVISION_BYTES.get(entries.get("binaryformat", "").upper())
    data_file = path.parent / entries.get("datafile", "")
    if width is None or not data_file.is_file():
        return  # mne has already read it; nothing to compare against
    size = data_file.stat().st_size
    frame = n_channels * width
    points = entries.get("datapoints", "")
    expected = int(points) if points.isdigit() else None
    if size % frame or (expected is not None and size != expected * frame):
        want = (f"{n_channels} channels x {expected} samples x {width} bytes = "
                f"{expected * frame} bytes" if expected is not None else
                f"a whole number of samples of {n_channels} channels x {width} bytes "
                f"({frame} bytes each)")
        raise ValueError(
            f"Invalid value for 'source': the BrainVision data file {str(data_file)!r} holds "
            f"{size} bytes, but the header {str(path)!r} describes {want}. The file is "
            "truncated or corrupt; re-export or re-download it. To accept a partial "
            "recording, read it with mne yourself and pass the mne object."
        )


def _object_provenance(inst: Any) -> str:
    files = list(getattr(inst, "filenames", None) or [getattr(inst, "filename", None)])
    kind = type(inst).__name__
    if files and files[0] is not None and Path(files[0]).is_file():
        return f"mne {kind} read from {provenance(files[0])}"
    return f"mne {kind} (in memory)"


# -- conversion ------------------------------------------------------------------------------


def _unit_coords(info: Any, idx: np.ndarray) -> tuple[dict[str, Any], str, str]:
    """Per-channel coords, the units attr and the modality of the picked channels."""
    chs = [info["chs"][i] for i in idx]
    all_types = info.get_channel_types()
    types = [all_types[i] for i in idx]
    si_units = [
        "a.u." if t == "stim" else _FIFF_UNITS.get(int(ch["unit"]), f"FIFF unit {int(ch['unit'])}")
        for ch, t in zip(chs, types, strict=True)
    ]
    pos = np.array([np.asarray(ch["loc"][:3], dtype=np.float64) for ch in chs]).reshape(-1, 3)
    pos[np.all(pos == 0, axis=1)] = np.nan  # mne's "no position" is all zeros or NaN
    bads = set(info["bads"])
    names = [ch["ch_name"] for ch in chs]
    coords = {
        "unit": np.array(names, dtype=str),
        "ch_type": ("unit", np.array(types, dtype=str)),
        "si_unit": ("unit", np.array(si_units, dtype=str)),
        "x": ("unit", pos[:, 0]),
        "y": ("unit", pos[:, 1]),
        "z": ("unit", pos[:, 2]),
        "bad": ("unit", np.array([n in bads for n in names], dtype=bool)),
    }
    units = si_units[0] if len(set(si_units)) == 1 else _MIXED_UNITS
    brain = {t for t in types if t not in _AUX_TYPES}
    modality = "meg" if brain and brain <= _MEG_TYPES else "eeg"
    return coords, units, modality


def _continuous_assembly(raw: Any, idx: np.ndarray, origin: str,
                         path: Path | None) -> xr.DataArray:
    sfreq = float(raw.info["sfreq"])
    with _guard(path):
        data = raw.get_data(picks=idx, verbose=False)
    coords, units, modality = _unit_coords(raw.info, idx)
    reject_inf(data, coords["unit"], repr(str(path)) if path else origin, axis=0)
    coords["time"] = (np.arange(data.shape[1]) + raw.first_samp) / sfreq
    logger.info("loaded %d channels x %d samples at %g Hz from %s",
                data.shape[0], data.shape[1], sfreq, origin)
    return assembly(data.T, dims=("time", "unit"), coords=coords, modality=modality,
                    sampling_rate=sfreq, units=units, source=origin)


def _epoch_raw(mne: Any, raw: Any, idx: np.ndarray, window: dict[str, Any], origin: str,
               path: Path | None) -> xr.DataArray:
    events, event_id = window["events"], window["event_id"]
    if isinstance(events, str):
        if len(raw.annotations) == 0:
            raise ValueError(
                "Invalid value for 'events': 'annotations' asks for the recording's "
                "annotations, but it has none. Pass an (n_events, 3) array instead, e.g. "
                "from mne.find_events(raw)."
            )
        described = sorted({str(d) for d in raw.annotations.description})
        missing = [k for k in event_id or {} if k not in described]
        if missing:
            raise ValueError(
                f"Invalid value for 'event_id': {missing!r} match no annotation; the "
                f"annotations are {described!r}. Remove those labels or fix them."
            )
        if event_id is None and not any(_EVENT_ANNOTATION.match(d) for d in described):
            raise ValueError(
                "Invalid value for 'events': the recording's annotations "
                f"{described!r} hold no events (mne skips those starting with 'bad' or "
                "'edge'). Pass an (n_events, 3) array instead."
            )
        events, event_id = mne.events_from_annotations(raw, event_id=event_id, verbose=False)
    if event_id is None:
        event_id = {str(i): int(i) for i in np.unique(events[:, 2])}
    present = set(events[:, 2].tolist())
    unmatched = {k: v for k, v in event_id.items() if v not in present}
    if unmatched:
        raise ValueError(
            f"Invalid value for 'event_id': {unmatched!r} match no event; the events hold ids "
            f"{sorted(present)!r}. Remove those labels or fix their ids."
        )
    ignored = int(np.sum(~np.isin(events[:, 2], list(event_id.values()))))
    if ignored:
        logger.info("%d events have ids outside event_id and are left out", ignored)
    _check_event_samples(raw, events, event_id, window)
    epochs = mne.Epochs(raw, events, event_id=event_id, tmin=window["tmin"],
                        tmax=window["tmax"], baseline=None, picks=idx, preload=False,
                        reject=None, flat=None, proj=False, reject_by_annotation=False,
                        on_missing="raise", verbose=False)
    with _guard(path):
        data = epochs.get_data(verbose=False)
    # epochs.selection indexes the events given; events mne dropped (window outside the
    # recording) keep their trial slot and stay NaN.
    # mne.Epochs(picks=idx) keeps only the picked channels, in that order
    return _stack(data, events, epochs.selection, event_id, epochs,
                  np.arange(len(epochs.ch_names)), origin)


def _check_event_samples(raw: Any, events: np.ndarray, event_id: Mapping[str, int],
                         window: dict[str, Any]) -> None:
    """Raise when an event lies outside the recording, or when no epoch window fits in it."""
    first, last = int(raw.first_samp), int(raw.last_samp)
    sfreq = float(raw.info["sfreq"])
    label = {v: k for k, v in event_id.items()}
    rows = np.flatnonzero(np.isin(events[:, 2], list(event_id.values())))
    samples = events[rows, 0]
    outside = rows[(samples < first) | (samples > last)]
    if outside.size:
        row = int(outside[0])
        raise ValueError(
            f"Invalid value for 'events': event {row} ({label[int(events[row, 2])]!r}) is at "
            f"sample {int(events[row, 0])}, outside the recording, whose samples run from "
            f"{first} to {last} ({first / sfreq:g} to {last / sfreq:g} s); {outside.size} of "
            f"{rows.size} events lie outside it. Event samples count from the start of the "
            "acquisition (including raw.first_samp); check them, or drop those events."
        )
    start = samples + int(round(window["tmin"] * sfreq))
    stop = samples + int(round(window["tmax"] * sfreq))
    if not np.any((start >= first) & (stop <= last)):
        raise ValueError(
            f"Invalid value for 'tmin'/'tmax': the window [{window['tmin']!r}, "
            f"{window['tmax']!r}] s around every one of the {rows.size} events leaves the "
            f"recording (samples {first} to {last}), so every epoch would be NaN. Narrow "
            "tmin/tmax."
        )


def _epochs_assembly(epochs: Any, idx: np.ndarray, origin: str,
                     path: Path | None) -> xr.DataArray:
    with _guard(path):
        data = epochs.get_data(picks=idx, verbose=False)
    if data.shape[0] == 0:
        raise ValueError(
            "Invalid value for 'source': the Epochs hold no epochs (all were dropped); "
            "nothing to load."
        )
    codes = set(epochs.events[:, 2].tolist())
    event_id = {k: int(v) for k, v in epochs.event_id.items() if int(v) in codes}
    return _stack(data, epochs.events, np.arange(len(epochs.events)), event_id, epochs,
                  idx, origin)


def _stack(data: np.ndarray, events: np.ndarray, selection: np.ndarray,
           event_id: Mapping[str, int], epochs: Any, idx: np.ndarray,
           origin: str) -> xr.DataArray:
    """(epoch, channel, time) -> (stimulus, trial, time, unit), NaN-padded.

    ``selection[j]`` is the row of ``events`` that epoch ``j`` of ``data`` comes from;
    ``idx`` indexes ``epochs.info`` for the channels of ``data``.
    """
    sfreq = float(epochs.info["sfreq"])
    labels = list(event_id)
    rows = {label: np.flatnonzero(events[:, 2] == event_id[label]) for label in labels}
    n_trials = max(len(r) for r in rows.values())
    out = np.full((len(labels), n_trials, data.shape[2], data.shape[1]), np.nan)
    onset = np.full((len(labels), n_trials), np.nan)
    slot = {}
    for s, label in enumerate(labels):
        for t, row in enumerate(rows[label]):
            slot[int(row)] = (s, t)
            onset[s, t] = events[row, 0] / sfreq
    for j, row in enumerate(selection):
        s, t = slot[int(row)]
        out[s, t] = data[j].T
    n_missing = sum(len(r) for r in rows.values()) - len(selection)
    if n_missing:
        logger.warning("%d of %d epochs fall outside the recording and are NaN; narrow "
                       "tmin/tmax to keep them", n_missing, n_missing + len(selection))
    coords, units, modality = _unit_coords(epochs.info, idx)
    reject_inf(out, coords["unit"], origin)
    coords.update({
        "stimulus": np.array(labels, dtype=str),
        "event_id": ("stimulus", np.array([event_id[k] for k in labels], dtype=np.int64)),
        "trial": np.arange(n_trials),
        "time": np.asarray(epochs.times, dtype=np.float64),
        "onset": (("stimulus", "trial"), onset),
    })
    logger.info("loaded %d epochs (%d labels) x %d channels x %d samples from %s",
                len(selection), len(labels), out.shape[3], out.shape[2], origin)
    return assembly(out, dims=("stimulus", "trial", "time", "unit"), coords=coords,
                    modality=modality, sampling_rate=sfreq, units=units, source=origin)
