import re

import numpy as np
import pytest
import xarray as xr

import brainbridge as bb
from brainbridge.analyses import (
    compare_rdms,
    plot_matrix,
    plot_mds,
    plot_model_comparison,
    plot_rdm,
    rdm,
    rsa,
)


@pytest.fixture
def systems(rng):
    n_stim = 16
    latent = rng.normal(size=(n_stim, 8))
    ids = [f"img{i}" for i in range(n_stim)]
    layers = np.repeat(["early", "mid", "late"], 20)
    acts = np.concatenate([latent @ rng.normal(size=(8, 20)) + rng.normal(scale=s, size=(n_stim, 20))
                           for s in (8.0, 2.0, 0.5)], axis=1)
    model = bb.assembly(acts, dims=("stimulus", "unit"), modality="ann",
                        coords={"stimulus": ids, "layer": ("unit", layers)})
    brain = np.stack([latent @ rng.normal(size=(8, 25)) + rng.normal(scale=1.0, size=(n_stim, 25))
                      for _ in range(4)])
    brain = bb.assembly(brain[:, ::-1], dims=("subject", "stimulus", "unit"), modality="fmri",
                        coords={"stimulus": ids[::-1]})
    return model, brain


def test_rsa_equals_rdm_then_compare(systems):
    model, brain = systems
    out = rsa(model, brain, by_x="layer", device="cpu")
    m, b = bb.align(model, brain)
    expected = compare_rdms(rdm(m, by="layer", device="cpu"), rdm(b, device="cpu"),
                            device="cpu")
    xr.testing.assert_allclose(out["similarity"], expected)
    assert out["similarity"].dims == ("layer", "subject")
    mean = out["similarity"].mean("subject")
    assert mean.sel(layer="late") > mean.sel(layer="early")


def test_rsa_bootstrap_and_plots(systems, tmp_path):
    import matplotlib.pyplot as plt

    model, brain = systems
    out = rsa(model, brain, by_x="layer", n_boot=40, random_state=0, device="cpu",
              progress=False)
    np.testing.assert_allclose(out["score"].values,
                               out["similarity"].mean("subject").values)
    assert (out["ci_low"] <= out["score"]).all() and (out["score"] <= out["ci_high"]).all()
    assert 0 < float(out["noise_lower"]) <= float(out["noise_upper"]) <= 1
    fig, axes = plt.subplots(2, 2, figsize=(8, 8))
    ax = plot_model_comparison(out, ax=axes[0, 0])
    from matplotlib.container import BarContainer

    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    heights = [p.get_height() for p in bars]
    np.testing.assert_allclose(heights, out["score"].values)
    one = out["rdm_x"].sel(layer="late")
    ax = plot_rdm(one, ax=axes[0, 1])
    np.testing.assert_array_equal(ax.images[0].get_array(), one.values)
    ax = plot_mds(one, ax=axes[1, 0])
    assert len(ax.collections[0].get_offsets()) == 16
    sim = out["similarity"]
    ax = plot_matrix(sim, ax=axes[1, 1])
    np.testing.assert_array_equal(ax.images[0].get_array(), sim.values)
    fig.savefig(tmp_path / "rsa.png")
    assert (tmp_path / "rsa.png").stat().st_size > 0


def test_plot_errors(systems):
    model, brain = systems
    r = rdm(brain, device="cpu")
    msg = ("'r' must be one RDM with dims (d, d + '_'), e.g. ('stimulus', 'stimulus_'); got dims "
           "('subject', 'stimulus', 'stimulus_'). Select one first, e.g. r.sel(layer=...).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        plot_rdm(r)
    with pytest.raises(ValueError, match=re.escape("'result' lacks score, ci_low, ci_high, "
                                                   "p_zero; pass the Dataset returned by")):
        plot_model_comparison(xr.Dataset())


def test_classical_mds_recovers_planar_distances(rng):
    from scipy.spatial.distance import pdist, squareform

    from brainbridge.analyses._plots import classical_mds

    points = rng.normal(size=(12, 2))
    d = squareform(pdist(points))
    np.testing.assert_allclose(squareform(pdist(classical_mds(d))), d, atol=1e-10)


def test_rsa_aligns_by_id_and_checks_n_boot(systems, rng):
    """Issue #15, findings 4 and 6: permuted stimuli give the aligned result; bad n_boot."""
    model, brain = systems
    order = rng.permutation(model.sizes["stimulus"])
    ref = rsa(model, brain, n_boot=20, random_state=0, device="cpu", progress=False)
    got = rsa(model.isel(stimulus=order), brain, n_boot=20, random_state=0, device="cpu",
              progress=False)
    np.testing.assert_allclose(got["similarity"], ref["similarity"], rtol=1e-12)
    other = brain.assign_coords(stimulus=[f"z{i}" for i in range(brain.sizes["stimulus"])])
    msg = "'x' and 'y' share no 'stimulus' ids: 'x' has ['img0', 'img1', 'img2', 'img3', 'img4'"
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        rsa(model, other, device="cpu")
    for n_boot, got_ in [(2.5, "2.5"), (-1, "-1")]:
        msg = (f"Invalid value for 'n_boot': expected an integer >= 0 (bootstrap samples; 0 "
               f"skips it); got {got_}.")
        with pytest.raises(ValueError, match=re.escape(msg)):
            rsa(model, brain, n_boot=n_boot, device="cpu")
