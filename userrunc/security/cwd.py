"""process.cwd, resolved inside the container's root and never through a magic link.

A cwd such as /proc/self/fd/7 used to let a container start in a directory
of the host when the runtime leaked a directory fd into the init
(CVE-2024-21626). The path is first opened with openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS) from the container's root, before the init loads a
seccomp filter that could block openat2, so every /proc/*/fd/N, /proc/*/cwd
or /proc/*/root link in the path is rejected whatever fds the init holds.
Then chdir(2) runs as the container user, so the user's search permissions
apply, and must land on the same directory.
"""

from __future__ import annotations

import errno
import os

from ..errors import UserruncError
from ..linux import syscalls

_MAX_ATTEMPTS = 16


def open_cwd(path: str) -> int:
    """Return an O_PATH fd of process.cwd inside the root of the calling process."""
    root = os.open("/", syscalls.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _openat2_retrying(root, path.lstrip("/") or ".")
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UserruncError(
                f"process.cwd {path}: resolves through a magic link such as /proc/self/fd/N or too many symlinks; "
                "set it to a directory inside the container's root filesystem"
            ) from None
        raise UserruncError(f"process.cwd {path}: {error.strerror}") from None
    finally:
        os.close(root)


def _openat2_retrying(root: int, relative: str) -> int:
    # RESOLVE_IN_ROOT fails with EAGAIN when a rename elsewhere raced with the lookup.
    attempts = 0
    while True:
        try:
            return syscalls.openat2(
                root,
                relative,
                syscalls.O_PATH | os.O_DIRECTORY,
                0,
                syscalls.RESOLVE_IN_ROOT | syscalls.RESOLVE_NO_MAGICLINKS,
            )
        except BlockingIOError:
            attempts += 1
            if attempts >= _MAX_ATTEMPTS:
                raise


def enter_cwd(path: str, expected_fd: int) -> None:
    """chdir to process.cwd as the current user; raise unless it is the directory open_cwd() found."""
    try:
        os.chdir(path)
        landed = os.stat(".")
        expected = os.fstat(expected_fd)
    except OSError as error:
        raise UserruncError(f"process.cwd {path}: {error.strerror}") from None
    if (landed.st_dev, landed.st_ino) != (expected.st_dev, expected.st_ino):
        # Only a rename or symlink swap between the two lookups gets here.
        raise UserruncError(f"process.cwd {path}: the directory changed while the container started; try again")
