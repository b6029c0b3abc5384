"""Unit tests for write_mappings against a fake /proc tree and fake helpers."""

from __future__ import annotations

import os

import pytest

from userrunc.idmap import HelperFailed, IdMapping, InvalidMapping, MapWriteFailed, write_mappings
from userrunc.idmap import programs

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a fake setuid-root helper needs root")

PID = 4242
AUTO_UIDS = [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)]
AUTO_GIDS = [IdMapping(0, 1000, 1), IdMapping(1, 200000, 65536)]


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    process = root / str(PID)
    process.mkdir(parents=True)
    for name in ("uid_map", "gid_map", "setgroups"):
        (process / name).write_text("")
    return root


@pytest.fixture
def helpers(monkeypatch, tmp_path):
    """Install fake setuid-root newuidmap and newgidmap that log their arguments, as the only helpers."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in ("newuidmap", "newgidmap"):
        path = directory / name
        path.write_text(f'#!/bin/sh\necho "$0 $*" >> "{tmp_path}/calls"\n')
        os.chown(path, 0, 0)
        os.chmod(path, 0o4755)
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setattr(programs, "FALLBACK_DIRS", ())
    return directory


def read(proc, name: str) -> str:
    return (proc / str(PID) / name).read_text()


def test_privileged_writes_directly(proc):
    write_mappings(PID, AUTO_UIDS, AUTO_GIDS, privileged=True, host_uid=0, host_gid=0, proc=str(proc))
    assert read(proc, "uid_map") == "0 1000 1\n1 100000 65536\n"
    assert read(proc, "gid_map") == "0 1000 1\n1 200000 65536\n"
    assert read(proc, "setgroups") == ""


def test_single_own_id_writes_directly(proc):
    write_mappings(
        PID, [IdMapping(0, 1000, 1)], [IdMapping(0, 1001, 1)], privileged=False, host_uid=1000, host_gid=1001,
        proc=str(proc),
    )
    assert read(proc, "uid_map") == "0 1000 1\n"
    assert read(proc, "gid_map") == "0 1001 1\n"
    assert read(proc, "setgroups") == "deny"


@needs_root
def test_ranges_go_through_helpers(proc, helpers, tmp_path):
    write_mappings(PID, AUTO_UIDS, AUTO_GIDS, privileged=False, host_uid=1000, host_gid=1000, proc=str(proc))
    # The two helpers run at the same time, so either may write its line first.
    assert sorted((tmp_path / "calls").read_text().splitlines()) == [
        f"{helpers}/newgidmap {PID} 0 1000 1 1 200000 65536",
        f"{helpers}/newuidmap {PID} 0 1000 1 1 100000 65536",
    ]
    assert read(proc, "uid_map") == ""
    assert read(proc, "setgroups") == ""


@needs_root
def test_single_other_id_goes_through_helper(proc, helpers, tmp_path):
    write_mappings(
        PID, [IdMapping(0, 100000, 1)], [IdMapping(0, 1000, 1)], privileged=False, host_uid=1000, host_gid=1000,
        proc=str(proc),
    )
    assert (tmp_path / "calls").read_text() == f"{helpers}/newuidmap {PID} 0 100000 1\n"
    assert read(proc, "gid_map") == "0 1000 1\n"
    assert read(proc, "setgroups") == "deny"


@needs_root
def test_helper_failure_includes_stderr(proc, helpers):
    (helpers / "newuidmap").write_text("#!/bin/sh\necho 'newuidmap: uid range [1-65537) not allowed' >&2\nexit 1\n")
    with pytest.raises(HelperFailed) as info:
        write_mappings(PID, AUTO_UIDS, AUTO_GIDS, privileged=False, host_uid=1000, host_gid=1000, proc=str(proc))
    assert str(info.value) == (
        f"newuidmap {PID} 0 1000 1 1 100000 65536 failed with exit status 1: newuidmap: uid range [1-65537) "
        f"not allowed; the host uids must be granted to uid 1000 in /etc/subuid, and process {PID} must exist "
        "and belong to the caller"
    )
    assert info.value.status == 1
    assert info.value.stderr == "newuidmap: uid range [1-65537) not allowed\n"
    assert info.value.argv == ["newuidmap", str(PID), "0", "1000", "1", "1", "100000", "65536"]


@needs_root
def test_helper_killed_by_signal(proc, helpers):
    (helpers / "newgidmap").write_text("#!/bin/sh\nkill -9 $$\n")
    with pytest.raises(HelperFailed) as info:
        write_mappings(PID, AUTO_UIDS, AUTO_GIDS, privileged=False, host_uid=1000, host_gid=1000, proc=str(proc))
    assert str(info.value) == (
        f"newgidmap {PID} 0 1000 1 1 200000 65536 was killed by signal 9: no output; the host gids must be "
        f"granted to gid 1000 in /etc/subgid, and process {PID} must exist and belong to the caller"
    )
    assert info.value.status == -9


def test_invalid_mapping_writes_nothing(proc):
    with pytest.raises(InvalidMapping) as info:
        write_mappings(
            PID, [IdMapping(0, 1000, 1)], [], privileged=True, host_uid=1000, host_gid=1000, proc=str(proc)
        )
    assert str(info.value) == "no gid mappings were given; give at least one, such as containerID=0 hostID=1000 size=1"
    assert read(proc, "uid_map") == ""


def test_overlap_rejected_before_writing(proc):
    uids = [IdMapping(0, 1000, 1), IdMapping(0, 100000, 5)]
    with pytest.raises(InvalidMapping):
        write_mappings(PID, uids, AUTO_GIDS, privileged=True, host_uid=1000, host_gid=1000, proc=str(proc))
    assert read(proc, "uid_map") == ""


def test_missing_process(proc):
    with pytest.raises(MapWriteFailed) as info:
        write_mappings(
            999999, [IdMapping(0, 1000, 1)], [IdMapping(0, 1000, 1)], privileged=True, host_uid=0, host_gid=0,
            proc=str(proc),
        )
    assert str(info.value) == (
        f"writing '0 1000 1' to {proc}/999999/uid_map failed: No such file or directory; process 999999 "
        "does not exist, so check that it is still running"
    )
    assert info.value.path == f"{proc}/999999/uid_map"
