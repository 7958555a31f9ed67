"""The layers of README.md's Architecture section, read from the source: no upward import, no cycle.

Every ``import`` and ``from ... import`` in every module counts, at module level or inside a
function (a lazy import is still a dependency). Lazy export tables (``_EXPORTS`` strings in a
package ``__init__``) are not imports: they only re-export public names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]

#: layer of each package prefix (longest prefix wins); ``brainbridge`` alone is the core.
LAYER_OF = {
    "brainbridge": "core",
    "brainbridge.ann": "ann",
    "brainbridge.models": "ann",
    "brainbridge.loaders": "loaders",
    "brainbridge.encoders": "encoders",
    "brainbridge.snn": "snn",
    "brainbridge.analyses": "analyses",
    "brainbridge.data_manifests": "data",
    "brainbridge.studies": "application",
    "brainbridge.cli": "application",
    "brainbridge.__main__": "application",
}

#: layer -> the layers it may import (itself included).
ALLOWED = {
    "core": {"core"},
    "data": {"core", "data"},
    "ann": {"core", "ann"},
    "loaders": {"core", "loaders"},
    "encoders": {"core", "encoders"},
    "analyses": {"core", "analyses", "encoders"},
    "snn": {"core", "snn", "encoders", "ann"},
    "application": {"core", "ann", "loaders", "encoders", "snn", "analyses", "data", "application"},
}


def modules(package_dir: dict[str, str], root: Path) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file of every package."""
    out = {}
    for package, folder in package_dir.items():
        for path in sorted((root / folder).glob("*.py")):
            out[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The brainbridge modules that ``name`` imports (resolved to known modules or packages)."""
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith("brainbridge"):
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("brainbridge")}
    return found - {name}


def layer(module: str) -> str:
    best = max((p for p in LAYER_OF if module == p or module.startswith(p + ".")), key=len)
    return LAYER_OF[best]


def violations(package_dir: dict[str, str], root: Path) -> tuple[list[str], list[list[str]]]:
    """Forbidden imports (``'a -> b (layer x may not import layer y)'``) and import cycles."""
    mods = modules(package_dir, root)
    graph = {name: imports(name, path, set(mods)) for name, path in mods.items()}
    bad = sorted(
        f"{a} -> {b} ({layer(a)} may not import {layer(b)})"
        for a, deps in graph.items() for b in deps if layer(b) not in ALLOWED[layer(a)]
    )
    # cycles: strongly connected components (Tarjan) with more than one module
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return bad, cycles


def _package_dir() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def test_every_package_has_a_layer():
    for package in _package_dir():
        assert layer(package), package


def test_no_upward_imports_and_no_cycles():
    bad, cycles = violations(_package_dir(), ROOT)
    assert not bad, "forbidden imports:\n" + "\n".join(bad)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _plant(tmp_path: Path, files: dict[str, str]) -> dict[str, str]:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return {"brainbridge": "bridge", "brainbridge.analyses": "analyses", "brainbridge.snn": "snn",
            "brainbridge.studies": "bridge/studies"}


@pytest.mark.parametrize("text", [
    "from .analyses import rdm\n",                                  # relative, module level
    "def f():\n    from brainbridge.studies import run_study\n",   # absolute, inside a function
    "import brainbridge.snn._lif\n",
])
def test_a_planted_upward_import_fails(tmp_path, text):
    package_dir = _plant(tmp_path, {"bridge/__init__.py": "", "bridge/_core.py": text,
                                    "analyses/__init__.py": "", "snn/__init__.py": "",
                                    "snn/_lif.py": "", "bridge/studies/__init__.py": ""})
    bad, _ = violations(package_dir, tmp_path)
    assert len(bad) == 1 and bad[0].startswith("brainbridge._core -> ")


def test_a_planted_sideways_import_and_cycle_fail(tmp_path):
    package_dir = _plant(tmp_path, {
        "bridge/__init__.py": "", "bridge/studies/__init__.py": "",
        "analyses/__init__.py": "", "analyses/_a.py": "from ._b import x\n",
        "analyses/_b.py": "def g():\n    from ._a import y\n",
        "snn/__init__.py": "", "snn/_x.py": "from ..analyses._a import y\n",
    })
    bad, cycles = violations(package_dir, tmp_path)
    assert bad == ["brainbridge.snn._x -> brainbridge.analyses._a (snn may not import analyses)"]
    assert cycles == [["brainbridge.analyses._a", "brainbridge.analyses._b"]]
