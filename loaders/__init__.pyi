"""Type stub for ``brainbridge.loaders``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""

from ._calcium import load_calcium as load_calcium
from ._celegans_activity import load_celegans_activity as load_celegans_activity
from ._celegans_common import NEURONS as NEURONS
from ._celegans_connectome import CONNECTOMES as CONNECTOMES
from ._celegans_connectome import load_celegans_connectome as load_celegans_connectome
from ._celegans_funatlas import load_celegans_funatlas as load_celegans_funatlas
from ._eeg import load_eeg as load_eeg
from ._fmri import load_fmri as load_fmri
from ._manifests import dataset_info as dataset_info
from ._manifests import datasets as datasets
from ._manifests import fetch as fetch
from ._spikes import GRASSHOPPER_CONDITIONS as GRASSHOPPER_CONDITIONS
from ._spikes import load_grasshopper as load_grasshopper
from ._spikes import load_spikes as load_spikes

__all__ = [
    "CONNECTOMES",
    "GRASSHOPPER_CONDITIONS",
    "NEURONS",
    "dataset_info",
    "datasets",
    "fetch",
    "load_calcium",
    "load_celegans_activity",
    "load_celegans_connectome",
    "load_celegans_funatlas",
    "load_eeg",
    "load_fmri",
    "load_grasshopper",
    "load_spikes",
]
