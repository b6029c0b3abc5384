"""The fast parser and the click CLI must read every command line the same way."""

from __future__ import annotations

import pytest

from userrunc.cli import parse_only
from userrunc.options import COMMANDS, GLOBAL_OPTIONS, fast_parse

AGREEING = [
    ["create", "c1"],
    ["create", "--bundle", "/b", "c1"],
    ["create", "-b", "/b", "--pid-file", "/p", "c1"],
    ["create", "--bundle=/b", "--config=/b/c.json", "--console-socket", "/s", "c1"],
    ["create", "--no-pivot", "--no-new-keyring", "--preserve-fds", "3", "c1"],
    ["create", "c1", "--bundle", "/b"],
    ["--root", "/r", "--log", "/l", "--log-format", "json", "create", "c1"],
    ["--root=/r", "--debug", "--systemd-cgroup", "start", "c1"],
    ["--rootless", "true", "--cgroup-manager", "disabled", "state", "c1"],
    ["--rootless=false", "kill", "c1"],
    ["kill", "c1", "KILL"],
    ["kill", "--all", "c1", "9"],
    ["kill", "-a", "c1"],
    ["delete", "c1"],
    ["delete", "--force", "c1"],
    ["delete", "-f", "c1"],
    ["run", "-d", "--keep", "-b", "/b", "c1"],
    ["run", "--detach", "c1"],
    ["create", "--", "c1"],
]

# Command lines the fast parser hands to click: help, errors and rare shapes.
DECLINED = [
    [],
    ["--help"],
    ["create", "--help"],
    ["create"],
    ["create", "a", "b"],
    ["create", "--bogus", "c1"],
    ["create", "--preserve-fds", "x", "c1"],
    ["create", "-bX", "c1"],
    ["kill", "-af", "c1"],
    ["--log-format", "yaml", "state", "c1"],
    ["--bogus", "state", "c1"],
    ["list"],
    ["spec"],
    ["features"],
    ["--version"],
    ["create", "--bundle"],
]


@pytest.mark.parametrize("argv", AGREEING, ids=lambda argv: " ".join(argv))
def test_parsers_agree(argv):
    fast = fast_parse(argv)
    assert fast is not None
    assert fast == parse_only(argv)


@pytest.mark.parametrize("argv", DECLINED, ids=lambda argv: " ".join(argv) or "empty")
def test_fast_parser_declines(argv):
    assert fast_parse(argv) is None


def test_every_option_reaches_both_parsers():
    """Each declared option of a hot command parses the same in both parsers."""
    for command in COMMANDS.values():
        if not command.hot:
            continue
        for option in command.options:
            value = {
                "flag": [],
                "int": ["2"],
                "choice": [option.choices[-1] if option.choices else "x"],
                "str": ["/x"],
                "multi": ["A=1"],
            }[option.kind]
            argv = [command.name, option.flags[0], *value, "c1"]
            assert fast_parse(argv) == parse_only(argv), argv
    for option in GLOBAL_OPTIONS:
        value = {"flag": [], "choice": [option.choices[-1] if option.choices else "x"], "str": ["/x"]}[option.kind]
        argv = [option.flags[0], *value, "state", "c1"]
        assert fast_parse(argv) == parse_only(argv), argv


EXEC_LINES = [
    ["exec", "c1", "ls", "-la"],
    ["exec", "-t", "-e", "A=1", "--env", "B=2", "c1", "sh", "-c", "echo $A"],
    ["exec", "--user", "1000:1000", "-g", "5", "-g", "6", "--cap", "CAP_KILL", "c1", "id"],
    ["exec", "--cwd", "/tmp", "--detach", "--pid-file", "/p", "c1", "sleep", "1", "--", "-x"],
    ["exec", "--process", "/p.json", "c1"],
    ["--root", "/r", "exec", "-d", "c1", "--help"],
]


@pytest.mark.parametrize("argv", EXEC_LINES, ids=lambda argv: " ".join(argv))
def test_exec_command_lines_agree(argv):
    fast = fast_parse(argv)
    assert fast is not None
    assert fast == parse_only(argv)


def test_exec_stops_options_at_container_id():
    parsed = fast_parse(["exec", "c1", "ls", "-la", "--env", "X=1"])
    assert parsed.args == ["c1", "ls", "-la", "--env", "X=1"]
    assert parsed.options["env"] == []
