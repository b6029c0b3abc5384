"""One OCI mount entry: bind mounts and filesystems, with their options.

Rootless containers meet kernel rules that root does not: sysfs needs a
network namespace owned by the container's user namespace, mqueue an IPC
namespace, cgroup2 a cgroup namespace, and devpts rejects a gid= that is
not mapped. Each of those has the fallback that runc or crun uses (a bind
of the host's filesystem, or the option dropped), logged at debug level.
"""

from __future__ import annotations

import errno
import os
import stat

from . import log
from .errors import InvalidConfig, MountError, UserruncError
from .linux import mountflags as mf
from .linux import syscalls
from .rootfs import Rootfs, check_destination, fd_path, locked_flags, remount_flags


def mount_entry(rootfs: Rootfs, entry: dict, index: int) -> None:
    """Mount one element of config.json's mounts inside the rootfs."""
    destination = check_destination(entry, index)
    fstype = entry.get("type") or ""
    options = mf.parse_options(entry.get("options"))
    if options.extensions & {"idmap", "ridmap"} or entry.get("uidMappings") or entry.get("gidMappings"):
        # TODO: idmapped mounts (mount_setattr with MOUNT_ATTR_IDMAP and a user namespace fd).
        raise InvalidConfig(f"mounts[{index}]", f"idmapped mounts ({destination}) are not supported yet")
    if fstype == "bind" or options.is_bind:
        _bind(rootfs, entry, index, destination, options)
        return
    if not fstype:
        raise InvalidConfig(f"mounts[{index}].type", f"missing filesystem type for {destination} (use \"bind\" for a bind mount)")
    if fstype in ("cgroup", "cgroup2"):
        _cgroup(rootfs, entry, index, destination, fstype, options)
        return
    target = rootfs.make_dirs(destination)
    underlying = rootfs.resolve(destination, os.O_RDONLY | os.O_DIRECTORY) if "tmpcopyup" in options.extensions else -1
    try:
        data = ",".join(options.data)
        if rootfs.mount_label and fstype not in ("proc", "sysfs", "cgroup", "cgroup2"):
            data = ",".join(filter(None, (data, f'context="{rootfs.mount_label}"')))
        source = entry.get("source") or fstype
        flags = options.flags & ~mf.MS_REMOUNT
        try:
            rootfs.mount(source, target, destination, fstype, flags, data)
        except MountError as error:
            if not _retry_rootless(rootfs, error, entry, target, destination, fstype, flags, data, options):
                raise
        if underlying >= 0:
            _copy_up(rootfs, underlying, destination)
    finally:
        os.close(target)
        if underlying >= 0:
            os.close(underlying)
    _apply_after_mount(rootfs, destination, options)


def _retry_rootless(rootfs, error, entry, target, destination, fstype, flags, data, options) -> bool:
    """Apply the user-namespace fallbacks; return False when none applies."""
    if not rootfs.userns:
        return False
    if fstype == "sysfs" and error.errno == errno.EPERM:
        log.debug(f"sysfs cannot be mounted on {destination} without a network namespace owned by the user namespace; binding the host's /sys")
        _bind_host(rootfs, "/sys", target, destination, flags)
        return True
    if fstype == "mqueue" and error.errno == errno.EPERM:
        log.debug(f"mqueue cannot be mounted on {destination} without an IPC namespace owned by the user namespace; binding the host's /dev/mqueue")
        _bind_host(rootfs, "/dev/mqueue", target, destination, flags)
        return True
    if fstype == "devpts" and error.errno == errno.EINVAL and any(item.startswith("gid=") for item in options.data):
        kept = ",".join(item for item in options.data if not item.startswith("gid="))
        log.debug(f"devpts on {destination}: the gid= option names a group that is not mapped; mounting without it")
        rootfs.mount(entry.get("source") or "devpts", target, destination, "devpts", flags, kept)
        return True
    return False


def _bind_host(rootfs: Rootfs, host_path: str, target: int, destination: str, flags: int) -> None:
    rootfs.mount(host_path, target, destination, None, mf.MS_BIND | mf.MS_REC)
    mounted = rootfs.resolve(destination)
    try:
        attr = _flags_to_attr(flags | mf.MS_NOSUID | mf.MS_NODEV | mf.MS_NOEXEC)
        _set_recursive(mounted, destination, attr, 0)
    finally:
        os.close(mounted)


def _flags_to_attr(flags: int) -> int:
    attr = 0
    for flag, bit in (
        (mf.MS_RDONLY, mf.MOUNT_ATTR_RDONLY),
        (mf.MS_NOSUID, mf.MOUNT_ATTR_NOSUID),
        (mf.MS_NODEV, mf.MOUNT_ATTR_NODEV),
        (mf.MS_NOEXEC, mf.MOUNT_ATTR_NOEXEC),
    ):
        if flags & flag:
            attr |= bit
    return attr


def _set_recursive(fd: int, destination: str, attr_set: int, attr_clear: int) -> None:
    try:
        syscalls.mount_setattr(fd, "", syscalls.AT_EMPTY_PATH | syscalls.AT_RECURSIVE, attr_set, attr_clear)
    except OSError as error:
        raise UserruncError(
            f"mount_setattr on {destination} (recursive mount options): {error.strerror}"
        ) from None


def _bind(rootfs: Rootfs, entry: dict, index: int, destination: str, options) -> None:
    source = entry.get("source")
    if not source:
        raise InvalidConfig(f"mounts[{index}].source", f"a bind mount on {destination} needs a source")
    if not os.path.isabs(source):
        source = os.path.join(rootfs.bundle, source)
    try:
        source_fd = os.open(source, syscalls.O_PATH | os.O_CLOEXEC)
    except OSError as error:
        raise UserruncError(f"mounts[{index}]: bind source {source} for {destination}: {error.strerror}") from None
    try:
        is_dir = stat.S_ISDIR(os.fstat(source_fd).st_mode)
        target = rootfs.make_dirs(destination) if is_dir else rootfs.make_file(destination)
        try:
            recursive = mf.MS_REC if options.flags & mf.MS_REC else 0
            rootfs.mount(fd_path(source_fd), target, destination, None, mf.MS_BIND | recursive)
        finally:
            os.close(target)
        extra = options.flags & ~(mf.MS_BIND | mf.MS_REC | mf.MS_REMOUNT)
        if extra or (rootfs.userns and options.cleared):
            mounted = rootfs.resolve(destination)
            try:
                flags = remount_flags(extra, options.cleared, locked_flags(source_fd), rootfs.userns)
                rootfs.mount(None, mounted, destination, None, mf.MS_BIND | mf.MS_REMOUNT | flags)
            finally:
                os.close(mounted)
    finally:
        os.close(source_fd)
    _apply_after_mount(rootfs, destination, options)


def _apply_after_mount(rootfs: Rootfs, destination: str, options) -> None:
    if not options.propagation and not (options.attr_set or options.attr_clear):
        return
    mounted = rootfs.resolve(destination)
    try:
        for flag in options.propagation:
            rootfs.mount(None, mounted, destination, None, flag)
        if options.attr_set or options.attr_clear:
            _set_recursive(mounted, destination, options.attr_set, options.attr_clear)
    finally:
        os.close(mounted)


def _host_cgroup_is_v2() -> bool:
    """Return True when the host mounts the unified (v2) hierarchy alone on /sys/fs/cgroup."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _cgroup(rootfs: Rootfs, entry: dict, index: int, destination: str, fstype: str, options) -> None:
    """Mount cgroup2 where the container owns a cgroup namespace, else bind the host's tree read-only.

    cgroup v1 hierarchies cannot be mounted afresh in a user namespace; a
    recursive read-only bind shows the same files without letting the
    container change them.
    """
    target = rootfs.make_dirs(destination)
    flags = options.flags & ~mf.MS_REMOUNT
    try:
        own_cgroupns = rootfs.plan.is_new("cgroup")
        if fstype == "cgroup2" or (_host_cgroup_is_v2() and (own_cgroupns or not rootfs.userns)):
            try:
                rootfs.mount("cgroup2", target, destination, "cgroup2", flags, ",".join(options.data))
                return
            except MountError as error:
                if not (rootfs.userns and error.errno == errno.EPERM):
                    raise
                log.debug(f"cgroup2 cannot be mounted on {destination} in this user namespace; binding the host's tree")
        # TODO: mount the v1 hierarchies one by one (with the container's cgroup as root) when running as real root.
        _bind_host(rootfs, "/sys/fs/cgroup", target, destination, flags)
    finally:
        os.close(target)


def _copy_up(rootfs: Rootfs, underlying: int, destination: str) -> None:
    """Fill a new tmpfs with what the directory under it contained (the tmpcopyup option)."""
    mounted = rootfs.resolve(destination, os.O_RDONLY | os.O_DIRECTORY)
    try:
        info = os.fstat(underlying)
        os.fchmod(mounted, stat.S_IMODE(info.st_mode))
        try:
            os.fchown(mounted, info.st_uid, info.st_gid)
        except OSError as error:
            log.debug(f"tmpcopyup: cannot set the owner of {destination}: {error.strerror}")
        _copy_tree(underlying, mounted)
    except OSError as error:
        raise UserruncError(f"tmpcopyup on {destination}: {error.strerror} ({error.filename or 'copying'})") from None
    finally:
        os.close(mounted)


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
