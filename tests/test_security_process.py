"""process.scheduler, ioPriority, rlimits, oomScoreAdj, execCPUAffinity, LSM labels and linux.personality.

The container tests read the values back inside busybox containers, as root
and rootless. Where a value needs a privilege that the caller may lack
(CAP_SYS_NICE, CAP_SYS_RESOURCE, both checked in the initial user
namespace), the test expects the clear error instead, and the expectation
follows the capabilities the test process really has. This machine has
neither AppArmor nor SELinux, so only their errors are tested.
"""

from __future__ import annotations

import copy
import errno
import os
import resource

import pytest

import support
from userrunc import config as config_module
from userrunc.errors import InvalidConfig
from userrunc.security import capabilities, lsm

# Fields of /proc/PID/stat, counted from 1 as in proc(5).
STAT_NICE = 19
STAT_RT_PRIORITY = 40
STAT_POLICY = 41


def _has_capability(name: str) -> bool:
    """Return whether this test process (the caller of root-mode containers) has the capability."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> capabilities.CAPABILITIES[name] & 1)
    return False


def _caller_has(runtime, name: str) -> bool:
    # The rootless runtime runs as the test user with no capability at all.
    return not runtime.rootless and _has_capability(name)


def _run(runtime, args, linux=None, **process):
    config = runtime.config()
    config["linux"].update(linux or {})
    bundle = runtime.bundle(config=config, args=args, **process)
    return runtime("run", "-b", str(bundle), runtime.container_id())


def _stat_fields(result) -> list[str]:
    assert result.returncode == 0, result
    # comm is field 2 and may contain spaces, so split after its closing parenthesis.
    rest = result.stdout.rsplit(")", 1)[1].split()
    return ["pid", "comm"] + rest


# --- process.scheduler -----------------------------------------------------------------


@pytest.mark.parametrize(("policy", "number"), [("SCHED_BATCH", 3), ("SCHED_OTHER", 0)])
def test_scheduler_policy_and_nice(runtime, policy, number):
    result = _run(runtime, ["cat", "/proc/self/stat"], scheduler={"policy": policy, "nice": 7})
    fields = _stat_fields(result)
    assert fields[STAT_POLICY - 1] == str(number)
    assert fields[STAT_NICE - 1] == "7"


def test_scheduler_idle_policy(runtime):
    # The kernel ignores the nice value of SCHED_IDLE.
    result = _run(runtime, ["cat", "/proc/self/stat"], scheduler={"policy": "SCHED_IDLE"})
    assert _stat_fields(result)[STAT_POLICY - 1] == "5"


def test_scheduler_negative_nice(runtime):
    result = _run(runtime, ["cat", "/proc/self/stat"], scheduler={"policy": "SCHED_OTHER", "nice": -5})
    if _caller_has(runtime, "CAP_SYS_NICE"):
        assert _stat_fields(result)[STAT_NICE - 1] == "-5"
        return
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: process.scheduler: sched_setattr SCHED_OTHER: Operation not permitted "
        "(nice -5 needs CAP_SYS_NICE in the initial user namespace or a higher RLIMIT_NICE)"
    ]


@pytest.mark.parametrize("policy", ["SCHED_FIFO", "SCHED_RR"])
def test_scheduler_real_time(runtime, policy):
    result = _run(runtime, ["cat", "/proc/self/stat"], scheduler={"policy": policy, "priority": 10})
    if result.returncode == 0:
        # Possible only with CAP_SYS_NICE and a cpu cgroup with real-time runtime.
        assert _caller_has(runtime, "CAP_SYS_NICE")
        fields = _stat_fields(result)
        assert fields[STAT_POLICY - 1] == str({"SCHED_FIFO": 1, "SCHED_RR": 2}[policy])
        assert fields[STAT_RT_PRIORITY - 1] == "10"
        return
    assert result.err_lines == [
        f"userrunc: run: process.scheduler: sched_setattr {policy}: Operation not permitted "
        "(priority 10 needs CAP_SYS_NICE in the initial user namespace or an RLIMIT_RTPRIO of at least that value; "
        "with CONFIG_RT_GROUP_SCHED the container's cpu cgroup also needs a non-zero cpu.rt_runtime_us)"
    ]


def test_scheduler_iso_is_a_clear_error(runtime):
    result = _run(runtime, ["true"], scheduler={"policy": "SCHED_ISO"})
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: process.scheduler: sched_setattr SCHED_ISO: Invalid argument "
        "(the Linux kernel does not implement SCHED_ISO)"
    ]


def test_scheduler_reset_on_fork_spares_children(root_runtime):
    # SCHED_FLAG_RESET_ON_FORK gives children a nice value of 0 back, never a negative one.
    runtime = root_runtime
    if not _caller_has(runtime, "CAP_SYS_NICE"):
        pytest.skip("a negative nice value needs CAP_SYS_NICE, which this test process lacks")
    # cut runs inside the shell (a busybox applet without fork), cat in a child.
    script = "cut -d' ' -f19 /proc/$$/stat; cat /proc/self/stat | cut -d' ' -f19"
    scheduler = {"policy": "SCHED_OTHER", "nice": -3, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
    result = _run(runtime, ["sh", "-c", script], scheduler=scheduler)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["-3", "0"]


# --- process.ioPriority --------------------------------------------------------------------


@pytest.mark.parametrize(("io_class", "level", "expected"), [
    ("IOPRIO_CLASS_BE", 6, "best-effort: prio 6"),
    ("IOPRIO_CLASS_IDLE", 0, "idle"),
])
def test_io_priority(runtime, io_class, level, expected):
    result = _run(runtime, ["ionice"], ioPriority={"class": io_class, "priority": level})
    assert result.returncode == 0, result
    assert result.stdout == expected + "\n"


def test_io_priority_real_time(runtime):
    result = _run(runtime, ["ionice"], ioPriority={"class": "IOPRIO_CLASS_RT", "priority": 3})
    if _caller_has(runtime, "CAP_SYS_ADMIN") or _caller_has(runtime, "CAP_SYS_NICE"):
        assert result.returncode == 0, result
        assert result.stdout == "realtime: prio 3\n"
        return
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: process.ioPriority: ioprio_set IOPRIO_CLASS_RT: Operation not permitted "
        "(priority 3; the real-time class needs CAP_SYS_NICE or CAP_SYS_ADMIN in the initial user namespace)"
    ]


# --- process.rlimits and process.oomScoreAdj ---------------------------------------------


def test_rlimit_hard_limit_above_current(runtime):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    result = _run(runtime, ["sh", "-c", "ulimit -Hn"], rlimits=[{"type": "RLIMIT_NOFILE", "soft": 64, "hard": hard + 10}])
    if _caller_has(runtime, "CAP_SYS_RESOURCE"):
        assert result.returncode == 0, result
        assert result.stdout == f"{hard + 10}\n"
        return
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: process.rlimits[0]: cannot set RLIMIT_NOFILE to soft 64 hard {hard + 10}: "
        f"Operation not permitted; the hard limit cannot be raised above the current {hard} without "
        "CAP_SYS_RESOURCE (lower it, or raise the caller's limit first)"
    ]


def test_rlimit_lowered_in_container(runtime):
    result = _run(
        runtime,
        ["sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Sc"],
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 50, "hard": 60}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
    )
    assert result.returncode == 0, result
    assert result.stdout.split() == ["50", "60", "0"]


def test_oom_score_adj_below_current(runtime):
    with open("/proc/self/oom_score_adj") as handle:
        current = int(handle.read())
    result = _run(runtime, ["cat", "/proc/self/oom_score_adj"], oomScoreAdj=current - 100)
    if _caller_has(runtime, "CAP_SYS_RESOURCE"):
        assert result.stdout == f"{current - 100}\n"
        return
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: process.oomScoreAdj: cannot set {current - 100}: {os.strerror(errno.EACCES)} "
        f"(the current value is {current}; going lower needs CAP_SYS_RESOURCE)"
    ]


def test_oom_score_adj_raised(runtime):
    result = _run(runtime, ["cat", "/proc/self/oom_score_adj"], oomScoreAdj=750)
    assert result.returncode == 0, result
    assert result.stdout == "750\n"


# --- process.execCPUAffinity -------------------------------------------------------------


def test_exec_cpu_affinity_leaves_init_affinity(runtime):
    # runtime-spec: execCPUAffinity does not apply to the container's init process.
    with open("/proc/self/status") as handle:
        expected = next(line for line in handle if line.startswith("Cpus_allowed_list:"))
    result = _run(runtime, ["grep", "^Cpus_allowed_list:", "/proc/self/status"], execCPUAffinity={"initial": "0", "final": "0"})
    assert result.returncode == 0, result
    assert result.stdout == expected


# --- linux.personality ---------------------------------------------------------------------


def test_personality_linux32(runtime):
    result = _run(runtime, ["uname", "-m"], linux={"personality": {"domain": "LINUX32"}})
    assert result.returncode == 0, result
    assert result.stdout in ("i686\n", "i386\n", "armv8l\n", "armv7l\n")


def test_personality_linux(runtime):
    result = _run(runtime, ["uname", "-m"], linux={"personality": {"domain": "LINUX", "flags": []}})
    assert result.stdout == os.uname().machine + "\n"


# --- process.apparmorProfile and process.selinuxLabel -----------------------------------------


needs_no_apparmor = pytest.mark.skipif(lsm.apparmor_enabled(), reason="this host runs AppArmor")
needs_no_selinux = pytest.mark.skipif(lsm.selinux_enabled(), reason="this host runs SELinux")


@needs_no_apparmor
def test_apparmor_profile_without_apparmor(runtime):
    result = _run(runtime, ["true"], apparmorProfile="acme_secure_profile")
    assert result.returncode == 1
    assert result.err_lines == [
        "userrunc: run: process.apparmorProfile 'acme_secure_profile': AppArmor is not enabled on this host "
        "(/sys/module/apparmor/parameters/enabled is missing or not Y); "
        "remove apparmorProfile from config.json to run without it"
    ]


@needs_no_selinux
def test_selinux_label_without_selinux(runtime):
    label = "system_u:system_r:container_t:s0:c1,c2"
    result = _run(runtime, ["true"], selinuxLabel=label)
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: process.selinuxLabel {label!r}: SELinux is not enabled on this host "
        "(no selinuxfs in /proc/filesystems); remove selinuxLabel from config.json to run without it"
    ]


def test_empty_labels_mean_none(runtime):
    # Go runtimes write unset strings as "".
    result = _run(runtime, ["echo", "ok"], apparmorProfile="", selinuxLabel="")
    assert result.returncode == 0, result
    assert result.stdout == "ok\n"


# --- validation of the new fields ----------------------------------------------------------


def _spec(**changes) -> dict:
    spec = copy.deepcopy(support.default_config(False))
    for dotted, value in changes.items():
        target = spec
        keys = dotted.split("__")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return spec


INVALID = [
    ({"process__scheduler": "SCHED_FIFO"}, "process.scheduler", 'expected an object, got string "SCHED_FIFO"'),
    ({"process__scheduler": {}}, "process.scheduler.policy", "missing required property"),
    (
        {"process__scheduler": {"policy": "SCHED_FAST"}},
        "process.scheduler.policy",
        "unknown policy 'SCHED_FAST'; expected one of SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, "
        "SCHED_IDLE, SCHED_DEADLINE",
    ),
    ({"process__scheduler": {"policy": "SCHED_OTHER", "nice": 20}}, "process.scheduler.nice", "expected an integer from -20 to 19, got 20"),
    ({"process__scheduler": {"policy": "SCHED_OTHER", "nice": "5"}}, "process.scheduler.nice", 'expected an integer from -20 to 19, got string "5"'),
    ({"process__scheduler": {"policy": "SCHED_FIFO"}}, "process.scheduler.priority", "SCHED_FIFO needs a priority from 1 to 99, got 0"),
    ({"process__scheduler": {"policy": "SCHED_RR", "priority": 100}}, "process.scheduler.priority", "SCHED_RR needs a priority from 1 to 99, got 100"),
    (
        {"process__scheduler": {"policy": "SCHED_BATCH", "priority": 5}},
        "process.scheduler.priority",
        "must be 0 for SCHED_BATCH; only SCHED_FIFO and SCHED_RR use a priority",
    ),
    (
        {"process__scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_FAST"]}},
        "process.scheduler.flags[0]",
        "unknown flag 'SCHED_FLAG_FAST'; expected one of SCHED_FLAG_RESET_ON_FORK, SCHED_FLAG_RECLAIM, "
        "SCHED_FLAG_DL_OVERRUN, SCHED_FLAG_KEEP_POLICY, SCHED_FLAG_KEEP_PARAMS, SCHED_FLAG_UTIL_CLAMP_MIN, "
        "SCHED_FLAG_UTIL_CLAMP_MAX",
    ),
    (
        {"process__scheduler": {"policy": "SCHED_OTHER", "runtime": 1000}},
        "process.scheduler.runtime",
        "only applies to SCHED_DEADLINE, but the policy is SCHED_OTHER",
    ),
    (
        {"process__scheduler": {"policy": "SCHED_DEADLINE", "runtime": 10}},
        "process.scheduler.runtime",
        "SCHED_DEADLINE needs a runtime of at least 1024 ns, got 10",
    ),
    (
        {"process__scheduler": {"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 1000}},
        "process.scheduler.deadline",
        "must be at least the runtime (2000 ns), got 1000",
    ),
    (
        {"process__scheduler": {"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 3000, "period": 2500}},
        "process.scheduler.period",
        "must be 0 or at least the deadline (3000 ns), got 2500",
    ),
    (
        {"process__scheduler": {"policy": "SCHED_DEADLINE", "runtime": -1, "deadline": 3000}},
        "process.scheduler.runtime",
        "expected an integer from 0 to 2^64-1, got -1",
    ),
    ({"process__ioPriority": {"priority": 1}}, "process.ioPriority.class", "missing required property"),
    ({"process__ioPriority": {"class": "IOPRIO_CLASS_BE"}}, "process.ioPriority.priority", "missing required property"),
    (
        {"process__ioPriority": {"class": "IOPRIO_CLASS_NONE", "priority": 1}},
        "process.ioPriority.class",
        "unknown class 'IOPRIO_CLASS_NONE'; expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE",
    ),
    (
        {"process__ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}},
        "process.ioPriority.priority",
        "expected an integer from 0 (highest) to 7 (lowest), got 8",
    ),
    ({"process__execCPUAffinity": {"initial": 3}}, "process.execCPUAffinity.initial", "expected a string, got number 3"),
    (
        {"process__execCPUAffinity": {"final": "0-3,x"}},
        "process.execCPUAffinity.final",
        "invalid CPU list '0-3,x': 'x' is not a CPU number or a range such as 0-3",
    ),
    (
        {"process__execCPUAffinity": {"initial": "5-2"}},
        "process.execCPUAffinity.initial",
        "invalid CPU list '5-2': the range '5-2' ends before it starts",
    ),
    (
        {"process__execCPUAffinity": {"initial": "1,,2"}},
        "process.execCPUAffinity.initial",
        "invalid CPU list '1,,2': '' is not a CPU number or a range such as 0-3",
    ),
    ({"linux__personality": {}}, "linux.personality.domain", "missing required property"),
    ({"linux__personality": {"domain": "BSD"}}, "linux.personality.domain", "unknown domain 'BSD'; expected LINUX or LINUX32"),
    (
        {"linux__personality": {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}},
        "linux.personality.flags[0]",
        "unsupported flag 'ADDR_NO_RANDOMIZE': runtime-spec 1.2 defines no personality flags",
    ),
    ({"linux__personality": {"domain": "LINUX", "flags": "none"}}, "linux.personality.flags", 'expected an array, got string "none"'),
    ({"process__apparmorProfile": 7}, "process.apparmorProfile", "expected a string, got number 7"),
]


@pytest.mark.parametrize(("changes", "path", "problem"), INVALID, ids=[case[1] + ":" + case[2][:30] for case in INVALID])
def test_invalid_field_names_json_path(changes, path, problem):
    with pytest.raises(InvalidConfig) as raised:
        config_module.validate(_spec(**changes))
    assert raised.value.path == path
    assert raised.value.problem == problem


VALID = [
    {"process__scheduler": {"policy": "SCHED_DEADLINE", "runtime": 1024, "deadline": 2048, "period": 4096, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}},
    {"process__scheduler": {"policy": "SCHED_RR", "priority": 99, "nice": -20}},
    {"process__scheduler": None},
    {"process__ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 0}},
    {"process__execCPUAffinity": {"initial": "7", "final": "0-3,7"}},
    {"process__execCPUAffinity": {"final": ""}},
    {"linux__personality": {"domain": "LINUX32", "flags": []}},
    {"linux__personality": None},
]


@pytest.mark.parametrize("changes", VALID)
def test_valid_field_passes(changes):
    config_module.validate(_spec(**changes))
