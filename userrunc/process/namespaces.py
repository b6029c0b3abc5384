"""The namespace plan: the namespaces a container creates, and those it joins by path.

The plan is made and the paths are opened in the caller, before anything is
forked, so a missing or wrong namespace path fails cleanly. The user
namespace comes first: it is created (or joined) and mapped before any
other, so that the others belong to it.
"""

from __future__ import annotations

import os

from ..errors import InvalidConfig, UserruncError
from ..linux import syscalls
from ..store import in_initial_user_namespace

CLONE_FLAGS = {
    "user": syscalls.CLONE_NEWUSER,
    "mount": syscalls.CLONE_NEWNS,
    "pid": syscalls.CLONE_NEWPID,
    "uts": syscalls.CLONE_NEWUTS,
    "ipc": syscalls.CLONE_NEWIPC,
    "network": syscalls.CLONE_NEWNET,
    "cgroup": syscalls.CLONE_NEWCGROUP,
    "time": syscalls.CLONE_NEWTIME,
}
# Names of the files under /proc/PID/ns/.
PROC_NAMES = {
    "user": "user",
    "mount": "mnt",
    "pid": "pid",
    "uts": "uts",
    "ipc": "ipc",
    "network": "net",
    "cgroup": "cgroup",
    "time": "time",
}
# setns(2) order for joined namespaces: the mount namespace last, because
# joining it changes the root and working directory of the caller.
JOIN_ORDER = ("ipc", "uts", "network", "pid", "cgroup", "time", "mount")

NS_GET_NSTYPE = 0xB703


class NamespacePlan:
    """The namespaces of a container: new ones as clone flags, joined ones as open fds."""

    __slots__ = ("new_flags", "join", "new_user", "join_user_fd", "types", "index", "in_user_namespace")

    def __init__(self) -> None:
        self.new_flags = 0
        # [(type, fd)] in JOIN_ORDER, the user namespace excluded.
        self.join: list[tuple[str, int]] = []
        self.new_user = False
        self.join_user_fd = -1
        # Every type the container has, new or joined.
        self.types: set[str] = set()
        # Type -> index in linux.namespaces, for error messages.
        self.index: dict[str, int] = {}
        # Whether the init runs in a user namespace other than the host's:
        # its own, or the caller's (as under podman without root).
        self.in_user_namespace = False

    def has(self, kind: str) -> bool:
        return kind in self.types

    def is_new(self, kind: str) -> bool:
        if kind == "user":
            return self.new_user
        return bool(self.new_flags & CLONE_FLAGS[kind])

    def needs_fork(self) -> bool:
        """Return True when the init must be forked: a new or joined PID or time namespace applies only to children."""
        return bool(self.new_flags & (syscalls.CLONE_NEWPID | syscalls.CLONE_NEWTIME)) or any(
            kind in ("pid", "time") for kind, _fd in self.join
        )

    def close(self) -> None:
        for _kind, fd in self.join:
            try:
                os.close(fd)
            except OSError:
                pass
        self.join = []
        if self.join_user_fd >= 0:
            os.close(self.join_user_fd)
            self.join_user_fd = -1


def _open_namespace(kind: str, path: str, index: int) -> int:
    where = f"linux.namespaces[{index}].path"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise InvalidConfig(where, f"cannot open {path}: {error.strerror}") from None
    import fcntl

    try:
        found = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        os.close(fd)
        raise InvalidConfig(where, f"{path} is not a namespace file (expected a /proc/PID/ns/{PROC_NAMES[kind]} link)") from None
    if found != CLONE_FLAGS[kind]:
        os.close(fd)
        raise InvalidConfig(where, f"{path} is not a {kind} namespace")
    return fd


def plan(spec: dict, rootless: bool) -> NamespacePlan:
    """Build the namespace plan of a validated spec and open the paths to join."""
    result = NamespacePlan()
    entries = spec.get("linux", {}).get("namespaces", [])
    try:
        for index, entry in enumerate(entries):
            kind = entry["type"]
            path = entry.get("path")
            result.types.add(kind)
            result.index[kind] = index
            if kind == "user":
                if path:
                    result.join_user_fd = _open_namespace(kind, path, index)
                else:
                    result.new_user = True
                continue
            if path:
                result.join.append((kind, _open_namespace(kind, path, index)))
            else:
                result.new_flags |= CLONE_FLAGS[kind]
        result.join.sort(key=lambda item: JOIN_ORDER.index(item[0]))
        if rootless and "user" not in result.types and os.geteuid() != 0:
            # Without root, every other namespace needs a user namespace that
            # owns it, so one is made (the caller becomes root inside), as
            # crun does. A caller that is root in its own user namespace, as
            # podman without root runs the runtime, creates the others itself.
            result.new_user = True
            result.types.add("user")
        result.in_user_namespace = "user" in result.types or not in_initial_user_namespace()
        if "mount" not in result.types:
            raise InvalidConfig(
                "linux.namespaces",
                "a mount namespace is required to set up the root filesystem; add {\"type\": \"mount\"}",
            )
        if "time" in result.types and not os.path.exists("/proc/self/ns/time"):
            raise UserruncError(
                f"linux.namespaces[{result.index['time']}]: this kernel has no time namespaces (Linux 5.6 or newer needed)"
            )
    except BaseException:
        result.close()
        raise
    return result
