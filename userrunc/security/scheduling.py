"""process.scheduler and process.ioPriority, and the CPU lists of process.execCPUAffinity.

The init sets the scheduling policy and the I/O priority on itself before it
drops capabilities, and the container process inherits both across execve.
The order matters: a real-time policy and a negative nice value need
CAP_SYS_NICE, and the real-time I/O class needs CAP_SYS_NICE or
CAP_SYS_ADMIN, all in the initial user namespace (the kernel checks them
with capable(), not ns_capable()). A rootless container therefore gets a
clear error for them, unless RLIMIT_RTPRIO or RLIMIT_NICE allow the value.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import SystemCallError

POLICIES = {
    "SCHED_OTHER": 0,
    "SCHED_FIFO": 1,
    "SCHED_RR": 2,
    "SCHED_BATCH": 3,
    "SCHED_ISO": 4,
    "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
}
REAL_TIME_POLICIES = ("SCHED_FIFO", "SCHED_RR")
SCHED_FLAGS = {
    "SCHED_FLAG_RESET_ON_FORK": 0x01,
    "SCHED_FLAG_RECLAIM": 0x02,
    "SCHED_FLAG_DL_OVERRUN": 0x04,
    "SCHED_FLAG_KEEP_POLICY": 0x08,
    "SCHED_FLAG_KEEP_PARAMS": 0x10,
    "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
    "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
}
IO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
MAX_IO_LEVEL = 7
IOPRIO_CLASS_SHIFT = 13
IOPRIO_WHO_PROCESS = 1
MIN_NICE = -20
MAX_NICE = 19
MAX_RT_PRIORITY = 99
# __checkparam_dl() in the kernel rejects a SCHED_DEADLINE runtime below 1 << DL_SCALE (1024 ns),
# and a deadline or period with bit 63 set.
MIN_DEADLINE_RUNTIME = 1024
MAX_DEADLINE_TIME = (1 << 63) - 1

_MACHINE = os.uname().machine
# Syscall numbers: x86_64 first, then the generic table that aarch64 and riscv64 use.
_SYS_SCHED_SETATTR = {"x86_64": 314}.get(_MACHINE, 274)
_SYS_IOPRIO_SET = {"x86_64": 251}.get(_MACHINE, 30)


class _SchedAttr(ctypes.Structure):
    """struct sched_attr of sched_setattr(2), in its 56-byte form with the utilization clamps."""

    _fields_ = (
        ("size", ctypes.c_uint32),
        ("sched_policy", ctypes.c_uint32),
        ("sched_flags", ctypes.c_uint64),
        ("sched_nice", ctypes.c_int32),
        ("sched_priority", ctypes.c_uint32),
        ("sched_runtime", ctypes.c_uint64),
        ("sched_deadline", ctypes.c_uint64),
        ("sched_period", ctypes.c_uint64),
        ("sched_util_min", ctypes.c_uint32),
        ("sched_util_max", ctypes.c_uint32),
    )


def parse_cpu_ranges(text: str) -> list[tuple[int, int]]:
    """Return the (first, last) CPU ranges of a list such as "0-3,7"; raise ValueError naming the bad part."""
    ranges: list[tuple[int, int]] = []
    if not text:
        return ranges
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if not _is_number(first) or (dash and not _is_number(last)):
            raise ValueError(f"{part!r} is not a CPU number or a range such as 0-3")
        low = int(first)
        high = int(last) if dash else low
        if high < low:
            raise ValueError(f"the range {part!r} ends before it starts")
        ranges.append((low, high))
    return ranges


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


# --- applying -------------------------------------------------------------------


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def apply_scheduler(scheduler: dict) -> None:
    """Set the scheduling policy of the calling process with sched_setattr(2)."""
    policy = scheduler["policy"]
    flags = 0
    for flag in scheduler.get("flags") or ():
        flags |= SCHED_FLAGS[flag]
    attr = _SchedAttr(
        size=ctypes.sizeof(_SchedAttr),
        sched_policy=POLICIES[policy],
        sched_flags=flags,
        sched_nice=scheduler.get("nice") or 0,
        sched_priority=scheduler.get("priority") or 0,
        sched_runtime=scheduler.get("runtime") or 0,
        sched_deadline=scheduler.get("deadline") or 0,
        sched_period=scheduler.get("period") or 0,
    )
    libc = _libc()
    if libc.syscall(ctypes.c_long(_SYS_SCHED_SETATTR), ctypes.c_int(0), ctypes.byref(attr), ctypes.c_uint(0)) == 0:
        return
    error = ctypes.get_errno()
    raise SystemCallError(f"process.scheduler: sched_setattr {policy}", error, _scheduler_hint(scheduler, error))


def _scheduler_hint(scheduler: dict, error: int) -> str:
    import errno

    policy = scheduler["policy"]
    if policy == "SCHED_ISO":
        return "the Linux kernel does not implement SCHED_ISO"
    if error == errno.EPERM and policy in REAL_TIME_POLICIES:
        return (
            f"priority {scheduler.get('priority')} needs CAP_SYS_NICE in the initial user namespace "
            "or an RLIMIT_RTPRIO of at least that value; with CONFIG_RT_GROUP_SCHED the container's cpu cgroup "
            "also needs a non-zero cpu.rt_runtime_us"
        )
    if error == errno.EPERM and (scheduler.get("nice") or 0) < 0:
        return f"nice {scheduler['nice']} needs CAP_SYS_NICE in the initial user namespace or a higher RLIMIT_NICE"
    if error == errno.EPERM and policy == "SCHED_DEADLINE":
        return "SCHED_DEADLINE needs CAP_SYS_NICE in the initial user namespace"
    if error == errno.EBUSY and policy == "SCHED_DEADLINE":
        return "the deadline bandwidth of the CPUs or the cgroup is used up"
    if error == errno.EPERM:
        return "raising the priority needs CAP_SYS_NICE in the initial user namespace"
    return f"nice {scheduler.get('nice') or 0}, priority {scheduler.get('priority') or 0}"


def apply_io_priority(io_priority: dict) -> None:
    """Set the I/O scheduling class and level of the calling process with ioprio_set(2)."""
    io_class = io_priority["class"]
    level = io_priority["priority"]
    value = (IO_CLASSES[io_class] << IOPRIO_CLASS_SHIFT) | level
    libc = _libc()
    result = libc.syscall(
        ctypes.c_long(_SYS_IOPRIO_SET), ctypes.c_int(IOPRIO_WHO_PROCESS), ctypes.c_int(0), ctypes.c_int(value)
    )
    if result == 0:
        return
    error = ctypes.get_errno()
    detail = f"priority {level}"
    if io_class == "IOPRIO_CLASS_RT":
        detail += "; the real-time class needs CAP_SYS_NICE or CAP_SYS_ADMIN in the initial user namespace"
    raise SystemCallError(f"process.ioPriority: ioprio_set {io_class}", error, detail)
