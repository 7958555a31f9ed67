"""The registry behind ``tests/test_bad_inputs.py``: how to call every public name on a valid input.

Each public callable has a :class:`Spec`: a factory ``make(rng)`` returning the keyword
arguments of one valid, tiny call, and which arguments take data (walked through the bad
data matrix), sizes / counts (the bad size matrix) and options (a typo must get "Did you
mean"). ``pair`` names two data arguments aligned by stimulus id: they get the mismatched /
duplicated id cases and the permutation property.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import brainbridge as bb

# ------------------------------------------------------------------------------ data makers


def ids(n: int, prefix: str = "s") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def asm(rng: np.random.Generator, n: int = 12, u: int = 6, *, modality: str = "ann",
        latent: np.ndarray | None = None, dims: tuple[str, ...] = ("stimulus", "unit"),
        **coords: Any) -> xr.DataArray:
    """A stimulus x unit assembly; with ``latent`` the units read a shared signal."""
    if latent is not None:
        values = latent @ rng.normal(size=(latent.shape[1], u)) + 0.3 * rng.normal(size=(n, u))
    else:
        values = rng.normal(size=(n, u))
    return bb.assembly(values, dims=dims, modality=modality,
                       coords={dims[0]: ids(n), **coords})


def pair(rng: np.random.Generator, n: int = 12, u: int = 6, v: int = 5) -> tuple[xr.DataArray, xr.DataArray]:
    latent = rng.normal(size=(n, 3))
    return asm(rng, n, u, latent=latent), asm(rng, n, v, latent=latent, modality="fmri")


def rdms(rng: np.random.Generator, n: int = 8) -> tuple[xr.DataArray, xr.DataArray]:
    from brainbridge.analyses import rdm

    x, y = pair(rng, n)
    return rdm(x, device="cpu"), rdm(y, device="cpu")


def subject_rdms(rng: np.random.Generator, n: int = 8, n_subjects: int = 4) -> xr.DataArray:
    from brainbridge.analyses import rdm

    latent = rng.normal(size=(n, 3))
    data = np.stack([asm(rng, n, 6, latent=latent).values for _ in range(n_subjects)])
    da = bb.assembly(data, dims=("subject", "stimulus", "unit"), modality="fmri",
                     coords={"stimulus": ids(n), "subject": ids(n_subjects, "sub")})
    return rdm(da, device="cpu")


def timeseries(rng: np.random.Generator, t: int = 40, u: int = 4) -> xr.DataArray:
    return bb.assembly(rng.normal(size=(t, u)), dims=("time", "unit"), modality="ephys",
                       sampling_rate=100.0)


def connectome(rng: np.random.Generator, n: int = 10) -> xr.DataArray:
    names = ids(n, "n")
    chem = (rng.random((n, n)) < 0.35) * 1.0
    np.fill_diagonal(chem, 0)
    gap = (rng.random((n, n)) < 0.15) * 1.0
    gap = np.triu(gap, 1)
    gap = gap + gap.T
    return xr.DataArray(np.stack([chem, gap], -1), dims=("pre", "post", "synapse_type"),
                        coords={"pre": names, "post": names,
                                "synapse_type": ["chemical", "electrical"]})


def tiny_net() -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def tiny_task() -> Any:
    from brainbridge.snn import adding_task

    return adding_task(5, n_train=8, n_test=4, random_state=0)


def _tmp() -> Path:
    """A fresh folder (the tests' factories cannot see pytest's tmp_path)."""
    return Path(tempfile.mkdtemp(prefix="bb_bad_"))


def _report() -> Path:
    out = bb.write_report("t", [bb.Section("s", text="x", numbers={"r": 0.5})], _tmp())
    return Path(out["results"]).parent


def _enter(cm: Any) -> Any:
    with cm:
        return None


def _nifti(rng: np.random.Generator) -> Path:
    import nibabel as nib

    path = _tmp() / "bold.nii.gz"
    img = nib.Nifti1Image(rng.normal(size=(3, 3, 2, 10)).astype("float32"), np.eye(4))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 2.0
    nib.save(img, path)
    return path


def _activity_csv(rng: np.random.Generator) -> Path:
    import pickle

    path = _tmp() / "worms.pkl"
    worm = {"calcium_data": rng.normal(size=(30, 2)), "time_in_seconds": np.arange(30) * 0.333,
            "labeled_neuron_to_slot": {"AVAL": 0, "AVAR": 1}}
    with open(path, "wb") as f:
        pickle.dump({"worm1": worm}, f)
    return path


def _structure_function(rng: np.random.Generator) -> dict[str, Any]:
    from brainbridge.snn import connectome_simulator

    conn = connectome(rng, 12)
    names = [str(n) for n in conn["pre"].values]
    sim = connectome_simulator()(conn, names)
    coords = {"stimulus": names, "unit": names}
    measured = xr.Dataset({"dff": (("stimulus", "unit"), sim.values + rng.normal(0, 0.001, (12, 12))),
                           "n_obs": (("stimulus", "unit"), np.ones((12, 12))),
                           "q": (("stimulus", "unit"), np.where(sim.values > 0.05, 0.01, 0.5))},
                          coords=coords)
    return dict(connectome=conn, measured=measured, simulate=connectome_simulator(), n_permutations=5,
                min_units=3, random_state=0, progress=False)


# ------------------------------------------------------------------------------ the spec


@dataclass
class Spec:
    """How to call one public name on a valid input, and which arguments to break.

    make: rng -> keyword arguments of a valid call.
    call: optional (obj, kwargs) -> result, for classes (construct, then fit / forward).
    data: data arguments -> the bad-data kinds that apply (None: all of DATA_KINDS).
    sizes: size / count arguments -> the bad kinds that do not apply, with the reason.
    options: option arguments (a typo of the valid value must get "Did you mean").
    pair: two data arguments matched by stimulus id (mismatch, duplicates, permutation).
    permute: how to reorder one input of ``pair`` by stimulus (default: isel on 'stimulus').
    allowed: (argument, kind) -> reason a result is the documented outcome (NaN may be in it).
    """

    make: Callable[[np.random.Generator], dict[str, Any]]
    call: Callable[[Any, dict[str, Any]], Any] | None = None
    data: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    sizes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    options: tuple[str, ...] = ()
    pair: tuple[str, str] | None = None
    permute: Callable[[Any, np.ndarray], Any] | None = None
    allowed: Mapping[tuple[str, str], str] = field(default_factory=dict)
    slow: bool = False
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # other names a message may use
    no_valid_call: str = ""  # reason the valid call is not run here (too slow for this suite)


def fit(estimator_kwargs: tuple[str, ...]) -> Callable[[Any, dict[str, Any]], Any]:
    """Call for an estimator class: constructor keywords, the rest go to ``fit``."""
    def run(cls: Any, kw: dict[str, Any]) -> Any:
        init = {k: v for k, v in kw.items() if k in estimator_kwargs}
        rest = {k: v for k, v in kw.items() if k not in estimator_kwargs}
        return cls(**init).fit(**rest)
    return run


def construct_forward(init_keys: tuple[str, ...], forward: Callable[[Any, dict[str, Any]], Any]
                      ) -> Callable[[Any, dict[str, Any]], Any]:
    def run(cls: Any, kw: dict[str, Any]) -> Any:
        module = cls(**{k: v for k, v in kw.items() if k in init_keys})
        return forward(module, {k: v for k, v in kw.items() if k not in init_keys})
    return run


def _lower_y(d: dict[str, Any]) -> dict[str, Any]:
    return dict(X=d["X"], y=d["Y"])


def _tokens(d: dict[str, Any]) -> dict[str, Any]:
    return dict(X=d["X"][:, None, :], y=d["Y"])


def permute_rdm(r: Any, perm: np.ndarray) -> Any:
    return r.isel(stimulus=perm, stimulus_=perm)


# Data kinds for plain numeric data; LABELS for label-like arguments.
DATA_KINDS = ("nan", "all_nan", "inf", "empty_first", "empty_last", "single", "constant", "wrong_dims",
              "str", "complex", "object")
NUMERIC_NO_SHAPE = ("nan", "inf", "str", "complex", "object")
NO_POS = {"-1": "", "0": ""}
LONG = "a huge count of iterations is a long run, not an error"
EXTRACT_NAN = "extraction runs the model: NaN / inf in a stimulus gives NaN activations (validate flags them)"
LOADER_NAN = "loaders only read: a NaN sample stays a missing sample"


def STEP_NAN(arg: str) -> dict[tuple[str, str], str]:  # noqa: N802
    reason = "functional torch core: NaN / inf propagates to the state (not validated per step)"
    return {(arg, "nan"): reason, (arg, "all_nan"): reason, (arg, "inf"): reason}


# ------------------------------------------------------------------------------ the registry
# Keyed by "module.name" (the first public path); a name exported from two modules is one
# object and needs one entry (the completeness test compares objects).

def _registry() -> dict[str, Spec]:
    import torch

    from brainbridge import analyses as an
    from brainbridge import encoders as en
    from brainbridge import snn

    lab = ("nan", "empty_first", "single", "constant", "wrong_dims", "object")
    # time-first sequences (T, batch, ...): T = 0 is an error; any trailing neuron shape is valid
    t_kinds = ("nan", "inf", "empty_first", "single", "str", "complex")
    # batch-first steps (batch, features): an empty batch is valid torch; a wrong feature size is not
    b_kinds = ("nan", "inf", "single", "wrong_dims", "str", "complex")
    r: dict[str, Spec] = {}

    # ---- brainbridge (core)
    # align only matches ids (values are not its business): the id cases and the permutation
    r["brainbridge.align"] = Spec(lambda g: dict(zip(("a", "b"), pair(g))), pair=("a", "b"))
    r["brainbridge.assembly"] = Spec(
        lambda g: dict(data=g.normal(size=(6, 4)), dims=("stimulus", "unit"), modality="ann"),
        data={"data": ("empty_first", "empty_last", "wrong_dims", "str", "complex", "object")},
        options=("modality",))
    r["brainbridge.validate"] = Spec(lambda g: dict(da=asm(g)), aliases={"da": ("assembly",)},
                                     data={"da": ("wrong_dims", "str", "complex", "object")})
    r["brainbridge.to_brainscore"] = Spec(lambda g: dict(da=asm(g)),
                                          data={"da": ("wrong_dims", "str", "object")})
    r["brainbridge.to_rsatoolbox"] = Spec(lambda g: dict(da=asm(g)),
                                          data={"da": ("wrong_dims", "empty_first", "str", "complex",
                                                       "object")})
    r["brainbridge.save"] = Spec(lambda g: dict(da=asm(g), path=_tmp() / "a.nc"),
                                 data={"da": ("wrong_dims", "str", "complex", "object")},
                                 allowed={("da", k): "save stores any DataArray of numbers or "
                                          "strings and load returns it identical"
                                          for k in ("wrong_dims", "str", "complex")})
    r["brainbridge.load"] = Spec(lambda g: dict(path=bb.save(asm(g), _tmp() / "a.nc")))
    r["brainbridge.data_dir"] = Spec(lambda g: {})
    r["brainbridge.study_names"] = Spec(lambda g: {})
    r["brainbridge.resolve_device"] = Spec(lambda g: dict(device="cpu"), options=("device",))
    r["brainbridge.load_study"] = Spec(lambda g: dict(source=bb.study_names()[0]), options=("source",))
    r["brainbridge.run_study"] = Spec(lambda g: dict(study=bb.study_names()[0], out_dir=_tmp()),
                                      options=("study",),
                                      no_valid_call="a full study takes minutes (tests/test_study.py)")
    r["brainbridge.write_report"] = Spec(
        lambda g: dict(title="t", sections=[bb.Section("s", text="x")], out_dir=_tmp()))
    r["brainbridge.rebuild_report"] = Spec(lambda g: dict(path=_report()))
    r["brainbridge.render_html"] = Spec(lambda g: dict(results_json_path=_report() / "results.json"))
    r["brainbridge.extract"] = Spec(
        lambda g: dict(model=tiny_net(), stimuli=g.normal(size=(5, 4)).astype("float32"), layers="0",
                       device="cpu", reduce="mean"),
        data={"stimuli": ("nan", "inf", "empty_first", "wrong_dims", "str", "complex", "object")},
        sizes={"batch_size": {"huge": "one batch of everything is valid"}}, options=("reduce", "layers"),
        allowed={("stimuli", "nan"): EXTRACT_NAN, ("stimuli", "inf"): EXTRACT_NAN})
    r["brainbridge.ablate"] = Spec(
        lambda g: dict(model=tiny_net(), units=["0:c1"], mode="zero"),
        call=lambda f, kw: _enter(f(**kw)), options=("mode",))
    r["brainbridge.ablation_effect"] = Spec(
        lambda g: dict(model=tiny_net(), stimuli=g.normal(size=(5, 4)).astype("float32"), units=["0:c1"],
                       layers="2",
                       device="cpu"),
        data={"stimuli": ("nan", "inf", "empty_first", "wrong_dims", "str", "complex", "object")},
        sizes={"batch_size": {"huge": "one batch of everything is valid"}}, options=("mode",),
        allowed={("stimuli", "nan"): EXTRACT_NAN, ("stimuli", "inf"): EXTRACT_NAN})

    # ---- brainbridge.ann / models
    r["brainbridge.ann.load_stimuli"] = Spec(lambda g: dict(source="digits"), options=("source",),
                                             aliases={"source": ("stimuli",)})
    r["brainbridge.ann.unit_table"] = Spec(lambda g: dict(layer="fc", n_channels=3, positions=(2,)),
                                           sizes={"n_channels": {}})
    r["brainbridge.models.ImagePreprocess"] = Spec(
        lambda g: dict(size=8, image=g.random((10, 10, 3))),
        call=lambda c, kw: c(size=kw["size"])(kw["image"]),
        data={"image": ("nan", "empty_first", "wrong_dims", "str", "complex", "object")},
        sizes={"size": {}}, aliases={"image": ("images",)})
    r["brainbridge.models.resolve"] = Spec(lambda g: dict(name="efficientnet_lite0"), options=("name",),
                                           aliases={"name": ("model",)})
    r["brainbridge.models.load"] = Spec(lambda g: dict(spec="efficientnet_lite0"), options=("spec",),
                                        aliases={"spec": ("model",)},
                                        slow=True)
    r["brainbridge.models.efficientnet_lite0"] = Spec(lambda g: {}, slow=True)
    r["brainbridge.models.minilm"] = Spec(lambda g: dict(max_length=8), sizes={"max_length": {}},
                                          slow=True)
    r["brainbridge.models.resolve_layers"] = Spec(lambda g: dict(model=tiny_net(), layers="0"),
                                                  options=("layers",))

    # ---- loaders
    r["brainbridge.loaders.datasets"] = Spec(lambda g: {})
    r["brainbridge.loaders.dataset_info"] = Spec(lambda g: dict(name="nitime-fmri"), options=("name",))
    r["brainbridge.loaders.fetch"] = Spec(lambda g: dict(name="nitime-fmri", progress=False),
                                          options=("name",))
    r["brainbridge.loaders.load_spikes"] = Spec(
        lambda g: dict(times=[np.sort(g.uniform(0, 1, 20)), np.sort(g.uniform(0, 1, 5))], bin_size=0.1,
                       t_stop=1.0),
        data={"times": ("nan", "inf", "str", "complex", "object")},
        sizes={"bin_size": {"2.5": "a 2.5 s bin is valid", "True": ""}, "t_stop": {"2.5": "valid",
               "0": "", "True": "", "huge": "a long recording is valid"}},
        options=("time_unit",))
    r["brainbridge.loaders.load_calcium"] = Spec(
        lambda g: dict(source=g.uniform(1, 2, size=(60, 3)), frame_rate=10.0, dff=True,
                       baseline_window=2.0),
        data={"source": None}, allowed={("source", "nan"): LOADER_NAN},
        sizes={"frame_rate": {"2.5": "valid", "True": "", "huge": "valid"},
                                      "baseline_window": {"2.5": "valid", "huge": ""}},
        options=("baseline",))
    r["brainbridge.loaders.load_eeg"] = Spec(
        lambda g: dict(source=g.normal(scale=1e-5, size=(3, 200)), sfreq=100.0, ch_names=["Fz", "Cz", "Pz"]),
        data={"source": ("nan", "inf", "empty_last", "wrong_dims", "str", "complex", "object")},
        allowed={("source", "nan"): LOADER_NAN},
        sizes={"sfreq": {"2.5": "valid", "huge": "valid", "True": ""}})
    r["brainbridge.loaders.load_fmri"] = Spec(lambda g: dict(source=_nifti(g), mask=np.ones((3, 3, 2), bool)),
                                              sizes={"chunk_size": {"huge": "one chunk of all is valid"}},
                                              slow=True)
    r["brainbridge.loaders.load_grasshopper"] = Spec(lambda g: dict(condition=1), sizes={"condition": {}},
                                                     slow=True)
    r["brainbridge.loaders.load_celegans_connectome"] = Spec(lambda g: dict(name="cook2019"),
                                                             options=("name",), slow=True)
    r["brainbridge.loaders.load_celegans_funatlas"] = Spec(lambda g: dict(strain="wt"), options=("strain",),
                                                           slow=True)
    r["brainbridge.loaders.load_celegans_activity"] = Spec(lambda g: dict(source=_activity_csv(g)),
                                                           sizes={"step": {"2.5": "valid", "True": "",
                                                                           "huge": ""}},
                                                           options=("unknown",))

    # ---- encoders
    def xy(g: np.random.Generator, n: int = 40) -> dict[str, Any]:
        x = g.normal(size=(n, 4))
        return dict(X=x, Y=x @ g.normal(size=(4, 3)) + 0.5 * g.normal(size=(n, 3)))

    r["brainbridge.encoders.RidgeEncoder"] = Spec(
        lambda g: dict(xy(g), cv=3, device="cpu"), call=fit(("cv", "device", "solver", "score_func")),
        data={"X": None, "Y": None}, sizes={"cv": {}}, options=("solver", "score_func"))
    r["brainbridge.encoders.BandedRidgeEncoder"] = Spec(
        lambda g: dict(_lower_y(xy(g)), groups=[slice(0, 2), slice(2, 4)], n_iter=3, cv=3, device="cpu",
                       random_state=0),
        call=fit(("groups", "n_iter", "cv", "device", "random_state", "solver")),
        data={"X": None, "y": None}, sizes={"cv": {}, "n_iter": {}}, options=("solver",))
    r["brainbridge.encoders.AttentionReadout"] = Spec(
        lambda g: dict(_tokens(xy(g)), d_model=4, max_epochs=2, random_state=0, device="cpu"),
        call=fit(("d_model", "max_epochs", "random_state", "device", "n_heads")),
        data={"X": None, "y": None}, sizes={"d_model": {}, "max_epochs": {}})
    r["brainbridge.encoders.solve_ridge_cv"] = Spec(
        lambda g: dict(xy(g), cv=3, device="cpu"), data={"X": None, "Y": None}, sizes={"cv": {}},
        options=("form", "score_func"))
    r["brainbridge.encoders.solve_banded_ridge_random_search"] = Spec(
        lambda g: dict(xy(g, 40), groups=[slice(0, 2), slice(2, 4)], candidates=[[0.5, 0.5], [0.9, 0.1]],
                       alphas=[1.0, 10.0], device="cpu",
                       splits=[(np.arange(20, 40), np.arange(20)), (np.arange(20), np.arange(20, 40))]),
        data={"X": None, "Y": None, "alphas": NUMERIC_NO_SHAPE + ("empty_first",)})
    r["brainbridge.encoders.fit_distributed"] = Spec(
        lambda g: dict(xy(g), encoder=en.RidgeEncoder(cv=3, device="cpu"), client=None),
        slow=True,  # data cases need a cluster: see test_fit_distributed_without_a_client
        no_valid_call="needs a dask.distributed cluster; tests/test_ridge.py runs one")
    r["brainbridge.encoders.fit_lnp"] = Spec(
        lambda g: dict(stimulus=g.normal(size=(200, 2)), counts=g.poisson(1.0, size=(200, 2)).astype(float),
                       n_lags=3),
        data={"stimulus": None, "counts": None}, sizes={"n_lags": {}})
    r["brainbridge.encoders.lagged"] = Spec(
        lambda g: dict(features=g.normal(size=(20, 2)), delays=[0, 2], sampling_rate=100.0),
        data={"features": ("empty_first", "empty_last", "wrong_dims", "str", "complex", "object"),
              "delays": ("nan", "inf", "empty_first", "str", "complex", "object")},
        allowed={})
    r["brainbridge.encoders.split_r2_score"] = Spec(
        lambda g: dict(y_true=g.normal(size=(10, 2)), y_pred_split=g.normal(size=(2, 10, 2))),
        data={"y_true": None, "y_pred_split": None})

    # ---- analyses
    r["brainbridge.analyses.rdm"] = Spec(lambda g: dict(x=asm(g), device="cpu"), data={"x": None},
                                         options=("method",))
    r["brainbridge.analyses.rdm_vector"] = Spec(lambda g: dict(r=rdms(g)[0]),
                                                data={"r": ("nan", "inf", "wrong_dims", "str", "complex")})
    r["brainbridge.analyses.compare_rdms"] = Spec(
        lambda g: dict(zip(("a", "b"), rdms(g)), device="cpu"), data={"a": None, "b": None},
        options=("method",), pair=("a", "b"), permute=permute_rdm)
    r["brainbridge.analyses.permutation_test"] = Spec(
        lambda g: dict(zip(("a", "b"), rdms(g)), n_permutations=20, random_state=0),
        data={"a": None, "b": None}, sizes={"n_permutations": {"huge": LONG}}, options=("method",),
        pair=("a", "b"), permute=permute_rdm)
    r["brainbridge.analyses.bootstrap"] = Spec(
        lambda g: dict(models=rdms(g)[0].expand_dims(model=["m"]), data=subject_rdms(g), n_boot=20,
                       random_state=0, progress=False),
        data={"models": None, "data": None}, sizes={"n_boot": {}}, options=("method",),
        pair=("models", "data"), permute=permute_rdm)
    r["brainbridge.analyses.noise_ceiling"] = Spec(lambda g: dict(rdms=subject_rdms(g)),
                                                   data={"rdms": None}, options=("method",))
    r["brainbridge.analyses.pool_rdms"] = Spec(
        lambda g: dict(vectors=g.random((3, 10))), data={"vectors": None}, options=("method",),
        allowed={("vectors", "nan"): "documented: a NaN pair stays NaN (missing) in the pooled RDM"})
    r["brainbridge.analyses.rsa"] = Spec(
        lambda g: dict(zip(("x", "y"), pair(g)), device="cpu", progress=False),
        data={"x": None, "y": None}, sizes={"n_boot": {"0": "n_boot=0 means no bootstrap"}},
        options=("method", "compare"), pair=("x", "y"))
    r["brainbridge.analyses.cka"] = Spec(lambda g: dict(zip(("x", "y"), pair(g)), device="cpu"),
                                         data={"x": None, "y": None}, options=("kernel", "form"),
                                         pair=("x", "y"))
    r["brainbridge.analyses.from_rsatoolbox_rdms"] = Spec(
        lambda g: dict(rdms=bb.analyses.to_rsatoolbox_rdms(rdms(g)[0])))
    r["brainbridge.analyses.to_rsatoolbox_rdms"] = Spec(
        lambda g: dict(r=rdms(g)[0]), data={"r": ("nan", "inf", "wrong_dims", "str", "complex")})
    r["brainbridge.analyses.encoding_score"] = Spec(
        lambda g: dict(zip(("features", "responses"), pair(g, 30)), cv=3, random_state=0),
        data={"features": None, "responses": None}, sizes={"cv": {}}, pair=("features", "responses"))
    r["brainbridge.analyses.variance_partitioning"] = Spec(
        lambda g: (lambda x, y: dict(features={"A": x[:, :3], "B": x[:, 3:]}, responses=y, cv=3,
                                     random_state=0))(*pair(g, 30)),
        data={"responses": None}, sizes={"cv": {}})
    r["brainbridge.analyses.split_half_ceiling"] = Spec(
        lambda g: dict(responses=bb.assembly(g.normal(size=(20, 6, 3)) + g.normal(size=(20, 1, 3)),
                                             dims=("stimulus", "trial", "unit"), modality="ephys"),
                       n_splits=3, random_state=0),
        data={"responses": None}, sizes={"n_splits": {}})
    r["brainbridge.analyses.spearman_brown"] = Spec(
        lambda g: dict(r=np.array([0.2, 0.5]), n=2.0),
        data={"r": ("inf", "str", "complex", "object")}, sizes={"n": {"2.5": "a fractional length is valid",
                                                                      "huge": "valid", "True": ""}},
        allowed={("r", "nan"): "elementwise: NaN in, NaN out"})
    r["brainbridge.analyses.neuron_correlation"] = Spec(
        lambda g: dict(zip(("a", "b"), pair(g)), device="cpu"), data={"a": None, "b": None},
        sizes={"chunk_size": {"huge": "one chunk of everything is valid"},
               "top_k": {"huge": "all partners: valid"}}, pair=("a", "b"))
    r["brainbridge.analyses.match_units"] = Spec(
        lambda g: dict(zip(("a", "b"), pair(g)), n_permutations=5, device="cpu", random_state=0),
        data={"a": None, "b": None}, sizes={"n_permutations": {"0": "no null", "huge": LONG},
                                            "chunk_size": {"huge": "one chunk of everything is valid"}},
        options=("method",), pair=("a", "b"))
    r["brainbridge.analyses.noise_precision"] = Spec(
        lambda g: dict(residuals=g.normal(size=(30, 4)), device="cpu"), data={"residuals": None},
        sizes={"dof": {}}, options=("method",))
    r["brainbridge.analyses.selectivity"] = Spec(
        lambda g: dict(x=asm(g, 20, 4), labels=np.arange(20) < 10, method="dprime"),
        data={"x": None, "labels": lab}, sizes={"n_permutations": {"0": "no permutations"}},
        options=("method",))
    r["brainbridge.analyses.selective_fraction"] = Spec(
        lambda g: dict(x=asm(g, 20, 4), labels=np.arange(20) < 10, n_permutations=10, random_state=0,
                       progress=False),
        data={"x": None, "labels": lab}, sizes={"n_permutations": {}})
    r["brainbridge.analyses.dead_neurons"] = Spec(
        lambda g: dict(x=asm(g)), data={"x": None},
        sizes={"threshold": {"0": "valid", "-1": "valid", "2.5": "valid", "huge": "valid", "True": ""}})
    r["brainbridge.analyses.domain_neurons"] = Spec(
        lambda g: dict(x=asm(g, 20, 30), domains=["a"] * 10 + ["b"] * 10), data={"x": None, "domains": lab},
        sizes={"top_percentile": {"2.5": "valid", "0": "", "True": ""},
               "entropy_percentile": {"2.5": "valid", "True": ""}})
    r["brainbridge.analyses.positional_neurons"] = Spec(
        lambda g: dict(x=xr.DataArray(g.normal(size=(10, 6, 3)), dims=("stimulus", "token", "unit"),
                                      coords={"unit": ["a", "b", "c"]})),
        data={"x": None}, sizes={"cutoff": {"2.5": "", "0": "valid"}})
    r["brainbridge.analyses.top_stimuli"] = Spec(lambda g: dict(x=asm(g), k=3), data={"x": None},
                                                 sizes={"k": {}})
    r["brainbridge.analyses.normalize"] = Spec(
        lambda g: dict(da=timeseries(g)), data={"da": ("inf", "empty_first", "single", "wrong_dims", "str",
                                                       "complex", "object")},
        options=("method",), allowed={("da", "nan"): "elementwise: NaN stays missing"})
    r["brainbridge.analyses.smooth"] = Spec(
        lambda g: dict(da=timeseries(g)), data={"da": ("inf", "empty_first", "wrong_dims", "str", "complex",
                                                       "object")},
        sizes={"width": {"2.5": "valid", "huge": "valid", "True": ""}}, options=("kind",),
        allowed={("da", "nan"): "documented: a NaN gap restarts the filter"})
    r["brainbridge.analyses.knn_graph"] = Spec(lambda g: dict(x=asm(g), k=3), data={"x": None},
                                               sizes={"k": {}}, options=("metric", "symmetrize"))
    r["brainbridge.analyses.as_graph"] = Spec(lambda g: dict(g=asm(g).values, k=3), data={"g": None})
    r["brainbridge.analyses.connectome_graph"] = Spec(
        lambda g: dict(c=connectome(g), synapse_type="chemical"),
                                                      data={"c": None}, options=("weight",))
    r["brainbridge.analyses.ricci_curvature"] = Spec(lambda g: dict(graph=asm(g, 10, 3).values, k=3),
                                                     data={"graph": None}, sizes={"max_iter": {}},
                                                     options=("method",))
    r["brainbridge.analyses.ricci_flow"] = Spec(
        lambda g: dict(graph=an.knn_graph(asm(g, 10, 3).values, k=3), iterations=2, progress=False),
        sizes={"iterations": {"0": "no flow: the original weights"}},
        options=("method",))  # graph: a Graph here (points: see test_ricci_flow_forwards_knn_options)
    r["brainbridge.analyses.ricci_community"] = Spec(
        lambda g: dict(flow=an.ricci_flow(an.knn_graph(asm(g, 10, 3).values, k=3), iterations=2,
                                          progress=False)),
        sizes={"cutoff_step": {"2.5": "", "huge": "", "True": ""}})
    r["brainbridge.analyses.curvature_communities"] = Spec(
        lambda g: dict(graph=asm(g, 10, 3).values, k=3, flow_iterations=2, progress=False),
        data={"graph": None}, sizes={"flow_iterations": {}}, options=("method", "metric"))
    r["brainbridge.analyses.curvature_alignment"] = Spec(
        lambda g: dict(zip(("a", "b"), pair(g, 12)), k=3, flow_iterations=0, n_permutations=9,
                       random_state=0),
        data={"a": None, "b": None}, sizes={"k": {}, "n_permutations": {"0": "no null"}},
        options=("method", "null"), pair=("a", "b"))
    r["brainbridge.analyses.system_curvature"] = Spec(
        lambda g: dict(result=an.curvature_alignment(*pair(g, 12), k=3, flow_iterations=0,
                                                     n_permutations=0), system="a"),
        options=("system",))
    r["brainbridge.analyses.graph_layout"] = Spec(
        lambda g: dict(curvature=an.ricci_curvature(asm(g, 10, 3).values, k=3)), options=("layout",))
    r["brainbridge.analyses.shuffle_connectome"] = Spec(
        lambda g: dict(connectome=connectome(g), random_state=0), data={"connectome": None},
        sizes={"n_swaps": {"2.5": "a rate per edge", "huge": ""}})
    r["brainbridge.analyses.structure_function"] = Spec(
        lambda g: _structure_function(g), sizes={"n_permutations": {}, "min_units": {}}, slow=True)
    r["brainbridge.analyses.model_recovery"] = Spec(
        lambda g: dict(candidates={f"m{i}": g.normal(size=(20, 8)) for i in range(3)}, truth="m1",
                       noise_levels=(0.0, 1.0), n_repeats=2, random_state=0, progress=False, device="cpu",
                       metrics=("rsa",)),
        sizes={"n_repeats": {}}, options=("truth",))

    # ---- snn
    r["brainbridge.snn.LIF"] = Spec(
        lambda g: dict(beta=0.9, x=torch.rand(4, 2, 3)),
        call=construct_forward(("beta", "reset", "threshold"),
                               lambda m, kw: snn.forward_sequence(m, kw["x"])),
        data={"x": t_kinds}, sizes={"beta": {"0": "beta 0: no memory", "huge": ""}},
        aliases={"x": ("x_seq",)},
        options=("reset",), allowed={("x", "single"): "one time step is a valid sequence", **STEP_NAN("x")})
    r["brainbridge.snn.RLIF"] = Spec(
        lambda g: dict(n_neurons=3, x=torch.rand(4, 2, 3)),
        call=construct_forward(("n_neurons",), lambda m, kw: snn.forward_sequence(m, kw["x"])),
        data={"x": t_kinds + ("wrong_dims",)}, sizes={"n_neurons": {}}, aliases={"x": ("x_seq",)},
        allowed={("x", "single"): "one time step is a valid sequence", **STEP_NAN("x")})
    r["brainbridge.snn.ELM"] = Spec(
        lambda g: dict(n_in=3, n_out=2, n_memory=4, x=torch.rand(2, 3)),
        call=construct_forward(("n_in", "n_out", "n_memory", "variant"), lambda m, kw: m(kw["x"])),
        data={"x": b_kinds}, sizes={"n_in": {}, "n_out": {}, "n_memory": {}}, options=("variant",),
        allowed={("x", "single"): "a batch of one", **STEP_NAN("x")})
    r["brainbridge.snn.Kuramoto"] = Spec(
        lambda g: dict(channels=4, n=2, steps=2, x=torch.rand(2, 4)),
        call=construct_forward(("channels", "n", "steps", "coupling", "readout"),
                               lambda m, kw: m(kw["x"])),
        sizes={"channels": {}, "n": {}, "steps": {"huge": LONG}}, options=("coupling", "readout"))
    r["brainbridge.snn.KuramotoClassifier"] = Spec(
        lambda g: dict(n_in=3, n_classes=2, channels=4, x=torch.rand(2, 3)),
        call=construct_forward(("n_in", "n_classes", "channels"), lambda m, kw: m(kw["x"])),
        sizes={"n_in": {}, "n_classes": {}, "channels": {}})
    r["brainbridge.snn.ConnectomeNetwork"] = Spec(
        lambda g: dict(connectome=connectome(g)), data={"connectome": None},
        sizes={"tau": {"2.5": "valid", "huge": "valid", "True": ""}, "dt": {"2.5": "", "True": ""}},
        options=("nonlinearity", "normalize"))
    r["brainbridge.snn.connectome_simulator"] = Spec(
        lambda g: dict(conn=connectome(g), names=ids(2, "n")),
        call=lambda f, kw: f()(kw["conn"], kw["names"]), data={"conn": None},
        aliases={"conn": ("connectome",)})
    r["brainbridge.snn.simulate_stimulation"] = Spec(
        lambda g: dict(network=connectome(g), stimulated=ids(3, "n"), n_steps=20, device="cpu"),
        data={"network": None}, sizes={"n_steps": {"huge": LONG}, "duration_steps": {}},
        aliases={"network": ("connectome",)})
    r["brainbridge.snn.lif_step"] = Spec(
        lambda g: dict(x=torch.rand(2, 3), state=None, params=snn.LIFParams(beta=0.9, threshold=1.0)),
        data={"x": ("nan", "inf", "single", "str", "complex")},
        sizes={"refractory": {"0": "no refractory period"}}, options=("reset",),
        allowed={("x", "single"): "a batch of one", **STEP_NAN("x")})
    r["brainbridge.snn.lif_seq"] = Spec(
        lambda g: dict(x_seq=torch.rand(4, 2, 3), state=None, params=snn.LIFParams(beta=0.9, threshold=1.0)),
        data={"x_seq": t_kinds}, options=("reset", "reset_timing"),
        allowed={("x_seq", "single"): "one time step", **STEP_NAN("x_seq")})
    r["brainbridge.snn.elm_step"] = Spec(
        lambda g: (lambda m: dict(x=torch.rand(2, 3), state=m.initial_state(2), params=m.params()))(
            snn.ELM(3, 2, n_memory=4)),
        data={"x": b_kinds}, allowed=STEP_NAN("x"))
    r["brainbridge.snn.kuramoto_step"] = Spec(
        lambda g: dict(x=torch.rand(1, 4), c=torch.zeros(1, 4),
                       params=snn.KuramotoParams(coupling=(torch.eye(4),), omega=None), n=2, gamma=1.0,
                       coupling="linear"),
        data={"x": b_kinds}, sizes={"n": {}}, options=("coupling",), allowed=STEP_NAN("x"))
    r["brainbridge.snn.kuramoto_energy"] = Spec(
        lambda g: dict(x=torch.rand(1, 4), c=torch.zeros(1, 4),
                       params=snn.KuramotoParams(coupling=(torch.eye(4),), omega=None), n=2,
                       coupling="linear"),
        data={"x": b_kinds}, sizes={"n": {}}, options=("coupling",), allowed=STEP_NAN("x"))
    r["brainbridge.snn.connectome_step"] = Spec(
        lambda g: dict(x=torch.rand(1, 2), state=None,
                       params=snn.ConnectomeParams(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.zeros(2, 2),
                                                   torch.zeros(2), 1.0, 0.0, 0.5)),
        data={"x": b_kinds}, options=("nonlinearity",), allowed=STEP_NAN("x"))
    r["brainbridge.snn.scaled_tanh"] = Spec(lambda g: dict(z=torch.rand(3)), data={"z": ("str", "complex")})
    r["brainbridge.snn.forward_sequence"] = Spec(
        lambda g: dict(model=snn.LIF(beta=0.5), x=torch.rand(3, 1, 2)), data={"x": ("str", "complex")})
    r["brainbridge.snn.adding_task"] = Spec(lambda g: dict(horizon=5, n_train=8, n_test=4),
                                            sizes={"horizon": {}, "n_train": {}, "n_test": {}})
    r["brainbridge.snn.memory_task"] = Spec(lambda g: dict(horizon=5, n_symbols=3, n_train=8, n_test=4),
                                            sizes={"horizon": {}, "n_symbols": {}, "n_train": {}})
    r["brainbridge.snn.digits_task"] = Spec(lambda g: dict(order="row"), options=("order",),
                                            sizes={"test_size": {"huge": ""}})
    r["brainbridge.snn.grasshopper_task"] = Spec(
        lambda g: dict(recording=bb.loaders.load_grasshopper(1)), sizes={"window": {}, "history": {}},
        slow=True)
    r["brainbridge.snn.build_model"] = Spec(lambda g: dict(name="lif", task=tiny_task(), hidden=4),
                                            aliases={"name": ("model",)},
                                            sizes={"hidden": {}}, options=("name",))
    r["brainbridge.snn.evaluate"] = Spec(
        lambda g: (lambda t: dict(model=snn.build_model("lif", t, hidden=4), task=t, device="cpu"))(
            tiny_task()),
        sizes={"batch_size": {"huge": "one batch of everything is valid"}}, options=("split",))
    r["brainbridge.snn.train"] = Spec(
        lambda g: (lambda t: dict(model=snn.build_model("lif", t, hidden=4), task=t, epochs=1, batch_size=4,
                                  device="cpu", progress=False))(tiny_task()),
        sizes={"epochs": {"huge": LONG}, "batch_size": {"huge": "one batch of everything is valid"}},
        options=("optimizer",))
    r["brainbridge.snn.task_score"] = Spec(
        lambda g: (lambda t: dict(task=t, output=torch.zeros(len(t.y_test), 1)))(tiny_task()),
        data={"output": ("nan", "empty_first", "wrong_dims", "str", "complex")}, options=("split",))
    r["brainbridge.snn.record"] = Spec(
        lambda g: dict(model=snn.LIF(beta=0.5), inputs=torch.rand(2, 4, 3), device="cpu", progress=False,
                       readout="count"),
        data={"inputs": ("nan", "empty_first", "wrong_dims", "str", "complex")},
        sizes={"batch_size": {"huge": "one batch of everything is valid"}}, options=("readout",),
        allowed=STEP_NAN("inputs"))
    r["brainbridge.snn.sample_spikes"] = Spec(
        lambda g: dict(log_rate=np.log([0.5, 2.0]), n_samples=4, random_state=0),
        data={"log_rate": ("nan", "str", "complex", "object")}, sizes={"n_samples": {}},
        allowed={("log_rate", "inf"): "log rate inf"})
    r["brainbridge.snn.threshold_spikes"] = Spec(
        lambda g: dict(rate=0.1 + 0.09 * np.sin(np.arange(200) / 4)), data={"rate": None},
        sizes={"n_levels": {}})
    r["brainbridge.snn.spike_timing"] = Spec(
        lambda g: (lambda rate: dict(rate=rate, spikes=(g.random(rate.size) < rate).astype(float), dt=1e-3,
                                     n_samples=3, n_permutations=5, random_state=0))(
            0.01 + 0.3 * (g.random(2000) < 0.03)),
        data={"rate": None, "spikes": None}, sizes={"n_samples": {}, "n_permutations": {}})
    r["brainbridge.snn.coincidence_factor"] = Spec(
        lambda g: dict(spikes_model=np.array([0.01, 0.05, 0.12]), spikes_data=np.array([0.011, 0.05, 0.13]),
                       duration=0.2),
        data={"spikes_model": ("nan", "inf", "str", "complex", "object", "wrong_dims"),
              "spikes_data": ("nan", "inf", "str", "complex", "object", "wrong_dims")},
        sizes={"delta": {"2.5": "", "True": "", "huge": ""}}, options=("expected",))

    # ---- studies
    r["brainbridge.studies.study_dir"] = Spec(lambda g: {})
    return r
