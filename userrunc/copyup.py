"""The tmpcopyup option: fill a new tmpfs with what the directory under it contained.

Runs before pivot_root. Both trees are read and written through fds
(scandir on a directory fd, O_NOFOLLOW on every open), so a symlink in
the rootfs is copied as a symlink and never followed to the host.
"""

from __future__ import annotations

import os
import stat

from . import log
from .errors import UserruncError


def copy_up(underlying: int, mounted: int, destination: str) -> None:
    """Copy the directory `underlying` (an open fd) into the new mount whose root is the O_PATH fd `mounted`."""
    target = os.open(f"/proc/self/fd/{mounted}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        info = os.fstat(underlying)
        os.fchmod(target, stat.S_IMODE(info.st_mode))
        try:
            os.fchown(target, info.st_uid, info.st_gid)
        except OSError as error:
            log.debug(f"tmpcopyup: cannot set the owner of {destination}: {error.strerror}")
        _copy_tree(underlying, target)
    except OSError as error:
        raise UserruncError(f"option tmpcopyup: {error.strerror} ({error.filename or 'copying'})") from None
    finally:
        os.close(target)


def _copy_tree(source_fd: int, target_fd: int) -> None:
    """Copy a directory's entries with their modes and owners; source and target are open directory fds."""
    for entry in os.scandir(source_fd):
        name = entry.name
        info = entry.stat(follow_symlinks=False)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            os.mkdir(name, mode, dir_fd=target_fd)
            child_source = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=source_fd)
            child_target = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=target_fd)
            try:
                _copy_tree(child_source, child_target)
            finally:
                os.close(child_source)
                os.close(child_target)
        elif stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(name, dir_fd=source_fd), name, dir_fd=target_fd)
        elif stat.S_ISREG(info.st_mode):
            reader = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=source_fd)
            try:
                writer = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode, dir_fd=target_fd)
                try:
                    while os.sendfile(writer, reader, None, 1 << 20):
                        pass
                finally:
                    os.close(writer)
            finally:
                os.close(reader)
        else:
            try:
                os.mknod(name, info.st_mode, info.st_rdev, dir_fd=target_fd)
            except PermissionError:
                log.debug(f"tmpcopyup: cannot create device or special file {name} here; skipping it")
                continue
        try:
            os.chown(name, info.st_uid, info.st_gid, dir_fd=target_fd, follow_symlinks=False)
            if not stat.S_ISLNK(info.st_mode):
                os.chmod(name, mode, dir_fd=target_fd)
        except OSError as error:
            log.debug(f"tmpcopyup: cannot set owner or mode of {name}: {error.strerror}")
