"""The parent side of `create`: prepare, fork the child, serve its requests over the init pipe.

The parent keeps the caller's privileges throughout: it writes the user
namespace's id maps (directly or with newuidmap/newgidmap), places the
child in its cgroup, and runs the prestart and createRuntime hooks in the
runtime's namespaces. If anything fails, it kills what it forked and
removes what it made, so a failed create leaves nothing behind.
"""

from __future__ import annotations

import os

from .. import hooks, log
from ..errors import InitError, UserruncError, rebuild
from ..status import process_start_time
from ..store import EXEC_FIFO
from . import protocol

PR_SET_CHILD_SUBREAPER = 36


class CreateRequest:
    """A validated request from `create` or `run`: the spec, the bundle and the options."""

    __slots__ = (
        "container_id",
        "bundle",
        "spec",
        "rootfs",
        "container_dir",
        "console_socket",
        "no_pivot",
        "no_new_keyring",
        "preserve_fds",
        "rootless",
        # Real root: it may also idmap the host's filesystems.
        "privileged",
        # Root in the caller's own user namespace (real root, or as under
        # podman without root): it writes any id mapping of that namespace itself.
        "maps_any_id",
        "foreground",
        "cgroup_manager",
    )

    def __init__(self, **values) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


class Created:
    """A container whose init is set up and waits on exec.fifo."""

    __slots__ = ("pid", "start_time", "pty_master", "cgroup", "child_pid", "namespaces")

    def __init__(self) -> None:
        self.pid = 0
        self.start_time = 0
        self.pty_master = None
        self.cgroup = None
        # The forked child when it is still ours to reap (it became the init).
        self.child_pid = 0
        self.namespaces: list[str] = []


def _check_terminal(request: CreateRequest) -> None:
    terminal = bool(request.spec["process"].get("terminal"))
    if terminal and not request.console_socket and not request.foreground:
        raise UserruncError(
            "process.terminal is true, so a detached container needs --console-socket to receive the pty master "
            "(or set process.terminal to false)"
        )
    if request.console_socket and not terminal:
        raise UserruncError("--console-socket was given, but process.terminal is false; remove one of them")


def check_preserved_fds(count: int) -> None:
    """Check that fds 3 to 3+count-1 are open; call it before userrunc opens any fd of its own."""
    for fd in range(3, 3 + count):
        try:
            os.fstat(fd)
        except OSError:
            raise UserruncError(f"--preserve-fds {count}: file descriptor {fd} is not open") from None


def create(request: CreateRequest) -> Created:
    """Set the container up to the point where it waits for start."""
    from .. import cgroups
    from . import namespaces
    from .child import ChildContext

    _check_terminal(request)
    plan = namespaces.plan(request.spec, request.rootless)
    result = Created()
    result.namespaces = sorted(plan.types)
    opened: list[int] = []
    child_pid = 0
    manager = None
    pipe_parent = pipe_child = None
    try:
        mappings = None
        if plan.new_user:
            from ..userns import mappings_for

            mappings = mappings_for(request.spec, request.privileged, request.maps_any_id)

        directory = request.container_dir
        os.mkfifo(EXEC_FIFO, 0o622, dir_fd=directory.fd)
        # The umask may have removed bits; the container user (any uid) must
        # be able to open the fifo for writing.
        os.chmod(EXEC_FIFO, 0o622, dir_fd=directory.fd)
        fifo_fd = os.open(EXEC_FIFO, os.O_PATH | os.O_CLOEXEC, dir_fd=directory.fd)
        opened.append(fifo_fd)

        console_fd = None
        if request.console_socket:
            from ..terminal import connect_console_socket

            console_fd = connect_console_socket(request.console_socket)
            opened.append(console_fd)

        with log.step("cgroup"):
            manager = cgroups.create_manager(
                request.cgroup_manager,
                request.container_id,
                request.spec.get("linux", {}).get("cgroupsPath", ""),
                request.rootless,
            )
            has_cgroup = manager is not None and manager.create(request.rootless)

        idmapped_trees = {}
        if request.privileged and plan.join_user_fd >= 0:
            # A joined user namespace is known now, so its trees are built before fork.
            from .. import idmapped

            indices = idmapped.parent_entries(request.spec)
            if indices:
                idmapped_trees = idmapped.prepare_trees(request.spec, request.bundle, indices, plan.join_user_fd)
                opened.extend(idmapped_trees.values())

        pipe_parent, pipe_child = protocol.InitPipe.pair()
        if request.foreground:
            # The init is forked by the child, which then exits; as a
            # subreaper, `run` inherits the init and can wait for its status.
            from ..linux import syscalls

            syscalls.prctl(PR_SET_CHILD_SUBREAPER, 1)
        ctx = ChildContext(
            container_id=request.container_id,
            spec=request.spec,
            bundle=request.bundle,
            rootfs=request.rootfs,
            pipe=pipe_child,
            plan=plan,
            fifo_fd=fifo_fd,
            console_fd=console_fd,
            foreground_terminal=request.foreground,
            preserve_fds=request.preserve_fds or 0,
            no_pivot=request.no_pivot,
            no_new_keyring=request.no_new_keyring,
            close_in_child=[directory.fd, directory.root_fd, pipe_parent.fileno()],
            wait_for_cgroup=has_cgroup,
            idmapped_trees=idmapped_trees,
        )
        child_pid = os.fork()
        if child_pid == 0:
            from . import child

            child.run(ctx)
        pipe_child.close()
        result.pid = child_pid
        if has_cgroup:
            # The first write into cgroup.procs can wait about 10 ms for the
            # kernel's cgroup lock (measured with bench/); the child creates
            # its namespaces meanwhile.
            with log.step("cgroup: place the child"):
                manager.apply(child_pid)
            try:
                pipe_parent.send(protocol.CGROUP_READY)
            except BrokenPipeError:
                # The child failed already; its ERROR message is waiting below.
                pass
        _converse(request, pipe_parent, child_pid, mappings, result)
        init_pid = result.pid
        result.child_pid = child_pid if init_pid == child_pid else 0
        result.start_time = process_start_time(init_pid) or 0
        result.cgroup = manager if has_cgroup else None
        return result
    except BaseException:
        _kill(result.pid, child_pid)
        cgroups.destroy_quietly(manager)
        if result.pty_master is not None:
            os.close(result.pty_master)
        raise
    finally:
        plan.close()
        for fd in opened:
            os.close(fd)
        if pipe_parent is not None:
            pipe_parent.close()


def _converse(request: CreateRequest, pipe, child_pid: int, mappings, result: Created) -> None:
    """Handle the child's messages until READY, recording the init PID and pty master in result."""
    while True:
        message, fds = pipe.receive()
        if message is None:
            raise InitError(f"the container's init process exited before it was ready{_exit_status(child_pid)}")
        kind = message["type"]
        if kind == protocol.LOG:
            log.emit(message["level"], message["message"], message.get("fields") or {})
        elif kind == protocol.USERNS_CREATED:
            with log.step("id mappings"):
                _write_mappings(message["pid"], mappings, request.maps_any_id)
            trees = _idmapped_trees(request, message["pid"])
            try:
                pipe.send(protocol.USERNS_MAPPED, fds=list(trees.values()), idmapped=list(trees))
            finally:
                for tree in trees.values():
                    os.close(tree)
        elif kind == protocol.INIT_PID:
            result.pid = message["pid"]
            _reap(child_pid)
        elif kind == protocol.RUN_HOOKS:
            state = hooks.state_for_hooks(
                request.container_id, request.bundle, request.spec.get("annotations"), "creating", result.pid
            )
            spec_hooks = request.spec.get("hooks")
            hooks.run(spec_hooks, "prestart", state)
            hooks.run(spec_hooks, "createRuntime", state)
            pipe.send(protocol.HOOKS_DONE, state=state)
        elif kind == protocol.PTY_MASTER:
            result.pty_master = fds[0]
            for extra in fds[1:]:
                os.close(extra)
        elif kind == protocol.SECCOMP_FD:
            _send_seccomp_fd(request, result.pid, fds)
        elif kind == protocol.ERROR:
            raise rebuild(message.get("kind", ""), message.get("message", "unknown error"))
        elif kind == protocol.READY:
            return
        else:
            raise InitError(f"unexpected init pipe message {kind!r}")


def _idmapped_trees(request: CreateRequest, child_pid: int) -> dict[int, int]:
    """Idmap the requested bind mounts here, outside the container's new user namespace.

    Only real root can idmap the host's filesystems, and the init, inside
    the user namespace, no longer can; so the parent builds the trees.
    """
    if not request.privileged:
        return {}
    from .. import idmapped

    indices = idmapped.parent_entries(request.spec)
    if not indices:
        return {}
    userns_fd = os.open(f"/proc/{child_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with log.step("idmapped mounts"):
            return idmapped.prepare_trees(request.spec, request.bundle, indices, userns_fd)
    finally:
        os.close(userns_fd)


def _send_seccomp_fd(request: CreateRequest, init_pid: int, fds: list[int]) -> None:
    """Pass the notify fd to the seccomp agent at listenerPath, from the runtime's namespaces."""
    from ..security import seccomp

    settings = request.spec["linux"]["seccomp"]
    state = hooks.state_for_hooks(request.container_id, request.bundle, request.spec.get("annotations"), "creating", init_pid)
    try:
        seccomp.send_listener_fd(settings["listenerPath"], settings.get("listenerMetadata", ""), fds[0], state)
    finally:
        for fd in fds:
            os.close(fd)


def _write_mappings(pid: int, mappings, privileged: bool) -> None:
    from .. import idmap

    uid_mappings, gid_mappings = mappings
    try:
        idmap.write_mappings(
            pid,
            uid_mappings,
            gid_mappings,
            privileged=privileged,
            host_uid=os.getuid(),
            host_gid=os.getgid(),
        )
    except idmap.IdMapError as error:
        raise UserruncError(str(error)) from None


def _exit_status(pid: int) -> str:
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return ""
    if waited == 0:
        return ""
    if os.WIFSIGNALED(status):
        return f" (killed by signal {os.WTERMSIG(status)})"
    return f" (exit status {os.WEXITSTATUS(status)})"


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _kill(init_pid: int, child_pid: int) -> None:
    """Kill what create forked; used when create fails part way."""
    for pid in {init_pid, child_pid}:
        if pid > 0:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    if child_pid > 0:
        _reap(child_pid)
    if init_pid > 0 and init_pid != child_pid:
        # The init is our child only when we are its subreaper.
        try:
            os.waitpid(init_pid, 0)
        except ChildProcessError:
            pass
