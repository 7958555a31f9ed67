"""Interop with the peers' data models: Brain-Score assemblies and rsatoolbox datasets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._assembly import validate
from ._checks import AssemblyError, _soft_import


def _per_dim_coords(da: xr.DataArray, dim: str) -> dict[str, np.ndarray]:
    """Non-index coords that lie along ``dim`` alone."""
    return {str(k): np.asarray(c.values) for k, c in da.coords.items()
            if c.dims == (dim,) and k != dim}


def _check_mapped(da: xr.DataArray, mapped: tuple[str, ...], func: str, layout: str) -> None:
    """Raise for an empty dim, and naming every dim of ``da`` that ``func`` has no place for in
    its ``layout``."""
    empty = [d for d in da.dims if da.sizes[d] == 0]
    if empty:
        raise AssemblyError(
            f"Invalid value for 'da': {func} needs at least one entry along every dim; "
            f"{', '.join(map(repr, empty))} {'has' if len(empty) == 1 else 'have'} none "
            f"(sizes {dict(da.sizes)}). Select a non-empty part of the assembly."
        )
    extra = [d for d in da.dims if d not in mapped]
    if extra:
        first = extra[0]
        raise AssemblyError(
            f"Invalid value for 'da': {func} cannot convert dim(s) {', '.join(map(repr, extra))}: "
            f"it maps only "
            f"{', '.join(map(repr, mapped[:-1]))} and {mapped[-1]!r} ({layout}). Reduce the "
            f"other dims first, e.g. da.mean({first!r}) to pool over them or "
            f"da.isel({first}=-1) to keep one {first}."
        )


def to_brainscore(da: xr.DataArray) -> xr.DataArray:
    """Return ``da`` in Brain-Score's layout: dims ``presentation x neuroid`` (``x time_bin``).

    ``presentation`` is a MultiIndex of ``stimulus_id``, ``stimulus_index`` and, with a
    ``trial`` dim, ``repetition`` (each repetition is its own presentation, as in
    Brain-Score's neural assemblies); per-stimulus coords come along. ``neuroid`` is a
    MultiIndex of ``neuroid_id`` and ``region`` plus every per-unit coord (and
    ``subject`` when there is a subject dim). ``region`` is the ``region`` coord if there
    is one, else the ANN ``layer``, else the modality. A ``time`` dim becomes
    ``time_bin`` with ``time_bin_start`` / ``time_bin_end`` in milliseconds. Wrap the
    result in ``brainio.assemblies.NeuroidAssembly`` where Brain-Score is installed
    (it cannot share our environment: it pins numpy<2).

    Other dims (``token``) have no place in this layout and raise an AssemblyError naming
    them: pool or select them first (e.g. ``da.mean("token")``).

    Parameters
    ----------
    da : DataArray
        An assembly with a ``stimulus`` dim.

    Returns
    -------
    DataArray

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> da = bb.assembly(np.arange(6.0).reshape(3, 2), dims=("stimulus", "unit"), modality="fmri",
    ...                  coords={"stimulus": ["cat", "dog", "car"]})
    >>> bs = bb.to_brainscore(da)
    >>> bs.dims
    ('presentation', 'neuroid')
    >>> bs["stimulus_id"].values.tolist(), bs["region"].values.tolist()
    (['cat', 'dog', 'car'], ['fmri', 'fmri'])
    """
    validate(da, name="da")
    if "stimulus" not in da.dims:
        raise AssemblyError(
            f"to_brainscore needs a 'stimulus' dim (Brain-Score indexes presentations); got dims "
            f"{tuple(da.dims)}. Epoch continuous data into stimuli first."
        )
    _check_mapped(da, ("stimulus", "trial", "unit", "subject", "time"), "to_brainscore",
                  "presentation x neuroid x time_bin")
    unit_extra = _per_dim_coords(da, "unit")
    region = unit_extra.pop("region", None)
    if region is None:
        region = unit_extra.get("layer", np.full(da.sizes["unit"], da.attrs["modality"]))
    neuroid = {"neuroid_id": np.asarray(da["unit"].values).astype(str), "region": region,
               **unit_extra}
    if "subject" in da.dims:
        subjects = (np.asarray(da["subject"].values) if "subject" in da.coords
                    else np.arange(da.sizes["subject"]))
        n_units = da.sizes["unit"]
        neuroid = {k: np.tile(v, subjects.size) for k, v in neuroid.items()}
        neuroid["neuroid_id"] = np.char.add(
            np.repeat(subjects.astype(str), n_units), np.char.add("/", neuroid["neuroid_id"]))
        neuroid["subject"] = np.repeat(subjects, n_units)
    stim_ids = np.asarray(da["stimulus"].values).astype(str)
    presentation = {"stimulus_id": stim_ids, "stimulus_index": np.arange(stim_ids.size),
                    **_per_dim_coords(da, "stimulus")}
    if "trial" in da.dims:
        n_trials = da.sizes["trial"]
        presentation = {k: np.repeat(v, n_trials) for k, v in presentation.items()}
        presentation["repetition"] = np.tile(np.arange(n_trials), stim_ids.size)
    pres_dims = [d for d in ("stimulus", "trial") if d in da.dims]
    neuroid_dims = [d for d in ("subject", "unit") if d in da.dims]
    time_dims = ["time"] if "time" in da.dims else []
    values = np.asarray(da.transpose(*pres_dims, *neuroid_dims, *time_dims).values)
    shape = (len(presentation["stimulus_id"]), len(neuroid["neuroid_id"])) + values.shape[
        len(pres_dims) + len(neuroid_dims):]
    out = xr.DataArray(values.reshape(shape), dims=["presentation", "neuroid", "time_bin"][
        :len(shape)], attrs=dict(da.attrs), name=da.name)
    indexes = {"presentation": presentation, "neuroid": neuroid}
    if time_dims:
        start_ms = np.asarray(da["time"].values, dtype=float) * 1000.0
        step_ms = 1000.0 / float(da.attrs["sampling_rate"])
        indexes["time_bin"] = {"time_bin_start": start_ms, "time_bin_end": start_ms + step_ms}
    for dim, levels in indexes.items():
        index = pd.MultiIndex.from_arrays(list(levels.values()), names=list(levels))
        out = out.assign_coords(xr.Coordinates.from_pandas_multiindex(index, dim))
    return out


def to_rsatoolbox(da: xr.DataArray) -> Any:
    """Return ``da`` as an ``rsatoolbox.data.Dataset`` (or ``TemporalDataset``).

    Observations are stimuli (times ``trial``, each with ``obs_descriptors``
    ``stimulus`` and ``trial``), or time samples when there is no ``stimulus`` dim;
    channels are units, with every per-unit coord as a ``channel_descriptor``. With both
    ``stimulus`` and ``time`` dims the result is a ``TemporalDataset`` whose
    ``time_descriptors['time']`` holds seconds; so does one with ``trial`` and ``time`` dims
    but no ``stimulus`` (observations are trials). Provenance attrs go to ``descriptors``.
    One Dataset holds one subject: select a subject first. Other dims (``token``) raise an
    AssemblyError naming them: pool or select them first (e.g. ``da.mean("token")``).

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> da = bb.assembly(np.arange(6.0).reshape(3, 2), dims=("stimulus", "unit"), modality="fmri",
    ...                  coords={"stimulus": ["cat", "dog", "car"]})
    >>> ds = bb.to_rsatoolbox(da)  # needs rsatoolbox (the dev extra)
    >>> ds.measurements.tolist(), ds.obs_descriptors["stimulus"].tolist()
    ([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], ['cat', 'dog', 'car'])
    """
    validate(da, name="da")
    data_mod = _soft_import("rsatoolbox.data", "conversion to rsatoolbox", "dev")
    if "subject" in da.dims:
        raise AssemblyError(
            "to_rsatoolbox converts one subject at a time (an rsatoolbox Dataset has no subject "
            "axis); use [to_rsatoolbox(da.sel(subject=s)) for s in da['subject'].values]."
        )
    _check_mapped(da, ("stimulus", "trial", "unit", "time"), "to_rsatoolbox",
                  "observations x channels x time")
    obs_dims: list[str] = [d for d in ("stimulus", "trial") if d in da.dims] or ["time"]
    temporal = obs_dims != ["time"] and "time" in da.dims
    order = obs_dims + ["unit"] + (["time"] if temporal else [])
    x = da.transpose(*order)
    n_obs = int(np.prod([da.sizes[d] for d in obs_dims]))
    values = np.asarray(x.values).reshape((n_obs, da.sizes["unit"]) + x.shape[len(obs_dims) + 1:])
    grids = np.meshgrid(*[np.arange(da.sizes[d]) for d in obs_dims], indexing="ij")
    obs: dict[str, Any] = {}
    for d, grid in zip(obs_dims, grids):
        labels = np.asarray(da[d].values) if d in da.coords else np.arange(da.sizes[d])
        obs[d] = labels[grid.ravel()]
    for d in obs_dims:
        for k, v in _per_dim_coords(da, d).items():
            obs[k] = v[grids[obs_dims.index(d)].ravel()]
    channel = {"unit": np.asarray(da["unit"].values).astype(str), **_per_dim_coords(da, "unit")}
    descriptors = {k: v for k, v in da.attrs.items() if isinstance(v, (str, int, float))}
    if temporal:
        return data_mod.TemporalDataset(
            values, descriptors=descriptors, obs_descriptors=obs, channel_descriptors=channel,
            time_descriptors={"time": np.asarray(da["time"].values, dtype=float)})
    return data_mod.Dataset(values, descriptors=descriptors, obs_descriptors=obs,
                            channel_descriptors=channel)
