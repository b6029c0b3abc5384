"""The process chain of `exec`: a new process in the namespaces and cgroup of a running container.

    parent (exec)                          child (forked)
    -------------                          -----
    CGROUP_READY ->                        rlimits; joins the user namespace,
                                           then the others (mount last);
                                           waits for CGROUP_READY; forks:
                        <- EXEC_PID {pid}  and exits
                                           process: pty, user, capabilities,
                                           no_new_privs, seccomp, cwd, execve
                        <- PTY_MASTER [fd] (with --tty, without --console-socket)
                        <- SECCOMP_FD [fd] (a filter with SCMP_ACT_NOTIFY)
                        <- ERROR {message} (and exits)

The init pipe is close-on-exec, so end-of-file without ERROR means the
execve succeeded. The process is set up by the same code as the
container's own process (process/init.py), from the process object that
`exec` builds.
"""

from __future__ import annotations

import os

from .. import log
from ..errors import UserruncError
from ..linux import syscalls
from . import protocol
from .child import Settings

EXEC_PID = "exec-pid"


class ExecContext(Settings):
    """The settings of the exec child and process, prepared by the parent before fork."""

    __slots__ = (
        "container_id",
        "spec",
        "bundle",
        "pipe",
        "plan",
        "fifo_fd",
        "console_fd",
        "preserve_fds",
        "close_in_child",
        "host_pid",
        "wait_for_cgroup",
        "no_pivot",
    )


def run_child(ctx: ExecContext) -> None:
    """Join the container and fork the process; never returns."""
    from . import child, init

    try:
        child._reset_signal_handlers()
        for fd in ctx.close_in_child or ():
            try:
                os.close(fd)
            except OSError:
                pass
        log.set_sink(ctx.pipe.send_log)
        # After setns into the container's mount namespace, userrunc's
        # files are out of sight, as after pivot_root for the init.
        init._import_before_pivot(ctx)
        from ..security import rlimits

        # runtime-spec: `initial` applies before the move into the container's
        # cgroup, and `final` after it (the process sets it before execve).
        _set_affinity(ctx, "initial")
        rlimits.apply_rlimits(ctx.spec["process"].get("rlimits"))
        rlimits.apply_oom_score_adj(ctx.spec["process"].get("oomScoreAdj"))
        _join(ctx)
        if ctx.wait_for_cgroup:
            ctx.pipe.expect(protocol.CGROUP_READY)
        syscalls.prctl(init.PR_SET_DUMPABLE, 0)
        pid = os.fork()
        if pid == 0:
            _run_process(ctx)
        ctx.pipe.send(EXEC_PID, pid=pid)
        os._exit(0)
    except BaseException as error:  # noqa: BLE001 - every failure must reach the parent
        from .child import _report

        _report(ctx, error)
    os._exit(1)


def _join(ctx: ExecContext) -> None:
    from .child import _become_root

    plan = ctx.plan
    if plan.join_user_fd >= 0:
        try:
            syscalls.setns(plan.join_user_fd, syscalls.CLONE_NEWUSER)
        except OSError as error:
            raise UserruncError(f"cannot join the container's user namespace: {os.strerror(error.errno)}") from None
        os.close(plan.join_user_fd)
        plan.join_user_fd = -1
        _become_root()
    for kind, fd in plan.join:
        try:
            syscalls.setns(fd, 0)
        except OSError as error:
            raise UserruncError(f"cannot join the container's {kind} namespace: {os.strerror(error.errno)}") from None
        os.close(fd)
    plan.join = []


def _run_process(ctx: ExecContext) -> None:
    from . import init

    ready = None
    try:
        # The host's /proc is gone after the mount namespace was joined;
        # hooks, which would report this PID, do not run for exec.
        ctx.host_pid = 0
        _set_affinity(ctx, "final")
        if ctx.spec["process"].get("terminal"):
            os.setsid()
            init.set_up_terminal(ctx, bind_console=False)
        ready = init._prepare_process(ctx)
        init.exec_process(ctx, ready)
    except BaseException as error:  # noqa: BLE001 - report to exec through the pipe
        message = init.exec_failure(ready, error) if ready is not None else str(error) or type(error).__name__
        if ready is None and not isinstance(error, UserruncError):
            message = f"internal error in the exec process: {type(error).__name__}: {error}"
        try:
            ctx.pipe.send(protocol.ERROR, kind=type(error).__name__ if isinstance(error, UserruncError) else "UserruncError", message=message)
        except OSError:
            pass
    os._exit(127)


def _set_affinity(ctx: ExecContext, key: str) -> None:
    """Apply process.execCPUAffinity's `initial` or `final` CPU list, if set."""
    cpus = (ctx.spec["process"].get("execCPUAffinity") or {}).get(key)
    if not cpus:
        return
    from ..security import scheduling

    requested = {cpu for first, last in scheduling.parse_cpu_ranges(cpus) for cpu in range(first, last + 1)}
    try:
        os.sched_setaffinity(0, requested)
    except OSError as error:
        raise UserruncError(f"process.execCPUAffinity.{key}: cannot run on CPUs {cpus!r}: {error.strerror}") from None


