"""The systemd cgroup driver: a transient scope from the systemd manager over D-Bus.

Real root requests the scope from the system manager on the system bus,
and an unprivileged caller from its own user manager on the session bus
that dbus-user-session puts at $XDG_RUNTIME_DIR/bus. linux.cgroupsPath has
runc's systemd form `slice:prefix:name`, which names the scope
`prefix-name.scope` in `slice`.
An empty one places `userrunc-<id>.scope` in system.slice for root and in
user.slice (of the user manager) without root, as runc does with its own
prefix.

The scope is started with the child's PID and Delegate=yes, so the
container owns the cgroup subtree below the scope. Its processes are found
again through the cgroup directories of ControlGroup, read from
cgroup.procs and cgroup.events without D-Bus. A transient scope stops, and
with CollectMode=inactive-or-failed disappears, once its last process has
exited, so destroy() calls StopUnit only while the cgroup still exists.
"""

from __future__ import annotations

import os

from .. import log
from ..errors import CgroupError, InvalidConfig, NotSupported

DEFAULT_PREFIX = "userrunc"
SYSTEM_SLICE = "system.slice"
USER_SLICE = "user.slice"
SYSTEM_BUS_DEFAULT = "unix:path=/var/run/dbus/system_bus_socket"
CGROUP_ROOT = "/sys/fs/cgroup"
# The characters and the maximum length of a unit name, from VALID_CHARS and
# UNIT_NAME_MAX (256, with the terminating NUL) in systemd's src/basic/unit-name.c.
UNIT_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\")
UNIT_NAME_MAX = 255
CGROUPS_PATH_FORM = "slice:prefix:name, for example machine.slice:libpod:abc"


def parse_cgroups_path(cgroups_path: str, container_id: str, rootless: bool) -> tuple[str, str]:
    """Return (slice, scope unit name) for linux.cgroupsPath in systemd form; raise InvalidConfig."""
    default_slice = USER_SLICE if rootless else SYSTEM_SLICE
    if not cgroups_path:
        return default_slice, f"{DEFAULT_PREFIX}-{_escape(container_id)}.scope"

    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise InvalidConfig(
            "linux.cgroupsPath",
            f"{cgroups_path!r} is not a systemd cgroup path: expected {CGROUPS_PATH_FORM} (--systemd-cgroup)",
        )
    slice_name, prefix, name = parts

    if not slice_name:
        slice_name = default_slice
    elif slice_name == "-":
        # runc's notation for the root slice.
        slice_name = "-.slice"
    if not slice_name.endswith(".slice") or "/" in slice_name or not _is_unit_name(slice_name):
        raise InvalidConfig(
            "linux.cgroupsPath",
            f"invalid slice {slice_name!r} in {cgroups_path!r}: expected a systemd slice name such as "
            f"machine.slice, or '-' for the root slice ({CGROUPS_PATH_FORM})",
        )

    if not name:
        raise InvalidConfig("linux.cgroupsPath", f"the name in {cgroups_path!r} is empty: expected {CGROUPS_PATH_FORM}")
    if name.endswith(".slice"):
        # TODO: runc creates a slice unit for a name ending in .slice and joins it through cgroupfs.
        raise NotSupported(f"linux.cgroupsPath {cgroups_path!r}: a slice as the container's unit is not supported yet; use a scope name")

    unit = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
    if not _is_unit_name(unit):
        raise InvalidConfig(
            "linux.cgroupsPath",
            f"{cgroups_path!r} gives the invalid unit name {unit!r}: prefix and name may contain only "
            "A-Z a-z 0-9 : - _ . \\, up to 255 characters in all",
        )
    return slice_name, unit


def _is_unit_name(name: str) -> bool:
    return 0 < len(name) <= UNIT_NAME_MAX and UNIT_NAME_CHARACTERS.issuperset(name)


def _escape(text: str) -> str:
    """Escape what a unit name cannot contain as \\xNN, as systemd-escape does (a container id may contain +)."""
    return "".join(char if char in UNIT_NAME_CHARACTERS and char != "\\" else f"\\x{ord(char):02x}" for char in text)


def bus_address(rootless: bool) -> tuple[str, str]:
    """Return (which manager, D-Bus address): the system bus for root, the user's session bus without."""
    if not rootless:
        return "system", os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS_DEFAULT
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return "user", address
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return "user", f"unix:path={runtime_dir}/bus"


def _connection_hint(manager: str) -> str:
    if manager == "system":
        return (
            "The systemd cgroup driver needs a host booted with systemd and the system bus (package dbus); "
            "use --cgroup-manager cgroupfs otherwise"
        )
    user = _user_name()
    return (
        f"The systemd user manager and its bus start with a login session, or at boot after `loginctl enable-linger {user}`, "
        "and the bus socket comes with the package dbus-user-session; use --cgroup-manager cgroupfs otherwise"
    )


def _user_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def cgroup_directories(control_group: str) -> list[str]:
    """Map a ControlGroup path onto the mounted hierarchies that contain it, cgroup v2 first."""
    from .fs import _mount_points

    relative = control_group.lstrip("/")
    found = []
    for key, mount_point in sorted(_mount_points().items()):
        directory = os.path.join(mount_point, relative)
        if os.path.isdir(directory):
            found.append(directory)
    return found


class SystemdManager:
    """A transient scope unit of one container, and the cgroup directories systemd made for it."""

    __slots__ = ("container_id", "manager", "address", "slice", "unit", "control_group", "paths", "_connection", "_started")

    def __init__(self, container_id: str, manager: str, address: str, slice_name: str, unit: str) -> None:
        self.container_id = container_id
        self.manager = manager
        self.address = address
        self.slice = slice_name
        self.unit = unit
        self.control_group = ""
        self.paths: list[str] = []
        self._connection = None
        # Whether StartTransientUnit was sent, so that destroy() stops the unit after a failed create.
        self._started = False

    @classmethod
    def for_new(cls, container_id: str, cgroups_path: str, rootless: bool) -> "SystemdManager":
        slice_name, unit = parse_cgroups_path(cgroups_path, container_id, rootless)
        manager, address = bus_address(rootless)
        return cls(container_id, manager, address, slice_name, unit)

    @classmethod
    def from_record(cls, record: dict) -> "SystemdManager":
        manager = record.get("manager", "system")
        _manager, address = bus_address(manager == "user")
        self = cls("", manager, address, record.get("slice", ""), record.get("unit", ""))
        self.control_group = record.get("controlGroup", "")
        self.paths = list(record.get("paths", []))
        self._started = True
        return self

    def record(self) -> dict:
        return {
            "driver": "systemd",
            "manager": self.manager,
            "unit": self.unit,
            "slice": self.slice,
            "controlGroup": self.control_group,
            "paths": self.paths,
        }

    def create(self, rootless: bool) -> bool:
        """Connect to the manager before anything is forked, so a missing bus fails early."""
        self._connect()
        return True

    def apply(self, pid: int) -> None:
        """Start the scope with `pid` in it, wait for the start job, and find its cgroup."""
        from .systemd_dbus import BusError, BusTimeout, BusUnavailable

        connection = self._connect()
        try:
            job = self._start_unit(connection, pid)
            result = connection.wait_for_job(job)
            if result != "done":
                raise CgroupError(
                    f"systemd {self.manager} manager could not start unit {self.unit} in {self.slice}: the job result is {result!r}"
                )
            (unit_path,) = connection.call_manager("GetUnit", "s", [self.unit])
            self.control_group = connection.get_property(unit_path, "org.freedesktop.systemd1.Scope", "ControlGroup")
        except (BusError, BusUnavailable, BusTimeout) as error:
            raise CgroupError(f"cannot start systemd unit {self.unit} in {self.slice} ({self.manager} manager at {self.address}): {error}") from None
        finally:
            self._disconnect()
        if not self.control_group:
            raise CgroupError(f"systemd unit {self.unit} has no cgroup (its ControlGroup property is empty)")
        self.paths = cgroup_directories(self.control_group)
        if not self.paths:
            raise CgroupError(f"the cgroup {self.control_group} of systemd unit {self.unit} is not under {CGROUP_ROOT}")
        log.debug(f"container {self.container_id} is in {self.unit}, cgroup {self.control_group}", unit=self.unit)

    def _start_unit(self, connection, pid: int) -> str:
        from .systemd_dbus import BusError

        arguments = [self.unit, "fail", self._properties(pid), []]
        self._started = True
        try:
            (job,) = connection.call_manager("StartTransientUnit", "ssa(sv)a(sa(sv))", arguments)
            return job
        except BusError as error:
            if error.name != "org.freedesktop.systemd1.UnitExists":
                raise
        # A unit of that name is loaded: a failed one that was not collected
        # can be reset and started again, but an active one cannot.
        try:
            connection.call_manager("ResetFailedUnit", "s", [self.unit])
            (job,) = connection.call_manager("StartTransientUnit", "ssa(sv)a(sa(sv))", arguments)
        except BusError as error:
            # The unit belongs to someone else: destroy() must leave it alone.
            self._started = False
            raise CgroupError(
                f"systemd unit {self.unit} already exists ({error.text or error.name}); "
                "another container uses this linux.cgroupsPath or container id"
            ) from None
        return job

    def _properties(self, pid: int) -> list:
        from .systemd_dbus import Variant

        properties = [
            ("Description", Variant("s", f"userrunc container {self.container_id}")),
            ("Slice", Variant("s", self.slice)),
            ("PIDs", Variant("au", [pid])),
            ("Delegate", Variant("b", True)),
            ("DefaultDependencies", Variant("b", False)),
            ("CollectMode", Variant("s", "inactive-or-failed")),
            ("MemoryAccounting", Variant("b", True)),
            ("CPUAccounting", Variant("b", True)),
            ("TasksAccounting", Variant("b", True)),
        ]
        if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
            # cgroup v1 has blkio, for which systemd takes BlockIOAccounting.
            properties.append(("IOAccounting", Variant("b", True)))
        # TODO: pass the annotations org.systemd.property.NAME (GVariant text values) on as unit properties.
        return properties

    def pids(self) -> list[int]:
        from .fs import FsManager

        return FsManager(self.paths).pids()

    def frozen(self) -> bool:
        from .fs import FsManager

        return FsManager(self.paths).frozen()

    def set_frozen(self, frozen: bool) -> None:
        # The scope's cgroup.freeze is written directly, as the cgroupfs driver
        # does, so pause and resume need no D-Bus.
        from .freezer import set_frozen

        set_frozen(self.paths, frozen)

    def destroy(self) -> None:
        """Stop the scope if it still exists; a scope that systemd already removed is fine."""
        if not self._started:
            self._disconnect()
            return
        if self.paths and not any(os.path.isdir(path) for path in self.paths):
            # systemd removes a scope's cgroup when the scope stops.
            self._disconnect()
            return
        from .systemd_dbus import BusError, BusTimeout, BusUnavailable

        try:
            connection = self._connect()
            try:
                (job,) = connection.call_manager("StopUnit", "ss", [self.unit, "replace"])
            except BusError as error:
                if error.name == "org.freedesktop.systemd1.NoSuchUnit":
                    return
                raise
            result = connection.wait_for_job(job)
            if result != "done":
                raise CgroupError(f"systemd {self.manager} manager could not stop unit {self.unit}: the job result is {result!r}")
        except (BusError, BusUnavailable, BusTimeout) as error:
            raise CgroupError(f"cannot stop systemd unit {self.unit} ({self.manager} manager at {self.address}): {error}") from None
        finally:
            self._disconnect()

    def _connect(self):
        if self._connection is not None:
            return self._connection
        from .systemd_dbus import BusError, BusTimeout, BusUnavailable, ManagerConnection

        with log.step(f"cgroup: connect to the systemd {self.manager} manager"):
            connection = ManagerConnection(self.address)
            try:
                connection.connect()
            except (BusUnavailable, BusTimeout) as error:
                connection.close()
                raise CgroupError(
                    f"cannot connect to the systemd {self.manager} manager at {self.address}: {error}. "
                    + _connection_hint(self.manager)
                ) from None
            except BusError as error:
                connection.close()
                raise CgroupError(
                    f"the systemd {self.manager} manager is not available on {self.address}: {error}. "
                    + _connection_hint(self.manager)
                ) from None
        self._connection = connection
        return connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()
