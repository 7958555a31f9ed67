"""Studies: a YAML file names data sources and analyses; each analysis becomes a section of
one self-contained HTML report (figures, numbers, results.json).

This is the application layer: it may import every other part of brainbridge, and nothing
imports it (except the CLI). Names are imported on first use.
"""

from __future__ import annotations

from .._lazy import attach

# Public name -> defining module. Type checkers read __init__.pyi instead: after editing
# this table, run `python .ci/typecheck.py stubs` (tests/test_typing.py checks they agree).
_EXPORTS = {
    "load_study": "._study",
    "run_study": "._study",
    "study_names": "._study",
    "study_dir": "._study",
    "Study": "._study",
    "StudyError": "._context",
    "Section": "._report",
    "write_report": "._report",
    "render_html": "._report",
    "rebuild_report": "._report",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
