"""Where state lives, who may read it, and how status survives PID reuse and concurrent commands."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

import support


def test_rootless_state_under_xdg_runtime_dir(rootless_runtime):
    runtime = rootless_runtime
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    directory = runtime.runtime_dir / "userrunc" / container_id
    info = directory.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == runtime.uid
    state_file = directory / "state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert json.loads(state_file.read_text())["id"] == container_id
    assert sorted(os.listdir(directory)) == ["exec.fifo", "state.json"]
    assert runtime("delete", container_id).returncode == 0


def test_root_default_state_root(root_runtime):
    runtime = root_runtime
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    result = runtime("create", "-b", str(bundle), container_id, root_option=False)
    assert result.returncode == 0, result
    try:
        directory = Path("/run/userrunc") / container_id
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    finally:
        assert runtime("delete", container_id, root_option=False).returncode == 0
    assert not (Path("/run/userrunc") / container_id).exists()


@pytest.fixture
def run_user_dir(test_user):
    """/run/user/UID of the test user, created for the test when it is missing."""
    path = Path(f"/run/user/{test_user.pw_uid}")
    created = not path.exists()
    if created:
        path.mkdir(parents=True, mode=0o700)
        os.chown(path, test_user.pw_uid, test_user.pw_gid)
    yield path
    if created:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("xdg", ["unset", "foreign"])
def test_rootless_falls_back_to_run_user(rootless_runtime, run_user_dir, xdg):
    runtime = rootless_runtime
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    env = {"XDG_RUNTIME_DIR": "/root" if xdg == "foreign" else ""}
    command = runtime.command(["create", "-b", str(bundle), container_id])
    environment = runtime.environment(env)
    if xdg == "unset":
        del environment["XDG_RUNTIME_DIR"]
    with open(os.devnull, "w") as devnull:
        assert subprocess.run(command, env=environment, stdout=devnull, stderr=devnull, timeout=30).returncode == 0
    try:
        assert (run_user_dir / "userrunc" / container_id / "state.json").exists()
        state = subprocess.run(runtime.command(["state", container_id]), env=environment, capture_output=True, text=True)
        assert json.loads(state.stdout)["status"] == "created"
    finally:
        subprocess.run(runtime.command(["delete", container_id]), env=environment, check=True)
    assert not (run_user_dir / "userrunc" / container_id).exists()


def test_no_usable_runtime_dir_is_a_clear_error(root_runtime):
    # The user nobody (65534) has no /run/user/65534 and no XDG_RUNTIME_DIR of its own.
    assert not os.path.exists("/run/user/65534")
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", support.USERRUNC, "state", "x"]
    environment = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": "/root"}
    result = subprocess.run(command, env=environment, capture_output=True, text=True, cwd="/")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "userrunc: state: cannot choose a state directory: XDG_RUNTIME_DIR=/root is not a directory owned by uid 65534 "
        "(as after su or sudo), and /run/user/65534 does not exist or is not yours; "
        + (
            "log in through a session that creates /run/user/65534 (or run 'loginctl enable-linger'), "
            if os.path.exists("/run/systemd/system")
            else ""
        )
        + "set XDG_RUNTIME_DIR to a directory you own, or pass --root DIR"
    ]


def test_explicit_root_overrides(rootless_runtime):
    runtime = rootless_runtime
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    other_root = runtime.workdir / "other-root"
    assert runtime("--root", str(other_root), "create", "-b", str(bundle), container_id).returncode == 0
    assert (other_root / container_id / "state.json").exists()
    assert not (runtime.state_root / container_id).exists()
    assert runtime("--root", str(other_root), "delete", container_id).returncode == 0


def test_status_survives_pid_reuse(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("run", "--keep", "-b", str(bundle), container_id).returncode == 0
    state_file = runtime.state_root / container_id / "state.json"
    state = json.loads(state_file.read_text())
    # A live process of the same user now has a PID; state.json pretends it is the old init.
    stranger = subprocess.Popen(
        ["setpriv", f"--reuid={runtime.uid}", f"--regid={runtime.gid}", "--clear-groups", "sleep", "60"]
    )
    try:
        state["pid"] = stranger.pid
        state_file.write_text(json.dumps(state))
        result = runtime("state", container_id)
        assert json.loads(result.stdout)["status"] == "stopped"
        killed = runtime("kill", container_id, "KILL")
        assert killed.returncode == 1
        assert stranger.poll() is None
        assert runtime("delete", container_id).returncode == 0
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_commands_on_one_id_are_serialised(root_runtime):
    runtime = root_runtime
    bundle = runtime.bundle(args=["true"])
    locked_id = runtime.container_id("locked")
    free_id = runtime.container_id("free")
    assert runtime("create", "-b", str(bundle), locked_id).returncode == 0
    assert runtime("create", "-b", str(bundle), free_id).returncode == 0
    fd = os.open(runtime.state_root / locked_id, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        waiting = runtime.popen("state", locked_id, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        began = time.monotonic()
        other = runtime("state", free_id)
        assert other.returncode == 0
        assert time.monotonic() - began < 5
        time.sleep(0.3)
        assert waiting.poll() is None
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    output, _ = waiting.communicate(timeout=20)
    assert waiting.returncode == 0
    assert json.loads(output)["status"] == "created"
    for container_id in (locked_id, free_id):
        assert runtime("delete", container_id).returncode == 0


def test_parallel_creates_of_one_id(root_runtime):
    runtime = root_runtime
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    # Files, not pipes: the winner's init keeps its stderr open.
    errors = [open(runtime.workdir / f"err{index}", "w+") for index in range(4)]
    processes = [
        runtime.popen("create", "-b", str(bundle), container_id, stdout=subprocess.DEVNULL, stderr=error)
        for error in errors
    ]
    outcomes = []
    for process, error in zip(processes, errors):
        process.wait(timeout=60)
        error.seek(0)
        outcomes.append((process.returncode, error.read().strip()))
        error.close()
    assert sorted(code for code, _ in outcomes) == [0, 1, 1, 1]
    for code, error in outcomes:
        if code == 1:
            assert error == f"userrunc: create: container '{container_id}' already exists"
    assert runtime("delete", container_id).returncode == 0


def test_container_cannot_read_state_dir(rootless_runtime):
    runtime = rootless_runtime
    state_dir = runtime.runtime_dir / "userrunc"
    bundle = runtime.bundle(args=["sh", "-c", f"ls {state_dir} 2>&1; cat {state_dir}/*/state.json 2>&1; true"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0
    assert "initStartTime" not in result.stdout
