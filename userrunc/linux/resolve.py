"""Open and create paths inside a root directory as if it were /.

openat2(RESOLVE_IN_ROOT) does it in the kernel: an absolute symlink or a
`..` in the path stops at the root, so a hostile rootfs cannot lead the
runtime to a host path. Kernels without openat2 (ENOSYS, before 5.6) and
the creation of missing components use `walk`, which does the same in user
space. It opens one component at a time with O_NOFOLLOW, relative to a
directory fd it has already opened. It reads each symlink itself and
restarts an absolute target at the root. It treats `..` as a step back
along the directories it opened, so no lookup goes above the root.

Setting USERRUNC_NO_OPENAT2 in the environment selects the walk, so tests
can cover the fallback on a kernel that has openat2.
"""

from __future__ import annotations

import errno
import os
import stat

from . import syscalls

# The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS).
MAX_SYMLINKS = 40
_RESOLVE = syscalls.RESOLVE_IN_ROOT | syscalls.RESOLVE_NO_MAGICLINKS
_openat2_missing = "USERRUNC_NO_OPENAT2" in os.environ


def open_in_root(root_fd: int, path: str, flags: int = syscalls.O_PATH) -> int:
    """Open `path` below the directory `root_fd`, resolving symlinks and `..` as if it were /.

    Raises OSError like open(2): FileNotFoundError, NotADirectoryError,
    ELOOP for more than MAX_SYMLINKS symlinks.
    """
    global _openat2_missing
    if not _openat2_missing:
        try:
            return syscalls.openat2(root_fd, path.lstrip("/") or ".", flags, 0, _RESOLVE)
        except OSError as error:
            if error.errno != errno.ENOSYS:
                raise
            _openat2_missing = True
    return walk(root_fd, path, flags)


def create_in_root(root_fd: int, path: str, kind: str, mode: int = 0o755) -> int:
    """Open `path` below root_fd, creating what is missing; return an O_PATH fd.

    Missing parents become directories (mode 0755); a missing last
    component becomes a directory (kind "dir") or an empty file (kind
    "file") with `mode`. A
    dangling symlink on the way is followed and its target created, inside
    the root. Raises FileExistsError when the existing last component has
    the other kind.
    """
    try:
        fd = open_in_root(root_fd, path)
    except FileNotFoundError:
        fd = walk(root_fd, path, syscalls.O_PATH, create=kind, mode=mode)
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
    except OSError:
        os.close(fd)
        raise
    if is_dir != (kind == "dir"):
        os.close(fd)
        raise FileExistsError(errno.EEXIST, "a directory is in the way" if is_dir else "a file is in the way", path)
    return fd


def walk(root_fd: int, path: str, flags: int = syscalls.O_PATH, create: str | None = None, mode: int = 0o755) -> int:
    """Resolve `path` below root_fd in user space; create missing components when `create` is set."""
    pending = [part for part in reversed(path.split("/")) if part and part != "."]
    # The directories opened so far, from the root down; `..` pops one.
    opened = [os.dup(root_fd)]
    symlinks = 0
    just_created = None
    try:
        while pending:
            name = pending.pop()
            if name == "..":
                if len(opened) > 1:
                    os.close(opened.pop())
                continue
            last = not pending
            try:
                fd = os.open(name, syscalls.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=opened[-1])
            except FileNotFoundError:
                if create is None or just_created == name:
                    raise
                if last:
                    _create_component(opened[-1], name, create, mode)
                else:
                    _create_component(opened[-1], name, "dir", 0o755)
                just_created = name
                # The next round opens the new entry. If another process
                # replaced it with a symlink meanwhile, that round follows
                # the symlink inside the root like any other.
                pending.append(name)
                continue
            just_created = None
            info = os.fstat(fd)
            if stat.S_ISLNK(info.st_mode):
                try:
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                symlinks += 1
                if symlinks > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    while len(opened) > 1:
                        os.close(opened.pop())
                pending.extend(part for part in reversed(target.split("/")) if part and part != ".")
                continue
            opened.append(fd)
            if not last and not stat.S_ISDIR(info.st_mode):
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        result = opened.pop()
    finally:
        for fd in opened:
            os.close(fd)
    try:
        _check_below(root_fd, result, path)
        if flags & ~os.O_CLOEXEC == syscalls.O_PATH:
            return result
        # Reopening through the fd's /proc entry opens the same inode
        # without another lookup by name.
        reopened = os.open(f"/proc/self/fd/{result}", flags | os.O_CLOEXEC)
    except BaseException:
        os.close(result)
        raise
    os.close(result)
    return reopened


def _create_component(dir_fd: int, name: str, kind: str, mode: int) -> None:
    try:
        if kind == "dir":
            os.mkdir(name, mode, dir_fd=dir_fd)
        else:
            created = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
            os.close(created)
    except FileExistsError:
        # Another process created it first; the caller opens what is there.
        pass


def _check_below(root_fd: int, fd: int, path: str) -> None:
    """Raise EXDEV if fd is no longer below the root.

    The walk never looks up `..` in the kernel, so it can only leave the
    root if one of its open directories is renamed out of the root while
    it runs. The fd's /proc path shows where the directory is now.
    """
    root = os.readlink(f"/proc/self/fd/{root_fd}")
    where = os.readlink(f"/proc/self/fd/{fd}")
    if where != root and not where.startswith(root.rstrip("/") + "/"):
        raise OSError(errno.EXDEV, f"{path} resolved outside the root (a directory was moved during the lookup)", path)
