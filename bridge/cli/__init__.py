"""The ``brainbridge`` command line: each subcommand parses, calls one public function,
saves and prints. Only argparse is imported at start-up, so ``brainbridge --help`` is fast."""

from __future__ import annotations

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
