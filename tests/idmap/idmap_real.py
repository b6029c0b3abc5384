"""Shared helpers for the real-system tests: test users, subid file edits and the child script."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys

SUBID_FILES = ("/etc/subuid", "/etc/subgid")
BACKUP_FILES = ("/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-", "/etc/subuid-", "/etc/subgid-")
USER_PREFIX = "uridm-"
RANGED_USER = "uridm-ranged"
UNRANGED_USER = "uridm-norange"
MALFORMED_LINE = "uridm-malformed:not-a-number:65536"
CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "userns_child.py")
# An environment that makes helper lookup and helper messages predictable.
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONDONTWRITEBYTECODE": "1"}
REQUIRED_PROGRAMS = ("useradd", "userdel", "setpriv", "unshare", "mount", "newuidmap", "newgidmap", "getsubids")


class SystemUser:
    """A user created for the session, with its subordinate ranges (empty for the unranged user)."""

    __slots__ = ("name", "uid", "gid", "ranges")

    def __init__(self, name: str, ranges: list[tuple[int, int]]) -> None:
        entry = pwd.getpwnam(name)
        self.name = name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        self.ranges = ranges


class SystemUsers:
    __slots__ = ("ranged", "unranged")

    def __init__(self, ranged: SystemUser, unranged: SystemUser) -> None:
        self.ranged = ranged
        self.unranged = unranged


def highest_range_end(text: str) -> int:
    """Return the first id above every well-formed range in a subid file's text."""
    end = 0
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            end = max(end, int(fields[1]) + int(fields[2]))
    return end


def remove_stale_test_users() -> None:
    """Remove uridm-* users and their subid lines left behind by an interrupted earlier run."""
    stale = [entry for entry in pwd.getpwall() if entry.pw_name.startswith(USER_PREFIX)]
    owners = {entry.pw_name for entry in stale} | {str(entry.pw_uid) for entry in stale}
    for path in SUBID_FILES:
        if not os.path.exists(path):
            continue
        with open(path) as file:
            lines = file.readlines()
        kept_lines = [line for line in lines if not (line.split(":")[0] in owners or line.startswith(USER_PREFIX))]
        if kept_lines != lines:
            with open(path, "w") as file:
                file.writelines(kept_lines)
    for entry in stale:
        subprocess.run(["userdel", entry.pw_name], check=True, capture_output=True)


def snapshot(path: str) -> tuple[bytes, int, int, int] | None:
    """Return the content, mode, owner and group of ``path``, or None when it does not exist."""
    try:
        info = os.stat(path)
        with open(path, "rb") as file:
            return file.read(), info.st_mode & 0o7777, info.st_uid, info.st_gid
    except FileNotFoundError:
        return None


def restore(path: str, state: tuple[bytes, int, int, int] | None) -> None:
    """Put ``path`` back as snapshot() found it, removing it if it did not exist."""
    if state is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    content, mode, owner, group = state
    with open(path, "wb") as file:
        file.write(content)
    os.chown(path, owner, group)
    os.chmod(path, mode)


def restore_subid_file(path: str, state: tuple[bytes, int, int, int] | None, added: list[str]) -> None:
    """Remove the lines that the tests appended to a subid file.

    When no other program changed the file meanwhile, it gets its snapshot back
    byte for byte. Otherwise only the test lines are removed, so that a
    concurrent edit by another program survives.
    """
    with open(path, "rb") as file:
        current = file.read()
    original = state[0] if state is not None else b""
    if current == appended(original, added):
        restore(path, state)
        return

    remaining = list(added)
    kept_lines = []
    for line in current.decode().splitlines(keepends=True):
        if line.rstrip("\n") in remaining:
            remaining.remove(line.rstrip("\n"))
        else:
            kept_lines.append(line)
    with open(path, "w") as file:
        file.writelines(kept_lines)


def restore_backup_file(path: str, state: tuple[bytes, int, int, int] | None) -> None:
    """Restore one of shadow's backup copies if the test users' useradd or userdel rewrote it."""
    try:
        with open(path, "rb") as file:
            current = file.read()
    except FileNotFoundError:
        current = None
    if current is not None and USER_PREFIX.encode() in current:
        restore(path, state)


def appended(text: bytes, lines: list[str]) -> bytes:
    """Return ``text`` with ``lines`` appended, as append_lines writes them."""
    prefix = b"" if not text or text.endswith(b"\n") else b"\n"
    return text + prefix + "".join(f"{line}\n" for line in lines).encode()


def append_lines(path: str, lines: list[str]) -> None:
    with open(path, "rb") as file:
        text = file.read()
    with open(path, "wb") as file:
        file.write(appended(text, lines))


def run_child(request: dict, user: SystemUser | None = None, *, wrapper: list[str] | None = None) -> dict:
    """Run userns_child.py with ``request`` as ``user`` (root when None) and return its JSON result."""
    argv = list(wrapper or [])
    if user is not None:
        argv += ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--"]
    argv += [sys.executable, CHILD_SCRIPT, json.dumps(request)]
    completed = subprocess.run(argv, env=CHILD_ENV, cwd="/", capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)
