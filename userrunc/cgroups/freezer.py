"""Freezing and thawing a cgroup: v1's freezer.state or v2's cgroup.freeze.

Writing the request is not enough: the kernel freezes tasks one by one, so
the state file is polled until it reports the requested state.
"""

from __future__ import annotations

import os
import time

from ..errors import CgroupError

TIMEOUT = 10.0


def _v1_directory(paths: list[str]):
    for path in paths:
        if os.path.exists(os.path.join(path, "freezer.state")):
            return path
    return None


def _v2_directory(paths: list[str]):
    for path in paths:
        if os.path.exists(os.path.join(path, "cgroup.freeze")):
            return path
    return None


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError as error:
        raise CgroupError(f"cannot write {value!r} to {path}: {error.strerror}") from None


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError as error:
        raise CgroupError(f"cannot read {path}: {error.strerror}") from None


def set_frozen(paths: list[str], frozen: bool) -> None:
    """Freeze or thaw the cgroup among paths that has a freezer; raise CgroupError if none has."""
    directory = _v2_directory(paths)
    if directory is not None:
        _write(os.path.join(directory, "cgroup.freeze"), "1" if frozen else "0")
        expected = "frozen 1" if frozen else "frozen 0"
        events = os.path.join(directory, "cgroup.events")
        _wait(lambda: expected in _read(events).splitlines(), directory, frozen)
        return
    directory = _v1_directory(paths)
    if directory is None:
        raise CgroupError("the container has no cgroup with a freezer (pause needs cgroup v2 or the v1 freezer controller)")
    state = os.path.join(directory, "freezer.state")
    expected = "FROZEN" if frozen else "THAWED"
    deadline = time.monotonic() + TIMEOUT
    while True:
        _write(state, expected)
        if _read(state).strip() == expected:
            return
        if time.monotonic() > deadline:
            raise CgroupError(f"{directory} did not reach {expected} within {TIMEOUT:.0f} s")
        time.sleep(0.01)


def _wait(done, directory: str, frozen: bool) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise CgroupError(f"{directory} was not {'frozen' if frozen else 'thawed'} within {TIMEOUT:.0f} s")
        time.sleep(0.005)
