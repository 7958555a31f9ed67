"""Loaders: EEG, fMRI, calcium imaging, spikes and C. elegans data into assemblies.

Loaders only read files and convert them to the data model; analysis lives elsewhere.
Names are imported on first use, so heavy readers (mne, nilearn, pynwb) load only when needed.
"""

from __future__ import annotations

from .._lazy import attach

# Public name -> defining module. Type checkers read __init__.pyi instead: after editing
# this table, run `python .ci/typecheck.py stubs` (tests/test_typing.py checks they agree).
_EXPORTS = {
    "load_eeg": "._eeg",
    "load_fmri": "._fmri",
    "load_calcium": "._calcium",
    "load_spikes": "._spikes",
    "load_grasshopper": "._spikes",
    "GRASSHOPPER_CONDITIONS": "._spikes",
    "load_celegans_connectome": "._celegans_connectome",
    "load_celegans_funatlas": "._celegans_funatlas",
    "load_celegans_activity": "._celegans_activity",
    "CONNECTOMES": "._celegans_connectome",
    "NEURONS": "._celegans_common",
    "datasets": "._manifests",
    "dataset_info": "._manifests",
    "fetch": "._manifests",
}


__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
