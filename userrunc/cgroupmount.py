"""Mount entries of type cgroup and cgroup2.

cgroup2 is mounted afresh where the container has a cgroup namespace (or
runs as real root). On a cgroup v1 or hybrid host, a `cgroup` entry
becomes a tmpfs with every hierarchy of the host mounted afresh below it,
each rooted at the container's cgroup by its cgroup namespace, as runc
lays it out. A cgroup mount needs a cgroup namespace owned by the
container's user namespace. Where the kernel rejects a mount, a recursive
read-only bind of the host's tree (or of that hierarchy) shows the same
files without letting the container change them.
"""

from __future__ import annotations

import errno
import os

from . import log
from .errors import UserruncError
from .linux import mountflags as mf
from .rootfs import Rootfs


def _host_unified_path() -> str | None:
    """Return where the host mounts the unified (v2) hierarchy, or None."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "/sys/fs/cgroup"
    if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        return "/sys/fs/cgroup/unified"
    return None


def mount(rootfs: Rootfs, destination: str, fstype: str, options) -> None:
    from .mounts import bind_host

    target = rootfs.make_dirs(destination)
    flags = options.flags & ~mf.MS_REMOUNT
    try:
        unified = _host_unified_path()
        own_cgroupns = rootfs.plan.is_new("cgroup")
        v2 = fstype == "cgroup2" or (unified == "/sys/fs/cgroup" and (own_cgroupns or not rootfs.userns))
        if v2:
            try:
                rootfs.mount("cgroup2", target, destination, "cgroup2", flags, ",".join(options.data))
                return
            except UserruncError as error:
                # EPERM: no cgroup namespace owned by the user namespace.
                # EBUSY: the rootless config binds the host's /sys, so the
                # host's cgroup2 is mounted there already, and the kernel
                # refuses the same filesystem twice on one mount point.
                if not (rootfs.userns and getattr(error, "errno", 0) in (errno.EPERM, errno.EBUSY) and unified):
                    raise
                log.debug(f"cgroup2 cannot be mounted on {destination} in this user namespace; binding the host's {unified}")
            bind_host(rootfs, unified, target, destination, flags)
            return
        if own_cgroupns:
            _mount_v1_tree(rootfs, target, destination, flags)
            return
        # Without a cgroup namespace a fresh mount would show the host's
        # whole tree as writable files; the read-only bind shows it safely.
        bind_host(rootfs, "/sys/fs/cgroup", target, destination, flags)
    finally:
        os.close(target)


def host_hierarchies() -> list[tuple[str, str, str]]:
    """Return (name under /sys/fs/cgroup, filesystem type, controller options) of the host's cgroup mounts."""
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            before, _sep, after = line.partition(" - ")
            fields = after.split()
            if len(fields) < 3 or fields[0] not in ("cgroup", "cgroup2"):
                continue
            mount_point = before.split()[4]
            parent, name = os.path.split(mount_point)
            if parent != "/sys/fs/cgroup" or not name:
                continue
            controllers = [
                option
                for option in fields[2].split(",")
                if option not in ("rw", "ro") and not option.startswith(("release_agent=", "clone_children", "xattr", "noprefix", "cpuset_v2_mode", "nsdelegate", "memory_"))
            ]
            found.append((name, fields[0], ",".join(controllers)))
    return found


def _mount_v1_tree(rootfs: Rootfs, target: int, destination: str, flags: int) -> None:
    """Lay out the host's hierarchies under a tmpfs at destination, each mounted in the container's cgroup namespace."""
    base_flags = mf.MS_NOSUID | mf.MS_NODEV | mf.MS_NOEXEC
    rootfs.mount("tmpfs", target, destination, "tmpfs", base_flags, "mode=755")
    tree = rootfs.resolve(destination, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name, fstype, controllers in host_hierarchies():
            path = f"{destination}/{name}"
            os.mkdir(name, 0o755, dir_fd=tree)
            point = rootfs.resolve(path)
            try:
                data = controllers if fstype == "cgroup" else ""
                try:
                    rootfs.mount(fstype, point, path, fstype, (flags | base_flags) & ~mf.MS_REMOUNT, data)
                except UserruncError as error:
                    if not (rootfs.userns and getattr(error, "errno", 0) in (errno.EPERM, errno.EBUSY)):
                        raise
                    log.debug(f"{fstype} {controllers} cannot be mounted on {path} in this user namespace; binding the host's")
                    from .mounts import bind_host

                    bind_host(rootfs, f"/sys/fs/cgroup/{name}", point, path, flags)
            finally:
                os.close(point)
        # Co-mounted controllers have symlinks on the host (cpu -> cpu,cpuacct).
        for entry in os.scandir("/sys/fs/cgroup"):
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), entry.name, dir_fd=tree)
    finally:
        os.close(tree)
    if flags & mf.MS_RDONLY:
        mounted = rootfs.resolve(destination)
        try:
            rootfs.mount(None, mounted, destination, None, mf.MS_REMOUNT | mf.MS_BIND | mf.MS_RDONLY | base_flags)
        finally:
            os.close(mounted)

