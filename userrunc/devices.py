"""Device nodes in the container's /dev.

Real root creates them with mknod. In a user namespace mknod of a real
device is not allowed, so the host's node is bind-mounted onto an empty
file instead, as runc and crun do.
"""

from __future__ import annotations

import os
import stat

from . import log
from .errors import UserruncError
from .linux import mountflags as mf
from .rootfs import Rootfs

# (path, major, minor): the devices every container gets (runtime-spec "Default Devices").
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
)
DEFAULT_LINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)
_TYPE_BITS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def create_defaults(rootfs: Rootfs, configured) -> None:
    """Create the default devices that linux.devices does not list itself."""
    listed = {device["path"] for device in configured}
    for path, major, minor in DEFAULT_DEVICES:
        if path in listed:
            continue
        _create(rootfs, {"path": path, "type": "c", "major": major, "minor": minor, "fileMode": 0o666, "uid": 0, "gid": 0})


def create_configured(rootfs: Rootfs, configured) -> None:
    for index, device in enumerate(configured):
        try:
            _create(rootfs, device)
        except UserruncError as error:
            raise UserruncError(f"linux.devices[{index}]: {error}") from None


def _create(rootfs: Rootfs, device: dict) -> None:
    path = os.path.normpath(device["path"])
    parent, name = os.path.split(path)
    kind = device["type"]
    mode = device.get("fileMode", 0o666) & 0o7777
    parent_fd = rootfs.make_dirs(parent)
    try:
        try:
            os.unlink(name, dir_fd=parent_fd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            raise UserruncError(f"cannot create device {path}: a directory is in the way") from None
        if rootfs.userns and kind != "p":
            _bind_from_host(rootfs, parent_fd, name, path)
        else:
            rdev = os.makedev(device.get("major", 0), device.get("minor", 0))
            try:
                os.mknod(name, _TYPE_BITS[kind] | mode, rdev, dir_fd=parent_fd)
            except OSError as error:
                raise UserruncError(f"mknod {path}: {error.strerror}") from None
            try:
                os.chmod(name, mode, dir_fd=parent_fd)
                os.chown(name, device.get("uid", 0), device.get("gid", 0), dir_fd=parent_fd)
            except OSError as error:
                raise UserruncError(f"set mode and owner of {path}: {error.strerror}") from None
    finally:
        os.close(parent_fd)


def _bind_from_host(rootfs: Rootfs, parent_fd: int, name: str, path: str) -> None:
    if not os.path.exists(path):
        raise UserruncError(
            f"device {path} does not exist on the host, and a user namespace cannot create device nodes"
        )
    placeholder = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o000, dir_fd=parent_fd)
    os.close(placeholder)
    target = rootfs.resolve(path)
    try:
        rootfs.mount(path, target, path, None, mf.MS_BIND)
    finally:
        os.close(target)


def create_links(rootfs: Rootfs) -> None:
    """Create /dev/fd, /dev/std{in,out,err}, /dev/core and the /dev/ptmx link to the devpts instance."""
    dev_fd = rootfs.make_dirs("/dev")
    try:
        links = list(DEFAULT_LINKS)
        if os.path.exists("/proc/kcore"):
            links.append(("/proc/kcore", "/dev/core"))
        for target, path in links:
            name = os.path.basename(path)
            try:
                os.symlink(target, name, dir_fd=dev_fd)
            except FileExistsError:
                pass
            except OSError as error:
                raise UserruncError(f"create symlink {path} -> {target}: {error.strerror}") from None
        try:
            os.stat("pts/ptmx", dir_fd=dev_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        try:
            os.unlink("ptmx", dir_fd=dev_fd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            log.warning("/dev/ptmx in the rootfs is a directory; leaving it")
            return
        os.symlink("pts/ptmx", "ptmx", dir_fd=dev_fd)
    finally:
        os.close(dev_fd)


def bind_console(slave_path: str) -> None:
    """Bind the container's pseudoterminal onto /dev/console (after pivot_root)."""
    from .linux import syscalls

    try:
        fd = os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        os.close(fd)
    except OSError as error:
        raise UserruncError(f"create /dev/console: {error.strerror}") from None
    try:
        syscalls.mount(slave_path, "/dev/console", None, mf.MS_BIND)
    except OSError as error:
        raise UserruncError(f"bind {slave_path} onto /dev/console: {error.strerror}") from None

