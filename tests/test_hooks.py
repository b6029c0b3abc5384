"""OCI hooks: order, the namespaces each kind runs in, state on stdin, args, env and timeouts."""

from __future__ import annotations

import json
import os

import support

# A hook that records its kind, argv, one env variable, its mount namespace,
# whether / is the container's, and the state from stdin, one JSON line per call.
HOOK_SCRIPT = """#!/bin/sh
state=$(cat)
printf '{"kind": "%s", "argv": "%s", "env": "%s", "mnt": "%s", "root": "%s", "state": %s}\\n' \\
    "$1" "$*" "$HOOK_VALUE" "$(readlink /proc/self/ns/mnt)" "$(ls / | tr '\\n' ' ')" "$state" >> "$LOG"
"""


def _write_hook(path, log_path, uid, gid):
    path.write_text(HOOK_SCRIPT)
    os.chmod(path, 0o755)
    os.chown(path, uid, gid)


def test_hooks_run_in_order_with_state(runtime):
    host_hook = runtime.workdir / "hook.sh"
    log_path = runtime.workdir / "hooks.log"
    _write_hook(host_hook, log_path, runtime.uid, runtime.gid)
    log_path.touch()
    os.chown(log_path, runtime.uid, runtime.gid)
    os.chmod(log_path, 0o666)
    config = runtime.config()
    config["root"]["readonly"] = False
    config["annotations"] = {"purpose": "hooks"}

    def hook(kind, path=str(host_hook), log=str(log_path)):
        return {"path": path, "args": ["hook.sh", kind, "extra"], "env": [f"LOG={log}", f"HOOK_VALUE=v-{kind}", "PATH=/bin:/usr/bin"]}

    config["hooks"] = {
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        # startContainer runs after pivot_root, so its path and log are inside the container.
        "startContainer": [hook("startContainer", path="/hook.sh", log="/hooks.log")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
    }
    bundle = runtime.bundle(config=config, args=["sh", "-c", "echo running; sleep 0.2"])
    _write_hook(bundle.rootfs / "hook.sh", log_path, runtime.uid, runtime.gid)
    container_id = runtime.container_id()

    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [record["kind"] for record in records] == ["prestart", "createRuntime", "createContainer"]
    state = json.loads(runtime("state", container_id).stdout)
    host_mnt = os.readlink("/proc/self/ns/mnt")
    container_mnt = os.readlink(f"/proc/{state['pid']}/ns/mnt") if not runtime.rootless else None
    for record in records:
        assert record["state"]["id"] == container_id
        assert record["state"]["pid"] == state["pid"]
        assert record["state"]["bundle"] == str(bundle.path)
        assert record["state"]["annotations"] == {"purpose": "hooks"}
        assert record["argv"] == f"{record['kind']} extra"
        assert record["env"] == f"v-{record['kind']}"
    assert records[0]["state"]["status"] == "creating"
    assert records[1]["state"]["status"] == "creating"
    assert records[0]["mnt"] == host_mnt
    assert records[1]["mnt"] == host_mnt
    # createContainer: the container's mount namespace, before pivot_root.
    assert records[2]["mnt"] != host_mnt
    if container_mnt:
        assert records[2]["mnt"] == container_mnt
    assert "var" in records[2]["root"].split()

    assert runtime("start", container_id).returncode == 0
    inside = [json.loads(line) for line in (bundle.rootfs / "hooks.log").read_text().splitlines()]
    assert [record["kind"] for record in inside] == ["startContainer"]
    assert "hook.sh" in inside[0]["root"].split()
    assert inside[0]["state"]["id"] == container_id
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [record["kind"] for record in records][3:] == ["poststart"]
    assert records[3]["state"]["status"] == "running"
    assert records[3]["mnt"] == host_mnt

    assert support.wait_for(lambda: json.loads(runtime("state", container_id).stdout)["status"] == "stopped")
    assert runtime("delete", container_id).returncode == 0
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [record["kind"] for record in records][4:] == ["poststop"]
    assert records[4]["state"]["status"] == "stopped"


def test_hook_timeout(runtime):
    config = runtime.config()
    config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    bundle = runtime.bundle(config=config)
    container_id = runtime.container_id()
    result = runtime("create", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: create: prestart hook 0 (/bin/sleep) timed out after 1 s and was killed"]
    assert not (runtime.state_root / container_id).exists()


def test_missing_hook_program(runtime):
    config = runtime.config()
    config["hooks"] = {"createContainer": [{"path": "/no/such/hook"}]}
    bundle = runtime.bundle(config=config)
    result = runtime("create", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: create: createContainer hook 0 (/no/such/hook): cannot run: No such file or directory"]


def test_failing_start_container_hook_fails_start(runtime):
    config = runtime.config()
    config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 9"]}]}
    bundle = runtime.bundle(config=config, args=["echo", "must not run"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    result = runtime("start", container_id)
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: start: container '{container_id}' failed to start: startContainer hook 0 (/bin/sh) exited with status 9: nope"
    ]
    assert support.wait_for(lambda: json.loads(runtime("state", container_id).stdout)["status"] == "stopped")
    assert runtime("delete", container_id).returncode == 0


def test_failing_poststart_and_poststop_hooks_only_warn(runtime):
    failing = {"path": "/bin/sh", "args": ["sh", "-c", "exit 2"]}
    config = runtime.config()
    config["hooks"] = {"poststart": [failing], "poststop": [failing]}
    bundle = runtime.bundle(config=config, args=["true"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0
    assert result.err_lines == [
        "userrunc: warning: poststart hook 0 (/bin/sh) exited with status 2",
        "userrunc: warning: poststop hook 0 (/bin/sh) exited with status 2",
    ]
