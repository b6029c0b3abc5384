"""Mount entries of type cgroup and cgroup2.

cgroup2 is mounted afresh where the container has a cgroup namespace (or
runs as real root). cgroup v1 hierarchies cannot be mounted afresh in a
user namespace, and a cgroup2 mount needs a cgroup namespace owned by the
container's user namespace. Where the kernel rejects the mount, a
recursive read-only bind of the host's tree shows the same files without
letting the container change them.
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
        # TODO: mount the v1 hierarchies one by one (with the container's cgroup as root) when running as real root.
        bind_host(rootfs, "/sys/fs/cgroup", target, destination, flags)
    finally:
        os.close(target)
