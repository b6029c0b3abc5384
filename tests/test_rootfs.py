"""The whole rootfs: the configs of `runc spec` and `userrunc spec`, root.readonly, propagation, --no-pivot, mountLabel."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import support
from test_rootfs_support import config_with_mounts, host_mount, owned_dir, parse_mountinfo, run_bundle

# Prints the mountinfo, then one line for each fact the config requests.
CHECK_SCRIPT = """
cat /proc/self/mountinfo
echo ---
for dev in null zero full random urandom tty; do stat -c "%n %t:%T" /dev/$dev; done
for link in fd stdin stdout stderr ptmx; do echo "/dev/$link -> $(readlink /dev/$link)"; done
echo "keys $(wc -c < /proc/keys)"
echo "acpi $(ls -A /proc/acpi | wc -l)"
touch /root-write 2>/dev/null && echo "root rw" || echo "root ro"
echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo "proc/sys rw" || echo "proc/sys ro"
echo x > /dev/shm/x && echo "shm rw"
"""


def _spec_config(runtime, tool: str) -> dict:
    """Write config.json with `runc spec` or `userrunc spec` (with --rootless for the rootless runtime) and load it."""
    directory = runtime.workdir / f"spec-{tool}"
    directory.mkdir()
    flags = ["--rootless"] if runtime.rootless else []
    if tool == "runc":
        subprocess.run(["runc", "spec", *flags, "--bundle", str(directory)], check=True)
    else:
        os.chown(directory, runtime.uid, runtime.gid)
        result = runtime("spec", *flags, "--bundle", str(directory))
        assert result.returncode == 0, result
    config = json.loads((directory / "config.json").read_text())
    if runtime.rootless and tool == "runc":
        # runc spec --rootless maps the id of the user who ran it (root here).
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": runtime.uid, "size": 1}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": runtime.gid, "size": 1}]
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", CHECK_SCRIPT]
    return config


def _check_spec_rootfs(runtime, result) -> None:
    assert result.returncode == 0, result
    mountinfo, _separator, facts = result.stdout.partition("---\n")
    mounts = parse_mountinfo(mountinfo)
    assert "ro" in mounts["/"].options
    assert mounts["/proc"].fstype == "proc"

    assert mounts["/dev"].fstype == "tmpfs"
    assert {"nosuid"} <= mounts["/dev"].options
    assert mounts["/dev/pts"].fstype == "devpts"
    assert {"ptmxmode=666", "mode=620"} <= mounts["/dev/pts"].super_options
    assert mounts["/dev/shm"].fstype == "tmpfs"
    assert {"nosuid", "noexec", "nodev"} <= mounts["/dev/shm"].options
    assert mounts["/dev/mqueue"].fstype == "mqueue"

    assert mounts["/sys"].fstype == "sysfs"
    assert "ro" in mounts["/sys"].options
    assert "ro" in mounts["/sys/fs/cgroup"].options
    assert "ro" in mounts["/proc/sys"].options
    assert mounts["/proc/acpi"].fstype == "tmpfs"

    assert facts.splitlines() == [
        "/dev/null 1:3",
        "/dev/zero 1:5",
        "/dev/full 1:7",
        "/dev/random 1:8",
        "/dev/urandom 1:9",
        "/dev/tty 5:0",
        "/dev/fd -> /proc/self/fd",
        "/dev/stdin -> /proc/self/fd/0",
        "/dev/stdout -> /proc/self/fd/1",
        "/dev/stderr -> /proc/self/fd/2",
        "/dev/ptmx -> pts/ptmx",
        "keys 0",
        "acpi 0",
        "root ro",
        "proc/sys ro",
        "shm rw",
    ]


@pytest.mark.parametrize("tool", ["runc", "userrunc"])
@pytest.mark.parametrize("pivot", ["pivot_root", "no-pivot"])
def test_spec_config_rootfs(runtime, tool, pivot):
    config = _spec_config(runtime, tool)
    extra = ["--no-pivot"] if pivot == "no-pivot" else []
    _bundle, result = run_bundle(runtime, config, *extra)
    _check_spec_rootfs(runtime, result)


@pytest.mark.parametrize(
    "propagation, present, absent",
    [
        ("private", set(), {"shared", "master", "unbindable"}),
        ("rprivate", set(), {"shared", "master", "unbindable"}),
        ("shared", {"shared"}, {"unbindable"}),
        ("rshared", {"shared"}, {"unbindable"}),
        ("slave", set(), {"shared", "unbindable"}),
        ("rslave", set(), {"shared", "unbindable"}),
        ("unbindable", {"unbindable"}, {"shared", "master"}),
        ("runbindable", {"unbindable"}, {"shared", "master"}),
    ],
)
def test_rootfs_propagation(runtime, propagation, present, absent):
    config = config_with_mounts(runtime, [{"destination": "/data", "type": "tmpfs", "source": "tmpfs"}])
    config["linux"]["rootfsPropagation"] = propagation
    bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    root = parse_mountinfo(result.stdout)["/"]
    for field in present:
        assert root.has_optional(field), root
    for field in absent:
        assert not root.has_optional(field), root
    if "slave" in propagation and _host_root_is_shared():
        assert root.has_optional("master"), root
    assert not support.mounts_under(bundle.path)


def _host_root_is_shared() -> bool:
    with open("/proc/1/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if fields[4] == "/":
                return any(field.startswith("shared:") for field in fields[6 : fields.index("-")])
    return False


@pytest.mark.parametrize("propagation", [None, "rshared", "rslave"])
def test_rootfs_is_a_shared_mount_point(runtime, propagation):
    config = config_with_mounts(runtime, [{"destination": "/data", "type": "tmpfs", "source": "tmpfs"}])
    if propagation:
        config["linux"]["rootfsPropagation"] = propagation
    bundle = runtime.bundle(config)
    with host_mount("--bind", "--make-shared", str(bundle.rootfs), target=bundle.rootfs):
        result = runtime("run", "-b", str(bundle), runtime.container_id())
        # Nothing the container mounted may appear on the host.
        assert support.mounts_under(bundle.path) == [str(bundle.rootfs)]
    assert result.returncode == 0, result
    mounts = parse_mountinfo(result.stdout)
    assert mounts["/data"].fstype == "tmpfs"
    if propagation == "rshared":
        assert mounts["/"].has_optional("shared"), mounts["/"]
    else:
        # rslave, the default: host mount events under the rootfs still reach the container.
        assert mounts["/"].has_optional("master"), mounts["/"]


def test_no_pivot_keeps_mount_propagation_options(runtime):
    source = owned_dir(runtime, "source")
    config = config_with_mounts(runtime, [{"destination": "/data", "type": "bind", "source": str(source), "options": ["bind", "shared"]}])
    bundle, result = run_bundle(runtime, config, "--no-pivot")
    assert result.returncode == 0, result
    mounts = parse_mountinfo(result.stdout)
    assert mounts["/data"].has_optional("shared")
    assert not support.mounts_under(bundle.path)


def test_read_only_root_with_writable_mounts_beneath(runtime):
    source = owned_dir(runtime, "source")
    script = "cat /proc/self/mountinfo; touch /x 2>/dev/null || echo root-ro; echo a > /data/a && echo a > /bind/a && echo beneath-rw"
    config = config_with_mounts(
        runtime,
        [
            {"destination": "/data", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/bind", "type": "bind", "source": str(source), "options": ["rbind", "rw"]},
        ],
        ["sh", "-c", script],
    )
    config["root"]["readonly"] = True
    _bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[-2:] == ["root-ro", "beneath-rw"]
    mounts = parse_mountinfo(result.stdout)
    assert "ro" in mounts["/"].options
    assert "rw" in mounts["/data"].options
    assert (source / "a").read_text() == "a\n"


def test_writable_root(runtime):
    config = config_with_mounts(runtime, [], ["sh", "-c", "cat /proc/self/mountinfo; touch /written"])
    config["root"]["readonly"] = False
    bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    assert "rw" in parse_mountinfo(result.stdout)["/"].options
    assert (bundle.rootfs / "written").exists()


def test_mount_label_ignored_without_selinux(runtime):
    # This machine has no SELinux, so the label is not passed to the kernel
    # (which would reject context= on a kernel without SELinux).
    assert not os.path.exists("/sys/fs/selinux/enforce")
    config = config_with_mounts(runtime, [{"destination": "/data", "type": "tmpfs", "source": "tmpfs"}])
    config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"
    _bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    assert not any("context" in option for option in parse_mountinfo(result.stdout)["/data"].super_options)


LABEL = "system_u:object_r:container_file_t:s0:c1,c2"


@pytest.mark.parametrize(
    "data, fstype, expected",
    [
        ("", "tmpfs", f'context="{LABEL}"'),
        ("size=64k,mode=755", "tmpfs", f'size=64k,mode=755,context="{LABEL}"'),
        ("newinstance,gid=5", "devpts", f'newinstance,gid=5,context="{LABEL}"'),
        ("lowerdir=/l", "overlay", f'lowerdir=/l,context="{LABEL}"'),
        ("", "proc", ""),
        ("", "sysfs", ""),
        ("", "mqueue", ""),
        ("nsdelegate", "cgroup2", "nsdelegate"),
    ],
)
def test_mount_label_data(data, fstype, expected):
    from userrunc.mounts import label_data

    assert label_data(data, LABEL, fstype) == expected
    assert label_data(data, None, fstype) == data
