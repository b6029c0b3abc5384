"""Attacks from inside a container on the runtime, as root and rootless; each must fail.

- CVE-2019-5736 class: a container process opens /proc/<pid>/exe of a
  runtime process in its PID namespace (here the Python interpreter of the
  init) to overwrite it, or reads its fds, cwd, root, environ or memory.
  The init is non-dumpable until execve, so all of these need
  CAP_SYS_PTRACE in the initial user namespace. The attacker is a second
  container that shares the PID namespace (and, rootless, the user
  namespace), which is what a pod does.
- CVE-2024-21626 class: process.cwd set to /proc/self/fd/N, so the process
  would start in a directory that a leaked fd of the init points to.
- Host fds: the container process and the hooks that run in the
  container's namespaces hold only their stdio.

The attack scripts use shell builtins only (redirections, cd, globs), so
the attacking container has no process of its own besides its shell, and
every other PID in its /proc belongs to the container under attack.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

import support

# Bounds the attack loop; no assertion depends on time.
WAIT_SECONDS = 30


def _state(runtime, container_id) -> dict:
    result = runtime("state", container_id)
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def _pid_inside(host_pid: int) -> int:
    """Return the PID of a process in its innermost PID namespace (the last NSpid field)."""
    with open(f"/proc/{host_pid}/status") as handle:
        for line in handle:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    raise AssertionError(f"no NSpid in /proc/{host_pid}/status")


def _joining_config(runtime, target_pid: int) -> dict:
    """Return a config that joins the PID namespace of target_pid (and its user namespace when rootless)."""
    config = runtime.config()
    joined = {"pid": "pid"}
    if runtime.rootless:
        # A namespace can be joined only from the user namespace that owns it.
        joined["user"] = "user"
        config["linux"].pop("uidMappings", None)
        config["linux"].pop("gidMappings", None)
    namespaces = [item for item in config["linux"]["namespaces"] if item["type"] not in joined]
    for kind, name in joined.items():
        namespaces.append({"type": kind, "path": f"/proc/{target_pid}/ns/{name}"})
    config["linux"]["namespaces"] = namespaces
    return config


# Every way to reach a process through /proc that ptrace_may_access() guards.
ATTACK_ONE = """
t=/proc/$1
{ true < $t/exe; } 2>/dev/null && echo "LEAK $1 exe opened for reading"
{ true >> $t/exe; } 2>/dev/null && echo "LEAK $1 exe opened for writing"
readlink $t/exe >/dev/null 2>&1 && echo "LEAK $1 exe link"
{ true < $t/environ; } 2>/dev/null && echo "LEAK $1 environ"
{ true < $t/mem; } 2>/dev/null && echo "LEAK $1 mem"
cd $t/cwd 2>/dev/null && { echo "LEAK $1 cwd"; cd /; }
cd $t/root 2>/dev/null && { echo "LEAK $1 root"; cd /; }
for f in $t/fd/*; do readlink "$f" >/dev/null 2>&1 && echo "LEAK $1 fd link $f"; done
for n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
    readlink $t/fd/$n >/dev/null 2>&1 && echo "LEAK $1 fd $n"
done
"""


def _start_attacker(runtime, script: str):
    """Start a container that runs script with its output in a file; return (bundle, id, init PID, output path)."""
    bundle = runtime.bundle(args=["sh", "-c", script])
    container_id = runtime.container_id("attacker")
    out_path = runtime.workdir / f"{container_id}.out"
    with open(out_path, "w") as out:
        os.fchown(out.fileno(), runtime.uid, runtime.gid)
        assert runtime.popen("create", "-b", str(bundle), container_id, stdout=out).wait(timeout=WAIT_SECONDS) == 0
    assert runtime("start", container_id).returncode == 0
    return bundle, container_id, _state(runtime, container_id)["pid"], out_path


def _create_victim(runtime, attacker_pid: int, name: str):
    """Create a container in the attacker's PID namespace; its init waits on exec.fifo. Return (id, inner PID)."""
    victim = runtime.bundle(config=_joining_config(runtime, attacker_pid), args=["true"])
    victim_id = runtime.container_id(name)
    created = runtime("create", "-b", str(victim), victim_id)
    assert created.returncode == 0, created
    return victim_id, _pid_inside(_state(runtime, victim_id)["pid"])


def _leaks(out_path) -> list[str]:
    return [line for line in out_path.read_text().splitlines() if line.startswith("LEAK")]


def test_waiting_init_is_closed_to_container_processes(runtime):
    """A process in the PID namespace of a created container attacks its init, which waits on exec.fifo."""
    state_root = str(runtime.state_root)
    script = (
        "attack() {" + ATTACK_ONE + "}\n"
        "while [ ! -e /tmp/target ]; do sleep 0.05; done; read p < /tmp/target; "
        "cat /proc/$p/comm; attack $p; "
        f"grep -c '{state_root}' /proc/self/mountinfo; echo done; "
        # The attacker is PID 1 of the namespace, so the victim lives only as long as it does.
        "while [ ! -e /tmp/stop ]; do sleep 0.05; done"
    )
    attacker, attacker_id, attacker_pid, out_path = _start_attacker(runtime, script)
    victim_id, inner_pid = _create_victim(runtime, attacker_pid, "victim")
    (attacker.rootfs / "tmp" / "target").write_text(f"{inner_pid}\n")
    assert support.wait_for(lambda: out_path.read_text().endswith("done\n"), timeout=WAIT_SECONDS), out_path.read_text()
    lines = out_path.read_text().splitlines()
    # The comm of the target proves that the attack reached the runtime's init, not a shell.
    assert lines[0] not in ("sh", "true", "sleep")
    assert _leaks(out_path) == []
    # No mount of the container shows the runtime's state directory.
    assert lines[-2:] == ["0", "done"]
    assert _state(runtime, victim_id)["status"] == "created"
    for container_id in (victim_id, attacker_id):
        assert runtime("delete", "--force", container_id).returncode == 0


def test_pid_1_of_waiting_init_is_closed(root_runtime):
    """A process joins the PID namespace of a created container and attacks its PID 1.

    Only real root can join: a rootless caller has no CAP_SYS_PTRACE over a non-dumpable init, so it
    cannot open its /proc/PID/ns files either.
    """
    runtime = root_runtime
    target = runtime.bundle(args=["true"])
    target_id = runtime.container_id("target")
    assert runtime("create", "-b", str(target), target_id).returncode == 0
    init_pid = _state(runtime, target_id)["pid"]
    assert _pid_inside(init_pid) == 1

    script = "attack() {" + ATTACK_ONE + "}\ncat /proc/1/comm; attack 1; echo done"
    attacker = runtime.bundle(config=_joining_config(runtime, init_pid), args=["sh", "-c", script])
    result = runtime("run", "-b", str(attacker), runtime.container_id("attacker"))
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] not in ("sh", "true")
    assert [line for line in lines if line.startswith("LEAK")] == []
    assert lines[-1] == "done"
    assert _state(runtime, target_id)["status"] == "created"
    assert runtime("delete", "--force", target_id).returncode == 0


ATTACK_LOOP = (
    "attack() {" + ATTACK_ONE + "}\n"
    """seen=""
while [ ! -e /tmp/stop ]; do
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = 1 ] && continue
        case " $seen " in *" $p "*) ;; *) seen="$seen $p"; echo "SEEN $p";; esac
        attack $p
    done
done
echo stopped
"""
)


def test_racing_attacker_never_reaches_init(runtime):
    """A container loops over /proc while inits of other containers in its PID namespace are created."""
    attacker, attacker_id, attacker_pid, out_path = _start_attacker(runtime, ATTACK_LOOP)
    inner_pids = []
    for round_number in range(3):
        victim_id, inner_pid = _create_victim(runtime, attacker_pid, f"victim{round_number}")
        inner_pids.append(inner_pid)
        # Let the loop attack the waiting init for a while.
        assert support.wait_for(lambda: f"SEEN {inner_pid}\n" in out_path.read_text(), timeout=WAIT_SECONDS)
        time.sleep(0.3)
        assert runtime("delete", "--force", victim_id).returncode == 0

    (attacker.rootfs / "tmp" / "stop").write_text("")
    assert support.wait_for(lambda: out_path.read_text().endswith("stopped\n"), timeout=WAIT_SECONDS)
    assert _leaks(out_path) == []
    output = out_path.read_text().splitlines()
    for pid in inner_pids:
        assert f"SEEN {pid}" in output
    assert runtime("delete", "--force", attacker_id).returncode == 0


# --- CVE-2024-21626: process.cwd through a magic link ------------------------------------


def _cwd_error(cwd: str) -> str:
    return (
        f"userrunc: run: process.cwd {cwd}: resolves through a magic link such as /proc/self/fd/N or too many "
        "symlinks; set it to a directory inside the container's root filesystem"
    )


def test_init_fds_are_below_the_probed_range(root_runtime):
    # The cwd test below probes fds 0 to 19, so the init must have fewer open.
    runtime = root_runtime
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    assert runtime("create", "-b", str(bundle), container_id).returncode == 0
    pid = _state(runtime, container_id)["pid"]
    open_fds = [int(name) for name in os.listdir(f"/proc/{pid}/fd")]
    assert max(open_fds) < 20
    assert runtime("delete", "--force", container_id).returncode == 0


def test_cwd_proc_self_fd_fails(runtime):
    for fd in range(20):
        cwd = f"/proc/self/fd/{fd}"
        bundle = runtime.bundle(args=["pwd"], cwd=cwd)
        result = runtime("run", "-b", str(bundle), runtime.container_id())
        assert result.returncode == 1, (fd, result)
        # An fd that the init does not hold is simply missing.
        missing = f"userrunc: run: process.cwd {cwd}: No such file or directory"
        assert result.err_lines in ([_cwd_error(cwd)], [missing]), fd
        assert result.stdout == ""


@pytest.mark.parametrize("cwd", ["/proc/self/cwd", "/proc/1/root", "/proc/self/root/tmp", "/proc/thread-self/cwd/tmp"])
def test_cwd_through_other_magic_links_fails(runtime, cwd):
    bundle = runtime.bundle(args=["pwd"], cwd=cwd)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1, result
    assert result.err_lines == [_cwd_error(cwd)]


def test_cwd_on_preserved_host_directory_fd_fails(runtime):
    """Even a host directory that the caller passes on with --preserve-fds cannot become the cwd."""
    bundle = runtime.bundle(args=["sh", "-c", "pwd; ls"], cwd="/proc/self/fd/3")
    # A shell opens fd 3 for userrunc, so pytest's own descriptors stay untouched.
    run = " ".join(runtime.command(["run", "--preserve-fds", "1", "-b", str(bundle), runtime.container_id()]))
    completed = subprocess.run(
        ["sh", "-c", f"exec 3<{runtime.workdir}; exec {run}"],
        env=runtime.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1, completed
    assert completed.stderr.splitlines() == [_cwd_error("/proc/self/fd/3")]


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_cwd_symlink_to_magic_link_fails(runtime):
    bundle = runtime.bundle(args=["pwd"], cwd="/work")
    os.symlink("/proc/self/fd/1", bundle.rootfs / "work")
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1, result
    assert result.err_lines == [_cwd_error("/work")]


def test_cwd_symlink_stays_inside_rootfs(runtime):
    # An absolute symlink resolves against the container's root, not the host's.
    bundle = runtime.bundle(args=["pwd"], cwd="/work")
    os.symlink("/home/user", bundle.rootfs / "work")
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout == "/home/user\n"


def test_missing_cwd_is_a_clear_error(runtime):
    bundle = runtime.bundle(args=["pwd"], cwd="/nonexistent")
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: run: process.cwd /nonexistent: No such file or directory"]


def test_cwd_permissions_apply_to_container_user(runtime):
    bundle = runtime.bundle(args=["pwd"], cwd="/root/inner", user={"uid": 1000, "gid": 1000})
    os.makedirs(bundle.rootfs / "root" / "inner")
    os.chmod(bundle.rootfs / "root", 0o700)
    if runtime.rootless:
        support.chown_tree(bundle.path, runtime.uid, runtime.gid)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == ["userrunc: run: process.cwd /root/inner: Permission denied"]


# --- host fds ------------------------------------------------------------------------------


def test_process_and_hooks_hold_only_stdio(runtime):
    config = runtime.config()
    config["root"]["readonly"] = False
    host_listing = runtime.workdir / "create-container-fds"
    config["hooks"] = {
        # Runs a host program in the container's namespaces, before pivot_root.
        "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", f"ls /proc/self/fd > {host_listing}"]}],
        # Runs a program of the container, just before the container process.
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "ls /proc/self/fd > /tmp/start-container-fds"]}],
    }
    script = "ls /proc/self/fd; echo --; cat /tmp/start-container-fds"
    bundle = runtime.bundle(config=config, args=["sh", "-c", script])
    if runtime.rootless:
        os.chmod(runtime.workdir, 0o777)
    # A console socket and a terminal would add fds, so this runs with plain stdio.
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    process_fds, start_hook_fds = result.stdout.split("--\n")
    # The extra fd is the directory that ls reads.
    assert process_fds.split() == ["0", "1", "2", "3"]
    assert start_hook_fds.split() == ["0", "1", "2", "3"]
    assert host_listing.read_text().split() == ["0", "1", "2", "3"]


def test_notify_socket_of_caller_does_not_leak(runtime):
    """An fd that the caller leaves open without --preserve-fds does not reach the container."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(runtime.workdir / "leak.sock"))
    fd = listener.fileno()
    try:
        bundle = runtime.bundle(args=["ls", "/proc/self/fd"])
        result = runtime("run", "-b", str(bundle), runtime.container_id(), pass_fds=(fd,))
    finally:
        listener.close()
    assert result.returncode == 0, result
    assert result.stdout.split() == ["0", "1", "2", "3"]
