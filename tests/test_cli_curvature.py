"""``brainbridge curvature``: one graph, or the alignment of two systems."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import brainbridge as bb
from brainbridge.analyses import (
    connectome_graph,
    curvature_alignment,
    knn_graph,
    ricci_community,
    ricci_curvature,
    ricci_flow,
)
from brainbridge.cli import main


def _acts(x: np.ndarray, ids: list[str]) -> xr.DataArray:
    return bb.assembly(x, dims=("stimulus", "unit"), coords={"stimulus": ids}, modality="ann")


def test_help_lists_curvature_without_heavy_imports():
    code = ("import sys; from brainbridge.cli._main import build_parser; "
            "build_parser().parse_args(['curvature', 'a.nc', '--out', 'x.nc']); "
            "print([m for m in ('xarray', 'torch', 'numpy', 'scipy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    res = subprocess.run([sys.executable, "-m", "brainbridge", "curvature", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "--permutations" in res.stdout and "--synapse-type" in res.stdout


def test_single_assembly(tmp_path, rng, capsys):
    x = rng.normal(size=(40, 6)) / 4
    ids = [f"s{i}" for i in range(40)]
    path = tmp_path / "acts.nc"
    bb.save(_acts(x, ids), path)
    out, fig = tmp_path / "curv.nc", tmp_path / "curv.png"
    assert main(["curvature", str(path), "--k", "5", "-q", "--out", str(out), "--figure", str(fig)]) == 0
    ds = xr.load_dataset(out)
    ref = ricci_curvature(knn_graph(_acts(x, ids), k=5))
    np.testing.assert_allclose(ds.edge_curvature.values, ref.edge_curvature.values, atol=1e-12)
    assert ds.source.values.tolist() == ref.source.values.tolist()
    kappa = ref.edge_curvature.values
    text = capsys.readouterr().out
    assert f"graph: 40 nodes, {kappa.size} undirected edges" in text
    assert (f"edge curvature: mean {kappa.mean():.4f}, median {np.median(kappa):.4f}, negative "
            f"{np.mean(kappa < 0):.1%}") in text
    assert fig.stat().st_size > 0


def test_connectome_with_flow_and_communities(tmp_path, capsys):
    from brainbridge.loaders import load_celegans_connectome

    c = load_celegans_connectome("cook2019_herm")
    path = tmp_path / "conn.nc"
    bb.save(c, path)
    out = tmp_path / "gap.nc"
    code = main(["curvature", str(path), "--synapse-type", "electrical", "--weight", "inverse",
                 "--flow", "3", "-q", "--out", str(out)])
    assert code == 0
    ds = xr.load_dataset(out)
    g = connectome_graph(c, synapse_type="electrical", weight="inverse")
    np.testing.assert_allclose(ds.edge_curvature.values, ricci_curvature(g).edge_curvature.values,
                               atol=1e-12)
    flow = ricci_flow(g, 3, progress=False)
    com = ricci_community(flow)
    from sklearn.metrics import adjusted_rand_score

    ours = ds.community.sel(node=com.node.values).values
    assert adjusted_rand_score(ours, com.community.values) == 1.0
    outside = ~np.isin(ds.node.values, com.node.values)
    assert (ds.community.values[outside] == -1).all() and outside.sum() == 302 - com.sizes["node"]
    flowed = ds.flow_weight.dropna("edge")
    np.testing.assert_allclose(np.sort(flowed.values), np.sort(flow.weight.values))
    text = capsys.readouterr().out
    assert f"communities after 3 flow iterations: {int(com.community.max()) + 1} " in text
    # chemical synapses are directed: no flow, a clear error
    code = main(["curvature", str(path), "--synapse-type", "chemical", "--flow", "3", "-q",
                 "--out", str(tmp_path / "chem.nc")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "brainbridge curvature: error: '--flow' needs an undirected graph (Ricci flow); this "
        "connectome graph is directed. Add --undirected, use --synapse-type electrical, or pass --flow 0.")


def test_two_assemblies_alignment(tmp_path, rng, capsys):
    x = rng.normal(size=(36, 5)) / 4
    y = x @ rng.normal(size=(5, 7)) + rng.normal(size=(36, 7)) * 0.1
    ids = [f"s{i}" for i in range(36)]
    bb.save(_acts(x, ids), tmp_path / "a.nc")
    bb.save(_acts(y[::-1], ids[::-1]), tmp_path / "b.nc")
    out, fig = tmp_path / "align.nc", tmp_path / "align.png"
    code = main(["curvature", str(tmp_path / "a.nc"), str(tmp_path / "b.nc"), "--k", "5", "--flow", "5",
                 "--permutations", "40", "--seed", "3", "-q", "--out", str(out), "--figure", str(fig)])
    assert code == 0
    ds = xr.load_dataset(out)
    ref = curvature_alignment(_acts(x, ids), _acts(y[::-1], ids[::-1]), k=5, flow_iterations=5,
                              n_permutations=40, random_state=3)
    np.testing.assert_allclose(ds.value.values, ref.value.values, atol=1e-12)
    np.testing.assert_allclose(ds.p_value.values, ref.p_value.values, atol=1e-12)
    text = capsys.readouterr().out
    p = float(ref.p_value.sel(score="node_spearman"))
    assert f"node_spearman     {float(ref.value.sel(score='node_spearman')):9.4f}{p:9.4f}" in text
    assert fig.stat().st_size > 0
    assert main(["curvature", str(tmp_path / "a.nc"), str(tmp_path / "b.nc"), "--k", "5", "--permutations",
                 "20", "--null", "degree", "--degree-bins", "4", "-q", "--out", str(out)]) == 0
    ref = curvature_alignment(_acts(x, ids), _acts(y[::-1], ids[::-1]), k=5, flow_iterations=0,
                              n_permutations=20, null="degree", degree_bins=4, random_state=0)
    np.testing.assert_allclose(xr.load_dataset(out).null.values, ref.null.values, atol=1e-12)


def test_option_for_connectomes_only(tmp_path, rng, capsys):
    path = tmp_path / "acts.nc"
    bb.save(_acts(rng.normal(size=(10, 3)), [f"s{i}" for i in range(10)]), path)
    assert main(["curvature", str(path), "--synapse-type", "chemical", "-q", "--out",
                 str(tmp_path / "x.nc")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"brainbridge curvature: error: '--synapse-type' applies to connectome files (dims pre, post); "
        f"{path} has dims ('stimulus', 'unit'). Drop --synapse-type, or pass a connectome saved with "
        "brainbridge.save.")


@pytest.mark.parametrize("flag", ["--k", "--permutations"])
def test_bad_numbers_are_reported(tmp_path, rng, capsys, flag):
    path = tmp_path / "acts.nc"
    bb.save(_acts(rng.normal(size=(10, 3)), [f"s{i}" for i in range(10)]), path)
    assert main(["curvature", str(path), str(path), flag, "-1", "-q", "--out", str(tmp_path / "x.nc")]) == 2
    err = capsys.readouterr().err
    expected = ("argument --k: expected an integer in [1, 2147483647]; got '-1'" if flag == "--k"
                else "argument --n-permutations/--permutations: expected an integer in [0, 2147483647]; "
                "got '-1'")
    assert err == f"brainbridge curvature: error: {expected}. See 'brainbridge curvature --help'.\n"
