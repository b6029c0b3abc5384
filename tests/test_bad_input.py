"""Bad configs, arguments and bundles: one line on stderr, exit status 1, nothing left behind.

The leak check of every runtime fixture (conftest.py) proves that no state
directory, process, mount or cgroup remains after each failure.
"""

from __future__ import annotations

import json
import os

import pytest


def _set(path, value):
    """Return a change that sets config[path] (dotted, with [n] for lists) to value."""

    def change(config):
        target = config
        parts = _split(path)
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value

    return change


def _delete(path):
    def change(config):
        target = config
        parts = _split(path)
        for part in parts[:-1]:
            target = target[part]
        del target[parts[-1]]

    return change


def _split(path):
    parts = []
    for piece in path.split("."):
        while "[" in piece:
            name, _, rest = piece.partition("[")
            if name:
                parts.append(name)
            index, _, piece = rest.partition("]")
            parts.append(int(index))
        if piece:
            parts.append(piece)
    return parts


def _append(path, value):
    def change(config):
        target = config
        for part in _split(path):
            target = target[part]
        target.append(value)

    return change


CONFIG_ERRORS = [
    ("missing ociVersion", _delete("ociVersion"), "invalid config.json: ociVersion: missing required property"),
    ("ociVersion number", _set("ociVersion", 1), "invalid config.json: ociVersion: expected a string, got number 1"),
    (
        "ociVersion 2",
        _set("ociVersion", "2.0.0"),
        "invalid config.json: ociVersion: unsupported version '2.0.0'; userrunc supports 1.0.0 to 1.2.x",
    ),
    ("missing root", _delete("root"), "invalid config.json: root: missing required property"),
    ("missing root.path", _delete("root.path"), "invalid config.json: root.path: missing required property"),
    ("root.path empty", _set("root.path", ""), "invalid config.json: root.path: must not be empty"),
    ("root.readonly string", _set("root.readonly", "yes"), 'invalid config.json: root.readonly: expected a boolean, got string "yes"'),
    ("missing process", _delete("process"), "invalid config.json: process: missing required property (userrunc needs a process to start)"),
    ("missing args", _delete("process.args"), "invalid config.json: process.args: missing required property"),
    ("args empty", _set("process.args", []), "invalid config.json: process.args: must contain at least the program to run"),
    ("args string", _set("process.args", "sh"), 'invalid config.json: process.args: expected an array, got string "sh"'),
    ("args number item", _set("process.args", ["sh", 1]), "invalid config.json: process.args[1]: expected a string, got number 1"),
    ("args empty program", _set("process.args", [""]), "invalid config.json: process.args[0]: the program name must not be empty"),
    ("missing cwd", _delete("process.cwd"), "invalid config.json: process.cwd: missing required property"),
    ("relative cwd", _set("process.cwd", "tmp"), "invalid config.json: process.cwd: must be an absolute path, got 'tmp'"),
    ("env without equals", _set("process.env", ["PATH"]), "invalid config.json: process.env[0]: expected NAME=VALUE, got 'PATH'"),
    ("missing user", _delete("process.user"), "invalid config.json: process.user: missing required property"),
    ("negative uid", _set("process.user.uid", -1), "invalid config.json: process.user.uid: expected an integer from 0 to 4294967295, got -1"),
    ("uid string", _set("process.user.uid", "0"), 'invalid config.json: process.user.uid: expected an integer from 0 to 4294967295, got string "0"'),
    ("uid too big", _set("process.user.uid", 2**32), "invalid config.json: process.user.uid: expected an integer from 0 to 4294967295, got 4294967296"),
    ("terminal string", _set("process.terminal", "no"), 'invalid config.json: process.terminal: expected a boolean, got string "no"'),
    (
        "unknown capability",
        _set("process.capabilities.bounding", ["CAP_FLY"]),
        "invalid config.json: process.capabilities.bounding[0]: unknown capability 'CAP_FLY'; "
        "names look like CAP_NET_BIND_SERVICE (see capabilities(7))",
    ),
    (
        "lower-case capability",
        _set("process.capabilities.effective", ["cap_kill"]),
        "invalid config.json: process.capabilities.effective[0]: unknown capability 'cap_kill'; "
        "names look like CAP_NET_BIND_SERVICE (see capabilities(7))",
    ),
    (
        "unknown rlimit",
        _set("process.rlimits", [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
        "invalid config.json: process.rlimits[0].type: unknown rlimit 'RLIMIT_FOO'; expected one of RLIMIT_CPU, RLIMIT_FSIZE, "
        "RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE, RLIMIT_RSS, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_AS, "
        "RLIMIT_LOCKS, RLIMIT_SIGPENDING, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_RTPRIO, RLIMIT_RTTIME",
    ),
    (
        "soft above hard",
        _set("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]),
        "invalid config.json: process.rlimits[0]: soft limit 10 is above hard limit 5 for RLIMIT_NOFILE",
    ),
    (
        "unknown namespace",
        _append("linux.namespaces", {"type": "net"}),
        "invalid config.json: linux.namespaces[{last}].type: unknown namespace type 'net'; "
        "expected one of cgroup, ipc, mount, network, pid, time, user, uts",
    ),
    (
        "duplicate namespace",
        _append("linux.namespaces", {"type": "pid"}),
        "invalid config.json: linux.namespaces[{last}].type: duplicate namespace type 'pid' (also at index 0)",
    ),
    (
        "namespace without type",
        _append("linux.namespaces", {"path": "/proc/1/ns/net"}),
        "invalid config.json: linux.namespaces[{last}].type: missing required property",
    ),
    (
        "relative namespace path",
        _set("linux.namespaces[0]", {"type": "pid", "path": "proc/1/ns/pid"}),
        "invalid config.json: linux.namespaces[0].path: must be an absolute path, got 'proc/1/ns/pid'",
    ),
    (
        "missing namespace path",
        _set("linux.namespaces[0]", {"type": "pid", "path": "/nonexistent/ns/pid"}),
        "invalid config.json: linux.namespaces[0].path: cannot open /nonexistent/ns/pid: No such file or directory",
    ),
    (
        "namespace path of wrong type",
        _set("linux.namespaces[0]", {"type": "pid", "path": "/proc/self/ns/net"}),
        "invalid config.json: linux.namespaces[0].path: /proc/self/ns/net is not a pid namespace",
    ),
    (
        "namespace path not a namespace",
        _set("linux.namespaces[0]", {"type": "pid", "path": "/etc/hostname"}),
        "invalid config.json: linux.namespaces[0].path: /etc/hostname is not a namespace file (expected a /proc/PID/ns/pid link)",
    ),
    (
        "no mount namespace",
        lambda config: config["linux"].__setitem__(
            "namespaces", [item for item in config["linux"]["namespaces"] if item["type"] != "mount"]
        ),
        'invalid config.json: linux.namespaces: a mount namespace is required to set up the root filesystem; add {"type": "mount"}',
    ),
    (
        "mounts not an array",
        _set("mounts", {}),
        "invalid config.json: mounts: expected an array, got object {}",
    ),
    (
        "mount without destination",
        _append("mounts", {"type": "tmpfs", "source": "tmpfs"}),
        "invalid config.json: mounts[{last_mount}].destination: missing required property",
    ),
    (
        "mount options not strings",
        _append("mounts", {"destination": "/x", "type": "tmpfs", "options": [1]}),
        "invalid config.json: mounts[{last_mount}].options[0]: expected a string, got number 1",
    ),
    (
        "hook without path",
        _set("hooks", {"prestart": [{"args": ["x"]}]}),
        "invalid config.json: hooks.prestart[0].path: missing required property",
    ),
    (
        "relative hook path",
        _set("hooks", {"poststop": [{"path": "hook.sh"}]}),
        "invalid config.json: hooks.poststop[0].path: must be an absolute path, got 'hook.sh'",
    ),
    (
        "hook timeout zero",
        _set("hooks", {"createRuntime": [{"path": "/bin/true", "timeout": 0}]}),
        "invalid config.json: hooks.createRuntime[0].timeout: expected a whole number of seconds, at least 1, got 0",
    ),
    (
        "annotation not a string",
        _set("annotations", {"a": 1}),
        "invalid config.json: annotations.a: expected a string, got number 1",
    ),
    (
        "bad rootfsPropagation",
        _set("linux.rootfsPropagation", "wide"),
        "invalid config.json: linux.rootfsPropagation: unknown propagation 'wide'; "
        "expected one of private, rprivate, shared, rshared, slave, rslave, unbindable, runbindable",
    ),
    (
        "relative masked path",
        _set("linux.maskedPaths", ["proc/kcore"]),
        "invalid config.json: linux.maskedPaths[0]: must be an absolute path, got 'proc/kcore'",
    ),
    (
        "device type",
        _set("linux.devices", [{"type": "x", "path": "/dev/x"}]),
        "invalid config.json: linux.devices[0].type: unknown device type 'x'; expected c, b, u or p",
    ),
    (
        "memory limit",
        _set("linux.resources", {"memory": {"limit": 1000000}}),
        "linux.resources.memory: cgroup resource limits are not supported yet; "
        "remove linux.resources.memory from config.json to run without the limit",
    ),
    (
        "pids limit",
        _set("linux.resources", {"pids": {"limit": 2048}}),
        "linux.resources.pids: cgroup resource limits are not supported yet; "
        "remove linux.resources.pids from config.json to run without the limit",
    ),
    (
        "device rule",
        _set("linux.resources", {"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}),
        "linux.resources.devices[0]: device cgroup rules are not supported yet "
        "(only the default deny-all rule is accepted); remove the rule from config.json",
    ),
    (
        "uid mappings without gid mappings",
        lambda config: (
            config["linux"].__setitem__("uidMappings", [{"containerID": 0, "hostID": 0, "size": 1}]),
            config["linux"].pop("gidMappings", None),
            config["linux"]["namespaces"].append({"type": "user"}) if not any(
                item["type"] == "user" for item in config["linux"]["namespaces"]) else None,
        ),
        "invalid config.json: linux.gidMappings: missing: linux.uidMappings is set, so gid mappings are needed too",
    ),
    (
        "mapping size zero",
        _set("linux.uidMappings", [{"containerID": 0, "hostID": 0, "size": 0}]),
        "invalid config.json: linux.uidMappings[0].size: must be at least 1",
    ),
]


@pytest.mark.parametrize("name,change,message", CONFIG_ERRORS, ids=[case[0] for case in CONFIG_ERRORS])
def test_config_error(runtime, name, change, message):
    config = runtime.config()
    change(config)
    message = message.replace("{last}", str(len(config["linux"]["namespaces"]) - 1))
    message = message.replace("{last_mount}", str(len(config.get("mounts") or []) - 1))
    bundle = runtime.bundle(config=config)
    container_id = runtime.container_id()
    result = runtime("create", "--bundle", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: create: {message}"]
    assert "Traceback" not in result.stderr
    assert not (runtime.state_root / container_id).exists()


def test_pids_limit_zero_runs(runtime):
    """A pids limit of 0 sets nothing (runc skips it too), and podman writes it for --pids-limit 0."""
    config = runtime.config()
    config["linux"]["resources"] = {"pids": {"limit": 0}}
    bundle = runtime.bundle(config=config, args=["echo", "ran"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout == "ran\n"


def test_malformed_json(runtime):
    bundle = runtime.bundle()
    (bundle.path / "config.json").write_text('{"ociVersion": "1.2.0",')
    container_id = runtime.container_id()
    result = runtime("run", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: invalid config.json: malformed JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 24 (char 23)"
    ]


def test_config_not_an_object(runtime):
    bundle = runtime.bundle()
    (bundle.path / "config.json").write_text("[1, 2]")
    result = runtime("create", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: create: invalid config.json: expected an object, got array [1,2]"]


def test_config_not_utf8(runtime):
    bundle = runtime.bundle()
    (bundle.path / "config.json").write_bytes(b'{"ociVersion": "\xff"}')
    result = runtime("create", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: create: invalid config.json: the file is not UTF-8 text"]


def test_missing_bundle(runtime):
    missing = runtime.workdir / "no-such-bundle"
    result = runtime("create", "--bundle", str(missing), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: create: bundle {missing} is not a directory (--bundle)"]


def test_missing_config(runtime):
    bundle = runtime.bundle()
    os.unlink(bundle.path / "config.json")
    result = runtime("create", "--bundle", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: create: config file {bundle.path}/config.json not found; run 'userrunc spec' in the bundle to write one "
        "('userrunc spec --rootless' without root)"
    ]


def test_config_option_points_elsewhere(runtime):
    bundle = runtime.bundle(args=["echo", "from --config"])
    other = runtime.workdir / "other.json"
    other.write_text(json.dumps(bundle.config))
    os.chown(other, runtime.uid, runtime.gid)
    os.unlink(bundle.path / "config.json")
    result = runtime("run", "--bundle", str(bundle), "--config", str(other), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout == "from --config\n"


def test_missing_rootfs(runtime):
    config = runtime.config()
    config["root"]["path"] = "nonexistent"
    bundle = runtime.bundle(config=config)
    result = runtime("create", "--bundle", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: create: root.path {bundle.path}/nonexistent does not exist; the bundle needs a root filesystem there"
    ]


def test_rootfs_is_a_file(runtime):
    config = runtime.config()
    config["root"]["path"] = "config.json"
    bundle = runtime.bundle(config=config)
    result = runtime("create", "--bundle", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: create: root.path {bundle.path}/config.json is not a directory"]


def test_missing_program(runtime):
    bundle = runtime.bundle(args=["no-such-program"])
    container_id = runtime.container_id()
    result = runtime("run", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: program 'no-such-program': executable file not found in $PATH of the container (process.args[0])"
    ]
    assert not (runtime.state_root / container_id).exists()


PROGRAM_ERRORS = [
    ("/no/such/program", "program '/no/such/program' not found in the container (process.args[0]): No such file or directory"),
    ("/bin/dangling", "program '/bin/dangling' not found in the container (process.args[0]): No such file or directory"),
    ("/etc", "program '/etc' is a directory in the container (process.args[0]): Permission denied"),
    ("/etc/passwd", "program '/etc/passwd' is not executable in the container (process.args[0]): Permission denied"),
]


@pytest.mark.parametrize("program, message", PROGRAM_ERRORS, ids=[case[0] for case in PROGRAM_ERRORS])
def test_program_path_error(runtime, program, message):
    """The errno words at the end give podman its exit status: 127 for a missing program, 126 for one it cannot run."""
    bundle = runtime.bundle(args=[program])
    os.symlink("/no/such/target", bundle.rootfs / "bin" / "dangling")
    container_id = runtime.container_id()
    result = runtime("run", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: run: {message}"]
    assert not (runtime.state_root / container_id).exists()


def test_missing_cwd_inside(runtime):
    bundle = runtime.bundle(cwd="/no/such/dir")
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: run: process.cwd /no/such/dir: No such file or directory"]


@pytest.mark.parametrize("bad_id", ["", ".", "..", "a/b", "a b", "ä", "x" * 256, "../etc", "a\nb"])
@pytest.mark.parametrize("command", ["create", "start", "state", "kill", "delete", "run"])
def test_bad_container_id(root_runtime, command, bad_id):
    runtime = root_runtime
    bundle = runtime.workdir / "unused"
    args = [command, "--", bad_id] if command not in ("create", "run") else [command, "-b", str(bundle), "--", bad_id]
    result = runtime(*args)
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: {command}: invalid container id {bad_id!r}: use 1 to 255 characters from A-Z a-z 0-9 _ + . - "
        "(and not '.' or '..')"
    ]
    assert not runtime.state_root.exists() or not any(runtime.state_root.iterdir())


@pytest.mark.parametrize("command", ["start", "state", "kill", "delete"])
def test_unknown_container(runtime, command):
    result = runtime(command, "nosuch")
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: {command}: container 'nosuch' does not exist in {runtime.state_root}"]


def test_delete_force_of_unknown_container_succeeds(runtime):
    result = runtime("delete", "--force", "nosuch")
    assert result.returncode == 0
    assert result.stderr == ""


def test_terminal_without_console_socket(runtime):
    bundle = runtime.bundle(terminal=True)
    container_id = runtime.container_id()
    result = runtime("create", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: create: process.terminal is true, so a detached container needs --console-socket "
        "to receive the pty master (or set process.terminal to false)"
    ]
    assert not (runtime.state_root / container_id).exists()


def test_console_socket_without_terminal(runtime):
    bundle = runtime.bundle()
    socket_path = runtime.workdir / "console.sock"
    result = runtime("create", "-b", str(bundle), "--console-socket", str(socket_path), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: create: --console-socket was given, but process.terminal is false; remove one of them"
    ]


def test_console_socket_missing(runtime):
    bundle = runtime.bundle(terminal=True)
    socket_path = runtime.workdir / "console.sock"
    result = runtime("create", "-b", str(bundle), "--console-socket", str(socket_path), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: create: cannot connect to --console-socket {socket_path}: No such file or directory"
    ]


def test_preserve_fds_not_open(runtime):
    bundle = runtime.bundle()
    result = runtime("create", "-b", str(bundle), "--preserve-fds", "3", runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: create: --preserve-fds 3: file descriptor 3 is not open"]


def test_hostname_without_uts_namespace(runtime):
    config = runtime.config()
    config["linux"]["namespaces"] = [item for item in config["linux"]["namespaces"] if item["type"] != "uts"]
    bundle = runtime.bundle(config=config)
    container_id = runtime.container_id()
    result = runtime("run", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: hostname 'userrunc' needs a UTS namespace; add {\"type\": \"uts\"} to linux.namespaces"
    ]
    assert not (runtime.state_root / container_id).exists()


def test_hook_failure_aborts_create(runtime):
    config = runtime.config()
    config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}]}
    bundle = runtime.bundle(config=config)
    container_id = runtime.container_id()
    result = runtime("create", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: create: createRuntime hook 0 (/bin/sh) exited with status 3: broken"]
    assert not (runtime.state_root / container_id).exists()
