"""pause, resume and ps."""

from __future__ import annotations

import json

import support


def _status(runtime, container_id):
    return json.loads(runtime("state", container_id).stdout)["status"]


def _ticks(bundle):
    path = bundle.rootfs / "tmp" / "ticks"
    return path.read_text().count("\n") if path.exists() else 0


def test_pause_and_resume_freeze_the_container(root_runtime):
    runtime = root_runtime
    config = runtime.config()
    config["root"]["readonly"] = False
    bundle = runtime.bundle(config=config, args=["sh", "-c", "while true; do echo t >> /tmp/ticks; sleep 0.05; done"])
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    assert support.wait_for(lambda: _ticks(bundle) > 2)
    assert runtime("pause", container_id).returncode == 0
    assert _status(runtime, container_id) == "paused"
    frozen_at = _ticks(bundle)
    import time

    time.sleep(0.5)
    assert _ticks(bundle) == frozen_at
    again = runtime("pause", container_id)
    assert again.returncode == 1
    assert again.err_lines == [f"userrunc: pause: cannot pause container '{container_id}': it is paused"]
    assert runtime("resume", container_id).returncode == 0
    assert _status(runtime, container_id) == "running"
    assert support.wait_for(lambda: _ticks(bundle) > frozen_at)
    resumed = runtime("resume", container_id)
    assert resumed.returncode == 1
    assert resumed.err_lines == [f"userrunc: resume: cannot resume container '{container_id}': it is running"]
    assert runtime("pause", container_id).returncode == 0
    assert runtime("delete", "--force", container_id).returncode == 0


def test_pause_without_cgroup_is_a_clear_error(rootless_runtime):
    runtime = rootless_runtime
    bundle = runtime.bundle(args=["sleep", "60"])
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    result = runtime("pause", container_id)
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: pause: cannot pause container '{container_id}': it has no cgroup of its own "
        "(unprivileged on cgroup v1, or --cgroup-manager disabled); pausing needs one: "
        "run it as root, or without root on cgroup v2 with --systemd-cgroup"
    ]
    assert runtime("delete", "--force", container_id).returncode == 0


def test_ps_lists_container_processes(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "sleep 100 & exec sleep 101"])
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    assert support.wait_for(lambda: len(json.loads(runtime("ps", "--format", "json", container_id).stdout)) == 2)
    pids = json.loads(runtime("ps", "--format", "json", container_id).stdout)
    table = runtime("ps", container_id)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert "PID" in lines[0].split()
    assert sorted(int(line.split()[1]) for line in lines[1:]) == pids
    assert {line.split()[-1] for line in lines[1:]} == {"100", "101"}
    assert runtime("delete", "--force", container_id).returncode == 0


def test_ps_passes_several_arguments_to_ps(runtime):
    bundle = runtime.bundle(args=["sleep", "100"])
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    result = runtime("ps", container_id, "-o", "pid,comm")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    assert [line.split()[1] for line in lines[1:]] == ["sleep"]
    assert runtime("delete", "--force", container_id).returncode == 0
