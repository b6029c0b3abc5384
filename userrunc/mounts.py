"""One OCI mount entry: bind mounts and filesystems, with their options.

Rootless containers meet kernel rules that root does not: sysfs needs a
network namespace owned by the container's user namespace, mqueue an IPC
namespace, proc a PID namespace, cgroup2 a cgroup namespace, and devpts
rejects a gid= that is not mapped. Each of those has a fallback (a bind of
the host's filesystem, or the option dropped), logged at debug level.

Every error names the entry as `mounts[N] DESTINATION`, and the option
when one option is the cause.
"""

from __future__ import annotations

import errno
import os
import stat

from . import log
from .errors import InvalidConfig, UserruncError
from .linux import mountflags as mf
from .linux import syscalls
from .rootfs import Rootfs, check_destination, fd_path, locked_flags, remount_flags

# Filesystems that reject an SELinux context= option.
_NO_LABEL_TYPES = frozenset({"proc", "sysfs", "cgroup", "cgroup2", "mqueue"})


def mount_entry(rootfs: Rootfs, entry: dict, index: int) -> None:
    """Mount one element of config.json's mounts inside the rootfs."""
    destination = check_destination(entry, index)
    fstype = entry.get("type") or ""
    options = mf.parse_options(entry.get("options"))
    is_bind = fstype == "bind" or options.is_bind
    idmap = False
    tree = rootfs.idmapped_trees.get(index)
    if options.extensions & {"idmap", "ridmap"} or entry.get("uidMappings") or entry.get("gidMappings"):
        from . import idmapped

        idmap = idmapped.check_request(entry, index, destination, options, is_bind, prepared=tree is not None)
    if "tmpcopyup" in options.extensions and fstype != "tmpfs":
        raise InvalidConfig(f"mounts[{index}].options", f"option tmpcopyup on {destination} needs type tmpfs, not {fstype or 'bind'!r}")
    if not is_bind and not fstype:
        raise InvalidConfig(f"mounts[{index}].type", f"missing filesystem type for {destination} (use \"bind\" for a bind mount)")
    try:
        if is_bind:
            _bind(rootfs, entry, destination, options, idmap, tree)
        elif options.flags & mf.MS_REMOUNT:
            _remount(rootfs, entry, destination, fstype, options)
        elif fstype in ("cgroup", "cgroup2"):
            from . import cgroupmount

            cgroupmount.mount(rootfs, destination, fstype, options)
        else:
            _filesystem(rootfs, entry, destination, fstype, options)
    except InvalidConfig:
        raise
    except UserruncError as error:
        error.message = f"mounts[{index}] {destination}: {error.message}"
        raise


def label_data(data: str, label: str | None, fstype: str) -> str:
    """Return the mount data with the SELinux context of linux.mountLabel added where the filesystem takes one."""
    # NOTE: only unit tests cover this: the test machine has no SELinux, so
    # no kernel has checked the context= option as built here.
    if not label or fstype in _NO_LABEL_TYPES:
        return data
    context = f'context="{label}"'
    return f"{data},{context}" if data else context


def _filesystem(rootfs: Rootfs, entry: dict, destination: str, fstype: str, options) -> None:
    target = rootfs.make_dirs(destination)
    underlying = -1
    try:
        if "tmpcopyup" in options.extensions:
            underlying = rootfs.resolve(destination, os.O_RDONLY | os.O_DIRECTORY)
        data = label_data(",".join(options.data), rootfs.mount_label, fstype)
        source = entry.get("source") or fstype
        flags = options.flags & ~mf.MS_REMOUNT
        # A tmpfs and /dev stay writable until every mount, device and
        # copied file is in place beneath them; Rootfs.finish() then makes
        # them read-only.
        defer = fstype == "tmpfs" or destination == "/dev"
        if defer:
            flags &= ~mf.MS_RDONLY
        try:
            rootfs.mount(source, target, destination, fstype, flags, data)
        except UserruncError as error:
            if not _retry_rootless(rootfs, error, entry, target, destination, fstype, flags, options):
                raise
        mounted = rootfs.resolve(destination)
        try:
            if underlying >= 0:
                from .copyup import copy_up

                copy_up(underlying, mounted, destination)
            _apply_after_mount(rootfs, mounted, destination, options, defer)
        finally:
            os.close(mounted)
    finally:
        os.close(target)
        if underlying >= 0:
            os.close(underlying)


def _remount(rootfs: Rootfs, entry: dict, destination: str, fstype: str, options) -> None:
    """Change the options of the mount already at the destination (option remount), as mount -o remount does."""
    try:
        mounted = rootfs.resolve(destination)
    except OSError as error:
        raise UserruncError(f"option remount: cannot open the destination: {error.strerror}") from None
    try:
        data = label_data(",".join(options.data), rootfs.mount_label, fstype)
        hint = "option remount changes a mount made by an earlier entry; the destination must be a mount point"
        rootfs.mount(entry.get("source"), mounted, destination, fstype, options.flags, data, hint)
        _apply_after_mount(rootfs, mounted, destination, options, False)
    finally:
        os.close(mounted)


def _retry_rootless(rootfs: Rootfs, error, entry, target, destination, fstype, flags, options) -> bool:
    """Apply the user-namespace fallbacks; return False when none applies."""
    if not rootfs.userns:
        return False
    if fstype == "sysfs" and error.errno == errno.EPERM:
        log.debug(f"sysfs cannot be mounted on {destination} without a network namespace owned by the user namespace; binding the host's /sys")
        bind_host(rootfs, "/sys", target, destination, flags)
        return True
    if fstype == "mqueue" and error.errno == errno.EPERM:
        log.debug(f"mqueue cannot be mounted on {destination} without an IPC namespace owned by the user namespace; binding the host's /dev/mqueue")
        bind_host(rootfs, "/dev/mqueue", target, destination, flags)
        return True
    if fstype == "proc" and error.errno == errno.EPERM and not rootfs.plan.is_new("pid"):
        log.debug(f"proc cannot be mounted on {destination} without a PID namespace owned by the user namespace; binding the host's /proc")
        bind_host(rootfs, "/proc", target, destination, flags)
        return True
    if fstype == "devpts" and error.errno == errno.EINVAL and any(item.startswith("gid=") for item in options.data):
        kept = ",".join(item for item in options.data if not item.startswith("gid="))
        log.debug(f"devpts on {destination}: the gid= option names a group that is not mapped; mounting without it")
        rootfs.mount(entry.get("source") or "devpts", target, destination, "devpts", flags, label_data(kept, rootfs.mount_label, fstype))
        return True
    return False


def bind_host(rootfs: Rootfs, host_path: str, target: int, destination: str, flags: int) -> None:
    """Bind a host tree recursively onto target, with nosuid, nodev, noexec and the requested ro on every mount."""
    rootfs.mount(host_path, target, destination, None, mf.MS_BIND | mf.MS_REC)
    mounted = rootfs.resolve(destination)
    try:
        attr = flags_to_attr(flags | mf.MS_NOSUID | mf.MS_NODEV | mf.MS_NOEXEC)
        set_recursive(mounted, attr, 0, "")
    finally:
        os.close(mounted)


def flags_to_attr(flags: int) -> int:
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


def set_recursive(fd: int, attr_set: int, attr_clear: int, names: str, userns: bool = False) -> None:
    """Apply mount attributes to the mount at fd and every mount below it (mount_setattr with AT_RECURSIVE).

    In a user namespace, attributes that the kernel locks on a mount from
    a more privileged namespace are kept as they are, as with remount.
    """
    try:
        syscalls.mount_setattr(fd, "", syscalls.AT_EMPTY_PATH | syscalls.AT_RECURSIVE, attr_set, attr_clear)
        return
    except OSError as error:
        failure = error
    if failure.errno == errno.EPERM and userns:
        kept_set, kept_clear = _without_locked(fd, attr_set, attr_clear)
        if (kept_set, kept_clear) != (attr_set, attr_clear):
            log.debug(f"option {names}: keeping the attributes locked on the source mount in this user namespace")
            try:
                syscalls.mount_setattr(fd, "", syscalls.AT_EMPTY_PATH | syscalls.AT_RECURSIVE, kept_set, kept_clear)
                return
            except OSError as error:
                failure = error
    what = f"option {names}" if names else "recursive mount attributes"
    detail = " (this kernel has no mount_setattr; Linux 5.12 or newer is needed)" if failure.errno == errno.ENOSYS else ""
    raise UserruncError(f"{what}: mount_setattr failed: {failure.strerror}{detail}")


def _without_locked(fd: int, attr_set: int, attr_clear: int) -> tuple[int, int]:
    """Drop the changes a user namespace may not make: clearing ro, nosuid, nodev, noexec, or the atime mode."""
    source = flags_to_attr(locked_flags(fd))
    attr_clear &= ~source | mf.MOUNT_ATTR__ATIME | mf.MOUNT_ATTR_NODIRATIME
    atime_bits = mf.MOUNT_ATTR__ATIME | mf.MOUNT_ATTR_NODIRATIME
    if attr_clear & atime_bits or attr_set & atime_bits:
        attr_clear &= ~atime_bits
        attr_set &= ~atime_bits
    return attr_set, attr_clear


def _bind(rootfs: Rootfs, entry: dict, destination: str, options, idmap: bool, tree=None) -> None:
    source = entry.get("source")
    if not source:
        raise UserruncError("a bind mount needs a source")
    if not os.path.isabs(source):
        source = os.path.join(rootfs.bundle, source)
    try:
        source_fd = os.open(source, syscalls.O_PATH | os.O_CLOEXEC)
    except OSError as error:
        raise UserruncError(f"bind source {source}: {error.strerror}") from None
    try:
        is_dir = stat.S_ISDIR(os.fstat(source_fd).st_mode)
        target = rootfs.make_dirs(destination) if is_dir else rootfs.make_file(destination)
        recursive = bool(options.flags & mf.MS_REC)
        try:
            if tree is not None:
                from . import idmapped

                idmapped.attach(tree, target, "ridmap" if "ridmap" in options.extensions else "idmap")
            elif idmap:
                from . import idmapped

                idmapped.bind(source_fd, target, entry, options, recursive)
            else:
                rootfs.mount(
                    fd_path(source_fd), target, destination, None, mf.MS_BIND | (mf.MS_REC if recursive else 0), shown_source=source
                )
        finally:
            os.close(target)
        mounted = rootfs.resolve(destination)
        try:
            extra = options.flags & ~(mf.MS_BIND | mf.MS_REC | mf.MS_REMOUNT)
            if extra or (rootfs.userns and options.cleared):
                # A bind mount takes the source's flags; other flags need a
                # remount of the new mount.
                flags = remount_flags(extra, options.cleared, locked_flags(mounted), rootfs.userns)
                rootfs.mount(None, mounted, destination, None, mf.MS_BIND | mf.MS_REMOUNT | flags)
            _apply_after_mount(rootfs, mounted, destination, options, False)
        finally:
            os.close(mounted)
    finally:
        os.close(source_fd)


def _apply_after_mount(rootfs: Rootfs, mounted: int, destination: str, options, defer: bool) -> None:
    """Apply the propagation options, and ro and the recursive options now or, with defer, in Rootfs.finish()."""
    for flag in options.propagation:
        rootfs.mount(None, mounted, destination, None, flag)
    if defer:
        if options.flags & mf.MS_RDONLY or options.attr_set or options.attr_clear:
            rootfs.defer_finish(mounted, destination, options)
    elif options.attr_set or options.attr_clear:
        set_recursive(mounted, options.attr_set, options.attr_clear, options.recursive_names(), rootfs.userns)
