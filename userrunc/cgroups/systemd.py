"""The systemd cgroup driver: a transient scope from the systemd manager over D-Bus."""

from __future__ import annotations

from ..errors import NotSupported


class SystemdManager:
    @classmethod
    def for_new(cls, container_id: str, cgroups_path: str, rootless: bool):
        # TODO: start a transient scope (Delegate=yes) through org.freedesktop.systemd1 with dbus-fast.
        raise NotSupported("the systemd cgroup manager is not supported yet; use --cgroup-manager cgroupfs")

    @classmethod
    def from_record(cls, record: dict):
        raise NotSupported("the systemd cgroup manager is not supported yet")
