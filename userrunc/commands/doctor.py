"""`doctor`: check what the calling user needs to run containers, and print the fix for each gap.

Each check has a status: ok, warning (works with less, such as a single
mapped id instead of the full range) or failed (containers cannot run).
The exit status is 1 when a check failed.
"""

from __future__ import annotations

import json
import os
import shutil

OK = "ok"
WARNING = "warning"
FAILED = "failed"


class Check:
    """The outcome of one check: what was checked, status, what was found, how to fix it."""

    __slots__ = ("name", "status", "detail", "fix")

    def __init__(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.name = name
        self.status = status
        self.detail = detail
        self.fix = fix

    def as_dict(self) -> dict:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_user_namespaces() -> Check:
    """Create a user namespace in a child process: the only test that covers every sysctl and LSM."""
    from .. import idmap
    from ..linux import syscalls

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            syscalls.unshare(syscalls.CLONE_NEWUSER)
            code = 0
        except OSError as error:
            code = error.errno
        os.write(write_end, str(code).encode())
        os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 16)
    os.close(read_end)
    os.waitpid(pid, 0)
    code = int(answer or b"-1")
    if code == 0:
        limit = _read_int("/proc/sys/user/max_user_namespaces")
        return Check("user namespaces", OK, f"allowed (user.max_user_namespaces = {limit})")
    return Check("user namespaces", FAILED, idmap.explain_userns_failure(code) if code > 0 else "the test process failed")


def _read_int(path: str):
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def check_subordinate_ids(kind: str, user: str, uid: int) -> list[Check]:
    from .. import idmap

    path = f"/etc/sub{kind}"
    checks = []
    try:
        problems = idmap.subid_file_problems(kind)
    except idmap.IdMapError as error:
        problems = []
        checks.append(Check(f"{path} syntax", WARNING, str(error)))
    for problem in problems:
        checks.append(Check(f"{path} syntax", WARNING, str(problem), f"fix or remove that line of {path}"))
    try:
        ranges = idmap.subordinate_ranges(kind, user, missing_ok=True)
    except idmap.IdMapError as error:
        checks.append(Check(f"sub{kind} ranges", WARNING, str(error)))
        return checks
    if uid == 0:
        checks.append(Check(f"sub{kind} ranges", OK, "not needed: root maps any id"))
        return checks
    if not ranges:
        free_first, free_last = idmap.free_range()
        checks.append(
            Check(
                f"sub{kind} ranges",
                WARNING,
                f"no entry for {user} in {path}: containers get only your own {kind} (mapped to root)",
                f"usermod --add-sub{kind}s {free_first}-{free_last} {user} (as root; this range is above every range "
                "in /etc/subuid and /etc/subgid)",
            )
        )
        return checks
    total = sum(item.count for item in ranges)
    listed = ", ".join(item.describe() for item in ranges)
    status = OK if total >= 65536 else WARNING
    fix = "" if status == OK else f"give {user} at least 65536 ids in {path}: many images use ids up to 65534"
    checks.append(Check(f"sub{kind} ranges", status, f"{user}: {listed} ({total} ids)", fix))
    return checks


def check_helpers(uid: int) -> list[Check]:
    from .. import idmap

    checks = []
    for name, ok, detail in idmap.check_helpers():
        if ok:
            checks.append(Check(name, OK, detail))
        else:
            status = OK if uid == 0 else WARNING
            checks.append(Check(name, status, detail, "apt-get install uidmap (Debian, Ubuntu) or dnf install shadow-utils"))
    return checks


def check_state_dir(global_options: dict) -> Check:
    from .. import store
    from ..errors import StateDirError

    try:
        root = store.state_root(global_options)
    except StateDirError as error:
        return Check("state directory", FAILED, str(error))
    parent = root
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        return Check("state directory", FAILED, f"{root}: {parent} is not writable by you", "pass --root DIR")
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    detail = root + (f" (XDG_RUNTIME_DIR={runtime_dir})" if runtime_dir else " (XDG_RUNTIME_DIR is not set)")
    return Check("state directory", OK, detail)


def check_cgroups(uid: int) -> list[Check]:
    checks = []
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        version = "v2"
        unified = "/sys/fs/cgroup"
    elif os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        version = "hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)"
        unified = "/sys/fs/cgroup/unified"
    else:
        version = "v1"
        unified = None
    status = OK if version == "v2" or uid == 0 else WARNING
    fix = "" if status == OK else "boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2, which can be delegated to users"
    checks.append(Check("cgroup version", status, version, fix))
    if unified is None or uid == 0:
        return checks
    own = _own_v2_cgroup()
    directory = os.path.join(unified, own.lstrip("/")) if own is not None else None
    if directory and os.access(directory, os.W_OK):
        try:
            with open(os.path.join(directory, "cgroup.controllers")) as handle:
                controllers = handle.read().split()
        except OSError:
            controllers = []
        checks.append(
            Check("cgroup delegation", OK, f"{directory} is yours; controllers: {' '.join(controllers) or 'none'}")
        )
    else:
        checks.append(
            Check(
                "cgroup delegation",
                WARNING,
                f"your cgroup ({own or 'unknown'}) is not delegated to you: containers run in it without their own cgroup",
                "log in through systemd-logind (user@.service delegates a subtree), or use --cgroup-manager disabled",
            )
        )
    return checks


def _own_v2_cgroup():
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        return None
    return None


def check_systemd_user(uid: int) -> list[Check]:
    if uid == 0:
        bus = "/run/dbus/system_bus_socket"
        name = "systemd (system bus)"
    else:
        address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
        bus = address[len("unix:path=") :].split(",")[0] if address.startswith("unix:path=") else os.path.join(runtime_dir, "bus")
        name = "systemd user manager"
    if not os.path.exists("/run/systemd/system"):
        return [
            Check(
                name,
                WARNING,
                "systemd is not the init system here: --systemd-cgroup cannot work",
                "use the cgroupfs driver (the default)",
            )
        ]
    if not os.path.exists(bus):
        fix = "apt-get install dbus-user-session, then log in again (or loginctl enable-linger)" if uid else "start dbus"
        return [Check(name, WARNING, f"no D-Bus socket at {bus}: --systemd-cgroup cannot work", fix)]
    return [Check(name, OK, f"D-Bus socket {bus}")]


def check_network_helpers() -> list[Check]:
    checks = []
    for program, package in (("slirp4netns", "slirp4netns"), ("pasta", "passt")):
        path = shutil.which(program)
        if path:
            checks.append(Check(program, OK, path))
        else:
            checks.append(Check(program, WARNING, "not installed: rootless containers get no network but loopback", f"apt-get install {package}"))
    return checks


def check_kernel_features() -> list[Check]:
    import ctypes
    import errno

    from ..linux import syscalls

    checks = []
    release = os.uname().release
    libc = ctypes.CDLL(None, use_errno=True)

    def probe(number: int, *args) -> int:
        result = libc.syscall(ctypes.c_long(number), *args)
        return 0 if result >= 0 else ctypes.get_errno()

    # With invalid arguments the call fails with EFAULT, EINVAL or EBADF where it exists, ENOSYS where it does not.
    for name, number, args, required in (
        ("openat2", syscalls.SYS_OPENAT2, (ctypes.c_int(-1), ctypes.c_char_p(None), ctypes.c_void_p(None), ctypes.c_size_t(0)), True),
        ("mount_setattr (recursive mount options)", syscalls.SYS_MOUNT_SETATTR, (ctypes.c_int(-1), ctypes.c_char_p(None), ctypes.c_uint(0), ctypes.c_void_p(None), ctypes.c_size_t(0)), False),
        ("close_range", syscalls.SYS_CLOSE_RANGE, (ctypes.c_uint(1), ctypes.c_uint(0), ctypes.c_uint(0)), True),
    ):
        code = probe(number, *args)
        if code == errno.ENOSYS:
            checks.append(Check(name, FAILED if required else WARNING, f"not in kernel {release}", "Linux 5.12 or newer"))
        else:
            checks.append(Check(name, OK, f"kernel {release}"))
    try:
        fd = os.pidfd_open(os.getpid())
        os.close(fd)
        checks.append(Check("pidfd", OK, f"kernel {release}"))
    except OSError as error:
        checks.append(Check("pidfd", FAILED, f"pidfd_open: {error.strerror}", "Linux 5.3 or newer"))
    if os.path.exists("/proc/self/ns/time"):
        checks.append(Check("time namespace", OK, f"kernel {release}"))
    else:
        checks.append(Check("time namespace", WARNING, "not in this kernel: configs with a time namespace fail", "Linux 5.6 or newer"))
    mount_setattr_ok = any(check.name.startswith("mount_setattr") and check.status == OK for check in checks)
    checks.append(
        Check(
            "idmapped mounts",
            OK if mount_setattr_ok else WARNING,
            "mount_setattr with MOUNT_ATTR_IDMAP is available" if mount_setattr_ok else "not in this kernel",
            "" if mount_setattr_ok else "Linux 5.12 or newer",
        )
    )
    return checks


def check_seccomp() -> Check:
    seccomp_mode = None
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Seccomp:"):
                    seccomp_mode = line.split()[1]
    except OSError:
        pass
    if seccomp_mode is None:
        return Check("seccomp", FAILED, "the kernel has no seccomp (no Seccomp: line in /proc/self/status)")
    try:
        from ..security import seccomp

        version = seccomp.library_version()
    except Exception as error:  # noqa: BLE001 - any failure to load the library is the finding
        return Check("seccomp", FAILED, f"libseccomp cannot be loaded: {error}", "apt-get install libseccomp2")
    return Check("seccomp", OK, f"kernel seccomp, libseccomp {version}")


def run_checks(global_options: dict) -> list[Check]:
    uid = os.geteuid()
    user = _user_name(uid)
    checks = [check_user_namespaces()]
    for kind in ("uid", "gid"):
        checks.extend(check_subordinate_ids(kind, user, uid))
    checks.extend(check_helpers(uid))
    has_ranges = any(check.name.startswith("sub") and check.status == OK for check in checks)
    if has_ranges:
        # With ranges, the full mapping needs the helpers.
        for check in checks:
            if check.name in ("newuidmap", "newgidmap") and check.status != OK:
                check.status = FAILED
    checks.append(check_state_dir(global_options))
    checks.extend(check_cgroups(uid))
    checks.extend(check_systemd_user(uid))
    checks.extend(check_network_helpers())
    checks.extend(check_kernel_features())
    checks.append(check_seccomp())
    return checks


def format_table(checks: list[Check]) -> str:
    rows = [("CHECK", "STATUS", "DETAIL")]
    for check in checks:
        detail = check.detail + (f"; fix: {check.fix}" if check.fix and check.status != OK else "")
        rows.append((check.name, check.status, detail))
    width_name = max(len(row[0]) for row in rows)
    width_status = max(len(row[1]) for row in rows)
    return "\n".join(f"{name.ljust(width_name)}  {status.ljust(width_status)}  {detail}" for name, status, detail in rows)


def run(invocation) -> int:
    checks = run_checks(invocation.globals)
    if invocation.options.get("format") == "json":
        print(json.dumps([check.as_dict() for check in checks], indent=2))
    else:
        print(format_table(checks))
    return 1 if any(check.status == FAILED for check in checks) else 0
