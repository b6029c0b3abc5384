"""Id mappings and subordinate ranges, and the computations on them."""

from __future__ import annotations

from .errors import InvalidMapping, RangesTooSmall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

# The kernel rejects a map line whose first id plus count overflows 32 bits,
# so ids and id + size go up to 2**32 - 1. That leaves 2**32 - 1 itself,
# which is (uid_t)-1, unmappable.
ID_LIMIT = 0xFFFFFFFF

KINDS = ("uid", "gid")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be 'uid' or 'gid', not {kind!r}")


class IdMapping(tuple[int, int, int]):
    """One line of a uid_map or gid_map.

    Container ids ``container_id .. container_id + size - 1`` inside the user
    namespace are host ids ``host_id .. host_id + size - 1`` in the namespace
    of the process that writes the map. Instances are immutable tuples, so
    they compare, hash and unpack like ``(container_id, host_id, size)``.
    """

    __slots__ = ()

    def __new__(cls, container_id: int, host_id: int, size: int) -> IdMapping:
        return tuple.__new__(cls, (container_id, host_id, size))

    def __getnewargs__(self) -> tuple[int, int, int]:
        return (self[0], self[1], self[2])

    @property
    def container_id(self) -> int:
        return self[0]

    @property
    def host_id(self) -> int:
        return self[1]

    @property
    def size(self) -> int:
        return self[2]

    @classmethod
    def from_spec(cls, spec: dict[str, object], *, kind: str = "", index: int | None = None) -> IdMapping:
        """Convert an OCI runtime-spec mapping such as ``{"containerID": 0, "hostID": 1000, "size": 1}``.

        Raises InvalidMapping when a key is missing or is not an integer. The
        range and overlap checks are in validate_mappings.
        """
        values = []
        for key in ("containerID", "hostID", "size"):
            value = spec.get(key) if isinstance(spec, dict) else None
            # bool is an int subclass, but true/false in config.json is a mistake.
            if not isinstance(value, int) or isinstance(value, bool):
                problem = "is missing" if not isinstance(spec, dict) or key not in spec else f"is {value!r}, not an integer"
                raise InvalidMapping(
                    f"{_mapping_label(kind, index)} {spec!r} is invalid: {key} {problem}; "
                    "give containerID, hostID and size as integers",
                    kind=kind,
                    index=index,
                )
            values.append(value)
        return cls(values[0], values[1], values[2])

    def to_spec(self) -> dict[str, int]:
        return {"containerID": self[0], "hostID": self[1], "size": self[2]}

    def describe(self) -> str:
        """Format the mapping with the runtime-spec field names, for messages."""
        return f"containerID={self[0]} hostID={self[1]} size={self[2]}"

    def __repr__(self) -> str:
        return f"IdMapping(container_id={self[0]}, host_id={self[1]}, size={self[2]})"


class SubordinateRange:
    """A range of ``count`` host ids from ``start`` that a user may map, from /etc/subuid or /etc/subgid.

    Instances are immutable, compare and hash by value, and unpack like
    ``(start, count)``. This is no tuple subclass, because a ``count`` field
    would hide tuple.count.
    """

    __slots__ = ("start", "count")

    start: int
    count: int

    def __init__(self, start: int, count: int) -> None:
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "count", count)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SubordinateRange is immutable, so {name} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"SubordinateRange is immutable, so {name} cannot be deleted")

    def __reduce__(self) -> tuple[type[SubordinateRange], tuple[int, int]]:
        return (SubordinateRange, (self.start, self.count))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SubordinateRange):
            return NotImplemented
        return self.start == other.start and self.count == other.count

    def __hash__(self) -> int:
        return hash((self.start, self.count))

    def __iter__(self) -> Iterator[int]:
        yield self.start
        yield self.count

    @property
    def end(self) -> int:
        """First id after the range."""
        return self.start + self.count

    def describe(self) -> str:
        """Format the range as FIRST-LAST, the form that usermod --add-subuids takes."""
        return f"{self.start}-{self.start + self.count - 1}"

    def __repr__(self) -> str:
        return f"SubordinateRange(start={self.start}, count={self.count})"


def _mapping_label(kind: str, index: int | None) -> str:
    noun = f"{kind} mapping" if kind else "id mapping"
    return noun if index is None else f"{noun} {index}"


def describe_ranges(ranges: Iterable[SubordinateRange]) -> str:
    text = ", ".join(r.describe() for r in ranges)
    return text or "none"


def single_mapping(host_id: int, container_id: int = 0) -> list[IdMapping]:
    """Map one container id (root by default) to the caller's own host id.

    This is the only mapping that an unprivileged process may write without
    newuidmap or newgidmap.
    """
    return [IdMapping(container_id, host_id, 1)]


def automatic_mappings(
    host_id: int, ranges: Sequence[SubordinateRange], size: int | None = None, *, kind: str = ""
) -> list[IdMapping]:
    """Map container id 0 to ``host_id`` and the following container ids to ``ranges`` in order.

    Container id 1 is the first id of the first range, and each further range
    continues where the previous one ended. Host ids that were already mapped
    (``host_id`` itself, or ids repeated by overlapping ranges) are skipped,
    because the kernel rejects a map that uses a host id twice.

    With ``size``, exactly ``size`` container ids (0 .. size - 1) are mapped and
    RangesTooSmall is raised when the ranges hold fewer than ``size - 1`` ids.
    Without it, every id of every range is mapped. ``kind`` ("uid" or "gid")
    only names the ids in error messages.
    """
    if size is not None and size < 1:
        raise ValueError(f"size must be at least 1, not {size}")

    mappings = [IdMapping(0, host_id, 1)]
    used = [(host_id, host_id + 1)]
    next_container_id = 1
    remaining = (size - 1) if size is not None else ID_LIMIT
    for subordinate in ranges:
        for start, end in _subtract_intervals(subordinate.start, subordinate.end, used):
            count = min(end - start, remaining, ID_LIMIT - next_container_id)
            if count <= 0:
                break
            mappings.append(IdMapping(next_container_id, start, count))
            used.append((start, start + count))
            next_container_id += count
            remaining -= count

    if size is not None and remaining > 0:
        available = size - 1 - remaining
        noun = f"subordinate {kind}" if kind else "subordinate"
        option = "--add-subgids" if kind == "gid" else "--add-subuids"
        raise RangesTooSmall(
            f"{noun} ranges ({describe_ranges(ranges)}) provide {available} usable ids, but mapping "
            f"{size} container ids needs {size - 1} besides container id 0 -> {host_id}; "
            f"request at most {available + 1} ids, or grant more with usermod {option} FIRST-LAST USER",
            kind=kind,
        )
    return mappings


def _subtract_intervals(start: int, end: int, used: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the parts of [start, end) that no interval in ``used`` covers, in ascending order."""
    pieces = []
    cursor = start
    for used_start, used_end in sorted(used):
        if used_end <= cursor or used_start >= end:
            continue
        if used_start > cursor:
            pieces.append((cursor, used_start))
        cursor = max(cursor, used_end)
        if cursor >= end:
            break
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def to_host(mappings: Iterable[IdMapping], container_id: int) -> int | None:
    """Translate a container id to its host id, or return None when no mapping covers it."""
    for mapping in mappings:
        offset = container_id - mapping[0]
        if 0 <= offset < mapping[2]:
            return mapping[1] + offset
    return None


def to_container(mappings: Iterable[IdMapping], host_id: int) -> int | None:
    """Translate a host id to its container id, or return None when no mapping covers it."""
    for mapping in mappings:
        offset = host_id - mapping[1]
        if 0 <= offset < mapping[2]:
            return mapping[0] + offset
    return None


def is_mapped(mappings: Iterable[IdMapping], container_id: int) -> bool:
    return to_host(mappings, container_id) is not None


def format_map(mappings: Iterable[IdMapping]) -> str:
    """Format mappings as the text of /proc/PID/uid_map or gid_map, one line per mapping."""
    return "".join(f"{m[0]} {m[1]} {m[2]}\n" for m in mappings)


def describe_map_lines(mappings: Iterable[IdMapping]) -> str:
    """Format mappings as quoted map lines on one line, such as '0 1000 1, 1 100000 65536', for messages."""
    return repr(", ".join(f"{m[0]} {m[1]} {m[2]}" for m in mappings))


def parse_map(text: str) -> list[IdMapping]:
    """Parse the text of /proc/PID/uid_map or gid_map, which pads its columns with spaces."""
    mappings = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3:
            mappings.append(IdMapping(int(fields[0]), int(fields[1]), int(fields[2])))
    return mappings


def read_map(kind: str, pid: int | str = "self", *, proc: str = "/proc") -> list[IdMapping]:
    """Read the uid or gid map of process ``pid``, as seen from the caller's user namespace.

    Raises OSError when the file cannot be read.
    """
    check_kind(kind)
    with open(f"{proc}/{pid}/{kind}_map", encoding="ascii") as file:
        return parse_map(file.read())
