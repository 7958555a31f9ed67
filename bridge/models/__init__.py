"""``brainbridge.models``: the model registry and adapters, at the short path users type.

The home of these names is :mod:`brainbridge.ann.models`; this package re-exports them.
"""

from __future__ import annotations

from ..ann.models import *  # noqa: F403
from ..ann.models import __all__  # noqa: F401
