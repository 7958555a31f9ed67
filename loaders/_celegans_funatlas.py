"""The Randi et al. 2023 signal-propagation atlas of C. elegans.

:func:`load_celegans_funatlas` reads ``funatlas.h5`` from the ``wormneuroatlas`` package with
h5py (the package's own constructor needs the network) as ``stimulus x unit`` assemblies.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .._assembly import assembly
from .._checks import _check_option, _validate_type
from ._celegans_common import NEURONS, _version
from ._common import check_file, package_data, provenance, reading

__all__ = ["load_celegans_funatlas"]

_ATLAS_INSTALL = 'pip install "brainbridge[celegans]"  (wormneuroatlas==0.0.7.3)'


_RANDI = ("Randi F, Sharma AK, Dvali S, Leifer AM (2023) Neural signal propagation atlas of "
          "Caenorhabditis elegans. Nature 623:406-414")
_STRAINS = ("wt", "unc31")
_ATLAS_NEURONS = ("atlas", "canonical")
#: The h5 stores names as 5-byte strings; these are the full names wormneuroatlas uses.
_ATLAS_RENAME = {"AWCOF": "AWCOFF"}


def load_celegans_funatlas(
    strain: str = "wt",
    *,
    source: str | os.PathLike[str] | None = None,
    neurons: str = "atlas",
    trials: bool = True,
) -> xr.Dataset:
    """Read the Randi et al. 2023 signal-propagation atlas as ``stimulus x unit``.

    Each neuron was stimulated optogenetically while whole-brain calcium was imaged;
    ``ds.dff.sel(stimulus=a, unit=b)`` is the mean response of ``b`` to stimulation of
    ``a``, the same orientation as the connectome's ``[pre, post]``. (The h5 file stores
    ``dFF[i, j]`` = response of ``i`` to stimulation of ``j``; it is transposed here.)

    Parameters
    ----------
    strain : {"wt", "unc31"}, default="wt"
        Wild type, or unc-31 mutants (dense-core-vesicle release, i.e. most
        neuropeptide signalling, is impaired).
    source : str or Path, optional
        A ``funatlas.h5`` file; default: the one inside the installed ``wormneuroatlas``
        package (found without importing it).
    neurons : {"atlas", "canonical"}, default="atlas"
        ``"atlas"``: the atlas's 300 neurons in its order (AWC appears as ``AWCON`` /
        ``AWCOFF``, which cannot be mapped to left/right). ``"canonical"``: the 302
        :data:`NEURONS` in their order; AWCL, AWCR, CANL and CANR are all-NaN and
        AWCON / AWCOFF are dropped.
    trials : bool, default=True
        Also return the per-trial amplitudes (``dff_trials``, about 43 MB for ``wt``).

    Returns
    -------
    Dataset
        Variables, each a valid assembly with dims ``("stimulus", "unit")`` (``unit`` =
        responding neuron, ``stimulus`` = stimulated neuron, string ids = neuron names):

        * ``dff`` : mean dF/F over trials (units ``"dF/F"``), NaN where no trial was kept;
        * ``q`` : q-value of the test that the response differs from zero (NaN where
          untested);
        * ``q_eq`` : q-value of the equivalence test (response equivalent to zero);
        * ``n_obs`` : ``occ1``, how often the pair was observed (float, 0 where never);
        * ``dff_trials`` (when ``trials``): dims ``("stimulus", "unit", "trial")``, the
          per-trial dF/F amplitudes (``dFF_all``) whose mean is ``dff``, in stored order,
          padded with NaN (the file's NaN amplitudes, one in ``wt``, are dropped). Trial
          ``k`` of one pair and of another are different stimulation events; only the
          first ``n_trials`` entries of a pair hold values.
        * ``n_trials`` (when ``trials``): number of per-trial amplitudes. It can be below
          ``n_obs``: the atlas keeps fewer amplitudes than observations.

        The fitted response kernels (``kernels``) are not read. attrs: ``modality``
        ``"celegans"``, ``units``, ``source`` (file sha256), ``citation``, ``strain``.

    Examples
    --------
    >>> from brainbridge.loaders import load_celegans_funatlas
    >>> atlas = load_celegans_funatlas("wt", trials=False)
    >>> atlas.dff.dims, atlas.sizes["unit"]
    (('stimulus', 'unit'), 300)
    """
    _check_option("strain", strain, _STRAINS)
    _check_option("neurons", neurons, _ATLAS_NEURONS)
    _validate_type("trials", trials, (bool, np.bool_), "a bool")
    if source is None:
        path = package_data("wormneuroatlas", "data", "funatlas.h5", install=_ATLAS_INSTALL)
        label = f"wormneuroatlas=={_version('wormneuroatlas')}:{provenance(path)}"
    else:
        path = check_file(source, suffixes=(".h5", ".hdf5"),
                          what="the signal-propagation atlas funatlas.h5")
        label = provenance(path)
    return _read_funatlas(path, strain, label, neurons, bool(trials))


def _read_funatlas(path: Path, strain: str, label: str, neurons: str,
                   trials: bool) -> xr.Dataset:
    import h5py

    with reading(path, "HDF5 (the funatlas.h5 layout)"), h5py.File(path, "r") as f:
        ids = [n.decode("utf-8") for n in f["neuron_ids"][:]]
        group = f[strain]
        # transpose: h5 [response, stimulated] -> ours [stimulated, response]
        raw = {
            "dff": group["dFF"][:].T,
            "q": group["q"][:].T,
            "q_eq": group["q_eq"][:].T,
            "n_obs": group["occ1"][:].T.astype(np.float64),
        }
        per_trial = group["dFF_all"][:].T if trials else None
        compiled = f.attrs.get("time_compiled", b"")
    ids = [_ATLAS_RENAME.get(n, n) for n in ids]
    if per_trial is not None:
        kept = [np.asarray(x, dtype=np.float64) for x in per_trial.ravel()]
        kept = [x[np.isfinite(x)] for x in kept]
        lengths = np.array([x.size for x in kept], dtype=np.int64)
        padded = np.full((per_trial.size, max(int(lengths.max()), 1)), np.nan)
        for k, x in enumerate(kept):
            padded[k, : x.size] = x
        raw["dff_trials"] = padded.reshape(*per_trial.shape, -1)
        raw["n_trials"] = lengths.reshape(per_trial.shape).astype(np.float64)
    units = {"dff": "dF/F", "q": "q-value", "q_eq": "q-value", "n_obs": "count",
             "dff_trials": "dF/F", "n_trials": "count"}
    names = ids
    if neurons == "canonical":
        position = {n: i for i, n in enumerate(ids)}
        take = np.array([position.get(n, -1) for n in NEURONS])
        for key, values in raw.items():
            fill = 0.0 if key in ("n_obs", "n_trials") else np.nan
            out = np.full((len(NEURONS), len(NEURONS), *values.shape[2:]), fill)
            ok = take >= 0
            out[np.ix_(ok, ok)] = values[np.ix_(take[ok], take[ok])]
            raw[key] = out
        names = list(NEURONS)
    variables = {}
    for key, values in raw.items():
        dims = ("stimulus", "unit", "trial")[: values.ndim]
        variables[key] = assembly(
            values, dims=dims, coords={"stimulus": np.array(names), "unit": np.array(names)},
            modality="celegans", units=units[key], source=label, name=key,
        )
    ds = xr.Dataset(variables)
    ds.attrs = {
        "modality": "celegans", "source": label, "citation": _RANDI, "strain": strain,
        "orientation": "[stimulus, unit] = response of unit to stimulation of stimulus",
        "time_compiled": compiled.decode() if isinstance(compiled, bytes) else str(compiled),
    }
    return ds
