import subprocess
import sys

import numpy as np
import pytest

import brainbridge as bb
from brainbridge.cli._main import main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "brainbridge", *args], capture_output=True,
                          text=True, timeout=300)


def test_help_imports_nothing_heavy():
    code = ("import sys; from brainbridge.cli._main import build_parser; build_parser(); "
            "heavy = [m for m in ('xarray', 'torch', 'numpy', 'pandas', 'mne') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    res = _run("--help")
    assert res.returncode == 0 and "extract" in res.stdout and "info" in res.stdout


@pytest.mark.parametrize("command", [
    ["compare", "a.nc", "b.nc", "--out", "x.nc"],
    ["encode", "f.nc", "r.nc", "--out", "x.nc"],
    ["selectivity", "a.nc", "--out", "x.nc"],
    ["curvature", "a.nc", "--out", "x.nc"],
    ["train", "--task", "digits", "--model", "lif", "--epochs", "1", "--out", "r"],
])
def test_library_vocabulary_with_the_old_flags_as_aliases(command):
    from brainbridge.cli import build_parser

    parser = build_parser()
    new = parser.parse_args(command + ["--random-state", "7"])
    old = parser.parse_args(command + ["--seed", "7"])
    assert new.random_state == old.random_state == 7 and not hasattr(new, "seed")
    if command[0] in ("selectivity", "curvature"):
        new = parser.parse_args(command + ["--n-permutations", "30"])
        old = parser.parse_args(command + ["--permutations", "30"])
        assert new.n_permutations == old.n_permutations == 30


def test_version():
    res = _run("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"brainbridge {bb.__version__}"


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"brainbridge {bb.__version__}" in out
    assert "torch" in out and "device      auto -> " in out and "data folder" in out


def test_extract_folder_of_images(tmp_path, capsys):
    image = pytest.importorskip("PIL.Image")
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("b_img", "a_img"):
        image.fromarray(rng.integers(0, 255, size=(40, 30, 3), dtype=np.uint8)).save(
            folder / f"{name}.png")
    out = tmp_path / "acts.nc"
    code = main(["extract", "-q", "--model", "efficientnet-lite0", "--stimuli", str(folder),
                 "--layers", "_blocks.15,_fc", "--reduce", "mean", "--out", str(out)])
    assert code == 0
    assert f"wrote {out}: 2 stimuli x 1320 units" in capsys.readouterr().out
    da = bb.load(out)
    assert list(da["stimulus"].values) == ["a_img", "b_img"]
    from brainbridge.ann.models import efficientnet_lite0

    net = efficientnet_lite0()
    with open(folder / "a_img.png", "rb"):
        pixels = np.asarray(image.open(folder / "a_img.png").convert("RGB"))
    direct = bb.extract(net, [pixels], layers="_fc", progress=False).values[0]
    np.testing.assert_allclose(da.sel(stimulus="a_img", unit=da.layer == "_fc").values, direct,
                               rtol=1e-5, atol=1e-5)


def test_extract_errors(tmp_path, capsys):
    code = main(["extract", "--model", "alexnet", "--stimuli", "skimage", "--layers", "x",
                 "--out", str(tmp_path / "a.nc")])
    assert code == 2
    err = capsys.readouterr().err
    assert err == ("brainbridge extract: error: Invalid value for 'model': expected one of "
                   "'efficientnet_lite0', 'minilm' or 'package.module:factory'; got 'alexnet'.\n")
    code = main(["extract", "--model", "efficientnet-lite0", "--stimuli", str(tmp_path / "none"),
                 "--layers", "_fc", "--out", str(tmp_path / "a.nc")])
    assert code == 2
    assert "is neither a built-in set (skimage, lfw, digits) nor an existing path" in \
        capsys.readouterr().err
    assert not (tmp_path / "a.nc").exists()


def test_datasets_list_info_fetch(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "nitime-grasshopper" in out and "eegmmidb" in out
    assert main(["datasets", "info", "nitime-fmri"]) == 0
    assert "name: nitime-fmri" in capsys.readouterr().out
    assert main(["datasets", "fetch", "nitime-fmri", "-q"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["fmri_timeseries.csv", "fmri1.nii.gz",
                                                       "fmri2.nii.gz"]
    assert main(["datasets", "info"]) == 2
    assert ("'brainbridge datasets info' needs a dataset NAME; see 'brainbridge datasets list'."
            in capsys.readouterr().err)


def test_load_errors(tmp_path, capsys):
    (tmp_path / "x.xyz").write_text("?")
    assert main(["load", str(tmp_path / "x.xyz"), "--to", str(tmp_path / "x.nc")]) == 2
    assert ("Cannot tell which loader reads" in capsys.readouterr().err)
    assert main(["load", "x.edf", "--to", "x.nc", "--arg", "novalue"]) == 2
    assert ("Invalid value for '--arg': expected KEY=VALUE; got 'novalue'."
            in capsys.readouterr().err)
    assert main(["load", "dataset:nitime-fmri", "--to", str(tmp_path / "f.nc")]) == 2
    assert ("Dataset 'nitime-fmri' has 3 files; name one as 'dataset:nitime-fmri/FILE' (one of "
            "fmri_timeseries.csv, fmri1.nii.gz, fmri2.nii.gz)." in capsys.readouterr().err)


def test_load_files_and_packaged_datasets(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    table = tmp_path / "rois.csv"
    pd.DataFrame({"V1": [1.0, 2.0, 3.0], "IT": [0.5, 0.25, 0.0]}).to_csv(table, index=False)
    assert main(["load", str(table), "--to", str(tmp_path / "rois.nc"), "--arg", "tr=2.0"]) == 0
    da = bb.load(tmp_path / "rois.nc")
    assert da.dims == ("time", "unit") and list(da["unit"].values) == ["V1", "IT"]
    np.testing.assert_array_equal(da.sel(unit="IT").values, [0.5, 0.25, 0.0])
    assert da.attrs["sampling_rate"] == 0.5
    capsys.readouterr()
    assert main(["load", "dataset:nitime-grasshopper", "--to", str(tmp_path / "g.nc"),
                 "--arg", "condition=2"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {tmp_path / 'g-spikes.nc'}",
                                                    f"wrote {tmp_path / 'g-stimulus.nc'}"]
    assert int(bb.load(tmp_path / "g-spikes.nc").sum()) == 868  # spike times in the file
    assert main(["load", "dataset:nitime-fmri/fmri_timeseries.csv", "--to",
                 str(tmp_path / "n.nc")]) == 0
    assert bb.load(tmp_path / "n.nc").shape == (250, 31)


def test_compare_rsa_and_cka(tmp_path, capsys, rng):
    latent = rng.normal(size=(12, 5))
    ids = [f"s{i}" for i in range(12)]
    model = bb.assembly(np.concatenate([latent @ rng.normal(size=(5, 8)),
                                        rng.normal(size=(12, 8))], axis=1),
                        dims=("stimulus", "unit"), modality="ann",
                        coords={"stimulus": ids, "layer": ("unit", ["a"] * 8 + ["b"] * 8)})
    brain = bb.assembly(latent @ rng.normal(size=(5, 10)), dims=("stimulus", "unit"),
                        modality="fmri", coords={"stimulus": ids[::-1]})
    bb.save(model, tmp_path / "m.nc")
    bb.save(brain[::-1], tmp_path / "b.nc")
    code = main(["compare", str(tmp_path / "m.nc"), str(tmp_path / "b.nc"), "--by-a", "layer",
                 "--n-boot", "20", "--out", str(tmp_path / "rsa.nc"), "--figure",
                 str(tmp_path / "rsa.png"), "-q"])
    assert code == 0
    import xarray as xr

    from brainbridge.analyses import cka, rsa

    result = xr.load_dataset(tmp_path / "rsa.nc", engine="h5netcdf")
    expected = rsa(model, brain, by_x="layer", device="cpu")["similarity"]
    np.testing.assert_allclose(result["similarity"].values, expected.values)
    assert (tmp_path / "rsa.png").stat().st_size > 1000
    assert main(["compare", str(tmp_path / "m.nc"), str(tmp_path / "b.nc"), "--method", "cka",
                 "--out", str(tmp_path / "cka.nc"), "-q"]) == 0
    value = float(xr.load_dataset(tmp_path / "cka.nc", engine="h5netcdf")["cka"])
    assert value == pytest.approx(float(cka(model, brain, device="cpu")))
    assert f"cka: {value:.4f}" in capsys.readouterr().out


def test_encode_writes_scores_and_figure(tmp_path, capsys, rng):
    from sklearn.linear_model import RidgeCV

    from brainbridge.analyses import encoding_score

    n, p = 60, 6
    x = rng.normal(size=(n, p))
    ids = [f"s{i}" for i in range(n)]
    features = bb.assembly(x, dims=("stimulus", "unit"), modality="ann",
                           coords={"stimulus": ids})
    angle = np.linspace(0, 2 * np.pi, 4, endpoint=False)
    responses = bb.assembly(x @ rng.normal(size=(p, 5)) + rng.normal(size=(n, 5)),
                            dims=("stimulus", "unit"), modality="eeg", units="V",
                            coords={"stimulus": ids,
                                    "x": ("unit", np.r_[0.0, 0.07 * np.cos(angle)]),
                                    "y": ("unit", np.r_[0.01, 0.06 * np.sin(angle)])})
    bb.save(features, tmp_path / "f.nc")
    bb.save(responses, tmp_path / "r.nc")
    code = main(["encode", str(tmp_path / "f.nc"), str(tmp_path / "r.nc"), "--encoder",
                 "sklearn.linear_model:RidgeCV", "--out", str(tmp_path / "s.nc"), "--figure",
                 str(tmp_path / "s.png"), "-q"])
    assert code == 0
    import xarray as xr

    scores = xr.load_dataset(tmp_path / "s.nc", engine="h5netcdf")
    expected = encoding_score(features, responses, encoder=RidgeCV(), random_state=0)
    np.testing.assert_allclose(scores["r"].values, expected["r"].values)
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert "held-out Pearson r over 5 units" in capsys.readouterr().out


def test_selectivity_command(tmp_path, capsys, rng):
    import xarray as xr

    from brainbridge.analyses import selectivity

    ids = [f"face_{i:02d}" for i in range(20)] + [f"house_{i:02d}" for i in range(20)]
    values = rng.normal(size=(40, 6))
    values[:20, 2] += 3.0  # unit 2 prefers faces
    acts = bb.assembly(values, dims=("stimulus", "unit"), modality="ann",
                       coords={"stimulus": ids, "layer": ("unit", ["a"] * 3 + ["b"] * 3)})
    bb.save(acts, tmp_path / "acts.nc")
    code = main(["selectivity", str(tmp_path / "acts.nc"), "--positive", "^face_", "--out",
                 str(tmp_path / "sel.nc"), "--figure", str(tmp_path / "sel.png"), "-q"])
    assert code == 0
    result = xr.load_dataset(tmp_path / "sel.nc", engine="h5netcdf")
    expected = selectivity(acts, np.arange(40) < 20, method="dprime", target=True)
    np.testing.assert_allclose(result["score"].values, expected["score"].values)
    assert int(np.argmax(result["score"].values)) == 2
    assert result["top_stimulus"].sel(unit="2", rank=0).item().startswith("face_")
    assert (tmp_path / "sel.png").stat().st_size > 1000
    assert "median dprime per layer:" in capsys.readouterr().out
    assert main(["selectivity", str(tmp_path / "acts.nc"), "--out", str(tmp_path / "x.nc")]) == 2
    assert ("Give exactly one of '--labels' (a stimulus coord) or '--positive'"
            in capsys.readouterr().err)
    assert main(["selectivity", str(tmp_path / "acts.nc"), "--positive", "^face_", "--out",
                 str(tmp_path / "perm.nc"), "--permutations", "30", "--seed", "4"]) == 0
    result = xr.load_dataset(tmp_path / "perm.nc", engine="h5netcdf")
    expected = selectivity(acts, np.arange(40) < 20, target=True, n_permutations=30, family="layer",
                           random_state=4, progress=False)
    np.testing.assert_allclose(result["threshold"].values, expected["threshold"].values)
    assert result["significant"].values.tolist() == expected["significant"].values.tolist()
    lines = capsys.readouterr().out.splitlines()
    assert "permutation bar (alpha 0.05, 30 shuffles)" in lines[1]
    bar_a = float(expected["threshold"].values[0])
    assert lines[2].split() == ["a", f"{float(expected.score[:3].median()):.3f}", f"{bar_a:.3f}", "1"]


def test_plot_top_stimuli_grid(rng):
    import matplotlib.pyplot as plt

    from brainbridge.analyses import plot_top_stimuli, top_stimuli

    ids = [f"s{i}" for i in range(8)]
    acts = bb.assembly(rng.normal(size=(8, 3)), dims=("stimulus", "unit"), modality="ann",
                       coords={"stimulus": ids})
    images = {s: rng.random((5, 5)) for s in ids}
    top = top_stimuli(acts, k=3)
    fig = plot_top_stimuli(top, images)
    axes = fig.axes
    assert len(axes) == 9
    first = str(top["stimulus"].sel(unit="0", rank=0).item())
    np.testing.assert_array_equal(axes[0].images[0].get_array(), images[first])
    plt.close(fig)
