"""Loading and validating config.json (runtime-spec 1.2, Linux).

Validation runs in the caller before anything is created, so a bad config
leaves nothing behind. Each error is an InvalidConfig that names the JSON
path and the bad value. Unknown properties are ignored, as the spec
requires; known ones must have the right type and value.
"""

from __future__ import annotations

import os

from . import jsonutil
from .errors import InvalidConfig, NotSupported, UserruncError

NAMESPACE_TYPES = ("cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts")
ROOTFS_PROPAGATION = ("private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable")
HOOK_NAMES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
RLIMIT_NAMES = (
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
)
MAX_UINT32 = 0xFFFFFFFF
MAX_UINT64 = 0xFFFFFFFFFFFFFFFF


def type_name(value) -> str:
    """Return the JSON type name of a parsed value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def show_value(value) -> str:
    """Return a value as JSON, cut to 80 characters, for error messages."""
    try:
        text = jsonutil.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expect(value, expected_type, path: str, description: str):
    if expected_type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected_type is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, expected_type)
    if not ok:
        raise InvalidConfig(path, f"expected {description}, got {type_name(value)} {show_value(value)}")
    return value


def _object(value, path):
    return _expect(value, dict, path, "an object")


def _array(value, path):
    return _expect(value, list, path, "an array")


def _string(value, path):
    return _expect(value, str, path, "a string")


def _bool(value, path):
    return _expect(value, bool, path, "a boolean")


def _integer(value, path, low=None, high=None, description="an integer"):
    _expect(value, int, path, description)
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidConfig(path, f"expected {description}, got {value}")
    return value


def _uint32(value, path):
    return _integer(value, path, 0, MAX_UINT32, "an integer from 0 to 4294967295")


def _uint64(value, path):
    return _integer(value, path, 0, MAX_UINT64, "an integer from 0 to 2^64-1")


def _string_array(value, path):
    _array(value, path)
    for index, item in enumerate(value):
        _string(item, f"{path}[{index}]")
    return value


def _optional(container: dict, key: str, check, path: str):
    if key in container and container[key] is not None:
        return check(container[key], f"{path}.{key}" if path else key)
    return None


def load(config_path: str) -> dict:
    """Read and validate config.json; raise InvalidConfig or UserruncError."""
    try:
        with open(config_path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise UserruncError(
            f"config file {config_path} not found; run 'userrunc spec' in the bundle to write one "
            "('userrunc spec --rootless' without root)"
        ) from None
    except IsADirectoryError:
        raise UserruncError(f"config file {config_path} is a directory") from None
    except OSError as error:
        raise UserruncError(f"cannot read config file {config_path}: {error.strerror}") from None
    try:
        spec = jsonutil.loads(data)
    except UnicodeDecodeError:
        raise InvalidConfig("", "the file is not UTF-8 text") from None
    except ValueError as error:
        raise InvalidConfig("", f"malformed JSON: {error}") from None
    validate(spec)
    return spec


def validate(spec) -> None:
    """Check every property that userrunc reads; raise InvalidConfig on the first bad one."""
    _object(spec, "")
    if "ociVersion" not in spec:
        raise InvalidConfig("ociVersion", "missing required property")
    version = _string(spec["ociVersion"], "ociVersion")
    if not version.startswith("1."):
        raise InvalidConfig("ociVersion", f"unsupported version {version!r}; userrunc supports 1.0.0 to 1.2.x")

    if "root" not in spec:
        raise InvalidConfig("root", "missing required property")
    root = _object(spec["root"], "root")
    if "path" not in root:
        raise InvalidConfig("root.path", "missing required property")
    if not _string(root["path"], "root.path"):
        raise InvalidConfig("root.path", "must not be empty")
    _optional(root, "readonly", _bool, "root")

    if "process" not in spec:
        raise InvalidConfig("process", "missing required property (userrunc needs a process to start)")
    _validate_process(_object(spec["process"], "process"))

    _optional(spec, "hostname", _string, "")
    _optional(spec, "domainname", _string, "")
    if "mounts" in spec:
        for index, mount in enumerate(_array(spec["mounts"], "mounts")):
            _validate_mount(mount, f"mounts[{index}]")
    if "hooks" in spec:
        _validate_hooks(_object(spec["hooks"], "hooks"))
    if "annotations" in spec:
        annotations = _object(spec["annotations"], "annotations")
        for key, value in annotations.items():
            _string(value, f"annotations.{key}")
    if "linux" in spec:
        _validate_linux(_object(spec["linux"], "linux"))


def validate_process(process) -> None:
    """Check a process object on its own (as `exec --process` reads it); raise InvalidConfig."""
    _validate_process(_object(process, "process"))


def _validate_process(process: dict) -> None:
    if "args" not in process:
        raise InvalidConfig("process.args", "missing required property")
    args = _string_array(process["args"], "process.args")
    if not args:
        raise InvalidConfig("process.args", "must contain at least the program to run")
    if not args[0]:
        raise InvalidConfig("process.args[0]", "the program name must not be empty")
    if "cwd" not in process:
        raise InvalidConfig("process.cwd", "missing required property")
    cwd = _string(process["cwd"], "process.cwd")
    if not cwd.startswith("/"):
        raise InvalidConfig("process.cwd", f"must be an absolute path, got {cwd!r}")
    if "env" in process:
        for index, item in enumerate(_string_array(process["env"], "process.env")):
            if "=" not in item:
                raise InvalidConfig(f"process.env[{index}]", f"expected NAME=VALUE, got {item!r}")
    _optional(process, "terminal", _bool, "process")
    if "consoleSize" in process:
        size = _object(process["consoleSize"], "process.consoleSize")
        for key in ("height", "width"):
            if key not in size:
                raise InvalidConfig(f"process.consoleSize.{key}", "missing required property")
            _integer(size[key], f"process.consoleSize.{key}", 0, 65535, "an integer from 0 to 65535")
    if "user" in process:
        user = _object(process["user"], "process.user")
        for key in ("uid", "gid"):
            if key not in user:
                raise InvalidConfig(f"process.user.{key}", "missing required property")
            _uint32(user[key], f"process.user.{key}")
        _optional(user, "umask", _uint32, "process.user")
        if "additionalGids" in user:
            for index, gid in enumerate(_array(user["additionalGids"], "process.user.additionalGids")):
                _uint32(gid, f"process.user.additionalGids[{index}]")
        if "username" in user:
            _string(user["username"], "process.user.username")
    else:
        raise InvalidConfig("process.user", "missing required property")
    if "capabilities" in process:
        from .security import capabilities

        capabilities.validate(_object(process["capabilities"], "process.capabilities"), "process.capabilities")
    if "rlimits" in process:
        seen = set()
        for index, rlimit in enumerate(_array(process["rlimits"], "process.rlimits")):
            path = f"process.rlimits[{index}]"
            _object(rlimit, path)
            for key in ("type", "soft", "hard"):
                if key not in rlimit:
                    raise InvalidConfig(f"{path}.{key}", "missing required property")
            kind = _string(rlimit["type"], f"{path}.type")
            if kind not in RLIMIT_NAMES:
                raise InvalidConfig(f"{path}.type", f"unknown rlimit {kind!r}; expected one of {', '.join(RLIMIT_NAMES)}")
            if kind in seen:
                raise InvalidConfig(f"{path}.type", f"duplicate rlimit {kind}")
            seen.add(kind)
            soft = _uint64(rlimit["soft"], f"{path}.soft")
            hard = _uint64(rlimit["hard"], f"{path}.hard")
            if soft > hard:
                raise InvalidConfig(path, f"soft limit {soft} is above hard limit {hard} for {kind}")
    _optional(process, "noNewPrivileges", _bool, "process")
    _optional(process, "oomScoreAdj", lambda v, p: _integer(v, p, -1000, 1000, "an integer from -1000 to 1000"), "process")
    _optional(process, "apparmorProfile", _string, "process")
    _optional(process, "selinuxLabel", _string, "process")
    if process.get("apparmorProfile") or process.get("selinuxLabel"):
        from .security import lsm

        lsm.check(process)
    _optional(process, "scheduler", _validate_scheduler, "process")
    _optional(process, "ioPriority", _validate_io_priority, "process")
    _optional(process, "execCPUAffinity", _validate_exec_cpu_affinity, "process")


def _validate_scheduler(scheduler, path: str) -> None:
    """Check process.scheduler against the rules of sched_setattr(2), so most mistakes fail before anything is created."""
    from .security import scheduling as sched

    _object(scheduler, path)
    if scheduler.get("policy") is None:
        raise InvalidConfig(f"{path}.policy", "missing required property")
    policy = _string(scheduler["policy"], f"{path}.policy")
    if policy not in sched.POLICIES:
        raise InvalidConfig(f"{path}.policy", f"unknown policy {policy!r}; expected one of {', '.join(sched.POLICIES)}")
    nice_range = f"an integer from {sched.MIN_NICE} to {sched.MAX_NICE}"
    _optional(scheduler, "nice", lambda v, p: _integer(v, p, sched.MIN_NICE, sched.MAX_NICE, nice_range), path)

    priority = _optional(scheduler, "priority", lambda v, p: _integer(v, p, -(2**31), 2**31 - 1, "a 32-bit integer"), path) or 0
    if policy in sched.REAL_TIME_POLICIES and not 1 <= priority <= sched.MAX_RT_PRIORITY:
        raise InvalidConfig(f"{path}.priority", f"{policy} needs a priority from 1 to {sched.MAX_RT_PRIORITY}, got {priority}")
    if policy not in sched.REAL_TIME_POLICIES and priority != 0:
        raise InvalidConfig(f"{path}.priority", f"must be 0 for {policy}; only SCHED_FIFO and SCHED_RR use a priority")

    for index, flag in enumerate(_optional(scheduler, "flags", _string_array, path) or ()):
        if flag not in sched.SCHED_FLAGS:
            raise InvalidConfig(f"{path}.flags[{index}]", f"unknown flag {flag!r}; expected one of {', '.join(sched.SCHED_FLAGS)}")

    times = {key: _optional(scheduler, key, _uint64, path) or 0 for key in ("runtime", "deadline", "period")}
    if policy != "SCHED_DEADLINE":
        for key, value in times.items():
            if value:
                raise InvalidConfig(f"{path}.{key}", f"only applies to SCHED_DEADLINE, but the policy is {policy}")
        return
    runtime, deadline, period = times["runtime"], times["deadline"], times["period"]
    if runtime < sched.MIN_DEADLINE_RUNTIME:
        raise InvalidConfig(
            f"{path}.runtime", f"SCHED_DEADLINE needs a runtime of at least {sched.MIN_DEADLINE_RUNTIME} ns, got {runtime}"
        )
    if deadline < runtime:
        raise InvalidConfig(f"{path}.deadline", f"must be at least the runtime ({runtime} ns), got {deadline}")
    if period and period < deadline:
        raise InvalidConfig(f"{path}.period", f"must be 0 or at least the deadline ({deadline} ns), got {period}")
    for key in ("deadline", "period"):
        if times[key] > sched.MAX_DEADLINE_TIME:
            raise InvalidConfig(f"{path}.{key}", f"must be below 2^63 ns, got {times[key]}")


def _validate_io_priority(io_priority, path: str) -> None:
    from .security import scheduling as sched

    _object(io_priority, path)
    for key in ("class", "priority"):
        if io_priority.get(key) is None:
            raise InvalidConfig(f"{path}.{key}", "missing required property")
    io_class = _string(io_priority["class"], f"{path}.class")
    if io_class not in sched.IO_CLASSES:
        raise InvalidConfig(f"{path}.class", f"unknown class {io_class!r}; expected one of {', '.join(sched.IO_CLASSES)}")
    levels = f"an integer from 0 (highest) to {sched.MAX_IO_LEVEL} (lowest)"
    _integer(io_priority["priority"], f"{path}.priority", 0, sched.MAX_IO_LEVEL, levels)


def _validate_exec_cpu_affinity(affinity, path: str) -> None:
    # The spec excludes the init, so create and run only check the CPU
    # lists; exec applies them (process/exec_process.py).
    from .security import scheduling as sched

    _object(affinity, path)
    for key in ("initial", "final"):
        cpus = _optional(affinity, key, _string, path)
        if cpus is None:
            continue
        try:
            sched.parse_cpu_ranges(cpus)
        except ValueError as error:
            raise InvalidConfig(f"{path}.{key}", f"invalid CPU list {cpus!r}: {error}") from None


def _validate_mount(mount, path: str) -> None:
    _object(mount, path)
    if "destination" not in mount:
        raise InvalidConfig(f"{path}.destination", "missing required property")
    destination = _string(mount["destination"], f"{path}.destination")
    if not destination:
        raise InvalidConfig(f"{path}.destination", "must not be empty")
    _optional(mount, "type", _string, path)
    _optional(mount, "source", _string, path)
    if "options" in mount and mount["options"] is not None:
        _string_array(mount["options"], f"{path}.options")
    for key in ("uidMappings", "gidMappings"):
        if key in mount:
            _validate_id_mappings(mount[key], f"{path}.{key}")


def _validate_id_mappings(mappings, path: str) -> None:
    _array(mappings, path)
    for index, mapping in enumerate(mappings):
        item = f"{path}[{index}]"
        _object(mapping, item)
        for key in ("containerID", "hostID", "size"):
            if key not in mapping:
                raise InvalidConfig(f"{item}.{key}", "missing required property")
            _uint32(mapping[key], f"{item}.{key}")
        if mapping["size"] == 0:
            raise InvalidConfig(f"{item}.size", "must be at least 1")


def _validate_hooks(hooks: dict) -> None:
    for name, entries in hooks.items():
        if name not in HOOK_NAMES:
            continue
        _array(entries, f"hooks.{name}")
        for index, hook in enumerate(entries):
            path = f"hooks.{name}[{index}]"
            _object(hook, path)
            if "path" not in hook:
                raise InvalidConfig(f"{path}.path", "missing required property")
            hook_path = _string(hook["path"], f"{path}.path")
            if not hook_path.startswith("/"):
                raise InvalidConfig(f"{path}.path", f"must be an absolute path, got {hook_path!r}")
            if "args" in hook:
                _string_array(hook["args"], f"{path}.args")
            if "env" in hook:
                _string_array(hook["env"], f"{path}.env")
            if "timeout" in hook:
                _integer(hook["timeout"], f"{path}.timeout", 1, None, "a whole number of seconds, at least 1")


def _validate_linux(linux: dict) -> None:
    seen = {}
    if "namespaces" in linux:
        for index, namespace in enumerate(_array(linux["namespaces"], "linux.namespaces")):
            path = f"linux.namespaces[{index}]"
            _object(namespace, path)
            if "type" not in namespace:
                raise InvalidConfig(f"{path}.type", "missing required property")
            kind = _string(namespace["type"], f"{path}.type")
            if kind not in NAMESPACE_TYPES:
                raise InvalidConfig(
                    f"{path}.type", f"unknown namespace type {kind!r}; expected one of {', '.join(NAMESPACE_TYPES)}"
                )
            if kind in seen:
                raise InvalidConfig(f"{path}.type", f"duplicate namespace type {kind!r} (also at index {seen[kind]})")
            seen[kind] = index
            if "path" in namespace:
                ns_path = _string(namespace["path"], f"{path}.path")
                if not ns_path.startswith("/"):
                    raise InvalidConfig(f"{path}.path", f"must be an absolute path, got {ns_path!r}")
    for key in ("uidMappings", "gidMappings"):
        if key in linux:
            _validate_id_mappings(linux[key], f"linux.{key}")
    if "timeOffsets" in linux:
        offsets = _object(linux["timeOffsets"], "linux.timeOffsets")
        for clock, offset in offsets.items():
            path = f"linux.timeOffsets.{clock}"
            if clock not in ("monotonic", "boottime"):
                raise InvalidConfig(path, f"unknown clock {clock!r}; expected monotonic or boottime")
            _object(offset, path)
            if "secs" in offset:
                _integer(offset["secs"], f"{path}.secs", -(2**63), 2**63 - 1)
            if "nanosecs" in offset:
                _integer(offset["nanosecs"], f"{path}.nanosecs", 0, 999_999_999, "an integer from 0 to 999999999")
    if "devices" in linux:
        for index, device in enumerate(_array(linux["devices"], "linux.devices")):
            _validate_device(device, f"linux.devices[{index}]")
    _optional(linux, "cgroupsPath", _string, "linux")
    if "rootfsPropagation" in linux:
        propagation = _string(linux["rootfsPropagation"], "linux.rootfsPropagation")
        if propagation not in ROOTFS_PROPAGATION:
            raise InvalidConfig(
                "linux.rootfsPropagation",
                f"unknown propagation {propagation!r}; expected one of {', '.join(ROOTFS_PROPAGATION)}",
            )
    for key in ("maskedPaths", "readonlyPaths"):
        if key in linux:
            for index, item in enumerate(_string_array(linux[key], f"linux.{key}")):
                if not item.startswith("/"):
                    raise InvalidConfig(f"linux.{key}[{index}]", f"must be an absolute path, got {item!r}")
    _optional(linux, "mountLabel", _string, "linux")
    if "sysctl" in linux:
        _validate_sysctl(_object(linux["sysctl"], "linux.sysctl"), linux.get("namespaces") or [])
    if "resources" in linux:
        _validate_resources(_object(linux["resources"], "linux.resources"))
    if "seccomp" in linux and linux["seccomp"] is not None:
        _validate_seccomp(linux["seccomp"])
    if linux.get("intelRdt"):
        raise NotSupported("linux.intelRdt is not supported yet; remove it from config.json")
    _optional(linux, "personality", _validate_personality, "linux")


# The IPC namespace's settings besides fs.mqueue.*, as runc's config validator lists them.
IPC_SYSCTLS = frozenset(
    ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
)


def _validate_sysctl(sysctl: dict, namespaces: list) -> None:
    """Accept only settings of a namespace the container does not share with the caller, as runc does."""
    paths = {entry["type"]: entry.get("path") for entry in namespaces}
    for key, value in sysctl.items():
        where = f"linux.sysctl.{key}"
        _string(value, where)
        # sysctl(8) takes net/ipv4/conf/eth0.100/forwarding where a name contains a dot.
        parts = key.split("/") if "/" in key else key.split(".")
        if any(part in ("", ".", "..") for part in parts):
            raise InvalidConfig(
                where, f"invalid key {key!r}: expected names separated by dots or slashes, such as net.ipv4.ip_forward"
            )
        key = ".".join(parts)
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            kind = "ipc"
        elif key.startswith("net."):
            kind = "network"
        elif key == "kernel.domainname":
            kind = "uts"
        elif key == "kernel.hostname":
            raise InvalidConfig(where, "set the container's host name with the hostname field of config.json instead")
        else:
            raise InvalidConfig(
                where,
                "not a setting of a namespace the container can own, so it would change the host; "
                "allowed are net.*, fs.mqueue.*, kernel.domainname and the IPC settings " + ", ".join(sorted(IPC_SYSCTLS)),
            )
        if kind not in paths:
            raise InvalidConfig(
                where, f'needs the container\'s own {kind} namespace, or it would change the host\'s value; add {{"type": "{kind}"}} to linux.namespaces'
            )
        if paths[kind] and _same_namespace(paths[kind], f"/proc/self/ns/{NAMESPACE_PROC_NAMES[kind]}"):
            raise InvalidConfig(where, f"linux.namespaces joins the caller's own {kind} namespace ({paths[kind]}), so this would change the host's value")


NAMESPACE_PROC_NAMES = {"ipc": "ipc", "network": "net", "uts": "uts"}


def _same_namespace(path: str, own: str) -> bool:
    try:
        first, second = os.stat(path), os.stat(own)
    except OSError:
        # A missing path fails with its own error when the namespace is opened.
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _validate_personality(personality, path: str) -> None:
    from .security.personality import DOMAINS

    _object(personality, path)
    if personality.get("domain") is None:
        raise InvalidConfig(f"{path}.domain", "missing required property")
    domain = _string(personality["domain"], f"{path}.domain")
    if domain not in DOMAINS:
        raise InvalidConfig(f"{path}.domain", f"unknown domain {domain!r}; expected {' or '.join(DOMAINS)}")
    flags = _optional(personality, "flags", _string_array, path) or []
    if flags:
        raise InvalidConfig(f"{path}.flags[0]", f"unsupported flag {flags[0]!r}: runtime-spec 1.2 defines no personality flags")


def _validate_device(device, path: str) -> None:
    _object(device, path)
    for key in ("type", "path"):
        if key not in device:
            raise InvalidConfig(f"{path}.{key}", "missing required property")
    kind = _string(device["type"], f"{path}.type")
    if kind not in ("c", "b", "u", "p"):
        raise InvalidConfig(f"{path}.type", f"unknown device type {kind!r}; expected c, b, u or p")
    device_path = _string(device["path"], f"{path}.path")
    if not device_path.startswith("/dev/") and device_path != "/dev":
        raise InvalidConfig(f"{path}.path", f"must be a path under /dev, got {device_path!r}")
    if kind != "p":
        for key in ("major", "minor"):
            if key not in device:
                raise InvalidConfig(f"{path}.{key}", f"missing required property for a type {kind!r} device")
            _integer(device[key], f"{path}.{key}", 0, None, "a non-negative integer")
    _optional(device, "fileMode", _uint32, path)
    _optional(device, "uid", _uint32, path)
    _optional(device, "gid", _uint32, path)


def _is_default_device_rule(rule) -> bool:
    """Return True for the deny-all rule that `runc spec` and `userrunc spec` write."""
    return (
        isinstance(rule, dict)
        and rule.get("allow") is False
        and rule.get("access", "rwm") == "rwm"
        and rule.get("type", "a") in ("a", None)
        and rule.get("major") in (None, -1)
        and rule.get("minor") in (None, -1)
    )


def _validate_resources(resources: dict) -> None:
    for key, value in resources.items():
        if key == "devices":
            for index, rule in enumerate(_array(value, "linux.resources.devices")):
                _object(rule, f"linux.resources.devices[{index}]")
                if not _is_default_device_rule(rule):
                    raise NotSupported(
                        f"linux.resources.devices[{index}]: device cgroup rules are not supported yet "
                        "(only the default deny-all rule is accepted); remove the rule from config.json"
                    )
            continue
        if value in (None, {}, []):
            continue
        if key == "pids" and isinstance(value, dict) and value.get("limit") == 0 and len(value) == 1:
            # A limit of 0 sets nothing, as in runc's cgroupfs driver. podman writes it for --pids-limit 0.
            continue
        # TODO: apply cgroup resource limits (memory, cpu, pids, blockIO, hugepageLimits, network, rdma, unified).
        raise NotSupported(
            f"linux.resources.{key}: cgroup resource limits are not supported yet; "
            f"remove linux.resources.{key} from config.json to run without the limit"
        )


def _validate_seccomp(seccomp) -> None:
    _object(seccomp, "linux.seccomp")
    try:
        from .security import seccomp as seccomp_module
    except ImportError:
        raise NotSupported("linux.seccomp is not supported by this build of userrunc") from None
    seccomp_module.validate(seccomp, "linux.seccomp")
    seccomp_module.check_container_notify(seccomp, "linux.seccomp")


def namespaces(spec: dict) -> dict:
    """Return {type: path or None} for linux.namespaces."""
    return {item["type"]: item.get("path") or None for item in spec.get("linux", {}).get("namespaces", ())}


def resolve_paths(spec: dict, bundle: str) -> str:
    """Return the absolute rootfs path and check that it is a directory."""
    rootfs = spec["root"]["path"]
    if not os.path.isabs(rootfs):
        rootfs = os.path.join(bundle, rootfs)
    rootfs = os.path.normpath(rootfs)
    if not os.path.isdir(rootfs):
        if os.path.exists(rootfs):
            raise UserruncError(f"root.path {rootfs} is not a directory")
        raise UserruncError(f"root.path {rootfs} does not exist; the bundle needs a root filesystem there")
    return rootfs
