"""The breakdown: where a userrunc `run` spends its time, next to runc and crun.

Seven measurements, each printed as a Markdown table:

1. interpreter startup (`python -c pass`, and with -S, which skips site),
   a process that only imports what `run` imports, `userrunc run` and
   `userrunc state`, and variants of them, interleaved;
2. create, state, kill, start and delete as separate commands, per runtime;
3. the durations of userrunc's own steps, from `--debug --log-format json`;
4. the slowest imports of a `run`, from `python -X importtime`;
5. system call counts of one `run`, from `strace -f -c`;
6. the phases of `run` between a few system calls, from `strace -ttt`;
7. how long the kernel takes to move a process into a new cgroup.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import statistics
import subprocess
import tempfile
import time

from fixtures import PATH, BenchUser
from runtimes import ID_PREFIX, Runtime
from spawn import CommandFailed, Identity, Output, reap_orphans, run_checked, run_timed
from stats import markdown_table, ms, percentile, summary_ms

LIFECYCLE = ("create", "state", "kill", "start", "delete")
# A signal that a created container's init survives in every runtime.
KILL_SIGNAL = "SIGCONT"
WAIT_FOR_EXIT_SECONDS = 10


def _cell(samples_ns: list[int]) -> str:
    summary = summary_ms(samples_ns)
    return f"{ms(summary['median'])} ({ms(summary['p10'])}–{ms(summary['p90'])})"


# --- importtime -------------------------------------------------------------


def parse_importtime(text: str) -> list[tuple[str, int, int, int]]:
    """Return (module, depth, self µs, cumulative µs) for each line of `python -X importtime` output."""
    entries = []
    for line in text.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        name_field = fields[2].rstrip()
        name = name_field.strip()
        depth = (len(name_field) - len(name_field.lstrip()) - 1) // 2
        entries.append((name, depth, int(fields[0]), int(fields[1])))
    return entries


def run_imports(runtime: Runtime, python: str, output: Output, number: int) -> tuple[list[str], list[tuple], set[str]]:
    """Run `python -X importtime` on bare startup and on `run`.

    Return the top-level modules that `run` imports beyond startup (in
    import order), every parsed line of the run, and the startup modules.
    """
    run_checked([python, "-X", "importtime", "-c", "pass"], runtime.identity, output, output)
    startup = {name for name, _depth, _self, _cumulative in parse_importtime(output.text())}
    argv = [python, "-X", "importtime", runtime.program, "run", "--bundle", runtime.bundle, runtime.container_id(number)]
    run_checked(argv, runtime.identity, output, output)
    reap_orphans()
    entries = parse_importtime(output.text())
    top_level = []
    for name, depth, _self, _cumulative in entries:
        if depth == 0 and name not in startup and name not in top_level:
            top_level.append(name)
    return top_level, entries, startup


# --- 1. startup and imports --------------------------------------------------


PASS = "python -c pass"
IMPORTS = "python -c 'import <modules of run>'"
RUN = "userrunc run"
STATE = "userrunc state"


def _interpreter_path(runtime: Runtime, python: str, output: Output) -> list[str]:
    """Return sys.path of `python -c` after site has run, without the leading '' (the current directory)."""
    run_checked([python, "-c", "import sys, json; print(json.dumps(sys.path[1:]))"], runtime.identity, output, output)
    return json.loads(output.text())


def _startup_variants(
    runtime: Runtime, python: str, modules: list[str], sys_path: list[str], created_id: str
) -> list[tuple[str, object]]:
    """Return (label, function of a container id that returns argv) for each startup measurement.

    The `state` rows query `created_id`, a container that stays created for the whole measurement.
    """
    imports = "import " + ", ".join(modules)
    set_path = f"import sys; sys.path[:] = {sys_path!r}; "
    exit_now = "sys.stdout.flush(); sys.stderr.flush(); import os; os._exit(status)"

    def call_main(command: str, ending: str):
        def build(container_id: str) -> list[str]:
            if command == "run":
                argv = ["run", "--bundle", runtime.bundle, container_id]
            else:
                argv = [command, created_id]
            return [python, "-c", f"import sys; from userrunc.main import run; status = run({argv!r}); {ending}"]

        return build

    return [
        (PASS, lambda _id: [python, "-c", "pass"]),
        ("python -S -c pass (no site)", lambda _id: [python, "-S", "-c", "pass"]),
        (IMPORTS, lambda _id: [python, "-c", imports]),
        ("the same imports, gc.disable() first", lambda _id: [python, "-c", "import gc; gc.disable(); " + imports]),
        ("the same imports, -S with site's sys.path", lambda _id: [python, "-S", "-c", set_path + imports]),
        (RUN, lambda container_id: runtime.argv("run", "--bundle", runtime.bundle, container_id)),
        ("python -c 'run([\"run\", ...])', then sys.exit", call_main("run", "sys.exit(status)")),
        ("python -c 'run([\"run\", ...])', then os._exit", call_main("run", exit_now)),
        (STATE, lambda _id: runtime.argv("state", created_id)),
        ("python -c 'run([\"state\", ...])', then sys.exit", call_main("state", "sys.exit(status)")),
        ("python -c 'run([\"state\", ...])', then os._exit", call_main("state", exit_now)),
    ]


def measure_startup(
    userrunc_runtimes: list[Runtime], python: str, runs: int, warmup: int, output: Output, counter, progress
) -> tuple[str, dict]:
    """Time interpreter startup, the imports of `run`, `run` and `state` with variants, interleaved.

    The variants show what a change would save before anyone makes it:
    importing with the garbage collector off, starting without site (with
    the same sys.path), and ending a command with os._exit, which skips
    the interpreter's finalization. Returns a table and the samples.
    """
    entries = []
    modules_by_mode = {}
    created = []
    try:
        for runtime in userrunc_runtimes:
            modules, _entries, _startup = run_imports(runtime, python, output, next(counter))
            modules_by_mode[runtime.mode] = modules
            sys_path = _interpreter_path(runtime, python, output)
            created_id = runtime.container_id(next(counter))
            run_checked(runtime.argv("create", "--bundle", runtime.bundle, created_id), runtime.identity, output, output)
            created.append((runtime, created_id))
            for label, build in _startup_variants(runtime, python, modules, sys_path, created_id):
                entries.append((runtime.mode, label, build, runtime.identity))

        samples = {(mode, label): [] for mode, label, _build, _identity in entries}
        for round_index in range(warmup + runs):
            shift = round_index % len(entries)
            for mode, label, build, identity in entries[shift:] + entries[:shift]:
                elapsed = run_checked(build(f"{ID_PREFIX}startup-{next(counter)}"), identity, output, output)
                reap_orphans()
                if round_index >= warmup:
                    samples[(mode, label)].append(elapsed)
            progress(round_index + 1, warmup + runs)
    finally:
        for runtime, created_id in created:
            run_timed(runtime.argv("delete", "--force", created_id), runtime.identity, output, output)
        reap_orphans()

    rows = []
    for mode, label, _build, _identity in entries:
        run_median = summary_ms(samples[(mode, RUN)])["median"]
        median = summary_ms(samples[(mode, label)])["median"]
        rows.append([mode, label, _cell(samples[(mode, label)]), f"{100 * median / run_median:.0f} %"])
    for mode in modules_by_mode:
        bare = summary_ms(samples[(mode, PASS)])["median"]
        imports = summary_ms(samples[(mode, IMPORTS)])["median"]
        run_median = summary_ms(samples[(mode, RUN)])["median"]
        rows.append([mode, "imports alone (difference of medians)", ms(imports - bare), f"{100 * (imports - bare) / run_median:.0f} %"])
    table = markdown_table(["mode", "what", "median ms (p10–p90)", "of run"], rows)
    record = {
        "modules": modules_by_mode,
        "samples_ns": {f"{mode}: {label}": values for (mode, label), values in samples.items()},
    }
    return table, record


# --- 2. lifecycle commands ---------------------------------------------------


def _wait_for_exit(pid: int) -> None:
    """Wait until the container's init has exited: reap it when it is the driver's child, else poll a pidfd."""
    try:
        os.waitpid(pid, 0)
        return
    except ChildProcessError:
        pass
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(WAIT_FOR_EXIT_SECONDS * 1000):
            raise CommandFailed(f"container init {pid} did not exit within {WAIT_FOR_EXIT_SECONDS} s of start")
    finally:
        os.close(fd)


def _lifecycle_once(runtime: Runtime, container_id: str, output: Output) -> dict[str, int]:
    times = {}
    times["create"] = run_checked(runtime.argv("create", "--bundle", runtime.bundle, container_id), runtime.identity, output, output)
    try:
        times["state"] = run_checked(runtime.argv("state", container_id), runtime.identity, output, output)
        pid = json.loads(output.text())["pid"]
        times["kill"] = run_checked(runtime.argv("kill", container_id, KILL_SIGNAL), runtime.identity, output, output)
        times["start"] = run_checked(runtime.argv("start", container_id), runtime.identity, output, output)
        _wait_for_exit(pid)
    finally:
        times["delete"] = run_checked(runtime.argv("delete", container_id), runtime.identity, output, output)
        reap_orphans()
    return times


def measure_lifecycle(runtimes: list[Runtime], runs: int, warmup: int, output: Output, counter, progress) -> tuple[str, dict]:
    """Time each lifecycle command separately, one full create-to-delete cycle per runtime and round."""
    samples = {runtime.key: {command: [] for command in LIFECYCLE} for runtime in runtimes}
    for round_index in range(warmup + runs):
        shift = round_index % len(runtimes)
        for runtime in runtimes[shift:] + runtimes[:shift]:
            times = _lifecycle_once(runtime, runtime.container_id(next(counter)), output)
            if round_index >= warmup:
                for command, elapsed in times.items():
                    samples[runtime.key][command].append(elapsed)
        progress(round_index + 1, warmup + runs)

    rows = []
    names = sorted({runtime.name for runtime in runtimes}, key=["userrunc", "runc", "crun"].index)
    for mode in ("rootless", "root"):
        in_mode = {runtime.name: runtime for runtime in runtimes if runtime.mode == mode}
        if not in_mode:
            continue
        for command in (*LIFECYCLE, "create + start + delete"):
            row = [mode, command]
            medians = {}
            for name in names:
                runtime = in_mode.get(name)
                if runtime is None:
                    row.append("")
                    continue
                if command == "create + start + delete":
                    parts = samples[runtime.key]
                    values = [a + b + c for a, b, c in zip(parts["create"], parts["start"], parts["delete"])]
                else:
                    values = samples[runtime.key][command]
                medians[name] = summary_ms(values)["median"]
                row.append(_cell(values))
            if "userrunc" in medians and "runc" in medians:
                row.append(f"{medians['runc'] / medians['userrunc']:.2f}")
            else:
                row.append("")
            rows.append(row)
    header = ["mode", "command", *(f"{name} ms" for name in names), "runc ÷ userrunc"]
    record = {key: values for key, values in samples.items()}
    return markdown_table(header, rows), record


# --- 3. userrunc's own steps -------------------------------------------------


def measure_debug_steps(userrunc_runtimes: list[Runtime], runs: int, output: Output, counter) -> tuple[str, dict]:
    """Collect the step durations that `userrunc --debug --log-format json run` logs; report their medians."""
    steps: dict[tuple[str, str], list[float]] = {}
    order: list[str] = []
    totals: dict[str, list[int]] = {}
    for runtime in userrunc_runtimes:
        totals[runtime.mode] = []
        for _ in range(runs):
            argv = runtime.argv("--debug", "--log-format", "json", "run", "--bundle", runtime.bundle, runtime.container_id(next(counter)))
            totals[runtime.mode].append(run_checked(argv, runtime.identity, output, output))
            reap_orphans()
            in_run: dict[str, float] = {}
            for line in output.text().splitlines():
                if not line.startswith("{"):
                    continue
                record = json.loads(line)
                if "step" in record:
                    in_run[record["step"]] = in_run.get(record["step"], 0.0) + float(record["ms"])
                    if record["step"] not in order:
                        order.append(record["step"])
            for step, value in in_run.items():
                steps.setdefault((runtime.mode, step), []).append(value)
    rows = []
    for runtime in userrunc_runtimes:
        for step in order:
            values = steps.get((runtime.mode, step))
            if values:
                rows.append([runtime.mode, step, f"{statistics.median(values):.2f}"])
        rows.append([runtime.mode, "(whole `--debug run`, wall time)", ms(summary_ms(totals[runtime.mode])["median"])])
    record = {f"{mode}: {step}": values for (mode, step), values in steps.items()}
    return markdown_table(["mode", "step", "median ms"], rows), record


# --- 4. importtime -----------------------------------------------------------


def measure_importtime(userrunc_runtimes: list[Runtime], python: str, runs: int, output: Output, counter, top: int = 15) -> tuple[str, dict]:
    """Return the slowest imports of `run` by median self time, from `python -X importtime`."""
    tables = []
    record = {}
    for runtime in userrunc_runtimes:
        self_times: dict[str, list[int]] = {}
        cumulative: dict[str, list[int]] = {}
        startup_modules: set[str] = set()
        run_totals = []
        for _ in range(runs):
            _modules, entries, startup_modules = run_imports(runtime, python, output, next(counter))
            total = 0
            for name, _depth, self_us, cumulative_us in entries:
                self_times.setdefault(name, []).append(self_us)
                cumulative.setdefault(name, []).append(cumulative_us)
                if name not in startup_modules:
                    total += self_us
            run_totals.append(total)
        medians = {name: statistics.median(values) for name, values in self_times.items()}
        slowest = sorted(medians, key=medians.get, reverse=True)[:top]
        rows = [
            [name, "startup" if name in startup_modules else "run", f"{medians[name] / 1000:.2f}", f"{statistics.median(cumulative[name]) / 1000:.2f}"]
            for name in slowest
        ]
        rows.append(["(every module `run` adds, self times summed)", "run", f"{statistics.median(run_totals) / 1000:.2f}", ""])
        header = ["module", "imported by", "self ms", "cumulative ms"]
        tables.append(f"{runtime.mode}:\n\n" + markdown_table(header, rows))
        record[runtime.mode] = {"self_us": self_times, "cumulative_us": cumulative, "run_total_us": run_totals}
    return "\n\n".join(tables), record


# --- 5. system calls ---------------------------------------------------------


def _strace_prefix(runtime: Runtime, user: BenchUser, strace: str, options: list[str]) -> tuple[list[str], Identity]:
    """Return the strace command prefix and the identity to start it with.

    Traced by an unprivileged strace, newuidmap would lose its setuid bit;
    so strace runs as root and starts the command as the user (`strace -u`).
    """
    identity = runtime.identity
    prefix = [strace, *options]
    if identity.uid != 0:
        prefix += ["-u", user.name]
        identity = Identity(0, 0, identity.env, identity.cwd, identity.mount_ns_fd)
    return prefix, identity


def _parse_strace_summary(text: str) -> tuple[int, list[tuple[str, int]]]:
    """Return (total calls, [(syscall, calls)]) from `strace -c` output."""
    total = 0
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("%", "-")):
            continue
        if fields[-1] == "total":
            total = int(fields[3])
            continue
        # Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
        if len(fields) >= 5 and fields[3].isdigit():
            rows.append((fields[-1], int(fields[3])))
    rows.sort(key=lambda item: item[1], reverse=True)
    return total, rows


def measure_syscalls(runtimes: list[Runtime], user: BenchUser, output: Output, counter, top: int = 8) -> tuple[str, dict]:
    """Count the system calls of one `run` per runtime, children included, with strace -f -c."""
    strace = shutil.which("strace", path=PATH)
    if strace is None:
        return "strace is not installed; no system call counts.", {}
    rows = []
    record = {}
    with tempfile.TemporaryDirectory(prefix="strace-", dir=user.home) as directory:
        summary_path = os.path.join(directory, "summary")
        for runtime in runtimes:
            argv = runtime.argv("run", "--bundle", runtime.bundle, runtime.container_id(next(counter)))
            prefix, identity = _strace_prefix(runtime, user, strace, ["-f", "-c", "-o", summary_path])
            _elapsed, status = run_timed([*prefix, "--", *argv], identity, output, output)
            reap_orphans()
            if status != 0:
                rows.append([runtime.mode, runtime.name, "failed", output.text().strip()[-200:]])
                continue
            with open(summary_path) as handle:
                total, by_call = _parse_strace_summary(handle.read())
            record[runtime.key] = {"total": total, "calls": dict(by_call)}
            top_calls = ", ".join(f"{name} {count}" for name, count in by_call[:top])
            rows.append([runtime.mode, runtime.name, str(total), top_calls])
    return markdown_table(["mode", "runtime", "calls", "most frequent"], rows, align="llrl"), record


# --- 6. timeline -------------------------------------------------------------

TIMELINE_SYSCALLS = "execve,clone,clone3,vfork,unshare,pivot_root,exit_group,mkdir,mkdirat"
TIMELINE_PHASES = (
    ("start to state directory", "start", "state directory"),
    ("state directory to first fork", "state directory", "first fork"),
    ("first fork to first unshare", "first fork", "first unshare"),
    ("first unshare to pivot_root", "first unshare", "pivot_root"),
    ("first fork to pivot_root", "first fork", "pivot_root"),
    ("pivot_root to exec of /bin/true", "pivot_root", "exec /bin/true"),
    ("exec of /bin/true to exit of the runtime", "exec /bin/true", "end"),
    ("whole run, traced", "start", "end"),
)


def timeline_marks(text: str, container_id: str) -> dict[str, float]:
    """Return the time (s) of each mark in `strace -f -ttt` output: the first event of its kind."""
    marks: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split(None, 2)
        if len(fields) < 3:
            continue
        try:
            timestamp = float(fields[1])
        except ValueError:
            continue
        event = fields[2]
        marks.setdefault("start", timestamp)
        marks["end"] = timestamp
        if event.startswith(("mkdir(", "mkdirat(")) and container_id in event and "cgroup" not in event:
            marks.setdefault("state directory", timestamp)
        elif event.startswith(("clone(", "clone3(", "vfork(")) and "CLONE_THREAD" not in event:
            marks.setdefault("first fork", timestamp)
        elif event.startswith("unshare("):
            marks.setdefault("first unshare", timestamp)
        elif event.startswith("pivot_root("):
            marks.setdefault("pivot_root", timestamp)
        elif event.startswith('execve("/bin/true"'):
            marks.setdefault("exec /bin/true", timestamp)
    return marks


def measure_timeline(runtimes: list[Runtime], user: BenchUser, runs: int, output: Output, counter) -> tuple[str, dict]:
    """Split `run` into phases by the times of a few system calls, traced with strace --seccomp-bpf.

    Only the listed system calls stop the process, so the tracing adds a
    little to each phase, not a multiple of it. Root mode only: the seccomp
    filter needs no_new_privs in an unprivileged tracee, and newuidmap then
    loses its setuid bit.
    """
    strace = shutil.which("strace", path=PATH)
    if strace is None:
        return "strace is not installed; no timeline.", {}
    runtimes = [runtime for runtime in runtimes if runtime.mode == "root"]
    if not runtimes:
        return "The timeline covers root mode only, which was not selected.", {}
    phases: dict[str, dict[str, list[float]]] = {runtime.key: {} for runtime in runtimes}
    with tempfile.TemporaryDirectory(prefix="strace-", dir=user.home) as directory:
        trace_path = os.path.join(directory, "trace")
        options = ["-f", "--seccomp-bpf", "-ttt", "-e", f"trace={TIMELINE_SYSCALLS}", "-e", "signal=none", "-o", trace_path]
        for _ in range(runs):
            for runtime in runtimes:
                container_id = runtime.container_id(next(counter))
                prefix, identity = _strace_prefix(runtime, user, strace, options)
                argv = [*prefix, "--", *runtime.argv("run", "--bundle", runtime.bundle, container_id)]
                run_checked(argv, identity, output, output)
                reap_orphans()
                with open(trace_path) as handle:
                    marks = timeline_marks(handle.read(), container_id)
                for label, begin, end in TIMELINE_PHASES:
                    if begin in marks and end in marks:
                        phases[runtime.key].setdefault(label, []).append((marks[end] - marks[begin]) * 1000)
    rows = []
    for label, _begin, _end in TIMELINE_PHASES:
        row = [label]
        for runtime in runtimes:
            values = phases[runtime.key].get(label)
            row.append(f"{statistics.median(values):.1f}" if values else "")
        rows.append(row)
    header = ["phase", *(f"{runtime.name} {runtime.mode}" for runtime in runtimes)]
    return markdown_table(header, rows, align="l" + "r" * len(runtimes)), phases


# --- 7. cgroup migration -----------------------------------------------------


CGROUP_V1_NAMES = frozenset(
    ("blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma")
)


def _cgroup_hierarchies() -> list[str]:
    """Return, for each cgroup hierarchy under /sys/fs/cgroup, the directory of the driver's own cgroup.

    The v1 cpuset hierarchy is left out: a new cpuset cgroup takes no
    process until cpus and mems are set.
    """
    own = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _number, controllers, path = line.rstrip("\n").split(":", 2)
            own[frozenset(controllers.split(",")) if controllers else frozenset()] = path
    directories = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            before, _separator, after = line.partition(" - ")
            fields = after.split()
            mount_point = before.split()[4]
            if len(fields) < 3 or not mount_point.startswith("/sys/fs/cgroup"):
                continue
            if fields[0] == "cgroup2":
                key = frozenset()
            elif fields[0] == "cgroup":
                options = set(fields[2].split(",")) - {"rw", "ro"}
                key = frozenset(option for option in options if option in CGROUP_V1_NAMES or option.startswith("name="))
                if "cpuset" in key:
                    continue
            else:
                continue
            if key in own:
                directories.append(os.path.normpath(os.path.join(mount_point, own[key].lstrip("/"))))
    return directories


def measure_cgroup_migration(runs: int) -> tuple[str, dict]:
    """Time writing a new process's PID into cgroup.procs of a new cgroup, in every hierarchy in turn.

    The process is a `sleep` that the driver starts and kills, and the
    cgroups are made below the driver's own and removed afterwards. Each
    migration write-locks the kernel's global cgroup_threadgroup_rwsem,
    which implies synchronize_rcu() (Linux commit 6a010a49b63a). So the
    first write of a round waits for an RCU grace period, and the writes
    right after it do not wait again.
    """
    directories = _cgroup_hierarchies()
    if not directories:
        return "No cgroup hierarchy found under /sys/fs/cgroup.", {}
    first: list[float] = []
    rest: list[float] = []
    for number in range(runs):
        sleeper = subprocess.Popen(["sleep", "30"])
        created_dirs = []
        try:
            times = []
            for directory in directories:
                path = os.path.join(directory, f"{ID_PREFIX}migration-{os.getpid()}-{number}")
                os.mkdir(path)
                created_dirs.append(path)
                started = time.perf_counter_ns()
                with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                    handle.write(str(sleeper.pid))
                times.append((time.perf_counter_ns() - started) / 1e6)
            first.append(times[0])
            rest.append(sum(times[1:]))
        finally:
            sleeper.kill()
            sleeper.wait()
            for path in created_dirs:
                _remove_cgroup(path)
        # Let the grace-period state of the previous round expire, as between two container starts.
        time.sleep(0.1)
    rows = [
        ["first write of a round", ms(statistics.median(first)), f"{percentile(first, 0.1):.1f}–{percentile(first, 0.9):.1f}"],
        [
            f"the other {len(directories) - 1} writes, summed",
            ms(statistics.median(rest)),
            f"{percentile(rest, 0.1):.1f}–{percentile(rest, 0.9):.1f}",
        ],
    ]
    table = markdown_table(["cgroup.procs write", "median ms", "p10–p90 ms"], rows, align="lrr")
    return table, {"hierarchies": directories, "first_ms": first, "rest_ms": rest}


def _remove_cgroup(path: str) -> None:
    """Remove a cgroup directory, retrying while the killed process is still being released."""
    for _attempt in range(100):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
    os.rmdir(path)
