"""System calls that Python 3.11's os module lacks, through ctypes.

Each wrapper raises OSError with the errno, like the os module, so callers
can add the value that failed (the path, the flags) to their own error.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

_MACHINE = os.uname().machine
# Syscalls added before the numbers were unified across architectures.
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}.get(_MACHINE, 155)
# Numbers from Linux 5.2 on are the same on every architecture.
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_FSOPEN = 430
SYS_FSCONFIG = 431
SYS_FSMOUNT = 432
SYS_CLOSE_RANGE = 436
SYS_OPENAT2 = 437
SYS_MOUNT_SETATTR = 442

_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_libc.setdomainname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, *context) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), *context)
    return result


def _encode(value) -> bytes | None:
    if value is None:
        return None
    return os.fsencode(value)


def mount(source, target, fstype, flags: int = 0, data=None) -> None:
    _check(_libc.mount(_encode(source), _encode(target), _encode(fstype), flags, _encode(data)), target)


def umount2(target, flags: int = 0) -> None:
    _check(_libc.umount2(_encode(target), flags), target)


def pivot_root(new_root, put_old) -> None:
    _check(
        _libc.syscall(ctypes.c_long(_PIVOT_ROOT), ctypes.c_char_p(_encode(new_root)), ctypes.c_char_p(_encode(put_old))),
        new_root,
    )


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags))


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype))


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)))


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5))


PROC_SUPER_MAGIC = 0x9FA0


def fstatfs_type(fd: int) -> int:
    """Return f_type of the filesystem that fd is on (struct statfs starts with it, a long on Linux)."""
    buffer = ctypes.create_string_buffer(256)
    _check(_libc.fstatfs(fd, buffer))
    return ctypes.c_long.from_buffer(buffer).value


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    _check(_libc.syscall(ctypes.c_long(SYS_CLOSE_RANGE), ctypes.c_uint(first), ctypes.c_uint(last), ctypes.c_uint(flags)))


class OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))


RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
O_PATH = 0o10000000


def openat2(dirfd: int, path, flags: int, mode: int = 0, resolve: int = 0) -> int:
    how = OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    return _check(
        _libc.syscall(
            ctypes.c_long(SYS_OPENAT2),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(_encode(path)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        ),
        path,
    )


class MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40


def mount_setattr(dirfd: int, path, flags: int, attr_set: int = 0, attr_clr: int = 0, propagation: int = 0, userns_fd: int = 0) -> None:
    attr = MountAttr(attr_set, attr_clr, propagation, userns_fd)
    _check(
        _libc.syscall(
            ctypes.c_long(SYS_MOUNT_SETATTR),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(_encode(path)),
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        path,
    )


def open_tree(dirfd: int, path, flags: int) -> int:
    return _check(
        _libc.syscall(ctypes.c_long(SYS_OPEN_TREE), ctypes.c_int(dirfd), ctypes.c_char_p(_encode(path)), ctypes.c_uint(flags)),
        path,
    )


def move_mount(from_dirfd: int, from_path, to_dirfd: int, to_path, flags: int) -> None:
    _check(
        _libc.syscall(
            ctypes.c_long(SYS_MOVE_MOUNT),
            ctypes.c_int(from_dirfd),
            ctypes.c_char_p(_encode(from_path)),
            ctypes.c_int(to_dirfd),
            ctypes.c_char_p(_encode(to_path)),
            ctypes.c_uint(flags),
        ),
        to_path,
    )
