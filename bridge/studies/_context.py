"""Typed study entries: parameter objects, their checks, and what analyses see while they run.

Every source kind and analysis kind has a parameter object, a dataclass whose fields are
the keys a study file may give, with their types and defaults. The allowed keys, the
defaults and every error a study file raises follow from these classes (:func:`parse`), so
a key cannot be accepted in one place and forgotten in another. Field metadata (made with
:func:`param`) adds bounds, choices, and references to other entries: a study's source
(``source=``) or an earlier analysis whose result this one reads (``after=``), both checked
when the study is loaded, before anything runs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .._checks import _suggest


class StudyError(ValueError):
    """A study file that cannot run: the message names the entry and the fix.

    A ``ValueError``, raised when a study is loaded, before anything runs.

    Examples
    --------
    >>> from brainbridge.studies import StudyError, load_study
    >>> issubclass(StudyError, ValueError)
    True
    >>> try:
    ...     load_study({"version": 1, "name": "demo", "sources": {}, "analyses": [{"kind": "rsa"}]})
    ... except StudyError as err:
    ...     print(err)
    study: analyses.0: unknown analysis 'rsa'. Analyses: selectivity, layer_similarity, top_stimuli,
    model_recovery, structure_function, receptor_fit.
    """


def param(default: Any = dataclasses.MISSING, *, low: float | None = None, high: float | None = None,
          choices: Iterable[Any] | Callable[[], Iterable[Any]] | None = None,
          source: str | tuple[str, ...] | None = None, after: str | None = None,
          min_items: int = 0) -> Any:
    """A parameter-object field with checks.

    Parameters
    ----------
    default : object, optional
        The default; a list default is copied for every study. No default: required.
    low, high : float, optional
        Inclusive bounds of a number (of every number in a list).
    choices : iterable or callable returning one, optional
        The allowed values (of every item in a list); a callable is called when the study
        is loaded (for registries that live in other packages).
    source : str or tuple of str, optional
        The field names a source of the study, of one of these kinds.
    after : str, optional
        The field names an earlier analysis (by ``id``) of this kind, whose result this
        analysis reads.
    min_items : int, default=0
        The fewest items a list value may have (1: not empty).
    """
    meta = {"low": low, "high": high, "choices": choices, "source": source, "after": after,
            "min_items": min_items}
    if isinstance(default, list):
        value = list(default)
        return field(default_factory=lambda: list(value), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Params:
    """Base of every analysis's parameters: the keys any analysis takes.

    Attributes
    ----------
    title : str, optional
        Heading of the report section (default: the analysis's own).
    id : str, optional
        Name other analyses use to read this one's result (default: its kind).
    """

    title: str | None = None
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SourceParams:
    """Base of every source's parameters."""


# ----------------------------------------------------------------------------- type checks
def _describe(tp: Any, meta: dict[str, Any]) -> str:
    """'an integer >= 1', 'a list of numbers', "one of 'elm', 'lif'", ... for a message."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(a, meta) for a in typing.get_args(tp) if a is not type(None)]
        text = " or ".join(parts)
        return text + (" or null" if type(None) in typing.get_args(tp) else "")
    if origin is list:
        (item,) = typing.get_args(tp)
        inner = _describe(item, meta)
        a_list = "a non-empty list" if meta.get("min_items") else "a list"
        if inner.startswith("one of "):
            return f"{a_list} of values from {inner[len('one of '):]}"
        for article in ("an ", "a "):
            if inner.startswith(article):
                inner = inner[len(article):]
                break
        plural = {"integer": "integers", "number": "numbers", "string": "strings",
                  "true or false": "true or false values"}
        head = inner.split(" ")[0]
        if head in plural:
            inner = plural[head] + inner[len(head):]
        return f"{a_list} of {inner}"
    choices = _choices(meta)
    if choices is not None:
        return "one of " + ", ".join(map(repr, choices))
    bounds = ""
    if meta.get("low") is not None and meta.get("high") is not None:
        bounds = f" in [{meta['low']:g}, {meta['high']:g}]"
    elif meta.get("low") is not None:
        bounds = f" >= {meta['low']:g}"
    elif meta.get("high") is not None:
        bounds = f" <= {meta['high']:g}"
    name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))
    return name + bounds


def _choices(meta: dict[str, Any]) -> list[Any] | None:
    choices = meta.get("choices")
    if choices is None:
        return None
    return list(choices() if callable(choices) else choices)


def _convert(value: Any, tp: Any, meta: dict[str, Any]) -> Any:
    """``value`` as type ``tp`` within the field's checks; raise TypeError if it is not one."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for alt in typing.get_args(tp):
            if alt is type(None):
                continue
            try:
                return _convert(value, alt, meta)
            except TypeError:
                continue
        raise TypeError
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) < (meta.get("min_items") or 0):
            raise TypeError
        return [_convert(v, item, meta) for v in value]
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise TypeError
        value = float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise TypeError
    else:  # pragma: no cover - a parameter class with a type this module cannot check
        raise RuntimeError(f"parameter type {tp!r} is not supported")
    choices = _choices(meta)
    if choices is not None and value not in choices:
        raise TypeError
    if meta.get("low") is not None and value < meta["low"]:
        raise TypeError
    if meta.get("high") is not None and value > meta["high"]:
        raise TypeError
    return value


def fields_of(cls: type) -> dict[str, tuple[dataclasses.Field[Any], Any]]:
    """The keys of a parameter class: name -> (field, resolved type)."""
    hints = typing.get_type_hints(cls)
    return {f.name: (f, hints[f.name]) for f in dataclasses.fields(cls)}


def allowed_keys(cls: type) -> list[str]:
    """The keys a study entry of parameter class ``cls`` may give, sorted."""
    return sorted(fields_of(cls))


def parse(cls: type, spec: dict[str, Any], where: str, *, skip: Iterable[str] = ("kind",)) -> Any:
    """Build parameter object ``cls`` from a study entry, or raise :class:`StudyError`.

    Unknown keys, missing required keys and values of the wrong type or range are errors that
    name the entry (``where``), the key, what was expected and what was given.

    Examples
    --------
    >>> from brainbridge.studies._context import parse
    >>> from brainbridge.studies._sections import SelectivityParams
    >>> parse(SelectivityParams, {"kind": "selectivity", "source": "acts", "positive": "^face"},
    ...       "analyses[0]")
    SelectivityParams(title=None, id=None, source='acts', positive='^face', n_permutations=200)
    >>> parse(SelectivityParams, {"source": "acts", "positive": "^face", "n_permutations": 0},
    ...       "analyses[0]")
    Traceback (most recent call last):
        ...
    brainbridge.studies._context.StudyError: analyses[0]: 'n_permutations' must be an integer >= 1; got 0.
    """
    known = fields_of(cls)
    given = {k: v for k, v in spec.items() if k not in set(skip)}
    for key in given:
        if key not in known:
            raise StudyError(f"{where}: unknown parameter {key!r}.{_suggest(str(key), known)} "
                             f"Allowed: {', '.join(sorted(known))}.")
    values = {}
    for name, (f, tp) in known.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in given:
            if required:
                raise StudyError(f"{where}: missing parameter {name!r} "
                                 f"({_describe(tp, dict(f.metadata))}).")
            continue
        try:
            values[name] = _convert(given[name], tp, dict(f.metadata))
        except TypeError:
            meta = dict(f.metadata)
            choices = _choices(meta)
            hint = _suggest(given[name], map(str, choices)) if choices is not None else ""
            raise StudyError(f"{where}: {name!r} must be {_describe(tp, meta)}; "
                             f"got {_given(given[name], tp, meta)}.{hint}") from None
    return cls(**values)


def _given(value: Any, tp: Any, meta: dict[str, Any]) -> str:
    """What a study gave, for a message: the value, and which part of it is wrong when that helps.

    A string where only a list is accepted is the usual YAML slip (``models: elm``), so the
    message shows the list to write; in a list, the first wrong item is named.
    """
    origin = typing.get_origin(tp)
    alts = (typing.get_args(tp) if origin in (typing.Union, types.UnionType) else (tp,))
    lists = [a for a in alts if typing.get_origin(a) is list]
    if not lists or str in alts:
        return repr(value)
    (item,) = typing.get_args(lists[0])
    if isinstance(value, str):
        return f"the string {value!r} (write [{value}])"
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            try:
                _convert(v, item, meta)
            except TypeError:
                return f"{list(value)!r} (item {i}, {v!r}, is not {_describe(item, meta)})"
    return repr(value)


def references(params: Any) -> list[tuple[str, str, Any]]:
    """``(field, "source" | "after", value)`` for every reference field of a parameter object."""
    out = []
    for f in dataclasses.fields(params):
        for key in ("source", "after"):
            if f.metadata.get(key) and getattr(params, f.name) is not None:
                out.append((f.name, key, getattr(params, f.name)))
    return out


# ----------------------------------------------------------------------------- run context
@dataclass
class Context:
    """What analyses see while a study runs.

    Attributes
    ----------
    sources : dict of str -> object
        Each source's data, as its loader returned it (an assembly, a Dataset, or a loader's
        tuple of assemblies).
    random_state : int
        The study's seed; every random step is seeded with it.
    progress : bool or None
        Show progress bars (None: on a terminal only).
    results : dict of str -> object
        The result (the section's dataset) of every analysis run so far, by ``id``. An
        analysis reads only those it names in an ``after=`` field, checked at load time.
    stimuli : dict of str -> callable
        Per activations source, ``fn(ids) -> list`` of the raw stimuli (images, sentences)
        with those ids, loaded on demand.
    """

    sources: dict[str, Any]
    random_state: int
    progress: bool | None
    results: dict[str, Any] = field(default_factory=dict)
    stimuli: dict[str, Callable[[Any], list[Any]]] = field(default_factory=dict)
