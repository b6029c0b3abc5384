"""Find out why the kernel rejected unshare(CLONE_NEWUSER) or clone(CLONE_NEWUSER)."""

from __future__ import annotations

import errno as errno_module
import os

from .mapping import ID_LIMIT, IdMapping, describe_map_lines, is_mapped, parse_map

# Maximum depth of nested user namespaces since Linux 3.11 (user_namespaces(7)).
# Going deeper fails with EUSERS on older kernels and with ENOSPC on current ones.
MAX_NESTING = 32


def explain_userns_failure(errno: int, *, proc: str = "/proc") -> str:
    """Return one line with the cause of a failed user namespace creation and its fix.

    ``errno`` is the error of unshare or clone, usually EPERM, ENOSPC or
    EINVAL. The sysctls that disable user namespaces with that errno are
    checked first, then the other causes of that errno. ``proc`` is where
    procfs is mounted.
    """
    name = errno_module.errorcode.get(errno, str(errno))
    failure = f"creating a user namespace failed with {name} ({os.strerror(errno)})"
    cause = _disabled_by_sysctl(errno, proc) or _errno_cause(errno, proc) or _unknown_cause(proc)
    return f"{failure}: {cause}"


def _disabled_by_sysctl(errno: int, proc: str) -> str | None:
    denied = errno in (errno_module.EPERM, errno_module.EACCES)

    # Only some distribution kernels (Debian's among them) have this sysctl.
    # At 0 it makes unshare fail with EPERM for callers without CAP_SYS_ADMIN.
    path = f"{proc}/sys/kernel/unprivileged_userns_clone"
    if denied and _read_int(path) == 0:
        return (
            f"unprivileged user namespaces are disabled ({path} is 0); enable them with: "
            "sysctl -w kernel.unprivileged_userns_clone=1 (add it to /etc/sysctl.d/ to keep it after a reboot)"
        )

    # A limit of 0 makes every creation fail with ENOSPC, also for root.
    path = f"{proc}/sys/user/max_user_namespaces"
    if errno == errno_module.ENOSPC and _read_int(path) == 0:
        return (
            f"user namespaces are disabled ({path} is 0); allow them with, for example: "
            "sysctl -w user.max_user_namespaces=15000 (add it to /etc/sysctl.d/ to keep it after a reboot)"
        )

    # Ubuntu kernels since 23.10 have this sysctl. At 1, unconfined programs
    # get a user namespace without capabilities, and programs under a profile
    # need a userns rule.
    path = f"{proc}/sys/kernel/apparmor_restrict_unprivileged_userns"
    if denied and _read_int(path) == 1:
        return (
            f"AppArmor restricts unprivileged user namespaces ({path} is 1); load an AppArmor profile "
            "with a 'userns,' rule for this program, or lift the restriction with: "
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
        )
    return None


def _errno_cause(errno: int, proc: str) -> str | None:
    if errno == errno_module.EUSERS:
        return (
            f"the kernel's nesting limit of {MAX_NESTING} user namespaces was reached; "
            "run the container from a less nested namespace"
        )
    if errno == errno_module.ENOSPC:
        return _explain_limit(proc)
    if errno == errno_module.EINVAL:
        return _explain_invalid(proc)
    if errno == errno_module.EPERM:
        return _explain_permission(proc)
    return None


def _explain_limit(proc: str) -> str:
    limit = _read_int(f"{proc}/sys/user/max_user_namespaces")
    limit_text = str(limit) if limit is not None else "unknown"
    uid_map = _read_own_map("uid", proc)
    if uid_map is not None and not _is_initial_namespace(uid_map):
        return (
            f"the caller already runs inside a user namespace (uid map {describe_map_lines(uid_map)}), so either "
            f"the nesting limit of {MAX_NESTING} user namespaces or user.max_user_namespaces "
            f"({limit_text} here) of this or an outer namespace was reached; run the container from a less "
            "nested namespace, or raise the limit with sysctl -w user.max_user_namespaces=N "
            "in the namespace that reached it"
        )

    suggested = f"{limit * 2}" if limit else "N"
    return (
        f"the per-user limit user.max_user_namespaces ({limit_text}) was reached; stop unused containers "
        f"or raise it with: sysctl -w user.max_user_namespaces={suggested}"
    )


def _explain_invalid(proc: str) -> str | None:
    threads = _status_field(proc, "Threads")
    if threads is not None and threads.isdigit() and int(threads) > 1:
        return (
            f"the kernel creates a user namespace only for a single-threaded process, but this process has "
            f"{threads} threads; create the namespace before starting threads, or in a forked child"
        )
    if not os.path.exists(f"{proc}/self/ns/user"):
        return (
            f"the kernel has no user namespace support ({proc}/self/ns/user does not exist); "
            "use a kernel built with CONFIG_USER_NS=y"
        )
    return None


def _explain_permission(proc: str) -> str | None:
    # The kernel rejects a new user namespace when the caller's effective uid
    # or gid has no mapping in the caller's own namespace.
    for kind, own_id in (("uid", os.geteuid()), ("gid", os.getegid())):
        own_map = _read_own_map(kind, proc)
        if own_map is not None and not is_mapped(own_map, own_id):
            return (
                f"the caller's effective {kind} {own_id} is not mapped in its own user namespace "
                f"({kind} map {describe_map_lines(own_map)}); run as a {kind} that the namespace maps"
            )

    seccomp = _status_field(proc, "Seccomp")
    if seccomp == "2":
        return (
            "a seccomp filter is active on this process (Seccomp: 2 in /proc/self/status) and may reject "
            "unshare; if this runs inside another container, allow unshare and clone with CLONE_NEWUSER "
            "in that container's seccomp profile"
        )
    return None


def _unknown_cause(proc: str) -> str:
    uid_map = _read_own_map("uid", proc)
    if uid_map is not None and not _is_initial_namespace(uid_map):
        return (
            f"the caller runs inside a user namespace (uid map {describe_map_lines(uid_map)}), where a nested "
            "namespace can map only ids of that map; check the outer runtime's settings for nested user namespaces"
        )
    return (
        "no known cause was found (checked kernel.unprivileged_userns_clone, user.max_user_namespaces, "
        "kernel.apparmor_restrict_unprivileged_userns, the caller's mapping, threads and seccomp); "
        "check the kernel log (dmesg) for denials by a security module, and whether the caller runs in a chroot"
    )


def _is_initial_namespace(uid_map: list[IdMapping]) -> bool:
    return uid_map == [IdMapping(0, 0, ID_LIMIT)]


def _read_own_map(kind: str, proc: str) -> list[IdMapping] | None:
    try:
        with open(f"{proc}/self/{kind}_map", encoding="ascii") as file:
            return parse_map(file.read())
    except (OSError, ValueError):
        return None


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None


def _status_field(proc: str, name: str) -> str | None:
    """Return the value of field ``name`` in /proc/self/status, or None when it is absent."""
    try:
        with open(f"{proc}/self/status", encoding="utf-8", errors="replace") as file:
            for line in file:
                key, colon, value = line.partition(":")
                if colon and key == name:
                    return value.strip()
    except OSError:
        pass
    return None
