"""Tests of userrunc.security.seccomp: validation, and real filters loaded in forked children.

A filter can never be removed, so every test that loads one does it in a
child from os.fork(). The child installs the filter, runs the syscall under
test, writes a JSON report to a pipe and leaves with os._exit. Syscalls are
made through libc's syscall(3) with numbers from libseccomp, so the tests
control every argument. getppid ignores its arguments, which makes it a
harmless target for argument conditions. The child never calls os.getppid(),
because libc leaves stale register values in the arguments that a condition
reads. The parent's own pid is the expected result instead.
"""

from __future__ import annotations

import copy
import ctypes
import errno
import json
import os
import resource
import select
import signal
import socket
import threading
import time

import pytest

from userrunc import OCI_VERSION, log
from userrunc.errors import InvalidConfig, NotSupported, SystemCallError
from userrunc.security import seccomp

FEATURES = seccomp.features()
needs_libseccomp = pytest.mark.skipif(not FEATURES["enabled"], reason="libseccomp.so.2 cannot be loaded")
needs_x86_64 = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the architecture cases are written for x86_64")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user in the child")

PODMAN_PROFILE = "/usr/share/containers/seccomp.json"
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
# A bound that keeps a broken filter from hanging the suite. No assertion depends on time.
WAIT_SECONDS = 30

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


# --- libseccomp's notification API, for the parent that plays the seccomp agent ----


class SeccompData(ctypes.Structure):
    _fields_ = (
        ("nr", ctypes.c_int),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
    )


class Notification(ctypes.Structure):
    _fields_ = (("id", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("data", SeccompData))


class NotificationResponse(ctypes.Structure):
    _fields_ = (("id", ctypes.c_uint64), ("val", ctypes.c_int64), ("error", ctypes.c_int32), ("flags", ctypes.c_uint32))


if FEATURES["enabled"]:
    libseccomp = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    libseccomp.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    libseccomp.seccomp_syscall_resolve_name.restype = ctypes.c_int
    libseccomp.seccomp_notify_alloc.argtypes = (
        ctypes.POINTER(ctypes.POINTER(Notification)),
        ctypes.POINTER(ctypes.POINTER(NotificationResponse)),
    )
    libseccomp.seccomp_notify_free.argtypes = (ctypes.POINTER(Notification), ctypes.POINTER(NotificationResponse))
    libseccomp.seccomp_notify_free.restype = None
    libseccomp.seccomp_notify_receive.argtypes = (ctypes.c_int, ctypes.POINTER(Notification))
    libseccomp.seccomp_notify_respond.argtypes = (ctypes.c_int, ctypes.POINTER(NotificationResponse))


def syscall_number(name: str) -> int:
    number = libseccomp.seccomp_syscall_resolve_name(name.encode())
    assert number >= 0, f"libseccomp does not know syscall {name}"
    return number


def raw_syscall(name: str, *args: int) -> list:
    """Call a syscall with up to six unsigned arguments and return [result, errno]."""
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(syscall_number(name)), *(ctypes.c_ulong(arg) for arg in args))
    return [result, ctypes.get_errno() if result == -1 else 0]


def library_version_tuple() -> tuple:
    return tuple(int(part) for part in seccomp.library_version().split("."))


# --- running a filter in a child ------------------------------------------------


def run_child(profile, probe, setup=None, no_new_privs=True, timeout=WAIT_SECONDS):
    """Install `profile` in a forked child and run `probe(context)` there.

    `setup()` runs before the install, and its result is context["setup"];
    context["notify_fd"] is what install() returned. Return (wait status,
    report), where the report is the probe's JSON value, or
    {"exception": class name, "message": text} when the child raised, or
    None when the child died before writing.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if no_new_privs:
                assert libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            context = {"setup": setup() if setup else None}
            context["notify_fd"] = seccomp.install(profile)
            report = probe(context)
            code = 0
        except BaseException as error:  # noqa: BLE001 - the child must report and exit, never return into pytest
            report = {"exception": type(error).__name__, "message": str(error)}
        finally:
            try:
                os.write(write_end, json.dumps(report).encode())
            finally:
                os._exit(code)
    os.close(write_end)
    return wait_for_child(pid, read_end, timeout)


def wait_for_child(pid: int, read_end: int, timeout: float = WAIT_SECONDS):
    chunks = []
    try:
        poller = select.poll()
        poller.register(read_end, select.POLLIN | select.POLLHUP)
        while True:
            if not poller.poll(timeout * 1000):
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"child {pid} wrote nothing for {timeout} s; killed it")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    return status, json.loads(data) if data else None


def allow_by_default(*rules, **extra) -> dict:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules)}
    profile.update(extra)
    return profile


def rule(names, action, **extra) -> dict:
    entry = {"names": [names] if isinstance(names, str) else list(names), "action": action}
    entry.update(extra)
    return entry


def assert_exited_cleanly(status, report):
    assert os.WIFEXITED(status), f"child ended with wait status {status:#x}, report {report}"
    assert os.WEXITSTATUS(status) == 0, f"child failed: {report}"


def assert_killed_by_sigsys(status, report):
    assert os.WIFSIGNALED(status), f"child was not killed: wait status {status:#x}, report {report}"
    assert os.WTERMSIG(status) == signal.SIGSYS
    assert report is None


def getppid_probe(*args):
    return lambda context: {"result": raw_syscall("getppid", *args)}


# --- validate() -------------------------------------------------------------------


def full_profile() -> dict:
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "listenerPath": "/run/agent.sock",
        "listenerMetadata": "opaque",
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18},
            {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [
                    {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 0xF0, "valueTwo": 0x30, "op": "SCMP_CMP_MASKED_EQ"},
                ],
            },
            {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"},
        ],
    }


def test_validate_accepts_full_profile():
    seccomp.validate(full_profile())


def test_validate_accepts_spec_example():
    example = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ERRNO"}],
    }
    seccomp.validate(example)


def test_validate_accepts_every_known_name():
    for action in seccomp.ACTIONS:
        profile = {"defaultAction": action, "listenerPath": "/agent.sock"}
        seccomp.validate(profile)
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": list(seccomp.ARCHITECTURES),
        "flags": list(seccomp.FLAGS),
        "syscalls": [
            rule("getppid", "SCMP_ACT_ERRNO", args=[{"index": index % 6, "value": 1, "op": op}])
            for index, op in enumerate(seccomp.OPERATORS)
        ],
    }
    seccomp.validate(profile)


def test_validate_ignores_null_and_unknown_properties():
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "defaultErrnoRet": None,
        "architectures": None,
        "flags": None,
        "listenerPath": None,
        "listenerMetadata": None,
        "comment": "unknown properties are ignored",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": None, "args": None, "x": 1}],
    }
    seccomp.validate(profile)


def test_validate_accepts_listener_path_without_notify():
    # runtime-spec 1.2: "If the SCMP_ACT_NOTIFY action is not used this value is ignored."
    seccomp.validate({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"})


def test_validate_accepts_empty_metadata():
    seccomp.validate({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": ""})


ACTION_LIST = ", ".join(seccomp.ACTIONS)
OPERATOR_LIST = ", ".join(seccomp.OPERATORS)
ARCH_LIST = ", ".join(seccomp.ARCHITECTURES)
FLAG_LIST = ", ".join(seccomp.FLAGS)
ERRNO_RANGE = "expected an integer from 0 to 65535"
INDEX_RANGE = "expected an integer from 0 to 5 (a syscall has 6 arguments)"
UINT64_RANGE = "expected an integer from 0 to 2^64-1"
NO_ERRNO = "takes no errno value; remove the property or use SCMP_ACT_ERRNO or SCMP_ACT_TRACE"
NOTIFY_NEEDS_LISTENER = (
    "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath, the UNIX socket of the seccomp agent that receives "
    "the notify fd; set listenerPath or use another action"
)


def _set(path_and_value):
    """Return a function that sets one property of full_profile(), given as a list of keys and indexes."""
    *keys, value = path_and_value

    def mutate(profile):
        target = profile
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return profile

    return mutate


def _delete(*keys):
    def mutate(profile):
        target = profile
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
        return profile

    return mutate


INVALID_CASES = [
    # (id, mutation of full_profile(), JSON path, problem)
    ("not-object", lambda profile: ["SCMP_ACT_ALLOW"], "linux.seccomp", 'expected an object, got array ["SCMP_ACT_ALLOW"]'),
    ("default-missing", _delete("defaultAction"), "linux.seccomp.defaultAction", "missing required property"),
    ("default-null", _set(["defaultAction", None]), "linux.seccomp.defaultAction", "missing required property"),
    ("default-number", _set(["defaultAction", 1]), "linux.seccomp.defaultAction", "expected a string, got number 1"),
    (
        "default-unknown",
        _set(["defaultAction", "SCMP_ACT_DENY"]),
        "linux.seccomp.defaultAction",
        f'invalid action "SCMP_ACT_DENY"; valid actions: {ACTION_LIST}',
    ),
    (
        "default-lowercase",
        _set(["defaultAction", "scmp_act_allow"]),
        "linux.seccomp.defaultAction",
        f'invalid action "scmp_act_allow"; valid actions: {ACTION_LIST}',
    ),
    (
        "default-errno-on-allow",
        lambda profile: dict(profile, defaultAction="SCMP_ACT_ALLOW"),
        "linux.seccomp.defaultErrnoRet",
        f"action SCMP_ACT_ALLOW {NO_ERRNO}",
    ),
    (
        "default-errno-on-kill",
        lambda profile: dict(profile, defaultAction="SCMP_ACT_KILL_PROCESS"),
        "linux.seccomp.defaultErrnoRet",
        f"action SCMP_ACT_KILL_PROCESS {NO_ERRNO}",
    ),
    ("default-errno-negative", _set(["defaultErrnoRet", -1]), "linux.seccomp.defaultErrnoRet", f"{ERRNO_RANGE}, got -1"),
    ("default-errno-large", _set(["defaultErrnoRet", 65536]), "linux.seccomp.defaultErrnoRet", f"{ERRNO_RANGE}, got 65536"),
    ("default-errno-bool", _set(["defaultErrnoRet", True]), "linux.seccomp.defaultErrnoRet", f"{ERRNO_RANGE}, got boolean true"),
    ("default-errno-string", _set(["defaultErrnoRet", "1"]), "linux.seccomp.defaultErrnoRet", f'{ERRNO_RANGE}, got string "1"'),
    ("default-errno-float", _set(["defaultErrnoRet", 1.5]), "linux.seccomp.defaultErrnoRet", f"{ERRNO_RANGE}, got number 1.5"),
    (
        "arches-string",
        _set(["architectures", "SCMP_ARCH_X86_64"]),
        "linux.seccomp.architectures",
        'expected an array of strings, got string "SCMP_ARCH_X86_64"',
    ),
    ("arch-number", _set(["architectures", 1, 64]), "linux.seccomp.architectures[1]", "expected a string, got number 64"),
    (
        "arch-unknown",
        _set(["architectures", 2, "SCMP_ARCH_VAX"]),
        "linux.seccomp.architectures[2]",
        f'invalid architecture "SCMP_ARCH_VAX"; valid architectures: {ARCH_LIST}',
    ),
    (
        "arch-without-prefix",
        _set(["architectures", 0, "x86_64"]),
        "linux.seccomp.architectures[0]",
        f'invalid architecture "x86_64"; valid architectures: {ARCH_LIST}',
    ),
    ("flags-object", _set(["flags", {}]), "linux.seccomp.flags", "expected an array of strings, got object {}"),
    (
        "flag-unknown",
        _set(["flags", 1, "SECCOMP_FILTER_FLAG_NEW_LISTENER"]),
        "linux.seccomp.flags[1]",
        f'invalid flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"; valid flags: {FLAG_LIST}',
    ),
    ("listener-number", _set(["listenerPath", 7]), "linux.seccomp.listenerPath", "expected a string, got number 7"),
    (
        "listener-too-long",
        _set(["listenerPath", "/" + "s" * 107]),
        "linux.seccomp.listenerPath",
        'a UNIX socket path has at most 107 bytes, got 108 bytes in "/' + "s" * 75 + '...',
    ),
    ("metadata-number", _set(["listenerMetadata", 1]), "linux.seccomp.listenerMetadata", "expected a string, got number 1"),
    (
        "metadata-without-listener",
        lambda profile: dict(_delete("listenerPath")(profile), syscalls=[]),
        "linux.seccomp.listenerMetadata",
        "is set without listenerPath, which the spec forbids; set listenerPath or remove listenerMetadata",
    ),
    (
        "notify-rule-without-listener",
        lambda profile: dict(profile, listenerPath="", listenerMetadata=None),
        "linux.seccomp.syscalls[4].action",
        NOTIFY_NEEDS_LISTENER,
    ),
    (
        "notify-default-without-listener",
        lambda profile: {"defaultAction": "SCMP_ACT_NOTIFY"},
        "linux.seccomp.defaultAction",
        NOTIFY_NEEDS_LISTENER,
    ),
    ("syscalls-object", _set(["syscalls", {}]), "linux.seccomp.syscalls", "expected an array, got object {}"),
    ("syscall-string", _set(["syscalls", 1, "mkdir"]), "linux.seccomp.syscalls[1]", 'expected an object, got string "mkdir"'),
    ("names-missing", _delete("syscalls", 2, "names"), "linux.seccomp.syscalls[2].names", "missing required property"),
    (
        "name-instead-of-names",
        _set(["syscalls", 2, {"name": "ptrace", "action": "SCMP_ACT_TRACE"}]),
        "linux.seccomp.syscalls[2].names",
        "missing required property",
    ),
    (
        "names-empty",
        _set(["syscalls", 0, "names", []]),
        "linux.seccomp.syscalls[0].names",
        "expected at least one syscall name, got an empty array",
    ),
    (
        "names-string",
        _set(["syscalls", 0, "names", "read"]),
        "linux.seccomp.syscalls[0].names",
        'expected an array of strings, got string "read"',
    ),
    ("name-number", _set(["syscalls", 0, "names", 1, 1]), "linux.seccomp.syscalls[0].names[1]", "expected a string, got number 1"),
    (
        "name-empty",
        _set(["syscalls", 0, "names", 1, ""]),
        "linux.seccomp.syscalls[0].names[1]",
        "expected a syscall name, got an empty string",
    ),
    ("action-missing", _delete("syscalls", 1, "action"), "linux.seccomp.syscalls[1].action", "missing required property"),
    (
        "action-unknown",
        _set(["syscalls", 1, "action", "SCMP_ACT_KILL_ALL"]),
        "linux.seccomp.syscalls[1].action",
        f'invalid action "SCMP_ACT_KILL_ALL"; valid actions: {ACTION_LIST}',
    ),
    (
        "errno-on-allow",
        _set(["syscalls", 0, "errnoRet", 1]),
        "linux.seccomp.syscalls[0].errnoRet",
        f"action SCMP_ACT_ALLOW {NO_ERRNO}",
    ),
    (
        "errno-on-notify",
        _set(["syscalls", 4, "errnoRet", 1]),
        "linux.seccomp.syscalls[4].errnoRet",
        f"action SCMP_ACT_NOTIFY {NO_ERRNO}",
    ),
    (
        "errno-on-trap",
        _set(["syscalls", 1, {"names": ["mkdir"], "action": "SCMP_ACT_TRAP", "errnoRet": 1}]),
        "linux.seccomp.syscalls[1].errnoRet",
        f"action SCMP_ACT_TRAP {NO_ERRNO}",
    ),
    ("errno-large", _set(["syscalls", 1, "errnoRet", 70000]), "linux.seccomp.syscalls[1].errnoRet", f"{ERRNO_RANGE}, got 70000"),
    ("args-object", _set(["syscalls", 3, "args", {}]), "linux.seccomp.syscalls[3].args", "expected an array, got object {}"),
    ("arg-number", _set(["syscalls", 3, "args", 1, 5]), "linux.seccomp.syscalls[3].args[1]", "expected an object, got number 5"),
    ("index-missing", _delete("syscalls", 3, "args", 0, "index"), "linux.seccomp.syscalls[3].args[0].index", "missing required property"),
    ("index-six", _set(["syscalls", 3, "args", 0, "index", 6]), "linux.seccomp.syscalls[3].args[0].index", f"{INDEX_RANGE}, got 6"),
    ("index-negative", _set(["syscalls", 3, "args", 1, "index", -1]), "linux.seccomp.syscalls[3].args[1].index", f"{INDEX_RANGE}, got -1"),
    (
        "index-string",
        _set(["syscalls", 3, "args", 0, "index", "0"]),
        "linux.seccomp.syscalls[3].args[0].index",
        f'{INDEX_RANGE}, got string "0"',
    ),
    ("value-missing", _delete("syscalls", 3, "args", 0, "value"), "linux.seccomp.syscalls[3].args[0].value", "missing required property"),
    (
        "value-too-large",
        _set(["syscalls", 3, "args", 0, "value", 2**64]),
        "linux.seccomp.syscalls[3].args[0].value",
        f"{UINT64_RANGE}, got 18446744073709551616",
    ),
    (
        "value-negative",
        _set(["syscalls", 3, "args", 0, "value", -1]),
        "linux.seccomp.syscalls[3].args[0].value",
        f"{UINT64_RANGE}, got -1",
    ),
    (
        "value-two-string",
        _set(["syscalls", 3, "args", 1, "valueTwo", "0x30"]),
        "linux.seccomp.syscalls[3].args[1].valueTwo",
        f'{UINT64_RANGE}, got string "0x30"',
    ),
    ("op-missing", _delete("syscalls", 3, "args", 0, "op"), "linux.seccomp.syscalls[3].args[0].op", "missing required property"),
    (
        "op-unknown",
        _set(["syscalls", 3, "args", 0, "op", "SCMP_CMP_IN"]),
        "linux.seccomp.syscalls[3].args[0].op",
        f'invalid operator "SCMP_CMP_IN"; valid operators: {OPERATOR_LIST}',
    ),
    ("op-number", _set(["syscalls", 3, "args", 1, "op", 4]), "linux.seccomp.syscalls[3].args[1].op", "expected a string, got number 4"),
]


@pytest.mark.parametrize(("mutation", "path", "problem"), [case[1:] for case in INVALID_CASES], ids=[case[0] for case in INVALID_CASES])
def test_validate_rejects(mutation, path, problem):
    profile = mutation(copy.deepcopy(full_profile()))
    with pytest.raises(InvalidConfig) as caught:
        seccomp.validate(profile)
    assert caught.value.path == path
    assert caught.value.problem == problem
    assert str(caught.value) == f"invalid config.json: {path}: {problem}"


def test_validate_uses_given_path_prefix():
    with pytest.raises(InvalidConfig) as caught:
        seccomp.validate({"defaultAction": "SCMP_ACT_NONE"}, path="profile")
    assert caught.value.path == "profile.defaultAction"


def test_validate_error_names_nested_argument():
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            rule("read", "SCMP_ACT_LOG"),
            rule("write", "SCMP_ACT_LOG"),
            rule("mkdir", "SCMP_ACT_ERRNO"),
            rule("umask", "SCMP_ACT_ERRNO", args=[{"index": 0, "value": 0o22, "op": "SCMP_CMP_EQUAL"}]),
        ],
    }
    with pytest.raises(InvalidConfig) as caught:
        seccomp.validate(profile)
    assert caught.value.path == "linux.seccomp.syscalls[3].args[0].op"
    assert caught.value.problem == f'invalid operator "SCMP_CMP_EQUAL"; valid operators: {OPERATOR_LIST}'


def test_validate_works_without_library(monkeypatch):
    monkeypatch.setattr(seccomp, "_lib", None)
    monkeypatch.setattr(seccomp, "_lib_error", "libseccomp.so.2 cannot be loaded (test)")
    seccomp.validate(full_profile())
    assert seccomp.features() == {"enabled": False}
    with pytest.raises(NotSupported) as caught:
        seccomp.library_version()
    assert str(caught.value) == "libseccomp.so.2 cannot be loaded (test)"
    with pytest.raises(NotSupported):
        seccomp.install({"defaultAction": "SCMP_ACT_ALLOW"})


# --- features() and library_version() -------------------------------------------------


@needs_libseccomp
def test_library_version_matches_dotted_numbers():
    version = library_version_tuple()
    assert len(version) == 3
    assert version >= (2, 5, 0)


@needs_libseccomp
def test_features_shape():
    assert set(FEATURES) == {"enabled", "actions", "operators", "archs", "knownFlags", "supportedFlags"}
    assert FEATURES["enabled"] is True
    assert FEATURES["operators"] == list(seccomp.OPERATORS)
    assert FEATURES["knownFlags"] == list(seccomp.FLAGS)
    assert set(FEATURES["supportedFlags"]) <= set(FEATURES["knownFlags"])
    assert set(FEATURES["archs"]) >= set(seccomp.SPEC_ARCHITECTURES)
    assert set(FEATURES["actions"]) <= set(seccomp.ACTIONS)


@needs_libseccomp
def test_features_follow_library():
    if library_version_tuple() >= (2, 5, 0):
        assert "SCMP_ACT_NOTIFY" in FEATURES["actions"]
        assert "SECCOMP_FILTER_FLAG_SPEC_ALLOW" in FEATURES["supportedFlags"]
    if library_version_tuple() < (2, 6, 0):
        assert "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" not in FEATURES["supportedFlags"]
        assert "SCMP_ARCH_LOONGARCH64" not in FEATURES["archs"]
    assert "SCMP_ARCH_X86_64" in FEATURES["archs"]
    assert "SECCOMP_FILTER_FLAG_TSYNC" in FEATURES["supportedFlags"]


# --- actions ---------------------------------------------------------------------------


@needs_libseccomp
def test_errno_action_returns_errno_ret(tmp_path):
    profile = allow_by_default(rule(["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV))
    target = tmp_path / "blocked"

    def probe(context):
        try:
            os.mkdir(target)
        except OSError as error:
            return {"errno": error.errno}
        return {"errno": 0}

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report == {"errno": errno.EXDEV}
    assert not target.exists()


@needs_libseccomp
def test_errno_action_defaults_to_eperm(tmp_path):
    profile = allow_by_default(rule(["mkdir", "mkdirat"], "SCMP_ACT_ERRNO"))

    def probe(context):
        try:
            os.mkdir(tmp_path / "blocked")
        except OSError as error:
            return {"errno": error.errno}
        return {"errno": 0}

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report == {"errno": errno.EPERM}


@needs_libseccomp
def test_errno_action_with_zero_skips_syscall(tmp_path):
    profile = allow_by_default(rule(["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", errnoRet=0))
    target = tmp_path / "never-made"

    def probe(context):
        os.mkdir(target)
        return {"exists": os.path.exists(target)}

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report == {"exists": False}


# The syscalls that the child's Python needs after the filter is loaded, to
# compute and write its report and exit.
PYTHON_NEEDS = [
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "madvise",
    "futex",
    "rt_sigprocmask",
    "rt_sigaction",
    "rt_sigreturn",
    "write",
    "close",
    "exit",
    "exit_group",
]


@needs_libseccomp
def test_default_errno_ret_and_allow_rule():
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.ENOTSUP,
        "syscalls": [rule(PYTHON_NEEDS + ["getpid"], "SCMP_ACT_ALLOW")],
    }

    def probe(context):
        return {"getppid": raw_syscall("getppid"), "getpid": raw_syscall("getpid")}

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report["getppid"] == [-1, errno.ENOTSUP]
    assert report["getpid"][0] > 0
    assert report["getpid"][1] == 0


@needs_libseccomp
@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS"])
def test_kill_actions_end_child_with_sigsys(action):
    status, report = run_child(allow_by_default(rule("getppid", action)), getppid_probe())
    assert_killed_by_sigsys(status, report)


def _call_in_thread_and_wait(context):
    """Run getppid in a new thread, then wait until the kernel has removed that thread."""
    outcome = {}

    def worker():
        outcome["tid"] = threading.get_native_id()
        outcome["result"] = raw_syscall("getppid")

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while "result" not in outcome and time.monotonic() < deadline:
        if "tid" in outcome and not os.path.exists(f"/proc/self/task/{outcome['tid']}"):
            break
        time.sleep(0.001)
    return {"main_thread_alive": True, "worker_result": outcome.get("result")}


@needs_libseccomp
@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"])
def test_kill_thread_spares_other_threads(action):
    status, report = run_child(allow_by_default(rule("getppid", action)), _call_in_thread_and_wait)
    assert_exited_cleanly(status, report)
    assert report == {"main_thread_alive": True, "worker_result": None}


@needs_libseccomp
def test_kill_process_ends_every_thread():
    status, report = run_child(allow_by_default(rule("getppid", "SCMP_ACT_KILL_PROCESS")), _call_in_thread_and_wait)
    assert_killed_by_sigsys(status, report)


@needs_libseccomp
def test_trap_delivers_sigsys():
    def setup():
        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGSYS, lambda signum, frame: None)
        # The C-level handler writes the signal number here at once, before any Python code runs.
        signal.set_wakeup_fd(write_end)
        return read_end

    def probe(context):
        raw_syscall("getppid")
        try:
            received = list(os.read(context["setup"], 16))
        except BlockingIOError:
            received = []
        return {"signals": received}

    status, report = run_child(allow_by_default(rule("getppid", "SCMP_ACT_TRAP")), probe, setup=setup)
    assert_exited_cleanly(status, report)
    assert report == {"signals": [signal.SIGSYS]}


@needs_libseccomp
@pytest.mark.parametrize("action", ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"])
def test_log_and_allow_run_syscall(action):
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [rule(PYTHON_NEEDS, "SCMP_ACT_ALLOW"), rule("getppid", action)],
    }
    expected_ppid = os.getpid()
    status, report = run_child(profile, lambda context: {"result": raw_syscall("getppid")})
    assert_exited_cleanly(status, report)
    assert report == {"result": [expected_ppid, 0]}


@needs_libseccomp
@pytest.mark.parametrize("errno_ret", [None, 1234])
def test_trace_without_tracer_returns_enosys(errno_ret):
    entry = rule("getppid", "SCMP_ACT_TRACE")
    if errno_ret is not None:
        entry["errnoRet"] = errno_ret
    status, report = run_child(allow_by_default(entry), getppid_probe())
    assert_exited_cleanly(status, report)
    assert report["result"] == [-1, errno.ENOSYS]


@needs_libseccomp
def test_rule_equal_to_default_is_skipped():
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "syscalls": [
            rule(PYTHON_NEEDS, "SCMP_ACT_ALLOW"),
            rule("getppid", "SCMP_ACT_ERRNO"),
            rule("getpid", "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV),
        ],
    }

    def probe(context):
        return {"getppid": raw_syscall("getppid"), "getpid": raw_syscall("getpid")}

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report == {"getppid": [-1, errno.EPERM], "getpid": [-1, errno.EXDEV]}


@needs_libseccomp
def test_allow_rule_under_allow_default_is_skipped():
    status, report = run_child(allow_by_default(rule("getppid", "SCMP_ACT_ALLOW")), getppid_probe())
    assert_exited_cleanly(status, report)
    assert report["result"] == [os.getpid(), 0]


# --- argument conditions --------------------------------------------------------------

# (operator, value, valueTwo, an argument that matches, one that does not)
OPERATOR_CASES = [
    ("SCMP_CMP_NE", 5, None, 6, 5),
    ("SCMP_CMP_LT", 5, None, 4, 5),
    ("SCMP_CMP_LE", 5, None, 5, 6),
    ("SCMP_CMP_EQ", 5, None, 5, 4),
    ("SCMP_CMP_GE", 5, None, 5, 4),
    ("SCMP_CMP_GT", 5, None, 6, 5),
    # For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the expected result.
    ("SCMP_CMP_MASKED_EQ", 0xF0, 0x30, 0x3F, 0x4F),
    ("SCMP_CMP_EQ", 0xFFFFFFFF00000001, None, 0xFFFFFFFF00000001, 1),
    ("SCMP_CMP_GT", 0xFFFFFFFF, None, 0x100000000, 0xFFFFFFFF),
    ("SCMP_CMP_MASKED_EQ", 0xFF00000000000000, 0x8000000000000000, 0x80000000000000FF, 0x7F00000000000000),
]


@needs_libseccomp
@pytest.mark.parametrize("case_index", range(len(OPERATOR_CASES)))
def test_operator_conditions(case_index):
    op, value, value_two, matching, other = OPERATOR_CASES[case_index]
    arg_index = case_index % 6
    condition = {"index": arg_index, "value": value, "op": op}
    if value_two is not None:
        condition["valueTwo"] = value_two
    profile = allow_by_default(rule("getppid", "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV, args=[condition]))

    def call_with(argument):
        args = [0] * 6
        args[arg_index] = argument
        return raw_syscall("getppid", *args)

    def probe(context):
        return {"matching": call_with(matching), "other": call_with(other)}

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report["matching"] == [-1, errno.EXDEV]
    assert report["other"] == [os.getpid(), 0]


@needs_libseccomp
def test_distinct_arg_conditions_all_match():
    args = [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]
    profile = allow_by_default(rule("getppid", "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV, args=args))

    def probe(context):
        return {
            "both": raw_syscall("getppid", 1, 5),
            "first_only": raw_syscall("getppid", 1, 6),
            "second_only": raw_syscall("getppid", 2, 5),
        }

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report["both"] == [-1, errno.EXDEV]
    assert report["first_only"][1] == 0
    assert report["second_only"][1] == 0


@needs_libseccomp
def test_shared_index_conditions_match_any():
    args = [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
        {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
    ]
    profile = allow_by_default(rule("getppid", "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV, args=args))

    def probe(context):
        return {
            "first": raw_syscall("getppid", 1, 0),
            "second": raw_syscall("getppid", 2, 0),
            "third": raw_syscall("getppid", 0, 9),
            "none": raw_syscall("getppid", 3, 0),
        }

    status, report = run_child(profile, probe)
    assert_exited_cleanly(status, report)
    assert report["first"] == [-1, errno.EXDEV]
    assert report["second"] == [-1, errno.EXDEV]
    assert report["third"] == [-1, errno.EXDEV]
    assert report["none"][1] == 0


# --- syscall names, architectures and flags -------------------------------------------


@needs_libseccomp
def test_unknown_syscalls_skipped_and_logged():
    def setup():
        records = []
        log.configure(debug=True)
        log.set_sink(lambda level, message, fields: records.append([message, fields]))
        return records

    profile = allow_by_default(rule(["no_such_syscall", "getppid"], "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV))

    def probe(context):
        return {"result": raw_syscall("getppid"), "records": context["setup"]}

    status, report = run_child(profile, probe, setup=setup)
    assert_exited_cleanly(status, report)
    assert report["result"] == [-1, errno.EXDEV]
    assert ["unknown seccomp syscall ignored", {"syscall": "no_such_syscall", "rule": "linux.seccomp.syscalls[0]"}] in report["records"]


@needs_libseccomp
@needs_x86_64
@pytest.mark.parametrize(
    "architectures",
    [
        ["SCMP_ARCH_X86_64"],
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86"],
        ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_RISCV64"],
    ],
)
def test_architecture_lists_keep_native_rules(architectures):
    profile = allow_by_default(rule(["getppid", "_llseek"], "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV), architectures=architectures)
    status, report = run_child(profile, getppid_probe())
    assert_exited_cleanly(status, report)
    assert report["result"] == [-1, errno.EXDEV]


@needs_libseccomp
@needs_x86_64
def test_arch_other_byte_order_unsupported():
    profile = allow_by_default(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_PPC64"])
    status, report = run_child(profile, getppid_probe())
    assert report == {
        "exception": "NotSupported",
        "message": "linux.seccomp.architectures[1]: SCMP_ARCH_PPC64 has another byte order than this machine's "
        "architecture (x86_64), and libseccomp cannot mix byte orders in one filter",
    }


@needs_libseccomp
def test_arch_unknown_to_library_unsupported():
    if library_version_tuple() >= (2, 6, 0):
        pytest.skip("libseccomp 2.6.0 and later know SCMP_ARCH_LOONGARCH64")
    status, report = run_child(allow_by_default(architectures=["SCMP_ARCH_LOONGARCH64"]), getppid_probe())
    assert report == {
        "exception": "NotSupported",
        "message": f"linux.seccomp.architectures[0]: libseccomp {seccomp.library_version()} does not support SCMP_ARCH_LOONGARCH64",
    }


def _thread_waiting_to_call_getppid():
    """Start a thread before the filter exists. The thread calls getppid once released."""
    release = threading.Event()
    outcome = {}

    def worker():
        release.wait()
        outcome["result"] = raw_syscall("getppid")

    thread = threading.Thread(target=worker)
    thread.start()
    return release, thread, outcome


def _release_thread(context):
    release, thread, outcome = context["setup"]
    release.set()
    thread.join(WAIT_SECONDS)
    return {"result": outcome.get("result")}


@needs_libseccomp
@pytest.mark.parametrize("tsync", [True, False])
def test_tsync_flag_filters_existing_threads(tsync):
    profile = allow_by_default(rule("getppid", "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV))
    if tsync:
        profile["flags"] = ["SECCOMP_FILTER_FLAG_TSYNC"]
    status, report = run_child(profile, _release_thread, setup=_thread_waiting_to_call_getppid)
    assert_exited_cleanly(status, report)
    if tsync:
        assert report["result"] == [-1, errno.EXDEV]
    else:
        assert report["result"] == [os.getpid(), 0]


@needs_libseccomp
@pytest.mark.parametrize("flag", ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
def test_supported_flags_load(flag):
    if flag not in FEATURES["supportedFlags"]:
        pytest.skip(f"{flag} is not supported here")
    profile = allow_by_default(rule("getppid", "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV), flags=[flag])
    status, report = run_child(profile, getppid_probe())
    assert_exited_cleanly(status, report)
    assert report["result"] == [-1, errno.EXDEV]


@needs_libseccomp
def test_wait_killable_recv_needs_newer_library():
    if library_version_tuple() >= (2, 6, 0):
        pytest.skip("libseccomp 2.6.0 and later support SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
    profile = allow_by_default(
        rule("getppid", "SCMP_ACT_NOTIFY"),
        flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        listenerPath="/nonexistent/agent.sock",
    )
    status, report = run_child(profile, getppid_probe())
    assert report == {
        "exception": "NotSupported",
        "message": "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs libseccomp 2.6.0 or later "
        f"(SCMP_FLTATR_CTL_WAITKILL), but the loaded libseccomp is {seccomp.library_version()}",
    }


@needs_libseccomp
def test_install_rejects_invalid_profile():
    status, report = run_child({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_KILL"}]}, getppid_probe())
    assert report == {
        "exception": "InvalidConfig",
        "message": "invalid config.json: linux.seccomp.syscalls[0].names: missing required property",
    }


@needs_libseccomp
@needs_root
def test_load_unprivileged_without_nnp_fails():
    def drop_privileges():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    status, report = run_child(allow_by_default(rule("getppid", "SCMP_ACT_ERRNO")), getppid_probe(), setup=drop_privileges, no_new_privs=False)
    assert report == {
        "exception": "SystemCallError",
        "message": "seccomp_load: Permission denied (loading a filter needs CAP_SYS_ADMIN in the user namespace "
        "or process.noNewPrivileges)",
    }


# --- SCMP_ACT_NOTIFY and the seccomp agent --------------------------------------------


def container_state(pid: int) -> dict:
    return {
        "ociVersion": OCI_VERSION,
        "id": "notify-test",
        "status": "creating",
        "pid": pid,
        "bundle": "/bundles/notify-test",
        "annotations": {"test": "seccomp"},
    }


def receive_listener_message(server: socket.socket):
    """Accept one agent connection and return (the JSON document, the notify fd)."""
    connection, _ = server.accept()
    with connection:
        connection.settimeout(WAIT_SECONDS)
        data, fds, _, _ = socket.recv_fds(connection, 65536, 1)
        chunks = [data]
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    assert len(fds) == 1
    return json.loads(b"".join(chunks)), fds[0]


def answer_one_notification(notify_fd: int, value: int = 0, error: int = 0, flags: int = 0) -> dict:
    """Receive one notification and respond to it. Return its syscall number, pid and arguments."""
    poller = select.poll()
    poller.register(notify_fd, select.POLLIN)
    assert poller.poll(WAIT_SECONDS * 1000), "no seccomp notification arrived"
    request = ctypes.POINTER(Notification)()
    response = ctypes.POINTER(NotificationResponse)()
    assert libseccomp.seccomp_notify_alloc(ctypes.byref(request), ctypes.byref(response)) == 0
    try:
        assert libseccomp.seccomp_notify_receive(notify_fd, request) == 0
        seen = {
            "nr": request.contents.data.nr,
            "pid": request.contents.pid,
            "args": list(request.contents.data.args),
        }
        response.contents.id = request.contents.id
        response.contents.val = value
        response.contents.error = error
        response.contents.flags = flags
        assert libseccomp.seccomp_notify_respond(notify_fd, response) == 0
        return seen
    finally:
        libseccomp.seccomp_notify_free(request, response)


def start_notify_child(socket_path: str, profile: dict):
    """Fork a child that installs `profile`, sends the notify fd to socket_path and calls getppid(7, 8)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            assert libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            notify_fd = seccomp.install(profile)
            seccomp.send_listener_fd(socket_path, profile.get("listenerMetadata"), notify_fd, container_state(os.getpid()))
            os.close(notify_fd)
            report = {"result": raw_syscall("getppid", 7, 8), "notify_fd_type": type(notify_fd).__name__}
            code = 0
        except BaseException as error:  # noqa: BLE001 - the child must report and exit
            report = {"exception": type(error).__name__, "message": str(error)}
        finally:
            try:
                os.write(write_end, json.dumps(report).encode())
            finally:
                os._exit(code)
    os.close(write_end)
    return pid, read_end


@pytest.fixture
def agent_socket(tmp_path):
    path = str(tmp_path / "agent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(WAIT_SECONDS)
    yield path, server
    server.close()


def notify_profile(path: str, **extra) -> dict:
    return allow_by_default(rule("getppid", "SCMP_ACT_NOTIFY"), listenerPath=path, listenerMetadata="MKDIR=/tmp", **extra)


@needs_libseccomp
@pytest.mark.parametrize(("value", "error", "expected"), [(0, -errno.EXDEV, [-1, errno.EXDEV]), (4242, 0, [4242, 0])])
def test_notify_agent_answers_syscall(agent_socket, value, error, expected):
    path, server = agent_socket
    pid, read_end = start_notify_child(path, notify_profile(path))
    try:
        message, notify_fd = receive_listener_message(server)
        with os.fdopen(notify_fd, "rb", buffering=0) as notify_file:
            seen = answer_one_notification(notify_file.fileno(), value=value, error=error)
    finally:
        status, report = wait_for_child(pid, read_end)
    assert_exited_cleanly(status, report)
    assert report == {"result": expected, "notify_fd_type": "int"}
    assert seen["nr"] == syscall_number("getppid")
    assert seen["pid"] == pid
    assert seen["args"][:2] == [7, 8]
    assert message == {
        "ociVersion": OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": "MKDIR=/tmp",
        "state": container_state(pid),
    }


@needs_libseccomp
def test_notify_with_tsync_flag(agent_socket):
    path, server = agent_socket
    profile = notify_profile(path, flags=["SECCOMP_FILTER_FLAG_TSYNC"])
    pid, read_end = start_notify_child(path, profile)
    try:
        _, notify_fd = receive_listener_message(server)
        with os.fdopen(notify_fd, "rb", buffering=0) as notify_file:
            answer_one_notification(notify_file.fileno(), value=99)
    finally:
        status, report = wait_for_child(pid, read_end)
    assert_exited_cleanly(status, report)
    assert report["result"] == [99, 0]


@needs_libseccomp
def test_notify_unknown_names_returns_none():
    profile = allow_by_default(rule("no_such_syscall", "SCMP_ACT_NOTIFY"), listenerPath="/nonexistent/agent.sock")
    status, report = run_child(profile, lambda context: {"notify_fd": context["notify_fd"]})
    assert_exited_cleanly(status, report)
    assert report == {"notify_fd": None}


def _find_notify_fd(pid: int) -> int:
    """Return the number of the child's seccomp notify fd, waiting until it exists."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{name}") == "anon_inode:seccomp notify":
                    return int(name)
            except FileNotFoundError:
                continue
        time.sleep(0.001)
    pytest.fail(f"child {pid} has no seccomp notify fd")


@needs_libseccomp
def test_notify_default_action_returns_fd():
    # Every syscall of the child waits for an agent, so the parent takes the fd with pidfd_getfd(2)
    # and lets all calls but getppid continue.
    read_end, write_end = os.pipe()
    profile = {"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/nonexistent/agent.sock"}
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            assert libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            notify_fd = seccomp.install(profile)
            report = {"notify_fd": notify_fd, "result": raw_syscall("getppid")}
            code = 0
        except BaseException as error:  # noqa: BLE001 - the child must report and exit
            report = {"exception": type(error).__name__, "message": str(error)}
        finally:
            try:
                os.write(write_end, json.dumps(report).encode())
            finally:
                os._exit(code)
    os.close(write_end)

    getppid = syscall_number("getppid")
    answered_getppid = 0
    try:
        target_fd = _find_notify_fd(pid)
        pidfd = os.pidfd_open(pid)
        try:
            notify_fd = raw_syscall("pidfd_getfd", pidfd, target_fd, 0)[0]
        finally:
            os.close(pidfd)
        assert notify_fd >= 0
        try:
            poller = select.poll()
            poller.register(notify_fd, select.POLLIN)
            for _ in range(10000):
                events = poller.poll(100)
                if events and events[0][1] & select.POLLIN:
                    try:
                        request = answer_request(notify_fd, getppid)
                    except OSError:
                        continue
                    answered_getppid += request
                elif events and events[0][1] & (select.POLLHUP | select.POLLERR):
                    break
                elif os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    break
        finally:
            os.close(notify_fd)
    finally:
        status, report = wait_for_child(pid, read_end)
    assert_exited_cleanly(status, report)
    assert report == {"notify_fd": target_fd, "result": [4242, 0]}
    assert answered_getppid == 1


def answer_request(notify_fd: int, getppid: int) -> int:
    """Respond to getppid with 4242 and let every other syscall continue. Return 1 for getppid, else 0."""
    request = Notification()
    response = NotificationResponse()
    rc = libseccomp.seccomp_notify_receive(notify_fd, ctypes.byref(request))
    if rc < 0:
        raise OSError(-rc, "seccomp_notify_receive")
    response.id = request.id
    is_getppid = request.data.nr == getppid
    if is_getppid:
        response.val = 4242
    else:
        response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE
    rc = libseccomp.seccomp_notify_respond(notify_fd, ctypes.byref(response))
    if rc < 0:
        raise OSError(-rc, "seccomp_notify_respond")
    return 1 if is_getppid else 0


def test_send_listener_fd_without_agent_fails(tmp_path):
    missing = str(tmp_path / "missing.sock")
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(SystemCallError) as caught:
            seccomp.send_listener_fd(missing, "", read_end, container_state(os.getpid()))
    finally:
        os.close(read_end)
        os.close(write_end)
    assert str(caught.value) == f"connect {missing}: No such file or directory (seccomp listenerPath)"
    assert caught.value.errno == errno.ENOENT


def test_send_listener_fd_omits_empty_metadata(agent_socket):
    path, server = agent_socket
    read_end, write_end = os.pipe()
    try:
        seccomp.send_listener_fd(path, "", read_end, container_state(1234))
        message, received_fd = receive_listener_message(server)
        os.close(received_fd)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert message == {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": 1234, "state": container_state(1234)}


# --- the podman / containers-common default profile ------------------------------------

# The capabilities that podman gives a container by default.
PODMAN_DEFAULT_CAPABILITIES = {
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
}
# Go's names for the architectures, which the profile's includes and excludes use.
GO_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def _kernel_version() -> tuple:
    release = os.uname().release.split("-")[0]
    return tuple(int(part) for part in release.split(".")[:2])


def _entry_applies(entry: dict, go_arch: str, capabilities: set) -> bool:
    includes = entry.get("includes") or {}
    excludes = entry.get("excludes") or {}
    if includes.get("arches") and go_arch not in includes["arches"]:
        return False
    if includes.get("caps") and not set(includes["caps"]) <= capabilities:
        return False
    if includes.get("minKernel"):
        wanted = tuple(int(part) for part in includes["minKernel"].split(".")[:2])
        if _kernel_version() < wanted:
            return False
    if excludes.get("arches") and go_arch in excludes["arches"]:
        return False
    if excludes.get("caps") and set(excludes["caps"]) & capabilities:
        return False
    return True


def podman_profile_to_oci(profile: dict, capabilities: set = PODMAN_DEFAULT_CAPABILITIES) -> dict:
    """Convert a containers-common seccomp.json to linux.seccomp, the way podman does for this machine."""
    machine = os.uname().machine
    native = "SCMP_ARCH_" + machine.upper()
    architectures = []
    for entry in profile.get("archMap") or ():
        if entry["architecture"] == native:
            architectures = [entry["architecture"]] + entry.get("subArchitectures", [])
    go_arch = GO_ARCHITECTURES.get(machine, machine)
    syscalls = []
    for entry in profile["syscalls"]:
        if not _entry_applies(entry, go_arch, capabilities):
            continue
        converted = {"names": entry["names"], "action": entry["action"]}
        if entry.get("args"):
            converted["args"] = entry["args"]
        if entry.get("errnoRet") is not None:
            converted["errnoRet"] = entry["errnoRet"]
        syscalls.append(converted)
    oci = {"defaultAction": profile["defaultAction"], "architectures": architectures, "syscalls": syscalls}
    if profile.get("defaultErrnoRet") is not None:
        oci["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return oci


@pytest.fixture(scope="module")
def podman_profile():
    if not os.path.exists(PODMAN_PROFILE):
        pytest.skip(f"{PODMAN_PROFILE} is missing; install Debian's golang-github-containers-common")
    with open(PODMAN_PROFILE, encoding="utf-8") as handle:
        return podman_profile_to_oci(json.load(handle))


@needs_libseccomp
def test_podman_profile_validates(podman_profile):
    seccomp.validate(podman_profile)
    names = sum(len(entry["names"]) for entry in podman_profile["syscalls"])
    assert names > 300


@needs_libseccomp
def test_podman_profile_filters_syscalls(podman_profile, tmp_path):
    AF_NETLINK, SOCK_RAW, NETLINK_AUDIT = 16, 3, 9

    def probe(context):
        os.mkdir(tmp_path / "allowed")
        report = {
            "getppid": raw_syscall("getppid"),
            "made_dir": os.path.isdir(tmp_path / "allowed"),
            # Not in the profile, so the default action returns defaultErrnoRet (ENOSYS).
            "add_key": raw_syscall("add_key", 0, 0, 0, 0, 0),
            # Needs CAP_SYS_PTRACE, which the default capabilities lack, so it fails with EPERM.
            "kcmp": raw_syscall("kcmp", os.getpid(), os.getpid(), 0, 0, 0),
            # personality is allowed only for a few exact values.
            "personality_query": raw_syscall("personality", 0xFFFFFFFF),
            "personality_other": raw_syscall("personality", 0x0040000),
            # Audit netlink sockets need CAP_AUDIT_WRITE, so they fail with EINVAL. Other sockets are allowed.
            "audit_socket": raw_syscall("socket", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT),
        }
        unix_socket = raw_syscall("socket", socket.AF_UNIX, socket.SOCK_STREAM, 0)
        report["unix_socket_ok"] = unix_socket[0] >= 0
        return report

    status, report = run_child(podman_profile, probe)
    assert_exited_cleanly(status, report)
    assert report["getppid"] == [os.getpid(), 0]
    assert report["made_dir"] is True
    assert report["add_key"] == [-1, errno.ENOSYS]
    assert report["kcmp"] == [-1, errno.EPERM]
    assert report["personality_query"][1] == 0
    assert report["personality_other"] == [-1, errno.ENOSYS]
    assert report["audit_socket"] == [-1, errno.EINVAL]
    assert report["unix_socket_ok"] is True
