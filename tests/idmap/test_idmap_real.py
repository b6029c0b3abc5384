"""Real-system tests: test users, the real subid files, newuidmap, newgidmap and user namespaces.

Each scenario that maps a namespace runs userns_child.py as a test user, so
the kernel and the helpers see an unprivileged caller. Needs root to create
the users, and the uidmap package.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys

import pytest

from idmap_real import CHILD_ENV, MALFORMED_LINE, run_child
from userrunc.idmap import (
    IdMapping,
    NoSubordinateRanges,
    SubordinateRange,
    automatic_mappings,
    parse_map,
    subid_file_problems,
    subordinate_ranges,
    validate_mappings,
)

# Host ids far above any range that the test users are granted.
FOREIGN_HOST_ID = 3000000000
PRIVATE_MOUNT = ["unshare", "--mount", "--propagation", "private", "--"]


def expected_automatic(user) -> list[IdMapping]:
    (first_start, first_count), (second_start, second_count) = user.ranges
    return [
        IdMapping(0, user.uid, 1),
        IdMapping(1, first_start, first_count),
        IdMapping(1 + first_count, second_start, second_count),
    ]


def test_ranges_from_real_files(system_users):
    user = system_users.ranged
    expected = [SubordinateRange(start, count) for start, count in user.ranges]
    assert subordinate_ranges("uid", user.name) == expected
    assert subordinate_ranges("uid", user.uid) == expected
    assert subordinate_ranges("gid", user.name) == expected


def test_real_ranges_validate(system_users):
    user = system_users.ranged
    ranges = subordinate_ranges("uid", user.name)
    mappings = automatic_mappings(user.uid, ranges)
    assert mappings == expected_automatic(user)
    validate_mappings("uid", mappings, host_id=user.uid, ranges=ranges, privileged=False)


def test_ranges_through_real_getsubids(system_users, tmp_path):
    # An nsswitch.conf that names another source makes the library run the
    # real getsubids, which reads the real nsswitch.conf and so the files.
    nsswitch = tmp_path / "nsswitch.conf"
    nsswitch.write_text("subid: sss\n")
    user = system_users.ranged
    expected = [SubordinateRange(start, count) for start, count in user.ranges]
    assert subordinate_ranges("uid", user.name, nsswitch_path=str(nsswitch)) == expected
    assert subordinate_ranges("gid", user.uid, nsswitch_path=str(nsswitch)) == expected


def test_real_getsubids_without_range(system_users, tmp_path):
    nsswitch = tmp_path / "nsswitch.conf"
    nsswitch.write_text("subid: sss\n")
    name = system_users.unranged.name
    with pytest.raises(NoSubordinateRanges) as info:
        subordinate_ranges("uid", name, nsswitch_path=str(nsswitch))
    assert str(info.value) == (
        f"no subordinate uid range for user {name} from subid source 'sss' ({nsswitch}): getsubids {name} exited "
        f"with status 1: Error fetching ranges; ask the administrator of 'sss' to grant {name} a uid range"
    )


def test_no_range_in_real_file(system_users):
    name = system_users.unranged.name
    with open("/etc/subuid") as file:
        lines = file.read().splitlines()
    start = 100000
    for line in lines:
        fields = line.split(":")
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            start = max(start, int(fields[1]) + int(fields[2]))
    last = start + 65535

    with pytest.raises(NoSubordinateRanges) as info:
        subordinate_ranges("uid", name)
    assert str(info.value) == (
        f"no subordinate uid range for user {name} in /etc/subuid; add a line such as {name}:{start}:65536, "
        f"for example with: usermod --add-subuids {start}-{last} --add-subgids {start}-{last} {name}"
    )


def test_malformed_real_line_reported(system_users):
    with open("/etc/subuid") as file:
        line_number = file.read().splitlines().index(MALFORMED_LINE) + 1
    messages = [str(problem) for problem in subid_file_problems("uid")]
    expected = (
        f"line {line_number} of /etc/subuid is malformed: START 'not-a-number' is not a decimal number: "
        f"'{MALFORMED_LINE}'"
    )
    assert expected in messages


def test_automatic_mapping_through_helpers(system_users):
    user = system_users.ranged
    result = run_child({"uid": "auto", "gid": "auto"}, user)
    assert result["error"] is None
    assert parse_map(result["uid_map"]) == expected_automatic(user)
    assert parse_map(result["gid_map"]) == expected_automatic(user)
    # newgidmap leaves setgroups allowed, so the container may call it.
    assert result["setgroups"] == "allow\n"
    assert result["child"] == {"uid": 0, "gid": 0, "setgroups": "ok"}


def test_single_mapping_written_directly(system_users):
    user = system_users.unranged
    result = run_child({"uid": "single", "gid": "single"}, user)
    assert result["error"] is None
    assert parse_map(result["uid_map"]) == [IdMapping(0, user.uid, 1)]
    assert parse_map(result["gid_map"]) == [IdMapping(0, user.gid, 1)]
    assert result["setgroups"] == "deny\n"
    assert result["child"] == {"uid": 0, "gid": 0, "setgroups": "Operation not permitted"}


def test_helper_uid_and_direct_gid(system_users):
    user = system_users.ranged
    result = run_child({"uid": "auto", "gid": "single"}, user)
    assert result["error"] is None
    assert parse_map(result["uid_map"]) == expected_automatic(user)
    assert parse_map(result["gid_map"]) == [IdMapping(0, user.gid, 1)]
    assert result["setgroups"] == "deny\n"


def test_helper_rejects_ungranted_ids(system_users):
    user = system_users.unranged
    other_start = system_users.ranged.ranges[0][0]
    request = {"uid": [[0, user.uid, 1], [1, other_start, 10]], "gid": "single"}
    result = run_child(request, user)
    pid = result["pid"]
    assert result["error"] == [
        "HelperFailed",
        f"newuidmap {pid} 0 {user.uid} 1 1 {other_start} 10 failed with exit status 1: newuidmap: uid range "
        f"[1-11) -> [{other_start}-{other_start + 10}) not allowed; the host uids must be granted to uid "
        f"{user.uid} in /etc/subuid, and process {pid} must exist and belong to the caller",
    ]
    assert result["uid_map"] == ""


def test_helper_without_setuid(system_users, tmp_path):
    # A non-setuid copy of newuidmap is mounted over the real one, but only in
    # a private mount namespace that ends with the test.
    copy = tmp_path / "newuidmap"
    shutil.copyfile("/usr/bin/newuidmap", copy)
    os.chmod(copy, 0o755)
    mount_then_run = ["sh", "-c", 'mount --bind "$0" /usr/bin/newuidmap && exec "$@"', str(copy)]
    result = run_child({"uid": "auto", "gid": "auto"}, system_users.ranged, wrapper=PRIVATE_MOUNT + mount_then_run)
    assert result["error"] == [
        "HelperNotPrivileged",
        "/usr/bin/newuidmap cannot map ids for other users because it is neither setuid root nor has the "
        "cap_setuid file capability; reinstall the uidmap package (Debian, Ubuntu) or shadow-utils (Fedora), "
        "or run chown root /usr/bin/newuidmap && chmod u+s /usr/bin/newuidmap, "
        "or setcap cap_setuid+ep /usr/bin/newuidmap",
    ]
    assert result["uid_map"] == ""
    assert os.stat("/usr/bin/newuidmap").st_mode & 0o4000


def test_helper_on_nosuid_mount(system_users, tmp_path):
    mount_point = tmp_path / "bin"
    mount_point.mkdir()
    code = (
        "from userrunc.idmap import HelperNotPrivileged, find_helper\n"
        "try:\n"
        "    find_helper('newuidmap')\n"
        "except HelperNotPrivileged as error:\n"
        "    print(error.reason)\n"
    )
    script = (
        'mount -t tmpfs -o nosuid,mode=755 tmpfs "$0" && cp -p /usr/bin/newuidmap "$0"/ '
        '&& PATH="$0" exec "$@"'
    )
    argv = PRIVATE_MOUNT + ["sh", "-c", script, str(mount_point), sys.executable, "-c", code]
    completed = subprocess.run(argv, env=CHILD_ENV, capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        "is on a filesystem mounted nosuid, where setuid bits and file capabilities have no effect\n"
    )
    assert os.listdir(mount_point) == []


def test_privileged_caller_writes_any_mapping(system_users):
    # Root's own id 0 stays root inside, and the rest maps ids that no user was granted.
    mappings = [[0, 0, 1], [1, FOREIGN_HOST_ID, 65536]]
    result = run_child({"uid": mappings, "gid": mappings, "privileged": True})
    expected = [IdMapping(0, 0, 1), IdMapping(1, FOREIGN_HOST_ID, 65536)]
    assert result["error"] is None
    assert parse_map(result["uid_map"]) == expected
    assert parse_map(result["gid_map"]) == expected
    assert result["setgroups"] == "allow\n"
    assert result["child"] == {"uid": 0, "gid": 0, "setgroups": "ok"}


def test_second_write_rejected(system_users):
    request = {"uid": [[0, FOREIGN_HOST_ID, 10]], "gid": [[0, FOREIGN_HOST_ID, 10]], "privileged": True, "twice": True}
    result = run_child(request)
    pid = result["pid"]
    assert result["error"] == [
        "MapWriteFailed",
        f"writing '0 {FOREIGN_HOST_ID} 10' to /proc/{pid}/uid_map failed: Operation not permitted; each map "
        "can be written only once, and the writer needs CAP_SETUID or CAP_SETGID over the parent user "
        f"namespace of process {pid}",
    ]
    assert parse_map(result["uid_map"]) == [IdMapping(0, FOREIGN_HOST_ID, 10)]


def test_multithreaded_unshare_explained(system_users):
    result = run_child({"threads": True}, system_users.ranged)
    assert result["errno"] == errno.EINVAL
    assert result["explanation"] == (
        "creating a user namespace failed with EINVAL (Invalid argument): the kernel creates a user namespace "
        "only for a single-threaded process, but this process has 2 threads; create the namespace before "
        "starting threads, or in a forked child"
    )
