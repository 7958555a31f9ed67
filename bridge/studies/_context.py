"""What a study's analyses see while it runs, and the error a study file raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._checks import _suggest


class StudyError(ValueError):
    """A study file that cannot run: the message names the entry and the fix."""


@dataclass
class Context:
    """What analyses see: loaded sources, earlier results, the seed and display options."""

    sources: dict[str, Any]
    seed: int
    progress: bool | None
    results: dict[str, Any] = field(default_factory=dict)

    def source(self, name: Any, kind: str | tuple[str, ...], where: str) -> Any:
        if name not in self.sources:
            raise StudyError(f"{where}: source {name!r} is not defined.{_suggest(str(name), self.sources)} "
                             f"Defined sources: {', '.join(self.sources) or 'none'}.")
        value = self.sources[name]
        kinds = (kind,) if isinstance(kind, str) else kind
        if value["kind"] not in kinds:
            raise StudyError(f"{where}: source {name!r} is a {value['kind']!r} source; this analysis needs "
                             f"{' or '.join(map(repr, kinds))}.")
        return value
