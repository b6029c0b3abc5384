"""Subordinate id ranges from /etc/subuid and /etc/subgid, or from getsubids.

Each line of the files is ``OWNER:START:COUNT``, where OWNER is a user name or
a numeric uid. A user may have several lines, and this module keeps them in
file order. When /etc/nsswitch.conf names a ``subid:`` source other than
``files`` (for example sss), the ranges come from shadow's getsubids program,
which queries that source.
"""

from __future__ import annotations

from .errors import HELPER_PACKAGES, HelperMissing, NoSubordinateRanges, SubordinateLookupFailed
from .mapping import ID_LIMIT, SubordinateRange, check_kind

SUBUID_PATH = "/etc/subuid"
SUBGID_PATH = "/etc/subgid"
NSSWITCH_PATH = "/etc/nsswitch.conf"

# First id that the example in NoSubordinateRanges suggests when the file has
# no range above it. Debian 12's /etc/login.defs sets SUB_UID_MIN to the same value.
_SUGGESTED_START = 100000
_SUGGESTED_COUNT = 65536


def default_path(kind: str) -> str:
    check_kind(kind)
    return SUBUID_PATH if kind == "uid" else SUBGID_PATH


class SubidEntry(tuple[str, int, int, int]):
    """One well-formed line of a subid file: its owner, range and 1-based line number."""

    __slots__ = ()

    def __new__(cls, owner: str, start: int, count: int, line_number: int) -> SubidEntry:
        return tuple.__new__(cls, (owner, start, count, line_number))

    @property
    def owner(self) -> str:
        return self[0]

    @property
    def range(self) -> SubordinateRange:
        return SubordinateRange(self[1], self[2])

    @property
    def line_number(self) -> int:
        return self[3]


class SubidProblem(tuple[str, int, str, str]):
    """A malformed line of a subid file, which the parser skipped."""

    __slots__ = ()

    def __new__(cls, path: str, line_number: int, line: str, reason: str) -> SubidProblem:
        return tuple.__new__(cls, (path, line_number, line, reason))

    @property
    def path(self) -> str:
        return self[0]

    @property
    def line_number(self) -> int:
        return self[1]

    @property
    def line(self) -> str:
        return self[2]

    @property
    def reason(self) -> str:
        return self[3]

    def __str__(self) -> str:
        return f"line {self[1]} of {self[0]} is malformed: {self[3]}: {self[2]!r}"


def parse_subid_text(text: str, path: str) -> tuple[list[SubidEntry], list[SubidProblem]]:
    """Parse the contents of a subid file into its entries and its malformed lines.

    Blank lines and lines whose first non-blank character is ``#`` are
    skipped. ``path`` only names the file in the problems.
    """
    entries = []
    problems = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue

        reason = _parse_line(stripped)
        if isinstance(reason, str):
            problems.append(SubidProblem(path, line_number, line, reason))
        else:
            owner, start, count = reason
            entries.append(SubidEntry(owner, start, count, line_number))
    return entries, problems


def _parse_line(line: str) -> tuple[str, int, int] | str:
    """Return (owner, start, count), or the reason why the line is malformed."""
    fields = line.split(":")
    if len(fields) != 3:
        return f"expected OWNER:START:COUNT, found {len(fields)} field{'s' if len(fields) != 1 else ''}"

    owner, start_text, count_text = fields
    if not owner:
        return "the owner (user name or uid) is empty"
    for name, value in (("START", start_text), ("COUNT", count_text)):
        if not _is_decimal(value):
            return f"{name} {value!r} is not a decimal number"

    start = int(start_text)
    count = int(count_text)
    if count < 1:
        return "COUNT must be at least 1"
    if start + count > ID_LIMIT:
        return f"START + COUNT is {start + count}, above the maximum {ID_LIMIT}"
    return owner, start, count


def _is_decimal(text: str) -> bool:
    # str.isdigit alone accepts non-ASCII digits such as "²", which int() rejects.
    return text.isascii() and text.isdigit()


def read_subid_file(path: str) -> tuple[list[SubidEntry], list[SubidProblem]]:
    """Read and parse a subid file. Raises OSError when it cannot be read."""
    with open(path, encoding="utf-8", errors="replace") as file:
        return parse_subid_text(file.read(), path)


def subid_file_problems(kind: str, *, path: str | None = None) -> list[SubidProblem]:
    """Return the malformed lines of /etc/subuid (kind "uid") or /etc/subgid (kind "gid").

    ``str()`` of each problem reads like ``line 3 of /etc/subuid is malformed:
    ...``. A missing file has no problems, and other read errors raise OSError.
    """
    try:
        _, problems = read_subid_file(path if path is not None else default_path(kind))
    except FileNotFoundError:
        return []
    return problems


def free_range(count: int = _SUGGESTED_COUNT, paths: tuple[str, ...] = ("/etc/subuid", "/etc/subgid")) -> tuple[int, int]:
    """Return (first, last) of `count` ids above every range in the subid files, for advice to an administrator.

    Starting from 100000 (the usual SUB_UID_MIN of login.defs) keeps the
    advice clear of the ids of real users.
    """
    start = _SUGGESTED_START
    for path in paths:
        try:
            entries, _problems = read_subid_file(path)
        except OSError:
            continue
        for entry in entries:
            start = max(start, entry[1] + entry[2])
    return start, start + count - 1


def subid_source(nsswitch_path: str = NSSWITCH_PATH) -> str:
    """Return the first source of the ``subid:`` line of nsswitch.conf, or "files" when there is none."""
    try:
        with open(nsswitch_path, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError:
        # Without a readable nsswitch.conf, shadow's tools read the files too.
        return "files"

    for line in text.splitlines():
        key, colon, value = line.split("#", 1)[0].partition(":")
        if not colon or key.strip() != "subid":
            continue
        # Items in brackets, such as [NOTFOUND=return], are actions, not sources.
        sources = [word for word in value.split() if not word.startswith("[")]
        return sources[0] if sources else "files"
    return "files"


def subordinate_ranges(
    kind: str,
    user: str | int,
    *,
    path: str | None = None,
    nsswitch_path: str = NSSWITCH_PATH,
    getsubids_path: str | None = None,
    missing_ok: bool = False,
) -> list[SubordinateRange]:
    """Return the subordinate uid or gid ranges of ``user`` (a name or a uid), in file order.

    A name also matches lines whose owner is that user's uid, and a uid also
    matches lines with the user's name. With ``path``, that file is read.
    Otherwise the nsswitch.conf ``subid:`` line decides: ``files`` or no line
    reads /etc/subuid or /etc/subgid directly, and any other source runs
    getsubids (``getsubids_path``, or the one found in PATH). Malformed lines
    are skipped, and subid_file_problems lists them.

    Raises NoSubordinateRanges when the user has no range, unless
    ``missing_ok`` is true, and then returns an empty list. Raises
    SubordinateLookupFailed when the file cannot be read, and HelperMissing
    when getsubids is needed but not installed.
    """
    check_kind(kind)
    if path is not None:
        return _ranges_from_file(kind, user, path, missing_ok)

    source = subid_source(nsswitch_path)
    if source != "files":
        return _ranges_from_getsubids(kind, user, source, nsswitch_path, getsubids_path, missing_ok)
    return _ranges_from_file(kind, user, default_path(kind), missing_ok)


def _ranges_from_file(kind: str, user: str | int, path: str, missing_ok: bool) -> list[SubordinateRange]:
    try:
        entries, _ = read_subid_file(path)
    except FileNotFoundError:
        if missing_ok:
            return []
        raise NoSubordinateRanges(
            f"no subordinate {kind} range for {_describe_user(user)}: {path} does not exist; "
            f"create it with a line such as {_suggestion(user, [])}",
            kind=kind,
            user=user,
            source=path,
        ) from None
    except OSError as error:
        raise SubordinateLookupFailed(
            f"cannot read {path}: {error.strerror}; make it readable by every user (chmod 644 {path})",
            kind=kind,
            source=path,
        ) from error

    name, uid = _resolve_user(user, entries)
    ranges = [entry.range for entry in entries if _owner_matches(entry.owner, name, uid)]
    if not ranges and not missing_ok:
        raise NoSubordinateRanges(
            f"no subordinate {kind} range for {_describe_user(user)} in {path}; "
            f"add a line such as {_suggestion(user, entries, name)}",
            kind=kind,
            user=user,
            source=path,
        )
    return ranges


def _resolve_user(user: str | int, entries: list[SubidEntry]) -> tuple[str | None, int | None]:
    """Return the (name, uid) pair of ``user``, looking up the other half only when a line needs it."""
    numeric_owners = any(_is_decimal(entry.owner) for entry in entries)
    named_owners = any(not _is_decimal(entry.owner) for entry in entries)

    if isinstance(user, int):
        name = None
        if named_owners:
            name = _name_of(user)
        return name, user

    uid = None
    if numeric_owners or _is_decimal(user):
        uid = _uid_of(user)
        if uid is None and _is_decimal(user):
            # A numeric string without a passwd entry is a uid, as in the files.
            uid = int(user)
    return user, uid


def _name_of(uid: int) -> str | None:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _uid_of(name: str) -> int | None:
    import pwd

    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _owner_matches(owner: str, name: str | None, uid: int | None) -> bool:
    if name is not None and owner == name:
        return True
    return uid is not None and _is_decimal(owner) and int(owner) == uid


def _describe_user(user: str | int) -> str:
    return f"uid {user}" if isinstance(user, int) else f"user {user}"


def _suggestion(user: str | int, entries: list[SubidEntry], name: str | None = None) -> str:
    """Return an example line that grants ``user`` a range above every range in the file, and the usermod command."""
    start = max([_SUGGESTED_START] + [entry[1] + entry[2] for entry in entries])
    last = start + _SUGGESTED_COUNT - 1
    if name is None and isinstance(user, str):
        name = user
    if name is None and isinstance(user, int):
        name = _name_of(user)
    if name is None:
        # usermod needs a user name, so only the line itself can be suggested.
        return f"{user}:{start}:{_SUGGESTED_COUNT}"
    return (
        f"{name}:{start}:{_SUGGESTED_COUNT}, for example with: "
        f"usermod --add-subuids {start}-{last} --add-subgids {start}-{last} {name}"
    )


def _ranges_from_getsubids(
    kind: str, user: str | int, source: str, nsswitch_path: str, getsubids_path: str | None, missing_ok: bool
) -> list[SubordinateRange]:
    from .programs import find_program, run_program

    program = getsubids_path or find_program("getsubids")
    if program is None:
        raise HelperMissing(
            f"getsubids was not found, but it is needed because {nsswitch_path} sets 'subid: {source}'; "
            f"install {HELPER_PACKAGES}",
            name="getsubids",
        )

    name = user if isinstance(user, str) else (_name_of(user) or str(user))
    argv = ["getsubids", name] if kind == "uid" else ["getsubids", "-g", name]
    try:
        result = run_program(program, argv, capture_stdout=True)
    except OSError as error:
        raise SubordinateLookupFailed(
            f"running {program} failed: {error.strerror}; check that it is executable",
            kind=kind,
            source="getsubids",
        ) from error

    ranges = _parse_getsubids_output(result.stdout)
    if result.status != 0 or not ranges:
        # getsubids (shadow 4.13) exits with 1 both when the user has no range
        # and when the source fails, so missing_ok also hides a failing source.
        if missing_ok:
            return []
        output = " ".join(result.stderr.split()) or "no output"
        raise NoSubordinateRanges(
            f"no subordinate {kind} range for {_describe_user(user)} from subid source '{source}' "
            f"({nsswitch_path}): {' '.join(argv)} exited with status {result.status}: {output}; "
            f"ask the administrator of '{source}' to grant {name} a {kind} range",
            kind=kind,
            user=user,
            source="getsubids",
        )
    return ranges


def _parse_getsubids_output(text: str) -> list[SubordinateRange]:
    """Parse getsubids lines such as ``0: alice 100000 65536``, skipping any other line."""
    ranges = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 4 or not fields[0].endswith(":"):
            continue
        if _is_decimal(fields[2]) and _is_decimal(fields[3]):
            ranges.append(SubordinateRange(int(fields[2]), int(fields[3])))
    return ranges
