"""The ``brainbridge`` command line.

Only argparse is imported at start-up; each subcommand imports what it needs, so
``brainbridge --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import os
import platform
import stat
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from .._figures import new_figure, save_figure
from ..ann.models import REGISTRY as MODELS  # the one model registry (imports stdlib only)

logger = logging.getLogger("brainbridge")

#: ``brainbridge load --loader``: name -> loader path.
LOADERS = {
    "eeg": "brainbridge.loaders:load_eeg",
    "fmri": "brainbridge.loaders:load_fmri",
    "calcium": "brainbridge.loaders:load_calcium",
    "celegans-activity": "brainbridge.loaders:load_celegans_activity",
}

#: File endings -> loader name, for ``brainbridge load`` without ``--loader``.
SUFFIX_LOADERS = {
    ".fif": "eeg", ".fif.gz": "eeg", ".edf": "eeg", ".bdf": "eeg", ".vhdr": "eeg", ".set": "eeg",
    ".nii": "fmri", ".nii.gz": "fmri", ".gii": "fmri", ".mgh": "fmri", ".mgz": "fmri",
    ".csv": "fmri", ".tsv": "fmri",
    ".nwb": "calcium",
    ".parquet": "celegans-activity", ".pkl": "celegans-activity", ".pickle": "celegans-activity",
}

_REPORTED_PACKAGES = (
    "numpy", "scipy", "pandas", "xarray", "dask", "h5netcdf", "h5py", "zarr", "torch",
    "scikit-learn", "mne", "nilearn", "pynwb", "transformers", "rsatoolbox", "himalaya",
    "snntorch", "spikingjelly",
)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


# ----------------------------------------------------------------------------- output paths
#: Suffixes of assembly files (``brainbridge.save``; ``brainbridge._storage.FORMATS``).
DATA_SUFFIXES = (".nc", ".nc4", ".h5", ".hdf5", ".zarr")
#: Suffixes of result datasets (scores, comparisons, metrics), written as NetCDF4.
RESULT_SUFFIXES = (".nc", ".nc4", ".h5", ".hdf5")
#: Suffixes of figures.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


class OutputPath(str):
    """A path given to an output flag, with what that flag may name (see :func:`output_path`)."""

    flag: str
    suffixes: tuple[str, ...]
    folder: str  # "no": a file; "also": a folder or a file; "only": a folder


def output_path(flag: str, suffixes: Sequence[str] = (), *,
                folder: str = "no") -> Callable[[str], OutputPath]:
    """An argparse ``type`` for an output flag; :func:`check_outputs` checks every such path.

    ``suffixes`` are the file endings the subcommand writes; ``folder`` is ``"no"`` (a file),
    ``"also"`` (a folder, or a file with one of ``suffixes``) or ``"only"`` (a folder).
    """

    def parse(value: str) -> OutputPath:
        out = OutputPath(value)
        out.flag, out.suffixes, out.folder = flag, tuple(suffixes), folder
        return out

    parse.__name__ = "path"
    parse.output = (flag, tuple(suffixes), folder)  # type: ignore[attr-defined]
    return parse


#: The largest value of an integer flag (counts, sizes, seeds): what every backend can index.
MAX_COUNT = 2**31 - 1


def count(flag: str, low: int) -> Callable[[str], int]:
    """An argparse ``type`` for an integer flag in ``[low, MAX_COUNT]``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= MAX_COUNT:
            raise argparse.ArgumentTypeError(
                f"expected an integer in [{low}, {MAX_COUNT}]; got {value!r}")
        return number

    parse.__name__ = "count"
    return parse


class _Parser(argparse.ArgumentParser):
    """Command-line errors as one line, like every other error of the command line."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message}. See '{self.prog} --help'.\n")


def _writable(path: str) -> bool:
    """Write permission by the mode bits as well as for this user (root ignores the bits)."""
    return bool(os.stat(path).st_mode & stat.S_IWUSR) and os.access(path, os.W_OK)


def _one_of(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _suffix(path: str) -> str:
    return os.path.splitext(path.rstrip("/" + os.sep))[1].lower()


def _check_output(path: OutputPath) -> None:
    """Raise naming the flag unless ``path`` is something the subcommand can write."""
    value, flag = str(path), path.flag
    stripped = value.rstrip("/" + os.sep) or value
    suffix = _suffix(value)
    trailing = stripped != value
    is_dir, exists = os.path.isdir(value), os.path.lexists(value)
    as_folder = path.folder == "only" or (path.folder == "also" and (trailing or is_dir or not suffix))
    if path.folder == "only":
        if exists and not is_dir:
            raise NotADirectoryError(f"Invalid value for {flag!r}: {value!r} is an existing file; "
                                     "expected a folder (it is created if missing).")
    elif as_folder:
        if exists and not is_dir:
            raise NotADirectoryError(
                f"Invalid value for {flag!r}: {value!r} is an existing file; expected a folder or "
                f"a file ending in {_one_of(path.suffixes)}.")
    elif suffix not in path.suffixes:
        got = f"{value!r} (no suffix)" if not suffix else repr(value)
        example = os.path.splitext(stripped)[0] + path.suffixes[0]
        folder_hint = (f" For a folder whose name has a dot, end it with '/' (e.g. "
                       f"{stripped + '/'!r}).") if path.folder == "also" else ""
        expected = ("a folder or a file" if path.folder == "also" else "a file")
        raise ValueError(
            f"Invalid value for {flag!r}: expected {expected} ending in {_one_of(path.suffixes)} "
            f"(the suffix picks the format); got {got}. Use e.g. {example!r}.{folder_hint}")
    elif (trailing or is_dir) and suffix != ".zarr":
        raise IsADirectoryError(f"Invalid value for {flag!r}: {value!r} is a folder; expected a "
                                f"file ending in {_one_of(path.suffixes)}.")
    folder = value if as_folder else (os.path.dirname(stripped) or ".")
    cannot = f"Invalid value for {flag!r}: cannot write {value!r}"
    if os.path.exists(value) and not is_dir and not _writable(value):
        raise PermissionError(f"{cannot}: the file is read-only. Make it writable (chmod u+w) or "
                              "choose another path.")
    existing = folder
    while existing and not os.path.lexists(existing):
        existing = os.path.dirname(existing.rstrip("/" + os.sep))
    existing = existing or "."
    if not os.path.isdir(existing):
        raise NotADirectoryError(f"{cannot}: {existing!r} is a file, not a folder.")
    if not _writable(existing) or not os.access(existing, os.X_OK):
        raise PermissionError(f"{cannot}: the folder {existing!r} is not writable. Choose another "
                              "path.")


def check_outputs(args: argparse.Namespace) -> None:
    """Check every output path of a parsed command line, then create their missing folders.

    Runs before the subcommand does any work, so a wrong suffix or an unwritable folder is
    reported at once, not after a long computation.
    """
    paths = [v for v in vars(args).values() if isinstance(v, OutputPath)]
    for path in paths:
        _check_output(path)
    for path in paths:
        if path.folder != "only" and _suffix(str(path)) in path.suffixes:
            os.makedirs(os.path.dirname(str(path).rstrip("/" + os.sep)) or ".", exist_ok=True)


def _load_factory(spec: str, option: str = "--encoder") -> Callable[[], Any]:
    target = spec
    if ":" not in target:
        raise ValueError(f"Invalid value for {option!r}: expected 'package.module:factory'; got {spec!r}.")
    module_name, attr = target.split(":", 1)
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"Invalid value for {option!r}: cannot import {target!r} ({err}).") from err


def cmd_info(args: argparse.Namespace) -> int:
    """Versions, devices, threads and data folders."""
    from .._config import ENV_DATA, ENV_DEVICE, data_dir

    _out(f"brainbridge {__version__}")
    _out(f"python      {platform.python_version()} ({sys.executable})")
    _out(f"platform    {platform.platform()}")
    _out("packages:")
    for name in _REPORTED_PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        _out(f"  {name:<14}{version}")
    import torch

    cuda = torch.cuda.is_available()
    _out("devices:")
    _out("  cpu           available")
    for i in range(torch.cuda.device_count() if cuda else 0):
        _out(f"  cuda:{i:<9}{torch.cuda.get_device_name(i)}")
    if not cuda:
        _out("  cuda          not available")
    _out(f"threads     torch {torch.get_num_threads()}, cores {os.cpu_count()}")
    _out(f"data folder {data_dir()}  (${ENV_DATA}={os.environ.get(ENV_DATA, '<unset>')})")
    _out(f"device      auto -> {_auto_device()}  (${ENV_DEVICE}="
         f"{os.environ.get(ENV_DEVICE, '<unset>')})")
    return 0


def _auto_device() -> str:
    from .._config import resolve_device

    try:
        return str(resolve_device("auto"))
    except ValueError as err:
        return f"invalid: {err}"


def cmd_extract(args: argparse.Namespace) -> int:
    """Run a model over stimuli and write a stimulus x unit assembly file."""
    from ..ann import extract, load_stimuli
    from ..ann.models import load as load_model
    from ..ann.models import resolve_layers

    model = load_model(args.model)
    ids, stimuli = load_stimuli(args.stimuli)
    layers = [path for group in args.layers for layer in group.split(",") if layer
              for path in resolve_layers(model, layer)]
    da = extract(model, stimuli, layers=layers, batch_size=args.batch_size, device=args.device,
                 reduce=args.reduce, out=args.out, stimulus_ids=ids, progress=not args.quiet)
    _out(f"wrote {args.out}: {da.sizes['stimulus']} stimuli x {da.sizes['unit']} units "
         f"from {len(layers)} layer(s) of {args.model}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    """List dataset manifests, show one, or fetch its files."""
    from brainbridge.loaders import dataset_info, datasets, fetch

    if args.action == "list":
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_colwidth", 60,
                               "display.max_columns", 10):
            _out(datasets().to_string(index=False))
        return 0
    if args.name is None:
        raise ValueError(f"'brainbridge datasets {args.action}' needs a dataset NAME; see "
                         "'brainbridge datasets list'.")
    if args.action == "info":
        import yaml

        _out(yaml.safe_dump(dataset_info(args.name), sort_keys=False, allow_unicode=True).rstrip())
        return 0
    paths = fetch(args.name, dest=args.dest, allow_unpinned=args.allow_unpinned,
                  progress=not args.quiet)
    for name, path in paths.items():
        _out(f"{name}\t{path}")
    return 0


def _parse_args(pairs: Sequence[str], option: str = "--arg") -> dict[str, Any]:
    """``KEY=VALUE`` pairs of a repeatable option -> keyword arguments, values read as YAML."""
    import yaml

    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"Invalid value for {option!r}: expected KEY=VALUE; got {pair!r}.")
        try:
            kwargs[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(
                f"Invalid value for {option!r}: the value of {key!r} is not valid YAML ({problem}); "
                f"got {value!r}. Write a YAML value, e.g. {key}=2.0 or {key}='[1, 2]', or quote "
                f"a string: {key}='\"{value}\"'."
            ) from None
    return kwargs


def _check_kwargs(func: Callable[..., Any], kwargs: dict[str, Any], option: str, *,
                  skip_first: bool = False) -> None:
    """Raise naming ``option`` if ``func`` takes no keyword argument of one of ``kwargs``."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    names = [n for i, (n, p) in enumerate(params.items())
             if (i > 0 or not skip_first) and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    from .._checks import _suggest

    for key in kwargs:
        if key not in names:
            raise ValueError(
                f"Invalid value for {option!r}: {func.__name__} has no option {key!r}."
                f"{_suggest(key, names)} Its options: {', '.join(names) or 'none'}."
            )


def _loader_for(source: str, name: str | None) -> tuple[str, Callable[..., Any]]:
    if name is None:
        lower = source.lower()
        matches = [s for s in SUFFIX_LOADERS if lower.endswith(s)]
        if matches:
            name = SUFFIX_LOADERS[max(matches, key=len)]
        elif os.path.isdir(source):
            name = "calcium"  # suite2p output folders
        else:
            raise ValueError(
                f"Cannot tell which loader reads {source!r} from its name; pass --loader "
                f"({', '.join(LOADERS)})."
            )
    if name not in LOADERS:
        from .._checks import _check_option

        _check_option("--loader", name, LOADERS)
    return name, _load_factory(LOADERS[name], "--loader")


def _save_result(result: Any, target: str) -> list[str]:
    """Save a DataArray, a NamedTuple of DataArrays or a Dataset of assemblies; return the paths."""
    import xarray as xr

    from .._storage import save

    if isinstance(result, xr.DataArray):
        return [str(save(result, target))]
    parts = (dict(result.data_vars) if isinstance(result, xr.Dataset)
             else result._asdict() if hasattr(result, "_asdict") else None)
    if parts is None:
        raise TypeError(f"The loader returned {type(result).__name__}; expected assemblies.")
    root, ext = os.path.splitext(target)
    return [str(save(da, f"{root}-{key}{ext}")) for key, da in parts.items()]


def cmd_load(args: argparse.Namespace) -> int:
    """Read a recording (or a packaged dataset) and write it as assembly file(s)."""
    import inspect

    kwargs = _parse_args(args.arg or [])
    if args.source.startswith("dataset:"):
        from brainbridge.loaders import dataset_info, fetch

        name, _, wanted = args.source[len("dataset:"):].partition("/")
        manifest = dataset_info(name)
        module, _, attr = manifest["loader"].rpartition(".")
        loader = getattr(importlib.import_module(module), attr)
        kwargs = {**(manifest.get("loader_args") or {}), **kwargs}
        first = next(iter(inspect.signature(loader).parameters), None)
        if first == "source":
            files = fetch(name, progress=not args.quiet)
            if not wanted and len(files) > 1:
                raise ValueError(
                    f"Dataset {name!r} has {len(files)} files; name one as "
                    f"'dataset:{name}/FILE' (one of {', '.join(files)})."
                )
            chosen = wanted or next(iter(files))
            if chosen not in files:
                raise ValueError(f"Dataset {name!r} has no file {chosen!r}; its files are "
                                 f"{', '.join(files)}.")
            _check_kwargs(loader, kwargs, "--arg", skip_first=True)
            result = loader(files[chosen], **kwargs)
        else:
            _check_kwargs(loader, kwargs, "--arg")
            result = loader(**kwargs)
    else:
        name, loader = _loader_for(args.source, args.loader)
        _check_kwargs(loader, kwargs, "--arg", skip_first=True)
        try:
            result = loader(args.source, **kwargs)
        except ValueError as err:
            if args.loader is not None or type(err) is not ValueError:
                raise
            raise ValueError(
                f"{err} (The {name!r} loader was chosen from the file name; pass --loader to use "
                f"another: {', '.join(LOADERS)}.)"
            ) from err
    for path in _save_result(result, args.to):
        _out(f"wrote {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two assembly files with RSA or CKA; write the result and a figure."""
    import xarray as xr

    from .._storage import load

    a, b = load(args.a), load(args.b)
    if args.method == "rsa":
        from brainbridge.analyses import rsa

        result = rsa(a, b, method=args.rdm, compare=args.compare, by_x=args.by_a,
                     by_y=args.by_b, n_boot=args.n_boot, random_state=args.random_state,
                     device=args.device, progress=not args.quiet)
        table = result["similarity"]
    else:
        from brainbridge.analyses import cka

        table = cka(a, b, kernel=args.kernel, debiased=args.debiased, by_x=args.by_a,
                    by_y=args.by_b, device=args.device)
        result = xr.Dataset({"cka": table}, attrs={"kernel": args.kernel,
                                                   "debiased": int(args.debiased)})
    result.attrs.update({"a": str(args.a), "b": str(args.b), "method": args.method})
    _write_dataset(result, args.out)
    _out(f"wrote {args.out}")
    if args.figure:
        from brainbridge.analyses import plot_comparison

        fig, ax = new_figure(size=(6, 5))
        plot_comparison(result, ax=ax)
        _out(f"wrote {save_figure(fig, args.figure)}")
    if table.ndim <= 2 and table.size <= 400:
        _out(table.to_pandas().to_string() if table.ndim else f"{args.method}: {float(table):.4f}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    """Fit a cross-validated encoding model and write per-unit scores plus a figure."""
    from brainbridge.analyses import encoding_score

    from .._storage import load

    features, responses = load(args.features), load(args.responses)
    encoder = None
    if args.encoder != "ridge":
        encoder = _load_factory(args.encoder)()
    if args.delays:
        from brainbridge.encoders import lagged

        lo, _, hi = args.delays.partition(":")
        delays = list(range(int(lo), int(hi or lo) + 1))
        features = lagged(features, delays, groups=args.groups)
    scores = encoding_score(features, responses, encoder=encoder, cv=args.cv,
                            groups=args.groups, random_state=args.random_state)
    scores.attrs["modality"] = responses.attrs.get("modality", "")
    _write_dataset(scores, args.out)
    _out(f"wrote {args.out}")
    r = scores["r"]
    _out(f"held-out Pearson r over {r.sizes['unit']} units: median {float(r.median()):.3f}, "
         f"max {float(r.max()):.3f}")
    if args.figure:
        from brainbridge.analyses import plot_encoding_scores, plot_score_map

        has_map = all(c in r.coords for c in ("x", "y"))
        fig, axes = new_figure(1, 2 if has_map else 1, size=(10 if has_map else 5, 4), squeeze=False)
        plot_encoding_scores(scores, ax=axes[0, 0])
        if has_map:
            plot_score_map(r, modality=scores.attrs["modality"], ax=axes[0, 1])
        _out(f"wrote {save_figure(fig, args.figure)}")
    return 0


def cmd_selectivity(args: argparse.Namespace) -> int:
    """Per-unit selectivity of an assembly file; writes scores, top stimuli and a figure."""
    import re

    import numpy as np
    import xarray as xr

    from brainbridge.analyses import selectivity, top_stimuli

    from .._storage import load

    if (args.labels is None) == (args.positive is None):
        raise ValueError("Give exactly one of '--labels' (a stimulus coord) or '--positive' "
                         "(a regular expression on stimulus ids, e.g. '^face_').")
    if args.positive is not None:
        try:
            positive = re.compile(args.positive)
        except re.error as err:
            raise ValueError(
                f"Invalid value for '--positive': expected a regular expression; got "
                f"{args.positive!r} ({err}). Escape special characters with a backslash "
                "(e.g. '\\(' for a literal '('), and quote the pattern for the shell."
            ) from None
    acts = load(args.acts)
    if args.positive is not None:
        labels = np.array([bool(positive.search(str(s)))
                           for s in acts["stimulus"].values])
        target = True
    else:
        labels, target = args.labels, args.target
    family = args.family if args.family or "layer" not in acts.coords else "layer"
    perm = {"n_permutations": args.n_permutations, "family": family, "alpha": args.alpha,
            "random_state": args.random_state} if args.n_permutations else {}
    scores = selectivity(acts, labels, method=args.method, target=target, **perm)
    top = top_stimuli(acts, k=args.top)
    result = xr.merge([scores, top.rename(stimulus="top_stimulus", value="top_value")])
    _write_dataset(result, args.out)
    _out(f"wrote {args.out}")
    if "layer" in scores.coords:
        table = scores["score"].groupby("layer").median()
        if perm:
            _out(f"median {args.method} per layer, permutation bar (alpha {args.alpha}, "
                 f"{args.n_permutations} shuffles) and units above it:")
            bars = scores["threshold"].groupby("layer").first()
            counts = scores["significant"].groupby("layer").sum()
            for layer, value, bar, count in zip(table["layer"].values, table.values, bars.values,
                                                counts.values):
                _out(f"  {layer:<24}{float(value):8.3f}{float(bar):8.3f}{int(count):6d}")
        else:
            _out(f"median {args.method} per layer:")
            for layer, value in zip(table["layer"].values, table.values):
                _out(f"  {layer:<24}{float(value):8.3f}")
    if args.figure:
        from brainbridge.analyses import plot_selectivity

        fig, ax = new_figure(size=(6, 4))
        plot_selectivity(scores, ax=ax)
        _out(f"wrote {save_figure(fig, args.figure)}")
    return 0


def _write_dataset(ds: Any, path: str) -> None:
    from .._storage import atomic_path

    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


def _train_paths(out: str) -> tuple[str, str, str]:
    """Metrics (.nc), metrics table (.csv) and checkpoint (.pt) paths for ``--out``."""
    if out.lower().endswith(".nc"):
        stem = out[:-3]
        return out, stem + ".csv", stem + ".pt"
    return (os.path.join(out, "metrics.nc"), os.path.join(out, "metrics.csv"),
            os.path.join(out, "checkpoint.pt"))


def cmd_train(args: argparse.Namespace) -> int:
    """Train a small LIF, ELM or LSTM network on a built-in task; write metrics and a checkpoint."""
    from brainbridge.snn import TASKS, build_model, train

    from .._storage import atomic_path

    task_args = _parse_args(args.task_arg or [], "--task-arg")
    model_args = _parse_args(args.model_arg or [], "--model-arg")
    if args.task == "grasshopper":  # the task takes the recording: --task-arg condition=2
        from brainbridge.loaders import load_grasshopper

        condition = task_args.pop("condition", 1)
        _check_kwargs(TASKS[args.task], task_args, "--task-arg", skip_first=True)
        task_args = {"recording": load_grasshopper(condition), **task_args}
    else:
        _check_kwargs(TASKS[args.task], task_args, "--task-arg")
    task = TASKS[args.task](**task_args)
    try:
        model = build_model(args.model, task, hidden=args.hidden, random_state=args.random_state,
                            **model_args)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        raise ValueError(f"Invalid value for '--model-arg': the {args.model!r} model takes no such "
                         f"option ({err}). Its options are listed in help(brainbridge.snn."
                         "build_model).") from err
    nc_path, csv_path, ckpt_path = _train_paths(args.out)
    os.makedirs(os.path.dirname(nc_path) or ".", exist_ok=True)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    metrics = train(model, task, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                    optimizer=args.optimizer, clip_grad_norm=args.clip_grad_norm,
                    random_state=args.random_state, device=args.device, checkpoint=ckpt_path,
                    resume=args.resume, progress=not args.quiet)
    metrics.attrs.update({"model": args.model, "hidden": args.hidden})
    _write_dataset(metrics, nc_path)
    with atomic_path(csv_path) as tmp:
        metrics.to_dataframe().to_csv(tmp, float_format="%.6g")
    for path in (nc_path, csv_path, ckpt_path):
        _out(f"wrote {path}")
    last = metrics.isel(epoch=-1)
    name = f"test_{task.metric}"
    _out(f"{task.name} / {args.model}: epoch {int(last['epoch'])}, test loss "
         f"{float(last['test_loss']):.4f}, test {task.metric} {float(last[name]):.4f} "
         f"(chance {task.chance:.4g}), seed {args.random_state}")
    if args.figure:
        from brainbridge.analyses import plot_training

        fig, axes = new_figure(1, 2, size=(9, 3.5))
        plot_training(metrics, axes=axes)
        _out(f"wrote {save_figure(fig, args.figure)}")
    return 0


def _curvature_input(path: str, args: argparse.Namespace) -> Any:
    """A connectome file -> its Graph; a stimulus assembly -> the DataArray (kNN graph later)."""
    from brainbridge.analyses import connectome_graph

    from .._storage import load

    da = load(path)
    if {"pre", "post"} <= set(da.dims):
        return connectome_graph(da, synapse_type=args.synapse_type, weight=args.weight or "unweighted",
                                directed=False if args.undirected else None)
    for flag, value in (("--synapse-type", args.synapse_type), ("--weight", args.weight),
                        ("--undirected", args.undirected or None)):
        if value is not None:
            raise ValueError(
                f"'{flag}' applies to connectome files (dims pre, post); {path} has dims "
                f"{tuple(da.dims)}. Drop {flag}, or pass a connectome saved with brainbridge.save."
            )
    return da


def cmd_curvature(args: argparse.Namespace) -> int:
    """Ollivier-Ricci curvature of one graph, or curvature alignment of two systems."""
    import numpy as np

    from brainbridge.analyses import Graph, curvature_alignment, curvature_communities

    inputs = [_curvature_input(path, args) for path in [args.a] + ([args.b] if args.b else [])]
    if args.b is None:
        if args.flow and isinstance(inputs[0], Graph) and inputs[0].directed:
            raise ValueError(
                "'--flow' needs an undirected graph (Ricci flow); this connectome graph is directed. Add "
                "--undirected, use --synapse-type electrical, or pass --flow 0."
            )
        ds = curvature_communities(inputs[0], k=args.k, metric=args.metric, alpha=args.alpha,
                                   method=args.method, flow_iterations=args.flow,
                                   progress=not args.quiet, device=args.device)
        ds.attrs["input"] = str(args.a)
        _write_dataset(ds, args.out)
        _out(f"wrote {args.out}")
        kappa = ds["edge_curvature"].values
        node = ds["node_curvature"].values
        kind = "directed" if ds.attrs["directed"] else "undirected"
        _out(f"graph: {ds.sizes['node']} nodes, {kappa.size} {kind} edges")
        if kappa.size:
            _out(f"edge curvature: mean {kappa.mean():.4f}, median {np.median(kappa):.4f}, "
                 f"negative {np.mean(kappa < 0):.1%}")
            _out(f"node curvature: mean {np.nanmean(node):.4f}")
        if args.flow:
            n_com = int(ds["community"].max()) + 1
            if n_com:
                _out(f"communities after {ds.attrs['flow_iterations']} flow iterations: {n_com} "
                     f"(modularity {ds.attrs['modularity_at_cutoff']:.3f} at cutoff "
                     f"{ds.attrs['cutoff']:.3f})")
            else:
                _out("communities: none found")
    else:
        ds = curvature_alignment(inputs[0], inputs[1], k=args.k, metric=args.metric, alpha=args.alpha,
                                 method=args.method, flow_iterations=args.flow,
                                 n_permutations=args.n_permutations, null=args.null,
                                 degree_bins=args.degree_bins, random_state=args.random_state,
                                 progress=not args.quiet, device=args.device)
        ds.attrs.update({"a": str(args.a), "b": str(args.b)})
        _write_dataset(ds, args.out)
        _out(f"wrote {args.out}")
        _out(f"a: {ds.attrs['n_nodes_a']} nodes, {ds.attrs['n_edges_a']} edges; b: "
             f"{ds.attrs['n_nodes_b']} nodes, {ds.attrs['n_edges_b']} edges; shared: "
             f"{ds.attrs['n_shared_nodes']} nodes, {ds.attrs['n_shared_edges']} edges")
        _out(f"mean edge curvature: a {ds['edge_curvature_a'].mean().item():.4f}, "
             f"b {ds['edge_curvature_b'].mean().item():.4f}")
        _out(f"{'score':<18}{'value':>9}{'p':>9}")
        for score, value, p in zip(ds["score"].values, ds["value"].values, ds["p_value"].values):
            _out(f"{score:<18}{value:9.4f}{'' if np.isnan(p) else f'{p:9.4f}'}")
        if ds.attrs["community_note"]:
            _out(f"communities: {ds.attrs['community_note']}")
    if args.figure:
        from brainbridge.analyses import plot_curvature_summary

        fig, axes = new_figure(1, 3 if args.b else 2, size=(15 if args.b else 11, 4.5))
        plot_curvature_summary(ds, axes=axes)
        _out(f"wrote {save_figure(fig, args.figure)}")
    return 0


def _run_studies(names: list[Any], out: str, *, quick: bool, progress: bool | None) -> int:
    """Run studies one after another into ``out/<name>/`` and print a summary table."""
    from ..studies import load_study, run_study

    rows = []
    for name in names:
        study = load_study(name, quick=quick)
        target = os.path.join(out, study.name)
        _out(f"running study {study.name} -> {target}")
        result = run_study(study, target, quick=quick, progress=progress)
        rows.append(result)
        _out(f"  wrote {result['paths']['html']} ({result['seconds']:.0f} s)")
    _out("")
    _out(f"{'study':<30}{'seconds':>9}  key numbers")
    for result in rows:
        first = result["summary"][0] if result["summary"] else {}
        keys = [f"{k}={v}" for k, v in first.items() if k not in ("analysis", "seconds")][:2]
        _out(f"{result['name']:<30}{result['seconds']:>9.0f}  {'; '.join(keys)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the built-in studies on real data that ships with the packages."""
    from .._checks import _check_option
    from ..studies import study_names

    names = study_names()
    chosen = names if not args.study else args.study
    for name in chosen:
        _check_option("--study", name, names)
    return _run_studies(chosen, args.out, quick=args.quick, progress=None if not args.quiet else False)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a study described in a YAML file."""
    return _run_studies([args.study], args.out, quick=args.quick, progress=None if not args.quiet else False)


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild report.html from a results.json (or its folder)."""
    from ..studies import rebuild_report

    path = rebuild_report(args.results)
    _out(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="brainbridge",
        description="Artificial and biological neurons on one footing.",
    )
    parser.add_argument("--version", action="version", version=f"brainbridge {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="debug log output (default: info)")
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars, warnings only")
    # Every output flag has an output_path type: check_outputs checks them all before any work.
    outputs = _Parser(add_help=False)  # compare, encode, selectivity, curvature
    outputs.add_argument("--out", required=True, type=output_path("--out", RESULT_SUFFIXES),
                         help="result file (.nc)")
    figure = _Parser(add_help=False)
    figure.add_argument("--figure", default=None, type=output_path("--figure", FIGURE_SUFFIXES),
                        help="figure file (.png, .svg or .pdf)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", parents=[common],
                       help="versions, devices, threads and data folders")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "extract", parents=[common], help="ANN activations for a stimulus set -> assembly file",
        description="Run a model over stimuli and write a stimulus x unit assembly (.nc or .zarr). "
                    "Example: brainbridge extract --model efficientnet_lite0 --stimuli skimage "
                    "--layers _blocks.15 --reduce mean --out acts.nc")
    p.add_argument("--model", required=True,
                   help=f"one of {', '.join(MODELS)}, or 'package.module:factory' returning a "
                        "torch.nn.Module")
    p.add_argument("--stimuli", required=True,
                   help="built-in set (skimage, lfw, digits), an image folder, a .npy array or "
                        "a .txt file with one sentence per line")
    p.add_argument("--layers", required=True, nargs="+",
                   help="module paths, space- or comma-separated (e.g. _blocks.0,_blocks.15), "
                        "or a preset of the model (efficientnet_lite0: blocks; minilm: layers, ffn)")
    p.add_argument("--out", required=True, type=output_path("--out", DATA_SUFFIXES),
                   help="output file, .nc or .zarr (written atomically)")
    p.add_argument("--reduce", choices=["flatten", "mean", "max"], default=None,
                   help="pool over spatial / token positions (default: keep every position)")
    p.add_argument("--batch-size", type=count("--batch-size", 1), default=64)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("datasets", parents=[common], help="list, describe or fetch datasets",
                       description="Datasets described by the manifests in data_manifests/.")
    p.add_argument("action", choices=["list", "info", "fetch"])
    p.add_argument("name", nargs="?", help="dataset name (see 'datasets list')")
    p.add_argument("--dest", default=None, type=output_path("--dest", folder="only"),
                   help="download folder (default $BRAINBRIDGE_DATA/NAME)")
    p.add_argument("--allow-unpinned", action="store_true",
                   help="download files without a published sha256 and pin the first download's")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser(
        "load", parents=[common], help="recording -> assembly file",
        description="Read a recording with the matching loader and write it as an assembly. "
                    "SOURCE is a file or folder, or 'dataset:NAME[/FILE]' for a manifest dataset. "
                    "Example: brainbridge load rec.edf --to rec.nc")
    p.add_argument("source")
    p.add_argument("--to", required=True, type=output_path("--to", DATA_SUFFIXES),
                   help="output .nc or .zarr (several files get -NAME)")
    p.add_argument("--loader", default=None,
                   help=f"one of {', '.join(LOADERS)} (default: from the file name)")
    p.add_argument("--arg", action="append", metavar="KEY=VALUE",
                   help="loader option, repeatable; values are read as YAML (e.g. --arg tr=2.0)")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser(
        "compare", parents=[common, outputs, figure], help="RSA or CKA between two assembly files",
        description="Align two assemblies on their stimuli and compare their representations. "
                    "Example: brainbridge compare model.nc brain.nc --method rsa --by-a layer "
                    "--n-boot 1000 --out rsa.nc --figure rsa.png")
    p.add_argument("a", help="first assembly file (.nc or .zarr)")
    p.add_argument("b", help="second assembly file")
    p.add_argument("--method", choices=["rsa", "cka"], default="rsa")
    p.add_argument("--rdm", default="correlation", help="RDM method for rsa (default correlation)")
    p.add_argument("--compare", default="spearman", help="RDM comparison for rsa (default spearman)")
    p.add_argument("--kernel", default="linear", help="CKA kernel: linear or rbf")
    p.add_argument("--debiased", action="store_true", help="unbiased HSIC for CKA")
    p.add_argument("--by-a", default=None, help="unit coord splitting A (e.g. layer)")
    p.add_argument("--by-b", default=None, help="unit coord splitting B (e.g. region)")
    p.add_argument("--n-boot", type=count("--n-boot", 0), default=0,
                   help="bootstrap samples over stimuli (rsa)")
    p.add_argument("--random-state", "--seed", type=count("--random-state", 0), default=0, metavar="N",
                   help="seed of the bootstrap (default 0)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "encode", parents=[common, outputs, figure],
        help="cross-validated encoding model: features -> responses",
        description="Predict responses from features with cross-validation and write per-unit "
                    "scores (r, R2, noise ceiling). Example: brainbridge encode acts.nc bold.nc "
                    "--out scores.nc --figure scores.png")
    p.add_argument("features", help="feature assembly file (stimulus or time x unit)")
    p.add_argument("responses", help="response assembly file")
    p.add_argument("--encoder", default="ridge",
                   help="ridge (RidgeEncoder, default) or 'package.module:factory'")
    p.add_argument("--cv", type=count("--cv", 2), default=5, help="folds (default 5)")
    p.add_argument("--groups", default=None,
                   help="coord holding run / block ids; folds never split a group")
    p.add_argument("--delays", default=None,
                   help="FIR delays in samples, LO:HI (time series), e.g. 0:10")
    p.add_argument("--random-state", "--seed", type=count("--random-state", 0), default=0, metavar="N",
                   help="seed of the fold split (default 0)")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "selectivity", parents=[common, outputs, figure], help="per-unit selectivity of an assembly file",
        description="Score every unit's selectivity for a stimulus class. Example: brainbridge "
                    "selectivity acts.nc --positive '^face_' --out sel.nc --figure sel.png")
    p.add_argument("acts", help="stimulus x unit assembly file (e.g. from brainbridge extract)")
    p.add_argument("--labels", default=None, help="stimulus coord holding class labels")
    p.add_argument("--target", default=None, help="preferred class (with --labels)")
    p.add_argument("--positive", default=None,
                   help="regular expression on stimulus ids marking the preferred class")
    p.add_argument("--method", default="dprime", help="dprime, csi, t, anova, ... (default dprime)")
    p.add_argument("--top", type=count("--top", 1), default=5, help="top stimuli kept per unit")
    p.add_argument("--n-permutations", "--permutations", type=count("--n-permutations", 0), default=0,
                   metavar="N",
                   help="label shuffles for a family-wise permutation bar (e.g. 1000; default 0: none)")
    p.add_argument("--family", default=None,
                   help="unit coord grouping units for the bar (default: 'layer' when present)")
    p.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate (default 0.05)")
    p.add_argument("--random-state", "--seed", type=count("--random-state", 0), default=0, metavar="N",
                   help="seed of the shuffles (default 0)")
    p.set_defaults(func=cmd_selectivity)

    p = sub.add_parser(
        "train", parents=[common, figure],
        help="train a small LIF, ELM or LSTM network on a built-in task",
        description="Train a small network on a task that needs no download and write per-epoch "
                    "metrics (--out DIR gives DIR/metrics.nc, DIR/metrics.csv and "
                    "DIR/checkpoint.pt; --out NAME.nc gives NAME.nc, NAME.csv and NAME.pt). "
                    "Example: brainbridge train --task memory --task-arg horizon=100 --model elm "
                    "--epochs 20 --out run/ --figure run/curves.png")
    p.add_argument("--out", required=True, type=output_path("--out", (".nc",), folder="also"),
                   help="output folder, or NAME.nc (then NAME.csv and NAME.pt beside it)")
    p.add_argument("--task", required=True, choices=["digits", "memory", "adding", "grasshopper"])
    p.add_argument("--task-arg", action="append", metavar="KEY=VALUE",
                   help="task option, repeatable, read as YAML (e.g. horizon=100, order=pixel; "
                        "condition=2 picks the grasshopper recording)")
    p.add_argument("--model", required=True, choices=["lif", "elm", "lstm"])
    p.add_argument("--model-arg", action="append", metavar="KEY=VALUE",
                   help="model option, repeatable (e.g. recurrent=false for lif, lam=5 for elm)")
    p.add_argument("--hidden", type=count("--hidden", 1), default=64,
                   help="hidden neurons / memory units / LSTM cells (default 64)")
    p.add_argument("--epochs", type=count("--epochs", 1), required=True)
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=count("--batch-size", 1), default=64)
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    p.add_argument("--clip-grad-norm", type=float, default=None,
                   help="clip the global gradient norm to this value (default: no clipping)")
    p.add_argument("--random-state", "--seed", type=count("--random-state", 0), default=0, metavar="N",
                   help="seed of the initial weights, the data order and every RNG (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--threads", type=count("--threads", 0), default=0,
                   help="torch CPU threads (default: torch's choice; 1 is fastest for small models)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out if there is one")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "curvature", parents=[common, outputs, figure],
        help="Ollivier-Ricci curvature of a graph, or curvature alignment of two systems",
        description="One file: Ollivier-Ricci curvature of its graph (a kNN graph over the stimuli "
                    "of a stimulus x unit assembly, or a connectome pre x post), plus Ricci-flow "
                    "communities with --flow N. Two files: curvature_alignment of the two systems "
                    "(curvature distributions, matched-node and shared-edge correlations, community "
                    "agreement, permutation p-values). Example: brainbridge curvature layer.nc "
                    "brain.nc --k 10 --flow 10 --n-permutations 1000 --out curv.nc --figure curv.png")
    p.add_argument("a", help="assembly file (stimulus x unit, or a connectome pre x post)")
    p.add_argument("b", nargs="?", default=None, help="second assembly file: compare the two systems")
    p.add_argument("--k", type=count("--k", 1), default=10, help="neighbours of the kNN graph (default 10)")
    p.add_argument("--metric", default="euclidean",
                   help="distance between response vectors for the kNN graph (default euclidean)")
    p.add_argument("--alpha", type=float, default=0.5, help="mass kept on each node (default 0.5)")
    p.add_argument("--method", choices=["exact", "sinkhorn"], default="exact")
    p.add_argument("--flow", type=count("--flow", 0), default=0,
                   help="Ricci-flow iterations before community detection (default 0: none)")
    p.add_argument("--n-permutations", "--permutations", type=count("--n-permutations", 0),
                   default=1000, metavar="N",
                   help="node-label shuffles for p-values of an alignment (default 1000)")
    p.add_argument("--null", choices=["labels", "degree"], default="labels",
                   help="alignment null: shuffle all labels, or only within degree strata of b")
    p.add_argument("--degree-bins", type=count("--degree-bins", 1), default=10,
                   help="degree strata of --null degree (default 10)")
    p.add_argument("--synapse-type", default=None,
                   help="connectome files: chemical or electrical (needed when both are present)")
    p.add_argument("--weight", choices=["unweighted", "inverse", "count"], default=None,
                   help="connectome edge length: 1, 1/synapses or synapses (default unweighted)")
    p.add_argument("--undirected", action="store_true",
                   help="connectome files: ignore direction (needed for --flow on chemical synapses)")
    p.add_argument("--random-state", "--seed", type=count("--random-state", 0), default=0, metavar="N",
                   help="seed of the shuffles (default 0)")
    p.add_argument("--device", default="auto", help="device of --method sinkhorn (auto, cpu, cuda)")
    p.set_defaults(func=cmd_curvature)
    p = sub.add_parser(
        "demo", parents=[common], help="run the built-in studies on real data (HTML report)",
        description="Run the built-in studies (C. elegans structure vs function, vision units, model "
                    "recovery, auditory receptor) on data that ships with the packages, and write one "
                    "HTML report per study with its figures and results.json. Example: brainbridge "
                    "demo --out demo/")
    p.add_argument("--study", action="append", default=None,
                   help="run only this study (repeatable); default: all")
    p.add_argument("--out", default="brainbridge-demo", type=output_path("--out", folder="only"),
                   help="output folder (default brainbridge-demo)")
    p.add_argument("--quick", action="store_true", help="reduced sizes (seconds, for a smoke test)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "run", parents=[common], help="run a study described in a YAML file",
        description="Run a study file (format: brainbridge.studies; the built-in studies in "
                    "brainbridge/studies/ are examples). Example: brainbridge run my_study.yaml --out runs/")
    p.add_argument("study", help="study YAML file, or the name of a built-in study")
    p.add_argument("--out", default="brainbridge-runs", type=output_path("--out", folder="only"),
                   help="output folder (default brainbridge-runs)")
    p.add_argument("--quick", action="store_true", help="apply the study's quick: overrides")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", parents=[common], help="rebuild a study's HTML report",
                       description="Rebuild report.html from results.json and the saved figures.")
    p.add_argument("results", help="results.json, or the folder that holds it")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a command-line error (already reported)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    if args.command is None:
        parser.print_help()
        return 0
    os.environ.setdefault("MPLBACKEND", "agg")  # the command line only writes figure files
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        check_outputs(args)
        return int(args.func(args))
    except (ValueError, TypeError, OSError, ImportError) as err:
        # Errors of the input (arguments, files, missing extras) are one line; -v adds the
        # traceback. Any other exception type is a bug and keeps its traceback.
        logger.debug("command failed", exc_info=True)
        sys.stderr.write(f"brainbridge {args.command}: error: {err}\n")
        return 2
