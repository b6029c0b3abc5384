"""linux.personality: the execution domain of the container process (personality(2)).

The init sets it just before the container process starts, and execve
keeps it. runtime-spec 1.2 defines no flags yet, so any flag is rejected.
"""

from __future__ import annotations

import ctypes

from ..errors import SystemCallError

# Values from linux/personality.h. LINUX32 makes uname(2) report a 32-bit machine such as i686.
DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}


def apply(personality: dict) -> None:
    domain = personality["domain"]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.personality.argtypes = (ctypes.c_ulong,)
    libc.personality.restype = ctypes.c_int
    if libc.personality(DOMAINS[domain]) == -1:
        raise SystemCallError(f"linux.personality: personality {domain}", ctypes.get_errno())
