"""The `cgroup` mount type on a cgroup v1 or hybrid host: a tmpfs with each hierarchy mounted in the container's cgroup namespace."""

from __future__ import annotations

import os

import pytest

from userrunc.cgroupmount import host_hierarchies

pytestmark = pytest.mark.skipif(
    os.path.exists("/sys/fs/cgroup/cgroup.controllers"), reason="the host has cgroup v2 only"
)


def test_each_hierarchy_is_mounted_in_the_namespace(runtime):
    script = "cut -d' ' -f5,9 /proc/self/mountinfo | grep '^/sys/fs/cgroup'; echo --; cat /sys/fs/cgroup/pids/cgroup.procs"
    bundle = runtime.bundle(args=["sh", "-c", script])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    mounts_text, procs = result.stdout.split("--\n")
    mounts = dict(line.split() for line in mounts_text.splitlines())
    assert mounts["/sys/fs/cgroup"] == "tmpfs"
    for name, fstype, _controllers in host_hierarchies():
        assert mounts[f"/sys/fs/cgroup/{name}"] == fstype
    # Rooted at the container's cgroup: only the container's shell and cat.
    assert len(procs.split()) <= 2
    assert "1" in procs.split()


def test_cgroup_tree_is_read_only(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "mkdir /sys/fs/cgroup/pids/x 2>&1; touch /sys/fs/cgroup/new 2>&1; true"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout.count("Read-only file system") == 2
