"""Helpers for the rootfs, mount, device and hostile-rootfs tests: run a bundle, read mountinfo back.

This module contains no tests; the test_rootfs*, test_mounts*, test_devices*
and test_hostile_rootfs* modules import it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import support

SHOW_MOUNTS = "cat /proc/self/mountinfo"


class MountInfo:
    """One line of /proc/self/mountinfo."""

    def __init__(self, line: str) -> None:
        fields = line.split()
        separator = fields.index("-")
        self.mount_id = fields[0]
        self.root = _unescape(fields[3])
        self.mount_point = _unescape(fields[4])
        self.options = set(fields[5].split(","))
        self.optional = fields[6:separator]
        self.fstype = fields[separator + 1]
        self.source = _unescape(fields[separator + 2])
        self.super_options = set(fields[separator + 3].split(",")) if len(fields) > separator + 3 else set()

    def has_optional(self, prefix: str) -> bool:
        return any(item == prefix or item.startswith(prefix + ":") for item in self.optional)

    def __repr__(self) -> str:
        return f"MountInfo({self.mount_point} {self.fstype} {sorted(self.options)} {self.optional} {sorted(self.super_options)})"


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mountinfo(text: str) -> dict[str, MountInfo]:
    """Return the top mount at each mount point (the last line that names it)."""
    mounts = {}
    for line in text.splitlines():
        if " - " in line:
            info = MountInfo(line)
            mounts[info.mount_point] = info
    return mounts


def all_mounts(text: str) -> list[MountInfo]:
    return [MountInfo(line) for line in text.splitlines() if " - " in line]


def config_with_mounts(runtime, mounts: list[dict], args: list[str] | None = None, **linux) -> dict:
    """Return the runtime's default config with extra mounts appended and linux fields replaced."""
    config = runtime.config()
    config["mounts"].extend(mounts)
    config["linux"].update(linux)
    config["process"]["args"] = args or ["sh", "-c", SHOW_MOUNTS]
    return config


def run_bundle(runtime, config: dict, *extra_args: str, name: str | None = None):
    """Run a bundle made from config; return (bundle, result)."""
    bundle = runtime.bundle(config, name=name)
    result = runtime("run", *extra_args, "-b", str(bundle), runtime.container_id())
    return bundle, result


def run_mounts(runtime, mounts: list[dict], args: list[str] | None = None, **linux):
    """Run a container with extra mounts; return (bundle, result)."""
    return run_bundle(runtime, config_with_mounts(runtime, mounts, args, **linux))


def owned_dir(runtime, name: str, mode: int = 0o755) -> Path:
    """Make a directory in the test's work directory, owned by the runtime's user."""
    path = runtime.workdir / name
    path.mkdir(parents=True, mode=mode)
    os.chmod(path, mode)
    os.chown(path, runtime.uid, runtime.gid)
    return path


@contextlib.contextmanager
def host_mount(*mount_args: str, target: Path):
    """Mount on the host for the length of a test (root only), and unmount after it."""
    subprocess.run(["mount", *mount_args, str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=True)


def error_line(result) -> str:
    """Return the single stderr line of a failed run, asserting there is exactly one."""
    lines = result.err_lines
    assert len(lines) == 1, result
    return lines[0]


def fails_cleanly(runtime, result, expected: str) -> None:
    """Check a run ended with exit status 1 and exactly the expected error line."""
    assert result.returncode == 1, result
    assert error_line(result) == expected
    # The leak check after the test covers processes, mounts, state and cgroups.
    assert not support.mounts_under(runtime.workdir)
