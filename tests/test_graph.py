"""knn_graph input checks (issue #15): NaN / inf features, metrics giving NaN, bad radius."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

import brainbridge as bb
from brainbridge.analyses import knn_graph


def _x(rng, n=12):
    return bb.assembly(rng.standard_normal((n, 4)), dims=("stimulus", "unit"), modality="ann",
                       coords={"stimulus": [f"s{i}" for i in range(n)]})


@pytest.mark.parametrize("radius", [-1, 0, float("nan")])
def test_radius_must_be_positive(rng, radius):
    msg = (f"Invalid value for 'radius': expected a finite number in (0, inf) or None (the "
           f"largest edge length); got {radius!r}. Pass a positive distance, or radius=None for "
           "k neighbours only.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        knn_graph(_x(rng), k=None, radius=radius)


def test_non_finite_features_raise(rng):
    """A NaN stimulus was silently isolated (finding 10)."""
    x = _x(rng)
    x[3, 1] = np.nan
    msg = ("Invalid value for 'x': expected finite numbers; got 1 NaN of 48 entries, the first "
           "at stimulus='s3', unit='1'. Graphs need complete response vectors;")
    with pytest.raises(ValueError, match=re.escape(msg)):
        knn_graph(x, k=3)
    arr = x.values.copy()
    arr[3, 1] = np.inf
    msg = ("Invalid value for 'x': expected finite numbers; got 1 inf of 48 entries, the first "
           "at index (3, 1).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        knn_graph(arr, k=3)
    msg = "Invalid type for 'x': expected real numbers; got dtype complex128."
    with pytest.raises(TypeError, match=re.escape(msg)):
        knn_graph(arr.astype(complex), k=3)


def test_metric_giving_nan_raises(rng):
    x = _x(rng)
    x[2] = 1.0  # a constant pattern has no correlation distance
    msg = ("Invalid value for 'x': metric 'correlation' gives NaN distances for 1 of 12 nodes, "
           "the first at row 2 (a constant or zero response vector under 'correlation' or "
           "'cosine'). Drop those stimuli or use metric='euclidean'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        knn_graph(x, k=3, metric="correlation")


def test_matrix_nan_is_a_missing_pair(rng):
    """In a square matrix NaN marks a missing pair: no edge. inf raises."""
    d = np.abs(rng.standard_normal((5, 5)))
    d = d + d.T
    d[0, 1] = d[1, 0] = np.nan
    m = xr.DataArray(d, dims=("stimulus", "stimulus_"))
    g = knn_graph(m, k=4)
    assert g.weights[0, 1] == 0 and g.n_edges == 9
    d[0, 1] = d[1, 0] = np.inf
    with pytest.raises(ValueError, match=re.escape("Invalid value for 'x': expected finite "
                                                   "numbers or NaN (a missing value); got 2 inf")):
        knn_graph(xr.DataArray(d, dims=("stimulus", "stimulus_")), k=4)
