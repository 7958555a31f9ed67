"""brainbridge: artificial and biological neurons on one footing.

The core package holds the assembly data model (:func:`assembly`, :func:`validate`),
storage (:func:`save`, :func:`load`), alignment (:func:`align`), activation extraction
(:func:`extract`) and interop with Brain-Score and rsatoolbox.

Attributes are imported on first use, so that ``import brainbridge`` (and the CLI's
``--help``) stay fast; heavy libraries (xarray, torch) load only when needed.
"""

from __future__ import annotations

from ._lazy import attach

__version__ = "0.1.0"

# Public name -> defining module. Type checkers read __init__.pyi instead: after editing
# this table, run `python .ci/typecheck.py stubs` (tests/test_typing.py checks they agree).
_EXPORTS = {
    "AssemblyError": "._checks",
    "assembly": "._assembly",
    "validate": "._assembly",
    "DIMS": "._assembly",
    "MODALITIES": "._assembly",
    "SCHEMA_VERSION": "._assembly",
    "save": "._storage",
    "load": "._storage",
    "align": "._align",
    "extract": ".ann",
    "ablate": ".ann",
    "ablation_effect": ".ann",
    "to_brainscore": "._interop",
    "to_rsatoolbox": "._interop",
    "data_dir": "._config",
    "resolve_device": "._config",
    "Section": ".studies",
    "write_report": ".studies",
    "render_html": ".studies",
    "rebuild_report": ".studies",
    "load_study": ".studies",
    "run_study": ".studies",
    "study_names": ".studies",
    "StudyError": ".studies",
}


__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
__all__ += ["__version__"]
