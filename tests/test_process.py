"""The container process: args, env, cwd, user, umask, limits, fds, stdio and terminals."""

from __future__ import annotations

import array
import json
import os
import select
import socket
import subprocess
import time

import support


def _run(runtime, **process):
    bundle = runtime.bundle(**process)
    return runtime("run", "-b", str(bundle), runtime.container_id())


def test_args_env_and_cwd(runtime):
    result = _run(
        runtime,
        args=["sh", "-c", 'echo "$FOO|$0|$1"; pwd', "zero", "one"],
        env=["PATH=/bin", "FOO=bar baz"],
        cwd="/tmp",
    )
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["bar baz|zero|one", "/tmp"]


def test_home_from_passwd(runtime):
    result = _run(runtime, args=["sh", "-c", "echo $HOME"], user={"uid": 1000, "gid": 1000})
    assert result.stdout == "/home/user\n"


def test_home_kept_when_set(runtime):
    result = _run(runtime, args=["sh", "-c", "echo $HOME"], env=["PATH=/bin", "HOME=/elsewhere"])
    assert result.stdout == "/elsewhere\n"


def test_user_and_additional_gids(runtime):
    result = _run(
        runtime,
        args=["sh", "-c", "id -u; id -g; id -G"],
        user={"uid": 1000, "gid": 1000, "additionalGids": [5, 65534]},
    )
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["1000", "1000", "1000 5 65534"]


def test_umask(runtime):
    result = _run(runtime, args=["sh", "-c", "umask"], user={"uid": 0, "gid": 0, "umask": 0o077})
    assert result.stdout.strip() == "0077"


def test_default_umask(runtime):
    result = _run(runtime, args=["sh", "-c", "umask"])
    assert result.stdout.strip() == "0022"


def test_rlimits(runtime):
    result = _run(
        runtime,
        args=["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c"],
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
    )
    assert result.stdout.split() == ["100", "200", "0"]


def test_no_new_privileges_and_capabilities(runtime):
    result = _run(runtime, args=["grep", "-E", "^(NoNewPrivs|CapEff|CapBnd|CapPrm|CapInh|CapAmb)", "/proc/self/status"])
    fields = dict(line.split(":\t") for line in result.stdout.splitlines())
    # The default set of `userrunc spec`: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
    # SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT and SETFCAP.
    assert fields["CapBnd"] == "00000000800405fb"
    assert fields["CapEff"] == "00000000800405fb"
    assert fields["CapPrm"] == "00000000800405fb"
    assert fields["CapInh"] == "0000000000000000"
    assert fields["NoNewPrivs"] == "1"


def test_oom_score_adj(runtime):
    result = _run(runtime, args=["cat", "/proc/self/oom_score_adj"], oomScoreAdj=500)
    assert result.stdout == "500\n"


def test_only_stdio_reaches_the_process(runtime):
    result = _run(runtime, args=["ls", "/proc/self/fd"])
    # 3 is ls's own directory fd.
    assert result.stdout.split() == ["0", "1", "2", "3"]


def test_preserve_fds(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "echo through-fd-3 >&3; ls /proc/self/fd"])
    target = runtime.workdir / "fd3.txt"
    target.touch()
    os.chown(target, runtime.uid, runtime.gid)
    # The shell opens fd 3 for userrunc, as a caller passing extra fds would.
    run = " ".join(runtime.command(["run", "--preserve-fds", "1", "-b", str(bundle), runtime.container_id()]))
    result = subprocess.run(["sh", "-c", f"exec 3>>{target}; exec {run}"], env=runtime.environment(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    assert target.read_text() == "through-fd-3\n"
    # 4 is ls's own directory fd.
    assert result.stdout.split() == ["0", "1", "2", "3", "4"]


def test_stdio_pipes_of_the_caller_work_for_another_container_user(rootless_runtime):
    runtime = rootless_runtime
    bundle = runtime.bundle(args=["sh", "-c", "echo reopened > /dev/stdout; id -u"], user={"uid": 1000, "gid": 1000})
    # The shell of the test user creates the pipe, as podman would for its own containers.
    inner = f"{support.USERRUNC} run -b {bundle} {runtime.container_id()} | cat"
    command = ["setpriv", f"--reuid={runtime.uid}", f"--regid={runtime.gid}", "--clear-groups", "sh", "-c", inner]
    result = subprocess.run(command, env=runtime.environment(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["reopened", "1000"]


def _window_size(fd: int) -> tuple[int, int]:
    import fcntl
    import struct
    import termios

    rows, columns, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, columns


def test_terminal_with_console_socket(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "tty; echo hello"], terminal=True, consoleSize={"height": 40, "width": 100})
    container_id = runtime.container_id()
    socket_path = runtime.workdir / "console.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    os.chown(socket_path, runtime.uid, runtime.gid)
    listener.listen(1)
    created = runtime.popen("create", "-b", str(bundle), "--console-socket", str(socket_path), container_id)
    connection, _ = listener.accept()
    message, ancillary, _flags, _address = connection.recvmsg(1024, socket.CMSG_SPACE(4))
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    connection.close()
    listener.close()
    assert created.wait(timeout=30) == 0
    assert message == b"/dev/pts/0"
    assert len(fds) == 1
    master = fds[0]
    try:
        assert _window_size(master) == (40, 100)
        assert runtime("start", container_id).returncode == 0
        output = _read_all(master)
    finally:
        os.close(master)
    assert output.replace(b"\r", b"").splitlines() == [b"/dev/pts/0", b"hello"]
    assert support.wait_for(lambda: json.loads(runtime("state", container_id).stdout)["status"] == "stopped")
    assert runtime("delete", container_id).returncode == 0


def _read_all(fd: int, timeout: float = 10.0) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if chunks:
                break
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_foreground_run_proxies_a_terminal(runtime):
    bundle = runtime.bundle(args=["sh", "-c", "read line; echo got:$line; stty size; exit 4"], terminal=True)
    status, text = support.run_on_terminal(
        runtime, ["run", "-b", str(bundle), runtime.container_id()], typed=b"ping\n", rows_columns=(30, 90), delay=0.5
    )
    assert status == 4
    assert "got:ping" in text
    assert "30 90" in text


def test_read_only_dev_null_stdin_reopened(runtime):
    """conmon gives /dev/null opened read-only as stdin; the container gets it for reading and writing, as with runc."""
    bundle = runtime.bundle(args=["sh", "-c", "echo x >&0 && echo wrote"])
    with open("/dev/null", "rb") as read_only:
        process = runtime.popen(
            "run", "-b", str(bundle), runtime.container_id(), stdin=read_only, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out == b"wrote\n"


def test_terminal_keeps_tty_group(runtime):
    """The container user owns its terminal, whose group stays devpts's gid=5 (tty), as with runc."""
    config = runtime.config()
    config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle = runtime.bundle(config=config, args=["sh", "-c", "stat -c 'owner %u:%g' $(tty)"], terminal=True)
    status, text = support.run_on_terminal(runtime, ["run", "-b", str(bundle), runtime.container_id()])
    assert status == 0
    assert "owner 1000:5" in text


def test_spec_config_runs_as_is_on_a_terminal(runtime):
    """The unmodified output of `userrunc spec` starts an interactive shell."""
    bundle = runtime.bundle()
    os.unlink(bundle.path / "config.json")
    flags = ["--rootless"] if runtime.rootless else []
    assert runtime("spec", *flags, "--bundle", str(bundle)).returncode == 0
    status, output = support.run_on_terminal(
        runtime, ["run", "-b", str(bundle), runtime.container_id()], typed=b"echo inside-$((6*7)); exit 3\n"
    )
    assert status == 3
    assert "inside-42" in output
