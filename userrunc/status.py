"""A container's live status, taken from its init process rather than from disk.

state.json records the init's PID together with its start time (field 22 of
/proc/PID/stat, in clock ticks since boot). A PID whose start time differs
has been reused by another process, so the container counts as stopped.
The same check guards every pidfd that userrunc opens to signal or wait for
the init.
"""

from __future__ import annotations

import os

CREATED = "created"
RUNNING = "running"
STOPPED = "stopped"
PAUSED = "paused"


def read_process_stat(pid: int) -> tuple[str, int] | None:
    """Return (state letter, start time) of a process, or None if it does not exist."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses, so the
    # fields are counted from the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[19])


def process_start_time(pid: int) -> int | None:
    stat = read_process_stat(pid)
    return stat[1] if stat else None


def is_alive(pid: int, start_time: int | None) -> bool:
    """Return True when the PID still names the same process and it has not exited."""
    stat = read_process_stat(pid)
    if stat is None:
        return False
    letter, started = stat
    if start_time is not None and started != start_time:
        return False
    return letter not in ("Z", "X")


def open_pidfd(pid: int, start_time: int | None) -> int | None:
    """Open a pidfd for the init, or return None if the process is gone or the PID was reused."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    # Checking after opening closes the race: the pidfd pins the process it
    # was opened for, so a matching start time proves it is ours.
    if not is_alive(pid, start_time):
        os.close(fd)
        return None
    return fd


def container_status(state: dict, fifo_exists: bool, frozen=None) -> str:
    """Return created, running, paused or stopped for a container's state.json."""
    if not is_alive(state.get("pid", 0), state.get("initStartTime")):
        return STOPPED
    if fifo_exists:
        return CREATED
    if frozen is not None and frozen():
        return PAUSED
    return RUNNING


def oci_state(state: dict, status: str) -> dict:
    """Return the state object that the runtime-spec defines, plus runc's extra fields."""
    result = {
        "ociVersion": state["ociVersion"],
        "id": state["id"],
        "status": status,
        "pid": state["pid"] if status != STOPPED else 0,
        "bundle": state["bundle"],
        "rootfs": state.get("rootfs", ""),
        "created": state.get("created", ""),
        "owner": state.get("owner", ""),
    }
    if state.get("annotations"):
        result["annotations"] = state["annotations"]
    return result
