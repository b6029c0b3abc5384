"""Switching the init to process.user: supplementary groups, gid, uid, umask.

In a user namespace every id must be mapped, and setgroups(2) works only
when /proc/self/setgroups contains "allow" (an unprivileged single-id
mapping sets it to "deny"). Both are checked first, so that the error
names the id instead of the kernel's EINVAL or EPERM.
"""

from __future__ import annotations

import os

from ..errors import UserruncError


def _read_map(name: str) -> list[tuple[int, int, int]] | None:
    try:
        with open(f"/proc/self/{name}", "rb") as handle:
            lines = handle.read().split(b"\n")
    except OSError:
        return None
    return [tuple(int(field) for field in line.split()) for line in lines if line.strip()]


def _mapped(mappings, value: int) -> bool:
    return any(inside <= value < inside + size for inside, _outside, size in mappings)


def setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups", "rb") as handle:
            return handle.read().strip() == b"allow"
    except OSError:
        return True


def check_ids(user: dict) -> None:
    """Raise if process.user names an id that the user namespace does not map."""
    uid_map = _read_map("uid_map") or []
    gid_map = _read_map("gid_map") or []
    if not _mapped(uid_map, user["uid"]):
        raise UserruncError(
            f"process.user.uid {user['uid']} is not mapped in the container's user namespace "
            f"(uid_map: {_show(uid_map)}); map it with linux.uidMappings or /etc/subuid ranges"
        )
    if not _mapped(gid_map, user["gid"]):
        raise UserruncError(
            f"process.user.gid {user['gid']} is not mapped in the container's user namespace "
            f"(gid_map: {_show(gid_map)}); map it with linux.gidMappings or /etc/subgid ranges"
        )
    for index, gid in enumerate(user.get("additionalGids") or ()):
        if not _mapped(gid_map, gid):
            raise UserruncError(
                f"process.user.additionalGids[{index}] {gid} is not mapped in the container's user namespace "
                f"(gid_map: {_show(gid_map)})"
            )
    if user.get("additionalGids") and not setgroups_allowed():
        raise UserruncError(
            "process.user.additionalGids needs setgroups, which this user namespace denies "
            "(it maps a single id); configure subordinate ids in /etc/subgid to get a full mapping"
        )


def _show(mappings) -> str:
    return "; ".join(f"{inside} {outside} {size}" for inside, outside, size in mappings) or "empty"


def switch(user: dict) -> None:
    """Set supplementary groups, then gid, then uid (in that order: setgid needs privileges)."""
    groups = user.get("additionalGids") or []
    if setgroups_allowed():
        try:
            os.setgroups(groups)
        except OSError as error:
            raise UserruncError(f"setgroups {groups}: {error.strerror}") from None
    gid = user["gid"]
    uid = user["uid"]
    try:
        os.setresgid(gid, gid, gid)
    except OSError as error:
        raise UserruncError(f"setresgid to process.user.gid {gid}: {error.strerror}") from None
    try:
        os.setresuid(uid, uid, uid)
    except OSError as error:
        raise UserruncError(f"setresuid to process.user.uid {uid}: {error.strerror}") from None


def home_directory(uid: int) -> str:
    """Return the home of uid from the container's /etc/passwd, or / when it has none."""
    try:
        with open("/etc/passwd", "rb") as handle:
            for line in handle:
                fields = line.rstrip(b"\n").split(b":")
                if len(fields) >= 6 and fields[2].isdigit() and int(fields[2]) == uid:
                    return os.fsdecode(fields[5]) or "/"
    except OSError:
        pass
    return "/"
