"""Cgroup managers: where a container's processes are placed, and how they are found again.

Two drivers exist: cgroupfs (fs.py: directories under /sys/fs/cgroup,
cgroup v1, v2 and hybrid) and systemd (systemd.py: a transient scope from
the system or user manager over D-Bus). Resource limits are not applied
yet; config.py rejects a config that requests them.

A manager has:
- create(rootless) -> bool: prepare the cgroup (directories for cgroupfs,
  nothing yet for systemd); False means the container gets no cgroup;
- apply(pid): the parent calls it right after fork; the child waits for
  it only before it creates the cgroup namespace and forks the init;
- record() -> dict stored in state.json, from which load_manager()
  rebuilds it; pids(), frozen(), set_frozen() and destroy() for later
  commands.
"""

from __future__ import annotations

import os

from .. import log
from ..errors import UserruncError


def manager_name(global_options: dict) -> str:
    """Return cgroupfs, systemd or disabled from --cgroup-manager and --systemd-cgroup."""
    chosen = global_options.get("cgroup_manager")
    if global_options.get("systemd_cgroup"):
        if chosen not in (None, "systemd"):
            raise UserruncError(f"--systemd-cgroup conflicts with --cgroup-manager {chosen}")
        return "systemd"
    return chosen or "cgroupfs"


def create_manager(name: str, container_id: str, cgroups_path: str, rootless: bool):
    """Return a manager for a new container."""
    if name == "disabled":
        return None
    if name == "systemd":
        from .systemd import SystemdManager

        return SystemdManager.for_new(container_id, cgroups_path, rootless)
    if rootless and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        # Without root, only a delegated cgroup v2 subtree is writable. So on
        # a v1 or hybrid host the container stays in the caller's cgroup, as
        # with runc.
        log.debug("no cgroup for this container: cgroup v1 is not delegated to unprivileged users")
        return None
    from .fs import FsManager

    return FsManager.for_new(container_id, cgroups_path, rootless)


def load_manager(record: dict | None):
    """Return the manager described by state.json's "cgroup" record, or None."""
    if not record:
        return None
    if record.get("driver") == "systemd":
        from .systemd import SystemdManager

        return SystemdManager.from_record(record)
    from .fs import FsManager

    return FsManager.from_record(record)


def destroy_quietly(manager) -> None:
    if manager is None:
        return
    try:
        manager.destroy()
    except UserruncError as error:
        log.warning(str(error))
