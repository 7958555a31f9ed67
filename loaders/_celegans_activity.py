"""Homogenized C. elegans whole-brain activity (Simeon et al. 2024).

:func:`load_celegans_activity` reads the published layout (a parquet table, or the
preprocessing pipeline's per-dataset pickles) as ``subject x time x unit`` over the 302
canonical neurons, resampled onto one time grid. It only reads: smoothing and normalising are
:func:`brainbridge.analyses.smooth` and :func:`brainbridge.analyses.normalize`.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .._assembly import assembly
from .._checks import _check_option, _validate_type
from ._celegans_common import _NEURON_SET, NEURONS
from ._common import check_file, provenance, reading

logger = logging.getLogger(__name__)

__all__ = ["load_celegans_activity"]


_SIMEON = ("Simeon Q et al. (2024) Homogenized C. elegans neural activity and connectivity "
           "data. arXiv:2411.12091")
#: Standard field -> default column (parquet) / key (pickle) name.
_PARQUET_FIELDS = {
    "source_dataset": "source_dataset",
    "worm": "worm",
    "neuron": "neuron",
    "is_labeled_neuron": "is_labeled_neuron",
    "time_in_seconds": "time_in_seconds",
    "calcium_data": "calcium_data",
}
_PICKLE_FIELDS = {
    "source_dataset": "source_dataset",
    "time_in_seconds": "time_in_seconds",
    "calcium_data": "calcium_data",
    "neuron_to_slot": "labeled_neuron_to_slot",
}
_PICKLE_MAPPINGS = ("labeled_neuron_to_slot", "named_neuron_to_slot", "neuron_to_slot")
_PICKLE_UNLABELED = ("unlabeled_neuron_to_slot", "unknown_neuron_to_slot")
_UNKNOWN = ("raise", "drop")


class _Series(NamedTuple):
    dataset: str
    worm: str
    neuron: str
    time: np.ndarray
    values: np.ndarray


def load_celegans_activity(
    source: str | os.PathLike[str],
    *,
    step: float = 0.333,
    datasets: Sequence[str] | None = None,
    unknown: str = "raise",
    columns: Mapping[str, str] | None = None,
) -> xr.DataArray:
    """Read homogenized C. elegans whole-brain activity as ``subject x time x unit``.

    Reads the published layout of Simeon et al. 2024: a parquet table with one row per
    dataset x worm x neuron, or the preprocessing pipeline's per-dataset pickles. Each
    labelled neuron's series is placed under its canonical name; neurons a worm did not
    record are NaN and ``recorded`` is False. Unlabelled neurons are skipped.

    Processing, per series: time is taken relative to the worm's first sample
    (``t - t[0]``); the finite samples are linearly interpolated (``np.interp``) onto the
    common grid ``time = k * step`` (``k = 0 .. floor(T_max / step)``, ``T_max`` the
    longest recording), NaN outside the series' first and last finite sample. Nothing else:
    smoothing and normalising are separate steps, :func:`brainbridge.analyses.smooth` and
    :func:`brainbridge.analyses.normalize` (see the example).

    Parameters
    ----------
    source : str or Path
        A ``.parquet`` file, a ``.pickle`` / ``.pkl`` file, or a folder of them (pickles
        are read with :mod:`pickle`: load only files you trust). Parquet columns:
        ``source_dataset``, ``worm``, ``neuron`` (str), ``is_labeled_neuron`` (bool,
        optional: False rows are skipped; without it every row counts as labelled),
        ``time_in_seconds`` and ``calcium_data`` (arrays); only these columns are read. A
        pickle is a dict worm id -> dict with ``calcium_data``
        (time x slots), ``time_in_seconds`` (time,) or (time, 1), a name -> slot mapping
        (``labeled_neuron_to_slot``, else ``named_neuron_to_slot``, else
        ``neuron_to_slot`` minus ``unlabeled_neuron_to_slot``) and optionally
        ``source_dataset`` (default: the file stem). torch tensors are accepted.
    step : float, default=0.333
        Common sampling step in seconds (``sampling_rate = 1 / step`` Hz).
    datasets : sequence of str, optional
        Keep only these ``source_dataset`` values (parquet rows are filtered while
        reading); every name must exist.
    unknown : {"raise", "drop"}, default="raise"
        What to do with labelled neurons whose name is not in :data:`NEURONS`.
    columns : mapping, optional
        Rename fields for variants of the layout: ``{standard name: name in the file}``.
        Parquet standard names: ``source_dataset``, ``worm``, ``neuron``,
        ``is_labeled_neuron``, ``time_in_seconds``, ``calcium_data`` (e.g.
        ``{"calcium_data": "original_calcium_data", "time_in_seconds":
        "original_time_in_seconds"}`` to resample the raw series yourself). Pickle:
        ``source_dataset``, ``time_in_seconds``, ``calcium_data``, ``neuron_to_slot``.

    Returns
    -------
    DataArray, dims ``("subject", "time", "unit")``
        float32 (computed in float64). ``subject`` = ``"<dataset>/<worm>"`` with coords
        ``dataset``, ``worm``, ``duration`` (s); ``unit`` = the 302 :data:`NEURONS`;
        ``time`` in seconds; coord ``recorded`` ``(subject, unit)``. attrs: ``modality``
        ``"celegans"``, ``units`` (``"a.u."``), ``sampling_rate``, ``source`` (file names and
        sha256), ``processing``, ``citation``. Memory is ``subjects x time x 302 x 4``
        bytes: select ``datasets`` for large collections.

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, os
    >>> from brainbridge.analyses import normalize, smooth
    >>> table = pd.DataFrame({"source_dataset": ["Kato2015"], "worm": ["worm0"],
    ...                       "neuron": ["AVAL"], "is_labeled_neuron": [True],
    ...                       "time_in_seconds": [np.arange(30) * 0.333],
    ...                       "calcium_data": [np.sin(np.arange(30) / 3.0)]})
    >>> path = os.path.join(tempfile.mkdtemp(), "worms.parquet")
    >>> table.to_parquet(path)
    >>> activity = load_celegans_activity(path)
    >>> activity.dims, activity.sizes["unit"]
    (('subject', 'time', 'unit'), 302)
    >>> z = normalize(smooth(activity, kind="exponential", width=1.0), method="zscore")
    >>> round(float(z.sel(unit="AVAL").std()), 6), z.attrs["units"]
    (1.0, 'z-score')
    """
    if Path(source).expanduser().is_dir():
        path = check_file(source, suffixes=(), directory=True,
                          what="homogenized activity files")
    else:
        path = check_file(source, suffixes=(".parquet", ".pickle", ".pkl"),
                          what="a homogenized activity file")
    if isinstance(step, bool) or not isinstance(step, (int, float, np.number)) or not (
        np.isfinite(step) and step > 0
    ):
        raise ValueError(
            f"Invalid value for 'step': expected a positive number of seconds; got {step!r}."
        )
    _check_option("unknown", unknown, _UNKNOWN)
    if datasets is not None:
        if isinstance(datasets, str):
            datasets = [datasets]
        _validate_type("datasets", datasets, (list, tuple), "a list of dataset names")
    files = _activity_files(path)
    is_parquet = files[0].suffix.lower() == ".parquet"
    fields = dict(_PARQUET_FIELDS if is_parquet else _PICKLE_FIELDS)
    for key, value in (columns or {}).items():
        _check_option("columns", key, list(fields))
        fields[key] = value
    series: list[_Series] = []
    found: set[str] = set()
    for file in files:
        if is_parquet:
            part, held = _read_parquet(file, fields, datasets)
        else:
            part = _read_pickle(file, fields, columns or {})
            held = {s.dataset for s in part}
        series += part
        found |= held
    if datasets is not None:
        _check_datasets(datasets, found, path)
        series = [s for s in series if s.dataset in set(datasets)]
    series = _check_names(series, unknown, path)
    if not series:
        raise ValueError(
            f"Invalid value for 'source': found no labelled neuron series in {str(path)!r}."
        )
    source_label = "; ".join(provenance(f) for f in files)
    processing = f"linear interpolation onto a {step!r} s grid"
    return _assemble_activity(series, float(step), source_label, processing)


def _activity_files(path: Path) -> list[Path]:
    suffixes = (".parquet", ".pickle", ".pkl")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        if not files:
            raise ValueError(
                f"Invalid value for 'source': the folder {str(path)!r} holds no .parquet, "
                ".pickle or .pkl file."
            )
        kinds = {p.suffix.lower() == ".parquet" for p in files}
        if len(kinds) > 1:
            raise ValueError(
                f"Invalid value for 'source': the folder {str(path)!r} mixes parquet and "
                "pickle files; give one of the files or a folder of one kind."
            )
        return files
    return [path]


def _check_datasets(requested: Sequence[str], found: set[str], path: Path) -> None:
    missing = [d for d in requested if d not in found]
    if missing:
        raise ValueError(
            f"Invalid value for 'datasets': {', '.join(map(repr, missing))} not found in "
            f"{str(path)!r}; it holds {', '.join(map(repr, sorted(found)))}."
        )


def _read_parquet(path: Path, fields: dict[str, str],
                  datasets: Sequence[str] | None) -> tuple[list[_Series], set[str]]:
    """The labelled rows (of ``datasets`` only, when given) and every dataset name held."""
    import pyarrow.parquet as pq

    with reading(path, "Parquet"):
        available = pq.read_schema(path).names
    needed = [k for k in fields if k != "is_labeled_neuron"]
    missing = [k for k in needed if fields[k] not in available]
    if missing:
        raise ValueError(
            f"The parquet file {str(path)!r} has no column "
            f"{', '.join(repr(fields[k]) for k in missing)}; its columns are "
            f"{', '.join(map(repr, available))}. Map the names with "
            f"columns={{{missing[0]!r}: '<column>'}}."
        )
    use = [k for k in fields if fields[k] in available]
    filters = None
    found: set[str] = set()
    with reading(path, "Parquet"):
        if datasets is not None:
            column = fields["source_dataset"]
            found = {str(d) for d in
                     pq.read_table(path, columns=[column]).column(0).to_pylist()}
            filters = [(column, "in", list(datasets))]
        table = pq.read_table(path, columns=[fields[k] for k in use], filters=filters)
    cols = {k: table.column(fields[k]).to_pylist() for k in use
            if k not in ("time_in_seconds", "calcium_data")}
    arrays = {k: table.column(fields[k]).to_numpy(zero_copy_only=False)
              for k in ("time_in_seconds", "calcium_data")}
    out = []
    labeled = cols.get("is_labeled_neuron", [True] * table.num_rows)
    for r in range(table.num_rows):
        if not labeled[r]:
            continue
        out.append(_Series(str(cols["source_dataset"][r]), str(cols["worm"][r]),
                           str(cols["neuron"][r]),
                           np.asarray(arrays["time_in_seconds"][r], dtype=np.float64).ravel(),
                           np.asarray(arrays["calcium_data"][r], dtype=np.float64).ravel()))
    if datasets is None:
        found = {s.dataset for s in out}
    return out, found


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor, without importing torch
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float64)


def _read_pickle(path: Path, fields: dict[str, str],
                 columns: Mapping[str, str]) -> list[_Series]:
    with reading(path, "a pickle"), open(path, "rb") as f:
        data = pickle.load(f)  # noqa: S301 - documented: trusted files only
    layout = ("a dict of worm id -> dict with 'calcium_data', 'time_in_seconds' and a "
              "neuron -> slot mapping")
    if not isinstance(data, Mapping) or not all(isinstance(w, Mapping) for w in data.values()):
        raise ValueError(
            f"Invalid pickle {str(path)!r}: expected {layout} (the preprocessing pipeline's "
            f"per-dataset layout); got {type(data).__name__}."
        )
    out = []
    for worm, record in data.items():
        where = f"{str(path)!r}, worm {worm!r}"
        if "neuron_to_slot" in columns:
            keys = [fields["neuron_to_slot"]]
        else:
            keys = [k for k in _PICKLE_MAPPINGS if k in record][:1]
        needed = [fields["calcium_data"], fields["time_in_seconds"], *keys]
        missing = [k for k in needed if k not in record]
        if missing or not keys:
            lacking = missing or ["a neuron -> slot mapping (" + ", ".join(_PICKLE_MAPPINGS) + ")"]
            raise ValueError(
                f"Invalid pickle {where}: missing {', '.join(map(str, lacking))}; it has keys "
                f"{', '.join(map(repr, record))}. Map the names with columns={{...}}."
            )
        mapping = dict(record[keys[0]])
        if keys[0] == "neuron_to_slot" and "neuron_to_slot" not in columns:
            for key in _PICKLE_UNLABELED:
                for name in record.get(key, {}):
                    mapping.pop(name, None)
        data_matrix = _as_array(record[fields["calcium_data"]])
        if data_matrix.ndim != 2:
            raise ValueError(
                f"Invalid pickle {where}: {fields['calcium_data']!r} must be 2-D "
                f"(time x slots); got shape {data_matrix.shape}."
            )
        time = _as_array(record[fields["time_in_seconds"]]).ravel()
        dataset = str(record.get(fields["source_dataset"], path.stem))
        for neuron, slot in mapping.items():
            out.append(_Series(dataset, str(worm), str(neuron), time,
                               data_matrix[:, int(slot)]))
    return out


def _check_names(series: list[_Series], unknown: str, path: Path) -> list[_Series]:
    import difflib

    bad = sorted({s.neuron for s in series if s.neuron not in _NEURON_SET})
    if bad and unknown == "raise":
        shown = []
        for name in bad[:10]:
            close = difflib.get_close_matches(name, NEURONS, n=1, cutoff=0.6)
            shown.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ValueError(
            f"Unknown neuron name(s) in {str(path)!r}: {', '.join(shown)}{more}. Names must "
            "be among the 302 canonical neurons (brainbridge.loaders.NEURONS); pass "
            "unknown='drop' to skip them."
        )
    if bad:
        logger.info("dropping %d unknown neuron name(s): %s", len(bad), bad)
    return [s for s in series if s.neuron in _NEURON_SET]


def _resample(s: _Series, grid: np.ndarray, where: str) -> np.ndarray:
    if s.time.shape != s.values.shape:
        raise ValueError(
            f"Invalid series {where}: {s.values.size} values but {s.time.size} time points; "
            "they must have the same length."
        )
    t = s.time - s.time[0]
    if np.any(np.diff(t) <= 0) or not np.all(np.isfinite(t)):
        raise ValueError(
            f"Invalid series {where}: time_in_seconds is not finite and strictly increasing; "
            "resampling needs increasing sample times."
        )
    out = np.full(grid.size, np.nan)
    ok = np.isfinite(s.values)
    if ok.any():
        inside = (grid >= t[ok][0]) & (grid <= t[ok][-1])
        out[inside] = np.interp(grid[inside], t[ok], s.values[ok])
    return out


def _assemble_activity(series: list[_Series], step: float, source: str,
                       processing: str) -> xr.DataArray:
    subjects: dict[str, int] = {}
    duration: dict[str, float] = {}
    origin: dict[str, tuple[str, str]] = {}
    for s in series:
        key = f"{s.dataset}/{s.worm}"
        subjects.setdefault(key, len(subjects))
        origin[key] = (s.dataset, s.worm)
        span = float(s.time[-1] - s.time[0]) if s.time.size else 0.0
        duration[key] = max(duration.get(key, 0.0), span)
    t_max = max(duration.values())
    grid = np.arange(int(np.floor(t_max / step + 1e-9)) + 1) * step
    unit_index = {n: i for i, n in enumerate(NEURONS)}
    values = np.full((len(subjects), grid.size, len(NEURONS)), np.nan, dtype=np.float32)
    recorded = np.zeros((len(subjects), len(NEURONS)), dtype=bool)
    for s in series:
        key = f"{s.dataset}/{s.worm}"
        i, j = subjects[key], unit_index[s.neuron]
        where = f"{key} {s.neuron}"
        if recorded[i, j]:
            raise ValueError(
                f"Invalid source: neuron {s.neuron!r} appears more than once for worm "
                f"{key!r}; each dataset x worm x neuron must be one series."
            )
        values[i, :, j] = _resample(s, grid, where)
        recorded[i, j] = True
    names = list(subjects)
    logger.info("C. elegans activity: %d worms x %d samples x %d neurons", len(names),
                grid.size, len(NEURONS))
    da = assembly(
        values, dims=("subject", "time", "unit"),
        coords={
            "subject": np.array(names), "time": grid, "unit": np.array(NEURONS),
            "dataset": ("subject", np.array([origin[n][0] for n in names])),
            "worm": ("subject", np.array([origin[n][1] for n in names])),
            "duration": ("subject", np.array([duration[n] for n in names])),
            "recorded": (("subject", "unit"), recorded),
        },
        modality="celegans", sampling_rate=1.0 / step,
        units="a.u.", source=source, name="activity",
    )
    da.attrs["processing"] = processing
    da.attrs["citation"] = _SIMEON
    return da
