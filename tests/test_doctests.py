"""Run the Examples of every module of brainbridge as doctests, one test per module.

Modules are discovered (``pkgutil`` over the package folders), not listed by hand. A module
that defines public functions or classes (no leading underscore, defined there, not imported)
must run at least one example, and every public function or class (``__all__`` of each
package, plus the public functions of public modules such as ``brainbridge.snn.surrogate``)
must carry one in its docstring. The few exceptions are in ``EXEMPT``, each with its reason.

Examples run with NumPy, ``random`` and torch seeded, matplotlib's Agg backend, the network
blocked and the working directory in a temporary folder. The option flags ``ELLIPSIS``,
``NORMALIZE_WHITESPACE`` and ``NUMBER`` (a float written as ``0.35`` matches any value that
rounds to it at that precision, as in pytest's doctest plugin) are on for every example.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import ipaddress
import pkgutil
import random
import re
import socket
import sys
import types

import numpy as np
import pytest

# The import packages of the distribution (pyproject's [tool.setuptools] packages, less the
# data-only ``brainbridge.data_manifests``); ``test_packages_are_all_walked`` keeps them in step.
PACKAGES = (
    "brainbridge",
    "brainbridge.ann",
    "brainbridge.models",
    "brainbridge.studies",
    "brainbridge.cli",
    "brainbridge.loaders",
    "brainbridge.encoders",
    "brainbridge.snn",
    "brainbridge.analyses",
)

# Modules whose public functions are exercised elsewhere instead of by examples.
EXEMPT = {
    "brainbridge.cli._main": "the command line (main, build_parser, cmd_*): tests/test_cli*.py run "
                             "every subcommand through main([...])",
}

NUMBER = doctest.register_optionflag("NUMBER")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | NUMBER
SKIP_MODULES = ("__main__",)  # running it would start the command line


def _walk() -> list[str]:
    names = []
    for package in PACKAGES:
        if package not in names:
            names.append(package)
        path = importlib.import_module(package).__path__
        for info in pkgutil.walk_packages(path, f"{package}."):
            if info.name.rsplit(".", 1)[-1] in SKIP_MODULES or info.name in names:
                continue
            names.append(info.name)
    return names


MODULES = _walk()


def _public_definitions(module: types.ModuleType) -> list[str]:
    """Public functions and classes defined in ``module`` itself (not imported into it)."""
    return sorted(name for name, value in vars(module).items()
                  if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
                  and getattr(value, "__module__", None) == module.__name__)


class _Checker(doctest.OutputChecker):
    """``doctest.OutputChecker`` plus the ``NUMBER`` flag: floats match to the precision written."""

    _float = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+")

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if not optionflags & NUMBER:
            return False
        wants, gots = list(self._float.finditer(want)), list(self._float.finditer(got))
        if not wants or len(wants) != len(gots):
            return False
        pieces, end = [], 0
        for w, g in zip(wants, gots):
            text = w.group()
            mantissa, _, exponent = text.lower().partition("e")
            decimals = len(mantissa.partition(".")[2]) - int(exponent or 0)
            same = abs(float(text) - float(g.group())) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9)
            pieces += [got[end:g.start()], text if same else g.group()]
            end = g.end()
        return super().check_output(want, "".join(pieces) + got[end:], optionflags)


def _seed() -> None:
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 (examples seed their own Generator; this guards the rest)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse connections to anything but this machine (dask's local cluster may use loopback)."""
    connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                local = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                local = False
            if not local:
                raise OSError(f"doctests must not use the network (tried to connect to {address!r})")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name, monkeypatch, tmp_path):
    """Run ``name``'s examples; fail naming the module and each failing example."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:  # an optional extra (numba, mne, ...) is not installed
        if err.name and not err.name.startswith("brainbridge"):
            pytest.skip(f"{name} needs {err.name!r}, which is not installed")
        raise
    tests = sorted((t for t in doctest.DocTestFinder().find(module) if t.examples), key=lambda t: t.name)
    public = _public_definitions(module)
    if name in EXEMPT:
        assert not tests, f"{name} now runs examples; remove it from EXEMPT in {__file__}"
        pytest.skip(f"exempt: {EXEMPT[name]}")
    if not tests:
        assert not public, (
            f"{name} defines public {', '.join(public)} but runs no example: add an Examples section "
            f"(or, if it is tested elsewhere, list the module in EXEMPT with the reason)")
        pytest.skip(f"{name} defines no public function or class")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    _no_network(monkeypatch)
    runner = doctest.DocTestRunner(checker=_Checker(), optionflags=OPTIONFLAGS)
    report, failed = io.StringIO(), []
    for test in tests:
        _seed()
        result = runner.run(test, out=report.write)
        if result.failed:
            failed.append(f"{test.name} (line {test.lineno + 1 if test.lineno is not None else '?'})")
    summary = runner.summarize(verbose=False)
    assert summary.attempted > 0
    if failed:
        pytest.fail(f"{name}: {summary.failed} of {summary.attempted} examples failed in "
                    f"{', '.join(failed)}\n{report.getvalue()}", pytrace=False)


def _owner(obj) -> str:
    return getattr(obj, "__module__", "") or ""


def _has_example(obj) -> bool:
    """True when ``obj``'s docstring (for a class: or one of its methods') holds an example."""
    tests = doctest.DocTestFinder(recurse=inspect.isclass(obj)).find(obj, obj.__name__,
                                                                     module=False, globs={})
    return any(t.examples for t in tests)


def _public_callables() -> dict[str, object]:
    """Every exported function/class (``__all__`` of each package, and of public modules)."""
    found: dict[str, object] = {}
    for name in MODULES:
        if any(part.startswith("_") for part in name.split(".")):
            continue  # private modules are reached through their package's __all__
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = _public_definitions(module)
        for attr in exported:
            value = getattr(module, attr)
            ours = _owner(value).startswith("brainbridge")
            if ours and (inspect.isfunction(value) or inspect.isclass(value)):
                found.setdefault(f"{_owner(value)}.{value.__qualname__}", value)
    return found


def test_every_public_callable_has_an_example():
    missing = sorted(key for key, value in _public_callables().items()
                     if _owner(value) not in EXEMPT and not _has_example(value))
    assert not missing, ("public functions/classes without a runnable example in their docstring:\n  "
                         + "\n  ".join(missing))


def test_packages_are_all_walked():
    """Every package of the distribution is walked, and every exemption names a real module."""
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("pyproject.toml is not beside the tests (installed tests)")
    declared = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"]
    assert set(declared) - {"brainbridge.data_manifests"} <= set(MODULES)
    assert set(EXEMPT) <= set(MODULES), f"stale EXEMPT entries: {sorted(set(EXEMPT) - set(MODULES))}"
