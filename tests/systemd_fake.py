"""A fake systemd manager on a private D-Bus socket, for the systemd driver's host tests.

The development hosts and CI boot without systemd, so the tests point
DBUS_SYSTEM_BUS_ADDRESS or DBUS_SESSION_BUS_ADDRESS at this fake. It speaks
the peer-to-peer D-Bus protocol (SASL EXTERNAL, then binary messages made
with dbus-fast's marshaller) and replies to the calls that the driver makes:
Hello and AddMatch of the bus, and Subscribe, StartTransientUnit, GetUnit,
StopUnit, ResetFailedUnit and Properties.Get of the manager. A started
scope gets a real cgroup v2 directory under a base directory of the test,
and the fake moves the PIDs into it, as systemd would. The fake runs as
root in the test process, so it can move processes of the test user too.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import struct
import threading
import time

from dbus_fast import Message, MessageType, Variant
from dbus_fast._private.unmarshaller import Unmarshaller

SYSTEMD = "org.freedesktop.systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"


class FakeSystemd:
    """Serves connections on `socket_path` in a thread until close().

    start_results lists the job results of the next StartTransientUnit
    calls ("done" when the list is empty); "exists" makes the call fail
    with the UnitExists error instead. Set no_systemd to fail the manager's
    calls with ServiceUnknown, as a bus without systemd on it does.
    """

    def __init__(self, socket_path: str, cgroup_base: str) -> None:
        self.socket_path = socket_path
        self.cgroup_base = cgroup_base
        self.start_results: list[str] = []
        self.no_systemd = False
        self.calls: list[tuple[str, list]] = []
        # unit name -> ControlGroup path of the scopes that are active.
        self.units: dict[str, str] = {}
        self._job = 0
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(socket_path)
        os.chmod(socket_path, 0o777)
        self._server.listen(8)
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def members(self) -> list[str]:
        return [member for member, _body in self.calls]

    def call_body(self, member: str) -> list:
        return next(body for name, body in self.calls if name == member)

    def close(self) -> None:
        self._closed = True
        self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(5)
        for unit in list(self.units):
            self._stop(unit)
        # cgroupfs removes a directory with rmdir, files included, so walk bottom-up.
        for root, _dirs, _files in os.walk(self.cgroup_base, topdown=False):
            os.rmdir(root)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                connection, _address = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            reader = connection.makefile("rb")
            try:
                if not self._authenticate(connection, reader):
                    return
                while True:
                    message = _read_message(reader)
                    if message is None:
                        return
                    for reply in self._handle(message):
                        connection.sendall(reply._marshall(False))
            except (OSError, ValueError):
                return

    def _authenticate(self, connection: socket.socket, reader) -> bool:
        if reader.read(1) != b"\0":
            return False
        while True:
            line = reader.readline()
            if not line:
                return False
            command = line.strip().decode()
            if command.startswith("AUTH EXTERNAL"):
                connection.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
            elif command.startswith("AUTH"):
                connection.sendall(b"REJECTED EXTERNAL\r\n")
            elif command == "NEGOTIATE_UNIX_FD":
                connection.sendall(b"AGREE_UNIX_FD\r\n")
            elif command == "BEGIN":
                return True
            else:
                connection.sendall(b"ERROR\r\n")

    def _handle(self, message: Message) -> list[Message]:
        if message.message_type != MessageType.METHOD_CALL:
            return []
        with self._lock:
            self.calls.append((message.member, list(message.body)))
        member = message.member
        if message.destination == "org.freedesktop.DBus":
            if member == "Hello":
                return [Message.new_method_return(message, "s", [":1.1"])]
            return [Message.new_method_return(message)]
        if self.no_systemd:
            return [_error(message, "org.freedesktop.DBus.Error.ServiceUnknown", f"The name {SYSTEMD} was not provided by any .service files")]
        if member == "Subscribe" or member == "ResetFailedUnit":
            return [Message.new_method_return(message)]
        if member == "StartTransientUnit":
            return self._start(message)
        if member == "StopUnit":
            unit = message.body[0]
            if unit not in self.units:
                return [_error(message, "org.freedesktop.systemd1.NoSuchUnit", f"Unit {unit} not loaded.")]
            self._stop(unit)
            job = self._next_job()
            # Here the reply comes before the signal, as systemd usually sends them.
            return [Message.new_method_return(message, "o", [job]), _job_removed(job, unit, "done")]
        if member == "GetUnit":
            unit = message.body[0]
            if unit not in self.units:
                return [_error(message, "org.freedesktop.systemd1.NoSuchUnit", f"Unit {unit} not loaded.")]
            return [Message.new_method_return(message, "o", [_unit_path(unit)])]
        if member == "Get" and message.body[1] == "ControlGroup":
            unit = next(name for name in self.units if _unit_path(name) == message.path)
            return [Message.new_method_return(message, "v", [Variant("s", self.units[unit])])]
        return [_error(message, "org.freedesktop.DBus.Error.UnknownMethod", f"unknown method {member}")]

    def _start(self, message: Message) -> list[Message]:
        unit, _mode, properties, _aux = message.body
        result = self.start_results.pop(0) if self.start_results else "done"
        if result == "exists":
            return [_error(message, "org.freedesktop.systemd1.UnitExists", f"Unit {unit} was already loaded or has a fragment file.")]
        values = {name: variant.value for name, variant in properties}
        job = self._next_job()
        if result == "done":
            control_group = "/" + os.path.relpath(os.path.join(self.cgroup_base, values["Slice"], unit), cgroup2_root())
            directory = os.path.join(cgroup2_root(), control_group.lstrip("/"))
            os.makedirs(directory)
            for pid in values["PIDs"]:
                with open(os.path.join(directory, "cgroup.procs"), "w") as handle:
                    handle.write(str(pid))
            self.units[unit] = control_group
        # The signal goes out before the reply: the driver must keep job
        # signals that arrive before the reply with the job's path.
        return [_job_removed(job, unit, result), Message.new_method_return(message, "o", [job])]

    def _stop(self, unit: str) -> None:
        directory = os.path.join(cgroup2_root(), self.units.pop(unit).lstrip("/"))
        deadline = time.monotonic() + 10
        while os.path.isdir(directory) and time.monotonic() < deadline:
            with open(os.path.join(directory, "cgroup.procs")) as handle:
                pids = [int(line) for line in handle if line.strip()]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(directory)
            except OSError:
                time.sleep(0.02)

    def _next_job(self) -> str:
        with self._lock:
            self._job += 1
            return f"/org/freedesktop/systemd1/job/{self._job}"


def cgroup2_root() -> str:
    """Return the mount point of the cgroup v2 hierarchy: /sys/fs/cgroup, or its unified/ on a hybrid host."""
    for candidate in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(candidate, "cgroup.controllers")):
            return candidate
    raise RuntimeError("no cgroup v2 hierarchy under /sys/fs/cgroup")


def _unit_path(unit: str) -> str:
    escaped = "".join(char if char.isalnum() else f"_{ord(char):02x}" for char in unit)
    return f"/org/freedesktop/systemd1/unit/{escaped}"


def _error(message: Message, name: str, text: str) -> Message:
    return Message.new_error(message, name, text)


def _job_removed(job: str, unit: str, result: str) -> Message:
    number = int(job.rsplit("/", 1)[1])
    return Message.new_signal("/org/freedesktop/systemd1", MANAGER, "JobRemoved", "uoss", [number, job, unit, result])


def _read_message(reader) -> Message | None:
    """Read one whole message: the 16-byte fixed header gives the lengths of the rest."""
    header = reader.read(16)
    if len(header) < 16:
        return None
    order = "<" if header[0:1] == b"l" else ">"
    body_length, _serial, fields_length = struct.unpack(order + "III", header[4:16])
    fields_end = 16 + fields_length
    padded = fields_end + (-fields_end % 8)
    rest = reader.read(padded - 16 + body_length)
    return Unmarshaller(io.BytesIO(header + rest), negotiate_unix_fd=False).unmarshall()
