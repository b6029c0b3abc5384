"""linux.sysctl: settings of the container's own namespaces, applied before /proc/sys becomes read-only.

The containers read their settings back, and the host's values are
compared before and after. Bad keys fail before anything is created, and
the leak check of every runtime fixture (conftest.py) proves that nothing
remains.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_rootfs_support import fails_cleanly

SETTINGS = {
    "net.ipv4.ping_group_range": "0 0",
    "kernel.shm_rmid_forced": "1",
    "fs.mqueue.msg_max": "20",
    "kernel.domainname": "sysctl.test",
}


def _proc_sys(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def _config(runtime) -> dict:
    """Return the runtime's config with a network namespace, which the rootless one lacks."""
    config = runtime.config()
    if not any(item["type"] == "network" for item in config["linux"]["namespaces"]):
        config["linux"]["namespaces"].append({"type": "network"})
    return config


def _host_values() -> dict:
    return {key: _proc_sys(key).read_text() for key in SETTINGS}


def test_sysctl_settings_applied(runtime):
    before = _host_values()
    config = _config(runtime)
    config["linux"]["sysctl"] = dict(SETTINGS)
    reads = "; ".join(f"cat {_proc_sys(key)}" for key in SETTINGS)
    bundle = runtime.bundle(config=config, args=["sh", "-c", reads])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout.split("\n")[:4] == ["0\t0", "1", "20", "sysctl.test"]
    assert _host_values() == before


def test_sysctl_slash_form_key(runtime):
    config = _config(runtime)
    config["linux"]["sysctl"] = {"net/ipv4/conf/lo/forwarding": "1", "kernel/domainname": "slash.test"}
    script = "cat /proc/sys/net/ipv4/conf/lo/forwarding /proc/sys/kernel/domainname"
    bundle = runtime.bundle(config=config, args=["sh", "-c", script])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["1", "slash.test"]


def test_sysctl_proc_sys_read_only_after(runtime):
    config = _config(runtime)
    config["linux"]["sysctl"] = {"kernel.shm_rmid_forced": "1"}
    bundle = runtime.bundle(config=config, args=["sh", "-c", "echo 0 > /proc/sys/kernel/shm_rmid_forced"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert "Read-only file system" in result.stderr


def _without_namespace(kind):
    def change(config):
        config["linux"]["namespaces"] = [item for item in config["linux"]["namespaces"] if item["type"] != kind]
        if kind == "uts":
            config.pop("hostname", None)
            config.pop("domainname", None)

    return change


def _joined(kind, path):
    def change(config):
        for item in config["linux"]["namespaces"]:
            if item["type"] == kind:
                item["path"] = path

    return change


KEY_ERRORS = [
    (
        "not namespaced",
        {"vm.swappiness": "10"},
        None,
        "linux.sysctl.vm.swappiness: not a setting of a namespace the container can own, so it would change the host; "
        "allowed are net.*, fs.mqueue.*, kernel.domainname and the IPC settings kernel.msgmax, kernel.msgmnb, "
        "kernel.msgmni, kernel.sem, kernel.shm_rmid_forced, kernel.shmall, kernel.shmmax, kernel.shmmni",
    ),
    (
        "hostname",
        {"kernel.hostname": "other"},
        None,
        "linux.sysctl.kernel.hostname: set the container's host name with the hostname field of config.json instead",
    ),
    (
        "net without network namespace",
        {"net.ipv4.ip_forward": "1"},
        _without_namespace("network"),
        "linux.sysctl.net.ipv4.ip_forward: needs the container's own network namespace, or it would change the host's value; "
        'add {"type": "network"} to linux.namespaces',
    ),
    (
        "ipc without ipc namespace",
        {"kernel.shmmax": "4096"},
        _without_namespace("ipc"),
        "linux.sysctl.kernel.shmmax: needs the container's own ipc namespace, or it would change the host's value; "
        'add {"type": "ipc"} to linux.namespaces',
    ),
    (
        "domainname without uts namespace",
        {"kernel.domainname": "x"},
        _without_namespace("uts"),
        "linux.sysctl.kernel.domainname: needs the container's own uts namespace, or it would change the host's value; "
        'add {"type": "uts"} to linux.namespaces',
    ),
    (
        "caller's network namespace",
        {"net.ipv4.ip_forward": "1"},
        _joined("network", "/proc/self/ns/net"),
        "linux.sysctl.net.ipv4.ip_forward: linux.namespaces joins the caller's own network namespace (/proc/self/ns/net), "
        "so this would change the host's value",
    ),
    (
        "empty component",
        {"net..ip_forward": "1"},
        None,
        "linux.sysctl.net..ip_forward: invalid key 'net..ip_forward': "
        "expected names separated by dots or slashes, such as net.ipv4.ip_forward",
    ),
    (
        "parent in slash form",
        {"net/ipv4/../../vm/swappiness": "1"},
        None,
        "linux.sysctl.net/ipv4/../../vm/swappiness: invalid key 'net/ipv4/../../vm/swappiness': "
        "expected names separated by dots or slashes, such as net.ipv4.ip_forward",
    ),
    (
        "not namespaced in slash form",
        {"vm/swappiness": "10"},
        None,
        "linux.sysctl.vm/swappiness: not a setting of a namespace the container can own, so it would change the host; "
        "allowed are net.*, fs.mqueue.*, kernel.domainname and the IPC settings kernel.msgmax, kernel.msgmnb, "
        "kernel.msgmni, kernel.sem, kernel.shm_rmid_forced, kernel.shmall, kernel.shmmax, kernel.shmmni",
    ),
    (
        "number value",
        {"net.ipv4.ip_forward": 1},
        None,
        "linux.sysctl.net.ipv4.ip_forward: expected a string, got number 1",
    ),
]


def _create_fails(runtime, bundle, message: str) -> None:
    """Check that create fails with one line of stderr and leaves no state directory."""
    container_id = runtime.container_id()
    fails_cleanly(runtime, runtime("create", "--bundle", str(bundle), container_id), f"userrunc: create: {message}")
    assert not (runtime.state_root / container_id).exists()


@pytest.mark.parametrize("name, sysctl, change, message", KEY_ERRORS, ids=[case[0] for case in KEY_ERRORS])
def test_sysctl_bad_key(runtime, name, sysctl, change, message):
    config = _config(runtime)
    if change is not None:
        change(config)
    config["linux"]["sysctl"] = sysctl
    _create_fails(runtime, runtime.bundle(config=config), f"invalid config.json: {message}")


def test_sysctl_unknown_setting(runtime):
    config = _config(runtime)
    config["linux"]["sysctl"] = {"net.ipv4.no_such_setting": "1"}
    _create_fails(
        runtime,
        runtime.bundle(config=config),
        "linux.sysctl.net.ipv4.no_such_setting: cannot write '1' to /proc/sys/net/ipv4/no_such_setting: No such file or directory",
    )


def test_sysctl_without_proc_mount(runtime):
    config = _config(runtime)
    config["mounts"] = [mount for mount in config["mounts"] if mount["destination"] != "/proc"]
    config["linux"]["sysctl"] = {"net.ipv4.ping_group_range": "0 0"}
    bundle = runtime.bundle(config=config)
    fake = bundle.rootfs / "proc" / "sys" / "net" / "ipv4" / "ping_group_range"
    fake.parent.mkdir(parents=True)
    fake.write_text("unchanged\n")
    bundle.write()
    _create_fails(
        runtime,
        bundle,
        "linux.sysctl.net.ipv4.ping_group_range: /proc/sys/net/ipv4/ping_group_range "
        "is not on a proc filesystem in the container; mount proc on /proc",
    )
    assert fake.read_text() == "unchanged\n"
