"""Checks that a mapping list is one the kernel accepts and the caller may write."""

from __future__ import annotations

import os

from .errors import InvalidMapping, RangesTooSmall
from .mapping import ID_LIMIT, IdMapping, check_kind, describe_ranges, format_map, _subtract_intervals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .mapping import SubordinateRange

# Maximum number of lines in one uid_map or gid_map (UID_GID_MAP_MAX_EXTENTS
# since Linux 4.15). Older kernels accept only 5.
MAX_MAPPINGS = 340

_FIELDS = ("containerID", "hostID", "size")


def validate_mappings(
    kind: str,
    mappings: Sequence[IdMapping],
    *,
    host_id: int,
    ranges: Sequence[SubordinateRange],
    privileged: bool,
    parent_mappings: Sequence[IdMapping] | None = None,
    user: str | None = None,
) -> None:
    """Raise InvalidMapping unless ``mappings`` can be written as the ``kind`` ("uid" or "gid") map.

    Every size must be at least 1, every id and id + size must be within
    0 .. 2**32 - 1, and no container id and no host id may appear in two
    mappings. An unprivileged caller (``privileged`` false) may map only
    ``host_id``, its own id, and the ids in ``ranges``, its subordinate ranges.
    With ``parent_mappings``, the map of the caller's own user namespace, every
    host id must also be mapped there. ``user`` names the caller in the usermod
    command that an error suggests. Without it, a uid error looks the name up
    in the passwd database and a gid error writes USER.

    The error names the mapping by index and values, and the fix.
    RangesTooSmall, a subclass, means a mapping starts inside the granted ids
    but is larger than they are.
    """
    check_kind(kind)
    check_mapping_shape(kind, mappings, host_id=host_id)
    if not privileged:
        _check_granted(kind, mappings, host_id, ranges, user)
    if parent_mappings is not None:
        _check_parent(kind, mappings, parent_mappings)


def check_mapping_shape(kind: str, mappings: Sequence[IdMapping], *, host_id: int | None = None) -> None:
    """Raise InvalidMapping for maps that the kernel rejects even from a privileged writer.

    These are an empty list, too many lines, a size below 1, ids out of range,
    overlaps on either side, and a map text longer than one write may be.
    """
    if not mappings:
        example = f"containerID=0 hostID={host_id} size=1" if host_id is not None else "containerID=0 hostID=ID size=1"
        raise InvalidMapping(f"no {kind} mappings were given; give at least one, such as {example}", kind=kind)
    if len(mappings) > MAX_MAPPINGS:
        raise InvalidMapping(
            f"{len(mappings)} {kind} mappings were given, but the kernel accepts at most {MAX_MAPPINGS}; "
            "merge mappings whose ids are adjacent on both sides",
            kind=kind,
        )

    for index, mapping in enumerate(mappings):
        _check_one(kind, index, mapping)

    _check_overlaps(kind, mappings, side=0)
    _check_overlaps(kind, mappings, side=1)

    # The kernel parses a map only from a single write shorter than one page.
    page_size = os.sysconf("SC_PAGE_SIZE")
    length = len(format_map(mappings))
    if length >= page_size:
        raise InvalidMapping(
            f"the {kind} map text is {length} bytes, but the kernel accepts at most {page_size - 1} bytes "
            f"in one write; use fewer {kind} mappings by merging those whose ids are adjacent on both sides",
            kind=kind,
        )


def _label(kind: str, index: int, mapping: IdMapping) -> str:
    return f"{kind} mapping {index} ({_describe(mapping)})"


def _describe(mapping: Sequence[int]) -> str:
    return " ".join(f"{field}={value!r}" for field, value in zip(_FIELDS, mapping, strict=True))


def _check_one(kind: str, index: int, mapping: IdMapping) -> None:
    if len(mapping) != 3:
        raise InvalidMapping(
            f"{kind} mapping {index} ({mapping!r}) is invalid: expected containerID, hostID and size",
            kind=kind,
            index=index,
        )

    for field, value in zip(_FIELDS, mapping, strict=True):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidMapping(
                f"{_label(kind, index, mapping)} is invalid: {field} must be an integer", kind=kind, index=index
            )

    container_id, host_id, size = mapping
    if size < 1:
        raise InvalidMapping(
            f"{_label(kind, index, mapping)} is invalid: size must be at least 1; "
            "set it to the number of ids to map",
            kind=kind,
            index=index,
        )

    for field, value in (("containerID", container_id), ("hostID", host_id)):
        if value < 0:
            raise InvalidMapping(
                f"{_label(kind, index, mapping)} is invalid: {field} must not be negative; "
                f"use an id between 0 and {ID_LIMIT - 1}",
                kind=kind,
                index=index,
            )
        if value > ID_LIMIT - 1:
            raise InvalidMapping(
                f"{_label(kind, index, mapping)} is invalid: {field} is above {ID_LIMIT - 1}, "
                f"the largest id the kernel maps; use a smaller {field}",
                kind=kind,
                index=index,
            )
        if value + size > ID_LIMIT:
            raise InvalidMapping(
                f"{_label(kind, index, mapping)} is invalid: {field} + size is {value + size}, above the "
                f"maximum {ID_LIMIT}; reduce size to at most {ID_LIMIT - value}",
                kind=kind,
                index=index,
            )


def _check_overlaps(kind: str, mappings: Sequence[IdMapping], *, side: int) -> None:
    """Raise InvalidMapping for the first two mappings that share an id on one side (0: container, 1: host)."""
    order = sorted(range(len(mappings)), key=lambda i: mappings[i][side])
    for previous, current in zip(order, order[1:], strict=False):
        previous_end = mappings[previous][side] + mappings[previous][2]
        current_start = mappings[current][side]
        if previous_end <= current_start:
            continue

        first, second = sorted((previous, current))
        overlap_end = min(previous_end, current_start + mappings[current][2])
        if side == 0:
            where = "the container side"
            fix = "give each container id at most one mapping"
        else:
            where = "the host side"
            fix = "map each host id at most once"
        raise InvalidMapping(
            f"{kind} mappings {first} ({_describe(mappings[first])}) and {second} ({_describe(mappings[second])}) "
            f"overlap on {where} at ids {current_start}-{overlap_end - 1}; {fix}",
            kind=kind,
            index=second,
        )


def _check_granted(
    kind: str, mappings: Sequence[IdMapping], host_id: int, ranges: Sequence[SubordinateRange], user: str | None
) -> None:
    granted = [(host_id, host_id + 1)] + [(r.start, r.end) for r in ranges]
    grants = f"its own {kind} {host_id} and its subordinate {kind}s ({describe_ranges(ranges)})"
    option = "--add-subgids" if kind == "gid" else "--add-subuids"

    for index, mapping in enumerate(mappings):
        first = mapping[1]
        end = first + mapping[2]
        uncovered = _subtract_intervals(first, end, granted)
        if not uncovered:
            continue

        missing_start, missing_end = uncovered[0]
        missing = f"{missing_start}-{missing_end - 1}"
        if user is None:
            user = _user_name(host_id) if kind == "uid" else "USER"
        usermod = f"usermod {option} {missing} {user}"
        if missing_start > first:
            raise RangesTooSmall(
                f"{_label(kind, index, mapping)} is larger than the ids granted to {kind} {host_id}: host {kind}s "
                f"{missing} are outside {grants}; reduce size to {missing_start - first}, "
                f"or grant more ids with {usermod}",
                kind=kind,
                index=index,
            )
        # Ids below 100000 (login.defs' usual SUB_UID_MIN) belong to real
        # users and system accounts, so granting them is no advice to give.
        fix = "change hostID" if missing_start < 100000 else f"change hostID, or grant these ids with {usermod}"
        raise InvalidMapping(
            f"{_label(kind, index, mapping)} uses host {kind}s {missing}, which {kind} {host_id} may not map "
            f"because it may map only {grants}; {fix}",
            kind=kind,
            index=index,
        )


def _check_parent(kind: str, mappings: Sequence[IdMapping], parent_mappings: Sequence[IdMapping]) -> None:
    # A host id of a nested namespace is an id of the caller's namespace, which
    # is the container side of the caller's own map.
    available = [(m[0], m[0] + m[2]) for m in parent_mappings]
    parent_ids = ", ".join(f"{start}-{end - 1}" for start, end in sorted(available)) or "none"
    for index, mapping in enumerate(mappings):
        uncovered = _subtract_intervals(mapping[1], mapping[1] + mapping[2], available)
        if not uncovered:
            continue

        missing_start, missing_end = uncovered[0]
        raise InvalidMapping(
            f"{_label(kind, index, mapping)} uses host {kind}s {missing_start}-{missing_end - 1}, which the "
            f"caller's own user namespace does not map (it maps {kind}s {parent_ids}); a nested user namespace "
            f"can map only ids of its parent, so change hostID or map more ids in the outer namespace",
            kind=kind,
            index=index,
        )


def _user_name(uid: int) -> str:
    """Return the user name for a usermod command line, or a placeholder when uid has no passwd entry."""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "USER"
