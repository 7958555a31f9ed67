"""Type stub for ``brainbridge.encoders``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""

from ._attention import AttentionReadout as AttentionReadout
from ._banded import BandedRidgeEncoder as BandedRidgeEncoder
from ._banded import solve_banded_ridge_random_search as solve_banded_ridge_random_search
from ._banded import split_r2_score as split_r2_score
from ._lagged import lagged as lagged
from ._lnp import LNP as LNP
from ._lnp import fit_lnp as fit_lnp
from ._ridge import RidgeEncoder as RidgeEncoder
from ._ridge import fit_distributed as fit_distributed
from ._solvers import DEFAULT_ALPHAS as DEFAULT_ALPHAS
from ._solvers import RidgeCVResult as RidgeCVResult
from ._solvers import solve_ridge_cv as solve_ridge_cv

__all__ = [
    "AttentionReadout",
    "BandedRidgeEncoder",
    "DEFAULT_ALPHAS",
    "LNP",
    "RidgeCVResult",
    "RidgeEncoder",
    "fit_distributed",
    "fit_lnp",
    "lagged",
    "solve_banded_ridge_random_search",
    "solve_ridge_cv",
    "split_r2_score",
]
