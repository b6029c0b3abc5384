"""Idmapped bind mounts: the `idmap` and `ridmap` options, with a mount's uidMappings and gidMappings.

The kernel (5.12 and later) shifts the owners seen through a mount by a
user namespace given to mount_setattr(MOUNT_ATTR_IDMAP), on a detached
copy of the source made by open_tree(OPEN_TREE_CLONE). The mapping
namespace is made by a short-lived child of the init, whose maps the init
writes. An id a file has on disk is a containerID of the mapping, and the
file shows the matching hostID, as in linux.uidMappings. The mappings
are required: the container's own user namespace cannot serve, because
the kernel rejects an idmapping equal to the filesystem's.

The kernel allows this only to a caller with CAP_SYS_ADMIN in the user
namespace that owns the filesystem: real root outside a user namespace,
or a container on a filesystem its own user namespace mounted (a tmpfs
made by an earlier mount entry, for example).

So when real root runs a container with a user namespace, the parent
builds these trees itself, outside that namespace (prepare_trees), after
the namespace is mapped, and sends them to the init over the init pipe.
There a mount without its own mappings takes the container's user
namespace, which is the usual way to share host files with a container
whose ids are shifted.
"""

from __future__ import annotations

import errno
import os

from .errors import InvalidConfig, UserruncError
from .linux import mountflags as mf
from .linux import syscalls

_PR_SET_DUMPABLE = 4

def requested(entry: dict, options) -> bool:
    return bool(options.extensions & {"idmap", "ridmap"}) or bool(entry.get("uidMappings")) or bool(entry.get("gidMappings"))


def check_request(entry: dict, index: int, destination: str, options, is_bind: bool, prepared: bool = False) -> bool:
    """Return True when the entry requests an idmapped mount; raise InvalidConfig for an invalid combination.

    `prepared` is True when the parent built the tree, which also allows a
    mount without mappings of its own.
    """
    has_uids = bool(entry.get("uidMappings"))
    has_gids = bool(entry.get("gidMappings"))
    requested_here = bool(options.extensions & {"idmap", "ridmap"}) or has_uids or has_gids
    if not requested_here:
        return False
    option = "ridmap" if "ridmap" in options.extensions else "idmap"
    if has_uids != has_gids:
        missing = "gidMappings" if has_uids else "uidMappings"
        raise InvalidConfig(
            f"mounts[{index}].{missing}", f"missing for {destination}: an idmapped mount needs both uidMappings and gidMappings"
        )
    if not has_uids and not prepared:
        # The init runs inside the container's user namespace, and the
        # kernel rejects an idmapping equal to the filesystem's own. So only
        # the parent can use the container's namespace (see prepare_trees).
        # It does so when real root runs a container with a user namespace.
        raise InvalidConfig(
            f"mounts[{index}].uidMappings",
            f"missing for {destination}: option {option} needs the mount's own uidMappings and gidMappings",
        )
    if not is_bind:
        raise InvalidConfig(
            f"mounts[{index}].options",
            f"option {option} on {destination} needs a bind mount (type {entry.get('type')!r} cannot be idmapped here)",
        )
    return True


def bind(source_fd: int, target_fd: int, entry: dict, options, recursive: bool) -> None:
    """Bind source_fd onto target_fd through an idmapped detached tree."""
    option = "ridmap" if "ridmap" in options.extensions else "idmap"
    flags = syscalls.OPEN_TREE_CLONE | syscalls.OPEN_TREE_CLOEXEC | syscalls.AT_EMPTY_PATH
    if recursive:
        flags |= syscalls.AT_RECURSIVE
    try:
        tree = syscalls.open_tree(source_fd, "", flags)
    except OSError as error:
        raise UserruncError(f"option {option}: open_tree of the source failed: {error.strerror}") from None
    try:
        try:
            userns_fd = _mapping_namespace(entry)
        except UserruncError as error:
            raise UserruncError(f"option {option}: {error}") from None
        try:
            setattr_flags = syscalls.AT_EMPTY_PATH | (syscalls.AT_RECURSIVE if option == "ridmap" else 0)
            syscalls.mount_setattr(tree, "", setattr_flags, mf.MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
        except OSError as error:
            raise UserruncError(f"option {option}: mount_setattr(MOUNT_ATTR_IDMAP) failed: {error.strerror} ({_explain(error.errno, entry)})") from None
        finally:
            os.close(userns_fd)
        try:
            syscalls.move_mount(tree, "", target_fd, "", syscalls.MOVE_MOUNT_F_EMPTY_PATH | syscalls.MOVE_MOUNT_T_EMPTY_PATH)
        except OSError as error:
            raise UserruncError(f"option {option}: move_mount of the idmapped tree failed: {error.strerror}") from None
    finally:
        os.close(tree)


def attach(tree: int, target_fd: int, option: str) -> None:
    """Move a tree that the parent idmapped onto target_fd."""
    try:
        syscalls.move_mount(tree, "", target_fd, "", syscalls.MOVE_MOUNT_F_EMPTY_PATH | syscalls.MOVE_MOUNT_T_EMPTY_PATH)
    except OSError as error:
        raise UserruncError(f"option {option}: move_mount of the idmapped tree failed: {error.strerror}") from None


def parent_entries(spec: dict) -> list[int]:
    """Return the indices of the bind mounts with an idmap request, for prepare_trees."""
    indices = []
    for index, entry in enumerate(spec.get("mounts") or ()):
        options = mf.parse_options(entry.get("options"))
        is_bind = entry.get("type") == "bind" or options.is_bind
        if is_bind and requested(entry, options):
            indices.append(index)
    return indices


def prepare_trees(spec: dict, bundle: str, indices: list[int], container_userns_fd: int) -> dict[int, int]:
    """Build idmapped detached trees for mounts[i], i in indices; return {index: tree fd}.

    Runs in the parent, in the host's user namespace. A mount with its own
    uidMappings and gidMappings gets a new user namespace with them, whose
    hostIDs are host ids here. A mount without them gets the container's.
    """
    trees: dict[int, int] = {}
    try:
        for index in indices:
            entry = spec["mounts"][index]
            options = mf.parse_options(entry.get("options"))
            option = "ridmap" if "ridmap" in options.extensions else "idmap"
            destination = entry["destination"]
            source = entry.get("source") or ""
            if not os.path.isabs(source):
                source = os.path.join(bundle, source)
            flags = syscalls.OPEN_TREE_CLONE | syscalls.OPEN_TREE_CLOEXEC
            if options.flags & mf.MS_REC:
                flags |= syscalls.AT_RECURSIVE
            try:
                tree = syscalls.open_tree(-100, source, flags)
            except OSError as error:
                raise UserruncError(f"mounts[{index}] {destination}: option {option}: cannot open {source}: {error.strerror}") from None
            trees[index] = tree
            if entry.get("uidMappings"):
                userns_fd = _new_namespace(
                    translate(entry["uidMappings"], _own_map("uid_map"), "uid"),
                    translate(entry["gidMappings"], _own_map("gid_map"), "gid"),
                )
            else:
                userns_fd = os.dup(container_userns_fd)
            try:
                setattr_flags = syscalls.AT_EMPTY_PATH | (syscalls.AT_RECURSIVE if option == "ridmap" else 0)
                syscalls.mount_setattr(tree, "", setattr_flags, mf.MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
            except OSError as error:
                raise UserruncError(
                    f"mounts[{index}] {destination}: option {option}: mount_setattr(MOUNT_ATTR_IDMAP) failed: "
                    f"{error.strerror} ({_explain(error.errno, entry)})"
                ) from None
            finally:
                os.close(userns_fd)
    except BaseException:
        for tree in trees.values():
            os.close(tree)
        raise
    return trees


def _explain(number: int, entry: dict) -> str:
    if number == errno.EPERM:
        return (
            f"{entry.get('source')} is on a filesystem that belongs to another user namespace, or is idmapped already; "
            "a filesystem of the host can be idmapped only by real root without a user namespace"
        )
    if number == errno.EINVAL:
        return (
            f"the filesystem of {entry.get('source')} does not support idmapped mounts, "
            "or the mappings equal the filesystem's own"
        )
    if number == errno.ENOSYS:
        return "this kernel has no mount_setattr; Linux 5.12 or newer is needed"
    return "the kernel rejected the idmapped mount"


def _mapping_namespace(entry: dict) -> int:
    """Return an fd of a new user namespace with the mount's mappings."""
    uid_lines = translate(entry["uidMappings"], _own_map("uid_map"), "uid")
    gid_lines = translate(entry["gidMappings"], _own_map("gid_map"), "gid")
    return _new_namespace(uid_lines, gid_lines)


def _own_map(name: str) -> list[tuple[int, int, int]]:
    """Return this process's id map as (inside, outside, size) triples; identity outside a user namespace."""
    with open(f"/proc/self/{name}") as handle:
        return [tuple(int(field) for field in line.split()) for line in handle if line.strip()]


def translate(mappings: list[dict], own_map: list[tuple[int, int, int]], kind: str) -> str:
    """Return map lines that give the mount's mappings in terms of the caller's user namespace.

    hostID values name ids of the host (the namespace of the runtime's
    caller). A map written from inside the container's user namespace
    names its outside ids in that namespace, so each host range is found
    in own_map and may split where own_map's ranges end.
    """
    lines = []
    for mapping in mappings:
        inside = mapping["containerID"]
        host = mapping["hostID"]
        left = mapping["size"]
        while left:
            for own_inside, own_outside, own_size in own_map:
                if own_outside <= host < own_outside + own_size:
                    count = min(left, own_outside + own_size - host)
                    lines.append(f"{inside} {own_inside + host - own_outside} {count}\n")
                    inside += count
                    host += count
                    left -= count
                    break
            else:
                raise UserruncError(f"{kind}Mappings: host {kind} {host} is not mapped in the container's user namespace")
    return "".join(lines)


def _new_namespace(uid_lines: str, gid_lines: str) -> int:
    """Create a user namespace with the given maps in a child process and return an fd of it."""
    ready_read, ready_write = os.pipe2(os.O_CLOEXEC)
    hold_read, hold_write = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            os.close(ready_read)
            os.close(hold_write)
            # The init is not dumpable, so its /proc files belong to the
            # host's root, which the user namespace cannot open. The init
            # writes this child's maps, so the child must be dumpable.
            syscalls.prctl(_PR_SET_DUMPABLE, 1)
            syscalls.unshare(syscalls.CLONE_NEWUSER)
            # /proc is still the host's, which names this process by its
            # PID in the host's PID namespace, not by the one fork returned.
            os.write(ready_write, os.readlink("/proc/self").encode())
            # Stay alive until the parent has opened the namespace.
            os.read(hold_read, 1)
        except BaseException:  # noqa: BLE001 - a forked child must never return
            status = 1
        os._exit(status)
    os.close(ready_write)
    os.close(hold_read)
    try:
        proc_pid = os.read(ready_read, 32).decode()
        if not proc_pid:
            raise UserruncError("cannot create a user namespace for the idmapped mount")
        for name, lines in (("uid_map", uid_lines), ("setgroups", "deny"), ("gid_map", gid_lines)):
            try:
                with open(f"/proc/{proc_pid}/{name}", "w") as handle:
                    handle.write(lines)
            except OSError as error:
                raise UserruncError(f"cannot write {name} of the idmapped mount's user namespace: {error.strerror}") from None
        return os.open(f"/proc/{proc_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_read)
        os.close(hold_write)
        os.waitpid(pid, 0)
