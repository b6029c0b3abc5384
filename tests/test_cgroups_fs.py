"""The cgroupfs driver's reads while a cgroup disappears.

systemd removes a transient scope as soon as its last process has exited,
which can happen between userrunc opening cgroup.procs and reading it. The
read then fails with ENODEV. The test removes a real cgroup v2 directory at
that point, and only the moment of removal is arranged.
"""

from __future__ import annotations

import builtins
import os
import subprocess

import pytest

from systemd_fake import cgroup2_root

from userrunc.cgroups import fs


@pytest.fixture
def empty_cgroup():
    path = os.path.join(cgroup2_root(), f"userrunc-enodev-{os.getpid()}")
    os.mkdir(path)
    yield path
    if os.path.isdir(path):
        os.rmdir(path)


def test_pids_cgroup_removed_mid_read(empty_cgroup, monkeypatch):
    def open_then_remove(path, *args, **kwargs):
        handle = builtins.open(path, *args, **kwargs)
        if path.endswith("cgroup.procs"):
            os.rmdir(os.path.dirname(path))
        return handle

    monkeypatch.setattr(fs, "open", open_then_remove, raising=False)
    assert fs.FsManager([empty_cgroup]).pids() == []
    assert not os.path.exists(empty_cgroup)


def test_pids_missing_cgroup(empty_cgroup):
    os.rmdir(empty_cgroup)
    assert fs.FsManager([empty_cgroup]).pids() == []


def test_pids_first_existing_cgroup(empty_cgroup):
    sleeper = subprocess.Popen(["sleep", "100"])
    try:
        with open(os.path.join(empty_cgroup, "cgroup.procs"), "w") as handle:
            handle.write(str(sleeper.pid))
        assert fs.FsManager([empty_cgroup + "-missing", empty_cgroup]).pids() == [sleeper.pid]
    finally:
        sleeper.kill()
        sleeper.wait()
