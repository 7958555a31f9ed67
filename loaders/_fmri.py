"""fMRI loader: 4D NIfTI (mask or atlas), GIFTI / MGH surface series, ROI tables.

Volumes are read lazily through nibabel's array proxy, ``chunk_size`` volumes at a time, and
masked (or averaged over atlas regions) chunk by chunk, so that the peak memory is about the
output plus one chunk, whatever the file size (see ``bench/bench_fmri_memory.py``).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from scipy import linalg

from .._assembly import assembly
from .._checks import _check_option, _listed, _soft_import, _validate_type, check_scalar
from .._scoring import zscore
from ._common import check_file, provenance, reading, reject_inf

logger = logging.getLogger(__name__)

VOLUME_SUFFIXES = (".nii", ".nii.gz")
SURFACE_SUFFIXES = (".gii", ".mgh", ".mgz")
TABLE_SUFFIXES = (".csv", ".tsv")
SUFFIXES = VOLUME_SUFFIXES + SURFACE_SUFFIXES + TABLE_SUFFIXES

#: A repetition time outside this range (seconds) is taken as a broken header.
TR_RANGE = (0.01, 100.0)

#: NIfTI and MGH carry no physical unit for the intensities: raw scanner units.
DEFAULT_UNITS = "BOLD (scanner units)"

#: NIfTI ``xyzt_units`` time codes, as nibabel names them, in seconds.
_NIFTI_TIME_SCALE = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6, "unknown": 1.0}

#: Statistic intents of a NIfTI header that name the unit of the values.
_NIFTI_INTENT_UNITS = {"z score": "z-score", "t test": "t statistic"}

_EVENT_COLUMNS = ("onset", "duration", "trial_type")
_BLOCK_UNITS = 8192  # units cleaned at once (float64 work array: time x 8192)
_EPS = np.finfo(np.float64).eps


class _Series(NamedTuple):
    """What a parser hands back: (time, unit) values, unit coords, header TR, units."""

    data: np.ndarray
    coords: dict[str, Any]
    header_tr: float | None
    units: str


# --------------------------------------------------------------------------------------------
# cleaning: detrend, confound regression, standardisation (nilearn.signal.clean's definitions)


def _zscore(x: np.ndarray) -> np.ndarray:
    """Sample z-score over time (ddof=1); constant series stay 0, as in nilearn."""
    return zscore(x, axis=0, ddof=1)


def _psc(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=0)
    bad = np.abs(mean) < _EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (x - mean) / np.abs(mean) * 100.0
    out[:, bad] = np.nan  # percent of a zero mean is undefined: missing
    if bad.any():
        logger.info("%d unit(s) have a zero mean; their percent signal change is NaN", bad.sum())
    return out


#: standardize= options: name -> (function on a (time, unit) float64 block, units of the result).
STANDARDIZE: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "zscore": (_zscore, "z-score"),
    "psc": (_psc, "% signal change"),
}


def _orthonormal(columns: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the span of ``columns`` (time, k), rank-deficient ones dropped."""
    q, r, _ = linalg.qr(columns, mode="economic", pivoting=True)
    return q[:, np.abs(np.diag(r)) > _EPS * 100.0]


def _trend_basis(n_time: int) -> np.ndarray:
    return _orthonormal(np.column_stack([np.ones(n_time), np.arange(n_time, dtype=float)]))


def _confound_basis(confounds: np.ndarray, *, detrend: bool) -> np.ndarray:
    """Z-scored (and, with ``detrend``, detrended) confounds, orthonormalised."""
    c = confounds - confounds.mean(axis=0)
    if detrend:
        trend = _trend_basis(c.shape[0])
        c = c - trend @ (trend.T @ c)
    std = c.std(axis=0)
    std[std < _EPS] = 1.0
    return _orthonormal(c / std)


def _clean(data: np.ndarray, *, detrend: bool, confounds: np.ndarray | None,
           standardize: str | None) -> np.ndarray:
    """Detrend, regress out confounds, standardise; in float64, ``_BLOCK_UNITS`` at a time."""
    if not detrend and confounds is None and standardize is None:
        return data
    n_time = data.shape[0]
    trend = _trend_basis(n_time) if detrend else None
    basis = _confound_basis(confounds, detrend=detrend) if confounds is not None else None
    out = np.empty_like(data)
    for start in range(0, data.shape[1], _BLOCK_UNITS):
        x = data[:, start:start + _BLOCK_UNITS].astype(np.float64)
        if trend is not None:
            x -= trend @ (trend.T @ x)
        if basis is not None:
            x -= basis @ (basis.T @ x)
        if standardize is not None:
            x = STANDARDIZE[standardize][0](x)
        out[:, start:start + _BLOCK_UNITS] = x
    return out


def _check_processable(series: Any, path: Path, *, detrend: bool, confounds: bool,
                       standardize: str | None, events: bool) -> None:
    """Refuse processing that would turn one NaN into a NaN column, or that needs 2 volumes."""
    steps = [name for name, on in (("detrend", detrend), ("confounds", confounds),
                                   ("standardize", standardize is not None),
                                   ("events", events)) if on]
    if not steps:
        return  # values as stored: NaN stays where the file has it
    n_time = series.data.shape[0]
    if n_time < 2:
        raise ValueError(
            f"Invalid value for {steps[0]!r}: {str(path)!r} holds {n_time} volume(s); "
            f"{', '.join(steps)} need(s) at least 2. Load it without them."
        )
    bad = np.isnan(series.data).any(axis=0)
    if bad.any():
        names = [str(u) for u in np.asarray(series.coords["unit"])[bad]]
        shown = _listed(names)
        raise ValueError(
            f"Invalid value for {steps[0]!r}: {len(names)} unit(s) of {str(path)!r} hold NaN "
            f"({shown}); {', '.join(steps)} would make their whole "
            "series NaN. Load without these options and fill or drop those samples first "
            "(e.g. interpolate), or leave the units out with mask=/atlas=."
        )


# --------------------------------------------------------------------------------------------
# argument checks


def _check_tr(tr: Any) -> float | None:
    return check_scalar("tr", tr, float, low=0, closed="neither", allow_none=True,
                        what="the repetition time in seconds")


def _resolve_tr(header_tr: float | None, tr: float | None, *, where: str) -> float:
    """The TR to use: ``tr`` if given, else a plausible header TR; see :func:`load_fmri`."""
    low, high = TR_RANGE
    plausible = header_tr is not None and low <= header_tr <= high
    if tr is None:
        if header_tr is None:
            raise ValueError(
                f"{where} does not give the repetition time (TR). Pass it in seconds as "
                f"tr=..., e.g. load_fmri(source, tr=2.0)."
            )
        if not plausible:
            raise ValueError(
                f"The header of {where} gives a repetition time of {header_tr!r} s, outside the "
                f"plausible range {low} to {high} s. Pass the true TR in seconds as tr=..., "
                f"e.g. load_fmri(source, tr=2.0)."
            )
        return float(header_tr)
    if header_tr is not None and not plausible:
        warnings.warn(
            f"The header of {where} gives a repetition time of {header_tr!r} s, outside the "
            f"plausible range {low} to {high} s; using tr={tr!r} s as given. Fix the header "
            f"to silence this warning.",
            UserWarning,
            stacklevel=3,
        )
    elif header_tr is not None and not math.isclose(header_tr, tr, rel_tol=1e-3):
        warnings.warn(
            f"tr={tr!r} s differs from the repetition time in the header of {where} "
            f"({header_tr!r} s); using tr={tr!r} s as given. Pass tr=None to use the header's.",
            UserWarning,
            stacklevel=3,
        )
    return tr


def _check_standardize(standardize: Any) -> str | None:
    if standardize is False or standardize is None:
        return None
    if standardize is True:
        return "zscore"
    return _check_option("standardize", standardize, [False, True, *STANDARDIZE])


def _read_table(path: Path, name: str) -> Any:
    pd = _soft_import("pandas", "reading tables", "fmri")
    sep = "\t" if path.name.lower().endswith(".tsv") else ","
    try:
        table = pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(
            f"Invalid value for {name!r}: {str(path)!r} is not a readable "
            f"{'TSV' if sep == chr(9) else 'CSV'} table ({type(err).__name__}). Check the file."
        ) from err
    _check_last_row(path, sep, table.shape[1], name)
    return table


def _check_last_row(path: Path, sep: str, n_columns: int, name: str) -> None:
    """A last row with fewer fields than the header: the file was cut short (pandas pads NaN)."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 65536))
        lines = [ln for ln in f.read().split(b"\n") if ln.strip()]
    if not lines or b'"' in lines[-1]:
        return  # quoted fields may hold the separator: leave them to pandas
    n_fields = lines[-1].count(sep.encode()) + 1
    if n_fields < n_columns:
        raise ValueError(
            f"Invalid value for {name!r}: the last row of {str(path)!r} has {n_fields} of the "
            f"header's {n_columns} fields; the file is truncated. Check the file or export it "
            "again."
        )


def _check_confounds(confounds: Any, n_time: int) -> np.ndarray | None:
    """Confounds as a float64 (time, k) array."""
    if confounds is None:
        return None
    if isinstance(confounds, (str, os.PathLike)):
        path = check_file(confounds, suffixes=TABLE_SUFFIXES, what="a confounds table",
                          name="confounds")
        confounds = _read_table(path, "confounds")
    values = np.asarray(confounds)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.dtype.kind not in "fiub":
        raise ValueError(
            f"Invalid value for 'confounds': expected numbers shaped (time, n_confounds) "
            f"(an array, a DataFrame or a CSV/TSV path); got dtype {values.dtype} with shape "
            f"{values.shape}."
        )
    if values.shape[0] != n_time:
        raise ValueError(
            f"Invalid value for 'confounds': it has {values.shape[0]} rows but the series has "
            f"{n_time} time points. Give one row per volume."
        )
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            "Invalid value for 'confounds': it holds NaN or infinite values (fMRIPrep's "
            "derivative columns start with NaN). Fill them, e.g. confounds.fillna(0), or drop "
            "those columns."
        )
    return values


def _check_events(events: Any) -> Any:
    pd = _soft_import("pandas", "reading events tables", "fmri")
    if isinstance(events, (str, os.PathLike)):
        path = check_file(events, suffixes=TABLE_SUFFIXES, what="an events table",
                          name="events")
        events = _read_table(path, "events")
    _validate_type("events", events, pd.DataFrame, "a DataFrame or a CSV/TSV path")
    missing = [c for c in _EVENT_COLUMNS if c not in events.columns]
    if missing:
        expected, got = (", ".join(map(repr, c)) for c in (_EVENT_COLUMNS, events.columns))
        raise ValueError(
            f"Invalid value for 'events': expected columns {expected}; missing "
            f"{', '.join(map(repr, missing))} (it has {got})."
        )
    return events.loc[:, list(_EVENT_COLUMNS)].copy()


# --------------------------------------------------------------------------------------------
# masks and atlases


def _spatial_array(nib: Any, value: Any, name: str, img: Any, spatial: tuple[int, ...],
                   fix: str) -> np.ndarray:
    """A mask or atlas (path, nibabel image or array) as an array on the image's grid."""
    other = None
    if isinstance(value, (str, os.PathLike)):
        path = check_file(value, suffixes=VOLUME_SUFFIXES + (".mgh", ".mgz"),
                          what=f"a {name} image", name=name)
        value = _load_image(nib, path)
    if hasattr(value, "dataobj") and hasattr(value, "affine"):
        other = value
        value = np.asarray(value.dataobj)
    arr = np.asarray(value)
    if arr.ndim == 4 and arr.shape[3] == 1:
        arr = arr[..., 0]
    if arr.ndim == 1 and len(spatial) == 3 and spatial[1:] == (1, 1):
        arr = arr[:, None, None]  # a per-vertex array for an MGH surface series
    if arr.shape != spatial:
        raise ValueError(
            f"Invalid value for {name!r}: its shape {arr.shape} does not match the spatial "
            f"shape {spatial} of 'source'. {fix}"
        )
    if other is not None and img is not None and other.affine is not None:
        diff = float(np.max(np.abs(np.asarray(other.affine) - np.asarray(img.affine))))
        if diff > 1e-3:
            raise ValueError(
                f"Invalid value for {name!r}: its affine differs from the affine of 'source' "
                f"(largest difference {diff:.3g}), so it lies on another voxel grid. {fix}"
            )
    return arr


def _check_mask(arr: np.ndarray) -> np.ndarray:
    values = np.unique(arr)
    if arr.dtype.kind not in "fiub" or not set(values.tolist()) <= {0, 1}:
        shown = ", ".join(repr(v) for v in values[:5].tolist())
        raise ValueError(
            f"Invalid value for 'mask': expected a binary mask (0/1 or bool); got the values "
            f"{shown}{' ...' if values.size > 5 else ''}. For a labels image pass atlas=."
        )
    mask = arr.astype(bool)
    if not mask.any():
        raise ValueError("Invalid value for 'mask': it selects no voxel (all values are 0).")
    return mask


def _check_atlas(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr)) or not np.array_equal(
            arr, np.round(arr)):
        raise ValueError(
            "Invalid value for 'atlas': expected integer region labels (0 = background); got "
            f"non-integer values (dtype {arr.dtype}). For a probabilistic atlas use "
            "nilearn.maskers.NiftiMapsMasker."
        )
    atlas = arr.astype(np.int64)
    if not atlas.any():
        raise ValueError("Invalid value for 'atlas': it holds no region (all labels are 0).")
    return atlas


def _label_names(values: np.ndarray, labels: Any) -> list[str]:
    """One name per non-zero label value (sorted), from ``labels`` or the values themselves."""
    if labels is None:
        return [str(v) for v in values.tolist()]
    if isinstance(labels, Mapping):
        missing = [v for v in values.tolist() if v not in labels]
        if missing:
            raise ValueError(
                f"Invalid value for 'labels': it names no region for the atlas value(s) "
                f"{', '.join(map(str, missing[:5]))}{' ...' if len(missing) > 5 else ''}. Give "
                f"a name for every non-zero value of the atlas."
            )
        names = [str(labels[v]) for v in values.tolist()]
    else:
        if isinstance(labels, str) or not isinstance(labels, Sequence | np.ndarray):
            raise TypeError(
                f"Invalid type for 'labels': expected a sequence of names or a dict "
                f"{{value: name}}; got {type(labels).__name__}."
            )
        if len(labels) != len(values):
            raise ValueError(
                f"Invalid value for 'labels': expected {len(values)} names, one per non-zero "
                f"atlas value in increasing order ({', '.join(map(str, values[:3].tolist()))}"
                f"{' ...' if len(values) > 3 else ''}); got {len(labels)}. Leave out a "
                f"background name, or pass a dict {{value: name}}."
            )
        names = [str(n) for n in labels]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(
            f"Invalid value for 'labels': names must be unique; {', '.join(map(repr, dup))} "
            f"repeat."
        )
    return names


class _Selection(NamedTuple):
    """Which voxels to read, in output order, and how to reduce them to units."""

    # (the field shadows tuple.index, hence the ignore)
    index: np.ndarray  # type: ignore[assignment]  # Fortran-order flat voxel indices, by region
    starts: np.ndarray | None  # atlas mode: first voxel of each region in ``index``
    counts: np.ndarray | None  # atlas mode: voxels per region
    coords: dict[str, Any]

    @property
    def n_units(self) -> int:
        return len(self.index) if self.counts is None else len(self.counts)


def _flat(where: np.ndarray) -> np.ndarray:
    """Fortran-order flat indices (the NIfTI memory order) of True voxels, in C order."""
    return np.ravel_multi_index(np.nonzero(where), where.shape, order="F")


def _selection(mask: np.ndarray | None, atlas: np.ndarray | None, labels: Any,
               unit_coords: Callable[[np.ndarray], dict[str, Any]]) -> _Selection:
    if atlas is None:
        assert mask is not None
        return _Selection(_flat(mask), None, None, unit_coords(mask))
    inside = atlas != 0 if mask is None else (atlas != 0) & mask
    region_of_voxel = atlas[inside]
    values, counts = np.unique(region_of_voxel, return_counts=True)
    if values.size == 0:
        raise ValueError("Invalid value for 'atlas': no labelled voxel lies inside 'mask'.")
    names = _label_names(values, labels)
    index = _flat(inside)[np.argsort(region_of_voxel, kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    coords = {"unit": np.array(names), "region": ("unit", np.array(names)),
              "atlas_value": ("unit", values), "n_voxels": ("unit", counts)}
    return _Selection(index, starts, counts, coords)


def _reduce(block: np.ndarray, sel: _Selection) -> np.ndarray:
    """(*spatial, c) -> (c, n_units): the selected voxels, or region means (float64 sums)."""
    flat = block.reshape(-1, block.shape[-1], order="F")  # a view of nibabel's F-order block
    if sel.counts is None:
        return flat[sel.index].T
    assert sel.starts is not None  # set with counts (atlas mode)
    sums = np.empty((len(sel.counts), flat.shape[1]))
    for r, (start, count) in enumerate(zip(sel.starts.tolist(), sel.counts.tolist(), strict=True)):
        # one region gathered at a time; float64 sums without a float64 copy of the block
        sums[r] = flat[sel.index[start:start + count]].sum(axis=0, dtype=np.float64)
    return (sums / sel.counts[:, None]).T


# --------------------------------------------------------------------------------------------
# parsers


def _format_name(path: Path) -> str:
    lower = path.name.lower()
    if lower.endswith((".mgh", ".mgz")):
        return "MGH/MGZ"
    return "GIFTI" if lower.endswith(".gii") else "NIfTI"


def _reading(path: Path) -> Any:
    """nibabel's failures on a truncated, corrupt or renamed file -> one ValueError."""
    return reading(path, _format_name(path), keep_own=False,
                   fix="Check the file or download it again.")


def _load_image(nib: Any, path: Path) -> Any:
    """``nib.load`` (lazy), except that an MGH header is read through a file we close."""
    with _reading(path):
        if path.name.lower().endswith((".mgh", ".mgz")):  # nibabel 5.4 leaves .mgh files open
            with nib.openers.ImageOpener(path, "rb") as f:
                header = nib.MGHImage.header_class.from_fileobj(f.fobj)
            proxy = nib.MGHImage.ImageArrayProxy(str(path), header.copy(), mmap=False)
            return nib.MGHImage(proxy, header.get_affine(), header)
        return nib.load(path)


def _nifti_header_tr(header: Any) -> float | None:
    zooms = header.get_zooms()
    if len(zooms) < 4 or len(header.get_data_shape()) < 4:
        return None
    scale = _NIFTI_TIME_SCALE.get(header.get_xyzt_units()[1])
    value = float(zooms[3]) * (scale or 0.0)
    if not math.isfinite(value) or value <= 0:
        return None
    return float(str(np.float32(value)))  # float32 header: 1.35, not 1.3500000238418579


def _volume_units(header: Any) -> str:
    """NIfTI has no field for the intensity unit; a statistic intent names one."""
    intent = header.get_intent()[0] if hasattr(header, "get_intent") else "none"
    return _NIFTI_INTENT_UNITS.get(intent, DEFAULT_UNITS)


def _voxel_coords(nib: Any, affine: np.ndarray) -> Callable[[np.ndarray], dict[str, Any]]:
    def coords(mask: np.ndarray) -> dict[str, Any]:
        ijk = np.argwhere(mask)  # C order, as nilearn's NiftiMasker
        xyz = nib.affines.apply_affine(affine, ijk)
        ids = np.array([f"v{i}_{j}_{k}" for i, j, k in ijk.tolist()])
        out: dict[str, Any] = {"unit": ids}
        for n, name in enumerate("ijk"):
            out[name] = ("unit", ijk[:, n])
        for n, name in enumerate("xyz"):
            out[name] = ("unit", xyz[:, n])
        return out
    return coords


def _vertex_coords(mask: np.ndarray) -> dict[str, Any]:
    vertices = np.flatnonzero(mask.reshape(-1))
    return {"unit": np.array([f"vertex{v}" for v in vertices.tolist()]),
            "vertex": ("unit", vertices)}


def _unscaled(proxy: Any) -> bool:
    """Whether nibabel returns the stored values as they are (no slope or intercept)."""
    slope, inter = getattr(proxy, "slope", 1.0), getattr(proxy, "inter", 0.0)
    return bool(slope == 1.0 and inter == 0.0)


def _read_chunked(nib: Any, path: Path, img: Any, sel: _Selection, chunk_size: int
                  ) -> np.ndarray:
    """(time, unit) values, reading ``chunk_size`` volumes at a time through one open file."""
    n_time = img.shape[3]

    def read(proxy: Any, t0: int) -> np.ndarray:
        with _reading(path):
            return np.asarray(proxy[..., t0:t0 + chunk_size])

    with nib.openers.ImageOpener(path, "rb") as f:  # one handle: .gz is read forward once
        proxy = type(img).from_stream(f.fobj).dataobj
        # float32 for float32 and <=16-bit integer data (exact), float64 otherwise
        dtype = np.float64 if sel.counts is not None else np.result_type(
            proxy.dtype if _unscaled(proxy) else np.float64, np.float32)
        out = np.empty((n_time, sel.n_units), dtype=dtype)
        for t0 in range(0, n_time, chunk_size):
            # one chunk alive at a time: the block is freed before the next read
            out[t0:t0 + chunk_size] = _reduce(read(proxy, t0), sel)
    return out


def _parse_volume(path: Path, *, mask: Any, atlas: Any, labels: Any, chunk_size: int
                  ) -> _Series:
    nib = _soft_import("nibabel", "reading NIfTI and MGH files", "fmri")
    img = _load_image(nib, path)
    if len(img.shape) != 4:
        raise ValueError(
            f"Invalid value for 'source': expected a 4D image (x, y, z, time); got shape "
            f"{img.shape} in {str(path)!r}."
        )
    spatial = tuple(int(s) for s in img.shape[:3])
    is_mgh = path.name.lower().endswith((".mgh", ".mgz"))
    surface = is_mgh and spatial[1:] == (1, 1)
    if not surface and mask is None and atlas is None:
        raise ValueError(
            f"A 4D volume needs a brain mask or an atlas: pass mask= (a binary image on the "
            f"grid of {path.name!r}) for voxel series, or atlas= (a labels image) for region "
            f"means."
        )
    fix = ("Give a per-vertex array of length n_vertices." if surface else
           "Resample it to the image grid first, e.g. nilearn.image.resample_to_img(img, "
           "source, interpolation='nearest').")
    mask_arr = None if mask is None else _check_mask(
        _spatial_array(nib, mask, "mask", img, spatial, fix))
    atlas_arr = None if atlas is None else _check_atlas(
        _spatial_array(nib, atlas, "atlas", img, spatial, fix))
    if surface and mask_arr is None and atlas_arr is None:
        mask_arr = np.ones(spatial, dtype=bool)
    coords_fn = _vertex_coords if surface else _voxel_coords(nib, img.affine)
    sel = _selection(mask_arr, atlas_arr, labels, coords_fn)
    data = _read_chunked(nib, path, img, sel, chunk_size)
    if is_mgh:
        tr_ms = float(img.header["tr"])
        header_tr = tr_ms / 1000.0 if math.isfinite(tr_ms) and tr_ms > 0 else None
        units = DEFAULT_UNITS
    else:
        header_tr = _nifti_header_tr(img.header)
        units = _volume_units(img.header)
    return _Series(data, sel.coords, header_tr, units)


def _parse_gifti(path: Path, *, mask: Any, atlas: Any, labels: Any, chunk_size: int
                 ) -> _Series:
    nib = _soft_import("nibabel", "reading GIFTI files", "fmri")
    img = _load_image(nib, path)
    geometry = {"NIFTI_INTENT_POINTSET", "NIFTI_INTENT_TRIANGLE"}
    intents = {nib.nifti1.intent_codes.niistring[d.intent] for d in img.darrays}
    if not img.darrays or intents & geometry:
        raise ValueError(
            f"Invalid value for 'source': {str(path)!r} holds a surface mesh (or nothing), not "
            f"a data series. Give the functional GIFTI file (e.g. *.func.gii)."
        )
    values = img.agg_data()
    values = values[:, None] if values.ndim == 1 else values  # (n_vertices, n_time)
    n_vertices = values.shape[0]
    fix = "Give a per-vertex array of length n_vertices."
    mask_arr = None if mask is None else _check_mask(
        _spatial_array(nib, mask, "mask", None, (n_vertices,), fix))
    atlas_arr = None if atlas is None else _check_atlas(
        _spatial_array(nib, atlas, "atlas", None, (n_vertices,), fix))
    if mask_arr is None and atlas_arr is None:
        mask_arr = np.ones(n_vertices, dtype=bool)
    sel = _selection(mask_arr, atlas_arr, labels, _vertex_coords)
    dtype = np.float64 if sel.counts is not None else np.result_type(values.dtype, np.float32)
    data = _reduce(values, sel).astype(dtype)
    step = img.darrays[0].meta.get("TimeStep", img.meta.get("TimeStep"))
    header_tr = None
    if step is not None:
        try:
            header_tr = float(step) / 1000.0  # FreeSurfer writes TimeStep in milliseconds
        except ValueError:
            header_tr = None
        if header_tr is not None and (not math.isfinite(header_tr) or header_tr <= 0):
            header_tr = None
    return _Series(np.ascontiguousarray(data), sel.coords, header_tr, DEFAULT_UNITS)


def _parse_table(path: Path, *, mask: Any, atlas: Any, labels: Any, chunk_size: int
                 ) -> _Series:
    for name, value in (("mask", mask), ("atlas", atlas), ("labels", labels)):
        if value is not None:
            raise ValueError(
                f"Invalid value for {name!r}: it does not apply to an ROI table, whose columns "
                f"are the units already; got {type(value).__name__}. Leave it as None."
            )
    table = _read_table(path, "source")
    empty = table.shape[1] == 0 or table.shape[0] == 0
    bad = [] if empty else [str(c) for c in table.columns if table[c].dtype.kind not in "fiub"]
    if bad or empty:
        raise ValueError(
            f"Invalid value for 'source': expected an ROI table with one numeric column per "
            f"region and one row per volume; {str(path)!r} has "
            + (f"non-numeric column(s) {', '.join(map(repr, bad))}." if bad else "no data.")
        )
    names = np.array([str(c) for c in table.columns])
    data = table.to_numpy(dtype=np.float64)
    return _Series(data, {"unit": names, "region": ("unit", names)}, None, DEFAULT_UNITS)


#: Parsers by file ending (checked in order: longest first).
PARSERS: dict[str, Callable[..., _Series]] = {
    ".nii.gz": _parse_volume,
    ".nii": _parse_volume,
    ".mgz": _parse_volume,
    ".mgh": _parse_volume,
    ".gii": _parse_gifti,
    ".csv": _parse_table,
    ".tsv": _parse_table,
}


# --------------------------------------------------------------------------------------------
# GLM


def _glm_betas(data: np.ndarray, tr: float, events: Any, confounds: np.ndarray | None
               ) -> tuple[np.ndarray, list[str]]:
    """Per-condition betas (condition, unit) of nilearn's first-level GLM on ``data``."""
    first_level = _soft_import("nilearn.glm.first_level", "estimating responses to events",
                               "fmri")
    frame_times = np.arange(data.shape[0]) * tr
    names = None if confounds is None else [f"confound{i}" for i in range(confounds.shape[1])]
    design = first_level.make_first_level_design_matrix(
        frame_times, events=events, hrf_model="glover", drift_model="cosine", high_pass=0.01,
        add_regs=confounds, add_reg_names=names)
    conditions = sorted(str(c) for c in events["trial_type"].unique())
    labels, results = first_level.run_glm(data.astype(np.float64), design.to_numpy(),
                                          noise_model="ar1")
    theta = np.empty((design.shape[1], data.shape[1]))
    for label, result in results.items():
        theta[:, labels == label] = result.theta
    columns = [str(c) for c in design.columns]
    return theta[[columns.index(c) for c in conditions]], conditions


# --------------------------------------------------------------------------------------------
# public


def load_fmri(
    source: str | os.PathLike[str],
    *,
    mask: Any = None,
    atlas: Any = None,
    labels: Sequence[str] | Mapping[int, str] | None = None,
    tr: float | None = None,
    confounds: Any = None,
    standardize: bool | str = False,
    detrend: bool = False,
    events: Any = None,
    chunk_size: int = 64,
    units: str | None = None,
) -> xr.DataArray:
    """Load an fMRI series (volume, surface or ROI table) as a ``(time, unit)`` assembly.

    Sources, by file ending:

    - **4D NIfTI** (``.nii``, ``.nii.gz``) or a 4D MGH volume: with ``mask`` one unit per
      voxel inside the mask (ids ``"v{i}_{j}_{k}"``, C order as in nilearn's ``NiftiMasker``);
      with ``atlas`` one unit per region, the mean over the region's voxels at each time
      point (as ``NiftiLabelsMasker(strategy="mean")``). One of the two is required. The
      file is read lazily, ``chunk_size`` volumes at a time, through nibabel's array proxy:
      peak memory is about the output plus one chunk.
    - **Surface series**: GIFTI (``.gii``: one 1D data array per time point, or one
      ``(n_vertices, n_time)`` array) and FreeSurfer MGH/MGZ shaped ``(n_vertices, 1, 1,
      n_time)``. One unit per vertex (ids ``"vertex{n}"``), or per region with ``atlas``.
    - **ROI tables** (``.csv``, ``.tsv``): one named column per region, one row per volume;
      the column names become the unit ids.

    Parameters
    ----------
    source : str or Path
        The file.
    mask : path, nibabel image or array, optional
        Binary mask on the image's voxel grid (same shape and affine; it is not resampled).
        For surfaces a per-vertex boolean array. Not for tables.
    atlas : path, nibabel image or array, optional
        Integer labels image on the same grid (0 = background; per-vertex for surfaces).
        With ``mask`` too, only labelled voxels inside the mask are averaged.
    labels : sequence of str or dict {int: str}, optional
        Region names: a dict from atlas value to name, or one name per non-zero atlas value
        in increasing order (no background name). Default: the value as a string. Values of
        a dict that the atlas does not hold are ignored.
    tr : float, optional
        Repetition time in seconds. Default: the file's (NIfTI ``pixdim[4]`` with its
        ``xyzt_units``, MGH ``tr`` in ms, GIFTI ``TimeStep`` metadata in ms). Required for
        tables and files without one. A header TR outside 0.01 to 100 s is taken as broken:
        without ``tr`` this raises a ValueError; with ``tr`` it warns and uses ``tr``. A
        ``tr`` that differs from a plausible header TR warns and is used.
    confounds : array (time, k), DataFrame or CSV/TSV path, optional
        Nuisance regressors, regressed out of every unit (their projection is removed; the
        mean of each unit is kept unless ``detrend``). Same definition as
        ``nilearn.signal.clean``. With ``events`` they enter the GLM design instead.
    standardize : bool or {"zscore", "psc"}, default=False
        ``True`` or ``"zscore"``: subtract each unit's mean and divide by its sample standard
        deviation (ddof=1; constant units become 0); ``"psc"``: percent signal change,
        ``100 * (x - mean) / |mean|`` (NaN where the mean is 0). Applied last, over time.
    detrend : bool, default=False
        Remove each unit's least-squares line (mean included) over time, first.
    events : DataFrame or CSV/TSV path, optional
        Columns ``onset``, ``duration`` (s) and ``trial_type``. When given, a first-level GLM
        (nilearn ``run_glm``, Glover HRF, cosine drift at 0.01 Hz, AR(1) noise; the design of
        ``FirstLevelModel``) is fitted to the loaded series and the result has dims
        ``("stimulus", "unit")``: one beta per condition (ids = ``trial_type``, sorted).
    chunk_size : int, default=64
        Volumes read at a time from a NIfTI/MGH file.
    units : str, optional
        Physical unit of the values, overriding the default.

    Returns
    -------
    DataArray, dims ("time", "unit") (or ("stimulus", "unit") with ``events``)
        ``time = arange(n) * tr`` seconds, attrs ``sampling_rate = 1 / tr`` Hz,
        ``modality="fmri"``, ``source`` (file name and sha256) and ``units``: NIfTI, MGH and
        GIFTI hold no physical unit for BOLD intensities, so they are
        ``"BOLD (scanner units)"`` (``"z-score"`` or ``"t statistic"`` when the NIfTI intent
        says so), ``"z-score"`` or ``"% signal change"`` after ``standardize``; GLM betas are
        in the series' units per unit regressor. Unit coords: ``i, j, k`` (voxel indices)
        and ``x, y, z`` (mm, from the affine) for voxels; ``region``, ``atlas_value`` and
        ``n_voxels`` for atlas regions; ``vertex`` for vertices; ``region`` for tables.
        Voxel and vertex values are float32 for float32 or ≤16-bit integer data stored
        without scaling (exact), float64 otherwise; atlas means are summed and returned in
        float64. Cleaning is computed in float64 and cast back to the output dtype.

    Raises
    ------
    FileNotFoundError
        ``source`` (or a mask/atlas/confounds path) does not exist.
    ValueError
        Unknown ending, truncated, corrupt or renamed file (naming it), missing or
        implausible TR, mask/atlas not on the image grid, confounds of the wrong length,
        +-inf values, or NaN samples with ``detrend``, ``confounds``, ``standardize`` or
        ``events`` (which would spread them over the whole series; NaN is kept as stored
        otherwise).

    Examples
    --------
    >>> from brainbridge.loaders import load_fmri
    >>> from brainbridge.loaders._common import package_data
    >>> path = package_data("nitime", "data", "fmri_timeseries.csv",
    ...                     install="pip install nitime==0.12.1")
    >>> da = load_fmri(path, tr=1.89)
    >>> da.sizes["time"], da.sizes["unit"], str(da["unit"].values[3])
    (250, 31, 'LCau')
    """
    path = check_file(source, suffixes=SUFFIXES, what="an fMRI file (NIfTI, GIFTI, MGH or an "
                      "ROI table)")
    tr = _check_tr(tr)
    std = _check_standardize(standardize)
    _validate_type("detrend", detrend, (bool, np.bool_), "True or False")
    chunk_size = check_scalar("chunk_size", chunk_size, int, low=1, what="volumes per chunk")
    if labels is not None and atlas is None:
        raise ValueError(
            "Invalid value for 'labels': it names atlas regions, but no atlas= was given. "
            "Pass atlas= too, or leave labels=None."
        )
    if units is not None:
        _validate_type("units", units, str, "a string such as 'BOLD (scanner units)'")
    events = None if events is None else _check_events(events)
    suffix = next(s for s in PARSERS if path.name.lower().endswith(s))
    series = PARSERS[suffix](path, mask=mask, atlas=atlas, labels=labels,
                             chunk_size=int(chunk_size))
    tr = _resolve_tr(series.header_tr, tr, where=repr(path.name))
    n_time = series.data.shape[0]
    reject_inf(series.data, np.asarray(series.coords["unit"]), repr(str(path)), axis=1)
    conf = _check_confounds(confounds, n_time)
    _check_processable(series, path, detrend=bool(detrend), confounds=conf is not None,
                       standardize=std, events=events is not None)
    value_units = units or (STANDARDIZE[std][1] if std else series.units)
    data = _clean(series.data, detrend=bool(detrend),
                  confounds=None if events is not None else conf, standardize=std)
    if events is not None:
        betas, conditions = _glm_betas(data, tr, events, conf)
        coords = dict(series.coords)
        coords["stimulus"] = np.array(conditions)
        return assembly(betas, dims=("stimulus", "unit"), coords=coords, modality="fmri",
                        units=units or f"{value_units} per unit regressor",
                        source=provenance(path), name="fmri")
    coords = dict(series.coords)
    coords["time"] = np.arange(n_time, dtype=np.float64) * tr
    logger.info("loaded %s: %d volumes x %d units, TR %s s", path.name, n_time,
                data.shape[1], tr)
    return assembly(data, dims=("time", "unit"), coords=coords, modality="fmri",
                    sampling_rate=1.0 / tr, units=value_units, source=provenance(path),
                    name="fmri")
