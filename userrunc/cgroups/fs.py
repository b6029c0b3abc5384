"""The cgroupfs driver: one directory per container in every hierarchy.

A relative or empty cgroupsPath is placed below the caller's own cgroup
(an empty one becomes `userrunc-<id>`), an absolute one below the root of
each hierarchy, as runc's cgroupfs driver does. Without root, directories
can be made only where the caller was delegated a cgroup v2 subtree. On
cgroup v1, or without delegation, the container runs in the caller's
cgroup and the manager records nothing, as runc does for rootless
containers.
"""

from __future__ import annotations

import errno
import os
import time

from .. import log
from ..errors import CgroupError

ROOT = "/sys/fs/cgroup"


def _own_cgroups() -> dict[str, str]:
    """Return {hierarchy key: path} from /proc/self/cgroup; key "" is cgroup v2."""
    result = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _number, controllers, path = line.rstrip("\n").split(":", 2)
            result[controllers] = path
    return result


def _mount_points() -> dict[str, str]:
    """Return {hierarchy key: mount point} for the cgroup mounts under /sys/fs/cgroup."""
    result = {}
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            before, _sep, after = line.partition(" - ")
            fields = after.split()
            if len(fields) < 3:
                continue
            fstype, _source, super_options = fields[0], fields[1], fields[2]
            mount_point = before.split()[4]
            if not mount_point.startswith(ROOT):
                continue
            if fstype == "cgroup2":
                result[""] = mount_point
            elif fstype == "cgroup":
                keys = [
                    option
                    for option in super_options.split(",")
                    if option not in ("rw", "ro") and not option.startswith(("release_agent=", "clone_children", "noprefix", "xattr", "cpuset_v2_mode"))
                ]
                result[",".join(keys)] = mount_point
    return result


class FsManager:
    """Cgroup directories of one container, one per hierarchy."""

    __slots__ = ("paths",)

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    @classmethod
    def for_new(cls, container_id: str, cgroups_path: str, rootless: bool) -> "FsManager | None":
        own = _own_cgroups()
        mounts = _mount_points()
        name = cgroups_path or f"userrunc-{container_id}"
        paths = []
        for mount_key, mount_point in sorted(mounts.items()):
            key = "" if mount_key == "" else next((k for k in own if k and set(k.split(",")) == set(mount_key.split(","))), None)
            if key is None or key not in own:
                continue
            if os.path.isabs(name):
                relative = name.lstrip("/")
            else:
                # TODO: place containers where controllers can be enabled. On cgroup v2 the caller's cgroup
                # contains processes (the caller at least), so no controller can be enabled below it.
                relative = os.path.join(own[key].lstrip("/"), name)
            paths.append(os.path.join(mount_point, relative))
        if not paths:
            return None
        return cls(paths)

    @classmethod
    def from_record(cls, record: dict) -> "FsManager":
        return cls(list(record.get("paths", [])))

    def record(self) -> dict:
        return {"driver": "cgroupfs", "paths": self.paths}

    def create(self, rootless: bool) -> bool:
        """Make the directories; return whether any was made.

        Without root, a hierarchy where the directory cannot be made is
        skipped with a debug log; with root, that is an error.
        """
        created = []
        for path in self.paths:
            existed = os.path.isdir(path)
            try:
                os.makedirs(path, exist_ok=True)
                if not existed and "/cpuset" in path:
                    _copy_cpuset(path)
            except OSError as error:
                if rootless and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                    log.debug(f"no cgroup at {path}: {error.strerror} (not delegated to this user)")
                    continue
                self.paths = created
                self.destroy()
                raise CgroupError(f"cannot create cgroup {path}: {error.strerror}") from None
            created.append(path)
        self.paths = created
        return bool(created)

    def apply(self, pid: int) -> None:
        """Move the process into every directory of the container."""
        for path in self.paths:
            try:
                with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                    handle.write(str(pid))
            except OSError as error:
                raise CgroupError(f"cannot move process {pid} into cgroup {path}: {error.strerror}") from None

    def pids(self) -> list[int]:
        for path in self.paths:
            try:
                with open(os.path.join(path, "cgroup.procs")) as handle:
                    return [int(line) for line in handle if line.strip()]
            except FileNotFoundError:
                continue
            except OSError as error:
                # Reading a cgroup removed after the open fails with ENODEV. systemd
                # removes an emptied scope at any moment, even while delete runs.
                if error.errno != errno.ENODEV:
                    raise
                continue
        return []

    def frozen(self) -> bool:
        for path in self.paths:
            if "/freezer/" in path:
                try:
                    with open(os.path.join(path, "freezer.state")) as handle:
                        return handle.read().strip() == "FROZEN"
                except OSError:
                    return False
            if path.startswith(ROOT) and os.path.exists(os.path.join(path, "cgroup.freeze")):
                try:
                    with open(os.path.join(path, "cgroup.events")) as handle:
                        return "frozen 1" in handle.read()
                except OSError:
                    return False
        return False

    def set_frozen(self, frozen: bool) -> None:
        from .freezer import set_frozen

        set_frozen(self.paths, frozen)

    def destroy(self) -> None:
        """Remove the directories; retry briefly while the last processes are reaped."""
        failed = []
        for path in self.paths:
            for attempt in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno == errno.EBUSY and attempt < 49:
                        time.sleep(0.01)
                        continue
                    failed.append(f"{path} ({error.strerror})")
                    break
        if failed:
            raise CgroupError("cannot remove cgroup " + ", ".join(failed))


def _copy_cpuset(path: str) -> None:
    """Copy cpuset.cpus and cpuset.mems from the parent: a new v1 cpuset has none, which forbids adding tasks."""
    parent = os.path.dirname(path)
    for name in ("cpuset.cpus", "cpuset.mems"):
        with open(os.path.join(parent, name)) as handle:
            value = handle.read().strip()
        with open(os.path.join(path, name), "w") as handle:
            handle.write(value)
