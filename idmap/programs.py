"""Find and run external programs (newuidmap, newgidmap, getsubids) without subprocess.

A rootless create runs newuidmap and newgidmap on every start, and importing
subprocess (with signal and enum) took 15-22 ms in ``python3.11 -X importtime``
on a 2-vCPU AMD EPYC virtual machine. So this module uses os.posix_spawn and
os.waitpid directly.
"""

from __future__ import annotations

import os
import stat

# Searched after PATH, because a runtime started by another daemon may get a
# minimal PATH that lacks the directory of the helpers.
FALLBACK_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")


def search_dirs() -> list[str]:
    """Return the directories that find_program searches, in order.

    Relative PATH entries are skipped, so that a helper is never run from
    the current directory.
    """
    # os.get_exec_path() would import warnings, which costs more than this.
    dirs = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(d)]
    dirs.extend(d for d in FALLBACK_DIRS if d not in dirs)
    return dirs


def find_program(name: str) -> str | None:
    """Return the path of the first executable regular file ``name`` in search_dirs(), or None."""
    for directory in search_dirs():
        path = os.path.join(directory, name)
        try:
            info = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and os.access(path, os.X_OK):
            return path
    return None


class ProgramResult:
    """Exit status and output of a finished program."""

    __slots__ = ("status", "stdout", "stderr")

    def __init__(self, status: int, stdout: str, stderr: str) -> None:
        # As os.waitstatus_to_exitcode returns it: negative for a signal number.
        self.status = status
        self.stdout = stdout
        self.stderr = stderr


class RunningProgram:
    """A program started by spawn_program; wait() collects its status and output."""

    __slots__ = ("pid", "out_read", "err_read")

    def __init__(self, pid: int, out_read: int, err_read: int) -> None:
        self.pid = pid
        self.out_read = out_read
        self.err_read = err_read

    def wait(self) -> ProgramResult:
        try:
            outputs = _read_all([fd for fd in (self.out_read, self.err_read) if fd >= 0])
        finally:
            for fd in (self.out_read, self.err_read):
                if fd >= 0:
                    os.close(fd)
            _, wait_status = os.waitpid(self.pid, 0)
        stdout = outputs.get(self.out_read, b"").decode("utf-8", "replace")
        stderr = outputs[self.err_read].decode("utf-8", "replace")
        return ProgramResult(os.waitstatus_to_exitcode(wait_status), stdout, stderr)


def spawn_program(path: str, argv: list[str], *, capture_stdout: bool = False) -> RunningProgram:
    """Start ``path`` with ``argv``; the caller must call wait() on the result.

    Standard input is /dev/null. Without ``capture_stdout`` the program's
    standard output goes to the same pipe as its standard error, so any message
    it prints ends up in ``stderr``. Raises OSError when the program cannot be
    started.
    """
    err_read, err_write = _pipe()
    if capture_stdout:
        out_read, out_write = _pipe()
    else:
        out_read, out_write = -1, err_write

    try:
        file_actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_write, 1),
            (os.POSIX_SPAWN_DUP2, err_write, 2),
        ]
        # Python ignores SIGPIPE and the program inherits that, which is
        # harmless because wait() reads every pipe to the end.
        pid = os.posix_spawn(path, argv, os.environ, file_actions=file_actions)
    except BaseException:
        for fd in {err_read, err_write, out_read, out_write} - {-1}:
            os.close(fd)
        raise

    os.close(err_write)
    if capture_stdout:
        os.close(out_write)
    return RunningProgram(pid, out_read, err_read)


def run_program(path: str, argv: list[str], *, capture_stdout: bool = False) -> ProgramResult:
    """Run ``path`` with ``argv``, wait for it and return its status and output (see spawn_program)."""
    return spawn_program(path, argv, capture_stdout=capture_stdout).wait()


def _pipe() -> tuple[int, int]:
    """Create a close-on-exec pipe whose ends are not 0, 1 or 2.

    A caller that closed its standard streams gets those numbers back from
    pipe(), and dup2 onto them in the child would then overwrite one pipe end
    with another.
    """
    read_end, write_end = os.pipe()
    return _above_stdio(read_end), _above_stdio(write_end)


def _above_stdio(fd: int) -> int:
    if fd > 2:
        return fd
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


def _read_all(fds: list[int]) -> dict[int, bytes]:
    """Read each pipe until end of file, without blocking on one while another fills up."""
    chunks: dict[int, list[bytes]] = {fd: [] for fd in fds}
    if len(fds) == 1:
        fd = fds[0]
        while data := os.read(fd, 65536):
            chunks[fd].append(data)
        return {fd: b"".join(chunks[fd])}

    import select

    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    open_fds = set(fds)
    while open_fds:
        for fd, _ in poller.poll():
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                open_fds.discard(fd)
    return {fd: b"".join(parts) for fd, parts in chunks.items()}
