"""curvature_communities: ricci_curvature + ricci_flow merged by edge + ricci_community by node."""

from __future__ import annotations

import re

import networkx as nx
import numpy as np
import pytest
import xarray as xr

import brainbridge as bb
from brainbridge.analyses import (
    connectome_graph,
    curvature_communities,
    knn_graph,
    ricci_community,
    ricci_curvature,
    ricci_flow,
)


def _by_edge(ds: xr.Dataset, name: str) -> dict[tuple[str, str], float]:
    """{(source, target): value} with an explicit loop (the reference merge)."""
    out = {}
    for s, t, v in zip(ds["source"].values.tolist(), ds["target"].values.tolist(), ds[name].values):
        out[(s, t)] = float(v)
    return out


def test_equals_the_three_steps_on_the_karate_club():
    g = nx.karate_club_graph()
    ds = curvature_communities(g, flow_iterations=10, progress=False)
    ref = ricci_curvature(g)
    xr.testing.assert_allclose(ds[["edge_curvature", "node_curvature", "transport", "distance"]],
                               ref[["edge_curvature", "node_curvature", "transport", "distance"]])
    flow = ricci_flow(g, 10, progress=False)
    weight, kappa = _by_edge(flow, "weight"), _by_edge(flow, "edge_curvature")
    for i, key in enumerate(zip(ds["source"].values.tolist(), ds["target"].values.tolist())):
        assert ds.flow_weight.values[i] == pytest.approx(weight[key], abs=1e-12)
        assert ds.flow_curvature.values[i] == pytest.approx(kappa[key], abs=1e-12)
    com = ricci_community(flow)
    for node, c in zip(com["node"].values.tolist(), com["community"].values.tolist()):
        assert int(ds.community.sel(node=node)) == c
    np.testing.assert_allclose(ds.modularity.values, com.modularity.values)
    np.testing.assert_allclose(ds.cutoff.values, com.cutoff.values)
    assert ds.attrs["cutoff"] == com.attrs["cutoff"]
    assert ds.attrs["modularity_at_cutoff"] == com.attrs["modularity_at_cutoff"]
    assert ds.attrs["flow_iterations"] == flow.attrs["iterations"] == 10
    assert ds.attrs["community_note"] == ""


def test_knn_assembly_and_flow_on_the_largest_component(rng):
    # two far-apart clusters: the kNN graph has two components, the flow runs on the larger one
    x = np.concatenate([rng.normal(size=(30, 4)), rng.normal(size=(8, 4)) + 100])
    ids = [f"s{i}" for i in range(38)]
    acts = bb.assembly(x, dims=("stimulus", "unit"), coords={"stimulus": ids}, modality="ann")
    ds = curvature_communities(acts, k=5, flow_iterations=4, progress=False)
    g = knn_graph(acts, k=5)
    ref = ricci_curvature(g)
    np.testing.assert_allclose(ds.edge_curvature.values, ref.edge_curvature.values, atol=1e-12)
    flow = ricci_flow(g, 4, progress=False)
    small = set(ids[30:])
    outside = np.array([s in small for s in ds.source.values.tolist()])
    assert np.isnan(ds.flow_weight.values[outside]).all() and outside.any()
    np.testing.assert_allclose(np.sort(ds.flow_weight.values[~outside]), np.sort(flow.weight.values))
    try:
        com = ricci_community(flow)
    except ValueError:
        assert (ds.community.values == -1).all() and ds.attrs["community_note"]
    else:
        assert (ds.community.sel(node=ids[30:]).values == -1).all()
        np.testing.assert_array_equal(ds.community.sel(node=com.node.values).values, com.community.values)


def test_no_flow_and_no_communities(rng):
    x = rng.normal(size=(40, 5))
    ds = curvature_communities(x, k=10, flow_iterations=0)
    np.testing.assert_allclose(ds.edge_curvature.values, ricci_curvature(x).edge_curvature.values)
    assert np.isnan(ds.flow_weight.values).all() and np.isnan(ds.flow_curvature.values).all()
    assert (ds.community.values == -1).all() and ds.sizes["cutoff"] == 0
    assert ds.attrs["flow_iterations"] == 0 and np.isnan(ds.attrs["cutoff"])
    assert ds.attrs["community_note"] == "flow_iterations=0, communities not computed"
    # a random point cloud has no community structure after a short flow: said, not raised
    y = np.random.default_rng(0).normal(size=(40, 5))
    with pytest.raises(ValueError, match="no modularity drop"):
        ricci_community(ricci_flow(y, 5, progress=False))
    ds = curvature_communities(y, flow_iterations=5, progress=False)
    assert (ds.community.values == -1).all() and "no modularity drop" in ds.attrs["community_note"]
    assert np.isfinite(ds.flow_weight.values).all()


def test_result_saves_as_netcdf(tmp_path):
    ds = curvature_communities(nx.karate_club_graph(), flow_iterations=3, progress=False)
    ds.to_netcdf(tmp_path / "c.nc", engine="h5netcdf")
    xr.testing.assert_identical(xr.load_dataset(tmp_path / "c.nc", engine="h5netcdf"), ds)
    empty = curvature_communities(nx.karate_club_graph(), flow_iterations=0)
    empty.to_netcdf(tmp_path / "e.nc", engine="h5netcdf")
    assert xr.load_dataset(tmp_path / "e.nc", engine="h5netcdf").sizes["cutoff"] == 0


def test_errors():
    from brainbridge.loaders import load_celegans_connectome

    directed = connectome_graph(load_celegans_connectome("cook2019_herm"), synapse_type="chemical")
    assert directed.directed
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'graph': Ricci flow (flow_iterations=2) needs an undirected graph; got a "
            "directed one. Build it undirected (e.g. connectome_graph(..., directed=False)) or pass "
            "flow_iterations=0.")):
        curvature_communities(directed, flow_iterations=2)
    with pytest.raises(ValueError, match=re.escape("Invalid value for 'flow_iterations'")):
        curvature_communities(nx.karate_club_graph(), flow_iterations=-1)
