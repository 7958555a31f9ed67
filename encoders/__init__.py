"""Encoding models: ridge, banded ridge and attention readout, plus FIR delays.

Every encoder follows the scikit-learn estimator contract. Names are imported on first use.
"""

from __future__ import annotations

from .._lazy import attach

# Public name -> defining module. Type checkers read __init__.pyi instead: after editing
# this table, run `python .ci/typecheck.py stubs` (tests/test_typing.py checks they agree).
_EXPORTS = {
    "RidgeEncoder": "._ridge",
    "fit_distributed": "._ridge",
    "solve_ridge_cv": "._solvers",
    "RidgeCVResult": "._solvers",
    "DEFAULT_ALPHAS": "._solvers",
    "BandedRidgeEncoder": "._banded",
    "solve_banded_ridge_random_search": "._banded",
    "split_r2_score": "._banded",
    "AttentionReadout": "._attention",
    "lagged": "._lagged",
    "LNP": "._lnp",
    "fit_lnp": "._lnp",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
