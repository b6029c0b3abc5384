"""`features`: what this runtime supports, in the shape of runc's `features` output
(runtime-spec features.md)."""

from __future__ import annotations

import json

from .. import OCI_VERSION, __version__
from ..config import HOOK_NAMES, NAMESPACE_TYPES
from ..linux import mountflags
from ..security import lsm
from ..security.capabilities import CAPABILITIES


def features() -> dict:
    mount_options = sorted(
        set(mountflags.FLAG_OPTIONS)
        | set(mountflags.PROPAGATION_OPTIONS)
        | set(mountflags.RECURSIVE_OPTIONS)
        | {"tmpcopyup"}
    )
    linux = {
        "namespaces": list(NAMESPACE_TYPES),
        "capabilities": sorted(CAPABILITIES, key=CAPABILITIES.get),
        "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": True, "rdma": False},
        "apparmor": {"enabled": lsm.apparmor_enabled()},
        "selinux": {"enabled": lsm.selinux_enabled()},
        "intelRdt": {"enabled": False},
        "mountExtensions": {"idmap": {"enabled": True}},
    }
    annotations = {"org.userrunc.version": __version__}
    try:
        from ..security import seccomp
    except ImportError:
        linux["seccomp"] = {"enabled": False}
    else:
        linux["seccomp"] = seccomp.features()
        annotations["io.github.seccomp.libseccomp.version"] = seccomp.library_version()
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOK_NAMES),
        "mountOptions": mount_options,
        "linux": linux,
        "annotations": annotations,
    }


def run(invocation) -> int:
    print(json.dumps(features(), indent=4))
    return 0
