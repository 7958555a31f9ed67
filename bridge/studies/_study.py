"""Declarative studies: a small YAML file names data sources and analyses; `run_study` runs them
and writes one self-contained HTML report, the figures, and every number in results.json.

Format (``version: 1``)::

    version: 1                       # required; the format's version
    name: vision_units               # file-safe name
    title: Vision units in EfficientNet-Lite0
    description: one paragraph shown at the top of the report
    seed: 0                          # seeds every random step
    sources:                         # name -> {kind: <source kind>, ...parameters}
      images: {kind: activations, model: efficientnet_lite0, stimuli: [lfw], layers: blocks}
    analyses:                        # run in order; each becomes a report section
      - {kind: selectivity, source: images, positive: "^face_", n_permutations: 200}
    quick:                           # dotted-path overrides for a reduced run (--quick, tests)
      analyses.0.n_permutations: 20

Source kinds are :data:`SOURCES`, analysis kinds :data:`ANALYSES`; each analysis names its
sources by key. Unknown keys, kinds and sources are errors that name the offending entry.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._checks import _suggest
from ._context import Context, StudyError
from ._report import write_report
from ._sections import ANALYSES

logger = logging.getLogger(__name__)

STUDY_VERSION = 1
_TOP_KEYS = {"version", "name", "title", "description", "seed", "sources", "analyses", "quick"}


# ----------------------------------------------------------------------------- sources
def _src_activations(spec: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from ..ann._extract import extract
    from ..ann._stimuli import load_stimuli
    from ..ann.models import EFFICIENTNET_BLOCKS, efficientnet_lite0, minilm

    sets = spec.get("stimuli", ["lfw"])
    ids: list[str] = []
    images: list[Any] = []
    for name in [sets] if isinstance(sets, str) else sets:
        got_ids, got = load_stimuli(name)
        limit = spec.get("limit")
        if limit:  # the same number from each class prefix keeps the set balanced
            got_ids, got = _balanced(got_ids, list(got), int(limit))
        ids += list(got_ids)
        images += list(got)
    model_name = spec.get("model", "efficientnet_lite0")
    models = {"efficientnet_lite0": (efficientnet_lite0, EFFICIENTNET_BLOCKS), "minilm": (minilm, None)}
    if model_name not in models:
        raise StudyError(f"sources: model {model_name!r} is not built in{_suggest(model_name, models)}; "
                         f"use one of {', '.join(models)}.")
    build, blocks = models[model_name]
    layers = spec.get("layers", "blocks")
    if layers == "blocks":
        layers = blocks
    acts = extract(build(), images, layers=layers, reduce=spec.get("reduce", "mean"), stimulus_ids=ids,
                   batch_size=int(spec.get("batch_size", 50)), progress=ctx.progress)
    return {"acts": acts, "images": dict(zip(ids, images))}


def _balanced(ids: list[str], items: list[Any], limit: int) -> tuple[list[str], list[Any]]:
    prefixes = [re.sub(r"_?\d+$", "", i) for i in ids]
    groups = list(dict.fromkeys(prefixes))
    per = max(1, limit // len(groups))
    keep = [k for g in groups for k in [i for i, p in enumerate(prefixes) if p == g][:per]]
    return [ids[k] for k in keep], [items[k] for k in keep]


def _src_connectome(spec: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from brainbridge.loaders import load_celegans_connectome

    return {"data": load_celegans_connectome(spec.get("name", "cook2019_herm"))}


def _src_funatlas(spec: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from brainbridge.loaders import load_celegans_funatlas

    return {"data": load_celegans_funatlas(spec.get("strain", "wt"))}


def _src_grasshopper(spec: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {"condition": int(spec.get("condition", 1))}


#: Source kinds: name -> (loader, allowed parameters).
SOURCES: dict[str, tuple[Callable[[dict[str, Any], Context], dict[str, Any]], set[str]]] = {
    "activations": (_src_activations, {"model", "stimuli", "layers", "reduce", "limit", "batch_size"}),
    "celegans_connectome": (_src_connectome, {"name"}),
    "celegans_funatlas": (_src_funatlas, {"strain"}),
    "grasshopper": (_src_grasshopper, {"condition"}),
}


# ----------------------------------------------------------------------------- validation
def study_dir() -> Path:
    """The folder of the studies shipped with brainbridge."""
    return Path(__file__).parent


def study_names() -> list[str]:
    """Names of the built-in studies, in the order ``brainbridge demo`` runs them."""
    return [p.stem for p in sorted(study_dir().glob("*.yaml"))]


def load_study(source: str | Path | dict[str, Any], *, quick: bool = False) -> dict[str, Any]:
    """Read and validate a study: a built-in name, a YAML path, or an already parsed dict.

    With ``quick`` the ``quick:`` overrides are applied (dotted paths into the file, list
    items by index). Raises :class:`StudyError` naming the entry for anything that cannot run.
    """
    import yaml

    if isinstance(source, dict):
        study = copy.deepcopy(source)
        where = "study"
    else:
        path = Path(source)
        if not path.suffix and str(source) in study_names():
            path = study_dir() / f"{source}.yaml"
        if not path.is_file():
            raise StudyError(f"study {str(source)!r} is neither a built-in study"
                             f"{_suggest(str(source), study_names())} nor a file. Built-in studies: "
                             f"{', '.join(study_names())}.")
        with open(path, encoding="utf-8") as fh:
            try:
                study = yaml.safe_load(fh)
            except yaml.YAMLError as err:
                raise StudyError(f"{path}: not valid YAML ({err}).") from err
        where = str(path)
    if not isinstance(study, dict):
        raise StudyError(f"{where}: expected a mapping with keys version, name, sources, analyses; "
                         f"got {type(study).__name__}.")
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
    if quick:
        for dotted, value in (study.get("quick") or {}).items():
            _set_path(study, dotted, value, where)
    if not isinstance(study["sources"], dict) or not isinstance(study["analyses"], list):
        raise StudyError(f"{where}: 'sources' must be a mapping and 'analyses' a list.")
    for name, spec in study["sources"].items():
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in SOURCES:
            raise StudyError(f"{where}: sources.{name}: unknown kind {kind!r}.{_suggest(str(kind), SOURCES)} "
                             f"Source kinds: {', '.join(SOURCES)}.")
        bad = set(spec) - SOURCES[kind][1] - {"kind"}
        if bad:
            raise StudyError(f"{where}: sources.{name}: unknown parameter {sorted(bad)[0]!r} for kind "
                             f"{kind!r}; allowed: {', '.join(sorted(SOURCES[kind][1]))}.")

    for i, spec in enumerate(study["analyses"]):
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in ANALYSES:
            raise StudyError(f"{where}: analyses.{i}: unknown analysis {kind!r}"
                             f".{_suggest(str(kind), ANALYSES)} Analyses: {', '.join(ANALYSES)}.")
        fn, allowed, needs = ANALYSES[kind]
        bad = set(spec) - allowed - {"kind", "title"}
        if bad:
            raise StudyError(f"{where}: analyses.{i} ({kind}): unknown parameter {sorted(bad)[0]!r}; "
                             f"allowed: {', '.join(sorted(allowed | {'title'}))}.")
        for key in needs:
            if key not in spec:
                raise StudyError(f"{where}: analyses.{i} ({kind}): missing parameter {key!r}.")
            if key in {"source", "connectome", "funatlas"} and spec[key] not in study["sources"]:
                raise StudyError(f"{where}: analyses.{i} ({kind}): {key} {spec[key]!r} is not one of the "
                                 f"sources ({', '.join(study['sources'])}).")
    return study


def _set_path(study: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    node: Any = study
    parts = str(dotted).split(".")
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError) as err:
            raise StudyError(f"{where}: quick: path {dotted!r} does not exist in the study.") from err
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


# ----------------------------------------------------------------------------- running
def run_study(study: str | Path | dict[str, Any], out_dir: str | Path, *, quick: bool = False,
              progress: bool | None = None) -> dict[str, Any]:
    """Run a study and write ``out_dir/report.html``, ``figures/``, ``results.json`` (and
    ``results.nc``). Returns the summary (one row per analysis: title, seconds, key numbers).

    Nothing is written until every analysis has finished, and then every file is written
    under a temporary name and renamed, so a failure leaves ``out_dir`` as it was.
    """

    study = load_study(study, quick=quick)
    seed = int(study.get("seed", 0))
    ctx = Context(sources={}, seed=seed, progress=progress)
    t_start = time.perf_counter()
    for name, spec in study["sources"].items():
        t0 = time.perf_counter()
        loaded = SOURCES[spec["kind"]][0](spec, ctx)
        ctx.sources[name] = {"kind": spec["kind"], **loaded}
        logger.info("source %s loaded in %.1f s", name, time.perf_counter() - t0)
    sections = []
    summary = []
    for i, spec in enumerate(study["analyses"]):
        fn = ANALYSES[spec["kind"]][0]
        t0 = time.perf_counter()
        section = fn(ctx, spec, f"analyses.{i} ({spec['kind']})")
        if spec.get("title"):
            section.title = spec["title"]
        seconds = time.perf_counter() - t0
        sections.append(section)
        summary.append({"analysis": section.title, "seconds": round(seconds, 2),
                        **{k: v for k, v in list(section.numbers.items())[:3]}})
    meta = {"study": study["name"], "seed": seed, "quick": bool(quick),
            "seconds": round(time.perf_counter() - t_start, 1)}
    paths = write_report(study.get("title", study["name"]), sections, out_dir,
                         summary=study.get("description"), meta=meta)
    return {"name": study["name"], "summary": summary, "paths": paths, "seconds": meta["seconds"]}

