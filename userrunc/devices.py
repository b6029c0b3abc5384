"""Device nodes in the container's /dev.

Real root creates them with mknod. In a user namespace mknod of a real
device is not allowed, so the host's node is bind-mounted onto an empty
file instead, as runc and crun do.
"""

from __future__ import annotations

import errno
import os
import stat

from . import log
from .errors import UserruncError
from .linux import mountflags as mf
from .linux import syscalls
from .rootfs import Rootfs, fd_path

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
    listed = {os.path.normpath(device["path"]) for device in configured}
    for path, major, minor in DEFAULT_DEVICES:
        if path in listed:
            continue
        try:
            _create(rootfs, {"path": path, "type": "c", "major": major, "minor": minor, "fileMode": 0o666, "uid": 0, "gid": 0})
        except UserruncError as error:
            raise UserruncError(f"default device {path}: {error}") from None


def create_configured(rootfs: Rootfs, configured) -> None:
    """Create linux.devices; when a path is listed twice, the last entry wins."""
    last = {os.path.normpath(device["path"]): index for index, device in enumerate(configured)}
    for index, device in enumerate(configured):
        if last[os.path.normpath(device["path"])] != index:
            log.debug(f"linux.devices[{index}]: {device['path']} is listed again later; the later entry is used")
            continue
        try:
            _create(rootfs, device)
        except UserruncError as error:
            raise UserruncError(f"linux.devices[{index}] {device['path']}: {error}") from None


def _create(rootfs: Rootfs, device: dict) -> None:
    path = os.path.normpath(device["path"])
    if not path.startswith("/dev/"):
        raise UserruncError(f"the path is {path} once normalised, which is not under /dev")
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
            raise UserruncError("a directory is in the way") from None
        except OSError as error:
            if error.errno == errno.EBUSY:
                # A mount from config.json is there, such as podman's bind of the
                # host's node. It stays, as with runc.
                log.debug(f"{path} is a mount point; the device is not created over it", path=path)
                return
            raise UserruncError(f"cannot replace the existing file: {error.strerror}") from None
        if rootfs.userns and kind != "p":
            _bind_from_host(rootfs, parent_fd, name, path, device)
            return
        rdev = os.makedev(device.get("major", 0), device.get("minor", 0))
        try:
            os.mknod(name, _TYPE_BITS[kind] | mode, rdev, dir_fd=parent_fd)
        except OSError as error:
            raise UserruncError(f"mknod failed: {error.strerror}") from None
        node = os.open(name, syscalls.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        try:
            # chmod through the fd, because the umask trimmed the mode given
            # to mknod, and a path lookup could meet a symlink put there since.
            os.chmod(fd_path(node), mode)
            os.chown(fd_path(node), device.get("uid", 0), device.get("gid", 0))
        except OSError as error:
            raise UserruncError(f"cannot set mode and owner: {error.strerror}") from None
        finally:
            os.close(node)
    finally:
        os.close(parent_fd)


def _bind_from_host(rootfs: Rootfs, parent_fd: int, name: str, path: str, device: dict) -> None:
    """Bind the host's node at the same path; a user namespace may not mknod a device.

    The node keeps the host's mode and owner: changing them would change
    the host's file.
    """
    kind = device["type"]
    wanted = f"{kind} {device.get('major', 0)}:{device.get('minor', 0)}"
    try:
        host = os.open(path, syscalls.O_PATH | os.O_CLOEXEC)
    except OSError as error:
        raise UserruncError(
            f"the host has no {path} ({error.strerror}), and a user namespace cannot create device nodes"
        ) from None
    try:
        info = os.fstat(host)
        if stat.S_ISBLK(info.st_mode):
            found_type = "b"
        elif stat.S_ISCHR(info.st_mode):
            found_type = "c"
        else:
            found_type = None
        found = f"{found_type} {os.major(info.st_rdev)}:{os.minor(info.st_rdev)}" if found_type else "not a device"
        wanted_type = "b" if kind == "b" else "c"
        if found_type != wanted_type or found.split()[1] != wanted.split()[1]:
            raise UserruncError(
                f"the config asks for {wanted}, but the host's {path} is {found}; without root the host's node "
                "at the same path is bind-mounted, so the two must match"
            )
        placeholder = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o000, dir_fd=parent_fd)
        os.close(placeholder)
        target = os.open(name, syscalls.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        try:
            rootfs.mount(fd_path(host), target, path, None, mf.MS_BIND, shown_source=path)
        finally:
            os.close(target)
    finally:
        os.close(host)


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
    try:
        fd = os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        os.close(fd)
    except OSError as error:
        raise UserruncError(f"create /dev/console: {error.strerror}") from None
    try:
        syscalls.mount(slave_path, "/dev/console", None, mf.MS_BIND)
    except OSError as error:
        raise UserruncError(f"bind {slave_path} onto /dev/console: {error.strerror}") from None

