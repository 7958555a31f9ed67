"""Declarative studies: a small YAML file names data sources and analyses; `run_study` runs them
and writes one self-contained HTML report, the figures, and every number in results.json.

Format (``version: 1``)::

    version: 1                       # required; the format's version
    name: vision_units               # file-safe name
    title: Vision units in EfficientNet-Lite0
    description: one paragraph shown at the top of the report
    random_state: 0                  # seeds every random step
    sources:                         # name -> {kind: <source kind>, ...parameters}
      images: {kind: activations, model: efficientnet_lite0, stimuli: [lfw], layers: blocks}
    analyses:                        # run in order; each becomes a report section
      - {kind: selectivity, source: images, positive: "^face_", n_permutations: 200}
      - {kind: top_stimuli, source: images, rank_by: selectivity}
    quick:                           # dotted-path overrides for a reduced run (--quick, tests)
      analyses.0.n_permutations: 20

Source kinds are :data:`SOURCES`, analysis kinds :data:`~brainbridge.studies._sections.ANALYSES`.
Each kind has a parameter object (a dataclass) that lists its keys, their types and defaults;
every study entry is checked against it when the study is loaded. An analysis names its
sources by key, and an analysis that reads another's result names it by ``id`` (default: its
kind), e.g. ``rank_by: selectivity``; both are checked at load time. Unknown keys, wrong types,
missing keys, unknown kinds and dangling references are errors that name the offending entry.

Keys renamed since the format was introduced are still read (:data:`RENAMED`): ``seed`` is
``random_state``, ``n_shuffles`` and ``n_perm`` are ``n_permutations``.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .._checks import _suggest
from ._context import Context, SourceParams, StudyError, param, parse, references
from ._report import write_report
from ._sections import ANALYSES

logger = logging.getLogger(__name__)

STUDY_VERSION = 1
_TOP_KEYS = {"version", "name", "title", "description", "random_state", "sources", "analyses", "quick"}

#: Keys of format version 1 that have a new name: old -> new (top level and analyses).
RENAMED = {"seed": "random_state", "n_shuffles": "n_permutations", "n_perm": "n_permutations"}


# ----------------------------------------------------------------------------- sources
def _model_names() -> list[str]:
    from ..ann.models import ALIASES, REGISTRY

    return [*REGISTRY, *ALIASES]


def _reductions() -> tuple[str, ...]:
    from ..ann import REDUCTIONS

    return REDUCTIONS


@dataclass(frozen=True, kw_only=True)
class ActivationsSource(SourceParams):
    """ANN activations (an assembly, ``stimulus x unit``) of a registry model.

    Attributes
    ----------
    model : str
        A name of :data:`brainbridge.models.REGISTRY` (or an alias).
    stimuli : str or list of str
        Built-in stimulus sets (``lfw``, ``skimage``, ``digits``) or paths, concatenated.
    layers : str or list of str
        A preset of the model (``blocks``, ``ffn``, ...) or module paths.
    reduce : str or None
        Pooling over positions (:func:`brainbridge.extract`).
    limit : int, optional
        Keep this many stimuli of each set, the same number from each class prefix.
    batch_size : int
    """

    model: str = param("efficientnet_lite0", choices=_model_names)
    stimuli: str | list[str] = param(["lfw"], min_items=1)
    layers: str | list[str] = param("blocks", min_items=1)
    reduce: str | None = param("mean", choices=_reductions)
    limit: int | None = param(None, low=1)
    batch_size: int = param(50, low=1)


def _src_activations(p: ActivationsSource, ctx: Context) -> Any:
    from ..ann import extract
    from ..ann.models import load, resolve_layers

    ids, images = _activation_stimuli(p)
    model = load(p.model)
    return extract(model, images, layers=resolve_layers(model, p.layers), reduce=p.reduce,
                   stimulus_ids=ids, batch_size=p.batch_size, progress=ctx.progress)


def _activation_stimuli(p: ActivationsSource) -> tuple[list[str], list[Any]]:
    from ..ann import load_stimuli

    ids: list[str] = []
    items: list[Any] = []
    for name in [p.stimuli] if isinstance(p.stimuli, str) else p.stimuli:
        got_ids, got = load_stimuli(name)
        got_ids, got = list(got_ids), list(got)
        if p.limit:  # the same number from each class prefix keeps the set balanced
            got_ids, got = _balanced(got_ids, got, p.limit)
        ids += got_ids
        items += got
    return ids, items


def _stim_activations(p: ActivationsSource) -> Callable[[Any], list[Any]]:
    def lookup(wanted: Any) -> list[Any]:
        ids, items = _activation_stimuli(p)
        by_id = dict(zip(ids, items))
        return [by_id[str(i)] for i in wanted]

    return lookup


def _balanced(ids: list[str], items: list[Any], limit: int) -> tuple[list[str], list[Any]]:
    prefixes = [re.sub(r"_?\d+$", "", i) for i in ids]
    groups = list(dict.fromkeys(prefixes))
    per = max(1, limit // len(groups))
    keep = [k for g in groups for k in [i for i, p in enumerate(prefixes) if p == g][:per]]
    return [ids[k] for k in keep], [items[k] for k in keep]


@dataclass(frozen=True, kw_only=True)
class ConnectomeSource(SourceParams):
    """A C. elegans connectome (:func:`brainbridge.loaders.load_celegans_connectome`)."""

    name: str = "cook2019_herm"


def _src_connectome(p: ConnectomeSource, ctx: Context) -> Any:
    from brainbridge.loaders import load_celegans_connectome

    return load_celegans_connectome(p.name)


@dataclass(frozen=True, kw_only=True)
class FunatlasSource(SourceParams):
    """The Randi et al. 2023 signal-propagation atlas (:func:`brainbridge.loaders.load_celegans_funatlas`)."""

    strain: str = "wt"


def _src_funatlas(p: FunatlasSource, ctx: Context) -> Any:
    from brainbridge.loaders import load_celegans_funatlas

    return load_celegans_funatlas(p.strain)


def _grasshopper_conditions() -> list[int]:
    from brainbridge.loaders import GRASSHOPPER_CONDITIONS

    return list(GRASSHOPPER_CONDITIONS)


@dataclass(frozen=True, kw_only=True)
class GrasshopperSource(SourceParams):
    """The locust auditory-receptor recording (:func:`brainbridge.loaders.load_grasshopper`):
    ``(spikes, stimulus)``, two assemblies on one time grid of ``bin_size`` seconds."""

    condition: int = param(1, choices=_grasshopper_conditions)
    bin_size: float = param(1e-3, low=5e-5)


def _src_grasshopper(p: GrasshopperSource, ctx: Context) -> Any:
    from brainbridge.loaders import load_grasshopper

    return load_grasshopper(p.condition, bin_size=p.bin_size)


class SourceKind(NamedTuple):
    """A source kind: its parameter object, its loader ``(params, ctx) -> data`` and, for
    stimulus-driven sources, ``stimuli(params) -> fn(ids) -> raw stimuli``."""

    params: type
    load: Callable[[Any, Context], Any]
    stimuli: Callable[[Any], Callable[[Any], list[Any]]] | None = None


#: Source kinds: name -> :class:`SourceKind`.
SOURCES: dict[str, SourceKind] = {
    "activations": SourceKind(ActivationsSource, _src_activations, _stim_activations),
    "celegans_connectome": SourceKind(ConnectomeSource, _src_connectome),
    "celegans_funatlas": SourceKind(FunatlasSource, _src_funatlas),
    "grasshopper": SourceKind(GrasshopperSource, _src_grasshopper),
}


# ----------------------------------------------------------------------------- the study
class SourceSpec(NamedTuple):
    """One checked entry of ``sources``."""

    kind: str
    params: Any


class AnalysisSpec(NamedTuple):
    """One checked entry of ``analyses``: its kind, ``id`` and parameter object."""

    kind: str
    id: str
    params: Any


@dataclass(frozen=True)
class Study:
    """A checked study, as :func:`load_study` returns it.

    Attributes
    ----------
    name, title : str
    description : str or None
    random_state : int
    sources : dict of str -> SourceSpec
    analyses : list of AnalysisSpec
    quick : bool
        Whether the ``quick:`` overrides were applied.
    where : str
        The file (or ``"study"``) named in error messages.

    Examples
    --------
    >>> from brainbridge.studies import load_study
    >>> study = load_study("3_model_recovery", quick=True)
    >>> study.name, study.random_state, list(study.sources), [a.kind for a in study.analyses]
    ('model_recovery', 0, ['images'], ['model_recovery'])
    """

    name: str
    title: str
    description: str | None
    random_state: int
    sources: dict[str, SourceSpec]
    analyses: list[AnalysisSpec]
    quick: bool = False
    where: str = "study"


def study_dir() -> Path:
    """The folder of the studies shipped with brainbridge.

    Examples
    --------
    >>> from brainbridge.studies import study_dir
    >>> (study_dir() / "2_vision_units.yaml").is_file()
    True
    """
    return Path(__file__).parent


def study_names() -> list[str]:
    """Names of the built-in studies, in the order ``brainbridge demo`` runs them.

    Examples
    --------
    >>> from brainbridge.studies import study_names
    >>> study_names()[0]
    '1_celegans_structure_function'
    """
    return [p.stem for p in sorted(study_dir().glob("*.yaml"))]


def _read(source: str | Path | dict[str, Any], name: str = "source") -> tuple[dict[str, Any], str]:
    import yaml

    if isinstance(source, dict):
        return copy.deepcopy(source), "study"
    if not isinstance(source, (str, Path)):
        raise TypeError(f"Invalid type for {name!r}: expected a study name, a YAML file or a "
                        f"dict; got {type(source).__name__}.")
    path = Path(source)
    if not path.suffix and str(source) in study_names():
        path = study_dir() / f"{source}.yaml"
    if not path.is_file():
        raise StudyError(f"Invalid value for {name!r}: study {str(source)!r} is neither a built-in "
                         f"study nor a file.{_suggest(str(source), study_names())} Built-in studies: "
                         f"{', '.join(study_names())}.")
    with open(path, encoding="utf-8") as fh:
        try:
            study = yaml.safe_load(fh)
        except yaml.YAMLError as err:
            raise StudyError(f"{path}: not valid YAML ({err}).") from err
    return study, str(path)


def _renamed(entry: dict[str, Any], allowed: set[str] | list[str], where: str) -> dict[str, Any]:
    """``entry`` with the keys of :data:`RENAMED` given their new names (format version 1)."""
    out = dict(entry)
    for old, new in RENAMED.items():
        if old in out and new in allowed:
            if new in out:
                raise StudyError(f"{where}: {old!r} and {new!r} are the same key ({old!r} is its "
                                 f"former name); give only {new!r}.")
            out[new] = out.pop(old)
    return out


def load_study(source: str | Path | dict[str, Any], *, quick: bool = False) -> Study:
    """Read and check a study: a built-in name, a YAML path, or an already parsed dict.

    With ``quick`` the ``quick:`` overrides are applied (dotted paths into the file, list
    items by index) before the checks.

    Parameters
    ----------
    source : str, Path or dict
        A name of :func:`study_names`, a YAML file, or the parsed mapping.
    quick : bool, default=False
        Apply the study's ``quick:`` overrides (a reduced run).

    Returns
    -------
    Study
        Every source and analysis as its typed parameter object.

    Raises
    ------
    StudyError
        Naming the entry and the fix, for anything that cannot run.

    Examples
    --------
    >>> from brainbridge.studies import load_study
    >>> study = load_study("2_vision_units", quick=True)
    >>> study.analyses[0].params.n_permutations, study.analyses[2].params.rank_by
    (20, 'selectivity')
    """
    return _load_study(source, quick=quick)


def _load_study(source: str | Path | dict[str, Any], *, quick: bool, name: str = "source") -> Study:
    from ._context import allowed_keys

    study, where = _read(source, name)
    if not isinstance(study, dict):
        raise StudyError(f"{where}: expected a mapping with keys version, name, sources, analyses; "
                         f"got {type(study).__name__}.")
    study = _renamed(study, _TOP_KEYS, where)
    unknown = set(study) - _TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise StudyError(f"{where}: unknown key {key!r}.{_suggest(key, _TOP_KEYS)} "
                         f"Allowed: {', '.join(sorted(_TOP_KEYS))}.")
    if study.get("version") != STUDY_VERSION:
        raise StudyError(f"{where}: 'version' must be {STUDY_VERSION} (this brainbridge reads study "
                         f"format {STUDY_VERSION}); got {study.get('version')!r}.")
    for key in ("name", "sources", "analyses"):
        if key not in study:
            raise StudyError(f"{where}: missing required key {key!r}.")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(study["name"])):
        raise StudyError(f"{where}: 'name' must be letters, digits, '_', '-' or '.'; got {study['name']!r}.")
    seed = study.get("random_state", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StudyError(f"{where}: 'random_state' must be an integer >= 0; got {seed!r}.")
    overrides = study.get("quick") or {}
    if not isinstance(overrides, dict):
        raise StudyError(f"{where}: 'quick' must be a mapping of dotted paths to values (e.g. "
                         f"analyses.0.n_permutations: 20); got {type(overrides).__name__} "
                         f"{overrides!r}.")
    if quick:
        for dotted, value in overrides.items():
            _set_path(study, dotted, value, where)
    for key, kind in (("sources", dict), ("analyses", list)):
        if not isinstance(study[key], kind):
            raise StudyError(f"{where}: {key!r} must be a {'mapping' if kind is dict else 'list'}; "
                             f"got {type(study[key]).__name__} {study[key]!r}.")

    sources: dict[str, SourceSpec] = {}
    for name, spec in study["sources"].items():
        _check_entry(spec, f"{where}: sources.{name}", SOURCES, "source")
        kind = spec.get("kind")
        if kind not in SOURCES:
            raise StudyError(f"{where}: sources.{name}: unknown kind {kind!r}.{_suggest(str(kind), SOURCES)} "
                             f"Source kinds: {', '.join(SOURCES)}.")
        sources[str(name)] = SourceSpec(kind, parse(SOURCES[kind].params, spec,
                                                    f"{where}: sources.{name} ({kind})"))

    analyses: list[AnalysisSpec] = []
    for i, spec in enumerate(study["analyses"]):
        _check_entry(spec, f"{where}: analyses.{i}", ANALYSES, "analysis")
        kind = spec.get("kind")
        if kind not in ANALYSES:
            raise StudyError(f"{where}: analyses.{i}: unknown analysis {kind!r}"
                             f".{_suggest(str(kind), ANALYSES)} Analyses: {', '.join(ANALYSES)}.")
        entry = f"{where}: analyses.{i} ({kind})"
        cls = ANALYSES[kind].params
        params = parse(cls, _renamed(spec, allowed_keys(cls), entry), entry)
        _check_references(params, sources, analyses, entry)
        if hasattr(params, "check"):
            params.check(entry)
        analyses.append(AnalysisSpec(kind, params.id or kind, params))
    return Study(name=str(study["name"]), title=str(study.get("title", study["name"])),
                 description=study.get("description"), random_state=seed, sources=sources,
                 analyses=analyses, quick=bool(quick), where=where)


def _check_entry(spec: Any, entry: str, kinds: dict[str, Any], what: str) -> None:
    """A source or analysis entry is a mapping with a 'kind' key."""
    if not isinstance(spec, dict) or "kind" not in spec:
        got = (f"a mapping without 'kind' (keys: {', '.join(map(str, spec)) or 'none'})"
               if isinstance(spec, dict) else f"{type(spec).__name__} {spec!r}")
        raise StudyError(f"{entry}: expected a mapping with a 'kind' key (e.g. {{kind: "
                         f"{next(iter(kinds))}, ...}}); got {got}. {what.capitalize()} kinds: "
                         f"{', '.join(kinds)}.")


def _check_references(params: Any, sources: dict[str, SourceSpec], earlier: list[AnalysisSpec],
                      entry: str) -> None:
    """Every ``source=`` field names a source of the right kind; every ``after=`` field one
    earlier analysis of the right kind."""
    import dataclasses

    meta = {f.name: f.metadata for f in dataclasses.fields(params)}
    for name, what, value in references(params):
        if what == "source":
            kinds = meta[name]["source"]
            kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
            if value not in sources:
                raise StudyError(f"{entry}: {name} {value!r} is not one of the sources "
                                 f"({', '.join(sources) or 'none'}).{_suggest(str(value), sources)}")
            if sources[value].kind not in kinds:
                raise StudyError(f"{entry}: {name} {value!r} is a {sources[value].kind!r} source; this "
                                 f"analysis needs {' or '.join(map(repr, kinds))}.")
        else:
            kind = meta[name]["after"]
            same = [a for a in earlier if a.id == value]
            candidates = [a.id for a in earlier if a.kind == kind]
            if not same:
                raise StudyError(
                    f"{entry}: {name} {value!r} names no earlier analysis; it must be the id of a "
                    f"{kind!r} analysis listed before this one (earlier {kind} analyses: "
                    f"{', '.join(map(repr, candidates)) or 'none'}).")
            if len(same) > 1:
                raise StudyError(f"{entry}: {name} {value!r} names {len(same)} earlier analyses; give "
                                 "them distinct 'id's.")
            if same[0].kind != kind:
                raise StudyError(f"{entry}: {name} {value!r} is a {same[0].kind!r} analysis; it must "
                                 f"name a {kind!r} analysis.")


def _set_path(study: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    """Set ``value`` at a ``quick:`` path: an existing entry (list items by index), or a new key
    of an existing mapping."""
    node: Any = study
    parts = str(dotted).split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        here = ".".join(parts[:depth]) or "the study"
        if isinstance(node, list):
            if not (part.lstrip("-").isdigit() and 0 <= int(part) < len(node)):
                raise StudyError(
                    f"{where}: quick: path {dotted!r} does not exist in the study: {here!r} is a "
                    f"list of {len(node)} entr{'y' if len(node) == 1 else 'ies'}; {part!r} is not "
                    f"an index in 0..{len(node) - 1}." if node else
                    f"{where}: quick: path {dotted!r} does not exist in the study: {here!r} is an "
                    "empty list.")
            if last:
                node[int(part)] = value
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            elif part not in node:
                raise StudyError(
                    f"{where}: quick: path {dotted!r} does not exist in the study: {here!r} has no "
                    f"key {part!r}.{_suggest(part, [str(k) for k in node])} Its keys: "
                    f"{', '.join(map(str, node)) or 'none'}.")
            else:
                node = node[part]
        else:
            raise StudyError(f"{where}: quick: path {dotted!r} does not exist in the study: "
                             f"{here!r} is the value {node!r}, not a mapping or a list.")


# ----------------------------------------------------------------------------- running
def run_study(study: str | Path | dict[str, Any] | Study, out_dir: str | Path, *, quick: bool = False,
              progress: bool | None = None) -> dict[str, Any]:
    """Run a study and write ``out_dir/report.html``, ``figures/``, ``results.json`` (and
    ``results.nc``).

    Nothing is written until every analysis has finished, and then every file is written
    under a temporary name and renamed, so a failure leaves ``out_dir`` as it was.

    Parameters
    ----------
    study : str, Path, dict or Study
        What :func:`load_study` reads, or its result.
    out_dir : str or Path
    quick : bool, default=False
        Apply the ``quick:`` overrides. A :class:`Study` is already loaded: it must then have
        been loaded with ``quick=True``.
    progress : bool or None, default=None
        Progress bars; None shows them on a terminal only.

    Returns
    -------
    dict
        ``name``, ``summary`` (one row per analysis: title, seconds, key numbers),
        ``paths`` (the files written) and ``seconds``.

    Examples
    --------
    >>> from brainbridge.studies import run_study
    >>> study = {"version": 1, "name": "connectome",
    ...          "sources": {"c": {"kind": "celegans_connectome"}, "a": {"kind": "celegans_funatlas"}},
    ...          "analyses": [{"kind": "structure_function", "connectome": "c", "funatlas": "a",
    ...                        "n_permutations": 2}]}
    >>> result = run_study(study, "out", progress=False)  # doctest: +SKIP
    """
    if not isinstance(study, Study):
        study = _load_study(study, quick=quick, name="study")
    elif quick and not study.quick:
        raise StudyError(f"{study.where}: quick=True, but this Study was loaded without its quick "
                         "overrides; load it with load_study(..., quick=True).")
    ctx = Context(sources={}, random_state=study.random_state, progress=progress)
    t_start = time.perf_counter()
    for name, (kind, params) in study.sources.items():
        t0 = time.perf_counter()
        source = SOURCES[kind]
        ctx.sources[name] = source.load(params, ctx)
        if source.stimuli is not None:
            ctx.stimuli[name] = source.stimuli(params)
        logger.info("source %s loaded in %.1f s", name, time.perf_counter() - t0)
    sections = []
    summary = []
    for i, (kind, ident, params) in enumerate(study.analyses):
        t0 = time.perf_counter()
        section = ANALYSES[kind].run(ctx, params, f"analyses.{i} ({kind})")
        if params.title:
            section.title = params.title
        ctx.results[ident] = section.dataset
        seconds = time.perf_counter() - t0
        sections.append(section)
        summary.append({"analysis": section.title, "seconds": round(seconds, 2),
                        **{k: v for k, v in list(section.numbers.items())[:3]}})
    meta = {"study": study.name, "random_state": study.random_state, "quick": study.quick,
            "seconds": round(time.perf_counter() - t_start, 1)}
    paths = write_report(study.title, sections, out_dir, summary=study.description, meta=meta)
    return {"name": study.name, "summary": summary, "paths": paths, "seconds": meta["seconds"]}
