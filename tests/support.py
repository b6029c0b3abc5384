"""Test support: busybox bundles, the CLI as root or as the test user, leak checks.

Tests drive the installed `userrunc` command as a subprocess, the way
podman and scripts do. The unprivileged runs go through setpriv with the
test user's uid, gid and its own XDG_RUNTIME_DIR.
"""

from __future__ import annotations

import copy
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSYBOX = "/usr/bin/busybox"
VENV_BIN = Path(sys.executable).parent
USERRUNC = str(VENV_BIN / "userrunc")
TEST_USER = "urtest"
# Marks every process a test starts (the CLI and the container), so leak
# checks can find the ones that outlive their test.
MARK_VARIABLE = "USERRUNC_TEST_MARK"


def build_rootfs(target: Path) -> None:
    """Make a busybox rootfs: the static binary, one symlink per applet, /etc/passwd and /etc/group."""
    (target / "bin").mkdir(parents=True)
    for name in ("proc", "sys", "dev", "etc", "tmp", "root", "home/user"):
        (target / name).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, target / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", target / "bin" / applet)
    (target / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
    )
    (target / "etc" / "group").write_text("root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n")
    (target / "tmp").chmod(0o1777)


def default_config(rootless: bool, uid: int = 0, gid: int = 0, mappings=None) -> dict:
    """Return the config that `userrunc spec` writes, with terminal off and a test marker in env."""
    from userrunc.commands import spec as spec_module

    if rootless:
        uids, gids = mappings or ([{"containerID": 0, "hostID": uid, "size": 1}], [{"containerID": 0, "hostID": gid, "size": 1}])
        config = spec_module.rootless_spec(uid, gid, uids, gids)
    else:
        config = spec_module.default_spec()
    config["process"]["terminal"] = False
    return config


class Result:
    """The outcome of one CLI call."""

    def __init__(self, completed: subprocess.CompletedProcess) -> None:
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.args = completed.args

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __repr__(self) -> str:
        return f"Result(rc={self.returncode}, stdout={self.stdout!r}, stderr={self.stderr!r})"


class Runtime:
    """Runs the userrunc CLI as root or as the unprivileged test user, with its own state."""

    def __init__(self, mode: str, workdir: Path, mark: str, user: pwd.struct_passwd | None = None) -> None:
        self.mode = mode
        self.rootless = mode == "rootless"
        self.workdir = workdir
        self.mark = mark
        self.user = user
        self.runtime_dir = workdir / "xdg"
        self.runtime_dir.mkdir(mode=0o700)
        if self.rootless:
            os.chown(workdir, user.pw_uid, user.pw_gid)
            os.chown(self.runtime_dir, user.pw_uid, user.pw_gid)
        self.state_root = self.runtime_dir / "userrunc" if self.rootless else workdir / "state"
        self.created: list[str] = []
        self._bundles = 0

    @property
    def uid(self) -> int:
        return self.user.pw_uid if self.rootless else 0

    @property
    def gid(self) -> int:
        return self.user.pw_gid if self.rootless else 0

    def environment(self, extra: dict | None = None) -> dict:
        env = {
            "PATH": f"{VENV_BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            MARK_VARIABLE: self.mark,
        }
        if self.rootless:
            env.update(HOME=str(self.workdir), USER=self.user.pw_name, LOGNAME=self.user.pw_name, XDG_RUNTIME_DIR=str(self.runtime_dir))
        else:
            env["HOME"] = "/root"
        if extra:
            env.update(extra)
        return env

    def command(self, args: list[str], root_option: bool = True) -> list[str]:
        base = [USERRUNC]
        if root_option and not self.rootless:
            base += ["--root", str(self.state_root)]
        return self.as_user(base + list(args))

    def as_user(self, command: list[str]) -> list[str]:
        """Return command wrapped in setpriv for the test user, or unchanged as root."""
        if not self.rootless:
            return command
        return [
            "setpriv",
            f"--reuid={self.user.pw_uid}",
            f"--regid={self.user.pw_gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ] + command

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60, env: dict | None = None,
                 root_option: bool = True, cwd: str | None = None, pass_fds=()) -> Result:
        # Files, not pipes: create passes its stdio on to the container, so a
        # pipe would stay open until the container exits.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            for handle in (out, err):
                os.fchown(handle.fileno(), self.uid, self.gid)
            completed = subprocess.run(
                self.command(list(args), root_option),
                input=input.encode() if input is not None else None,
                stdin=None if input is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                timeout=timeout,
                env=self.environment(env),
                cwd=cwd or str(self.workdir),
                pass_fds=pass_fds,
            )
            out.seek(0)
            err.seek(0)
            completed.stdout = out.read().decode("utf-8", "replace")
            completed.stderr = err.read().decode("utf-8", "replace")
        return Result(completed)

    def popen(self, *args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(list(args)), env=self.environment(env), cwd=str(self.workdir), **kwargs)

    def bundle(self, config: dict | None = None, name: str | None = None, **changes) -> "Bundle":
        """Make a bundle owned by the runtime's user; `changes` go into config.json's process."""
        self._bundles += 1
        path = self.workdir / (name or f"bundle{self._bundles}")
        return Bundle(path, self, config, changes)

    def config(self) -> dict:
        mappings = None
        if self.rootless:
            mappings = rootless_mappings(self.user)
        return default_config(self.rootless, self.uid, self.gid, mappings)

    def container_id(self, name: str = "c") -> str:
        container_id = f"{name}-{len(self.created)}-{os.getpid()}"
        self.created.append(container_id)
        return container_id

    def cleanup(self) -> None:
        for container_id in self.created:
            self("delete", "--force", container_id, timeout=30)


def rootless_mappings(user) -> tuple[list[dict], list[dict]]:
    """Return the full mapping of the test user: root is the user, 1..65536 its subordinate ids."""
    uids = [{"containerID": 0, "hostID": user.pw_uid, "size": 1}, {"containerID": 1, "hostID": SUBID_START, "size": SUBID_COUNT}]
    gids = [{"containerID": 0, "hostID": user.pw_gid, "size": 1}, {"containerID": 1, "hostID": SUBID_START, "size": SUBID_COUNT}]
    return uids, gids


SUBID_START = 200000
SUBID_COUNT = 65536


class Bundle:
    """A bundle directory with a busybox rootfs and a config.json."""

    def __init__(self, path: Path, runtime: Runtime, config: dict | None, process_changes: dict) -> None:
        self.path = path
        self.runtime = runtime
        self.rootfs = path / "rootfs"
        path.mkdir()
        shutil.copytree(ROOTFS_TEMPLATE, self.rootfs, symlinks=True)
        self.config = copy.deepcopy(config) if config is not None else runtime.config()
        process = self.config.get("process")
        if isinstance(process, dict):
            process.update(process_changes)
            if isinstance(process.get("env", []), list):
                process.setdefault("env", []).append(f"{MARK_VARIABLE}={runtime.mark}")
        self.write()

    def write(self) -> None:
        (self.path / "config.json").write_text(json.dumps(self.config, indent=1))
        if self.runtime.rootless:
            chown_tree(self.path, self.runtime.uid, self.runtime.gid)

    def __str__(self) -> str:
        return str(self.path)


ROOTFS_TEMPLATE = Path("/nonexistent")


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        os.lchown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def processes_with_mark(mark: str) -> list[int]:
    """Return PIDs whose environment carries the test mark (zombies excluded)."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state in (b"Z", b"X"):
            continue
        if needle in environ.split(b"\0"):
            found.append(int(name))
    return found


def mounts_under(path: Path) -> list[str]:
    """Return host mount points at or below path."""
    prefix = str(path)
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            mount_point = line.split()[4]
            if mount_point == prefix or mount_point.startswith(prefix + "/"):
                found.append(mount_point)
    return found


def cgroups_named(name: str) -> list[str]:
    """Return cgroup directories called `name` anywhere in the first levels of each hierarchy."""
    found = []
    base = Path("/sys/fs/cgroup")
    for hierarchy in base.iterdir():
        candidates = [hierarchy] if (hierarchy / "cgroup.procs").exists() else []
        if hierarchy.name == "unified" or not candidates:
            candidates = [hierarchy]
        for directory in candidates:
            for root, dirs, _files in os.walk(directory):
                if os.path.basename(root) == name:
                    found.append(root)
                if root.count("/") - str(directory).count("/") >= 3:
                    dirs[:] = []
    return found


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll predicate until it returns a true value or timeout seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def run_on_terminal(runtime: Runtime, args: list[str], typed: bytes = b"", rows_columns=None,
                    delay: float = 0.0, timeout: float = 20.0) -> tuple[int, str]:
    """Run the CLI with a new pseudoterminal as its stdio; return (exit status, output without \\r).

    `typed` is written to the terminal after `delay` seconds, as a user would
    type it; `rows_columns` sets the terminal's size first.
    """
    import pty
    import select

    master, slave = pty.openpty()
    if rows_columns:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows_columns[0], rows_columns[1], 0, 0))
    os.chown(os.ttyname(slave), runtime.uid, runtime.gid)
    process = subprocess.Popen(
        runtime.command(args),
        env=runtime.environment(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    if typed:
        time.sleep(delay)
        os.write(master, typed)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    # EIO: every holder of the terminal has closed it.
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        status = process.wait(timeout=timeout)
    finally:
        os.close(master)
    return status, output.replace(b"\r", b"").decode("utf-8", "replace")
