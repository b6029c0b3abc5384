"""Namespaces: each type created, joined by path, and the automatic user namespace."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import support


def _ns_inode(path: str) -> str:
    return os.readlink(path)


def _state(runtime, container_id):
    return json.loads(runtime("state", container_id).stdout)


def _config_with(runtime, *types):
    config = runtime.config()
    present = {item["type"] for item in config["linux"]["namespaces"]}
    for kind in types:
        if kind not in present:
            config["linux"]["namespaces"].append({"type": kind})
    return config


ALL_TYPES = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]


def test_every_namespace_is_new(runtime):
    config = _config_with(runtime, "network", "cgroup", "time", "ipc", "uts")
    if not runtime.rootless:
        config = _config_with(runtime, "network", "cgroup", "time", "ipc", "uts")
    script = "for n in " + " ".join(ALL_TYPES) + "; do readlink /proc/self/ns/$n; done"
    bundle = runtime.bundle(config=config, args=["sh", "-c", script])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    inside = dict(zip(ALL_TYPES, result.stdout.split()))
    for kind in ALL_TYPES:
        host = _ns_inode(f"/proc/self/ns/{kind}")
        if kind == "user" and not runtime.rootless:
            assert inside[kind] == host
        else:
            assert inside[kind] != host, kind


def test_pid_namespace_makes_process_pid_1(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "echo $$; ps -o pid,comm | wc -l"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    lines = result.stdout.split()
    assert lines[0] == "1"


def test_network_namespace_has_loopback_up(runtime):
    config = _config_with(runtime, "network")
    # netlink, not /sys: the rootless config binds the host's /sys.
    bundle = runtime.bundle(config=config, args=["ip", "-o", "link"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].split()[1] == "lo:"
    assert "UP" in lines[0].split()[2]


def test_hostname_and_domainname(runtime):
    config = runtime.config()
    config["hostname"] = "box"
    config["domainname"] = "example.test"
    bundle = runtime.bundle(config=config, args=["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.stdout.split() == ["box", "example.test"]


def test_time_namespace_offsets(runtime):
    config = _config_with(runtime, "time")
    config["linux"]["timeOffsets"] = {"boottime": {"secs": 10 * 365 * 86400, "nanosecs": 0}}
    bundle = runtime.bundle(config=config, args=["cat", "/proc/uptime"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert float(result.stdout.split()[0]) > 10 * 365 * 86400


def test_cgroup_namespace_root(runtime):
    config = _config_with(runtime, "cgroup")
    bundle = runtime.bundle(config=config, args=["cat", "/proc/self/cgroup"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert "0::/" in result.stdout.splitlines()


def test_join_namespaces_by_path(runtime):
    first = runtime.bundle(config=_config_with(runtime, "network"), args=["sleep", "60"])
    first_id = runtime.container_id("first")
    assert runtime("run", "-d", "-b", str(first), first_id).returncode == 0
    pid = _state(runtime, first_id)["pid"]
    config = runtime.config()
    joined = {"network": "net", "ipc": "ipc", "uts": "uts"}
    if runtime.rootless:
        # A namespace can be joined only from its owning user namespace.
        joined["user"] = "user"
        config["linux"].pop("uidMappings", None)
        config["linux"].pop("gidMappings", None)
    namespaces = [item for item in config["linux"]["namespaces"] if item["type"] not in joined]
    for kind, name in joined.items():
        namespaces.append({"type": kind, "path": f"/proc/{pid}/ns/{name}"})
    config["linux"]["namespaces"] = namespaces
    config.pop("hostname")
    script = "for n in net ipc uts user; do readlink /proc/self/ns/$n; done"
    second = runtime.bundle(config=config, args=["sh", "-c", script])
    result = runtime("run", "-b", str(second), runtime.container_id("second"))
    assert result.returncode == 0, result
    inside = dict(zip(["net", "ipc", "uts", "user"], result.stdout.split()))
    for kind, name in joined.items():
        assert inside[name] == os.readlink(f"/proc/{pid}/ns/{name}")
    assert runtime("delete", "--force", first_id).returncode == 0


def test_rootless_without_user_namespace_gets_one(rootless_runtime):
    runtime = rootless_runtime
    config = runtime.config()
    config["linux"]["namespaces"] = [item for item in config["linux"]["namespaces"] if item["type"] != "user"]
    config["linux"].pop("uidMappings")
    config["linux"].pop("gidMappings")
    bundle = runtime.bundle(config=config, args=["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/setgroups"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(runtime.uid), "1"]
    assert lines[2].split() == ["1", str(support.SUBID_START), str(support.SUBID_COUNT)]
    assert lines[3] == "allow"


def _run_as_root_in_userns(runtime, bundle):
    """Run the bundle as podman without root does: as root of a user namespace that maps the user's range."""
    unshare = ["unshare", "--user", "--map-root-user", "--map-auto", "--"]
    command = runtime.as_user(unshare + [support.USERRUNC, "run", "-b", str(bundle), runtime.container_id()])
    return subprocess.run(command, capture_output=True, text=True, env=runtime.environment(), cwd=str(runtime.workdir), timeout=60)


def test_root_in_userns_shares_it(rootless_runtime):
    """Podman without root runs the runtime as root in its own user namespace: the container shares it."""
    runtime = rootless_runtime
    config = _config_with(runtime, "network")
    config["linux"]["namespaces"] = [item for item in config["linux"]["namespaces"] if item["type"] != "user"]
    config["linux"].pop("uidMappings")
    config["linux"].pop("gidMappings")
    config["root"]["readonly"] = False
    script = "cat /proc/self/uid_map; touch /tmp/f; chown 1000:1000 /tmp/f; stat -c %u:%g /tmp/f; head -c 3 /dev/zero | wc -c"
    bundle = runtime.bundle(config=config, args=["sh", "-c", script])
    result = _run_as_root_in_userns(runtime, bundle)
    assert result.returncode == 0, result
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    # unshare --map-auto maps the user's range after the one id that --map-root-user takes.
    assert lines[0].split() == ["0", str(runtime.uid), "1"]
    assert lines[1].split() == ["1", str(support.SUBID_START), str(support.SUBID_COUNT - 1)]
    assert lines[2:] == ["1000:1000", "3"]


def test_root_in_userns_maps_nested(rootless_runtime):
    """podman --userns keep-id: root of a user namespace writes the nested mappings itself, without newuidmap."""
    runtime = rootless_runtime
    config = runtime.config()
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1, "size": 1000}, {"containerID": 1000, "hostID": 0, "size": 1}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1, "size": 1000}, {"containerID": 1000, "hostID": 0, "size": 1}]
    bundle = runtime.bundle(config=config, args=["cat", "/proc/self/uid_map", "/proc/self/gid_map"])
    result = _run_as_root_in_userns(runtime, bundle)
    assert result.returncode == 0, result
    assert result.stderr == ""
    # Read from inside, a map shows ids of the parent namespace: those of the caller's namespace.
    assert [line.split() for line in result.stdout.splitlines()] == [["0", "1", "1000"], ["1000", "0", "1"]] * 2


def test_root_in_userns_maps_own_ids(rootless_runtime):
    """A new user namespace without mappings, made by root of a user namespace, maps each id it has to itself."""
    runtime = rootless_runtime
    config = runtime.config()
    config["linux"].pop("uidMappings")
    config["linux"].pop("gidMappings")
    bundle = runtime.bundle(config=config, args=["cat", "/proc/self/uid_map"])
    result = _run_as_root_in_userns(runtime, bundle)
    assert result.returncode == 0, result
    assert result.stderr == ""
    assert [line.split() for line in result.stdout.splitlines()] == [["0", "0", "1"], ["1", "1", str(support.SUBID_COUNT - 1)]]


def test_single_mapping_is_written_directly(rootless_runtime):
    runtime = rootless_runtime
    config = runtime.config()
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": runtime.uid, "size": 1}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": runtime.gid, "size": 1}]
    for mount in config["mounts"]:
        mount["options"] = [item for item in mount.get("options", []) if not item.startswith("gid=")]
    bundle = runtime.bundle(config=config, args=["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["0", str(runtime.uid), "1"]
    assert lines[1].split() == ["0", str(runtime.gid), "1"]
    assert lines[2] == "deny"


def test_single_mapping_annotation(rootless_runtime):
    runtime = rootless_runtime
    config = runtime.config()
    config["linux"].pop("uidMappings")
    config["linux"].pop("gidMappings")
    config["annotations"] = {"userrunc.idmap": "single"}
    bundle = runtime.bundle(config=config, args=["cat", "/proc/self/uid_map"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert [line.split() for line in result.stdout.splitlines()] == [["0", str(runtime.uid), "1"]]


def test_user_namespace_as_root_needs_mappings(root_runtime):
    runtime = root_runtime
    config = _config_with(runtime, "user")
    bundle = runtime.bundle(config=config)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: invalid config.json: linux.uidMappings: a new user namespace needs linux.uidMappings "
        "and linux.gidMappings when the caller is root"
    ]


def test_user_namespace_as_root_with_mappings(root_runtime):
    runtime = root_runtime
    config = _config_with(runtime, "user")
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    bundle = runtime.bundle(config=config, args=["sh", "-c", "id -u; cat /proc/self/uid_map"])
    support.chown_tree(bundle.path, 300000, 300000)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "300000", "65536"]


@pytest.mark.parametrize("uid", [70000])
def test_unmapped_process_user_is_a_clear_error(rootless_runtime, uid):
    runtime = rootless_runtime
    bundle = runtime.bundle(user={"uid": uid, "gid": 0})
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: process.user.uid {uid} is not mapped in the container's user namespace "
        f"(uid_map: 0 {runtime.uid} 1; 1 {support.SUBID_START} {support.SUBID_COUNT}); "
        "map it with linux.uidMappings or /etc/subuid ranges"
    ]
