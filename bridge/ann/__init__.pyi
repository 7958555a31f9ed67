"""Type stub for ``brainbridge.ann``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""

from . import models as models
from ._ablate import ablate as ablate
from ._ablate import ablation_effect as ablation_effect
from ._extract import REDUCTIONS as REDUCTIONS
from ._extract import extract as extract
from ._stimuli import load_stimuli as load_stimuli
from ._units import Units as Units
from ._units import unit_table as unit_table

__all__ = [
    "REDUCTIONS",
    "Units",
    "ablate",
    "ablation_effect",
    "extract",
    "load_stimuli",
    "models",
    "unit_table",
]
