"""Study files: validation, quick overrides, and every built-in study at reduced size."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from brainbridge.studies._study import StudyError, load_study, study_names

pytest.importorskip("matplotlib")


def _minimal(**extra):
    study = {"version": 1, "name": "t", "sources": {"s": {"kind": "grasshopper", "condition": 1}},
             "analyses": [{"kind": "receptor_fit", "source": "s"}]}
    study.update(extra)
    return study


def test_builtin_studies_validate_and_quick_overrides_apply():
    assert study_names() == ["1_celegans_structure_function", "2_vision_units", "3_model_recovery",
                             "4_auditory_receptor"]
    for name in study_names():
        full, quick = load_study(name), load_study(name, quick=True)
        assert full["version"] == 1 and quick["name"] == full["name"]
    vision = load_study("2_vision_units", quick=True)
    assert vision["sources"]["images"]["limit"] == 24 and vision["analyses"][0]["n_permutations"] == 20


@pytest.mark.parametrize("change,message", [
    ({"version": 2}, "study: 'version' must be 1 (this brainbridge reads study format 1); got 2."),
    ({"colour": "red"}, "study: unknown key 'colour'"),
    ({"sources": {"s": {"kind": "grasshoper"}}},
     "study: sources.s: unknown kind 'grasshoper'. Did you mean 'grasshopper'? Source kinds: activations, "
     "celegans_connectome, celegans_funatlas, grasshopper."),
    ({"sources": {"s": {"kind": "grasshopper", "rate": 3}}},
     "study: sources.s: unknown parameter 'rate' for kind 'grasshopper'; allowed: condition."),
    ({"analyses": [{"kind": "rsa_magic", "source": "s"}]}, "study: analyses.0: unknown analysis 'rsa_magic'"),
    ({"analyses": [{"kind": "receptor_fit", "source": "nope"}]},
     "study: analyses.0 (receptor_fit): source 'nope' is not one of the sources (s)."),
    ({"analyses": [{"kind": "receptor_fit"}]},
     "study: analyses.0 (receptor_fit): missing parameter 'source'."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "lr": 1}]},
     "study: analyses.0 (receptor_fit): unknown parameter 'lr'; allowed: epochs, hidden, models, source, "
     "title."),
    ({"name": "a b"}, "study: 'name' must be letters, digits, '_', '-' or '.'; got 'a b'."),
])
def test_validation_errors_name_the_entry(change, message):
    with pytest.raises(StudyError, match=re.escape(message)):
        load_study(_minimal(**change))


def test_file_errors(tmp_path):
    with pytest.raises(StudyError, match=re.escape("study 'vision' is neither a built-in study")):
        load_study("vision")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: [unclosed\n")
    with pytest.raises(StudyError, match=re.escape(f"{bad}: not valid YAML")):
        load_study(bad)
    quick = tmp_path / "q.yaml"
    quick.write_text(yaml.safe_dump(_minimal(quick={"analyses.3.epochs": 1})))
    with pytest.raises(StudyError, match=re.escape(
            f"{quick}: quick: path 'analyses.3.epochs' does not exist")):
        load_study(quick, quick=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Every built-in study at reduced size, through the CLI."""
    from brainbridge.cli._main import main

    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out), "-q"]) == 0
    return out


def _results(demo, name):
    results = json.loads((demo / name / "results.json").read_text())
    return {s["slug"]: s for s in results["sections"]}, results


def _group(demo, name, group):
    import xarray as xr

    return xr.load_dataset(demo / name / "results.nc", group=group, engine="h5netcdf")


def test_demo_writes_every_report(demo):
    for name in ("celegans_structure_function", "vision_units", "model_recovery", "auditory_receptor"):
        html = (demo / name / "report.html").read_text()
        sections, results = _results(demo, name)
        assert results["meta"]["quick"] is True and results["meta"]["seed"] == 0
        assert html.count("<img") == sum(len(s["figures"]) for s in sections.values())
        assert len(list((demo / name / "figures").glob("*.png"))) == html.count("<img")


def test_vision_numbers_match_independent_computation(demo):
    import brainbridge as bb
    from brainbridge.ann._stimuli import load_stimuli
    from brainbridge.ann.models import EFFICIENTNET_BLOCKS, efficientnet_lite0

    sections, _ = _results(demo, "vision_units")
    sel = _group(demo, "vision_units", "selectivity")
    layer = sel["layer"].values
    for i, name in enumerate(EFFICIENTNET_BLOCKS):
        m = layer == name
        frac = np.mean(sel.significant.values[m] & (sel.score.values[m] > 0))
        assert sections["selectivity"]["numbers"][f"fraction selective b{i}"] == pytest.approx(frac, abs=1e-4)
    # d' and CKA from activations extracted here, outside the study, with plain numpy
    ids, images = load_stimuli("lfw")
    keep = list(range(12)) + list(range(100, 112))  # quick: 12 faces + 12 non-faces
    acts = bb.extract(efficientnet_lite0(), [images[k] for k in keep], layers=EFFICIENTNET_BLOCKS[:2],
                      reduce="mean", stimulus_ids=[ids[k] for k in keep], progress=False)
    x = acts.sel(unit=acts.layer == "_blocks.0").values
    face = np.arange(24) < 12
    a, b = x[face], x[~face]
    d = (a.mean(0) - b.mean(0)) / np.sqrt((a.var(0, ddof=1) + b.var(0, ddof=1)) / 2)
    np.testing.assert_allclose(sel.score.values[layer == "_blocks.0"], d, rtol=1e-4, atol=1e-5)
    y = acts.sel(unit=acts.layer == "_blocks.1").values
    xc, yc = x - x.mean(0), y - y.mean(0)
    cka = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    sim = _group(demo, "vision_units", "layer-x-layer-cka-and-rsa")
    assert float(sim.cka.values[0, 1]) == pytest.approx(cka, rel=1e-4)


def test_celegans_numbers_match_scipy(demo):
    from scipy import stats

    sections, _ = _results(demo, "celegans_structure_function")
    res = _group(demo, "celegans_structure_function", "c-elegans-structure-vs-function")
    obs = res.observed.values.astype(bool)
    r = stats.pearsonr(res.simulated.values[obs], res.measured.values[obs])[0]
    numbers = sections["c-elegans-structure-vs-function"]["numbers"]
    assert numbers["pair_pearson"] == pytest.approx(r, abs=1e-4)
    null = res.null.sel(score="pair_pearson").values
    p = (1 + np.sum(null >= res.value.sel(score="pair_pearson").values)) / (1 + null.size)
    assert numbers["p pair_pearson"] == pytest.approx(p, abs=1e-4)


def test_recovery_fractions_match_ranks(demo):
    sections, _ = _results(demo, "model_recovery")
    res = _group(demo, "model_recovery", "model-recovery")
    for metric in res.metric.values:
        frac = np.mean(res.rank_of_truth.sel(metric=metric).values[-1] == 1)  # the last noise level
        assert sections["model-recovery"]["numbers"][f"recovery {metric} at noise 4"] == pytest.approx(frac)


def test_auditory_lnp_score_reproduces(demo):
    from brainbridge.snn._tasks import fit_lnp, grasshopper_task, score

    sections, _ = _results(demo, "auditory_receptor")
    task = grasshopper_task(1)
    value = score(task, fit_lnp(task).log_rate(task.x_test))
    numbers = sections["auditory-receptor-grasshopper"]["numbers"]
    assert numbers["coincidence factor LNP"] == pytest.approx(value, abs=1e-4)
    assert set(numbers) == {"coincidence factor LNP", "coincidence factor ELM", "coincidence factor LIF"}


def test_failed_run_leaves_no_output(tmp_path):
    from brainbridge.cli._main import main

    study = tmp_path / "bad.yaml"
    sources = {"i": {"kind": "activations", "stimuli": ["lfw"], "limit": 8}}
    study.write_text(yaml.safe_dump({"version": 1, "name": "bad", "sources": sources,
                                     "analyses": [{"kind": "top_stimuli", "source": "i", "layer": "nope"}]}))
    assert main(["run", str(study), "--out", str(tmp_path / "runs"), "-q"]) == 2
    assert not (tmp_path / "runs" / "bad").exists()
