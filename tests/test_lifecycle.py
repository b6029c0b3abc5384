"""create, start, state, kill, delete, run and list on real busybox bundles, as root and rootless."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

import support


def state_of(runtime, container_id):
    result = runtime("state", container_id)
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def test_run_prints_from_inside(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "echo hello from $(hostname)"])
    result = runtime("run", "--bundle", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout == "hello from userrunc\n"
    assert result.stderr == ""


def test_run_returns_exit_status(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "exit 42"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 42
    assert result.stderr == ""


def test_run_killed_by_signal_returns_128_plus_n(runtime):
    # The process is PID 1 of its namespace, so only a signal from outside kills it.
    bundle = runtime.bundle(args=["sh", "-c", "echo ready; sleep 60"])
    container_id = runtime.container_id()
    process = runtime.popen("run", "-b", str(bundle), container_id, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    assert runtime("kill", container_id, "KILL").returncode == 0
    assert process.wait(timeout=20) == 128 + signal.SIGKILL


def test_create_start_state_delete(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "echo started; sleep 60"])
    container_id = runtime.container_id()
    created = runtime("create", "--bundle", str(bundle), container_id)
    assert created.returncode == 0, created
    state = state_of(runtime, container_id)
    assert state["status"] == "created"
    assert state["id"] == container_id
    assert state["bundle"] == str(bundle.path)
    assert state["ociVersion"] == "1.2.0"
    assert state["pid"] > 0
    assert os.path.exists(f"/proc/{state['pid']}")

    started = runtime("start", container_id)
    assert started.returncode == 0, started
    assert state_of(runtime, container_id)["status"] == "running"

    again = runtime("start", container_id)
    assert again.returncode == 1
    assert again.err_lines == [f"userrunc: start: container '{container_id}' is already running"]

    refused = runtime("delete", container_id)
    assert refused.returncode == 1
    assert refused.err_lines == [
        f"userrunc: delete: cannot delete container '{container_id}': it is running; stop it first or use --force"
    ]

    killed = runtime("kill", container_id, "KILL")
    assert killed.returncode == 0, killed
    assert support.wait_for(lambda: state_of(runtime, container_id)["status"] == "stopped")
    assert state_of(runtime, container_id)["pid"] == 0

    deleted = runtime("delete", container_id)
    assert deleted.returncode == 0, deleted
    missing = runtime("state", container_id)
    assert missing.returncode == 1
    assert missing.err_lines == [f"userrunc: state: container '{container_id}' does not exist in {runtime.state_root}"]
    assert not (runtime.state_root / container_id).exists()


def test_create_writes_output_of_process_to_callers_stdio(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "echo out; echo err >&2"])
    container_id = runtime.container_id()
    out_path = runtime.workdir / "out.txt"
    err_path = runtime.workdir / "err.txt"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        os.fchown(out.fileno(), runtime.uid, runtime.gid)
        os.fchown(err.fileno(), runtime.uid, runtime.gid)
        process = runtime.popen("create", "-b", str(bundle), container_id, stdout=out, stderr=err)
        assert process.wait(timeout=30) == 0
    assert runtime("start", container_id).returncode == 0
    assert support.wait_for(lambda: state_of(runtime, container_id)["status"] == "stopped")
    assert out_path.read_text() == "out\n"
    assert err_path.read_text() == "err\n"
    assert runtime("delete", container_id).returncode == 0


def test_start_after_init_died_fails_fast(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    pid = state_of(runtime, container_id)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert support.wait_for(lambda: state_of(runtime, container_id)["status"] == "stopped")
    began = time.monotonic()
    result = runtime("start", container_id, timeout=20)
    assert time.monotonic() - began < 10
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: start: cannot start container '{container_id}': it is stopped"]
    assert runtime("delete", container_id).returncode == 0


def test_kill_created_container_with_term(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    assert runtime("kill", container_id, "TERM").returncode == 0
    assert support.wait_for(lambda: state_of(runtime, container_id)["status"] == "stopped")
    assert runtime("delete", container_id).returncode == 0


def test_delete_created_container_kills_init(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    pid = state_of(runtime, container_id)["pid"]
    assert runtime("delete", container_id).returncode == 0
    assert support.wait_for(lambda: not os.path.exists(f"/proc/{pid}/environ") or _is_zombie(pid))


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.parametrize("signal_text", ["SIGUSR1", "USR1", "usr1", str(int(signal.SIGUSR1))])
def test_kill_accepts_names_and_numbers(root_runtime, signal_text):
    runtime = root_runtime
    bundle = runtime.bundle(args=["sh", "-c", "trap 'echo got; exit 7' USR1; while true; do sleep 0.05; done"])
    container_id = runtime.container_id()
    out_path = runtime.workdir / "out.txt"
    with open(out_path, "w") as out:
        assert runtime.popen("create", "-b", str(bundle), container_id, stdout=out).wait(timeout=30) == 0
    assert runtime("start", container_id).returncode == 0
    time.sleep(0.2)
    assert runtime("kill", container_id, signal_text).returncode == 0
    assert support.wait_for(lambda: state_of(runtime, container_id)["status"] == "stopped")
    assert out_path.read_text() == "got\n"
    assert runtime("delete", container_id).returncode == 0


@pytest.mark.parametrize("bad", ["SIGFOO", "FOO", "0", "65", "-9", "TERM2"])
def test_kill_rejects_bad_signal(root_runtime, bad):
    runtime = root_runtime
    bundle = runtime.bundle(args=["sleep", "60"])
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    result = runtime("kill", container_id, "--", bad) if bad.startswith("-") else runtime("kill", container_id, bad)
    assert result.returncode == 1
    if bad.isdigit():
        assert result.err_lines == [f"userrunc: kill: invalid signal {bad!r}: numbers go from 1 to 64"]
    else:
        assert result.err_lines == [
            f"userrunc: kill: invalid signal {bad!r}: use a name such as TERM or SIGKILL, or a number (see kill -l)"
        ]
    assert state_of(runtime, container_id)["status"] == "running"
    assert runtime("delete", "--force", container_id).returncode == 0


def test_kill_stopped_container_fails(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("run", "--keep", "-b", str(bundle), container_id).returncode == 0
    assert state_of(runtime, container_id)["status"] == "stopped"
    result = runtime("kill", container_id)
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: kill: cannot kill container '{container_id}': it is not running"]
    assert runtime("delete", container_id).returncode == 0


def test_kill_all_reaches_every_process(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "sleep 100 & sleep 100 & wait"])
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    assert support.wait_for(lambda: len(support.processes_with_mark(runtime.mark)) >= 3)
    assert runtime("kill", "--all", container_id, "KILL").returncode == 0
    assert support.wait_for(lambda: state_of(runtime, container_id)["status"] == "stopped")
    assert runtime("delete", container_id).returncode == 0


def test_run_detach_then_delete_force(runtime):
    bundle = runtime.bundle(args=["sleep", "60"])
    container_id = runtime.container_id()
    result = runtime("run", "--detach", "-b", str(bundle), container_id)
    assert result.returncode == 0, result
    assert state_of(runtime, container_id)["status"] == "running"
    assert runtime("delete", "--force", container_id).returncode == 0
    assert not (runtime.state_root / container_id).exists()


def test_run_keep_leaves_stopped_state(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("run", "--keep", "-b", str(bundle), container_id).returncode == 0
    state = state_of(runtime, container_id)
    assert state["status"] == "stopped"
    assert state["pid"] == 0
    assert runtime("delete", container_id).returncode == 0


def test_run_forwards_signals(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "trap 'echo term; exit 3' TERM; echo ready; while true; do sleep 0.05; done"])
    process = runtime.popen("run", "-b", str(bundle), runtime.container_id(), stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 3
    assert process.stdout.read() == "term\n"


def test_list_formats(runtime):
    bundle = runtime.bundle(args=["sleep", "60"])
    first = runtime.container_id("a")
    second = runtime.container_id("b")
    assert runtime("create", "-b", str(bundle), first).returncode == 0
    assert runtime("run", "-d", "-b", str(bundle), second).returncode == 0
    table = runtime("list")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[first][2] == "created"
    assert rows[second][2] == "running"
    quiet = runtime("list", "--quiet")
    assert quiet.stdout.split() == sorted([first, second])
    listed = json.loads(runtime("list", "--format", "json").stdout)
    assert {item["id"]: item["status"] for item in listed} == {first: "created", second: "running"}
    for container_id in (first, second):
        assert runtime("delete", "--force", container_id).returncode == 0
    assert runtime("list", "-q").stdout == ""


def test_pid_file(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    pid_file = runtime.workdir / "init.pid"
    assert runtime("create", "-b", str(bundle), "--pid-file", str(pid_file), container_id).returncode == 0
    assert int(pid_file.read_text()) == state_of(runtime, container_id)["pid"]
    assert runtime("delete", container_id).returncode == 0


def test_parallel_ids_and_duplicates(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    duplicate = runtime("create", "-b", str(bundle), container_id)
    assert duplicate.returncode == 1
    assert duplicate.err_lines == [f"userrunc: create: container '{container_id}' already exists"]
    assert state_of(runtime, container_id)["status"] == "created"
    assert runtime("delete", container_id).returncode == 0
