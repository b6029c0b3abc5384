"""Locate newuidmap and newgidmap and check that they can gain the capability they need.

Both helpers write maps that an unprivileged process may not write itself,
so they must run with CAP_SETUID (newuidmap) or CAP_SETGID (newgidmap): either
from the setuid bit of a file owned by root, or from a file capability.
"""

from __future__ import annotations

import os
import stat

from .errors import HELPER_PACKAGES, HelperMissing, HelperNotPrivileged
from . import programs

HELPERS = ("newuidmap", "newgidmap")

# Capability numbers from linux/capability.h.
_CAPABILITIES = {"newuidmap": (7, "cap_setuid"), "newgidmap": (6, "cap_setgid")}

# Layout of the security.capability attribute (struct vfs_cap_data in
# linux/capability.h): a little-endian 32-bit magic word with the revision in
# its top byte, then the permitted and inheritable masks of capabilities 0-31.
_VFS_CAP_REVISION_MASK = 0xFF000000
_VFS_CAP_REVISIONS = (0x01000000, 0x02000000, 0x03000000)


def helper_name(kind: str) -> str:
    return "newuidmap" if kind == "uid" else "newgidmap"


def find_helper(name: str) -> str:
    """Return the path of newuidmap or newgidmap after checking that it can gain its capability.

    Raises HelperMissing when it is not installed, and HelperNotPrivileged when
    it is neither setuid root nor has the file capability.
    """
    path = programs.find_program(name)
    if path is None:
        searched = "PATH"
        if programs.FALLBACK_DIRS:
            searched += f" nor in {', '.join(programs.FALLBACK_DIRS)}"
        raise HelperMissing(
            f"{name} was not found in {searched}, but it is needed to map more ids than the caller's own; "
            f"install {HELPER_PACKAGES}",
            name=name,
        )

    reason = privilege_problem(name, path)
    if reason is not None:
        raise HelperNotPrivileged(_not_privileged_message(name, path, reason), name=name, path=path, reason=reason)
    return path


def privilege_problem(name: str, path: str) -> str | None:
    """Return why ``path`` cannot gain the capability that helper ``name`` needs, or None when it can."""
    capability, capability_name = _CAPABILITIES[name]
    info = os.stat(path)

    setuid_root = bool(info.st_mode & stat.S_ISUID) and info.st_uid == 0
    if not setuid_root:
        permitted = _file_capabilities(path)
        if permitted is not None and not permitted & (1 << capability):
            return f"has file capabilities, but not {capability_name}"
        if permitted is None and info.st_mode & stat.S_ISUID:
            return f"is setuid but owned by uid {info.st_uid}, not by root, and has no {capability_name} file capability"
        if permitted is None:
            return f"is neither setuid root nor has the {capability_name} file capability"

    # The kernel ignores both the setuid bit and file capabilities on a
    # filesystem mounted nosuid.
    if os.statvfs(path).f_flag & os.ST_NOSUID:
        return "is on a filesystem mounted nosuid, where setuid bits and file capabilities have no effect"
    return None


def _file_capabilities(path: str) -> int | None:
    """Return the permitted capability mask (capabilities 0-31) of ``path``, or None when it has none."""
    try:
        data = os.getxattr(path, "security.capability")
    except OSError:
        # ENODATA (no attribute) and ENOTSUP (no xattr support) both mean no capabilities.
        return None
    if len(data) < 8:
        return None
    magic = int.from_bytes(data[0:4], "little")
    if magic & _VFS_CAP_REVISION_MASK not in _VFS_CAP_REVISIONS:
        return None
    return int.from_bytes(data[4:8], "little")


def _not_privileged_message(name: str, path: str, reason: str) -> str:
    _, capability_name = _CAPABILITIES[name]
    if "nosuid" in reason:
        fix = f"install {name} on a filesystem mounted without nosuid"
    else:
        fix = (
            f"reinstall {HELPER_PACKAGES}, or run chown root {path} && chmod u+s {path}, "
            f"or setcap {capability_name}+ep {path}"
        )
    return f"{path} cannot map ids for other users because it {reason}; {fix}"


def check_helpers() -> list[tuple[str, bool, str]]:
    """Check newuidmap and newgidmap, for a diagnostics command.

    Returns one ``(name, ok, detail)`` tuple per helper. ``detail`` names the
    path and where the capability comes from, or is the error message.
    """
    results = []
    for name in HELPERS:
        try:
            path = find_helper(name)
        except (HelperMissing, HelperNotPrivileged) as error:
            results.append((name, False, error.message))
            continue

        info = os.stat(path)
        if info.st_mode & stat.S_ISUID and info.st_uid == 0:
            detail = f"{path} (setuid root)"
        else:
            detail = f"{path} (file capability {_CAPABILITIES[name][1]})"
        results.append((name, True, detail))
    return results
