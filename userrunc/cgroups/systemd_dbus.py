"""A blocking client of the systemd manager's D-Bus API, built on dbus-fast.

dbus-fast has no blocking API, and importing any part of it runs
dbus_fast/__init__.py, which imports asyncio through its message bus
module. Its asyncio MessageBus therefore costs no more than the bare
marshalling classes, so this module runs that bus on a private event loop
and offers plain calls. Only the systemd driver imports this module: it
adds about 55 ms to a command (dbus-fast 5.2, CPython 3.11, measured with
`python -c 'import dbus_fast.aio'` against `python -c pass`).
"""

from __future__ import annotations

import asyncio

from dbus_fast import AuthError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
PROPERTIES = "org.freedesktop.DBus.Properties"

# systemd usually replies within milliseconds, but a busy manager (or a guest
# under emulation) may take seconds.
CALL_TIMEOUT = 30.0
# Longer than the 90 s default stop timeout of a scope, after which systemd
# sends SIGKILL to what is left, so a stop job always ends before this.
JOB_TIMEOUT = 100.0

JOB_REMOVED_RULE = (
    f"type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',member='JobRemoved'"
)

__all__ = ["BusError", "BusUnavailable", "BusTimeout", "ManagerConnection", "Variant"]


class BusError(Exception):
    """An error reply from the bus or the manager; `name` is the D-Bus error name."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{text} ({name})" if text else name)
        self.name = name
        self.text = text


class BusUnavailable(Exception):
    """The bus socket cannot be connected to, or it rejected authentication."""


class BusTimeout(Exception):
    """A call or a job did not finish in time."""


class ManagerConnection:
    """One connection to a bus where the systemd manager listens, with JobRemoved subscribed."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._bus = None
        # Job object path -> (unit, result), filled from JobRemoved signals.
        # A job can finish before the reply that names it arrives, so every
        # signal is kept, not only those of jobs already known.
        self._finished_jobs: dict[str, tuple[str, str]] = {}
        self._job_removed: asyncio.Event | None = None

    def connect(self) -> None:
        """Connect, authenticate and subscribe to job signals; raise BusUnavailable or BusError."""
        self._run(self._connect(), CALL_TIMEOUT, f"connecting to {self.address}")

    async def _connect(self) -> None:
        self._job_removed = asyncio.Event()
        try:
            # dbus-fast before 5.0 connects the socket in the constructor,
            # later versions in connect(), so both are inside the try.
            bus = MessageBus(bus_address=self.address)
            await bus.connect()
        except (OSError, AuthError) as error:
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            raise BusUnavailable(reason) from None
        self._bus = bus
        bus.add_message_handler(self._on_message)
        await self._call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s", [JOB_REMOVED_RULE])
        # Without Subscribe the manager sends no job signals. It is also the
        # first call that reaches systemd, so a bus without systemd on it
        # fails here with ServiceUnknown.
        await self._call(SYSTEMD, MANAGER_PATH, MANAGER, "Subscribe", "", [])

    def call_manager(self, member: str, signature: str = "", body: list | None = None) -> list:
        """Call a method of org.freedesktop.systemd1.Manager and return the reply body."""
        return self._run(
            self._call(SYSTEMD, MANAGER_PATH, MANAGER, member, signature, body or []),
            CALL_TIMEOUT,
            f"{member} on {self.address}",
        )

    def get_property(self, path: str, interface: str, name: str):
        """Return the value of one property of a systemd object."""
        body = self._run(
            self._call(SYSTEMD, path, PROPERTIES, "Get", "ss", [interface, name]),
            CALL_TIMEOUT,
            f"reading {name} of {path}",
        )
        return body[0].value

    def wait_for_job(self, job_path: str, timeout: float = JOB_TIMEOUT) -> str:
        """Wait until the job is removed and return its result ("done", "failed", "canceled" ...)."""
        return self._run(self._wait_for_job(job_path), timeout, f"job {job_path}")

    async def _wait_for_job(self, job_path: str) -> str:
        while job_path not in self._finished_jobs:
            self._job_removed.clear()
            await self._job_removed.wait()
        return self._finished_jobs[job_path][1]

    def close(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            try:
                self._run(self._bus.wait_for_disconnect(), 5.0, "disconnecting")
            except (BusTimeout, BusUnavailable, BusError, OSError, EOFError):
                pass
            self._bus = None
        self._loop.close()

    async def _call(self, destination: str, path: str, interface: str, member: str, signature: str, body: list) -> list:
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body,
        )
        try:
            reply = await self._bus.call(message)
        except (OSError, EOFError) as error:
            raise BusUnavailable(f"the connection broke during {member}: {error}") from None
        if reply is None:
            raise BusUnavailable(f"no reply to {member}")
        if reply.message_type == MessageType.ERROR:
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise BusError(reply.error_name or "unknown error", text)
        return reply.body

    def _on_message(self, message) -> None:
        if message.message_type == MessageType.SIGNAL and message.member == "JobRemoved" and message.interface == MANAGER:
            _job_id, job_path, unit, result = message.body
            self._finished_jobs[job_path] = (unit, result)
            self._job_removed.set()

    def _run(self, coroutine, timeout: float, what: str):
        try:
            return self._loop.run_until_complete(asyncio.wait_for(coroutine, timeout))
        except asyncio.TimeoutError:
            raise BusTimeout(f"timed out after {timeout:.0f} s: {what}") from None
