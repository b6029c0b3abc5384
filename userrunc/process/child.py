"""The first child of `create`: it enters the container's namespaces.

Forked from the parent (no re-exec), it keeps the caller's privileges long
enough to join the cgroup and set rlimits, then creates or joins the user
namespace and waits for the parent to map it, then creates or joins the
others. A new PID or time namespace applies only to children. So in that
case it forks the init, reports the init's PID and exits. Otherwise it
becomes the init itself.
"""

from __future__ import annotations

import os

from .. import log
from ..errors import SystemCallError, UserruncError
from ..linux import syscalls
from . import protocol


class Settings:
    """A base for settings objects built with keyword arguments; slots not given are None."""

    __slots__ = ()

    def __init__(self, **values) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


class ChildContext(Settings):
    """Everything the child and the init need, prepared by the parent before fork."""

    __slots__ = (
        "container_id",
        "spec",
        "bundle",
        "rootfs",
        "pipe",
        "plan",
        "fifo_fd",
        "console_fd",
        "foreground_terminal",
        "preserve_fds",
        "no_pivot",
        "no_new_keyring",
        "close_in_child",
        "host_pid",
        "wait_for_cgroup",
        "idmapped_trees",
    )


def run(ctx: ChildContext) -> None:
    """Run the child side; never returns."""
    try:
        _reset_signal_handlers()
        for fd in ctx.close_in_child or ():
            try:
                os.close(fd)
            except OSError:
                pass
        log.set_sink(ctx.pipe.send_log)
        # Asked before _enter_namespaces, which empties plan.join.
        fork_init = ctx.plan.needs_fork()
        _enter_namespaces(ctx)
        # A joined PID namespace may contain other processes, so the init is non-dumpable from fork on (PR_SET_DUMPABLE).
        syscalls.prctl(4, 0)
        if fork_init:
            pid = os.fork()
            if pid == 0:
                from . import init

                init.run(ctx)
            ctx.pipe.send(protocol.INIT_PID, pid=pid)
            os._exit(0)
        from . import init

        init.run(ctx)
    except BaseException as error:  # noqa: BLE001 - every failure must reach the parent
        _report(ctx, error)
    os._exit(1)


def _reset_signal_handlers() -> None:
    """Drop the Python handlers inherited from `run`, which forward signals meant for the parent."""
    import _signal

    for number in range(1, _signal.NSIG):
        try:
            handler = _signal.getsignal(number)
        except (OSError, ValueError):
            continue
        if callable(handler):
            try:
                _signal.signal(number, _signal.SIG_DFL)
            except (OSError, ValueError):
                pass


def _report(ctx: ChildContext, error: BaseException) -> None:
    try:
        if not isinstance(error, UserruncError):
            try:
                import traceback
            except ImportError:
                # After pivot_root userrunc's files may be out of sight; the
                # message below still names the error.
                pass
            else:
                ctx.pipe.send_log(log.DEBUG, "".join(traceback.format_exception(error)), {})
            error = UserruncError(f"internal error in the container's child process: {type(error).__name__}: {error}")
        ctx.pipe.send_error(error)
    except OSError:
        pass


def _enter_namespaces(ctx: ChildContext) -> None:
    from ..security import rlimits

    process = ctx.spec["process"]
    with log.step("rlimits"):
        rlimits.apply_rlimits(process.get("rlimits"))
        rlimits.apply_oom_score_adj(process.get("oomScoreAdj"))

    plan = ctx.plan
    if plan.join_user_fd >= 0:
        try:
            syscalls.setns(plan.join_user_fd, syscalls.CLONE_NEWUSER)
        except OSError as error:
            raise SystemCallError(
                f"join the user namespace (linux.namespaces[{plan.index['user']}].path)", error.errno
            ) from None
        os.close(plan.join_user_fd)
        plan.join_user_fd = -1
        _become_root()
    elif plan.new_user:
        with log.step("user namespace"):
            try:
                syscalls.unshare(syscalls.CLONE_NEWUSER)
            except OSError as error:
                from ..idmap import explain_userns_failure

                raise UserruncError(f"cannot create a user namespace: {explain_userns_failure(error.errno)}") from None
            ctx.pipe.send(protocol.USERNS_CREATED, pid=os.getpid())
            message, fds = ctx.pipe.expect(protocol.USERNS_MAPPED, early=(protocol.CGROUP_READY,), keep_fds=True)
            if fds:
                ctx.idmapped_trees = dict(zip(message["idmapped"], fds))
            _become_root()

    for kind, fd in plan.join:
        try:
            syscalls.setns(fd, 0)
        except OSError as error:
            raise SystemCallError(f"join the {kind} namespace (linux.namespaces[{plan.index[kind]}].path)", error.errno) from None
        os.close(fd)
    plan.join = []

    # The cgroup namespace comes after the move into the container's cgroup
    # (its root is the cgroup the process is in), so the others go first,
    # while the parent still writes the cgroup.
    other_flags = plan.new_flags & ~syscalls.CLONE_NEWCGROUP
    if other_flags:
        with log.step("namespaces"):
            try:
                syscalls.unshare(other_flags)
            except OSError as error:
                names = ", ".join(kind for kind in sorted(plan.types) if kind not in ("user", "cgroup") and plan.is_new(kind))
                raise SystemCallError(f"create the {names} namespaces", error.errno) from None
    if ctx.wait_for_cgroup:
        # Writing cgroup.procs can wait about 10 ms for an RCU grace period,
        # so the child imports the init's modules meanwhile.
        _preload(ctx)
        with log.step("wait for the cgroup"):
            ctx.pipe.expect(protocol.CGROUP_READY)
    if plan.new_flags & syscalls.CLONE_NEWCGROUP:
        try:
            syscalls.unshare(syscalls.CLONE_NEWCGROUP)
        except OSError as error:
            raise SystemCallError("create the cgroup namespace", error.errno) from None
    if plan.is_new("time"):
        _write_time_offsets(ctx.spec.get("linux", {}).get("timeOffsets") or {})


def _preload(ctx: ChildContext) -> None:
    from . import init

    with log.step("preload the init's modules"):
        init.preload(ctx)


def _become_root() -> None:
    """Take uid and gid 0 in the user namespace, so the init has its full capabilities."""
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError as error:
        raise UserruncError(
            f"cannot become root in the user namespace: {error.strerror} "
            "(uid 0 and gid 0 must be mapped: check linux.uidMappings and linux.gidMappings)"
        ) from None
    try:
        with open("/proc/self/setgroups", "rb") as handle:
            allowed = handle.read().strip() == b"allow"
    except OSError:
        allowed = True
    if allowed:
        try:
            os.setgroups([])
        except OSError:
            pass


def _write_time_offsets(offsets: dict) -> None:
    if not offsets:
        return
    lines = []
    for clock in ("monotonic", "boottime"):
        if clock in offsets:
            offset = offsets[clock]
            lines.append(f"{clock} {offset.get('secs', 0)} {offset.get('nanosecs', 0)}\n")
    try:
        with open("/proc/self/timens_offsets", "w") as handle:
            handle.write("".join(lines))
    except OSError as error:
        raise UserruncError(f"linux.timeOffsets: cannot write /proc/self/timens_offsets: {error.strerror}") from None
