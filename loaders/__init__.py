"""Loaders: EEG, fMRI, calcium imaging, spikes and C. elegans data into assemblies.

The readers themselves arrive with issue #3; this package already holds the dataset
manifests' location so that the core can find them.
"""

__all__: list[str] = []
