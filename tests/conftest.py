"""Fixtures: the busybox rootfs template, the unprivileged test user, and per-test runtimes.

The suite runs as root. It creates the test user `urtest` with a
subordinate id range in /etc/subuid and /etc/subgid (kept for later runs),
and every test gets a fresh work directory, container ids of its own and a
leak check after it: no process carrying its mark, no mount under its work
directory, no state directory and no cgroup of its containers may remain.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

import support

WORK_BASE = Path(os.environ.get("USERRUNC_TEST_DIR", "/var/tmp/userrunc-tests"))


def pytest_collection_modifyitems(items):
    """Run the tests marked slow last, so a quick failure shows early."""
    items.sort(key=lambda item: 1 if item.get_closest_marker("slow") else 0)


@pytest.fixture(scope="session")
def work_base():
    if os.geteuid() != 0:
        pytest.exit("the test suite must run as root: it creates a test user and runs containers as root and as that user", 2)
    WORK_BASE.mkdir(parents=True, exist_ok=True)
    os.chmod(WORK_BASE, 0o755)
    base = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_BASE))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def rootfs_template(work_base):
    template = work_base / "rootfs-template"
    support.build_rootfs(template)
    support.ROOTFS_TEMPLATE = template
    return template


def _replace_line(path: str, prefix: str, line: str | None) -> None:
    with open(path, "a+") as handle:
        handle.seek(0)
        lines = [item for item in handle.read().splitlines() if not item.startswith(prefix)]
    if line:
        lines.append(line)
    with open(path, "w") as handle:
        handle.write("".join(item + "\n" for item in lines))


@pytest.fixture(scope="session")
def test_user():
    """Create the unprivileged test user and its subordinate ids, if they are not there yet.

    They stay for the next run: removing them at the end would race with a
    test session running beside this one.
    """
    try:
        pwd.getpwnam(support.TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", support.TEST_USER], check=True)
    user = pwd.getpwnam(support.TEST_USER)
    line = f"{support.TEST_USER}:{support.SUBID_START}:{support.SUBID_COUNT}"
    for path in ("/etc/subuid", "/etc/subgid"):
        current = Path(path).read_text().splitlines() if os.path.exists(path) else []
        if line not in current:
            _replace_line(path, f"{support.TEST_USER}:", line)
    return user


def _ensure_user(name: str):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


@pytest.fixture(scope="session")
def user_without_ranges():
    """A user with no line in /etc/subuid or /etc/subgid (Debian's useradd adds one, so it is removed)."""
    user = _ensure_user("urnorange")
    for path in ("/etc/subuid", "/etc/subgid"):
        _replace_line(path, "urnorange:", None)
    return user


@pytest.fixture(scope="session")
def user_with_malformed_line():
    """A user whose only /etc/subuid and /etc/subgid lines are malformed, for this session only.

    The malformed lines go at the end, because every user's `doctor` would
    report them.
    """
    user = _ensure_user("urbadline")
    for path in ("/etc/subuid", "/etc/subgid"):
        _replace_line(path, "urbadline:", "urbadline:lots:65536")
    yield user
    for path in ("/etc/subuid", "/etc/subgid"):
        _replace_line(path, "urbadline:", None)


@pytest.fixture
def runtime_for(request, work_base):
    """Return a factory of rootless runtimes for other users; each gets the usual leak check."""
    made = []

    def make(user):
        generator = _make_runtime("rootless", request, work_base, user)
        runtime = next(generator)
        made.append(generator)
        return runtime

    yield make
    for generator in made:
        for _ in generator:
            pass


def _check_accessible(user, path: Path) -> None:
    probe = subprocess.run(
        ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "test", "-x", str(path)],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.exit(
            f"the test user cannot run {path}: clone the checkout into a directory that others can read "
            "(for example under /srv or /var/tmp), or make its parents world-executable",
            2,
        )


@pytest.fixture(params=["root", "rootless"])
def runtime(request, work_base, test_user):
    """A runtime for one test, as root and as the unprivileged test user."""
    yield from _make_runtime(request.param, request, work_base, test_user)


@pytest.fixture
def root_runtime(request, work_base, test_user):
    yield from _make_runtime("root", request, work_base, test_user)


@pytest.fixture
def rootless_runtime(request, work_base, test_user):
    yield from _make_runtime("rootless", request, work_base, test_user)


def _make_runtime(mode: str, request, work_base: Path, user):
    if mode == "rootless":
        _check_accessible(user, Path(support.USERRUNC))
    workdir = Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=work_base))
    os.chmod(workdir, 0o755)
    mark = uuid.uuid4().hex
    runtime = support.Runtime(mode, workdir, mark, user)
    yield runtime
    runtime.cleanup()
    leaks = []
    processes = support.wait_for(lambda: not support.processes_with_mark(mark), timeout=5) or support.processes_with_mark(mark)
    if processes is not True and processes:
        leaks.append(f"processes {processes}")
        for pid in processes:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    mounts = support.mounts_under(workdir)
    if mounts:
        leaks.append(f"mounts {mounts}")
    for container_id in runtime.created:
        if (runtime.state_root / container_id).exists():
            leaks.append(f"state directory {runtime.state_root / container_id}")
        cgroups = support.cgroups_named(f"userrunc-{container_id}")
        if cgroups:
            leaks.append(f"cgroups {cgroups}")
    shutil.rmtree(workdir, ignore_errors=True)
    assert not leaks, f"{request.node.name} left behind: {'; '.join(leaks)}"
