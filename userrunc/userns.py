"""The id mappings of a container's new user namespace.

Explicit linux.uidMappings and linux.gidMappings are used as written. An
unprivileged caller without them gets the full mapping: root in the
container is the caller, and container ids 1 and up are the caller's
subordinate ids from /etc/subuid and /etc/subgid. Without subordinate ids,
or with the annotation userrunc.idmap=single, only the caller's own id is
mapped (to root). Root of a user namespace other than the host's maps each
id of that namespace to itself.
"""

from __future__ import annotations

import os

from . import log
from .errors import InvalidConfig, UserruncError

IDMAP_ANNOTATION = "userrunc.idmap"


def _user_name(uid: int):
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return uid


def mappings_for(spec: dict, real_root: bool, maps_any_id: bool):
    """Return (uid mappings, gid mappings) as idmap.IdMapping lists, validated.

    maps_any_id is True for a caller that is root in its own user namespace
    (real root included), which writes any mapping of the ids it has
    without newuidmap.
    """
    from . import idmap

    linux = spec.get("linux", {})
    uid_spec = linux.get("uidMappings")
    gid_spec = linux.get("gidMappings")
    uid = os.getuid()
    gid = os.getgid()
    user = _user_name(uid)
    if uid_spec or gid_spec:
        if not uid_spec:
            raise InvalidConfig("linux.uidMappings", "missing: linux.gidMappings is set, so uid mappings are needed too")
        if not gid_spec:
            raise InvalidConfig("linux.gidMappings", "missing: linux.uidMappings is set, so gid mappings are needed too")
        uid_mappings = [idmap.IdMapping.from_spec(item) for item in uid_spec]
        gid_mappings = [idmap.IdMapping.from_spec(item) for item in gid_spec]
        _validate(idmap, "uid", uid_mappings, uid, user, maps_any_id)
        _validate(idmap, "gid", gid_mappings, gid, user, maps_any_id)
        return uid_mappings, gid_mappings
    if real_root:
        raise InvalidConfig(
            "linux.uidMappings",
            "a new user namespace needs linux.uidMappings and linux.gidMappings when the caller is root",
        )
    mode = (spec.get("annotations") or {}).get(IDMAP_ANNOTATION, "auto")
    if mode not in ("auto", "single"):
        raise InvalidConfig(f"annotations.{IDMAP_ANNOTATION}", f"expected auto or single, got {mode!r}")
    if mode == "auto" and maps_any_id:
        # Root of a user namespace (as under podman without root) maps every id it has, each to itself.
        return _own_ids("uid"), _own_ids("gid")
    if mode == "single" or _own_map_size() == 1:
        # Inside a user namespace that maps one id there is nothing else to
        # map, whatever /etc/subuid lists for the name this id has here.
        return idmap.single_mapping(uid), idmap.single_mapping(gid)
    try:
        uid_ranges = idmap.subordinate_ranges("uid", user, missing_ok=True)
        gid_ranges = idmap.subordinate_ranges("gid", user, missing_ok=True)
    except idmap.IdMapError as error:
        raise UserruncError(str(error)) from None
    if not uid_ranges or not gid_ranges:
        missing = "/etc/subuid" if not uid_ranges else "/etc/subgid"
        first, last = idmap.free_range()
        log.warning(
            f"{missing} has no entry for {user}, so only uid {uid} and gid {gid} are mapped (to root); "
            f"an administrator can add one, e.g. 'usermod --add-subuids {first}-{last} --add-subgids {first}-{last} {user}'"
        )
        return idmap.single_mapping(uid), idmap.single_mapping(gid)
    return idmap.automatic_mappings(uid, uid_ranges), idmap.automatic_mappings(gid, gid_ranges)


def _own_ids(kind: str):
    """Return an identity mapping of the ids that the caller's user namespace has."""
    from . import idmap

    return [idmap.IdMapping(line.container_id, line.container_id, line.size) for line in idmap.read_map(kind)]


def _own_map_size() -> int:
    """Return how many uids the caller's own user namespace maps."""
    try:
        with open("/proc/self/uid_map", "rb") as handle:
            return sum(int(line.split()[2]) for line in handle if line.strip())
    except (OSError, ValueError, IndexError):
        return 0


def _validate(idmap, kind: str, mappings, host_id: int, user, privileged: bool) -> None:
    ranges = []
    if not privileged:
        try:
            ranges = idmap.subordinate_ranges(kind, user, missing_ok=True)
        except idmap.IdMapError:
            ranges = []
    try:
        idmap.validate_mappings(kind, mappings, host_id=host_id, ranges=ranges, privileged=privileged)
    except idmap.IdMapError as error:
        raise InvalidConfig(f"linux.{kind}Mappings", str(error)) from None
