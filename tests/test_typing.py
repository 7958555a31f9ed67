"""The public API as type checkers see it: stubs that match the lazy tables, real signatures.

Public names are imported lazily at run time (``brainbridge._lazy``); type checkers read each
lazy package's ``__init__.pyi`` instead. These tests check that every stub lists exactly the
names of its ``_EXPORTS`` table, and that mypy resolves public names to their real signatures
rather than ``Any``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _typecheck():
    """The ``.ci/typecheck.py`` tool (stub generator and mypy link tree), loaded by path."""
    spec = importlib.util.spec_from_file_location("_bb_typecheck", ROOT / ".ci" / "typecheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


typecheck = _typecheck()
LAZY = typecheck.lazy_packages()


def stub_exports(text: str) -> tuple[dict[str, str], list[str], set[str]]:
    """What a stub declares: ``{name: relative module}`` as in ``_EXPORTS``, ``__all__``, and
    the other annotated names (eager attributes such as ``__version__``)."""
    exports, all_, annotated = {}, [], set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1, f"a stub imports only from its own package: {ast.unparse(node)}"
            for alias in node.names:
                assert alias.asname == alias.name, f"re-export as itself: {ast.unparse(node)}"
                exports[alias.name] = f".{node.module}" if node.module else f".{alias.name}"
        elif isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]:
            all_ = ast.literal_eval(node.value)
        elif isinstance(node, ast.AnnAssign):
            annotated.add(node.target.id)
    return exports, all_, annotated


def drift(package: str, text: str) -> list[str]:
    """How the stub ``text`` differs from the package's ``_EXPORTS`` and ``__all__``."""
    module = importlib.import_module(package)
    exports, all_, annotated = stub_exports(text)
    problems = [f"{name!r} is in _EXPORTS but not in the stub"
                for name in sorted(set(module._EXPORTS) - set(exports))]
    problems += [f"{name!r} is in the stub but not in _EXPORTS"
                 for name in sorted(set(exports) - set(module._EXPORTS))]
    problems += [f"{name!r} comes from {exports[name]} in the stub but from "
                 f"{module._EXPORTS[name]} in _EXPORTS"
                 for name in sorted(set(exports) & set(module._EXPORTS))
                 if exports[name] != module._EXPORTS[name]]
    if sorted(all_) != sorted(module.__all__):
        problems.append(f"the stub's __all__ lacks {sorted(set(module.__all__) - set(all_))} and "
                        f"has extra {sorted(set(all_) - set(module.__all__))}")
    eager = set(module.__all__) - set(module._EXPORTS)
    if annotated != eager:
        problems.append(f"the stub declares {sorted(annotated)}; the package's eager public "
                        f"names are {sorted(eager)}")
    return problems


def test_the_lazy_packages_are_found():
    assert {"brainbridge", "brainbridge.analyses", "brainbridge.encoders", "brainbridge.loaders",
            "brainbridge.snn", "brainbridge.ann", "brainbridge.studies"} <= set(LAZY)


@pytest.mark.parametrize("package", sorted(LAZY))
def test_stub_lists_exactly_the_exports(package):
    stub = LAZY[package] / "__init__.pyi"
    assert stub.is_file(), f"{package} has no __init__.pyi: run `python .ci/typecheck.py stubs`"
    problems = drift(package, stub.read_text(encoding="utf-8"))
    assert not problems, (f"{stub.relative_to(ROOT)} is out of date with _EXPORTS in "
                          f"__init__.py; run `python .ci/typecheck.py stubs`:\n" + "\n".join(problems))


def test_drift_is_caught():
    text = typecheck.stub_text("brainbridge.encoders")
    assert drift("brainbridge.encoders", text) == []
    planted = text.replace("from ._lagged import lagged as lagged\n", "")
    assert planted != text
    assert drift("brainbridge.encoders", planted) == ["'lagged' is in _EXPORTS but not in the stub"]
    moved = text.replace("from ._lagged import lagged", "from ._ridge import lagged")
    assert drift("brainbridge.encoders", moved) == [
        "'lagged' comes from ._ridge in the stub but from ._lagged in _EXPORTS"]


def test_package_ships_py_typed():
    assert (ROOT / "bridge" / "py.typed").is_file()
    config = typecheck.tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]
    assert "py.typed" in data["brainbridge"]
    for package in LAZY:
        assert "*.pyi" in data[package], f"{package}'s __init__.pyi is not package data"


#: public name -> the object whose signature mypy must show
REVEALED = ["brainbridge.assembly", "brainbridge.align", "brainbridge.analyses.rdm",
            "brainbridge.analyses.cka", "brainbridge.encoders.RidgeEncoder", "brainbridge.snn.LIF",
            "brainbridge.loaders.load_eeg"]


@pytest.mark.slow
def test_mypy_sees_real_signatures_not_any():
    api = pytest.importorskip("mypy.api")
    typecheck.link_tree()
    lines = ["import brainbridge", "import brainbridge.analyses", "import brainbridge.encoders",
             "import brainbridge.loaders", "import brainbridge.snn"]
    lines += [f"reveal_type({name})" for name in REVEALED]
    lines += ["brainbridge.analyses.not_a_name"]
    stdout, stderr, _ = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                 "--cache-dir", str(ROOT / ".mypy_cache"),
                                 "--no-error-summary", "-c", "\n".join(lines)])
    out = {}
    for line in stdout.splitlines():  # messages about the package itself are not this test's
        match = re.match(r"<string>:(\d+): (\w+): (.*)", line)
        if match:
            out.setdefault(int(match[1]), []).append(match[3])
    assert not stderr, stderr
    first = lines.index(f"reveal_type({REVEALED[0]})") + 1
    for lineno, name in enumerate(REVEALED, start=first):
        (message,) = out[lineno]
        revealed = re.fullmatch(r'Revealed type is "(.*)"', message)[1]
        module, attr = name.rsplit(".", 1)
        obj = getattr(importlib.import_module(module), attr)
        assert revealed.startswith(("def (", "overload")), f"{name}: {revealed}"
        params = [p for p in inspect.signature(obj).parameters if p not in ("self", "args", "kwargs")]
        assert params, name
        for param in params:
            assert re.search(rf"\b{param}: ", revealed), f"{name}: {param!r} not in {revealed}"
        if inspect.isclass(obj):
            assert revealed.endswith(f"-> {obj.__module__}.{obj.__qualname__}"), revealed
    (error,) = out[len(lines)]
    assert 'Module has no attribute "not_a_name"' in error
