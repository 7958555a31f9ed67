"""Study files: typed parameters, validation, quick overrides, and every built-in study at reduced size."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from brainbridge.studies._context import StudyError, allowed_keys
from brainbridge.studies._sections import ANALYSES
from brainbridge.studies._study import RENAMED, SOURCES, Study, load_study, run_study, study_names

pytest.importorskip("matplotlib")


def _minimal(**extra):
    study = {"version": 1, "name": "t", "sources": {"s": {"kind": "grasshopper", "condition": 1}},
             "analyses": [{"kind": "receptor_fit", "source": "s"}]}
    study.update(extra)
    return study


def _vision(*analyses):
    return {"version": 1, "name": "v", "sources": {"i": {"kind": "activations", "limit": 8},
                                                   "g": {"kind": "grasshopper"}},
            "analyses": list(analyses)}


def test_builtin_studies_validate_and_quick_overrides_apply():
    assert study_names() == ["1_celegans_structure_function", "2_vision_units", "3_model_recovery",
                             "4_auditory_receptor"]
    for name in study_names():
        full, quick = load_study(name), load_study(name, quick=True)
        assert isinstance(full, Study) and quick.name == full.name and quick.quick and not full.quick
        assert full.random_state == 0
    vision = load_study("2_vision_units", quick=True)
    assert vision.sources["images"].params.limit == 24
    assert vision.analyses[0].params.n_permutations == 20
    assert load_study("2_vision_units").analyses[0].params.n_permutations == 1000
    assert [a.id for a in vision.analyses] == ["selectivity", "layer_similarity", "top_stimuli"]
    assert vision.analyses[2].params.rank_by == "selectivity"


def test_allowed_keys_and_defaults_come_from_the_parameter_objects():
    receptor = ANALYSES["receptor_fit"].params
    assert allowed_keys(receptor) == ["epochs", "hidden", "id", "models", "n_lags", "n_permutations",
                                      "source", "title"]
    params = load_study(_minimal()).analyses[0].params
    assert params == receptor(source="s")
    assert (params.models, params.epochs, params.hidden, params.n_lags) == (["elm", "lif"], 10, 32, 20)
    assert allowed_keys(SOURCES["grasshopper"].params) == ["bin_size", "condition"]
    # list defaults are not shared between studies
    a, b = (load_study(_minimal()).analyses[0].params for _ in range(2))
    a.models.append("lstm")
    assert b.models == ["elm", "lif"]


@pytest.mark.parametrize("change,message", [
    ({"version": 2}, "study: 'version' must be 1 (this brainbridge reads study format 1); got 2."),
    ({"colour": "red"}, "study: unknown key 'colour'. Allowed: analyses, description, name, quick, "
                        "random_state, sources, title, version."),
    ({"random_state": -1}, "study: 'random_state' must be an integer >= 0; got -1."),
    ({"sources": {"s": {"kind": "grasshoper"}}},
     "study: sources.s: unknown kind 'grasshoper'. Did you mean 'grasshopper'? Source kinds: activations, "
     "celegans_connectome, celegans_funatlas, grasshopper."),
    ({"sources": {"s": {"kind": "grasshopper", "rate": 3}}},
     "study: sources.s (grasshopper): unknown parameter 'rate'. Allowed: bin_size, condition."),
    ({"sources": {"s": {"kind": "grasshopper", "condition": 3}}},
     "study: sources.s (grasshopper): 'condition' must be one of 1, 2; got 3."),
    ({"sources": {"s": {"kind": "activations", "model": "alexnet"}}},
     "study: sources.s (activations): 'model' must be one of 'efficientnet_lite0', 'minilm', "
     "'efficientnet-lite0'; got 'alexnet'."),
    ({"analyses": [{"kind": "rsa_magic", "source": "s"}]}, "study: analyses.0: unknown analysis 'rsa_magic'"),
    ({"analyses": [{"kind": "receptor_fit", "source": "nope"}]},
     "study: analyses.0 (receptor_fit): source 'nope' is not one of the sources (s)."),
    ({"analyses": [{"kind": "receptor_fit"}]},
     "study: analyses.0 (receptor_fit): missing parameter 'source' (a string)."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "lr": 1}]},
     "study: analyses.0 (receptor_fit): unknown parameter 'lr'. Allowed: epochs, hidden, id, models, "
     "n_lags, n_permutations, source, title."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "epoch": 1}]},
     "study: analyses.0 (receptor_fit): unknown parameter 'epoch'. Did you mean 'epochs'? Allowed:"),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "epochs": "ten"}]},
     "study: analyses.0 (receptor_fit): 'epochs' must be an integer >= 1; got 'ten'."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "epochs": 0}]},
     "study: analyses.0 (receptor_fit): 'epochs' must be an integer >= 1; got 0."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "epochs": True}]},
     "study: analyses.0 (receptor_fit): 'epochs' must be an integer >= 1; got True."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "models": ["elm", "gru"]}]},
     "study: analyses.0 (receptor_fit): 'models' must be a list of values from 'lif', 'elm', 'lstm'; "
     "got ['elm', 'gru'] (item 1, 'gru', is not one of 'lif', 'elm', 'lstm')."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "models": "elm"}]},
     "study: analyses.0 (receptor_fit): 'models' must be a list of values from 'lif', 'elm', 'lstm'; "
     "got the string 'elm' (write [elm])."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "hidden": 2.5}]},
     "study: analyses.0 (receptor_fit): 'hidden' must be an integer >= 1; got 2.5."),
    ({"analyses": ["receptor_fit"]},
     "study: analyses.0: expected a mapping with a 'kind' key (e.g. {kind: selectivity, ...}); got str "
     "'receptor_fit'. Analysis kinds: selectivity, layer_similarity, top_stimuli, model_recovery, "
     "structure_function, receptor_fit."),
    ({"analyses": [{"source": "s"}]},
     "study: analyses.0: expected a mapping with a 'kind' key (e.g. {kind: selectivity, ...}); got a "
     "mapping without 'kind' (keys: source). Analysis kinds:"),
    ({"sources": {"s": "grasshopper"}},
     "study: sources.s: expected a mapping with a 'kind' key (e.g. {kind: activations, ...}); got str "
     "'grasshopper'. Source kinds: activations, celegans_connectome, celegans_funatlas, grasshopper."),
    ({"sources": ["s"]}, "study: 'sources' must be a mapping; got list ['s']."),
    ({"analyses": {"kind": "receptor_fit"}},
     "study: 'analyses' must be a list; got dict {'kind': 'receptor_fit'}."),
    ({"quick": ["analyses.0.epochs"]},
     "study: 'quick' must be a mapping of dotted paths to values (e.g. analyses.0.n_permutations: 20); "
     "got list ['analyses.0.epochs']."),
    ({"sources": {"s": {"kind": "activations", "stimuli": 3}}},
     "study: sources.s (activations): 'stimuli' must be a string or a non-empty list of strings; "
     "got 3."),
    ({"sources": {"s": {"kind": "activations", "layers": []}}},
     "study: sources.s (activations): 'layers' must be a string or a non-empty list of strings; "
     "got []."),
    ({"sources": {"s": {"kind": "activations", "limit": 0}}},
     "study: sources.s (activations): 'limit' must be an integer >= 1 or null; got 0."),
    ({"analyses": [{"kind": "receptor_fit", "source": "s", "title": 3}]},
     "study: analyses.0 (receptor_fit): 'title' must be a string or null; got 3."),
    ({"name": "a b"}, "study: 'name' must be letters, digits, '_', '-' or '.'; got 'a b'."),
])
def test_validation_errors_name_the_entry(change, message):
    with pytest.raises(StudyError, match=re.escape(message)):
        load_study(_minimal(**change))


@pytest.mark.parametrize("analyses,message", [
    ([{"kind": "selectivity", "source": "i", "positive": "^face_", "n_permutations": "ten"}],
     "study: analyses.0 (selectivity): 'n_permutations' must be an integer >= 1; got 'ten'."),
    ([{"kind": "selectivity", "source": "i", "positive": "(face"}],
     "study: analyses.0 (selectivity): 'positive' must be a regular expression; got '(face'"),
    ([{"kind": "selectivity", "source": "g", "positive": "x"}],
     "study: analyses.0 (selectivity): source 'g' is a 'grasshopper' source; this analysis needs "
     "'activations'."),
    ([{"kind": "model_recovery", "source": "i", "truth": "_blocks.1", "noise_levels": [0, -1]}],
     "study: analyses.0 (model_recovery): 'noise_levels' must be a non-empty list of numbers >= 0; "
     "got [0, -1] (item 1, -1, is not a number >= 0)."),
    ([{"kind": "model_recovery", "source": "i", "truth": "_blocks.1", "metrics": []}],
     "study: analyses.0 (model_recovery): 'metrics' must be a non-empty list of values from 'rsa', "
     "'cka', 'encoding'; got []."),
    ([{"kind": "top_stimuli", "source": "i", "rank_by": "selectivity"}],
     "study: analyses.0 (top_stimuli): rank_by 'selectivity' names no earlier analysis; it must be the "
     "id of a 'selectivity' analysis listed before this one (earlier selectivity analyses: none)."),
    ([{"kind": "layer_similarity", "source": "i", "id": "sel"},
      {"kind": "top_stimuli", "source": "i", "rank_by": "sel"}],
     "study: analyses.1 (top_stimuli): rank_by 'sel' is a 'layer_similarity' analysis; it must name a "
     "'selectivity' analysis."),
    ([{"kind": "selectivity", "source": "i", "positive": "a"},
      {"kind": "selectivity", "source": "i", "positive": "b"},
      {"kind": "top_stimuli", "source": "i", "rank_by": "selectivity"}],
     "study: analyses.2 (top_stimuli): rank_by 'selectivity' names 2 earlier analyses; give them "
     "distinct 'id's."),
])
def test_parameter_and_reference_errors(analyses, message):
    with pytest.raises(StudyError, match=re.escape(message)):
        load_study(_vision(*analyses))


def test_declared_dependency_resolves_by_id():
    study = load_study(_vision({"kind": "selectivity", "source": "i", "positive": "^face", "id": "faces"},
                               {"kind": "top_stimuli", "source": "i", "rank_by": "faces"}))
    assert [a.id for a in study.analyses] == ["faces", "top_stimuli"]


def test_renamed_keys_of_format_1_are_read():
    assert RENAMED == {"seed": "random_state", "n_shuffles": "n_permutations", "n_perm": "n_permutations"}
    old = {"version": 1, "name": "c", "seed": 3,
           "sources": {"c": {"kind": "celegans_connectome"}, "a": {"kind": "celegans_funatlas"}},
           "analyses": [{"kind": "structure_function", "connectome": "c", "funatlas": "a", "n_shuffles": 7}],
           "quick": {"analyses.0.n_shuffles": 2}}
    study = load_study(old)
    assert study.random_state == 3 and study.analyses[0].params.n_permutations == 7
    assert load_study(old, quick=True).analyses[0].params.n_permutations == 2
    both = dict(old, random_state=3)
    with pytest.raises(StudyError, match=re.escape(
            "study: 'seed' and 'random_state' are the same key ('seed' is its former name); give only "
            "'random_state'.")):
        load_study(both)


def test_run_study_refuses_quick_for_a_full_study(tmp_path):
    from brainbridge.studies import run_study

    with pytest.raises(StudyError, match=re.escape(
            "study: quick=True, but this Study was loaded without its quick overrides; load it with "
            "load_study(..., quick=True).")):
        run_study(load_study(_minimal()), tmp_path, quick=True)
    assert not any(tmp_path.iterdir())


def test_file_errors(tmp_path):
    with pytest.raises(StudyError, match=re.escape(
            "Invalid value for 'source': study 'colour' is neither a built-in study nor a file. Built-in "
            "studies: 1_celegans_structure_function, 2_vision_units, 3_model_recovery, "
            "4_auditory_receptor.")):
        load_study("colour")
    with pytest.raises(StudyError, match=re.escape(
            "Invalid value for 'study': study '2_vision_unit' is neither a built-in study nor a file. "
            "Did you mean '2_vision_units'? Built-in studies:")):
        run_study("2_vision_unit", tmp_path / "out")
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for 'source': expected a study name, a YAML file or a dict; got int.")):
        load_study(3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: [unclosed\n")
    with pytest.raises(StudyError, match=re.escape(f"{bad}: not valid YAML")):
        load_study(bad)
    quick = tmp_path / "q.yaml"
    quick.write_text(yaml.safe_dump(_minimal(quick={"analyses.3.epochs": 1})))
    with pytest.raises(StudyError, match=re.escape(
            f"{quick}: quick: path 'analyses.3.epochs' does not exist in the study: 'analyses' is a "
            "list of 1 entry; '3' is not an index in 0..0.")):
        load_study(quick, quick=True)


@pytest.mark.parametrize("path,message", [
    ("analyses.3.epochs", "'analyses' is a list of 1 entry; '3' is not an index in 0..0."),
    ("analyses.first.epochs", "'analyses' is a list of 1 entry; 'first' is not an index in 0..0."),
    ("sources.t.condition", "'sources' has no key 't'. Its keys: s."),
    ("sources.ss.condition", "'sources' has no key 'ss'. Did you mean 's'? Its keys: s."),
    ("sources.s.condition.x", "'sources.s.condition' is the value 1, not a mapping or a list."),
    ("analyses.0.models.5", "'analyses.0.models' is a list of 2 entries; '5' is not an index in 0..1."),
])
def test_quick_override_of_a_missing_entry(path, message):
    """Issue 15: a quick: path to a missing entry; the message says what is there."""
    study = _minimal(quick={path: 1})
    study["analyses"][0]["models"] = ["elm", "lif"]
    with pytest.raises(StudyError, match=re.escape(
            f"study: quick: path {path!r} does not exist in the study: {message}")):
        load_study(study, quick=True)
    load_study(study)  # without --quick the overrides are not applied


def test_quick_override_through_the_cli(tmp_path, capsys):
    from brainbridge.cli._main import main

    study = tmp_path / "q.yaml"
    study.write_text(yaml.safe_dump(_minimal(quick={"analyses.3.epochs": 1})))
    assert main(["run", str(study), "--quick", "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == (
        f"brainbridge run: error: {study}: quick: path 'analyses.3.epochs' does not exist in the "
        "study: 'analyses' is a list of 1 entry; '3' is not an index in 0..0.\n")
    assert not (tmp_path / "runs").exists()


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
        assert results["meta"]["quick"] is True and results["meta"]["random_state"] == 0
        assert html.count("<img") == sum(len(s["figures"]) for s in sections.values())
        assert len(list((demo / name / "figures").glob("*.png"))) == html.count("<img")


def test_vision_numbers_match_independent_computation(demo):
    import brainbridge as bb
    from brainbridge.ann._stimuli import load_stimuli
    from brainbridge.models import EFFICIENTNET_BLOCKS, load

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
    acts = bb.extract(load("efficientnet_lite0"), [images[k] for k in keep], layers=EFFICIENTNET_BLOCKS[:2],
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
    # top stimuli: the declared dependency ranks the last block's units by their d'
    top = _group(demo, "vision_units", "top-stimuli-of-blocks-15")
    d15 = sel.score.values[layer == "_blocks.15"]
    units15 = sel.unit.values[layer == "_blocks.15"]
    assert list(top.unit.values) == list(units15[np.argsort(-d15, kind="stable")[:4]])


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
    from brainbridge.encoders import fit_lnp
    from brainbridge.loaders import load_grasshopper
    from brainbridge.snn import grasshopper_task, task_score

    sections, _ = _results(demo, "auditory_receptor")
    task = grasshopper_task(load_grasshopper(1))
    value = task_score(task, fit_lnp(task.x_train, task.y_train).log_rate(task.x_test))
    numbers = sections["auditory-receptor-grasshopper"]["numbers"]
    assert numbers["coincidence factor LNP"] == pytest.approx(value, abs=1e-4)
    models = ["ridge", "LNP", "ELM", "LIF"]
    assert set(numbers) == ({f"rate r {m}" for m in models}
                            | {f"coincidence factor {m}" for m in models[1:]}
                            | {f"coincidence factor {m} (threshold)" for m in models}
                            | {f"shifted null {m} (threshold)" for m in models})


def test_auditory_rates_match_independent_fits(demo):
    """The ridge's held-out rate (scikit-learn on the same FIR design) and every rate r (scipy)."""
    from scipy import stats
    from scipy.ndimage import gaussian_filter1d
    from sklearn.linear_model import RidgeCV

    from brainbridge.loaders import load_grasshopper

    sections, _ = _results(demo, "auditory_receptor")
    res = _group(demo, "auditory_receptor", "auditory-receptor-grasshopper")
    spikes, stimulus = load_grasshopper(1, bin_size=1e-3)
    s = stimulus.values[:, 0].astype(float)
    counts = spikes.values[:, 0].astype(float)
    n_test = res.sizes["time"]
    split = s.size - n_test
    z = (s - s[:split].mean()) / s[:split].std()
    design = np.stack([np.r_[np.zeros(j), z[:s.size - j]] for j in range(20)], axis=1)
    ridge = RidgeCV(alphas=np.logspace(-1, 3, 5), cv=5).fit(design[:split], counts[:split])
    expected = np.maximum(ridge.predict(design[split:]), 0)
    np.testing.assert_allclose(res.rate.sel(model="ridge (lagged)").values, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(res.observed.values, counts[split:])
    numbers = sections["auditory-receptor-grasshopper"]["numbers"]
    for model in res.model.values:
        rate = res.rate.sel(model=model).values
        r = stats.pearsonr(res.observed.values, rate)[0]
        smooth = stats.pearsonr(gaussian_filter1d(res.observed.values, 2.0), gaussian_filter1d(rate, 2.0))[0]
        assert float(res.r.sel(model=model)) == pytest.approx(r, abs=1e-10)
        assert numbers[f"rate r {str(model).split(' ')[0]}"] == pytest.approx(smooth, abs=1e-4)
    assert numbers["rate r ridge"] > 0.5 and numbers["rate r LNP"] > 0.3  # the rate is predictable


def test_failed_run_leaves_no_output(tmp_path):
    from brainbridge.cli._main import main

    study = tmp_path / "bad.yaml"
    sources = {"i": {"kind": "activations", "stimuli": ["lfw"], "limit": 8}}
    study.write_text(yaml.safe_dump({"version": 1, "name": "bad", "sources": sources,
                                     "analyses": [{"kind": "top_stimuli", "source": "i", "layer": "nope"}]}))
    assert main(["run", str(study), "--out", str(tmp_path / "runs"), "-q"]) == 2
    assert not (tmp_path / "runs" / "bad").exists()
