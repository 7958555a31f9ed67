"""Loaders: EEG, fMRI, calcium imaging, spikes and C. elegans data into assemblies.

Loaders only read files and convert them to the data model; analysis lives elsewhere.
Names are imported on first use, so heavy readers (mne, nilearn, pynwb) load only when needed.
"""

from __future__ import annotations

from .._lazy import attach

_EXPORTS = {
    "load_eeg": "._eeg",
    "load_fmri": "._fmri",
    "load_calcium": "._calcium",
    "load_spikes": "._spikes",
    "load_grasshopper": "._spikes",
    "load_celegans_connectome": "._celegans",
    "load_celegans_funatlas": "._celegans",
    "load_celegans_activity": "._celegans",
    "CONNECTOMES": "._celegans",
    "NEURONS": "._celegans",
    "datasets": "._manifests",
    "dataset_info": "._manifests",
    "fetch": "._manifests",
}


__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
