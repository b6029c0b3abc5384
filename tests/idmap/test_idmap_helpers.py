"""Unit tests for finding newuidmap and newgidmap and checking their privileges."""

from __future__ import annotations

import os

import pytest

from userrunc.idmap import HelperMissing, HelperNotPrivileged, check_helpers, find_helper
from userrunc.idmap import programs

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creating setuid-root files and capabilities needs root")

PACKAGES = "the uidmap package (Debian, Ubuntu) or shadow-utils (Fedora)"


def capability_xattr(permitted: int) -> bytes:
    """Build a revision 2 security.capability value with the effective flag set."""
    magic = 0x02000000 | 0x1
    words = (magic, permitted, 0, 0, 0)
    return b"".join(word.to_bytes(4, "little") for word in words)


@pytest.fixture
def helper_dir(monkeypatch, tmp_path):
    """Make ``tmp_path`` the only directory searched for helpers."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(programs, "FALLBACK_DIRS", ())
    return tmp_path


def make_helper(directory, name: str, mode: int = 0o755, owner: int | None = None):
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    if owner is not None:
        os.chown(path, owner, owner)
    # chmod after chown, because chown clears the setuid bit.
    os.chmod(path, mode)
    return path


def test_missing_helper(helper_dir):
    with pytest.raises(HelperMissing) as info:
        find_helper("newuidmap")
    assert str(info.value) == (
        "newuidmap was not found in PATH, but it is needed to map more ids than the caller's own; "
        f"install {PACKAGES}"
    )
    assert info.value.name == "newuidmap"


def test_missing_helper_names_fallback_dirs(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(programs, "FALLBACK_DIRS", (str(tmp_path / "a"), str(tmp_path / "b")))
    with pytest.raises(HelperMissing) as info:
        find_helper("newgidmap")
    assert str(info.value) == (
        f"newgidmap was not found in PATH nor in {tmp_path}/a, {tmp_path}/b, but it is needed to map more ids "
        f"than the caller's own; install {PACKAGES}"
    )


@needs_root
def test_setuid_root_helper_accepted(helper_dir):
    path = make_helper(helper_dir, "newuidmap", 0o4755, owner=0)
    assert find_helper("newuidmap") == str(path)


@needs_root
def test_plain_helper_rejected(helper_dir):
    path = make_helper(helper_dir, "newuidmap")
    with pytest.raises(HelperNotPrivileged) as info:
        find_helper("newuidmap")
    assert str(info.value) == (
        f"{path} cannot map ids for other users because it is neither setuid root nor has the cap_setuid file "
        f"capability; reinstall {PACKAGES}, or run chown root {path} && chmod u+s {path}, "
        f"or setcap cap_setuid+ep {path}"
    )
    assert info.value.path == str(path)
    assert info.value.name == "newuidmap"


@needs_root
def test_setuid_non_root_helper_rejected(helper_dir):
    path = make_helper(helper_dir, "newgidmap", 0o4755, owner=1)
    with pytest.raises(HelperNotPrivileged) as info:
        find_helper("newgidmap")
    assert info.value.reason == "is setuid but owned by uid 1, not by root, and has no cap_setgid file capability"
    assert str(info.value) == (
        f"{path} cannot map ids for other users because it is setuid but owned by uid 1, not by root, and has "
        f"no cap_setgid file capability; reinstall {PACKAGES}, or run chown root {path} && chmod u+s {path}, "
        f"or setcap cap_setgid+ep {path}"
    )


@needs_root
def test_file_capability_accepted(helper_dir):
    path = make_helper(helper_dir, "newuidmap")
    os.setxattr(path, "security.capability", capability_xattr(1 << 7))
    assert find_helper("newuidmap") == str(path)


@needs_root
def test_wrong_file_capability_rejected(helper_dir):
    path = make_helper(helper_dir, "newuidmap")
    # CAP_SETGID is bit 6, but newuidmap needs CAP_SETUID, bit 7.
    os.setxattr(path, "security.capability", capability_xattr(1 << 6))
    with pytest.raises(HelperNotPrivileged) as info:
        find_helper("newuidmap")
    assert info.value.reason == "has file capabilities, but not cap_setuid"


@needs_root
def test_check_helpers_reports_each(helper_dir):
    uid_helper = make_helper(helper_dir, "newuidmap", 0o4755, owner=0)
    gid_helper = make_helper(helper_dir, "newgidmap")
    os.setxattr(gid_helper, "security.capability", capability_xattr(1 << 6))
    assert check_helpers() == [
        ("newuidmap", True, f"{uid_helper} (setuid root)"),
        ("newgidmap", True, f"{gid_helper} (file capability cap_setgid)"),
    ]


def test_check_helpers_reports_missing(helper_dir):
    results = check_helpers()
    assert [(name, ok) for name, ok, _ in results] == [("newuidmap", False), ("newgidmap", False)]
    assert results[0][2].startswith("newuidmap was not found in PATH")


def test_check_helpers_on_this_host():
    # Informational on machines without the uidmap package: only the shape is checked.
    results = check_helpers()
    assert [name for name, _, _ in results] == ["newuidmap", "newgidmap"]
    assert all(isinstance(ok, bool) and isinstance(detail, str) for _, ok, detail in results)
