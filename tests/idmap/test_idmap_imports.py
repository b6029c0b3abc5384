"""Tests that userrunc.idmap stays cheap to import and usable without the rest of userrunc."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys

import userrunc.idmap

PACKAGE_DIR = os.path.dirname(userrunc.idmap.__file__)
FORBIDDEN = ("subprocess", "typing", "dataclasses", "re", "pathlib", "enum", "signal", "collections", "ctypes")
PUBLIC_NAMES = (
    "IdMapping",
    "SubordinateRange",
    "IdMapError",
    "HelperMissing",
    "HelperNotPrivileged",
    "NoSubordinateRanges",
    "InvalidMapping",
    "HelperFailed",
    "UserNamespacesUnavailable",
    "subordinate_ranges",
    "automatic_mappings",
    "single_mapping",
    "validate_mappings",
    "write_mappings",
    "to_host",
    "is_mapped",
    "explain_userns_failure",
    "check_helpers",
)


def modules_added_by(statement: str, *python_options: str, cwd: str | None = None) -> list[str]:
    """Return the modules that ``statement`` imports in a fresh interpreter beyond those loaded at startup."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        "added = sorted(set(sys.modules) - before)\n"
        "import json\n"
        "print(json.dumps(added))\n"
    )
    completed = subprocess.run(
        [sys.executable, *python_options, "-c", code], capture_output=True, text=True, check=True, cwd=cwd, timeout=30
    )
    return json.loads(completed.stdout.splitlines()[-1])


def test_import_adds_no_heavy_module():
    added = modules_added_by("import userrunc.idmap")
    assert [name for name in added if name.split(".")[0] in FORBIDDEN] == []


def test_public_names_exported():
    for name in PUBLIC_NAMES:
        assert hasattr(userrunc.idmap, name), name
        assert name in userrunc.idmap.__all__


def test_error_classes_share_root():
    for name in ("HelperMissing", "HelperNotPrivileged", "NoSubordinateRanges", "InvalidMapping", "HelperFailed",
                 "UserNamespacesUnavailable", "MapWriteFailed", "RangesTooSmall", "SubordinateLookupFailed"):
        assert issubclass(getattr(userrunc.idmap, name), userrunc.idmap.IdMapError), name


def test_error_message_is_one_line():
    error = userrunc.idmap.HelperFailed("newuidmap failed: first line\nsecond line\n")
    assert error.message == "newuidmap failed: first line second line"
    assert str(error) == error.message


def test_sources_import_no_userrunc_module():
    for name in sorted(os.listdir(PACKAGE_DIR)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(PACKAGE_DIR, name)) as file:
            tree = ast.parse(file.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = [node.module or ""] if node.level == 0 else []
            else:
                continue
            assert not [module for module in imported if module.startswith("userrunc")], name


def test_package_works_standalone(tmp_path):
    # A copy named plain "idmap", imported from the current directory without
    # site-packages (-S) or environment variables (-E), needs nothing from userrunc.
    shutil.copytree(PACKAGE_DIR, tmp_path / "idmap", ignore=shutil.ignore_patterns("__pycache__"))
    statement = "import idmap; assert idmap.single_mapping(5) == [idmap.IdMapping(0, 5, 1)]"
    added = modules_added_by(statement, "-S", "-E", cwd=str(tmp_path))
    assert "idmap" in added
    assert not [name for name in added if name.startswith("userrunc")]
