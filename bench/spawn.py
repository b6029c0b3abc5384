"""Start a command (as root or as the bench user, optionally in a mount namespace) and time it.

Every runtime is started the same way: fork the driver, optionally join a
mount namespace and drop to the bench user, then execve. The timed interval
runs from just before fork to the return of waitpid, so it includes the
driver's fork and exec, which the `spawn /bin/true` row measures on its own.
"""

from __future__ import annotations

import ctypes
import os
import select
import time

CLONE_NEWNS = 0x00020000
PR_SET_CHILD_SUBREAPER = 36
# A runtime that takes longer than this is killed and the benchmark stops.
TIMEOUT_SECONDS = 60

_libc = ctypes.CDLL(None, use_errno=True)


class CommandFailed(Exception):
    """A timed command exited with a non-zero status or timed out."""


def become_subreaper() -> None:
    """Make orphaned container inits children of the driver, so it can wait for them and reap them."""
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(error)}")


def reap_orphans() -> None:
    """Reap every child that has exited, without blocking."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Identity:
    """The credentials, environment, working directory and mount namespace of a command."""

    __slots__ = ("uid", "gid", "env", "cwd", "mount_ns_fd")

    def __init__(self, uid: int, gid: int, env: dict, cwd: str, mount_ns_fd: int = -1) -> None:
        self.uid = uid
        self.gid = gid
        self.env = env
        self.cwd = cwd
        # An open /proc/PID/ns/mnt to join before exec, or -1 for the driver's own.
        self.mount_ns_fd = mount_ns_fd


class Output:
    """A file that receives a command's stdout or stderr; cleared before each command."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)

    def clear(self) -> None:
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)

    def text(self) -> str:
        size = os.fstat(self.fd).st_size
        return os.pread(self.fd, size, 0).decode("utf-8", "replace")

    def close(self) -> None:
        os.close(self.fd)


def _exec_child(argv: list[str], identity: Identity, stdout_fd: int, stderr_fd: int) -> None:
    """Join the namespace, drop privileges, set stdio and exec, in the forked child. Never returns."""
    try:
        if identity.mount_ns_fd >= 0 and _libc.setns(identity.mount_ns_fd, CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "setns(CLONE_NEWNS)")
        if identity.uid != 0:
            os.setgroups([])
            os.setresgid(identity.gid, identity.gid, identity.gid)
            os.setresuid(identity.uid, identity.uid, identity.uid)
        os.chdir(identity.cwd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        os.execve(argv[0], argv, identity.env)
    except BaseException as error:  # noqa: BLE001 - the child must never return into the driver
        try:
            os.write(stderr_fd, f"bench: cannot start {argv[0]}: {error}\n".encode())
        except OSError:
            pass
    os._exit(127)


def run_timed(argv: list[str], identity: Identity, stdout: Output, stderr: Output) -> tuple[int, int]:
    """Run argv to completion and return (wall time in ns, wait status).

    The command is killed after TIMEOUT_SECONDS, which raises CommandFailed.
    """
    stdout.clear()
    if stderr is not stdout:
        stderr.clear()
    start = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        _exec_child(argv, identity, stdout.fd, stderr.fd)
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(TIMEOUT_SECONDS * 1000):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise CommandFailed(f"{' '.join(argv)} did not finish within {TIMEOUT_SECONDS} s and was killed")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
    elapsed = time.perf_counter_ns() - start
    return elapsed, status


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def run_checked(argv: list[str], identity: Identity, stdout: Output, stderr: Output) -> int:
    """Run argv like run_timed; raise CommandFailed with its stderr unless it exits with status 0."""
    elapsed, status = run_timed(argv, identity, stdout, stderr)
    if status != 0:
        message = stderr.text().strip() or "no output on stderr"
        raise CommandFailed(f"{' '.join(argv)} failed ({describe_status(status)}): {message}")
    return elapsed
