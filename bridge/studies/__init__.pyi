"""Type stub for ``brainbridge.studies``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""

from ._context import StudyError as StudyError
from ._report import Section as Section
from ._report import rebuild_report as rebuild_report
from ._report import render_html as render_html
from ._report import write_report as write_report
from ._study import Study as Study
from ._study import load_study as load_study
from ._study import run_study as run_study
from ._study import study_dir as study_dir
from ._study import study_names as study_names

__all__ = [
    "Section",
    "Study",
    "StudyError",
    "load_study",
    "rebuild_report",
    "render_html",
    "run_study",
    "study_dir",
    "study_names",
    "write_report",
]
