"""The ANN side: activation extraction, ablation, model adapters, stimulus sets and unit ids.

ANN activations are assemblies like any recording: ``unit`` ids such as
``layer3.conv2:c17:y4x5`` with coords ``layer``, ``channel`` and ``position``
(:func:`unit_table`, which :func:`brainbridge.snn.record` uses too). :func:`extract` and
:func:`ablate` are re-exported at ``brainbridge.*``. Names are imported on first use.
"""

from __future__ import annotations

from .._lazy import attach

# Public name -> defining module. Type checkers read __init__.pyi instead: after editing
# this table, run `python .ci/typecheck.py stubs` (tests/test_typing.py checks they agree).
_EXPORTS = {
    "extract": "._extract",
    "REDUCTIONS": "._extract",
    "ablate": "._ablate",
    "ablation_effect": "._ablate",
    "load_stimuli": "._stimuli",
    "Units": "._units",
    "unit_table": "._units",
    "models": ".models",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
