"""C. elegans connectomes: the annotations in the ``cect`` package's JSON cache.

:func:`load_celegans_connectome` reads ``cect/cache/*.json`` without importing cect (its
import pulls heavy dependencies), as ``pre x post x synapse_type`` over the 302 canonical
neurons (:data:`~brainbridge.loaders.NEURONS`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .._assembly import SCHEMA_VERSION
from .._checks import _check_option, _validate_type
from ._celegans_common import NEURONS, _version
from ._common import check_file, package_data, provenance, reading

__all__ = ["load_celegans_connectome", "CONNECTOMES", "Connectome"]

_CECT_INSTALL = "pip install --no-deps cect==0.3.5"


class Connectome(NamedTuple):
    """One annotation in the cect cache.

    ``coverage`` says what a neuron missing from the file means. ``"whole"``: the
    annotation examined every canonical neuron, so a neuron that is not listed has no
    connection (0). ``"listed"``: only the listed cells were reconstructed, so pairs with
    any other neuron are unknown (NaN). cect lists exactly the cells that have at least
    one connection, which is why the distinction must come from the paper.

    Examples
    --------
    >>> from brainbridge.loaders import CONNECTOMES
    >>> entry = CONNECTOMES["cook2019_herm"]
    >>> entry.file, entry.coverage, CONNECTOMES["white1986_n2u"].coverage
    ('Cook2019HermReader.json', 'whole', 'listed')
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


def _read_cect_json(path: Path, what: str) -> tuple[list[str], dict[str, Any]]:
    with reading(path, "JSON"), open(path, encoding="utf-8") as f:
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
        out[np.ix_(covered, covered, np.array([t]))] = 0.0
        out[np.ix_(dst, dst, np.array([t]))] = ann.weights[own[name]][np.ix_(src, src)][..., None]
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
    attrs: dict[str, Any] = {
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
