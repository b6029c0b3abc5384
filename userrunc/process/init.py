"""The container init: sets up the container, waits on exec.fifo, execs the process.

Everything that can fail is done before READY, so `create` reports it.
After READY the init blocks opening exec.fifo for writing until `start`
opens it for reading. It writes one byte ("0"), runs the startContainer
hooks, and execs. The fifo fd is close-on-exec, so `start` reads
end-of-file exactly when the exec succeeded. If anything fails after the
byte, the init writes the error message into the fifo instead and exits,
and `start` prints it.
"""

from __future__ import annotations

import os

import _signal

from .. import hooks, log
from ..errors import UserruncError
from ..linux import syscalls
from . import protocol

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
KEYCTL_JOIN_SESSION_KEYRING = 1
SYS_KEYCTL = 250
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Signals that end the init while it waits for start; an init (PID 1 of its
# namespace) without a handler would ignore them.
_TERMINATING = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
# The LSM exec attribute files, opened before pivot_root and written just before execve.
_exec_labels: list = []
# Whether linux.seccomp applies to the init itself, so that its own failures may come from the filter.
_filter_loaded = False


def run(ctx) -> None:
    """Set up the container and exec the process; never returns."""
    try:
        _setup(ctx)
        ready_state = _prepare_process(ctx)
        _signal_ready(ctx)
    except BaseException as error:  # noqa: BLE001 - every failure must reach the parent
        from .child import _report

        _report(ctx, _explain_failure(ctx, error))
        os._exit(1)
    _wait_and_exec(ctx, ready_state)


def _setup(ctx) -> None:
    spec = ctx.spec
    linux = spec.get("linux", {})
    plan = ctx.plan
    # The host's /proc is still mounted, so this is the PID that hooks and
    # the state report, not the PID inside the container's namespace.
    ctx.host_pid = int(os.readlink("/proc/self"))
    # No process in the container may read this one's memory or fds through
    # /proc until the exec replaces this Python runtime.
    syscalls.prctl(PR_SET_DUMPABLE, 0)
    os.setsid()

    if plan.is_new("network"):
        from ..net import loopback

        try:
            loopback.bring_up()
        except OSError as error:
            raise UserruncError(f"cannot bring up the loopback interface: {error.strerror}") from None

    rootfs = None
    if plan.is_new("mount"):
        from .. import rootfs as rootfs_module

        rootfs = rootfs_module.Rootfs(
            ctx.rootfs, ctx.bundle, plan.in_user_namespace, plan, spec, bool(ctx.no_pivot), ctx.idmapped_trees
        )
        with log.step("rootfs mounts"):
            rootfs_module.prepare(rootfs)

    spec_hooks = spec.get("hooks")
    state = None
    if hooks.has(spec_hooks, "prestart", "createRuntime"):
        ctx.pipe.send(protocol.RUN_HOOKS)
        state = ctx.pipe.expect(protocol.HOOKS_DONE)["state"]
    if hooks.has(spec_hooks, "createContainer"):
        state = state or _hook_state(ctx, "created")
        hooks.run(spec_hooks, "createContainer", state)

    # Before linux.readonlyPaths, which usually makes /proc/sys read-only.
    _set_sysctl(linux.get("sysctl"), rootfs)
    _import_before_pivot(ctx)
    if rootfs is not None:
        from .. import rootfs as rootfs_module

        with log.step("masked and read-only paths"):
            rootfs_module.mask_paths(rootfs, linux.get("maskedPaths", ()))
            rootfs_module.readonly_paths(rootfs, linux.get("readonlyPaths", ()))
        with log.step("pivot_root"):
            rootfs_module.enter(rootfs, ctx.no_pivot)

    _set_names(spec, plan)

    if spec["process"].get("terminal"):
        set_up_terminal(ctx)
    if spec["root"].get("readonly") and rootfs is not None:
        from .. import rootfs as rootfs_module

        rootfs_module.make_root_readonly(plan.in_user_namespace)
    if not ctx.no_new_keyring:
        _join_new_keyring(ctx.container_id)


def preload(ctx) -> None:
    """Import the modules that the init needs for the rootfs and the process.

    The child calls this while the parent moves it into its cgroup, so
    the imports overlap with that wait. During the id mapping they saved
    nothing on 2 cores, because newuidmap and newgidmap ran slower by as
    much (measured with bench/).
    """
    import _prctl  # noqa: F401

    from ..security import capabilities, cwd  # noqa: F401
    from . import user  # noqa: F401

    if ctx.plan.is_new("mount"):
        from .. import devices, mounts, rootfs  # noqa: F401


def _import_before_pivot(ctx) -> None:
    """Import every module the init uses after pivot_root, where userrunc's files are out of sight.

    The exec attribute files of the LSM labels are opened here too, because
    only the host's /proc can be trusted to be a real procfs.
    """
    import errno  # noqa: F401
    import stat  # noqa: F401

    import _prctl  # noqa: F401

    from ..security import capabilities, cwd  # noqa: F401
    from . import user  # noqa: F401

    spec = ctx.spec
    process = spec["process"]
    linux = spec.get("linux", {})
    if process.get("terminal"):
        from .. import devices, terminal  # noqa: F401
    if linux.get("seccomp"):
        from ..security import seccomp

        seccomp.load_library()
    if process.get("scheduler") or process.get("ioPriority"):
        from ..security import scheduling  # noqa: F401
    if linux.get("personality"):
        from ..security import personality  # noqa: F401
    if process.get("apparmorProfile") or process.get("selinuxLabel"):
        from ..security import lsm

        _exec_labels.extend(lsm.open_exec_labels(process))
    if hooks.has(spec.get("hooks"), "startContainer"):
        import subprocess  # noqa: F401


def _hook_state(ctx, status: str) -> dict:
    return hooks.state_for_hooks(ctx.container_id, ctx.bundle, ctx.spec.get("annotations"), status, ctx.host_pid)


def _set_names(spec: dict, plan) -> None:
    for key, setter in (("hostname", syscalls.sethostname), ("domainname", syscalls.setdomainname)):
        value = spec.get(key)
        if value is None:
            continue
        if not plan.has("uts"):
            raise UserruncError(f"{key} {value!r} needs a UTS namespace; add {{\"type\": \"uts\"}} to linux.namespaces")
        try:
            setter(value)
        except OSError as error:
            raise UserruncError(f"cannot set {key} to {value!r}: {error.strerror}") from None


def _set_sysctl(sysctl: dict | None, rootfs) -> None:
    """Write linux.sysctl through the container's /proc, resolved inside the rootfs."""
    for key, value in (sysctl or {}).items():
        path = "/proc/sys/" + (key if "/" in key else key.replace(".", "/"))
        try:
            if path == "/proc/sys/kernel/domainname":
                # The file belongs to the host's root even in a new UTS namespace.
                # So a user namespace cannot write it, but setdomainname(2) works in both.
                syscalls.setdomainname(value)
                continue
            if rootfs is None:
                # The mount namespace was joined, so its /proc is this one.
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            else:
                fd = _open_proc_file(rootfs, path, key)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
        except OSError as error:
            raise UserruncError(f"linux.sysctl.{key}: cannot write {value!r} to {path}: {error.strerror}") from None


def _open_proc_file(rootfs, path: str, key: str) -> int:
    """Open path of the container's /proc for writing, and check that a procfs is mounted there."""
    from .. import rootfs as rootfs_module

    found = rootfs.resolve(path)
    try:
        if syscalls.fstatfs_type(found) != syscalls.PROC_SUPER_MAGIC:
            raise UserruncError(f"linux.sysctl.{key}: {path} is not on a proc filesystem in the container; mount proc on /proc")
        return os.open(rootfs_module.fd_path(found), os.O_WRONLY | os.O_CLOEXEC)
    finally:
        os.close(found)


def set_up_terminal(ctx, bind_console: bool = True) -> None:
    """Create the pty, hand its master out (console socket or init pipe) and make the slave this process's terminal.

    The container's init also binds the slave onto /dev/console; an exec'd
    process leaves /dev/console as the init made it.
    """
    from .. import devices, terminal

    master, slave, slave_path = terminal.create_pty(ctx.spec["process"].get("consoleSize"))
    try:
        if bind_console:
            devices.bind_console(slave_path)
        if ctx.console_fd is not None:
            terminal.send_master(ctx.console_fd, master, slave_path)
            os.close(ctx.console_fd)
            ctx.console_fd = None
        else:
            ctx.pipe.send(protocol.PTY_MASTER, fds=[master])
    finally:
        os.close(master)
    terminal.make_controlling(slave)


def _join_new_keyring(container_id: str) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    name = f"_ses.{container_id}".encode()
    if libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, ctypes.c_char_p(name)) < 0:
        # Keyrings are optional: kernels without them, and quota limits for
        # unprivileged users, are no reason to fail the container.
        log.debug(f"cannot create a session keyring: {os.strerror(ctypes.get_errno())}")


def _prepare_stdio(uid: int) -> None:
    """Reopen stdio fds that are the container's /dev/null read-write, and give the others to the container user.

    podman's conmon passes /dev/null opened read-only as stdin without -i.
    runc reopens it the same way, so a container may also write to fd 0.
    A pipe that the caller created belongs to the caller's uid, which is
    root in the container, so a process running as another user could not
    open /proc/self/fd/1 again. Only the owner changes, as with runc, so a
    terminal keeps the group that devpts gave it (gid=5, tty).
    """
    import stat

    try:
        null = os.stat("/dev/null")
    except OSError:
        null = None
    null_fd = -1
    try:
        for fd in (0, 1, 2):
            try:
                info = os.fstat(fd)
            except OSError:
                continue
            if null is not None and stat.S_ISCHR(info.st_mode) and info.st_rdev == null.st_rdev:
                if info.st_rdev == os.makedev(1, 3):
                    if null_fd < 0:
                        null_fd = _open_dev_null()
                    if null_fd >= 0:
                        os.dup2(null_fd, fd)
                continue
            if info.st_uid == uid:
                continue
            try:
                os.fchown(fd, uid, -1)
            except OSError as error:
                log.debug(f"cannot give stdio fd {fd} to uid {uid}: {error.strerror}")
    finally:
        if null_fd >= 0:
            os.close(null_fd)


def _open_dev_null() -> int:
    """Open the container's /dev/null read-write; return -1 unless it opens as the null device."""
    import stat

    try:
        fd = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    except OSError as error:
        log.debug(f"cannot open /dev/null in the container: {error.strerror}")
        return -1
    info = os.fstat(fd)
    if not stat.S_ISCHR(info.st_mode) or info.st_rdev != os.makedev(1, 3):
        os.close(fd)
        return -1
    return fd


def _keep_fds(ctx) -> list[int]:
    keep = [0, 1, 2, ctx.pipe.fileno()]
    if ctx.fifo_fd is not None:
        keep.append(ctx.fifo_fd)
    keep.extend(range(3, 3 + (ctx.preserve_fds or 0)))
    return sorted(set(keep))


def _close_other_fds(keep: list[int]) -> None:
    """Close every fd not in keep, so no host fd reaches the container process."""
    first = 0
    for fd in keep:
        if fd > first:
            syscalls.close_range(first, fd - 1)
        first = fd + 1
    syscalls.close_range(first)


class _Ready:
    __slots__ = ("path", "args", "env", "seccomp_late", "state")

    def __init__(self, path, args, env, seccomp_late, state) -> None:
        self.path = path
        self.args = args
        self.env = env
        self.seccomp_late = seccomp_late
        self.state = state


def _prepare_process(ctx) -> _Ready:
    from ..security import capabilities, cwd
    from . import user as user_module

    spec = ctx.spec
    process = spec["process"]
    linux = spec.get("linux", {})
    user = process["user"]
    user_module.check_ids(user)
    seccomp = linux.get("seccomp")
    env = _environment(process.get("env") or [])
    if "HOME" not in env:
        env["HOME"] = user_module.home_directory(user["uid"])
    _prepare_stdio(user["uid"])
    with log.step("close inherited fds"):
        _close_other_fds(sorted(set(_keep_fds(ctx)) | {label.fd for label in _exec_labels}))

    caps = capabilities.resolve(process.get("capabilities"))
    # Resolved before any seccomp filter exists, which could block openat2.
    cwd_fd = cwd.open_cwd(process["cwd"])
    _set_process_attributes(process, linux)
    no_new_privileges = bool(process.get("noNewPrivileges"))
    load_late = bool(seccomp) and no_new_privileges and not _uses_notify(seccomp)
    if seccomp and not no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which
        # the capability sets below may drop; so it is loaded now.
        _load_seccomp(ctx, seccomp)

    capabilities.drop_bounding(caps["bounding"])
    capabilities.set_keep_caps(True)
    user_module.switch(user)
    # A uid change resets the dumpable flag to fs.suid_dumpable, and the
    # container user now owns this process, so the flag is cleared again.
    syscalls.prctl(PR_SET_DUMPABLE, 0)
    capabilities.set_keep_caps(False)
    cwd.enter_cwd(process["cwd"], cwd_fd)
    os.close(cwd_fd)
    capabilities.apply_sets(caps)
    os.umask(user.get("umask", 0o022))
    path = _find_executable(process["args"][0], env.get("PATH"))
    if no_new_privileges:
        syscalls.prctl(PR_SET_NO_NEW_PRIVS, 1)
    if seccomp and no_new_privileges and not load_late:
        # The notify fd has to reach the agent through the parent, which
        # exists only until READY; so this filter cannot wait for start.
        _load_seccomp(ctx, seccomp)
    state = _hook_state(ctx, "created") if hooks.has(spec.get("hooks"), "startContainer") else None
    syscalls.prctl(PR_SET_DUMPABLE, 0)
    return _Ready(path, process["args"], env, seccomp if load_late else None, state)


def _explain_failure(ctx, error: BaseException) -> BaseException:
    """Return the error to report for a failure before READY.

    Once the init has loaded linux.seccomp, an error that is not a
    UserruncError (an OSError or MemoryError, for example) means that the
    filter blocked one of the init's own syscalls, which the user can only
    fix in the filter.
    """
    if not _filter_loaded or isinstance(error, UserruncError) or not isinstance(error, Exception):
        return error
    reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
    message = (
        f"the container init failed after loading linux.seccomp ({reason}): the filter blocks a syscall that the "
        "init makes before the container process starts; allow it"
    )
    if not ctx.spec["process"].get("noNewPrivileges"):
        message += ", or set process.noNewPrivileges so that the filter is loaded just before execve"
    return UserruncError(message)


def _set_process_attributes(process: dict, linux: dict) -> None:
    """Apply process.scheduler, process.ioPriority and linux.personality while the init keeps its capabilities."""
    if process.get("scheduler"):
        from ..security import scheduling

        scheduling.apply_scheduler(process["scheduler"])
    if process.get("ioPriority"):
        from ..security import scheduling

        scheduling.apply_io_priority(process["ioPriority"])
    if linux.get("personality"):
        from ..security import personality

        personality.apply(linux["personality"])


def _uses_notify(seccomp: dict) -> bool:
    if seccomp.get("defaultAction") == "SCMP_ACT_NOTIFY":
        return True
    return any(rule.get("action") == "SCMP_ACT_NOTIFY" for rule in seccomp.get("syscalls") or ())


def _load_seccomp(ctx, seccomp: dict) -> None:
    global _filter_loaded
    from ..security import seccomp as seccomp_module

    with log.step("seccomp"):
        notify_fd = seccomp_module.install(seccomp)
    _filter_loaded = True
    if notify_fd is not None:
        try:
            ctx.pipe.send(protocol.SECCOMP_FD, fds=[notify_fd])
        finally:
            os.close(notify_fd)


def _environment(items: list[str]) -> dict:
    env = {}
    for item in items:
        key, _sep, value = item.partition("=")
        env[key] = value
    return env


def _find_executable(program: str, search_path: str | None) -> str:
    """Return the path that execve will run; raise UserruncError in the words of runc's errno texts.

    podman picks the exit status of a failed start or exec from those words:
    127 for "no such file or directory" and "executable file not found in",
    126 for "permission denied".
    """
    where = "(process.args[0])"
    if "/" in program:
        if not os.path.exists(program):
            raise UserruncError(f"program {program!r} not found in the container {where}: No such file or directory")
        if os.path.isdir(program):
            raise UserruncError(f"program {program!r} is a directory in the container {where}: Permission denied")
        if not os.access(program, os.X_OK):
            raise UserruncError(f"program {program!r} is not executable in the container {where}: Permission denied")
        return program
    for directory in (search_path if search_path is not None else DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", program)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise UserruncError(f"program {program!r}: executable file not found in $PATH of the container {where}")


def _signal_ready(ctx) -> None:
    for name in _TERMINATING:
        number = getattr(_signal, name)
        _signal.signal(number, _exit_on_signal)
    ctx.pipe.send(protocol.READY)
    log.set_sink(_drop_record)
    ctx.pipe.close()


def _exit_on_signal(number, _frame) -> None:
    os._exit(128 + number)


def _drop_record(_level, _message, _fields) -> None:
    """Log records after READY have no reader: the parent of create is gone."""


def _wait_and_exec(ctx, ready: _Ready) -> None:
    try:
        fifo = os.open(f"/proc/self/fd/{ctx.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    except OSError as error:
        os.write(2, f"userrunc init: cannot open exec.fifo: {error.strerror}\n".encode())
        os._exit(1)
    os.close(ctx.fifo_fd)
    try:
        os.write(fifo, b"0")
        if ready.state is not None:
            hooks.run(ctx.spec.get("hooks"), "startContainer", dict(ready.state, status="running"))
        exec_process(ctx, ready)
    except BaseException as error:  # noqa: BLE001 - report to start through the fifo
        try:
            os.write(fifo, exec_failure(ready, error).encode("utf-8", "replace"))
        except OSError:
            pass
        os._exit(127)


def exec_process(ctx, ready: _Ready) -> None:
    """Apply the last settings (LSM labels, a late seccomp filter, signal defaults) and execve."""
    if _exec_labels:
        from ..security import lsm

        # Written after the hooks, because their execve would consume the labels.
        lsm.write_exec_labels(_exec_labels)
    if ready.seccomp_late is not None:
        _load_seccomp(ctx, ready.seccomp_late)
    for name in _TERMINATING:
        _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
    # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive exec,
    # and the container process must get the defaults.
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
    os.execve(ready.path, ready.args, ready.env)


def exec_failure(ready: _Ready, error: BaseException) -> str:
    """Return the one-line message for a failure between the start and execve."""
    if isinstance(error, UserruncError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"exec {ready.path}: {error.strerror}"
    return f"exec {ready.path}: {error}"
