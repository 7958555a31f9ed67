"""The built wheel holds every package and manifest; the public API is importable."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_folder_with_python_is_a_listed_package():
    tool = _config()["tool"]["setuptools"]
    listed = set(tool["packages"])
    mapping = tool["package-dir"]
    assert set(mapping) == listed
    found = set()
    for package, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    assert found == listed, f"unlisted packages: {sorted(found - listed)}"


@pytest.mark.slow
def test_wheel_contains_every_package_and_manifest(tmp_path):
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "bench"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(src)], check=True,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("brainbridge-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tool = _config()["tool"]["setuptools"]
    expected = set()
    for package, folder in tool["package-dir"].items():
        for py in [*(ROOT / folder).glob("*.py"), *(ROOT / folder).glob("*.pyi")]:
            expected.add("/".join([*package.split("."), py.name]))
    expected.add("brainbridge/py.typed")  # PEP 561: type checkers read the installed package
    manifests = sorted((ROOT / "data_manifests").glob("*.yaml"))
    assert manifests, "data_manifests/ holds no manifest"
    expected |= {f"brainbridge/data_manifests/{m.name}" for m in manifests}
    studies = sorted((ROOT / "bridge" / "studies").glob("*.yaml"))
    assert len(studies) == 4, "bridge/studies/ should ship the 4 demo studies"
    expected |= {f"brainbridge/studies/{m.name}" for m in studies}
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert any(n.endswith("entry_points.txt") for n in names)


def test_public_api_names():
    import brainbridge as bb

    for name in ["assembly", "validate", "save", "load", "align", "extract", "to_brainscore",
                 "to_rsatoolbox", "AssemblyError"]:
        assert name in bb.__all__ and callable(getattr(bb, name))
    with pytest.raises(AttributeError, match="module 'brainbridge' has no attribute 'nope'"):
        bb.nope  # noqa: B018
    for sub in ["loaders", "encoders", "snn", "analyses", "models"]:
        module = __import__(f"brainbridge.{sub}", fromlist=["__all__"])
        assert isinstance(module.__all__, list)


@pytest.mark.parametrize("sub", ["", ".loaders", ".encoders", ".snn", ".analyses"])
def test_every_export_resolves(sub):
    import importlib

    module = importlib.import_module(f"brainbridge{sub}")
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"brainbridge{sub} lists names it cannot import: {missing}"
