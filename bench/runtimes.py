"""The runtimes under test, each in one mode (root or rootless), with the bundle it runs."""

from __future__ import annotations

import json
import os
import shutil

from fixtures import PATH, BenchUser, root_identity
from spawn import CommandFailed, Identity, Output, run_timed

ID_PREFIX = "ubench-"


class Runtime:
    """One runtime binary in one mode: how to call it, as whom, on which bundle."""

    __slots__ = ("name", "mode", "program", "identity", "bundle", "note")

    def __init__(self, name: str, mode: str, program: str, identity: Identity, bundle: str, note: str = "") -> None:
        self.name = name
        self.mode = mode
        self.program = program
        self.identity = identity
        self.bundle = bundle
        self.note = note

    @property
    def key(self) -> str:
        return f"{self.name} {self.mode}"

    def argv(self, *args: str) -> list[str]:
        return [self.program, *args]

    def container_id(self, number: int) -> str:
        return f"{ID_PREFIX}{self.name}-{self.mode}-{number}"


def find_program(name: str) -> str | None:
    return shutil.which(name, path=PATH)


def build_runtimes(
    requested: list[str],
    modes: list[str],
    userrunc: str,
    user: BenchUser,
    root_bundle: str,
    rootless_bundle: str,
    crun_mount_ns_fd: int,
) -> list[Runtime]:
    """Return the runtimes to measure, in a fixed order: rootless first, then root."""
    runc = find_program("runc")
    crun = find_program("crun")
    result = []
    if "rootless" in modes:
        identity = user.identity()
        if "userrunc" in requested:
            result.append(Runtime("userrunc", "rootless", userrunc, identity, rootless_bundle))
        if "runc" in requested and runc:
            result.append(Runtime("runc", "rootless", runc, identity, rootless_bundle))
    if "root" in modes:
        if "userrunc" in requested:
            result.append(Runtime("userrunc", "root", userrunc, root_identity(), root_bundle))
        if "runc" in requested and runc:
            result.append(Runtime("runc", "root", runc, root_identity(), root_bundle))
        if "crun" in requested and crun and crun_mount_ns_fd >= 0:
            result.append(
                Runtime(
                    "crun",
                    "root",
                    crun,
                    root_identity(mount_ns_fd=crun_mount_ns_fd),
                    root_bundle,
                    note="private mount namespace with cgroup2 on /sys/fs/cgroup",
                )
            )
    return result


def list_bench_containers(runtime: Runtime, output: Output) -> list[str]:
    """Return the ids of bench containers that the runtime still lists."""
    _elapsed, status = run_timed(runtime.argv("list", "--format", "json"), runtime.identity, output, output)
    if status != 0:
        raise CommandFailed(f"{runtime.program} list failed: {output.text().strip()}")
    text = output.text().strip()
    # runc prints "null" and crun an empty JSON array when no container exists.
    entries = json.loads(text) if text else []
    return sorted(entry["id"] for entry in entries or () if entry["id"].startswith(ID_PREFIX))


def delete_leftovers(runtimes: list[Runtime], output: Output) -> list[str]:
    """Force-delete every bench container the runtimes list; return the ids that were left."""
    left = []
    for runtime in runtimes:
        try:
            ids = list_bench_containers(runtime, output)
        except (CommandFailed, ValueError) as error:
            left.append(f"{runtime.key}: cannot list containers: {error}")
            continue
        for container_id in ids:
            left.append(f"{runtime.key}: {container_id}")
            run_timed(runtime.argv("delete", "--force", container_id), runtime.identity, output, output)
    return left


def leftover_cgroups() -> list[str]:
    """Return cgroup directories named after bench containers, in every hierarchy."""
    found = []
    for top, dirs, _files in os.walk("/sys/fs/cgroup"):
        for name in dirs:
            if ID_PREFIX in name:
                found.append(os.path.join(top, name))
    return found
