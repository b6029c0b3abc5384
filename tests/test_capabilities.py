"""process.capabilities and process.noNewPrivileges, read back from /proc/self/status in real containers.

The values are what the kernel computes at execve (capabilities(7)). Busybox
has no file capabilities, so a process of uid 0 gets the bounding set (with
the inheritable and ambient ones) as permitted and effective, limited to
the permitted set under no_new_privs. Any other uid keeps only its ambient
set. The ambient set of a non-root user
can only be raised when the permitted set survived the switch from uid 0,
which is what SECBIT_KEEP_CAPS is for.
"""

from __future__ import annotations

import pytest

from userrunc import log
from userrunc.security import capabilities

STATUS_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")


def _mask(*names: str) -> str:
    value = 0
    for name in names:
        value |= 1 << capabilities.CAPABILITIES[name]
    return f"{value:016x}"


def _status(runtime, capability_section, user=None, no_new_privileges=True, drop_capabilities=False):
    config = runtime.config()
    if drop_capabilities:
        config["process"].pop("capabilities", None)
    else:
        config["process"]["capabilities"] = capability_section
    config["process"]["noNewPrivileges"] = no_new_privileges
    if user is not None:
        config["process"]["user"] = user
    pattern = "^(" + "|".join(STATUS_FIELDS) + "):"
    bundle = runtime.bundle(config=config, args=["grep", "-E", pattern, "/proc/self/status"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stderr == ""
    return dict(line.split(":\t") for line in result.stdout.splitlines())


SECTION = {
    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SYS_CHROOT"],
    "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"],
    "inheritable": ["CAP_NET_BIND_SERVICE", "CAP_SETUID"],
    "ambient": ["CAP_NET_BIND_SERVICE"],
}


def test_sets_of_root_user(runtime):
    status = _status(runtime, SECTION, no_new_privileges=False)
    assert status["CapBnd"] == _mask(*SECTION["bounding"])
    # uid 0 gains every bounding capability at execve.
    assert status["CapPrm"] == _mask(*SECTION["bounding"])
    assert status["CapEff"] == _mask(*SECTION["bounding"])
    assert status["CapInh"] == _mask(*SECTION["inheritable"])
    assert status["CapAmb"] == _mask(*SECTION["ambient"])
    assert status["NoNewPrivs"] == "0"


def test_no_new_privileges_keeps_root_to_permitted(runtime):
    # With no_new_privs, execve gives uid 0 no capability that was not already permitted.
    status = _status(runtime, SECTION, no_new_privileges=True)
    assert status["CapBnd"] == _mask(*SECTION["bounding"])
    assert status["CapPrm"] == _mask(*SECTION["permitted"])
    assert status["CapEff"] == _mask(*SECTION["permitted"])
    assert status["CapInh"] == _mask(*SECTION["inheritable"])
    assert status["CapAmb"] == _mask(*SECTION["ambient"])
    assert status["NoNewPrivs"] == "1"


def test_sets_of_non_root_user(runtime):
    status = _status(runtime, SECTION, user={"uid": 1000, "gid": 1000})
    assert status["CapBnd"] == _mask(*SECTION["bounding"])
    assert status["CapInh"] == _mask(*SECTION["inheritable"])
    # The ambient capability could only be raised because permitted survived setresuid.
    assert status["CapAmb"] == _mask("CAP_NET_BIND_SERVICE")
    assert status["CapPrm"] == _mask("CAP_NET_BIND_SERVICE")
    assert status["CapEff"] == _mask("CAP_NET_BIND_SERVICE")


def test_non_root_user_without_ambient_has_no_capabilities(runtime):
    section = dict(SECTION, ambient=[])
    status = _status(runtime, section, user={"uid": 1000, "gid": 1000})
    assert status["CapPrm"] == _mask()
    assert status["CapEff"] == _mask()
    assert status["CapAmb"] == _mask()
    assert status["CapBnd"] == _mask(*SECTION["bounding"])


def test_ambient_outside_inheritable_is_not_raised(runtime):
    # The kernel raises an ambient capability only if it is permitted and inheritable; as in runc, that is not fatal.
    section = dict(SECTION, ambient=["CAP_KILL"])
    status = _status(runtime, section, user={"uid": 1000, "gid": 1000})
    assert status["CapAmb"] == _mask()


def test_missing_capabilities_drop_everything(runtime):
    status = _status(runtime, None, drop_capabilities=True)
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert status[field] == _mask(), field


def test_empty_sets_drop_everything(runtime):
    status = _status(runtime, {name: [] for name in capabilities.SET_NAMES})
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert status[field] == _mask(), field


@pytest.mark.parametrize("no_new_privileges", [True, False])
def test_no_new_privileges_read_back(runtime, no_new_privileges):
    status = _status(runtime, SECTION, no_new_privileges=no_new_privileges)
    assert status["NoNewPrivs"] == str(int(no_new_privileges))


@pytest.mark.parametrize("set_name", capabilities.SET_NAMES)
def test_unknown_capability_is_rejected_with_path(runtime, set_name):
    config = runtime.config()
    config["process"]["capabilities"] = {set_name: ["CAP_KILL", "CAP_TELEPORT"]}
    bundle = runtime.bundle(config=config, args=["true"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: invalid config.json: process.capabilities.{set_name}[1]: unknown capability 'CAP_TELEPORT'; "
        "names look like CAP_NET_BIND_SERVICE (see capabilities(7))"
    ]


def test_effective_outside_permitted_is_a_clear_error(runtime):
    section = {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL"]}
    config = runtime.config()
    config["process"]["capabilities"] = section
    bundle = runtime.bundle(config=config, args=["true"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: set the capability sets: Operation not permitted (effective must be a subset of permitted, "
        "and inheritable a subset of bounding)"
    ]


def test_capability_newer_than_kernel_is_ignored_with_warning(monkeypatch):
    # The running kernel has every capability in the table, so an older kernel is simulated.
    highest = capabilities.CAPABILITIES["CAP_BPF"]
    monkeypatch.setattr(capabilities, "last_cap", lambda: highest)
    records = []
    monkeypatch.setattr(log, "warning", lambda message, **fields: records.append(message))
    sets = capabilities.resolve({"bounding": ["CAP_KILL", "CAP_CHECKPOINT_RESTORE"], "effective": ["CAP_CHECKPOINT_RESTORE"]})
    assert sets["bounding"] == [capabilities.CAPABILITIES["CAP_KILL"]]
    assert sets["effective"] == []
    assert records == [
        f"capability CAP_CHECKPOINT_RESTORE is not known to this kernel (last is {highest}); ignoring it"
    ]


def test_kernel_capability_table_matches_running_kernel():
    # Every capability of this kernel has a name, so no kernel capability is silently left in a set.
    assert capabilities.last_cap() <= max(capabilities.CAPABILITIES.values())
