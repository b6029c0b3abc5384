"""exec: a new process in a running container, as root and rootless."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import support


def _running(runtime, **process):
    bundle = runtime.bundle(args=["sleep", "100"], **process)
    container_id = runtime.container_id()
    result = runtime("run", "-d", "-b", str(bundle), container_id)
    assert result.returncode == 0, result
    return bundle, container_id


def _init_namespaces(runtime, container_id):
    pid = json.loads(runtime("state", container_id).stdout)["pid"]
    return {name: os.readlink(f"/proc/{pid}/ns/{name}") for name in ("mnt", "pid", "net", "ipc", "uts", "user", "cgroup")}


def test_exec_joins_every_namespace(runtime):
    _bundle, container_id = _running(runtime)
    expected = _init_namespaces(runtime, container_id)
    script = "for n in mnt pid net ipc uts user cgroup; do readlink /proc/self/ns/$n; done"
    result = runtime("exec", container_id, "sh", "-c", script)
    assert result.returncode == 0, result
    inside = dict(zip(["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"], result.stdout.split()))
    assert inside == expected
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_returns_exit_status_and_output(runtime):
    _bundle, container_id = _running(runtime)
    result = runtime("exec", container_id, "sh", "-c", "echo out; echo err >&2; exit 6")
    assert result.returncode == 6
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_flags(runtime):
    _bundle, container_id = _running(runtime)
    result = runtime(
        "exec", "--env", "A=1", "-e", "B=two", "--cwd", "/tmp", "--user", "1000:1000", "-g", "5",
        container_id, "sh", "-c", 'echo "$A $B"; pwd; id -u; id -g; id -G; ls /proc/self/fd',
    )
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["1 two", "/tmp", "1000", "1000", "1000 5", "0", "1", "2", "3"]
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_options_after_command_belong_to_it(runtime):
    _bundle, container_id = _running(runtime)
    result = runtime("exec", container_id, "echo", "--env", "-t")
    assert result.returncode == 0, result
    assert result.stdout == "--env -t\n"
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_cap_flag_adds_capability(runtime):
    _bundle, container_id = _running(runtime)
    plain = runtime("exec", "--user", "1000:1000", container_id, "grep", "CapEff", "/proc/self/status")
    added = runtime("exec", "--user", "1000:1000", "--cap", "CAP_NET_RAW", container_id, "grep", "CapEff", "/proc/self/status")
    assert int(plain.stdout.split()[1], 16) == 0
    assert int(added.stdout.split()[1], 16) == 1 << 13
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_process_file(runtime):
    _bundle, container_id = _running(runtime)
    process = {"args": ["sh", "-c", "echo $FROM_FILE; id -u"], "env": ["FROM_FILE=yes", "PATH=/bin"], "cwd": "/", "user": {"uid": 7, "gid": 7}}
    path = runtime.workdir / "process.json"
    path.write_text(json.dumps(process))
    os.chown(path, runtime.uid, runtime.gid)
    result = runtime("exec", "--process", str(path), container_id)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["yes", "7"]
    bad = runtime.workdir / "bad.json"
    bad.write_text(json.dumps({"args": [], "cwd": "/", "user": {"uid": 0, "gid": 0}}))
    os.chown(bad, runtime.uid, runtime.gid)
    refused = runtime("exec", "--process", str(bad), container_id)
    assert refused.returncode == 1
    assert refused.err_lines == [
        f"userrunc: exec: invalid --process {bad}: process.args: must contain at least the program to run"
    ]
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_detach_and_pid_file(runtime):
    _bundle, container_id = _running(runtime)
    pid_file = runtime.workdir / "exec.pid"
    result = runtime("exec", "-d", "--pid-file", str(pid_file), container_id, "sleep", "50")
    assert result.returncode == 0, result
    pid = int(pid_file.read_text())
    listed = json.loads(runtime("ps", "--format", "json", container_id).stdout)
    assert pid in listed
    assert runtime("delete", "--force", container_id).returncode == 0
    assert support.wait_for(lambda: not os.path.exists(f"/proc/{pid}/environ") or _zombie(pid))


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_exec_forwards_signals(runtime):
    _bundle, container_id = _running(runtime)
    process = runtime.popen(
        "exec", container_id, "sh", "-c", "trap 'echo got-term; exit 4' TERM; echo ready; while true; do sleep 0.05; done",
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 4
    assert process.stdout.read() == "got-term\n"
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_with_tty(runtime):
    _bundle, container_id = _running(runtime)
    status, output = support.run_on_terminal(runtime, ["exec", "-t", container_id, "sh", "-c", "tty; exit 3"])
    assert status == 3
    assert "/dev/pts/" in output
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_in_stopped_container_fails(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("run", "--keep", "-b", str(bundle), container_id).returncode == 0
    result = runtime("exec", container_id, "true")
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: exec: cannot exec in container '{container_id}': it is stopped"]
    assert runtime("delete", container_id).returncode == 0


def test_exec_in_created_container_fails(runtime):
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    result = runtime("exec", container_id, "true")
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: exec: cannot exec in container '{container_id}': it is created; start it first"]
    assert runtime("delete", container_id).returncode == 0


def test_exec_missing_program_and_bad_user(runtime):
    _bundle, container_id = _running(runtime)
    missing = runtime("exec", container_id, "no-such-program")
    assert missing.returncode == 1
    assert missing.err_lines == [
        "userrunc: exec: program 'no-such-program': executable file not found in $PATH of the container (process.args[0])"
    ]
    bad_user = runtime("exec", "--user", "root", container_id, "true")
    assert bad_user.returncode == 1
    assert bad_user.err_lines == ["userrunc: exec: invalid --user 'root': expected UID or UID:GID as numbers"]
    no_command = runtime("exec", container_id)
    assert no_command.returncode == 1
    assert no_command.err_lines == ["userrunc: exec: exec needs a command to run, or --process FILE"]
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_keeps_container_seccomp(runtime):
    config = runtime.config()
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }
    config["root"]["readonly"] = False
    bundle = runtime.bundle(config=config, args=["sleep", "100"])
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    result = runtime("exec", container_id, "mkdir", "/tmp/x")
    assert result.returncode == 1
    assert "Permission denied" in result.stderr
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_in_paused_container(root_runtime):
    runtime = root_runtime
    _bundle, container_id = _running(runtime)
    assert runtime("pause", container_id).returncode == 0
    refused = runtime("exec", container_id, "true")
    assert refused.returncode == 1
    assert refused.err_lines == [
        f"userrunc: exec: cannot exec in container '{container_id}': it is paused; resume it first, or pass --ignore-paused"
    ]
    assert runtime("delete", "--force", container_id).returncode == 0


def test_exec_cpu_affinity_final(runtime):
    if os.cpu_count() < 2:
        import pytest

        pytest.skip("needs two CPUs")
    bundle = runtime.bundle(args=["sleep", "100"], execCPUAffinity={"initial": "0", "final": "1"})
    container_id = runtime.container_id()
    assert runtime("run", "-d", "-b", str(bundle), container_id).returncode == 0
    result = runtime("exec", container_id, "grep", "Cpus_allowed_list", "/proc/self/status")
    assert result.returncode == 0, result
    assert result.stdout.split() == ["Cpus_allowed_list:", "1"]
    assert runtime("delete", "--force", container_id).returncode == 0
