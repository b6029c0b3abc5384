"""Write the uid and gid maps of a process in a new user namespace."""

from __future__ import annotations

import errno
import os

from .errors import HelperFailed, MapWriteFailed
from .helpers import find_helper, helper_name
from .mapping import IdMapping, format_map
from .programs import spawn_program
from .validate import check_mapping_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def write_mappings(
    pid: int,
    uid_mappings: Sequence[IdMapping],
    gid_mappings: Sequence[IdMapping],
    *,
    privileged: bool,
    host_uid: int,
    host_gid: int,
    proc: str = "/proc",
) -> None:
    """Write the uid map and then the gid map of process ``pid``.

    ``pid`` must already be in a new user namespace whose maps are still
    empty. A ``privileged`` caller writes both files directly: real root, or
    root of a user namespace, which may map any id that namespace maps.
    An unprivileged caller writes directly only a single mapping of its own
    id (``host_uid`` or ``host_gid``, which must be its effective ids). It
    writes ``deny`` to /proc/PID/setgroups before such a gid map, because the
    kernel requires that of an unprivileged writer. Every other map goes
    through newuidmap or newgidmap, and setgroups stays allowed, so the
    container can still call setgroups.

    Raises InvalidMapping for a map that the kernel would reject,
    HelperMissing or HelperNotPrivileged when a helper cannot be used,
    HelperFailed when a helper exits with an error, and MapWriteFailed when a
    direct write fails.
    """
    check_mapping_shape("uid", uid_mappings, host_id=host_uid)
    check_mapping_shape("gid", gid_mappings, host_id=host_gid)
    maps = (("uid", uid_mappings, host_uid), ("gid", gid_mappings, host_gid))
    # newuidmap and newgidmap run at the same time: each takes about 2 ms,
    # and this is on the path of every rootless create.
    running = []
    try:
        for kind, mappings, host_id in maps:
            if not privileged and not _is_own_id_only(mappings, host_id):
                running.append(_start_helper(kind, pid, mappings, host_id))
        for kind, mappings, host_id in maps:
            _write_map_directly(kind, pid, mappings, privileged, host_id, proc)
    finally:
        finished = [(helper, helper.program.wait()) for helper in running]
    for helper, result in finished:
        helper.check(result)


def _write_map_directly(kind: str, pid: int, mappings: Sequence[IdMapping], privileged: bool, host_id: int, proc: str) -> None:
    """Write a map that needs no helper: any map as root, or a single own-id map; skip the others."""
    path = f"{proc}/{pid}/{kind}_map"
    if privileged:
        _write_file(path, format_map(mappings), pid=pid, privileged=True)
        return

    if _is_own_id_only(mappings, host_id):
        if kind == "gid":
            _write_file(f"{proc}/{pid}/setgroups", "deny", pid=pid, privileged=False)
        _write_file(path, format_map(mappings), pid=pid, privileged=False)


def _is_own_id_only(mappings: Sequence[IdMapping], host_id: int) -> bool:
    return len(mappings) == 1 and mappings[0][1] == host_id and mappings[0][2] == 1


def _write_file(path: str, text: str, *, pid: int, privileged: bool) -> None:
    # The kernel parses a map only from one write() at offset 0, so the text
    # goes out in a single call.
    data = text.encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as error:
        raise MapWriteFailed(
            f"writing {_show(text)} to {path} failed: {error.strerror}; {_write_fix(path, pid, error.errno, privileged)}",
            path=path,
            errno=error.errno or 0,
        ) from error


def _show(text: str) -> str:
    return repr(", ".join(text.splitlines()))


def _write_fix(path: str, pid: int, error_number: int | None, privileged: bool) -> str:
    if error_number in (errno.ENOENT, errno.ESRCH):
        return f"process {pid} does not exist, so check that it is still running"
    if path.endswith("/setgroups"):
        return "setgroups can be changed only before the gid map is written, so write it first"
    if error_number == errno.EPERM and privileged:
        return (
            "each map can be written only once, and the writer needs CAP_SETUID or CAP_SETGID "
            f"over the parent user namespace of process {pid}"
        )
    if error_number == errno.EPERM:
        return (
            "each map can be written only once, and an unprivileged caller may write only a single "
            "mapping of its own id to a user namespace that it created"
        )
    if error_number == errno.EINVAL:
        return "every host id must be mapped in the caller's own user namespace"
    return f"check that process {pid} is in a new user namespace"


class _Helper:
    """A newuidmap or newgidmap run that has started."""

    __slots__ = ("kind", "pid", "host_id", "name", "argv", "program")

    def __init__(self, kind: str, pid: int, host_id: int, name: str, argv: list[str], program) -> None:
        self.kind = kind
        self.pid = pid
        self.host_id = host_id
        self.name = name
        self.argv = argv
        self.program = program

    def check(self, result) -> None:
        """Raise HelperFailed unless the helper exited with status 0."""
        if result.status == 0:
            return
        if result.status < 0:
            outcome = f"was killed by signal {-result.status}"
        else:
            outcome = f"failed with exit status {result.status}"
        output = " ".join(result.stderr.split()) or "no output"
        raise HelperFailed(
            f"{' '.join(self.argv)} {outcome}: {output}; the host {self.kind}s must be granted to {self.kind} "
            f"{self.host_id} in /etc/sub{self.kind}, and process {self.pid} must exist and belong to the caller",
            name=self.name,
            argv=self.argv,
            status=result.status,
            stderr=result.stderr,
        )


def _start_helper(kind: str, pid: int, mappings: Sequence[IdMapping], host_id: int) -> _Helper:
    name = helper_name(kind)
    path = find_helper(name)
    argv = [name, str(pid)]
    for mapping in mappings:
        argv.extend(str(value) for value in mapping)

    try:
        program = spawn_program(path, argv)
    except OSError as error:
        raise HelperFailed(
            f"running {path} failed: {error.strerror}; check that it is an executable for this machine",
            name=name,
            argv=argv,
            status=-1,
            stderr="",
        ) from error
    return _Helper(kind, pid, host_id, name, argv, program)
