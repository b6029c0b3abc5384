"""Rejected mount entries: one clear line naming the mount and the option, exit status 1, nothing left behind."""

from __future__ import annotations

import pytest

from test_rootfs_support import fails_cleanly, owned_dir, run_mounts

# The default config has seven mounts, so an added entry is mounts[7].
PREFIX = "userrunc: run: "
MAPPING = [{"containerID": 0, "hostID": 1000, "size": 1}]

REJECTED = {
    "idmap on tmpfs": (
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"], "uidMappings": MAPPING, "gidMappings": MAPPING},
        "invalid config.json: mounts[7].options: option idmap on /data needs a bind mount (type 'tmpfs' cannot be idmapped here)",
    ),
    "uid mappings alone": (
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"], "uidMappings": MAPPING},
        "invalid config.json: mounts[7].gidMappings: missing for /data: an idmapped mount needs both uidMappings and gidMappings",
    ),
    "idmap without mappings": (
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["bind", "ridmap"]},
        "invalid config.json: mounts[7].uidMappings: missing for /data: option ridmap needs the mount's own uidMappings and gidMappings",
    ),
    "tmpcopyup on bind": (
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["bind", "tmpcopyup"]},
        "invalid config.json: mounts[7].options: option tmpcopyup on /data needs type tmpfs, not 'bind'",
    ),
    "bind without source": (
        {"destination": "/data", "type": "bind", "options": ["bind"]},
        "mounts[7] /data: a bind mount needs a source",
    ),
    "missing bind source": (
        {"destination": "/data", "type": "bind", "source": "/nonexistent/x", "options": ["rbind"]},
        "mounts[7] /data: bind source /nonexistent/x: No such file or directory",
    ),
    "remount of nothing": (
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["remount", "ro"]},
        "mounts[7] /data: option remount: cannot open the destination: No such file or directory",
    ),
    "remount of a directory": (
        {"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["remount", "ro"]},
        "mounts[7] /etc: mount tmpfs on /etc type tmpfs (flags MS_RDONLY|MS_REMOUNT): Invalid argument "
        "(option remount changes a mount made by an earlier entry; the destination must be a mount point)",
    ),
    "unknown filesystem": (
        {"destination": "/data", "type": "nosuchfs", "source": "x"},
        "mounts[7] /data: mount x on /data type nosuchfs: No such device",
    ),
    "bad filesystem option": (
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "bogus=1"]},
        "mounts[7] /data: mount tmpfs on /data type tmpfs (flags MS_NOSUID, data 'bogus=1'): Invalid argument",
    ),
    "mount over root": (
        {"destination": "/", "type": "tmpfs", "source": "tmpfs"},
        "invalid config.json: mounts[7].destination: cannot mount over the container's root",
    ),
    "missing type": (
        {"destination": "/data", "source": "tmpfs"},
        'invalid config.json: mounts[7].type: missing filesystem type for /data (use "bind" for a bind mount)',
    ),
    "directory over file": (
        {"destination": "/etc/passwd", "type": "tmpfs", "source": "tmpfs"},
        "mounts[7] /etc/passwd: cannot create directory /etc/passwd in the rootfs: a file is in the way",
    ),
    "file over directory": (
        {"destination": "/etc", "type": "bind", "source": "/etc/hostname", "options": ["bind"]},
        "mounts[7] /etc: cannot create file /etc in the rootfs: a directory is in the way",
    ),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_mount(runtime, case):
    mount, expected = REJECTED[case]
    _bundle, result = run_mounts(runtime, [mount])
    fails_cleanly(runtime, result, PREFIX + expected)


def test_block_device_without_root(rootless_runtime):
    mount = {"destination": "/data", "type": "ext4", "source": "/dev/null", "options": ["ro"]}
    _bundle, result = run_mounts(rootless_runtime, [mount])
    fails_cleanly(
        rootless_runtime, result, PREFIX + "mounts[7] /data: mount /dev/null on /data type ext4 (flags MS_RDONLY): Operation not permitted"
    )


def test_idmap_of_host_filesystem_without_root(rootless_runtime):
    runtime = rootless_runtime
    source = owned_dir(runtime, "source")
    mapping = [{"containerID": 0, "hostID": runtime.uid, "size": 1}]
    mount = {"destination": "/data", "type": "bind", "source": str(source), "options": ["bind", "idmap"], "uidMappings": mapping, "gidMappings": mapping}
    _bundle, result = run_mounts(runtime, [mount])
    fails_cleanly(
        runtime,
        result,
        PREFIX + f"mounts[7] /data: option idmap: mount_setattr(MOUNT_ATTR_IDMAP) failed: Operation not permitted ({source} is on a "
        "filesystem that belongs to another user namespace, or is idmapped already; a filesystem of the host can be idmapped "
        "only by real root without a user namespace)",
    )


def test_idmap_of_unmapped_host_id(rootless_runtime):
    runtime = rootless_runtime
    source = owned_dir(runtime, "source")
    mapping = [{"containerID": 0, "hostID": 0, "size": 1}]
    mount = {"destination": "/data", "type": "bind", "source": str(source), "options": ["rbind", "ridmap"], "uidMappings": mapping, "gidMappings": mapping}
    _bundle, result = run_mounts(runtime, [mount])
    fails_cleanly(
        runtime, result, PREFIX + "mounts[7] /data: option ridmap: uidMappings: host uid 0 is not mapped in the container's user namespace"
    )
