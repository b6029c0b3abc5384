"""The systemd cgroup driver on a host without systemd, through the real CLI.

Every bus address points at a path that the test made: a missing socket,
a socket that hangs up, or the fake manager of systemd_fake.py, which
creates real cgroup v2 directories under a base of the test. The checks
against a real systemd (system and user manager) run in the test guest:
tests/vm/systemd-checks.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

import support
from systemd_fake import FakeSystemd, cgroup2_root

from userrunc.cgroups.systemd import parse_cgroups_path

BUS_VARIABLE = {"root": "DBUS_SYSTEM_BUS_ADDRESS", "rootless": "DBUS_SESSION_BUS_ADDRESS"}
MANAGER = {"root": "system", "rootless": "user"}
FORM = "expected slice:prefix:name, for example machine.slice:libpod:abc"


def bus_env(runtime, socket_path: Path) -> dict:
    return {BUS_VARIABLE[runtime.mode]: f"unix:path={socket_path}"}


@pytest.fixture
def fake(runtime):
    directory = runtime.workdir / "bus"
    directory.mkdir()
    base = os.path.join(cgroup2_root(), f"userrunc-fake-{runtime.mark}")
    manager = FakeSystemd(str(directory / "socket"), base)
    yield manager
    manager.close()
    assert not os.path.exists(base)


def container_cgroup(pid: int) -> str:
    """Return the cgroup v2 path of a process, as /proc/PID/cgroup shows it from the host."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    raise AssertionError(f"no cgroup v2 line in /proc/{pid}/cgroup")


def read_state(runtime, container_id: str) -> dict:
    return json.loads((runtime.state_root / container_id / "state.json").read_text())


# -- linux.cgroupsPath ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cgroups_path", "rootless", "expected"),
    [
        ("", False, ("system.slice", "userrunc-c1.scope")),
        ("", True, ("user.slice", "userrunc-c1.scope")),
        ("machine.slice:libpod:abc", False, ("machine.slice", "libpod-abc.scope")),
        (":libpod:abc", True, ("user.slice", "libpod-abc.scope")),
        ("-:x:y", False, ("-.slice", "x-y.scope")),
        ("machine-libpod.slice::abc", False, ("machine-libpod.slice", "abc.scope")),
    ],
)
def test_cgroups_path_names_scope(cgroups_path, rootless, expected):
    assert parse_cgroups_path(cgroups_path, "c1", rootless) == expected


def test_default_scope_escapes_plus():
    assert parse_cgroups_path("", "a+b", False) == ("system.slice", "userrunc-a\\x2bb.scope")


# -- failures without a manager, through the CLI ------------------------------------


def test_missing_bus_is_one_line(runtime):
    """A bus address whose socket does not exist: one line naming it and the fix, nothing left."""
    empty = runtime.workdir / "nobus"
    empty.mkdir()
    bundle = runtime.bundle()
    container_id = runtime.container_id()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), container_id, env=bus_env(runtime, empty / "bus"))
    assert result.returncode == 1, result
    assert len(result.err_lines) == 1, result
    line = result.err_lines[0]
    expected = (
        f"userrunc: run: cannot connect to the systemd {MANAGER[runtime.mode]} manager at unix:path={empty}/bus: "
        "No such file or directory. "
    )
    assert line.startswith(expected), line
    assert line.endswith("use --cgroup-manager cgroupfs otherwise"), line
    if runtime.rootless:
        assert f"loginctl enable-linger {support.TEST_USER}" in line
        assert "dbus-user-session" in line
    assert not (runtime.state_root / container_id).exists()


def test_cgroup_manager_option_same_error(runtime):
    empty = runtime.workdir / "nobus"
    empty.mkdir()
    bundle = runtime.bundle()
    container_id = runtime.container_id()
    result = runtime(
        "--cgroup-manager", "systemd", "create", "--bundle", str(bundle), container_id, env=bus_env(runtime, empty / "bus")
    )
    assert result.returncode == 1, result
    assert result.err_lines[0].startswith(f"userrunc: create: cannot connect to the systemd {MANAGER[runtime.mode]} manager"), result
    assert not (runtime.state_root / container_id).exists()


def test_user_bus_defaults_to_runtime_dir(rootless_runtime):
    """Without DBUS_SESSION_BUS_ADDRESS, the user bus is $XDG_RUNTIME_DIR/bus (here a test directory)."""
    runtime = rootless_runtime
    bundle = runtime.bundle()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), runtime.container_id())
    assert result.returncode == 1, result
    assert f"at unix:path={runtime.runtime_dir}/bus: No such file or directory." in result.stderr, result


def test_socket_that_hangs_up(runtime):
    """A socket that closes every connection at once gives an error line, not a traceback."""
    path = runtime.workdir / "hangup.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o777)
    server.listen(4)
    stop = threading.Event()

    def hang_up():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        bundle = runtime.bundle()
        result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), runtime.container_id(), env=bus_env(runtime, path))
    finally:
        stop.set()
        thread.join(5)
        server.close()
    assert result.returncode == 1, result
    assert len(result.err_lines) == 1, result
    assert result.err_lines[0].startswith(f"userrunc: run: cannot connect to the systemd {MANAGER[runtime.mode]} manager at unix:path={path}: ")
    assert "Traceback" not in result.stderr


def test_bus_without_systemd(runtime, fake):
    fake.no_systemd = True
    bundle = runtime.bundle()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), runtime.container_id(), env=bus_env(runtime, fake.socket_path))
    assert result.returncode == 1, result
    assert len(result.err_lines) == 1, result
    assert result.err_lines[0].startswith(
        f"userrunc: run: the systemd {MANAGER[runtime.mode]} manager is not available on unix:path={fake.socket_path}: "
        "The name org.freedesktop.systemd1 was not provided by any .service files (org.freedesktop.DBus.Error.ServiceUnknown)."
    ), result


@pytest.mark.parametrize(
    ("cgroups_path", "problem"),
    [
        ("/machine/abc", f"'/machine/abc' is not a systemd cgroup path: {FORM} (--systemd-cgroup)"),
        ("machine.slice:abc", f"'machine.slice:abc' is not a systemd cgroup path: {FORM} (--systemd-cgroup)"),
        (
            "machine:libpod:abc",
            "invalid slice 'machine' in 'machine:libpod:abc': expected a systemd slice name such as machine.slice, "
            "or '-' for the root slice (slice:prefix:name, for example machine.slice:libpod:abc)",
        ),
        (
            "a/b.slice:libpod:abc",
            "invalid slice 'a/b.slice' in 'a/b.slice:libpod:abc': expected a systemd slice name such as machine.slice, "
            "or '-' for the root slice (slice:prefix:name, for example machine.slice:libpod:abc)",
        ),
        ("machine.slice:libpod:", f"the name in 'machine.slice:libpod:' is empty: {FORM}"),
        (
            "machine.slice:lib pod:abc",
            "'machine.slice:lib pod:abc' gives the invalid unit name 'lib pod-abc.scope': prefix and name may contain only "
            "A-Z a-z 0-9 : - _ . \\, up to 255 characters in all",
        ),
    ],
)
def test_bad_cgroups_path_exact_error(root_runtime, cgroups_path, problem):
    """A cgroupsPath not in systemd form is rejected before any bus is contacted."""
    runtime = root_runtime
    config = runtime.config()
    config["linux"]["cgroupsPath"] = cgroups_path
    bundle = runtime.bundle(config)
    empty = runtime.workdir / "nobus"
    empty.mkdir()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), runtime.container_id(), env=bus_env(runtime, empty / "bus"))
    assert result.returncode == 1, result
    assert result.err_lines == [f"userrunc: run: invalid config.json: linux.cgroupsPath: {problem}"]


def test_cgroupfs_run_imports_no_dbus(runtime):
    bundle = runtime.bundle(args=["true"])
    result = runtime("run", "--bundle", str(bundle), runtime.container_id(), env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result
    assert "userrunc.cgroups" in result.stderr
    assert "dbus_fast" not in result.stderr
    assert "asyncio" not in result.stderr


def test_features_report_systemd(root_runtime):
    result = root_runtime("features")
    assert result.returncode == 0, result
    cgroup = json.loads(result.stdout)["linux"]["cgroup"]
    assert cgroup["systemd"] is True
    assert cgroup["systemdUser"] is True


# -- the whole lifecycle against the fake manager -------------------------------------


def test_scope_lifecycle(runtime, fake):
    """create starts a delegated scope with the child in it; pause, kill --all and delete reach it."""
    bundle = runtime.bundle(args=["sh", "-c", "sleep 1000 & exec sleep 1001"])
    container_id = runtime.container_id()
    env = bus_env(runtime, fake.socket_path)
    slice_name = "user.slice" if runtime.rootless else "system.slice"
    unit = f"userrunc-{container_id}.scope"

    result = runtime("--systemd-cgroup", "create", "--bundle", str(bundle), container_id, env=env)
    assert result.returncode == 0, result
    assert fake.members()[:3] == ["Hello", "AddMatch", "Subscribe"]
    name, mode, properties, auxiliary = fake.call_body("StartTransientUnit")
    values = {key: variant.value for key, variant in properties}
    assert name == unit
    assert mode == "fail"
    assert auxiliary == []
    assert values["Slice"] == slice_name
    assert values["Delegate"] is True
    assert values["DefaultDependencies"] is False
    assert values["CollectMode"] == "inactive-or-failed"
    assert values["Description"] == f"userrunc container {container_id}"
    assert len(values["PIDs"]) == 1

    control_group = fake.units[unit]
    state = read_state(runtime, container_id)
    assert state["cgroup"]["driver"] == "systemd"
    assert state["cgroup"]["unit"] == unit
    assert state["cgroup"]["manager"] == MANAGER[runtime.mode]
    assert state["cgroup"]["controlGroup"] == control_group
    assert state["cgroup"]["paths"][0] == os.path.join(cgroup2_root(), control_group.lstrip("/"))
    assert container_cgroup(state["pid"]) == control_group

    # Commands that only read the scope's cgroup files import no D-Bus client.
    result = runtime("state", container_id, env=dict(env, PYTHONPROFILEIMPORTTIME="1"))
    assert result.returncode == 0, result
    assert "dbus_fast" not in result.stderr

    assert runtime("start", container_id, env=env).returncode == 0
    pids = support.wait_for(lambda: len(fake_procs(control_group)) == 2 and fake_procs(control_group))
    assert pids, fake_procs(control_group)

    if not runtime.rootless:
        # The fake's cgroups belong to root; a real user manager's belong to the user.
        assert runtime("pause", container_id, env=env).returncode == 0
        assert json.loads(runtime("state", container_id, env=env).stdout)["status"] == "paused"
        assert runtime("resume", container_id, env=env).returncode == 0
        assert json.loads(runtime("state", container_id, env=env).stdout)["status"] == "running"

    result = runtime("kill", "--all", container_id, "KILL", env=env)
    assert result.returncode == 0, result
    assert support.wait_for(lambda: not fake_procs(control_group)), fake_procs(control_group)

    result = runtime("delete", "--force", container_id, env=env)
    assert result.returncode == 0, result
    assert not (runtime.state_root / container_id).exists()
    assert not os.path.isdir(state["cgroup"]["paths"][0])


def test_delete_running_stops_unit(runtime, fake):
    bundle = runtime.bundle(args=["sleep", "1000"])
    container_id = runtime.container_id()
    env = bus_env(runtime, fake.socket_path)
    assert runtime("--systemd-cgroup", "run", "-d", "--bundle", str(bundle), container_id, env=env).returncode == 0
    unit = f"userrunc-{container_id}.scope"
    assert unit in fake.units

    result = runtime("delete", "--force", container_id, env=env)
    assert result.returncode == 0, result
    assert fake.call_body("StopUnit") == [unit, "replace"]
    assert unit not in fake.units


def test_delete_tolerates_vanished_unit(root_runtime, fake):
    """A NoSuchUnit reply to StopUnit (the scope went away) is not an error."""
    runtime = root_runtime
    bundle = runtime.bundle(args=["sleep", "1000"])
    container_id = runtime.container_id()
    env = bus_env(runtime, fake.socket_path)
    assert runtime("--systemd-cgroup", "create", "--bundle", str(bundle), container_id, env=env).returncode == 0
    unit = f"userrunc-{container_id}.scope"
    control_group = fake.units.pop(unit)

    result = runtime("delete", "--force", container_id, env=env)
    assert result.returncode == 0, result
    assert result.err_lines == []
    assert "StopUnit" in fake.members()
    # The fake forgot the unit, so the test removes its cgroup.
    assert support.wait_for(lambda: remove_directory(os.path.join(cgroup2_root(), control_group.lstrip("/"))))


def test_custom_cgroups_path(runtime, fake):
    config = runtime.config()
    config["linux"]["cgroupsPath"] = "machine.slice:libpod:abc-" + runtime.mark[:8]
    bundle = runtime.bundle(config, args=["sleep", "1000"])
    container_id = runtime.container_id()
    env = bus_env(runtime, fake.socket_path)
    result = runtime("--systemd-cgroup", "create", "--bundle", str(bundle), container_id, env=env)
    assert result.returncode == 0, result
    name, _mode, properties, _aux = fake.call_body("StartTransientUnit")
    values = {key: variant.value for key, variant in properties}
    assert name == f"libpod-abc-{runtime.mark[:8]}.scope"
    assert values["Slice"] == "machine.slice"
    state = read_state(runtime, container_id)
    assert state["cgroup"]["controlGroup"].endswith(f"/machine.slice/libpod-abc-{runtime.mark[:8]}.scope")
    assert runtime("delete", "--force", container_id, env=env).returncode == 0


def test_failed_start_job(runtime, fake):
    """A start job whose result is not "done" fails create, naming the unit and the result."""
    fake.start_results = ["failed"]
    bundle = runtime.bundle()
    container_id = runtime.container_id()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), container_id, env=bus_env(runtime, fake.socket_path))
    assert result.returncode == 1, result
    slice_name = "user.slice" if runtime.rootless else "system.slice"
    assert result.err_lines == [
        f"userrunc: run: systemd {MANAGER[runtime.mode]} manager could not start unit userrunc-{container_id}.scope "
        f"in {slice_name}: the job result is 'failed'"
    ]
    assert not (runtime.state_root / container_id).exists()


def test_existing_unit_reset_and_retried(root_runtime, fake):
    runtime = root_runtime
    fake.start_results = ["exists"]
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), container_id, env=bus_env(runtime, fake.socket_path))
    assert result.returncode == 0, result
    assert fake.members().count("StartTransientUnit") == 2
    assert fake.call_body("ResetFailedUnit") == [f"userrunc-{container_id}.scope"]


def test_active_unit_of_same_name(root_runtime, fake):
    runtime = root_runtime
    fake.start_results = ["exists", "exists"]
    bundle = runtime.bundle(args=["true"])
    container_id = runtime.container_id()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), container_id, env=bus_env(runtime, fake.socket_path))
    assert result.returncode == 1, result
    unit = f"userrunc-{container_id}.scope"
    assert result.err_lines == [
        f"userrunc: run: systemd unit {unit} already exists (Unit {unit} was already loaded or has a fragment file.); "
        "another container uses this linux.cgroupsPath or container id"
    ]
    # The unit is not ours, so the failed create must not stop it.
    assert "StopUnit" not in fake.members()


def test_failure_after_scope_stops_it(root_runtime, fake):
    """A createRuntime hook that fails after the scope started: create stops the scope again."""
    runtime = root_runtime
    config = runtime.config()
    config["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
    bundle = runtime.bundle(config)
    container_id = runtime.container_id()
    result = runtime("--systemd-cgroup", "run", "--bundle", str(bundle), container_id, env=bus_env(runtime, fake.socket_path))
    assert result.returncode == 1, result
    unit = f"userrunc-{container_id}.scope"
    assert fake.call_body("StopUnit") == [unit, "replace"]
    assert fake.units == {}
    assert not (runtime.state_root / container_id).exists()


def remove_directory(path: str) -> bool:
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True


def fake_procs(control_group: str) -> list[int]:
    try:
        text = Path(cgroup2_root(), control_group.lstrip("/"), "cgroup.procs").read_text()
    except FileNotFoundError:
        return []
    return [int(line) for line in text.split()]
