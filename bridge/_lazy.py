"""Lazy package attributes: names are imported from their module on first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def attach(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any],
                                                           Callable[[], list[str]], list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` for ``package``.

    ``exports`` maps each public name to the relative module that defines it, e.g.
    ``{"load_eeg": "._eeg"}``; a name mapped to its own module (``{"surrogate": ".surrogate"}``)
    is that submodule. The module is imported the first time the name is asked for, and the
    value is cached in the package namespace.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name in exports:
            module = importlib.import_module(exports[name], package)
            value = module if exports[name] == f".{name}" else getattr(module, name)  # a submodule
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__, sorted(exports)
