"""`spec`: write a default config.json that runs a shell in ./rootfs as it is.

The capability set is podman's default rather than runc's three, so that
ordinary software works in the container: package managers chown files and
call setgroups. Inside a user namespace these capabilities reach only what
the namespace owns.
"""

from __future__ import annotations

import json
import os

from .. import OCI_VERSION
from ..errors import UserruncError

DEFAULT_CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
]
MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_spec() -> dict:
    """Return the configuration for real root: its own namespaces, a read-only rootfs."""
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {name: list(DEFAULT_CAPABILITIES) for name in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "userrunc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def rootless_spec(uid: int, gid: int, uid_mappings: list[dict], gid_mappings: list[dict]) -> dict:
    """Return the configuration for an unprivileged caller with the given id mappings.

    As with `runc spec --rootless`, the container keeps the host's network
    (an unprivileged user cannot connect a new network namespace without
    slirp4netns or pasta), so sysfs becomes a read-only bind of the host's
    /sys, and cgroup limits are left out.
    """
    spec = default_spec()
    linux = spec["linux"]
    linux.pop("resources")
    linux["namespaces"] = [item for item in linux["namespaces"] if item["type"] != "network"]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = uid_mappings
    linux["gidMappings"] = gid_mappings
    single = len(gid_mappings) == 1 and gid_mappings[0]["size"] == 1
    mounts = []
    for mount in spec["mounts"]:
        if mount["destination"] == "/sys":
            mounts.append(
                {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
            )
            continue
        if single and "options" in mount:
            # With one mapped gid, gid=5 (tty) does not exist in the container.
            mount["options"] = [option for option in mount["options"] if not option.startswith(("gid=", "uid="))]
        mounts.append(mount)
    spec["mounts"] = mounts
    return spec


def _rootless_mappings() -> tuple[list[dict], list[dict]]:
    from .. import idmap
    from ..userns import _user_name

    uid = os.getuid()
    gid = os.getgid()
    user = _user_name(uid)
    try:
        uid_ranges = idmap.subordinate_ranges("uid", user, missing_ok=True)
        gid_ranges = idmap.subordinate_ranges("gid", user, missing_ok=True)
    except idmap.IdMapError:
        uid_ranges = gid_ranges = []
    if uid_ranges and gid_ranges:
        uids = idmap.automatic_mappings(uid, uid_ranges)
        gids = idmap.automatic_mappings(gid, gid_ranges)
    else:
        uids = idmap.single_mapping(uid)
        gids = idmap.single_mapping(gid)
    return [item.to_spec() for item in uids], [item.to_spec() for item in gids]


def run(invocation) -> int:
    bundle = os.path.abspath(invocation.options.get("bundle") or ".")
    if not os.path.isdir(bundle):
        raise UserruncError(f"bundle {bundle} is not a directory (--bundle)")
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise UserruncError(f"{path} already exists; remove it first to write a new one")
    if invocation.options.get("rootless"):
        uid_mappings, gid_mappings = _rootless_mappings()
        spec = rootless_spec(os.getuid(), os.getgid(), uid_mappings, gid_mappings)
    else:
        spec = default_spec()
    try:
        with open(path, "x") as handle:
            json.dump(spec, handle, indent=2)
            handle.write("\n")
    except OSError as error:
        raise UserruncError(f"cannot write {path}: {error.strerror}") from None
    return 0
