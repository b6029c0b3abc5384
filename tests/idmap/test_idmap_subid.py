"""Unit tests for reading subordinate ranges from files, nsswitch.conf and getsubids."""

from __future__ import annotations

import os
import pwd

import pytest

from userrunc.idmap import (
    HelperMissing,
    NoSubordinateRanges,
    SubordinateLookupFailed,
    SubordinateRange,
    subid_file_problems,
    subid_source,
    subordinate_ranges,
)

ROOT_NAME = pwd.getpwuid(0).pw_name

SUBUID_TEXT = f"""\
# comment line
alice:100000:65536

  # indented comment
bob:165536:65536
alice:300000:1000
0:400000:10
{ROOT_NAME}:500000:20
alice:notanumber:65536
alice:1:2:3
:600000:10
carol:700000:0
dave:4294967290:10
eve:²:5
"""


@pytest.fixture
def subuid(tmp_path):
    path = tmp_path / "subuid"
    path.write_text(SUBUID_TEXT)
    return str(path)


@pytest.fixture
def files_nsswitch(tmp_path):
    path = tmp_path / "nsswitch.conf"
    path.write_text("passwd: files\n")
    return str(path)


def test_ranges_by_name_in_file_order(subuid):
    assert subordinate_ranges("uid", "alice", path=subuid) == [
        SubordinateRange(100000, 65536),
        SubordinateRange(300000, 1000),
    ]


def test_ranges_other_user(subuid):
    assert subordinate_ranges("uid", "bob", path=subuid) == [SubordinateRange(165536, 65536)]


def test_uid_matches_numeric_and_named_lines(subuid):
    # Root's lines exist in both forms: "0:..." and "root:...".
    expected = [SubordinateRange(400000, 10), SubordinateRange(500000, 20)]
    assert subordinate_ranges("uid", 0, path=subuid) == expected
    assert subordinate_ranges("uid", ROOT_NAME, path=subuid) == expected


def test_numeric_string_without_passwd_entry(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("4000000000:100000:10\n")
    assert subordinate_ranges("uid", "4000000000", path=str(path)) == [SubordinateRange(100000, 10)]
    assert subordinate_ranges("uid", 4000000000, path=str(path)) == [SubordinateRange(100000, 10)]


def test_file_without_final_newline(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("alice:100000:65536")
    assert subordinate_ranges("uid", "alice", path=str(path)) == [SubordinateRange(100000, 65536)]


def test_crlf_line_endings(tmp_path):
    path = tmp_path / "subuid"
    path.write_bytes(b"alice:100000:65536\r\nbob:200000:10\r\n")
    assert subordinate_ranges("uid", "bob", path=str(path)) == [SubordinateRange(200000, 10)]


def test_malformed_lines_skipped(subuid):
    # alice's malformed lines 9 and 10 add nothing.
    assert len(subordinate_ranges("uid", "alice", path=subuid)) == 2
    assert subordinate_ranges("uid", "carol", path=subuid, missing_ok=True) == []
    assert subordinate_ranges("uid", "dave", path=subuid, missing_ok=True) == []


def test_problems_name_line_and_reason(subuid):
    problems = subid_file_problems("uid", path=subuid)
    assert [str(problem) for problem in problems] == [
        f"line 9 of {subuid} is malformed: START 'notanumber' is not a decimal number: 'alice:notanumber:65536'",
        f"line 10 of {subuid} is malformed: expected OWNER:START:COUNT, found 4 fields: 'alice:1:2:3'",
        f"line 11 of {subuid} is malformed: the owner (user name or uid) is empty: ':600000:10'",
        f"line 12 of {subuid} is malformed: COUNT must be at least 1: 'carol:700000:0'",
        f"line 13 of {subuid} is malformed: START + COUNT is 4294967300, above the maximum 4294967295: "
        "'dave:4294967290:10'",
        f"line 14 of {subuid} is malformed: START '²' is not a decimal number: 'eve:²:5'",
    ]


def test_problem_fields(subuid):
    problem = subid_file_problems("uid", path=subuid)[0]
    assert problem.path == subuid
    assert problem.line_number == 9
    assert problem.line == "alice:notanumber:65536"
    assert problem.reason == "START 'notanumber' is not a decimal number"


def test_problem_single_field(tmp_path):
    path = tmp_path / "subgid"
    path.write_text("justaname\n")
    assert [str(p) for p in subid_file_problems("gid", path=str(path))] == [
        f"line 1 of {path} is malformed: expected OWNER:START:COUNT, found 1 field: 'justaname'"
    ]


def test_problems_of_missing_file(tmp_path):
    assert subid_file_problems("uid", path=str(tmp_path / "absent")) == []


def test_problems_of_clean_file(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("alice:100000:65536\n")
    assert subid_file_problems("uid", path=str(path)) == []


def test_no_entry_for_user(subuid):
    with pytest.raises(NoSubordinateRanges) as info:
        subordinate_ranges("uid", "zed", path=subuid)
    # The suggested range starts above the highest range in the file (root's 500000 + 20).
    assert info.value.message == (
        f"no subordinate uid range for user zed in {subuid}; add a line such as zed:500020:65536, "
        "for example with: usermod --add-subuids 500020-565555 --add-subgids 500020-565555 zed"
    )
    assert info.value.kind == "uid"
    assert info.value.user == "zed"
    assert info.value.source == subuid


def test_no_entry_in_empty_file(tmp_path):
    path = tmp_path / "subgid"
    path.write_text("")
    with pytest.raises(NoSubordinateRanges) as info:
        subordinate_ranges("gid", "alice", path=str(path))
    assert str(info.value) == (
        f"no subordinate gid range for user alice in {path}; add a line such as alice:100000:65536, "
        "for example with: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice"
    )


def test_no_entry_for_uid_without_name(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("alice:100000:65536\n")
    with pytest.raises(NoSubordinateRanges) as info:
        subordinate_ranges("uid", 4000000000, path=str(path))
    assert str(info.value) == (
        f"no subordinate uid range for uid 4000000000 in {path}; add a line such as 4000000000:165536:65536"
    )


def test_missing_file(tmp_path):
    path = tmp_path / "subuid"
    with pytest.raises(NoSubordinateRanges) as info:
        subordinate_ranges("uid", "alice", path=str(path))
    assert str(info.value) == (
        f"no subordinate uid range for user alice: {path} does not exist; create it with a line such as "
        "alice:100000:65536, for example with: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice"
    )


def test_missing_ok(tmp_path, subuid):
    assert subordinate_ranges("uid", "zed", path=subuid, missing_ok=True) == []
    assert subordinate_ranges("uid", "zed", path=str(tmp_path / "absent"), missing_ok=True) == []


def test_unreadable_file(tmp_path):
    # A directory cannot be read as a file, even by root.
    path = tmp_path / "subuid"
    path.mkdir()
    with pytest.raises(SubordinateLookupFailed) as info:
        subordinate_ranges("uid", "alice", path=str(path))
    assert str(info.value) == f"cannot read {path}: Is a directory; make it readable by every user (chmod 644 {path})"


def test_rejects_unknown_kind(subuid):
    with pytest.raises(ValueError):
        subordinate_ranges("pid", "alice", path=subuid)


def test_default_paths(monkeypatch, tmp_path, files_nsswitch):
    from userrunc.idmap import subid

    subuid_path = tmp_path / "uids"
    subgid_path = tmp_path / "gids"
    subuid_path.write_text("alice:100000:10\n")
    subgid_path.write_text("alice:200000:20\n")
    monkeypatch.setattr(subid, "SUBUID_PATH", str(subuid_path))
    monkeypatch.setattr(subid, "SUBGID_PATH", str(subgid_path))
    assert subordinate_ranges("uid", "alice", nsswitch_path=files_nsswitch) == [SubordinateRange(100000, 10)]
    assert subordinate_ranges("gid", "alice", nsswitch_path=files_nsswitch) == [SubordinateRange(200000, 20)]


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("passwd: files\n", "files"),
        ("subid: files\n", "files"),
        ("subid: sss\n", "sss"),
        ("subid:sss files\n", "sss"),
        ("# subid: sss\n", "files"),
        ("subid: [NOTFOUND=return] sss\n", "sss"),
        ("subid:\n", "files"),
        ("subid: sss # directory\n", "sss"),
        ("subidx: sss\n", "files"),
    ],
)
def test_subid_source(tmp_path, text, source):
    path = tmp_path / "nsswitch.conf"
    path.write_text(text)
    assert subid_source(str(path)) == source


def test_subid_source_missing_file(tmp_path):
    assert subid_source(str(tmp_path / "absent")) == "files"


def write_getsubids(tmp_path, body: str) -> str:
    """Create a fake getsubids that logs its arguments and runs ``body``."""
    script = tmp_path / "getsubids"
    script.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\n{body}\n')
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def sss_nsswitch(tmp_path):
    path = tmp_path / "nsswitch.conf"
    path.write_text("passwd: files\nsubid: sss\n")
    return str(path)


def test_getsubids_used_for_other_source(tmp_path, sss_nsswitch):
    program = write_getsubids(tmp_path, "printf '0: alice 100000 65536\\n1: alice 300000 10\\n'")
    ranges = subordinate_ranges("uid", "alice", nsswitch_path=sss_nsswitch, getsubids_path=program)
    assert ranges == [SubordinateRange(100000, 65536), SubordinateRange(300000, 10)]
    assert (tmp_path / "args").read_text() == "alice\n"


def test_getsubids_gid_flag(tmp_path, sss_nsswitch):
    program = write_getsubids(tmp_path, "echo '0: alice 200000 5'")
    ranges = subordinate_ranges("gid", "alice", nsswitch_path=sss_nsswitch, getsubids_path=program)
    assert ranges == [SubordinateRange(200000, 5)]
    assert (tmp_path / "args").read_text() == "-g alice\n"


def test_getsubids_uid_passes_name(tmp_path, sss_nsswitch):
    program = write_getsubids(tmp_path, "echo '0: x 200000 5'")
    subordinate_ranges("uid", 0, nsswitch_path=sss_nsswitch, getsubids_path=program)
    assert (tmp_path / "args").read_text() == f"{ROOT_NAME}\n"


def test_getsubids_skips_other_lines(tmp_path, sss_nsswitch):
    program = write_getsubids(tmp_path, "echo 'warning: something'; echo '0: alice 100000 10'; echo '1: alice x 3'")
    ranges = subordinate_ranges("uid", "alice", nsswitch_path=sss_nsswitch, getsubids_path=program)
    assert ranges == [SubordinateRange(100000, 10)]


def test_getsubids_no_ranges(tmp_path, sss_nsswitch):
    program = write_getsubids(tmp_path, "echo 'Error fetching ranges' >&2; exit 1")
    with pytest.raises(NoSubordinateRanges) as info:
        subordinate_ranges("uid", "alice", nsswitch_path=sss_nsswitch, getsubids_path=program)
    assert str(info.value) == (
        f"no subordinate uid range for user alice from subid source 'sss' ({sss_nsswitch}): getsubids alice "
        "exited with status 1: Error fetching ranges; ask the administrator of 'sss' to grant alice a uid range"
    )
    assert info.value.source == "getsubids"


def test_getsubids_no_ranges_missing_ok(tmp_path, sss_nsswitch):
    program = write_getsubids(tmp_path, "echo 'Error fetching ranges' >&2; exit 1")
    ranges = subordinate_ranges("gid", "alice", nsswitch_path=sss_nsswitch, getsubids_path=program, missing_ok=True)
    assert ranges == []


def test_getsubids_missing(monkeypatch, tmp_path, sss_nsswitch):
    from userrunc.idmap import programs

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(programs, "FALLBACK_DIRS", ())
    with pytest.raises(HelperMissing) as info:
        subordinate_ranges("uid", "alice", nsswitch_path=sss_nsswitch)
    assert str(info.value) == (
        f"getsubids was not found, but it is needed because {sss_nsswitch} sets 'subid: sss'; "
        "install the uidmap package (Debian, Ubuntu) or shadow-utils (Fedora)"
    )


def test_getsubids_not_executable(tmp_path, sss_nsswitch):
    program = tmp_path / "getsubids"
    program.write_text("not a program")
    program.chmod(0o644)
    with pytest.raises(SubordinateLookupFailed) as info:
        subordinate_ranges("uid", "alice", nsswitch_path=sss_nsswitch, getsubids_path=str(program))
    assert str(info.value) == f"running {program} failed: Permission denied; check that it is executable"


def test_explicit_path_ignores_nsswitch(subuid, sss_nsswitch):
    # getsubids_path points nowhere: an explicit file must be read without it.
    ranges = subordinate_ranges("uid", "bob", path=subuid, nsswitch_path=sss_nsswitch, getsubids_path="/nonexistent")
    assert ranges == [SubordinateRange(165536, 65536)]


def test_files_source_spawns_nothing(monkeypatch, subuid, files_nsswitch):
    from userrunc.idmap import subid

    def fail(*args, **kwargs):
        raise AssertionError("no process may be spawned for the files source")

    monkeypatch.setattr(os, "posix_spawn", fail)
    monkeypatch.setattr(os, "fork", fail)
    monkeypatch.setattr(subid, "SUBUID_PATH", subuid)
    assert subordinate_ranges("uid", "bob", nsswitch_path=files_nsswitch) == [SubordinateRange(165536, 65536)]
