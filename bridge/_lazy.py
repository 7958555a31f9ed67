"""Lazy package attributes: names are imported from their module on first use (PEP 562).

Each package ``__init__.py`` lists its public names in one ``_EXPORTS`` table
(``{"rdm": "._rdm"}``) and calls :func:`attach`, so that ``import brainbridge`` and
``brainbridge --help`` load no heavy library (numpy, xarray, torch): a module is imported
the first time one of its names is asked for.

Type checkers and IDEs cannot see through ``__getattr__`` (every name would be ``Any``), so
each lazy package also has an ``__init__.pyi`` stub, generated from ``_EXPORTS`` by
``python .ci/typecheck.py stubs``: one ``from ._rdm import rdm as rdm`` per name and a static
``__all__``. A type checker reads the stub in place of ``__init__.py`` and follows it to each
name's real signature; at run time the stub is never imported. tests/test_typing.py fails when
a stub and its ``_EXPORTS`` list different names, so adding a public name is: add it to
``_EXPORTS``, run the command above.
"""

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

    Examples
    --------
    >>> from brainbridge._lazy import attach
    >>> getattr_, dir_, all_ = attach("brainbridge.encoders", {"lagged": "._lagged"})
    >>> all_
    ['lagged']
    >>> getattr_("lagged").__module__
    'brainbridge.encoders._lagged'
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
