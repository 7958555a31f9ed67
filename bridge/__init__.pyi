"""Type stub for ``brainbridge``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""

from ._align import align as align
from ._assembly import DIMS as DIMS
from ._assembly import MODALITIES as MODALITIES
from ._assembly import SCHEMA_VERSION as SCHEMA_VERSION
from ._assembly import assembly as assembly
from ._assembly import validate as validate
from ._checks import AssemblyError as AssemblyError
from ._config import data_dir as data_dir
from ._config import resolve_device as resolve_device
from ._interop import to_brainscore as to_brainscore
from ._interop import to_rsatoolbox as to_rsatoolbox
from ._storage import load as load
from ._storage import save as save
from .ann import ablate as ablate
from .ann import ablation_effect as ablation_effect
from .ann import extract as extract
from .studies import Section as Section
from .studies import StudyError as StudyError
from .studies import load_study as load_study
from .studies import rebuild_report as rebuild_report
from .studies import render_html as render_html
from .studies import run_study as run_study
from .studies import study_names as study_names
from .studies import write_report as write_report

__version__: str

__all__ = [
    "AssemblyError",
    "DIMS",
    "MODALITIES",
    "SCHEMA_VERSION",
    "Section",
    "StudyError",
    "ablate",
    "ablation_effect",
    "align",
    "assembly",
    "data_dir",
    "extract",
    "load",
    "load_study",
    "rebuild_report",
    "render_html",
    "resolve_device",
    "run_study",
    "save",
    "study_names",
    "to_brainscore",
    "to_rsatoolbox",
    "validate",
    "write_report",
    "__version__",
]
