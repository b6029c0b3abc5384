"""The parent side of `exec`: open the container's namespaces, fork, and follow the process until execve."""

from __future__ import annotations

import os

from .. import log
from ..errors import InitError, InvalidState, UserruncError, rebuild
from . import protocol
from .exec_process import EXEC_PID, ExecContext
from .namespaces import JOIN_ORDER, PROC_NAMES, NamespacePlan

PR_SET_CHILD_SUBREAPER = 36


class Started:
    """A process that exec started: its PID, the pty master (foreground --tty) and the signal forwarder."""

    __slots__ = ("pid", "pty_master", "forwarder")

    def __init__(self) -> None:
        self.pid = 0
        self.pty_master = None
        self.forwarder = None


def _join_plan(container) -> NamespacePlan:
    """Open every namespace of the container's init, checked against its start time."""
    pidfd = container.pidfd()
    if pidfd is None:
        raise InvalidState(container.id, "stopped", f"cannot exec in container {container.id!r}: its init has exited")
    plan = NamespacePlan()
    try:
        for kind in container.state.get("namespaces", []):
            path = f"/proc/{container.pid}/ns/{PROC_NAMES[kind]}"
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as error:
                raise UserruncError(f"cannot open {path} of container {container.id!r}: {error.strerror}") from None
            plan.types.add(kind)
            if kind == "user":
                plan.join_user_fd = fd
            else:
                plan.join.append((kind, fd))
        plan.join.sort(key=lambda item: JOIN_ORDER.index(item[0]))
        # The PID was checked before the files were opened; checking again
        # proves that they belong to the same process.
        if container.pidfd() is None:
            raise InvalidState(container.id, "stopped", f"cannot exec in container {container.id!r}: its init has exited")
    except BaseException:
        plan.close()
        raise
    finally:
        os.close(pidfd)
    return plan


def start_process(container, spec: dict, process: dict, options: dict, foreground: bool) -> Started:
    """Start the process in the container and return once it has exec'd."""
    from ..foreground import Forwarder

    linux = spec.get("linux", {})
    exec_spec = {"ociVersion": spec["ociVersion"], "process": process, "linux": {}}
    # The container's seccomp filter and personality apply to every process in it.
    for key in ("seccomp", "personality"):
        if linux.get(key):
            exec_spec["linux"][key] = linux[key]
    started = Started()
    plan = _join_plan(container)
    opened: list[int] = []
    pipe_parent = pipe_child = None
    child_pid = 0
    try:
        if foreground:
            started.forwarder = Forwarder()
            from ..linux import syscalls

            syscalls.prctl(PR_SET_CHILD_SUBREAPER, 1)
        console_fd = None
        if options.get("console_socket"):
            from ..terminal import connect_console_socket

            console_fd = connect_console_socket(options["console_socket"])
            opened.append(console_fd)
        paths = (container.state.get("cgroup") or {}).get("paths") or []
        pipe_parent, pipe_child = protocol.InitPipe.pair()
        ctx = ExecContext(
            container_id=container.id,
            spec=exec_spec,
            bundle=container.state["bundle"],
            pipe=pipe_child,
            plan=plan,
            fifo_fd=None,
            console_fd=console_fd,
            preserve_fds=options.get("preserve_fds") or 0,
            close_in_child=[container.directory.fd, container.directory.root_fd, pipe_parent.fileno()],
            wait_for_cgroup=bool(paths),
        )
        child_pid = os.fork()
        if child_pid == 0:
            from .exec_process import run_child

            run_child(ctx)
        pipe_child.close()
        if paths:
            _join_cgroup(child_pid, paths)
            try:
                pipe_parent.send(protocol.CGROUP_READY)
            except BrokenPipeError:
                pass
        _follow(pipe_parent, child_pid, exec_spec, container, started)
        if started.forwarder is not None:
            started.forwarder.attach(started.pid)
            started.forwarder.flush()
        return started
    except BaseException:
        for pid in {started.pid, child_pid} - {0}:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        if started.pty_master is not None:
            os.close(started.pty_master)
        if started.forwarder is not None:
            started.forwarder.close()
        raise
    finally:
        plan.close()
        for fd in opened:
            os.close(fd)
        if pipe_parent is not None:
            pipe_parent.close()


def _join_cgroup(pid: int, paths: list[str]) -> None:
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                handle.write(str(pid))
        except OSError as error:
            raise UserruncError(f"cannot move the exec process into cgroup {path}: {error.strerror}") from None


def _follow(pipe, child_pid: int, exec_spec: dict, container, started: Started) -> None:
    """Handle messages until the pipe closes on execve; raise the process's error if it sends one."""
    while True:
        message, fds = pipe.receive()
        if message is None:
            if not started.pid:
                raise InitError(f"the exec process in container {container.id!r} exited before it started")
            return
        kind = message["type"]
        if kind == protocol.LOG:
            log.emit(message["level"], message["message"], message.get("fields") or {})
        elif kind == EXEC_PID:
            started.pid = message["pid"]
            try:
                os.waitpid(child_pid, 0)
            except ChildProcessError:
                pass
        elif kind == protocol.PTY_MASTER:
            started.pty_master = fds[0]
            for extra in fds[1:]:
                os.close(extra)
        elif kind == protocol.SECCOMP_FD:
            from ..hooks import state_for_hooks
            from ..security import seccomp

            settings = exec_spec["linux"]["seccomp"]
            state = state_for_hooks(container.id, container.state["bundle"], container.state.get("annotations"), "running", started.pid)
            try:
                seccomp.send_listener_fd(settings["listenerPath"], settings.get("listenerMetadata", ""), fds[0], state)
            finally:
                for fd in fds:
                    os.close(fd)
        elif kind == protocol.ERROR:
            raise rebuild(message.get("kind", ""), message.get("message", "unknown error"))
        else:
            for fd in fds:
                os.close(fd)
            raise InitError(f"unexpected message {kind!r} from the exec process")


def wait(started: Started) -> int:
    """Wait in the foreground for the process and return its exit status."""
    from ..foreground import wait_for

    try:
        return wait_for(started.pid, started.pty_master, started.forwarder)
    finally:
        started.forwarder.close()
