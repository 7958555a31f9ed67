"""Run the Examples sections of the public modules as doctests."""

import doctest
import importlib

import pytest

MODULES = ["brainbridge._assembly", "brainbridge.ann._ablate", "brainbridge._align", "brainbridge._checks",
           "brainbridge._storage", "brainbridge.ann._extract", "brainbridge._interop",
           "brainbridge.loaders._eeg", "brainbridge.loaders._spikes",
           "brainbridge.loaders._calcium", "brainbridge.loaders._manifests",
           "brainbridge.loaders._celegans", "brainbridge.loaders._fmri",
           "brainbridge.analyses._rdm", "brainbridge.analyses._compare", "brainbridge.analyses._cka",
           "brainbridge.analyses._rsa", "brainbridge.analyses._encoding",
           "brainbridge.encoders._lagged", "brainbridge.encoders._attention",
           "brainbridge.encoders._solvers", "brainbridge.encoders._ridge",
           "brainbridge.encoders._banded", "brainbridge.analyses._selectivity",
           "brainbridge.analyses._neurons", "brainbridge.analyses._graph",
           "brainbridge.analyses._curvature", "brainbridge.analyses._curvature_align",
           "brainbridge.analyses._recovery", "brainbridge.studies._report", "brainbridge.snn._elm",
           "brainbridge.snn._lif", "brainbridge.snn._connectome", "brainbridge.snn.surrogate",
           "brainbridge.snn._kuramoto",
           "brainbridge.snn._record", "brainbridge.snn._tasks", "brainbridge.snn._train"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
