"""What installing the project claims: the folders encoders/ and tasks/ are installed as
implicit_bench_encoders and implicit_bench_tasks (pyproject.toml), so the global names `encoders` and
`tasks` stay free for other distributions (docs/design.md, "Layout")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PLUGIN_PACKAGES = {"implicit_bench_encoders": "encoders", "implicit_bench_tasks": "tasks"}


def _folder(package: str) -> Path:
    """The folder a package is installed from, by the package-dir mapping of pyproject.toml."""
    mapping = SETUPTOOLS.get("package-dir", {})
    parts = package.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in mapping:
            return ROOT / mapping[".".join(parts[:k])] / Path(*parts[k:])
    return ROOT / Path(*parts)


def test_every_package_folder_is_installed():
    declared = set(SETUPTOOLS["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "bench").rglob("*.py")
               if "__pycache__" not in p.parts}  # a folder of modules without __init__.py is a package too
    missing = sorted(on_disk - declared)
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {missing}: a wheel would leave them out"
    assert SETUPTOOLS.get("package-dir", {}) == PLUGIN_PACKAGES
    assert not any(p.split(".")[0] in ("encoders", "tasks") for p in declared)
    for package in declared:
        assert _folder(package).is_dir(), f"{package}: no folder {_folder(package)}"


def test_built_in_entry_points_name_the_installed_packages():
    groups = PYPROJECT["project"]["entry-points"]
    for group in ("bench.encoders", "bench.tasks"):
        for name, value in groups[group].items():
            module = value.split(":")[0]
            assert module.split(".")[0] in PLUGIN_PACKAGES, f"{group} {name} = {value}"
            assert _folder(module).with_suffix(".py").is_file(), f"{group} {name}: {module} has no file"


def test_encoders_and_tasks_are_free_names_outside_the_repository(tmp_path):
    code = ("import importlib.util as u\n"
            "print(u.find_spec('encoders') is None, u.find_spec('tasks') is None,\n"
            "      u.find_spec('implicit_bench_encoders.pointnet') is not None,\n"
            "      u.find_spec('implicit_bench_tasks.reconstruction') is not None)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True"] * 4, (
        f"{out.stdout!r}: reinstall the project (`pip install -e .`) after a change of pyproject.toml's packages")
