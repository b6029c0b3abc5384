"""podman with userrunc as its OCI runtime (podman --runtime), as root and without root.

podman keeps its images and containers in storage of the test: --root,
--runroot and --tmpdir in a directory of the test, with the vfs driver. It
imports the busybox rootfs as a local image, so nothing is pulled. The
containers have no network (--network none), so podman makes no interface
or firewall rule on the host. The tests are skipped where podman is not
installed, and tests/run installs it.

This host lacks CAP_SYS_RESOURCE, so podman as root gets rlimits that the
host allows (its defaults raise RLIMIT_NOFILE above the hard limit, which
fails with runc too). userrunc does not apply cgroup limits yet, so podman
as root gets --pids-limit 0 instead of its default limit of 2048.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

import support

PODMAN = shutil.which("podman")
IMAGE = "localhost/userrunc-busybox:test"
# podman as root: no pids limit and rlimits within the hard limits of this host.
ROOT_OPTIONS = ["--pids-limit", "0", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

pytestmark = pytest.mark.skipif(PODMAN is None, reason="podman is not installed (apt install podman)")


class Podman:
    """podman as the runtime's user, with its own storage, and userrunc as the OCI runtime."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        # podman rejects a --runroot longer than 50 characters.
        self.storage = Path(tempfile.mkdtemp(prefix="urpodman-", dir="/tmp"))
        if runtime.rootless:
            os.chown(self.storage, runtime.uid, runtime.gid)

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [
            PODMAN,
            "--root", str(self.storage / "root"),
            "--runroot", str(self.storage / "run"),
            "--tmpdir", str(self.storage / "tmp"),
            "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            "--runtime", support.USERRUNC,
        ] + list(args)
        return subprocess.run(
            self.runtime.as_user(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.runtime.environment(),
            cwd=str(self.runtime.workdir),
        )

    def run_options(self) -> list[str]:
        return ["--network", "none"] + ([] if self.runtime.rootless else ROOT_OPTIONS)

    def stop_pause_process(self) -> None:
        """End the process that podman without root keeps to hold its user namespace."""
        for pid_file in self.storage.rglob("pause.pid"):
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass


def _imported(runtime) -> Podman:
    """Return podman for the runtime's user, with the busybox rootfs imported as IMAGE."""
    manager = Podman(runtime)
    archive = runtime.workdir / "busybox.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(support.ROOTFS_TEMPLATE, arcname=".")
    if runtime.rootless:
        os.chown(archive, runtime.uid, runtime.gid)
    imported = manager("import", str(archive), IMAGE)
    if imported.returncode != 0:
        _remove(manager)
    assert imported.returncode == 0, imported.stderr
    return manager


def _remove(manager: Podman) -> None:
    manager("rm", "--all", "--force")
    manager.stop_pause_process()
    # Files that podman without root wrote in its user namespace belong to subordinate ids.
    subprocess.run(["rm", "-rf", str(manager.storage)], check=False)


@pytest.fixture
def podman(runtime):
    manager = _imported(runtime)
    yield manager
    _remove(manager)


@pytest.fixture
def rootless_podman(rootless_runtime):
    manager = _imported(rootless_runtime)
    yield manager
    _remove(manager)


def test_podman_run(runtime, podman):
    result = podman("run", "--rm", *podman.run_options(), IMAGE, "sh", "-c", "id -u; cat /proc/self/uid_map | wc -l; cat /proc/sys/net/ipv4/ping_group_range")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "0"
    # Without root the container shares podman's user namespace: the user's id and its range.
    assert lines[1] == ("2" if runtime.rootless else "1")
    # podman's default sysctl, written before /proc/sys becomes read-only.
    assert lines[2].split() == ["0", "0"]
    assert podman("ps", "--all", "--quiet").stdout == ""


def test_podman_exit_status(runtime, podman):
    result = podman("run", "--rm", *podman.run_options(), IMAGE, "sh", "-c", "exit 7")
    assert result.returncode == 7


def test_podman_detached_exec_and_stop(runtime, podman):
    started = podman("run", "--detach", "--name", "sleeper", *podman.run_options(), IMAGE, "sleep", "600")
    assert started.returncode == 0, started.stderr
    executed = podman("exec", "sleeper", "sh", "-c", "echo from-exec; id -u")
    assert executed.returncode == 0, executed.stderr
    assert executed.stdout.splitlines() == ["from-exec", "0"]
    stopped = podman("stop", "--time", "2", "sleeper")
    assert stopped.returncode == 0, stopped.stderr
    removed = podman("rm", "sleeper")
    assert removed.returncode == 0, removed.stderr
    assert podman("ps", "--all", "--quiet").stdout == ""


def test_podman_keep_id(rootless_runtime, rootless_podman):
    """--userns keep-id: userrunc, root in podman's user namespace, maps the nested one itself."""
    result = rootless_podman("run", "--rm", "--network", "none", "--userns", "keep-id", IMAGE, "sh", "-c", "id -u; id -g")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(rootless_runtime.uid), str(rootless_runtime.gid)]


def test_podman_exit_status_of_bad_program(runtime, podman):
    """podman reads 127 or 126 from the words of userrunc's error, as from runc's."""
    missing = podman("run", "--rm", *podman.run_options(), IMAGE, "/no/such/program")
    assert missing.returncode == 127, missing.stderr
    started = podman("run", "--detach", "--name", "target", *podman.run_options(), IMAGE, "sleep", "600")
    assert started.returncode == 0, started.stderr
    not_found = podman("exec", "target", "no-such-program")
    assert not_found.returncode == 127, not_found.stderr
    directory = podman("exec", "target", "/etc")
    assert directory.returncode == 126, directory.stderr


def test_podman_bind_over_dev_null(runtime, podman):
    result = podman("run", "--rm", *podman.run_options(), "-v", "/dev/null:/dev/null", IMAGE, "sh", "-c", "echo x > /dev/null && echo written")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "written\n"
