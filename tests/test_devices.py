"""Device nodes: the default set, linux.devices, the /dev symlinks and /dev/console, as root and rootless."""

from __future__ import annotations

import pytest

import support
from test_rootfs_support import config_with_mounts, fails_cleanly, run_bundle

STAT_FORMAT = "%n %F %t:%T %a %u %g"


def _stat_lines(runtime, devices, *paths):
    config = config_with_mounts(runtime, [], ["stat", "-c", STAT_FORMAT, *paths])
    config["linux"]["devices"] = devices
    _bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    return result.stdout.splitlines()


def test_default_devices(runtime):
    lines = _stat_lines(runtime, [], "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
    numbers = [line.split()[-4] for line in lines]
    # stat prints major and minor in hexadecimal.
    assert numbers == ["1:3", "1:5", "1:7", "1:8", "1:9", "5:0"]
    for line in lines:
        assert " character special file " in line
        assert line.split()[-3] == "666"
    if not runtime.rootless:
        assert all(line.endswith(" 0 0") for line in lines)


def test_dev_symlinks_and_shm(runtime):
    config = config_with_mounts(
        runtime, [], ["sh", "-c", "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; stat -f -c %T /dev/shm; ls /dev/pts/ptmx"]
    )
    _bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "pts/ptmx",
        "tmpfs",
        "/dev/pts/ptmx",
    ]


def test_configured_device_mode_and_owner(root_runtime):
    device = {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o620, "uid": 1000, "gid": 5}
    block = {"path": "/dev/disks/loop0", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0}
    fifo = {"path": "/dev/pipe", "type": "p", "fileMode": 0o640, "uid": 1000, "gid": 1000}
    lines = _stat_lines(root_runtime, [device, block, fifo], "/dev/fuse", "/dev/disks/loop0", "/dev/pipe")
    assert lines == [
        "/dev/fuse character special file a:e5 620 1000 5",
        "/dev/disks/loop0 block special file 7:0 600 0 0",
        "/dev/pipe fifo 0:0 640 1000 1000",
    ]


def test_configured_device_rootless_binds_host_node(rootless_runtime):
    device = {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}
    fifo = {"path": "/dev/pipe", "type": "p", "fileMode": 0o640}
    lines = _stat_lines(rootless_runtime, [device, fifo], "/dev/fuse", "/dev/pipe")
    # The host's node keeps its mode: changing it would change the host's file.
    assert lines[0].startswith("/dev/fuse character special file a:e5 600 ")
    assert lines[1].startswith("/dev/pipe fifo 0:0 640 0 0")


def test_default_device_listed_again(runtime):
    devices = [
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600},
        {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5},
        {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640},
    ]
    lines = _stat_lines(runtime, devices, "/dev/null", "/dev/zero")
    assert [line.split()[-4] for line in lines] == ["1:3", "1:5"]
    if not runtime.rootless:
        assert [line.split()[-3] for line in lines] == ["600", "640"]


def test_device_missing_on_host_rootless(rootless_runtime):
    config = config_with_mounts(rootless_runtime, [], ["true"])
    config["linux"]["devices"] = [{"path": "/dev/not-on-host", "type": "c", "major": 1, "minor": 3}]
    _bundle, result = run_bundle(rootless_runtime, config)
    fails_cleanly(
        rootless_runtime,
        result,
        "userrunc: run: linux.devices[0] /dev/not-on-host: the host has no /dev/not-on-host (No such file or directory), "
        "and a user namespace cannot create device nodes",
    )


def test_device_numbers_differ_from_host_rootless(rootless_runtime):
    config = config_with_mounts(rootless_runtime, [], ["true"])
    config["linux"]["devices"] = [{"path": "/dev/zero", "type": "c", "major": 1, "minor": 3}]
    _bundle, result = run_bundle(rootless_runtime, config)
    fails_cleanly(
        rootless_runtime,
        result,
        "userrunc: run: linux.devices[0] /dev/zero: the config asks for c 1:3, but the host's /dev/zero is c 1:5; "
        "without root the host's node at the same path is bind-mounted, so the two must match",
    )


def test_bind_mount_over_default_device(runtime):
    """podman -v /dev/null:/dev/null: the mount stays and the default node is not made over it."""
    bind = {"destination": "/dev/null", "type": "bind", "source": "/dev/null", "options": ["rbind", "nosuid", "noexec"]}
    config = config_with_mounts(runtime, [bind], ["sh", "-c", "stat -c '%t:%T' /dev/null; echo x > /dev/null && echo written"])
    _bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["1:3", "written"]


def test_bind_mount_over_configured_device(runtime):
    """podman --device without root lists the device and also binds the host's node there."""
    bind = {"destination": "/dev/fuse", "type": "bind", "source": "/dev/fuse", "options": ["rbind", "nosuid", "noexec"]}
    config = config_with_mounts(runtime, [bind], ["stat", "-c", "%t:%T", "/dev/fuse"])
    config["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}]
    _bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["a:e5"]


def test_device_over_directory_fails(root_runtime):
    config = config_with_mounts(root_runtime, [{"destination": "/dev/busy", "type": "tmpfs", "source": "tmpfs"}], ["true"])
    config["linux"]["devices"] = [{"path": "/dev/busy", "type": "c", "major": 1, "minor": 3}]
    _bundle, result = run_bundle(root_runtime, config)
    fails_cleanly(root_runtime, result, "userrunc: run: linux.devices[0] /dev/busy: a directory is in the way")


def test_console_on_terminal(runtime):
    script = "stat -c '%F %t' /dev/console; readlink /dev/ptmx; tty"
    config = config_with_mounts(runtime, [], ["sh", "-c", script])
    config["process"]["terminal"] = True
    bundle = runtime.bundle(config)
    status, output = support.run_on_terminal(runtime, ["run", "-b", str(bundle), runtime.container_id()])
    assert status == 0
    lines = output.splitlines()
    # 0x88 = 136, the major number of devpts slaves.
    assert lines[:3] == ["character special file 88", "pts/ptmx", "/dev/pts/0"]


@pytest.mark.parametrize(
    "path, message",
    [
        ("/dev/../etc/x", "linux.devices[0] /dev/../etc/x: the path is /etc/x once normalised, which is not under /dev"),
        ("/etc/x", "invalid config.json: linux.devices[0].path: must be a path under /dev, got '/etc/x'"),
    ],
)
def test_device_outside_dev_rejected(runtime, path, message):
    config = config_with_mounts(runtime, [], ["true"])
    config["linux"]["devices"] = [{"path": path, "type": "c", "major": 1, "minor": 3}]
    _bundle, result = run_bundle(runtime, config)
    fails_cleanly(runtime, result, "userrunc: run: " + message)
