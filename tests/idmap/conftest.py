"""Fixtures for the real-system tests: temporary users and their subordinate ranges.

The session fixture creates users named uridm-*, appends their lines to
/etc/subuid and /etc/subgid, and at the end removes the users. It then
writes both files and shadow's backup copies (/etc/passwd- and so on) back
byte for byte, with their mode and owner, also when a test fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess

import pytest

from idmap_real import (
    BACKUP_FILES,
    MALFORMED_LINE,
    RANGED_USER,
    REQUIRED_PROGRAMS,
    SUBID_FILES,
    UNRANGED_USER,
    SystemUser,
    SystemUsers,
    append_lines,
    highest_range_end,
    remove_stale_test_users,
    restore_backup_file,
    restore_subid_file,
    snapshot,
)


@pytest.fixture(scope="session")
def system_users():
    if os.geteuid() != 0:
        pytest.skip("creating test users needs root")
    missing = [name for name in REQUIRED_PROGRAMS if shutil.which(name) is None]
    if missing:
        pytest.skip(f"missing programs: {', '.join(missing)}")

    # useradd and userdel also rewrite shadow's backup copies (/etc/passwd- and
    # so on), so those are restored too.
    saved = {path: snapshot(path) for path in SUBID_FILES + BACKUP_FILES}
    added = {path: [] for path in SUBID_FILES}
    created = []
    failures = []
    try:
        remove_stale_test_users()
        # The subid files without stale test lines are what gets restored.
        for path in SUBID_FILES:
            if saved[path] is None:
                open(path, "a").close()
            else:
                saved[path] = snapshot(path)

        for name in (RANGED_USER, UNRANGED_USER):
            # SUB_UID_COUNT=0 and SUB_GID_COUNT=0 stop useradd from allocating ranges itself.
            subprocess.run(
                ["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
                 "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name],
                check=True,
                capture_output=True,
            )
            created.append(name)

        # Far above the ranges that useradd and usermod allocate (up to
        # SUB_UID_MAX, 600100000 by default), so the test ranges overlap nobody's.
        start = 2000000000
        for path in SUBID_FILES:
            with open(path) as file:
                start = max(start, highest_range_end(file.read()))
        uid = pwd.getpwnam(RANGED_USER).pw_uid
        # One line by name and one by numeric uid, as both forms appear in real files.
        ranges = [(start, 65536), (start + 65536, 1000)]
        lines = [f"{RANGED_USER}:{start}:65536", f"{uid}:{start + 65536}:1000"]
        added["/etc/subuid"] = lines + [MALFORMED_LINE]
        added["/etc/subgid"] = lines
        for path in SUBID_FILES:
            append_lines(path, added[path])

        yield SystemUsers(SystemUser(RANGED_USER, ranges), SystemUser(UNRANGED_USER, []))
    finally:
        # The ranges go first, so that userdel finds none to remove and leaves
        # the subid files alone.
        for path in SUBID_FILES:
            restore_subid_file(path, saved[path], added[path])
        for name in created:
            completed = subprocess.run(["userdel", name], capture_output=True, text=True)
            # Status 6 means the user is gone already, as when a second test
            # session on this machine removed it first.
            if completed.returncode not in (0, 6):
                failures.append(f"userdel {name} failed: {completed.stderr.strip()}")
        for path in BACKUP_FILES:
            restore_backup_file(path, saved[path])
    if failures:
        raise RuntimeError("; ".join(failures))
