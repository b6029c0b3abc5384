"""The container's root filesystem: mounts, devices, masked paths, pivot_root.

Every path inside the rootfs is resolved by linux/resolve.py, with
openat2(RESOLVE_IN_ROOT) or a user-space walk with the same rules, so
absolute symlinks and `..` in a hostile rootfs resolve inside it, and every
mount targets the resolved file descriptor through /proc/self/fd/N. A
directory swapped for a symlink after the check therefore cannot redirect
a mount to the host.

Runs in the container init, in its new mount namespace, before pivot_root
(while the host's /proc is still visible).
"""

from __future__ import annotations

import os
import stat

from . import log
from .errors import InvalidConfig, MountError, SystemCallError, UserruncError
from .linux import mountflags as mf
from .linux import resolve, syscalls

# statvfs f_flag bits (ST_*), which differ from the MS_* values for relatime.
_ST_RDONLY = 0x1
_ST_NOSUID = 0x2
_ST_NODEV = 0x4
_ST_NOEXEC = 0x8
_ST_NOATIME = 0x400
_ST_NODIRATIME = 0x800
_ST_RELATIME = 0x1000
_ATIME_FLAGS = mf.MS_NOATIME | mf.MS_RELATIME | mf.MS_STRICTATIME | mf.MS_NODIRATIME


def fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def clean_destination(destination: str) -> str:
    """Return the destination as a normalised absolute path inside the container."""
    # normpath keeps a leading "//" (POSIX leaves its meaning open), so strip it.
    return "/" + os.path.normpath("/" + destination).lstrip("/")


class Rootfs:
    """The root filesystem being set up, with an O_PATH fd of its top directory."""

    __slots__ = ("path", "fd", "bundle", "userns", "plan", "spec", "mount_label", "deferred", "no_pivot", "idmapped_trees")

    def __init__(self, path: str, bundle: str, userns: bool, plan, spec: dict, no_pivot: bool = False, idmapped_trees=None) -> None:
        self.path = path
        # {index in mounts: fd of a tree that the parent idmapped}.
        self.idmapped_trees = idmapped_trees or {}
        self.no_pivot = no_pivot
        self.fd = -1
        self.bundle = bundle
        self.userns = userns
        self.plan = plan
        self.spec = spec
        self.mount_label = spec.get("linux", {}).get("mountLabel") if _selinux_enabled() else None
        # (O_PATH fd of a mount's root, destination, options) for finish().
        self.deferred: list = []

    # -- resolving paths inside the rootfs -------------------------------------

    def resolve(self, path: str, flags: int = syscalls.O_PATH) -> int:
        """Open a path inside the rootfs, resolving symlinks as if the rootfs were /."""
        return resolve.open_in_root(self.fd, path, flags)

    def make_dirs(self, path: str) -> int:
        """Create a directory and its parents inside the rootfs unless they exist; return an O_PATH fd of it."""
        try:
            return resolve.create_in_root(self.fd, path, "dir")
        except OSError as error:
            raise UserruncError(f"cannot create directory {path} in the rootfs: {error.strerror}") from None

    def make_file(self, path: str) -> int:
        """Create an empty file (and its parent directories) inside the rootfs unless it exists; return an O_PATH fd."""
        try:
            return resolve.create_in_root(self.fd, path, "file", 0o644)
        except OSError as error:
            raise UserruncError(f"cannot create file {path} in the rootfs: {error.strerror}") from None

    # -- mounting ---------------------------------------------------------------

    def mount(self, source, target_fd: int, destination: str, fstype, flags: int, data: str = "", hint: str = "",
              shown_source: str = "") -> None:
        """Mount onto the fd target_fd; errors name shown_source (the path behind an fd source) and destination."""
        try:
            syscalls.mount(source, fd_path(target_fd), fstype, flags, data or None)
        except OSError as error:
            raise MountError(shown_source or source or "", destination, fstype or "", flags, data, error.errno, hint) from None

    def defer_finish(self, mounted: int, destination: str, options) -> None:
        """Keep a mount's ro and recursive options for finish(), after everything beneath it exists."""
        self.deferred.append((os.dup(mounted), destination, options))

    def finish(self) -> None:
        """Make the deferred mounts read-only and apply their recursive options.

        Each mount is reached through an fd of its own root, so a later
        mount over the same destination does not receive its options.
        """
        from .mounts import set_recursive

        deferred, self.deferred = self.deferred, []
        try:
            for mounted, destination, options in deferred:
                if options.flags & mf.MS_RDONLY:
                    flags = mf.MS_BIND | mf.MS_REMOUNT | remount_flags(options.flags, 0, locked_flags(mounted), self.userns)
                    self.mount(None, mounted, destination, None, flags)
                if options.attr_set or options.attr_clear:
                    try:
                        set_recursive(mounted, options.attr_set, options.attr_clear, options.recursive_names(), self.userns)
                    except UserruncError as error:
                        raise UserruncError(f"{destination}: {error}") from None
        finally:
            for mounted, _destination, _options in deferred:
                os.close(mounted)


def _selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def locked_flags(fd: int) -> int:
    """Return the mount flags of the mount holding fd, as MS_* bits (nosuid, nodev, noexec, ro, atime)."""
    try:
        flags = os.fstatvfs(fd).f_flag
    except OSError:
        return 0
    result = 0
    for st_bit, ms_bit in (
        (_ST_RDONLY, mf.MS_RDONLY),
        (_ST_NOSUID, mf.MS_NOSUID),
        (_ST_NODEV, mf.MS_NODEV),
        (_ST_NOEXEC, mf.MS_NOEXEC),
        (_ST_NOATIME, mf.MS_NOATIME),
        (_ST_NODIRATIME, mf.MS_NODIRATIME),
        (_ST_RELATIME, mf.MS_RELATIME),
    ):
        if flags & st_bit:
            result |= ms_bit
    if not result & (mf.MS_NOATIME | mf.MS_RELATIME):
        result |= mf.MS_STRICTATIME
    return result


def remount_flags(requested: int, cleared: int, source_flags: int, userns: bool) -> int:
    """Return the flags for a bind remount, keeping the flags the kernel locks in a user namespace.

    In a user namespace, nosuid, nodev, noexec, ro and the atime mode of a
    mount that came from a more privileged namespace are locked: a remount
    that drops them fails with EPERM, so they are carried over.
    """
    flags = requested & ~(mf.MS_BIND | mf.MS_REC | mf.MS_REMOUNT)
    if not userns:
        return flags
    locked = source_flags & (mf.MS_NOSUID | mf.MS_NODEV | mf.MS_NOEXEC | mf.MS_RDONLY)
    if locked & ~flags & mf.MS_RDONLY and cleared & mf.MS_RDONLY:
        log.debug("the source mount is read-only and locked in this user namespace; the bind mount stays read-only")
    flags |= locked
    source_atime = source_flags & _ATIME_FLAGS
    if (flags & _ATIME_FLAGS) != source_atime:
        if flags & _ATIME_FLAGS:
            log.debug("the atime mode of the source mount is locked in this user namespace; keeping it")
        flags = (flags & ~_ATIME_FLAGS) | source_atime
    return flags


def prepare(rootfs: Rootfs) -> None:
    """Bind the rootfs onto itself and do every mount and device, before the hooks and pivot_root."""
    spec = rootfs.spec
    linux = spec.get("linux", {})
    propagation = linux.get("rootfsPropagation")
    if rootfs.no_pivot:
        # chroot leaves the host's mounts in the namespace, so none of them
        # may propagate anywhere; rootfsPropagation applies after chroot.
        root_flags = mf.MS_PRIVATE | mf.MS_REC
    elif propagation and "unbindable" not in propagation:
        root_flags = mf.PROPAGATION_OPTIONS[propagation] | mf.MS_REC
    else:
        # An unbindable rootfs could not be bound onto itself below, so
        # unbindable is applied in enter(), after pivot_root.
        root_flags = mf.MS_SLAVE | mf.MS_REC
    try:
        # Mount events inside the container must not reach the host.
        syscalls.mount(None, "/", None, root_flags)
    except OSError as error:
        raise MountError("", "/", "", root_flags, "", error.errno, f"linux.rootfsPropagation {propagation}") from None
    if propagation in ("shared", "rshared"):
        _make_parent_private(rootfs.path)
    try:
        syscalls.mount(rootfs.path, rootfs.path, None, mf.MS_BIND | mf.MS_REC)
    except OSError as error:
        raise MountError(rootfs.path, rootfs.path, "", mf.MS_BIND | mf.MS_REC, "", error.errno) from None
    rootfs.fd = os.open(rootfs.path, syscalls.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    # Relative paths in mount data (overlay's lowerdir, for example) are
    # relative to the bundle, as bind sources are.
    os.chdir(rootfs.bundle)

    from . import mounts

    dev_is_tmpfs = False
    for index, entry in enumerate(spec.get("mounts", ())):
        destination = clean_destination(entry["destination"])
        if destination == "/dev" and entry.get("type") not in ("bind", None) and not _is_bind(entry):
            dev_is_tmpfs = True
        mounts.mount_entry(rootfs, entry, index)

    from . import devices

    configured = linux.get("devices", ())
    if dev_is_tmpfs:
        devices.create_defaults(rootfs, configured)
    devices.create_configured(rootfs, configured)
    if dev_is_tmpfs:
        devices.create_links(rootfs)
    rootfs.finish()


def _is_bind(entry: dict) -> bool:
    options = entry.get("options") or ()
    return entry.get("type") == "bind" or "bind" in options or "rbind" in options


def _make_parent_private(path: str) -> None:
    """Make the mount that contains `path` private, because pivot_root rejects a shared parent."""
    best = "/"
    with open("/proc/self/mountinfo", "rb") as handle:
        for line in handle:
            mount_point = os.fsdecode(line.split(b" ")[4]).replace("\\040", " ")
            if (path == mount_point or path.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) > len(best):
                best = mount_point
    syscalls.mount(None, best, None, mf.MS_PRIVATE)


def mask_paths(rootfs: Rootfs, paths) -> None:
    """Hide linux.maskedPaths: an empty read-only tmpfs over directories, /dev/null over files."""
    null_fd = -1
    for path in paths:
        fd = _resolve_if_present(rootfs, path, "linux.maskedPaths")
        if fd is None:
            continue
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                rootfs.mount("tmpfs", fd, path, "tmpfs", mf.MS_RDONLY | mf.MS_NOSUID | mf.MS_NODEV | mf.MS_NOEXEC, "size=0k")
            else:
                if null_fd < 0:
                    null_fd = _open_null(rootfs)
                rootfs.mount(fd_path(null_fd), fd, path, None, mf.MS_BIND)
        finally:
            os.close(fd)
    if null_fd >= 0:
        os.close(null_fd)


def _resolve_if_present(rootfs: Rootfs, path: str, field: str):
    """Return an O_PATH fd of path in the rootfs, or None when it does not exist (masking it is then moot)."""
    try:
        return rootfs.resolve(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise UserruncError(f"{field}: cannot resolve {path}: {error.strerror}") from None


def _open_null(rootfs: Rootfs) -> int:
    """Open the container's /dev/null if it is the null device, else the host's (still visible before pivot_root)."""
    try:
        fd = rootfs.resolve("/dev/null")
    except OSError:
        return os.open("/dev/null", syscalls.O_PATH | os.O_CLOEXEC)
    info = os.fstat(fd)
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3):
        return fd
    os.close(fd)
    return os.open("/dev/null", syscalls.O_PATH | os.O_CLOEXEC)


def readonly_paths(rootfs: Rootfs, paths) -> None:
    """Make linux.readonlyPaths read-only by binding each onto itself and remounting it."""
    for path in paths:
        fd = _resolve_if_present(rootfs, path, "linux.readonlyPaths")
        if fd is None:
            continue
        try:
            rootfs.mount(fd_path(fd), fd, path, None, mf.MS_BIND | mf.MS_REC)
        finally:
            os.close(fd)
        mounted = rootfs.resolve(path)
        try:
            flags = remount_flags(mf.MS_RDONLY | mf.MS_NOSUID | mf.MS_NODEV | mf.MS_NOEXEC, 0, locked_flags(mounted), rootfs.userns)
            rootfs.mount(None, mounted, path, None, mf.MS_BIND | mf.MS_REMOUNT | mf.MS_REC | flags)
        finally:
            os.close(mounted)


def enter(rootfs: Rootfs, no_pivot: bool) -> None:
    """Make the rootfs the container's /: pivot_root, or MS_MOVE and chroot with --no-pivot."""
    if no_pivot:
        os.fchdir(rootfs.fd)
        try:
            # prepare() made every mount of the namespace private, so the
            # host's mounts left under the chroot propagate nowhere.
            syscalls.mount(rootfs.path, "/", None, mf.MS_MOVE)
            os.chroot(".")
        except OSError as error:
            raise SystemCallError(f"move {rootfs.path} to / and chroot (--no-pivot)", error.errno) from None
    else:
        old_root = os.open("/", syscalls.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fchdir(rootfs.fd)
            syscalls.pivot_root(".", ".")
            # The old root is now stacked on the new one. A mount(2) on "."
            # does not cross onto a stacked mount, so the cwd moves to the
            # old root itself: otherwise MS_SLAVE|MS_REC would reach every
            # container mount and undo their propagation options.
            os.fchdir(old_root)
            syscalls.mount(None, ".", None, mf.MS_SLAVE | mf.MS_REC)
            syscalls.umount2(".", mf.MNT_DETACH)
        except OSError as error:
            raise SystemCallError(
                f"pivot_root to {rootfs.path}", error.errno, "use --no-pivot if the rootfs is on a ramfs"
            ) from None
        finally:
            os.close(old_root)
    os.chdir("/")
    os.close(rootfs.fd)
    rootfs.fd = -1
    propagation = rootfs.spec.get("linux", {}).get("rootfsPropagation")
    if propagation:
        try:
            syscalls.mount(None, "/", None, mf.PROPAGATION_OPTIONS[propagation] | mf.MS_REC)
        except OSError as error:
            raise MountError("", "/", "", mf.PROPAGATION_OPTIONS[propagation], "", error.errno, f"linux.rootfsPropagation {propagation}") from None


def make_root_readonly(userns: bool) -> None:
    """Remount / read-only (root.readonly), keeping the flags a user namespace locks."""
    fd = os.open("/", syscalls.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        source = locked_flags(fd)
    finally:
        os.close(fd)
    flags = mf.MS_BIND | mf.MS_REMOUNT | remount_flags(mf.MS_RDONLY | (source & ~mf.MS_RDONLY), 0, source, userns)
    try:
        syscalls.mount(None, "/", None, flags)
    except OSError as error:
        raise MountError("", "/", "", flags, "", error.errno, "root.readonly") from None


def check_destination(entry: dict, index: int) -> str:
    destination = entry["destination"]
    cleaned = clean_destination(destination)
    if cleaned == "/":
        raise InvalidConfig(f"mounts[{index}].destination", "cannot mount over the container's root")
    return cleaned
