"""C. elegans data: connectomes (cect), the signal-propagation atlas, homogenized activity.

Three readers share one orientation convention: the first matrix axis is the *source*
(presynaptic cell, stimulated neuron) and the second the *target* (postsynaptic cell,
responding neuron). ``conn.sel(pre="AVDL", post="AVAL")`` and
``atlas.dff.sel(stimulus="AVDL", unit="AVAL")`` both describe AVDL acting on AVAL.

* :func:`load_celegans_connectome` reads the JSON cache that ships inside ``cect``
  (``cect/cache/*.json``) without importing cect (its import pulls heavy dependencies).
* :func:`load_celegans_funatlas` reads ``funatlas.h5`` from the ``wormneuroatlas`` package
  with h5py (the package's own constructor needs the network).
* :func:`load_celegans_activity` reads the homogenized activity layout of Simeon et al.
  2024 (a parquet table, or the preprocessing pipeline's per-dataset pickles).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .._assembly import SCHEMA_VERSION, assembly
from .._checks import _check_option, _validate_type
from ._common import check_file, package_data, provenance

logger = logging.getLogger(__name__)

#: The 302 canonical hermaphrodite neuron names, in cect's order
#: (``cect.Cells.PREFERRED_HERM_NEURON_NAMES``, cect 0.3.5).
NEURONS: tuple[str, ...] = (
    "ADAL", "ADAR", "ADEL", "ADER", "ADFL", "ADFR", "ADLL", "ADLR", "AFDL", "AFDR", "AIAL",
    "AIAR", "AIBL", "AIBR", "AIML", "AIMR", "AINL", "AINR", "AIYL", "AIYR", "AIZL", "AIZR",
    "ALA", "ALML", "ALMR", "ALNL", "ALNR", "AQR", "AS1", "AS10", "AS11", "AS2", "AS3", "AS4",
    "AS5", "AS6", "AS7", "AS8", "AS9", "ASEL", "ASER", "ASGL", "ASGR", "ASHL", "ASHR", "ASIL",
    "ASIR", "ASJL", "ASJR", "ASKL", "ASKR", "AUAL", "AUAR", "AVAL", "AVAR", "AVBL", "AVBR",
    "AVDL", "AVDR", "AVEL", "AVER", "AVFL", "AVFR", "AVG", "AVHL", "AVHR", "AVJL", "AVJR",
    "AVKL", "AVKR", "AVL", "AVM", "AWAL", "AWAR", "AWBL", "AWBR", "AWCL", "AWCR", "BAGL",
    "BAGR", "BDUL", "BDUR", "CANL", "CANR", "CEPDL", "CEPDR", "CEPVL", "CEPVR", "DA1", "DA2",
    "DA3", "DA4", "DA5", "DA6", "DA7", "DA8", "DA9", "DB1", "DB2", "DB3", "DB4", "DB5", "DB6",
    "DB7", "DD1", "DD2", "DD3", "DD4", "DD5", "DD6", "DVA", "DVB", "DVC", "FLPL", "FLPR",
    "HSNL", "HSNR", "I1L", "I1R", "I2L", "I2R", "I3", "I4", "I5", "I6", "IL1DL", "IL1DR",
    "IL1L", "IL1R", "IL1VL", "IL1VR", "IL2DL", "IL2DR", "IL2L", "IL2R", "IL2VL", "IL2VR",
    "LUAL", "LUAR", "M1", "M2L", "M2R", "M3L", "M3R", "M4", "M5", "MCL", "MCR", "MI", "NSML",
    "NSMR", "OLLL", "OLLR", "OLQDL", "OLQDR", "OLQVL", "OLQVR", "PDA", "PDB", "PDEL", "PDER",
    "PHAL", "PHAR", "PHBL", "PHBR", "PHCL", "PHCR", "PLML", "PLMR", "PLNL", "PLNR", "PQR",
    "PVCL", "PVCR", "PVDL", "PVDR", "PVM", "PVNL", "PVNR", "PVPL", "PVPR", "PVQL", "PVQR",
    "PVR", "PVT", "PVWL", "PVWR", "RIAL", "RIAR", "RIBL", "RIBR", "RICL", "RICR", "RID",
    "RIFL", "RIFR", "RIGL", "RIGR", "RIH", "RIML", "RIMR", "RIPL", "RIPR", "RIR", "RIS",
    "RIVL", "RIVR", "RMDDL", "RMDDR", "RMDL", "RMDR", "RMDVL", "RMDVR", "RMED", "RMEL", "RMER",
    "RMEV", "RMFL", "RMFR", "RMGL", "RMGR", "RMHL", "RMHR", "SAADL", "SAADR", "SAAVL", "SAAVR",
    "SABD", "SABVL", "SABVR", "SDQL", "SDQR", "SIADL", "SIADR", "SIAVL", "SIAVR", "SIBDL",
    "SIBDR", "SIBVL", "SIBVR", "SMBDL", "SMBDR", "SMBVL", "SMBVR", "SMDDL", "SMDDR", "SMDVL",
    "SMDVR", "URADL", "URADR", "URAVL", "URAVR", "URBL", "URBR", "URXL", "URXR", "URYDL",
    "URYDR", "URYVL", "URYVR", "VA1", "VA10", "VA11", "VA12", "VA2", "VA3", "VA4", "VA5",
    "VA6", "VA7", "VA8", "VA9", "VB1", "VB10", "VB11", "VB2", "VB3", "VB4", "VB5", "VB6",
    "VB7", "VB8", "VB9", "VC1", "VC2", "VC3", "VC4", "VC5", "VC6", "VD1", "VD10", "VD11",
    "VD12", "VD13", "VD2", "VD3", "VD4", "VD5", "VD6", "VD7", "VD8", "VD9",
)  # fmt: skip

_NEURON_SET = frozenset(NEURONS)

_CECT_INSTALL = "pip install --no-deps cect==0.3.5"
_ATLAS_INSTALL = 'pip install "brainbridge[celegans]"  (wormneuroatlas==0.0.7.3)'

# ---------------------------------------------------------------------------------------
# Connectomes
# ---------------------------------------------------------------------------------------


class Connectome(NamedTuple):
    """One annotation in the cect cache.

    ``coverage`` says what a neuron missing from the file means. ``"whole"``: the
    annotation examined every canonical neuron, so a neuron that is not listed has no
    connection (0). ``"listed"``: only the listed cells were reconstructed, so pairs with
    any other neuron are unknown (NaN). cect lists exactly the cells that have at least
    one connection, which is why the distinction must come from the paper.
    """

    file: str
    citation: str
    units: str
    coverage: str
    notes: str


_WHITE = ("White JG, Southgate E, Thomson JN, Brenner S (1986) The structure of the nervous "
          "system of the nematode Caenorhabditis elegans. Phil Trans R Soc Lond B 314:1-340")
_DURBIN = "Durbin RM (1987) PhD thesis, University of Cambridge (neurodata.txt)"
_VARSHNEY = ("Varshney LR, Chen BL, Paniagua E, Hall DH, Chklovskii DB (2011) Structural "
             "properties of the Caenorhabditis elegans neuronal network. PLoS Comput Biol "
             "7:e1001066")
_COOK2019 = ("Cook SJ et al. (2019) Whole-animal connectomes of both Caenorhabditis elegans "
             "sexes. Nature 571:63-71")
_COOK2020 = ("Cook SJ, Crouse CM, Yemini E, Hall DH, Emmons SW, Hobert O (2020) The connectome "
             "of the Caenorhabditis elegans pharynx. J Comp Neurol 528:2767-2784")
_WITVLIET = ("Witvliet D et al. (2021) Connectomes across development reveal principles of "
             "brain maturation. Nature 596:257-261")
_WANG = ("Wang C et al. (2024) A neurotransmitter atlas of C. elegans males and "
         "hermaphrodites. eLife 13:RP95402")
_BENTLEY = ("Bentley B et al. (2016) The multilayer connectome of Caenorhabditis elegans. "
            "PLoS Comput Biol 12:e1005283")
_RIPOLL = ("Ripoll-Sanchez L et al. (2023) The neuropeptidergic connectome of C. elegans. "
           "Neuron 111:3570-3589")
_YIM = ("Yim H et al. (2024) Comparative connectomics of dauer reveals developmental "
        "plasticity. Nat Commun 15:1546")

_COUNT = "synapse count"
_SECTIONS = "EM serial sections"
_BINARY = "binary (1 = connection)"

_STAGES = {1: "L1", 2: "L1", 3: "L1", 4: "L1", 5: "L2", 6: "L3", 7: "adult", 8: "adult"}

#: Every connectome annotation of the cect 0.3.5 cache, by brainbridge name.
CONNECTOMES: dict[str, Connectome] = {
    "white1986_whole": Connectome(
        "White_whole.json", f"{_WHITE}; {_VARSHNEY}", _COUNT, "whole",
        "White et al. 1986 whole animal as re-analysed by Varshney et al. 2011, pharynx "
        "included; chemical and electrical"),
    "white1986_n2u": Connectome(
        "DurbinN2UDataReader.json", f"{_WHITE}; {_DURBIN}", _COUNT, "listed",
        "White et al. 1986 N2U adult series (head and part of the body), from Durbin 1987"),
    "white1986_jsh": Connectome(
        "DurbinJSHDataReader.json", f"{_WHITE}; {_DURBIN}", _COUNT, "listed",
        "White et al. 1986 JSH L4 series (nerve ring), from Durbin 1987"),
    "varshney2011": Connectome(
        "VarshneyDataReader.json", _VARSHNEY, _COUNT, "listed",
        "somatic nervous system; the 20 pharyngeal neurons were not reconstructed and "
        "CANL/CANR make no synapses, so all of them are NaN"),
    "cook2019_herm": Connectome(
        "Cook2019HermReader.json", _COOK2019, _SECTIONS, "whole",
        "adult hermaphrodite, whole animal incl. muscles and other cells"),
    "cook2019_male": Connectome(
        "Cook2019MaleReader.json", _COOK2019, _SECTIONS, "listed",
        "adult male, whole animal; hermaphrodite-specific HSN and VC neurons do not exist "
        "in the male (NaN); male-specific neurons are non-canonical cells"),
    "cook2020_pharynx": Connectome(
        "Cook2020DataReader.json", _COOK2020, _SECTIONS, "listed",
        "pharynx only (20 pharyngeal neurons, muscles, gland and marginal cells)"),
    **{
        f"witvliet2021_{i}": Connectome(
            f"WitvlietDataReader{i}.json", _WITVLIET, _COUNT, "listed",
            f"dataset {i} ({_STAGES[i]} stage), nerve ring and head only; electrical "
            "synapses are incomplete (see the paper)")
        for i in range(1, 9)
    },
    "wang2024_herm": Connectome(
        "Wang2024HermReader.json", f"{_WANG}; {_COOK2019}; {_BENTLEY}", _BINARY, "whole",
        "hermaphrodite: Cook 2019 chemical edges split by the presynaptic cell's "
        "neurotransmitter (acetylcholine, glutamate, GABA, betaine) plus Bentley 2016 "
        "monoamine edges; no electrical synapses"),
    "wang2024_male": Connectome(
        "Wang2024MaleReader.json", f"{_WANG}; {_COOK2019}; {_BENTLEY}", _BINARY, "listed",
        "male counterpart of wang2024_herm"),
    "bentley2016_monoamine": Connectome(
        "Bentley2016MAReader.json", _BENTLEY, _BINARY, "whole",
        "extrasynaptic monoamine edges (dopamine, octopamine, serotonin, tyramine): "
        "producing cell -> receptor-expressing cell"),
    "bentley2016_neuropeptide": Connectome(
        "Bentley2016PepReader.json", _BENTLEY, _BINARY, "whole",
        "extrasynaptic neuropeptide edges: ligand-expressing -> receptor-expressing cell"),
    "ripoll_sanchez2023_short": Connectome(
        "RipollSanchezShortRangeReader.json", _RIPOLL, "NPP-GPCR pathway count", "whole",
        "neuropeptide edges between neurons whose processes share a nerve bundle"),
    "ripoll_sanchez2023_mid": Connectome(
        "RipollSanchezMidRangeReader.json", _RIPOLL, "NPP-GPCR pathway count", "whole",
        "neuropeptide edges between neurons in the same body region"),
    "ripoll_sanchez2023_long": Connectome(
        "RipollSanchezLongRangeReader.json", _RIPOLL, "NPP-GPCR pathway count", "whole",
        "neuropeptide edges between any neuron pair"),
    "yim2024": Connectome(
        "Yim2024NonNormDataReader.json", _YIM, "active-zone volume (nm^3)", "listed",
        "dauer, nerve ring; chemical synapses only"),
}

_ALIASES: dict[str, str] = {"cook2019": "cook2019_herm", "wang2024": "wang2024_herm"}

#: cect synapse class -> (synapse_type, transmission), in output order.
_SYNAPSE_TYPES: dict[str, tuple[str, str]] = {
    "Generic_CS": ("chemical", "chemical"),
    "Generic_GJ": ("electrical", "electrical"),
    "Acetylcholine": ("acetylcholine", "chemical"),
    "Glutamate": ("glutamate", "chemical"),
    "GABA": ("gaba", "chemical"),
    "Betaine": ("betaine", "chemical"),
    "Dopamine": ("dopamine", "monoamine"),
    "Octopamine": ("octopamine", "monoamine"),
    "Serotonin": ("serotonin", "monoamine"),
    "Tyramine": ("tyramine", "monoamine"),
    "Peptidergic": ("neuropeptide", "neuropeptide"),
}


class _Annotation(NamedTuple):
    label: str
    nodes: list[str]
    types: list[tuple[str, str]]  # (synapse_type, transmission)
    weights: list[np.ndarray]  # one (n, n) matrix per type, [pre, post]
    coverage: str
    units: str
    citation: str
    source: str


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _read_cect_json(path: Path, what: str) -> tuple[list[str], dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "nodes" not in data or "connections" not in data:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"Invalid connectome file {str(path)!r}: expected {what} (a JSON object with "
            f"'nodes' and 'connections', the cect cache layout); got {got}."
        )
    return [str(n) for n in data["nodes"]], data["connections"]


def _read_annotation(item: str | os.PathLike[str]) -> _Annotation:
    """Resolve a registry name or a JSON path and read the file."""
    is_path = isinstance(item, os.PathLike) or str(item).lower().endswith(".json")
    if is_path:
        path = check_file(item, suffixes=(".json",), name="name",
                          what="a connectome JSON file in the cect cache layout")
        spec = Connectome(path.name, "unknown (user file)", "a.u.", "listed", "")
        label, source = path.name, provenance(path)
    else:
        _validate_type("name", item, str, "a connectome name (str) or a path to a JSON file")
        key = _check_option("name", item, [*CONNECTOMES, *_ALIASES])
        label = _ALIASES.get(key, key)
        spec = CONNECTOMES[label]
        path = package_data("cect", "cache", spec.file, install=_CECT_INSTALL)
        source = f"cect=={_version('cect')}:{provenance(path)}"
    nodes, connections = _read_cect_json(path, "a connectome")
    n = len(nodes)
    ordered = [k for k in _SYNAPSE_TYPES if k in connections]
    ordered += [k for k in connections if k not in _SYNAPSE_TYPES]
    types, weights = [], []
    for key in ordered:
        matrix = np.asarray(connections[key], dtype=np.float64)
        if matrix.shape != (n, n):
            raise ValueError(
                f"Invalid connectome file {str(path)!r}: connections[{key!r}] has shape "
                f"{matrix.shape} but there are {n} nodes; expected ({n}, {n})."
            )
        types.append(_SYNAPSE_TYPES.get(key, (key.lower(), "other")))
        weights.append(matrix)
    return _Annotation(label, nodes, types, weights, spec.coverage, spec.units,
                       spec.citation, source)


def _dense(ann: _Annotation, cells: list[str], types: list[str]) -> np.ndarray:
    """``(cells, cells, types)`` weights: NaN where the annotation says nothing."""
    index = {c: i for i, c in enumerate(cells)}
    out = np.full((len(cells), len(cells), len(types)), np.nan)
    covered = np.zeros(len(cells), dtype=bool)
    covered[[index[c] for c in ann.nodes if c in index]] = True
    if ann.coverage == "whole":
        covered[[index[c] for c in NEURONS]] = True
    own = {name: k for k, (name, _) in enumerate(ann.types)}
    src = np.array([i for i, c in enumerate(ann.nodes) if c in index], dtype=int)
    dst = np.array([index[ann.nodes[i]] for i in src], dtype=int)
    for t, name in enumerate(types):
        if name not in own:
            continue
        out[np.ix_(covered, covered, [t])] = 0.0
        out[np.ix_(dst, dst, [t])] = ann.weights[own[name]][np.ix_(src, src)][..., None]
    return out


def _cells(annotations: Sequence[_Annotation], include_non_neuronal: bool) -> list[str]:
    cells = list(NEURONS)
    if include_non_neuronal:
        seen = set(cells)
        for ann in annotations:
            for c in ann.nodes:
                if c not in seen:
                    seen.add(c)
                    cells.append(c)
    return cells


def load_celegans_connectome(
    name: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "cook2019",
    *,
    include_non_neuronal: bool = False,
    consensus: int | None = None,
) -> xr.DataArray:
    """Read a C. elegans connectome from the ``cect`` cache as ``pre x post x synapse_type``.

    Parameters
    ----------
    name : str, path, or list of them, default="cook2019"
        A key of :data:`CONNECTOMES` (``"white1986_whole"``, ``"varshney2011"``,
        ``"cook2019_herm"``, ``"witvliet2021_8"``, ...; ``"cook2019"`` and ``"wang2024"``
        mean the hermaphrodite), or the path to a ``.json`` file in the cect cache layout
        (``{"nodes": [...], "connections": {"Generic_CS": NxN, ...}}``, ``[i][j]`` = weight
        from ``nodes[i]`` to ``nodes[j]``). A list combines several annotations and needs
        ``consensus``.
    include_non_neuronal : bool, default=False
        ``False`` keeps the 302 canonical neurons (:data:`NEURONS`, in that order).
        ``True`` appends every other cell an annotation lists (muscles, glia, end organs,
        male-specific neurons), in the file's order.
    consensus : int, optional
        With several annotations: keep an edge (per synapse type) that at least
        ``consensus`` annotations have (weight != 0); its weight is the mean of those
        annotations' weights. Other pairs are 0 when at least one annotation reconstructed
        them, else NaN. When the annotations' units differ the mean mixes them (``units``
        says so).

    Returns
    -------
    DataArray, dims ``("pre", "post", "synapse_type")``
        ``conn.sel(pre=a, post=b, synapse_type="chemical")`` is the weight of the
        connection from ``a`` to ``b``. Not an assembly (no ``unit`` dim). Values are
        float64: the annotation's weight, 0 for a reconstructed pair without a connection,
        NaN for a pair the annotation did not reconstruct (see :class:`Connectome`
        ``coverage``). ``synapse_type`` holds e.g. ``"chemical"``, ``"electrical"``,
        ``"acetylcholine"``, ``"dopamine"``, ``"neuropeptide"``, with coord
        ``transmission`` (``chemical``, ``electrical``, ``monoamine``, ``neuropeptide``).
        Coord ``reconstructed`` ``(pre, post)``: the pair was covered. With ``consensus``,
        coords ``support`` (annotations having the edge) and ``n_reconstructed``
        (annotations covering the pair), both ``(pre, post, synapse_type)``. attrs:
        ``modality="celegans"``, ``units``, ``source`` (``cect==<version>:<file>
        sha256:<hex>``), ``citation``, ``annotation``, ``orientation``.

    Examples
    --------
    >>> from brainbridge.loaders import load_celegans_connectome
    >>> conn = load_celegans_connectome("white1986_whole")
    >>> int(conn.sel(pre="AVDL", post="AVAL", synapse_type="chemical"))
    13
    """
    if isinstance(name, (str, os.PathLike)):
        items: list[Any] = [name]
    else:
        _validate_type("name", name, (list, tuple),
                       "a connectome name, a path to a cect JSON file, or a list of them")
        items = list(name)
        if not items:
            raise ValueError(
                "Invalid value for 'name': expected a connectome name, a path to a cect JSON "
                "file, or a list of them; got an empty list."
            )
    if consensus is None and len(items) > 1:
        raise ValueError(
            f"Invalid value for 'consensus': {len(items)} annotations were given but "
            "consensus is None. Pass consensus=k to keep the edges that at least k of them "
            "have, or give a single name."
        )
    if consensus is not None and (
        not isinstance(consensus, (int, np.integer)) or isinstance(consensus, bool)
        or not 1 <= consensus <= len(items)
    ):
        raise ValueError(
            f"Invalid value for 'consensus': expected an integer from 1 to {len(items)} (the "
            f"number of annotations given); got {consensus!r}."
        )
    _validate_type("include_non_neuronal", include_non_neuronal, (bool, np.bool_), "a bool")
    annotations = [_read_annotation(item) for item in items]
    labels = [a.label for a in annotations]
    repeated = sorted({lab for lab in labels if labels.count(lab) > 1})
    if repeated:
        raise ValueError(
            f"Invalid value for 'name': {', '.join(map(repr, repeated))} is given more than "
            "once; give each annotation once."
        )
    return _build_connectome(annotations, include_non_neuronal, consensus)


def _build_connectome(annotations: list[_Annotation], include_non_neuronal: bool,
                      consensus: int | None) -> xr.DataArray:
    cells = _cells(annotations, include_non_neuronal)
    types: list[str] = []
    transmission: dict[str, str] = {}
    for ann in annotations:
        for t, kind in ann.types:
            if t not in transmission:
                types.append(t)
                transmission[t] = kind
    dense = np.stack([_dense(a, cells, types) for a in annotations])  # (A, pre, post, type)
    coords: dict[str, Any] = {
        "pre": np.array(cells), "post": np.array(cells), "synapse_type": np.array(types),
        "transmission": ("synapse_type", np.array([transmission[t] for t in types])),
    }
    covered = ~np.isnan(dense)
    if consensus is None:
        values = dense[0]
        coords["reconstructed"] = (("pre", "post"), covered[0].any(axis=-1))
    else:
        has = covered & (np.nan_to_num(dense) != 0)
        support = has.sum(axis=0)
        n_covered = covered.sum(axis=0)
        total = np.where(has, dense, 0.0).sum(axis=0)
        values = np.where(n_covered > 0, 0.0, np.nan)
        keep = support >= consensus
        values[keep] = total[keep] / support[keep]
        coords["reconstructed"] = (("pre", "post"), (n_covered > 0).any(axis=-1))
        coords["support"] = (("pre", "post", "synapse_type"), support.astype(np.int64))
        coords["n_reconstructed"] = (("pre", "post", "synapse_type"),
                                     n_covered.astype(np.int64))
    units = sorted({a.units for a in annotations})
    attrs = {
        "modality": "celegans",
        "units": units[0] if len(units) == 1 else "mixed: " + "; ".join(
            f"{a.label}: {a.units}" for a in annotations),
        "source": "; ".join(a.source for a in annotations),
        "citation": "; ".join(dict.fromkeys(a.citation for a in annotations)),
        "annotation": ", ".join(a.label for a in annotations),
        "orientation": "[pre, post] = weight of the connection from pre to post",
        "schema_version": SCHEMA_VERSION,
    }
    if consensus is not None:
        attrs["consensus"] = int(consensus)
    return xr.DataArray(values, dims=("pre", "post", "synapse_type"), coords=coords,
                        attrs=attrs, name="connectome")


# ---------------------------------------------------------------------------------------
# Signal-propagation atlas (Randi et al. 2023)
# ---------------------------------------------------------------------------------------

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

    with h5py.File(path, "r") as f:
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


# ---------------------------------------------------------------------------------------
# Homogenized activity (Simeon et al. 2024)
# ---------------------------------------------------------------------------------------

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


def _smooth_exponential(x: np.ndarray, step: float, width: float) -> np.ndarray:
    """Causal exponential moving average, time constant ``width`` s.

    ``y[0] = x[0]``, ``y[n] = a x[n] + (1 - a) y[n-1]``, ``a = 1 - exp(-step / width)``.
    """
    from scipy.signal import lfilter

    a = 1.0 - np.exp(-step / width)
    y, _ = lfilter([a], [1.0, a - 1.0], x, zi=[(1.0 - a) * x[0]])
    return y


def _smooth_gaussian(x: np.ndarray, step: float, width: float) -> np.ndarray:
    """Centred Gaussian, s.d. ``width`` s, truncated at 4 s.d., renormalised at the edges."""
    half = int(np.floor(4.0 * width / step + 1e-9))
    lags = np.arange(-half, half + 1) * step
    kernel = np.exp(-0.5 * (lags / width) ** 2)
    num = np.convolve(x, kernel)[half : half + x.size]
    den = np.convolve(np.ones_like(x), kernel)[half : half + x.size]
    return num / den


def _zscore(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` over the whole series (population std); 0 if the std is 0."""
    centred = x - x.mean()
    std = np.sqrt(np.mean(centred**2))
    return centred / std if std > 0 else np.zeros_like(x)


def _causal(x: np.ndarray) -> np.ndarray:
    """``z[t] = (x[t] - m[t]) / s[t]`` with the mean and population std of ``x[0..t]``.

    Computed from running sums of ``x - x[0]`` in float64; ``z[t] = 0`` where ``s[t] = 0``
    (always at ``t = 0``).
    """
    shifted = x - x[0]
    count = np.arange(1, x.size + 1, dtype=np.float64)
    mean = np.cumsum(shifted) / count
    var = np.maximum(np.cumsum(shifted**2) / count - mean**2, 0.0)
    std = np.sqrt(var)
    out = np.zeros_like(x)
    ok = std > 0
    out[ok] = (shifted[ok] - mean[ok]) / std[ok]
    return out


_SMOOTHERS: dict[str, Callable[[np.ndarray, float, float], np.ndarray]] = {
    "exponential": _smooth_exponential,
    "gaussian": _smooth_gaussian,
}
_NORMALIZERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "zscore": _zscore,
    "causal": _causal,
}


def load_celegans_activity(
    source: str | os.PathLike[str],
    *,
    step: float = 0.333,
    smooth: str | None = None,
    smooth_width: float | None = None,
    normalize: str | None = None,
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
    longest recording), NaN outside the series' first and last finite sample; then
    optional smoothing; then optional normalisation over the series' valid samples.

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
    smooth : {None, "exponential", "gaussian"}, default=None
        ``"exponential"``: causal, ``y[n] = a x[n] + (1 - a) y[n-1]``, ``y[0] = x[0]``,
        ``a = 1 - exp(-step / smooth_width)``. ``"gaussian"``: centred Gaussian of s.d.
        ``smooth_width`` truncated at 4 s.d., weights renormalised at the series' ends.
    smooth_width : float, optional
        Time constant / s.d. in seconds; default 1.0 when ``smooth`` is set.
    normalize : {None, "zscore", "causal"}, default=None
        ``"zscore"``: ``(x - mean) / std`` over the series (population std). ``"causal"``:
        ``z[t] = (x[t] - m[t]) / s[t]`` with the running mean and population std of
        samples ``0..t`` (``z = 0`` where ``s = 0``, e.g. at ``t = 0``). A constant
        series becomes 0.
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
        ``"celegans"``, ``units`` (``"a.u."``, or ``"z-score"`` when normalised),
        ``sampling_rate``, ``source`` (file names and sha256), ``processing``,
        ``citation``. Memory is ``subjects x time x 302 x 4`` bytes: select
        ``datasets`` for large collections.
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
    if smooth is not None:
        _check_option("smooth", smooth, [None, *_SMOOTHERS])
    if normalize is not None:
        _check_option("normalize", normalize, [None, *_NORMALIZERS])
    _check_option("unknown", unknown, _UNKNOWN)
    if smooth_width is not None:
        if smooth is None:
            raise ValueError(
                f"Invalid value for 'smooth_width': it applies only with smoothing, but "
                f"smooth is None; got smooth_width={smooth_width!r}. Set smooth='exponential' "
                "or 'gaussian', or drop smooth_width."
            )
        if isinstance(smooth_width, bool) or not isinstance(
            smooth_width, (int, float, np.number)
        ) or not (np.isfinite(smooth_width) and smooth_width > 0):
            raise ValueError(
                "Invalid value for 'smooth_width': expected a positive number of seconds; "
                f"got {smooth_width!r}."
            )
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
    processing = (
        f"linear interpolation onto a {step!r} s grid; "
        f"smooth={smooth if smooth is None else f'{smooth}({smooth_width or 1.0!r} s)'}; "
        f"normalize={normalize}"
    )
    return _assemble_activity(series, float(step), smooth, float(smooth_width or 1.0),
                              normalize, source_label, processing)


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
    if datasets is not None:
        column = fields["source_dataset"]
        found = {str(d) for d in pq.read_table(path, columns=[column]).column(0).to_pylist()}
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
    with open(path, "rb") as f:
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


def _assemble_activity(series: list[_Series], step: float, smooth: str | None,
                       width: float, normalize: str | None, source: str,
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
        y = _resample(s, grid, where)
        valid = np.isfinite(y)
        if valid.any():
            block = y[valid]
            if smooth is not None:
                block = _SMOOTHERS[smooth](block, step, width)
            if normalize is not None:
                block = _NORMALIZERS[normalize](block)
            y[valid] = block
        values[i, :, j] = y
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
        units="a.u." if normalize is None else "z-score", source=source, name="activity",
    )
    da.attrs["processing"] = processing
    da.attrs["citation"] = _SIMEON
    return da
