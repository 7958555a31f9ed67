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
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__

logger = logging.getLogger("brainbridge")

#: Built-in models for ``brainbridge extract --model``: name -> factory path.
MODELS = {
    "efficientnet-lite0": "brainbridge.models:efficientnet_lite0",
    "minilm": "brainbridge.models:minilm",
}

_REPORTED_PACKAGES = (
    "numpy", "scipy", "pandas", "xarray", "dask", "h5netcdf", "h5py", "zarr", "torch",
    "scikit-learn", "mne", "nilearn", "pynwb", "transformers", "rsatoolbox", "himalaya",
    "snntorch", "spikingjelly",
)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _load_factory(spec: str) -> Callable[[], Any]:
    target = MODELS.get(spec, spec)
    if ":" not in target:
        raise ValueError(
            f"Invalid value for '--model': expected one of {', '.join(MODELS)} or "
            f"'package.module:factory'; got {spec!r}."
        )
    module_name, attr = target.split(":", 1)
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"Invalid value for '--model': cannot import {target!r} ({err}).") from err


def cmd_info(args: argparse.Namespace) -> int:
    """Versions, devices, threads and data folders."""
    from ._config import ENV_DATA, ENV_DEVICE, data_dir

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
    from ._config import resolve_device

    try:
        return str(resolve_device("auto"))
    except ValueError as err:
        return f"invalid: {err}"


def cmd_extract(args: argparse.Namespace) -> int:
    """Run a model over stimuli and write a stimulus x unit assembly file."""
    from ._extract import extract
    from ._stimuli import load_stimuli

    model = _load_factory(args.model)()
    ids, stimuli = load_stimuli(args.stimuli)
    layers = [layer for group in args.layers for layer in group.split(",") if layer]
    da = extract(model, stimuli, layers=layers, batch_size=args.batch_size, device=args.device,
                 reduce=args.reduce, out=args.out, stimulus_ids=ids, progress=not args.quiet)
    _out(f"wrote {args.out}: {da.sizes['stimulus']} stimuli x {da.sizes['unit']} units "
         f"from {len(layers)} layer(s) of {args.model}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brainbridge",
        description="Artificial and biological neurons on one footing.",
    )
    parser.add_argument("--version", action="version", version=f"brainbridge {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="debug log output (default: info)")
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars, warnings only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", parents=[common],
                       help="versions, devices, threads and data folders")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "extract", parents=[common], help="ANN activations for a stimulus set -> assembly file",
        description="Run a model over stimuli and write a stimulus x unit assembly (.nc or .zarr). "
                    "Example: brainbridge extract --model efficientnet-lite0 --stimuli skimage "
                    "--layers _blocks.15 --reduce mean --out acts.nc")
    p.add_argument("--model", required=True,
                   help=f"one of {', '.join(MODELS)}, or 'package.module:factory' returning a "
                        "torch.nn.Module")
    p.add_argument("--stimuli", required=True,
                   help="built-in set (skimage, lfw, digits), an image folder, a .npy array or "
                        "a .txt file with one sentence per line")
    p.add_argument("--layers", required=True, nargs="+",
                   help="module paths, space- or comma-separated (e.g. _blocks.0,_blocks.15)")
    p.add_argument("--out", required=True, help="output file, .nc or .zarr (written atomically)")
    p.add_argument("--reduce", choices=["flatten", "mean", "max"], default=None,
                   help="pool over spatial / token positions (default: keep every position)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_extract)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        logger.debug("command failed", exc_info=True)
        sys.stderr.write(f"brainbridge {args.command}: error: {err}\n")
        return 2
