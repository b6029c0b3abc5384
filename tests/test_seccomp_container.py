"""linux.seccomp in real busybox containers, as root and rootless.

Each action is proven by a syscall of a busybox applet: mkdir(2) (or
mkdirat, whichever the static busybox uses) fails with the configured errno,
or the process dies of SIGSYS. The applet runs in a subshell, so the shell
survives to print the status; a process killed by signal N has status
128 + N. The notify tests play the seccomp agent: a socket in the test's
work directory receives the notify fd, and the test responds to each
notification with the ioctls of seccomp_unotify(2).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import threading

import pytest

import support
from test_seccomp_unit import PODMAN_DEFAULT_CAPABILITIES, PODMAN_PROFILE, podman_profile_to_oci
from userrunc.security import seccomp

pytestmark = pytest.mark.skipif(not seccomp.features()["enabled"], reason="libseccomp.so.2 cannot be loaded")

MKDIR = ["mkdir", "mkdirat"]
SIGSYS_STATUS = 128 + signal.SIGSYS
# seccomp_unotify(2): struct seccomp_notif is 80 bytes and struct seccomp_notif_resp 24,
# and the ioctls are _IOWR('!', 0, ...) and _IOWR('!', 1, ...).
NOTIF_FORMAT = "=QIIiIQ6Q"
RESPONSE_FORMAT = "=QqiI"
SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101
# Bounds a broken agent or container; no assertion depends on time.
WAIT_SECONDS = 30


def _allow_all(*rules, **extra) -> dict:
    return dict({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules)}, **extra)


def _rule(names, action, **extra) -> dict:
    return dict({"names": list(names), "action": action}, **extra)


def _config(runtime) -> dict:
    config = runtime.config()
    # The probes create directories in /tmp.
    config["root"]["readonly"] = False
    return config


def _run(runtime, seccomp_section, script, no_new_privileges=True, **process):
    config = _config(runtime)
    config["linux"]["seccomp"] = seccomp_section
    config["process"]["noNewPrivileges"] = no_new_privileges
    bundle = runtime.bundle(config=config, args=["sh", "-c", script], **process)
    return runtime("run", "-b", str(bundle), runtime.container_id())


# A mkdir in a subshell, then its exit status and whether the directory exists.
PROBE = "(mkdir /tmp/probe) 2>&1; echo status=$?; test -d /tmp/probe && echo exists || echo absent"


@pytest.mark.parametrize("no_new_privileges", [True, False], ids=["nnp", "no-nnp"])
def test_errno_action_returns_configured_errno(runtime, no_new_privileges):
    section = _allow_all(_rule(MKDIR, "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV))
    result = _run(runtime, section, PROBE, no_new_privileges)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [
        f"mkdir: can't create directory '/tmp/probe': {os.strerror(errno.EXDEV)}",
        "status=1",
        "absent",
    ]


def test_errno_action_without_errno_ret_is_eperm(runtime):
    result = _run(runtime, _allow_all(_rule(MKDIR, "SCMP_ACT_ERRNO")), PROBE)
    assert result.stdout.splitlines()[0] == f"mkdir: can't create directory '/tmp/probe': {os.strerror(errno.EPERM)}"


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_killing_actions_end_process_with_sigsys(runtime, action):
    result = _run(runtime, _allow_all(_rule(MKDIR, action)), PROBE)
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    # The shell may report the signal before the status line.
    assert f"status={SIGSYS_STATUS}" in lines
    assert lines[-1] == "absent"


def test_trace_action_without_tracer_fails_with_enosys(runtime):
    # seccomp(2): with no tracer attached, SECCOMP_RET_TRACE makes the syscall fail with ENOSYS.
    result = _run(runtime, _allow_all(_rule(MKDIR, "SCMP_ACT_TRACE", errnoRet=7)), PROBE)
    assert result.stdout.splitlines() == [
        f"mkdir: can't create directory '/tmp/probe': {os.strerror(errno.ENOSYS)}",
        "status=1",
        "absent",
    ]


@pytest.mark.parametrize("action", ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"])
def test_log_and_allow_actions_let_syscall_run(runtime, action):
    # An ERRNO default with the rule's action on mkdir only would also block busybox itself,
    # so the default is ALLOW with an ERRNO rule for rmdir, which the probe does not call.
    section = _allow_all(_rule(MKDIR, action), _rule(["rmdir"], "SCMP_ACT_ERRNO"))
    result = _run(runtime, section, PROBE + "; rmdir /tmp/probe 2>&1; echo rmdir=$?")
    assert result.stdout.splitlines() == [
        "status=0",
        "exists",
        f"rmdir: '/tmp/probe': {os.strerror(errno.EPERM)}",
        "rmdir=1",
    ]


def test_argument_condition_selects_calls(runtime):
    # chmod(path, mode) has the mode in argument 1, fchmodat(dirfd, path, mode) in argument 2.
    mode = 0o700
    section = _allow_all(
        _rule(["chmod"], "SCMP_ACT_ERRNO", errnoRet=errno.EROFS, args=[{"index": 1, "value": mode, "op": "SCMP_CMP_EQ"}]),
        _rule(["fchmodat"], "SCMP_ACT_ERRNO", errnoRet=errno.EROFS, args=[{"index": 2, "value": mode, "op": "SCMP_CMP_EQ"}]),
    )
    script = "touch /tmp/file; chmod 700 /tmp/file 2>&1; echo private=$?; chmod 755 /tmp/file; echo shared=$?"
    result = _run(runtime, section, script)
    assert result.stdout.splitlines() == [
        f"chmod: /tmp/file: {os.strerror(errno.EROFS)}",
        "private=1",
        "shared=0",
    ]


def test_filter_is_in_proc_status(runtime):
    section = _allow_all(_rule(MKDIR, "SCMP_ACT_ERRNO"))
    result = _run(runtime, section, "grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs):' /proc/self/status")
    fields = dict(line.split(":\t") for line in result.stdout.splitlines())
    assert fields == {"NoNewPrivs": "1", "Seccomp": "2", "Seccomp_filters": "1"}


def test_filter_applies_to_start_container_hook(runtime):
    section = _allow_all(_rule(MKDIR, "SCMP_ACT_ERRNO", errnoRet=errno.EXDEV))
    config = _config(runtime)
    config["linux"]["seccomp"] = section
    # startContainer hooks run inside the container, after the filter for a no_new_privs
    # container is loaded only just before execve, so this hook runs without it.
    config["process"]["noNewPrivileges"] = False
    config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "mkdir /tmp/hook 2>/tmp/hook-error; true"]}]}
    bundle = runtime.bundle(config=config, args=["cat", "/tmp/hook-error"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout == f"mkdir: can't create directory '/tmp/hook': {os.strerror(errno.EXDEV)}\n"


@pytest.mark.parametrize("syscall", ["prctl", "capset", "chdir", "rt_sigaction"])
def test_filter_blocking_the_init_is_a_clear_error(runtime, syscall):
    # Without no_new_privs the filter is loaded before the init drops its capabilities, so it applies to the init too.
    section = _allow_all(_rule([syscall], "SCMP_ACT_ERRNO", errnoRet=errno.ENOKEY))
    result = _run(runtime, section, "true", no_new_privileges=False)
    assert result.returncode == 1
    assert len(result.err_lines) == 1, result
    assert os.strerror(errno.ENOKEY) in result.err_lines[0]
    assert "internal error" not in result.stderr


def test_notify_default_action_is_rejected(runtime):
    section = {"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": str(runtime.workdir / "agent.sock")}
    result = _run(runtime, section, "true")
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: invalid config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action "
        "of a container, because the init could not send the notify fd to the seccomp agent; list the syscalls to "
        "notify in syscalls[] instead"
    ]


def test_notify_on_handoff_syscall_is_rejected(runtime):
    section = _allow_all(_rule(["getpid", "sendmsg"], "SCMP_ACT_NOTIFY"), listenerPath=str(runtime.workdir / "agent.sock"))
    result = _run(runtime, section, "true")
    assert result.returncode == 1
    assert result.err_lines[0].startswith(
        "userrunc: run: invalid config.json: linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot apply to sendmsg"
    )


def test_notify_listener_missing_is_a_clear_error(runtime):
    path = runtime.workdir / "nobody-listens.sock"
    section = _allow_all(_rule(MKDIR, "SCMP_ACT_NOTIFY"), listenerPath=str(path))
    result = _run(runtime, section, "true")
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: connect {path}: {os.strerror(errno.ENOENT)} (seccomp listenerPath)"
    ]


# --- the seccomp agent ------------------------------------------------------------------


class Agent:
    """A seccomp agent on a UNIX socket that receives the notify fd and responds to every notification."""

    def __init__(self, path, owner_uid: int, owner_gid: int, value: int = 0, error: int = 0) -> None:
        self.path = str(path)
        self.value = value
        self.error = error
        self.message = None
        self.notifications: list[dict] = []
        self.failure = None
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        # The rootless parent connects as the test user.
        os.chown(self.path, owner_uid, owner_gid)
        self.server.listen(1)
        self.server.settimeout(WAIT_SECONDS)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.server.accept()
            with connection:
                connection.settimeout(WAIT_SECONDS)
                data, fds, _flags, _address = socket.recv_fds(connection, 65536, 4)
                chunks = [data]
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
            self.message = json.loads(b"".join(chunks))
            self.fds = fds
            for extra in fds[1:]:
                os.close(extra)
            self._answer(fds[0])
        except Exception as error:  # noqa: BLE001 - reported by the test thread
            self.failure = error

    def _answer(self, notify_fd: int) -> None:
        poller = select.poll()
        poller.register(notify_fd, select.POLLIN)
        try:
            while not self.stop.is_set():
                events = poller.poll(100)
                if not events:
                    continue
                if events[0][1] & (select.POLLHUP | select.POLLERR) and not events[0][1] & select.POLLIN:
                    # Every process that used the filter has exited.
                    return
                request = bytearray(struct.calcsize(NOTIF_FORMAT))
                try:
                    fcntl.ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, request, True)
                except OSError as error:
                    # ENOENT: the process was killed before the notification was read.
                    if error.errno == errno.ENOENT:
                        continue
                    raise
                fields = struct.unpack(NOTIF_FORMAT, request)
                notification_id, pid, _flags, number = fields[0], fields[1], fields[2], fields[3]
                self.notifications.append({"pid": pid, "nr": number, "args": list(fields[6:])})
                response = bytearray(struct.pack(RESPONSE_FORMAT, notification_id, self.value, self.error, 0))
                try:
                    fcntl.ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, response, True)
                except OSError as error:
                    if error.errno != errno.ENOENT:
                        raise
        finally:
            os.close(notify_fd)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(WAIT_SECONDS)
        self.server.close()


def _syscall_numbers(names) -> set:
    import ctypes

    library = ctypes.CDLL("libseccomp.so.2")
    library.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    return {library.seccomp_syscall_resolve_name(name.encode()) for name in names}


@pytest.mark.parametrize("no_new_privileges", [True, False], ids=["nnp", "no-nnp"])
@pytest.mark.parametrize(("value", "error", "expected"), [
    (0, 0, ["status=0", "absent"]),
    (0, -errno.EXDEV, [f"mkdir: can't create directory '/tmp/probe': {os.strerror(errno.EXDEV)}", "status=1", "absent"]),
], ids=["fake-success", "errno"])
def test_notify_agent_receives_fd_and_answers(runtime, no_new_privileges, value, error, expected):
    agent = Agent(runtime.workdir / "agent.sock", runtime.uid, runtime.gid, value=value, error=error)
    try:
        config = _config(runtime)
        config["linux"]["seccomp"] = _allow_all(
            _rule(MKDIR, "SCMP_ACT_NOTIFY"), listenerPath=agent.path, listenerMetadata="probe=mkdir"
        )
        config["process"]["noNewPrivileges"] = no_new_privileges
        config["annotations"] = {"test": "seccomp-agent"}
        bundle = runtime.bundle(config=config, args=["sh", "-c", PROBE])
        container_id = runtime.container_id()
        result = runtime("run", "-b", str(bundle), container_id, timeout=WAIT_SECONDS)
    finally:
        agent.close()
    assert agent.failure is None, agent.failure
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == expected

    message = agent.message
    pid = message["pid"]
    assert message == {
        "ociVersion": "1.2.0",
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": "probe=mkdir",
        "state": {
            "ociVersion": "1.2.0",
            "id": container_id,
            "status": "creating",
            "pid": pid,
            "bundle": str(bundle.path),
            "annotations": {"test": "seccomp-agent"},
        },
    }
    assert len(agent.notifications) == 1
    assert agent.notifications[0]["nr"] in _syscall_numbers(MKDIR)
    # The mkdir ran in a subshell, a child of the container process, not in the init itself.
    assert agent.notifications[0]["pid"] != pid


# --- podman's default profile -------------------------------------------------------------


@pytest.fixture(scope="module")
def podman_profile():
    if not os.path.exists(PODMAN_PROFILE):
        pytest.skip(f"{PODMAN_PROFILE} is missing; install Debian's golang-github-containers-common")
    with open(PODMAN_PROFILE, encoding="utf-8") as handle:
        return podman_profile_to_oci(json.load(handle), PODMAN_DEFAULT_CAPABILITIES)


def _podman_config(runtime, profile, no_new_privileges):
    config = _config(runtime)
    config["linux"]["seccomp"] = profile
    config["process"]["noNewPrivileges"] = no_new_privileges
    config["process"]["capabilities"] = {name: sorted(PODMAN_DEFAULT_CAPABILITIES) for name in ("bounding", "effective", "permitted")}
    return config


@pytest.mark.parametrize("no_new_privileges", [True, False], ids=["nnp", "no-nnp"])
def test_podman_profile_runs_busybox_shell(runtime, podman_profile, no_new_privileges):
    script = (
        "echo hello; id -u; mkdir /tmp/dir && echo made; ls /tmp; "
        "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; "
        # The profile allows personality() only for a few values, PER_LINUX32 among them.
        "linux32 uname -m"
    )
    config = _podman_config(runtime, podman_profile, no_new_privileges)
    bundle = runtime.bundle(config=config, args=["sh", "-c", script])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[:4] == ["hello", "0", "made", "dir"]
    assert lines[4:6] == [f"NoNewPrivs:\t{int(no_new_privileges)}", "Seccomp:\t2"]
    assert lines[6] in ("i686", "i386")


def test_podman_profile_default_errno_for_unlisted_syscall(runtime, podman_profile):
    # Without mkdir and mkdirat in the profile, the default action returns defaultErrnoRet (ENOSYS).
    profile = json.loads(json.dumps(podman_profile))
    for entry in profile["syscalls"]:
        entry["names"] = [name for name in entry["names"] if name not in MKDIR]
    profile["syscalls"] = [entry for entry in profile["syscalls"] if entry["names"]]
    assert profile["defaultErrnoRet"] == errno.ENOSYS
    config = _podman_config(runtime, profile, True)
    bundle = runtime.bundle(config=config, args=["sh", "-c", PROBE])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [
        f"mkdir: can't create directory '/tmp/probe': {os.strerror(errno.ENOSYS)}",
        "status=1",
        "absent",
    ]
