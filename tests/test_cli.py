"""The command line: help, version, usage errors, logs, spec and features."""

from __future__ import annotations

import json
import os

import pytest

from userrunc.options import COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_for_every_command(root_runtime, command):
    result = root_runtime(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: userrunc {command} [OPTIONS]")
    assert COMMANDS[command].help.split(";")[0].rstrip(".") in " ".join(result.stdout.split())


def test_help_lists_every_command(root_runtime):
    result = root_runtime("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f"  {command} " in result.stdout


def test_no_arguments_prints_usage(root_runtime):
    result = root_runtime(root_option=False)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: userrunc [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version(root_runtime, flag):
    result = root_runtime(flag)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "userrunc version 0.1.0"
    assert lines[1] == "spec: 1.2.0"


@pytest.mark.parametrize(
    "args,message",
    [
        (["create", "--bogus", "c1"], "create: No such option '--bogus'. (see 'userrunc create --help')"),
        (["create"], "create: Missing argument 'ID'. (see 'userrunc create --help')"),
        (["create", "a", "b"], "create: Got unexpected extra argument (b) (see 'userrunc create --help')"),
        (
            ["create", "--preserve-fds", "x", "c1"],
            "create: Invalid value for '--preserve-fds': 'x' is not a valid integer range. (see 'userrunc create --help')",
        ),
        (
            ["--log-format", "yaml", "state", "c1"],
            "Invalid value for '--log-format': 'yaml' is not one of 'text', 'json'. (see 'userrunc --help')",
        ),
        (
            ["--rootless", "maybe", "state", "c1"],
            "Invalid value for '--rootless': 'maybe' is not one of 'true', 'false', 'auto'. (see 'userrunc --help')",
        ),
        (["nosuchcommand"], "No such command 'nosuchcommand'. (see 'userrunc --help')"),
        (["kill"], "kill: Missing argument 'ID'. (see 'userrunc kill --help')"),
        (
            ["list", "--format", "xml"],
            "list: Invalid value for '--format' / '-f': 'xml' is not one of 'table', 'json'. (see 'userrunc list --help')",
        ),
    ],
)
def test_usage_error_is_one_line(root_runtime, args, message):
    result = root_runtime(*args, root_option=False)
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: {message}"]


def test_usage_error_as_json_record(root_runtime):
    result = root_runtime("--log-format", "json", "create", "--bogus", "c1", root_option=False)
    assert result.returncode == 1
    assert len(result.err_lines) == 1
    record = json.loads(result.err_lines[0])
    assert record["level"] == "error"
    assert record["msg"] == "create: No such option '--bogus'. (see 'userrunc create --help')"
    assert record["time"].endswith("Z")


def test_error_as_json_record_on_stderr(runtime):
    result = runtime("--log-format", "json", "state", "nosuch")
    assert result.returncode == 1
    assert len(result.err_lines) == 1
    record = json.loads(result.err_lines[0])
    assert record["level"] == "error"
    assert record["msg"] == f"state: container 'nosuch' does not exist in {runtime.state_root}"


def test_error_goes_to_log_file_and_stderr(runtime):
    log_path = runtime.workdir / "runtime.log"
    result = runtime("--log", str(log_path), "--log-format", "json", "state", "nosuch")
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: state: container 'nosuch' does not exist in {runtime.state_root}"]
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [record["msg"] for record in records] == [f"state: container 'nosuch' does not exist in {runtime.state_root}"]
    assert records[0]["level"] == "error"


def test_debug_log_names_each_step(runtime):
    bundle = runtime.bundle(args=["true"])
    log_path = runtime.workdir / "debug.log"
    result = runtime("--debug", "--log", str(log_path), "--log-format", "json", "run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    steps = {record["step"] for record in records if "step" in record}
    assert {"load config", "create", "rootfs mounts", "pivot_root"} <= steps
    assert all(record["level"] == "debug" for record in records)
    assert all(isinstance(record["ms"], float) for record in records if "step" in record)


def test_text_log_format(runtime):
    log_path = runtime.workdir / "text.log"
    result = runtime("--log", str(log_path), "state", "nosuch")
    assert result.returncode == 1
    line = log_path.read_text().strip()
    assert line.startswith("time=")
    assert "level=error" in line
    assert f"msg=\"state: container 'nosuch' does not exist in {runtime.state_root}\"" in line


def test_no_traceback_without_debug(root_runtime, monkeypatch):
    # A rootfs of the wrong kind reaches code paths that report errors, never tracebacks.
    result = root_runtime("state", "a" * 300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_spec_writes_config_that_validates(runtime):
    target = runtime.workdir / "spec-bundle"
    target.mkdir()
    os.chown(target, runtime.uid, runtime.gid)
    flags = ["--rootless"] if runtime.rootless else []
    result = runtime("spec", *flags, "--bundle", str(target))
    assert result.returncode == 0, result
    config = json.loads((target / "config.json").read_text())
    assert config["ociVersion"] == "1.2.0"
    assert config["process"]["args"] == ["sh"]
    assert config["process"]["terminal"] is True
    types = [item["type"] for item in config["linux"]["namespaces"]]
    if runtime.rootless:
        assert "user" in types
        assert "network" not in types
        assert config["linux"]["uidMappings"][0] == {"containerID": 0, "hostID": runtime.uid, "size": 1}
        assert config["linux"]["uidMappings"][1]["containerID"] == 1
        assert "resources" not in config["linux"]
    else:
        assert "user" not in types
    again = runtime("spec", *flags, "--bundle", str(target))
    assert again.returncode == 1
    assert again.err_lines == [f"userrunc: spec: {target}/config.json already exists; remove it first to write a new one"]


def test_spec_missing_bundle(root_runtime):
    missing = root_runtime.workdir / "nope"
    result = root_runtime("spec", "--bundle", str(missing))
    assert result.returncode == 1
    assert result.err_lines == [f"userrunc: spec: bundle {missing} is not a directory (--bundle)"]


def test_features_shape(root_runtime):
    result = root_runtime("features")
    assert result.returncode == 0
    features = json.loads(result.stdout)
    assert features["ociVersionMin"] == "1.0.0"
    assert features["ociVersionMax"] == "1.2.0"
    assert features["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    assert "rbind" in features["mountOptions"]
    assert "rro" in features["mountOptions"]
    linux = features["linux"]
    assert linux["namespaces"] == ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
    assert linux["capabilities"][0] == "CAP_CHOWN"
    assert "CAP_CHECKPOINT_RESTORE" in linux["capabilities"]
    assert linux["seccomp"]["enabled"] is True
    assert "SCMP_ACT_NOTIFY" in linux["seccomp"]["actions"]
    assert set(linux["cgroup"]) >= {"v1", "v2", "systemd", "systemdUser"}
