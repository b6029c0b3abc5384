"""Unit tests for running helper programs with posix_spawn."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from userrunc.idmap import programs
from userrunc.idmap.programs import find_program, run_program, search_dirs


def test_captures_status_and_streams():
    result = run_program("/bin/sh", ["sh", "-c", "echo out; echo err >&2; exit 3"], capture_stdout=True)
    assert result.status == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_stdout_joins_stderr_without_capture():
    result = run_program("/bin/sh", ["sh", "-c", "echo out; echo err >&2"])
    assert result.status == 0
    assert result.stdout == ""
    assert result.stderr == "out\nerr\n"


def test_signal_gives_negative_status():
    result = run_program("/bin/sh", ["sh", "-c", "kill -9 $$"])
    assert result.status == -9


def test_stdin_is_dev_null():
    result = run_program("/bin/sh", ["sh", "-c", "cat; echo done"], capture_stdout=True)
    assert result.stdout == "done\n"


def test_large_output_on_both_streams():
    # Each stream gets more than a pipe buffer (64 KiB), so reading one to the
    # end first would deadlock.
    script = "head -c 300000 /dev/zero | tr '\\0' e >&2; head -c 300000 /dev/zero | tr '\\0' o"
    result = run_program("/bin/sh", ["sh", "-c", script], capture_stdout=True)
    assert result.status == 0
    assert result.stdout == "o" * 300000
    assert result.stderr == "e" * 300000


def test_missing_program_raises():
    with pytest.raises(FileNotFoundError):
        run_program("/nonexistent/program", ["program"])


def test_no_descriptor_leak():
    before = set(os.listdir("/proc/self/fd"))
    run_program("/bin/true", ["true"], capture_stdout=True)
    run_program("/bin/true", ["true"])
    with pytest.raises(FileNotFoundError):
        run_program("/nonexistent/program", ["program"], capture_stdout=True)
    assert set(os.listdir("/proc/self/fd")) == before


def test_works_with_standard_streams_closed(tmp_path):
    # With fds 0-2 closed, pipe() returns them, which must not break the dup2 calls.
    output = tmp_path / "result.json"
    code = (
        "import json, os, sys\n"
        "os.close(0); os.close(1); os.close(2)\n"
        "from userrunc.idmap.programs import run_program\n"
        "r = run_program('/bin/sh', ['sh', '-c', 'echo out; echo err >&2; exit 4'], capture_stdout=True)\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\n"
        "os.write(fd, json.dumps([r.status, r.stdout, r.stderr]).encode())\n"
    )
    subprocess.run([sys.executable, "-c", code, str(output)], check=True, timeout=10)
    assert json.loads(output.read_text()) == [4, "out\n", "err\n"]


def test_find_program_in_path(monkeypatch, tmp_path):
    program = tmp_path / "tool"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_program("tool") == str(program)


def test_find_program_skips_non_executable_and_dirs(monkeypatch, tmp_path):
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "tool").write_text("#!/bin/sh\n")
    (first / "tool").chmod(0o644)
    (second / "tool").mkdir()
    monkeypatch.setenv("PATH", f"{first}:{second}")
    monkeypatch.setattr(programs, "FALLBACK_DIRS", ())
    assert find_program("tool") is None


def test_search_dirs_skips_relative_entries(monkeypatch):
    monkeypatch.setenv("PATH", ".:bin::/opt/tools")
    monkeypatch.setattr(programs, "FALLBACK_DIRS", ("/usr/bin", "/opt/tools"))
    assert search_dirs() == ["/opt/tools", "/usr/bin"]
