"""Type checking for brainbridge: the lazy packages' stubs and the mypy run.

    python .ci/typecheck.py stubs         rewrite each lazy package's ``__init__.pyi`` from ``_EXPORTS``
    python .ci/typecheck.py mypy [ARGS]   mypy on the whole package, configured by pyproject.toml

Why the mypy run needs a link tree: the source folders install under other names
(``bridge/`` -> ``brainbridge``, ``analyses/`` -> ``brainbridge.analyses``: setuptools
``package-dir``) and the editable install maps them with an import hook, which mypy cannot
follow. :func:`link_tree` mirrors the installed layout under ``build/typecheck/`` with one
symlink per source file, so mypy sees the real module names (``brainbridge.analyses._rdm``, the
names the ``[tool.mypy]`` overrides use) and relative imports resolve; its messages are
rewritten back to the source paths (``analyses/_rdm.py:12: error: ...``).

tests/test_typing.py uses both: it checks that the stubs list exactly the ``_EXPORTS`` names,
and runs mypy's ``reveal_type`` on public names through the same link tree.
"""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"
#: files of a package folder that belong to the package as type checkers see it
SUFFIXES = (".py", ".pyi", ".typed")

STUB_HEADER = '''"""Type stub for ``{package}``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""
'''


def package_dirs() -> dict[str, Path]:
    """Package name -> source folder, from ``[tool.setuptools.package-dir]``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {name: ROOT / folder for name, folder in config["tool"]["setuptools"]["package-dir"].items()}


def lazy_packages() -> dict[str, Path]:
    """The packages whose ``__init__.py`` declares an ``_EXPORTS`` table -> their folder."""
    out = {}
    for name, folder in package_dirs().items():
        init = folder / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Assign | ast.AnnAssign)
               and "_EXPORTS" in {getattr(t, "id", None) for t in _targets(node)}
               for node in tree.body):
            out[name] = folder
    return out


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def stub_text(package: str) -> str:
    """The ``__init__.pyi`` of a lazy package: one ``from .mod import name as name`` per export.

    A name mapped to its own module (``{"surrogate": ".surrogate"}``) is that submodule
    (``from . import surrogate as surrogate``). Names of ``__all__`` that are not exports are
    eager attributes of the package (``__version__``) and are declared with their type.
    """
    module = importlib.import_module(package)
    exports: dict[str, str] = module._EXPORTS
    lines = [STUB_HEADER.format(package=package)]
    for name, source in sorted(exports.items(), key=lambda kv: (kv[1], kv[0])):
        if source == f".{name}":
            lines.append(f"from . import {name} as {name}")
        else:
            lines.append(f"from {source} import {name} as {name}")
    lines.append("")
    for name in module.__all__:
        if name not in exports:
            lines.append(f"{name}: {type(getattr(module, name)).__name__}")
    lines.append("")
    lines.append("__all__ = [")
    lines += [f'    "{name}",' for name in module.__all__]
    lines.append("]")
    return "\n".join(lines) + "\n"


def write_stubs() -> list[Path]:
    """Rewrite every lazy package's ``__init__.pyi``; imports are sorted by ruff when present."""
    written = []
    for package, folder in lazy_packages().items():
        path = folder / "__init__.pyi"
        path.write_text(stub_text(package), encoding="utf-8")
        written.append(path)
    ruff = shutil.which("ruff")
    if ruff:
        subprocess.run([ruff, "check", "--quiet", "--fix", "--select", "I", *map(str, written)],
                       check=False)
    return written


def link_tree(tree: Path = TREE) -> dict[str, str]:
    """Mirror the installed layout under ``tree`` with symlinks to the source files.

    Returns ``{link path: source path}`` (both relative to the repository root, as text) for
    rewriting mypy's messages. Links are added and removed on each call, so new, moved and
    deleted files are seen.
    """
    links = {}
    for package, folder in package_dirs().items():
        target = tree.joinpath(*package.split("."))
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name.endswith(SUFFIXES):
                links[target / path.name] = path
    for path in sorted(tree.rglob("*")) if tree.exists() else []:
        if (path.is_symlink() or path.is_file()) and links.get(path) != (path.resolve()
                                                                          if path.exists() else None):
            path.unlink()
    for link, source in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(source)
    return {os.path.relpath(link, ROOT): os.path.relpath(source, ROOT) for link, source in links.items()}


def source_paths(text: str, links: dict[str, str]) -> str:
    """Replace the link-tree paths in mypy's output by the source paths."""
    for link in sorted(links, key=len, reverse=True):
        text = text.replace(link, links[link])
    return text


def run_mypy(args: list[str]) -> int:
    """mypy with pyproject's ``[tool.mypy]`` over the link tree; ``-p brainbridge`` by default."""
    from mypy import api

    links = link_tree()
    os.chdir(ROOT)
    targets = {"-p", "--package", "-m", "--module", "-c", "--command"}
    if not targets & set(args) and not any(a.endswith((".py", ".pyi")) for a in args):
        args = [*args, "-p", "brainbridge"]
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), *args])
    sys.stdout.write(source_paths(stdout, links))
    sys.stderr.write(source_paths(stderr, links))
    return status


def main(argv: list[str]) -> int:
    if argv[:1] == ["stubs"]:
        for path in write_stubs():
            sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
        return 0
    if argv[:1] == ["mypy"]:
        return run_mypy(argv[1:])
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
