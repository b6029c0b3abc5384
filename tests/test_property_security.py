"""Random linux.seccomp and process.capabilities sections: a container or a one-line error, never a traceback.

Hypothesis draws sections that mix valid and invalid values (unknown names,
wrong types, out-of-range numbers, actions that kill the init itself). For
each one, `run --detach` must either start the container or fail with one
line on stderr. Afterwards `delete --force` must leave no process of the
test behind. The examples are few and the deadline is off, because every
example starts real processes.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import support
from userrunc.security import capabilities, seccomp

pytestmark = pytest.mark.skipif(not seccomp.features()["enabled"], reason="libseccomp.so.2 cannot be loaded")

EXAMPLES = 20
# The default action LOG is left out: it would log every syscall of the test run to the host's kernel log.
DEFAULT_ACTIONS = [action for action in seccomp.ACTIONS if action != "SCMP_ACT_LOG"]
SYSCALL_NAMES = [
    "mkdir", "mkdirat", "getpid", "write", "read", "openat", "close", "execve", "exit_group", "nanosleep",
    "clock_nanosleep", "rt_sigaction", "sendmsg", "sendto", "prctl", "capset", "setresuid", "chdir", "mmap",
    "brk", "no_such_syscall",
]
ARCHITECTURES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"]
CAPABILITY_NAMES = list(capabilities.CAPABILITIES) + ["CAP_FLY", "cap_kill", ""]



def _mostly(valid, invalid):
    """Draw from valid five times out of six, so that most examples reach the kernel."""
    return st.sampled_from([True] * 5 + [False]).flatmap(lambda use_valid: valid if use_valid else invalid)


errno_values = _mostly(
    st.integers(min_value=0, max_value=200),
    st.sampled_from([70000, -1, "1", None]),
)

arguments = st.fixed_dictionaries(
    {
        "index": _mostly(st.integers(min_value=0, max_value=5), st.sampled_from([6, "0"])),
        "value": _mostly(st.integers(min_value=0, max_value=2**64 - 1), st.just(-1)),
        "op": _mostly(st.sampled_from(list(seccomp.OPERATORS)), st.just("SCMP_CMP_BOGUS")),
    },
    optional={"valueTwo": st.integers(min_value=0, max_value=2**64 - 1)},
)


@st.composite
def rules(draw):
    action = draw(_mostly(st.sampled_from(list(seccomp.ACTIONS)), st.just("SCMP_ACT_BOGUS")))
    names = draw(_mostly(st.lists(st.sampled_from(SYSCALL_NAMES), min_size=1, max_size=3), st.sampled_from(["mkdir", [], [""]])))
    rule = {"names": names, "action": action}
    if action in seccomp.ACTIONS_WITH_ERRNO and draw(st.booleans()) or draw(st.integers(0, 19)) == 0:
        rule["errnoRet"] = draw(errno_values)
    if draw(st.booleans()):
        rule["args"] = draw(st.lists(arguments, max_size=3))
    return rule


@st.composite
def seccomp_sections(draw, listener_path: str):
    # Most default actions stop the init itself, so ALLOW is drawn more often to let containers start.
    default_action = draw(
        _mostly(st.sampled_from(["SCMP_ACT_ALLOW"] * 6 + DEFAULT_ACTIONS), st.just("SCMP_ACT_BOGUS"))
    )
    section = {"defaultAction": default_action}
    if default_action in seccomp.ACTIONS_WITH_ERRNO and draw(st.booleans()) or draw(st.integers(0, 19)) == 0:
        section["defaultErrnoRet"] = draw(errno_values)
    if draw(st.booleans()):
        section["architectures"] = draw(
            _mostly(st.lists(st.sampled_from(ARCHITECTURES), max_size=3), st.just(["SCMP_ARCH_X86_64", "SCMP_ARCH_NOPE"]))
        )
    if draw(st.integers(0, 3)) == 0:
        section["flags"] = draw(st.lists(st.sampled_from(list(seccomp.FLAGS) + ["SECCOMP_FILTER_FLAG_BOGUS"]), max_size=2))
    section["syscalls"] = draw(_mostly(st.lists(rules(), max_size=4), st.sampled_from([{}, None])))
    if draw(st.booleans()):
        # Nothing listens there, so a filter that notifies fails cleanly instead of waiting for an agent.
        section["listenerPath"] = listener_path
        if draw(st.booleans()):
            section["listenerMetadata"] = draw(_mostly(st.just("meta"), st.sampled_from(["", 5])))
    return section


capability_sets = _mostly(
    st.lists(st.sampled_from(list(capabilities.CAPABILITIES)), max_size=6),
    st.one_of(st.lists(st.sampled_from(CAPABILITY_NAMES), max_size=3), st.sampled_from([None, "CAP_KILL"])),
)
capability_sections = _mostly(
    st.dictionaries(st.sampled_from(capabilities.SET_NAMES), capability_sets, max_size=5),
    st.one_of(st.none(), st.just([]), st.dictionaries(st.just("unknownSet"), capability_sets, max_size=1)),
)


def _config(runtime, security: dict) -> dict:
    config = runtime.config()
    process = config["process"]
    process["noNewPrivileges"] = security["no_new_privileges"]
    process["user"] = security["user"]
    if security["capabilities"] is None:
        process.pop("capabilities", None)
    else:
        process["capabilities"] = security["capabilities"]
    config["linux"]["seccomp"] = security["seccomp"]
    return config


def _check_one_outcome(runtime, security: dict) -> None:
    bundle = runtime.bundle(config=_config(runtime, security), args=["sleep", "5"])
    container_id = runtime.container_id("prop")
    result = runtime("run", "--detach", "-b", str(bundle), container_id, timeout=60)
    assert "Traceback" not in result.stderr, result
    assert "internal error" not in result.stderr, result
    if result.returncode == 0:
        assert result.stderr == "", result
        state = runtime("state", container_id)
        assert state.returncode == 0, state
        # The filter may kill or fail the process right after exec.
        assert json.loads(state.stdout)["status"] in ("running", "stopped")
    else:
        assert len(result.err_lines) == 1, result
        assert result.err_lines[0].startswith("userrunc: run: "), result
    deleted = runtime("delete", "--force", container_id)
    assert deleted.returncode == 0 or "does not exist" in deleted.stderr, deleted
    remaining = support.wait_for(lambda: not support.processes_with_mark(runtime.mark), timeout=10)
    assert remaining, f"processes left behind: {support.processes_with_mark(runtime.mark)}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_security_sections(runtime, data):
    listener_path = str(runtime.workdir / "nobody-listens.sock")
    security = {
        "seccomp": data.draw(seccomp_sections(listener_path), label="linux.seccomp"),
        "capabilities": data.draw(capability_sections, label="process.capabilities"),
        "no_new_privileges": data.draw(st.booleans(), label="process.noNewPrivileges"),
        "user": data.draw(st.sampled_from([{"uid": 0, "gid": 0}, {"uid": 1000, "gid": 1000}]), label="process.user"),
    }
    _check_one_outcome(runtime, security)
