"""A container as the commands after create see it: its locked directory, state and status."""

from __future__ import annotations

import os

from . import status as status_module
from .errors import InvalidState
from .store import ContainerDir, state_root


class Container:
    """A container loaded from its state directory, which stays locked until close()."""

    __slots__ = ("directory", "state", "_manager")

    def __init__(self, directory: ContainerDir, state: dict) -> None:
        self.directory = directory
        self.state = state
        self._manager = False

    @classmethod
    def load(cls, global_options: dict, container_id: str) -> "Container":
        directory = ContainerDir.open(state_root(global_options), container_id)
        try:
            state = directory.read_state()
        except BaseException:
            directory.close()
            raise
        return cls(directory, state)

    @property
    def id(self) -> str:
        return self.state["id"]

    @property
    def pid(self) -> int:
        return self.state.get("pid", 0)

    @property
    def cgroup(self):
        if self._manager is False:
            from .cgroups import load_manager

            self._manager = load_manager(self.state.get("cgroup"))
        return self._manager

    def status(self) -> str:
        manager = self.state.get("cgroup")
        frozen = (lambda: self.cgroup.frozen()) if manager else None
        return status_module.container_status(self.state, self.directory.fifo_exists(), frozen)

    def oci_state(self) -> dict:
        return status_module.oci_state(self.state, self.status())

    def pidfd(self) -> int | None:
        """Open a pidfd of the init, or return None when it is gone (or its PID was reused)."""
        return status_module.open_pidfd(self.pid, self.state.get("initStartTime"))

    def signal_init(self, number: int) -> bool:
        """Send a signal to the init through a pidfd; return False if it is not running."""
        import _signal

        fd = self.pidfd()
        if fd is None:
            return False
        try:
            _signal.pidfd_send_signal(fd, number)
        except ProcessLookupError:
            return False
        finally:
            os.close(fd)
        return True

    def signal_all(self, number: int) -> None:
        """Signal every process of the container: through its cgroup, else its PID namespace."""
        pids = self.cgroup.pids() if self.cgroup is not None else []
        if not pids and "pid" in self.state.get("namespaces", []):
            pids = _pids_in_namespace_of(self.pid, self.state.get("initStartTime"))
        if not pids:
            self.signal_init(number)
            return
        for pid in pids:
            try:
                os.kill(pid, number)
            except ProcessLookupError:
                pass

    def wait_for_exit(self, timeout: float) -> bool:
        """Wait until the init has exited; return False on timeout."""
        import select

        fd = self.pidfd()
        if fd is None:
            return True
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(int(timeout * 1000)))
        finally:
            os.close(fd)

    def require(self, *allowed: str, action: str) -> str:
        current = self.status()
        if current not in allowed:
            raise InvalidState(self.id, current, f"cannot {action} container {self.id!r}: it is {current}")
        return current

    def close(self) -> None:
        self.directory.close()

    def __enter__(self) -> "Container":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _pids_in_namespace_of(pid: int, start_time) -> list[int]:
    """Return the PIDs (host view) of the processes in the PID namespace of `pid`."""
    if not status_module.is_alive(pid, start_time):
        return []
    try:
        target = os.stat(f"/proc/{pid}/ns/pid")
    except OSError:
        return [pid]
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            info = os.stat(f"/proc/{name}/ns/pid")
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
            found.append(int(name))
    return found
