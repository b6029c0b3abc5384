"""Linux capabilities: validating process.capabilities and applying the five sets.

The sets are applied with python-prctl's C module `_prctl` (capset through
libcap, PR_CAPBSET_DROP). The module's Python wrapper `prctl` builds classes
for every capability at import, which costs about 4 ms, so the C module is
used directly. Ambient capabilities go through prctl(2) via ctypes, because
python-prctl has no PR_CAP_AMBIENT.
"""

from __future__ import annotations

import errno

from .. import log
from ..errors import InvalidConfig, SystemCallError

# Capability numbers from linux/capability.h.
CAPABILITIES = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
SET_NAMES = ("bounding", "effective", "inheritable", "permitted", "ambient")

PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


def last_cap() -> int:
    """Return the highest capability number of the running kernel (/proc/sys/kernel/cap_last_cap)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return max(CAPABILITIES.values())


def validate(capabilities: dict, path: str) -> None:
    """Check the set names' types and every capability name; raise InvalidConfig."""
    for set_name in SET_NAMES:
        if set_name not in capabilities or capabilities[set_name] is None:
            continue
        names = capabilities[set_name]
        if not isinstance(names, list):
            raise InvalidConfig(f"{path}.{set_name}", f"expected an array, got {type(names).__name__}")
        for index, name in enumerate(names):
            if not isinstance(name, str):
                raise InvalidConfig(f"{path}.{set_name}[{index}]", f"expected a string, got {name!r}")
            if name not in CAPABILITIES:
                raise InvalidConfig(
                    f"{path}.{set_name}[{index}]",
                    f"unknown capability {name!r}; names look like CAP_NET_BIND_SERVICE (see capabilities(7))",
                )


def resolve(capabilities: dict | None) -> dict[str, list[int]]:
    """Return each set as capability numbers, leaving out those the kernel does not have.

    A capability newer than the running kernel is dropped with a warning
    rather than failing, so one config works across kernel versions. A
    missing process.capabilities means five empty sets, as in runc: the
    process gets no capability at all.
    """
    capabilities = capabilities or {}
    highest = last_cap()
    result = {}
    warned = set()
    for set_name in SET_NAMES:
        numbers = []
        for name in capabilities.get(set_name) or ():
            number = CAPABILITIES[name]
            if number > highest:
                if name not in warned:
                    log.warning(f"capability {name} is not known to this kernel (last is {highest}); ignoring it")
                    warned.add(name)
                continue
            numbers.append(number)
        result[set_name] = numbers
    return result


def _name(number: int) -> str:
    for name, value in CAPABILITIES.items():
        if value == number:
            return name
    return f"capability {number}"


def drop_bounding(keep: list[int]) -> None:
    """Drop from the bounding set every capability not in `keep`; needs CAP_SETPCAP."""
    import _prctl

    keep_set = set(keep)
    for number in range(last_cap() + 1):
        if number in keep_set:
            continue
        try:
            _prctl.prctl(PR_CAPBSET_DROP, number)
        except OSError as error:
            raise SystemCallError(f"drop {_name(number)} from the bounding set", error.errno) from None


def set_keep_caps(enabled: bool) -> None:
    """Set or clear SECBIT_KEEP_CAPS, which keeps the permitted set when setresuid leaves uid 0.

    Without it the kernel empties the permitted and effective sets on the
    switch to a non-zero uid, and apply_sets() could not raise anything
    afterwards. The kernel clears the bit again at execve.
    """
    import _prctl

    try:
        _prctl.prctl(PR_SET_KEEPCAPS, 1 if enabled else 0)
    except OSError as error:
        # EPERM means that the caller locked the bit with SECBIT_KEEP_CAPS_LOCKED.
        raise SystemCallError("prctl PR_SET_KEEPCAPS", error.errno, "the keep-caps securebit is locked") from None


def apply_sets(sets: dict[str, list[int]]) -> None:
    """Set the effective, permitted and inheritable sets, then raise the ambient ones."""
    import _prctl

    everything = set(range(last_cap() + 1))
    effective = set(sets.get("effective", ()))
    permitted = set(sets.get("permitted", ()))
    inheritable = set(sets.get("inheritable", ()))
    try:
        _prctl.set_caps(
            sorted(effective),
            sorted(permitted),
            sorted(inheritable),
            sorted(everything - effective),
            sorted(everything - permitted),
            sorted(everything - inheritable),
        )
    except OSError as error:
        hint = "effective must be a subset of permitted, and inheritable a subset of bounding" if error.errno == errno.EPERM else ""
        raise SystemCallError("set the capability sets", error.errno, hint) from None
    from ..linux import syscalls

    syscalls.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for number in sets.get("ambient", ()):
        try:
            syscalls.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, number)
        except OSError as error:
            # The kernel raises an ambient capability only when it is in both
            # permitted and inheritable. runc ignores the failure, and configs
            # written by `runc spec` rely on that, so it is logged, not fatal.
            log.debug(f"cannot raise ambient capability {number}: {error.strerror}; it must be in permitted and inheritable")
