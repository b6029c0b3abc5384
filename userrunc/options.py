"""The one declaration of userrunc's command-line options.

Two parsers read this table. The click CLI (cli.py) builds every command,
its help and its usage errors from it. The fast parser below handles only
the plain argument shapes of the commands that podman and scripts call
thousands of times, because importing click costs about 23 ms. A command
line it does not fully understand (help, unknown options, bundled short
flags, a missing argument) goes to click, which either reports the usage
error or parses the same invocation. tests/test_options.py checks that
both parsers agree.
"""

from __future__ import annotations


class Option:
    """One option: its flags, destination name, value kind, default and help."""

    __slots__ = ("flags", "dest", "kind", "default", "help", "choices", "metavar")

    def __init__(self, flags, dest, kind, default, help, choices=(), metavar=None):
        self.flags = flags
        self.dest = dest
        # "flag" (no value), "str", "int", "choice" or "multi" (a string
        # that may be given several times, collected in a list).
        self.kind = kind
        self.default = default
        self.help = help
        self.choices = choices
        self.metavar = metavar


class Argument:
    """One positional argument; a variadic one takes every argument left."""

    __slots__ = ("name", "required", "help", "variadic")

    def __init__(self, name, required=True, help="", variadic=False):
        self.name = name
        self.required = required
        self.help = help
        self.variadic = variadic


class Command:
    __slots__ = ("name", "options", "arguments", "help", "hot", "interspersed")

    def __init__(self, name, options, arguments, help, hot=False, interspersed=True):
        self.name = name
        self.options = options
        self.arguments = arguments
        self.help = help
        # Hot commands are parsed by the fast parser when their arguments allow.
        self.hot = hot
        # False: options end at the first positional argument, as for the
        # command line of `exec`, whose own options belong to the program.
        self.interspersed = interspersed


class Invocation:
    """A parsed command line: command name, global options, options, arguments."""

    __slots__ = ("command", "globals", "options", "args")

    def __init__(self, command, global_values, option_values, args):
        self.command = command
        self.globals = global_values
        self.options = option_values
        self.args = args

    def __eq__(self, other):
        if not isinstance(other, Invocation):
            return NotImplemented
        return (self.command, self.globals, self.options, self.args) == (
            other.command,
            other.globals,
            other.options,
            other.args,
        )

    def __repr__(self):
        return f"Invocation({self.command!r}, {self.globals!r}, {self.options!r}, {self.args!r})"


GLOBAL_OPTIONS = (
    Option(
        ("--root",),
        "root",
        "str",
        None,
        "Directory for container state [default: $XDG_RUNTIME_DIR/userrunc, or /run/userrunc for root].",
        metavar="DIR",
    ),
    Option(("--log",), "log", "str", None, "Write log records to FILE (errors are printed on stderr too).", metavar="FILE"),
    Option(("--log-format",), "log_format", "choice", "text", "Format of log records.", choices=("text", "json")),
    Option(("--debug",), "debug", "flag", False, "Log debug records, and show tracebacks of internal errors."),
    Option(
        ("--systemd-cgroup",),
        "systemd_cgroup",
        "flag",
        False,
        "Use the systemd cgroup manager (the same as --cgroup-manager systemd).",
    ),
    Option(
        ("--cgroup-manager",),
        "cgroup_manager",
        "choice",
        None,
        "Cgroup manager: cgroupfs, systemd or disabled [default: cgroupfs].",
        choices=("cgroupfs", "systemd", "disabled"),
    ),
    Option(
        ("--rootless",),
        "rootless",
        "choice",
        "auto",
        "Treat the caller as unprivileged: true, false, or auto (unprivileged unless real root).",
        choices=("true", "false", "auto"),
    ),
)

_BUNDLE = Option(
    ("--bundle", "-b"), "bundle", "str", ".", "Path to the bundle directory [default: current directory].", metavar="DIR"
)
_CREATE_OPTIONS = (
    _BUNDLE,
    Option(
        ("--config",),
        "config",
        "str",
        None,
        "Path to the configuration file [default: BUNDLE/config.json].",
        metavar="FILE",
    ),
    Option(("--pid-file",), "pid_file", "str", None, "Write the container init's PID to FILE.", metavar="FILE"),
    Option(
        ("--console-socket",),
        "console_socket",
        "str",
        None,
        "Unix socket that receives the pseudoterminal master when process.terminal is true.",
        metavar="PATH",
    ),
    Option(("--no-pivot",), "no_pivot", "flag", False, "Use chroot instead of pivot_root (for a rootfs on a ramdisk)."),
    Option(
        ("--no-new-keyring",),
        "no_new_keyring",
        "flag",
        False,
        "Keep the caller's session keyring instead of creating a new one.",
    ),
    Option(
        ("--preserve-fds",),
        "preserve_fds",
        "int",
        0,
        "Pass N extra file descriptors (3 to 3+N-1) to the container process.",
        metavar="N",
    ),
)
_ID = Argument("ID", help="Container id")

COMMANDS = {
    command.name: command
    for command in (
        Command(
            "create",
            _CREATE_OPTIONS,
            (_ID,),
            "Create a container: set it up and wait for start.",
            hot=True,
        ),
        Command("start", (), (_ID,), "Start the user process of a created container.", hot=True),
        Command(
            "run",
            _CREATE_OPTIONS
            + (
                Option(("--detach", "-d"), "detach", "flag", False, "Return once the container has started."),
                Option(("--keep",), "keep", "flag", False, "Keep the container's state after it exits."),
            ),
            (_ID,),
            "Create and start a container; in the foreground, return its exit status.",
            hot=True,
        ),
        Command("state", (), (_ID,), "Print the OCI state of a container as JSON.", hot=True),
        Command(
            "kill",
            (Option(("--all", "-a"), "all", "flag", False, "Send the signal to every process of the container."),),
            (_ID, Argument("SIGNAL", required=False, help="Signal name or number [default: SIGTERM]")),
            "Send a signal to the container's init process.",
            hot=True,
        ),
        Command(
            "delete",
            (Option(("--force", "-f"), "force", "flag", False, "Kill the container first if it is running."),),
            (_ID,),
            "Delete a container and release everything it holds.",
            hot=True,
        ),
        Command(
            "list",
            (
                Option(
                    ("--format", "-f"),
                    "format",
                    "choice",
                    "table",
                    "Output format.",
                    choices=("table", "json"),
                ),
                Option(("--quiet", "-q"), "quiet", "flag", False, "Print only container ids."),
            ),
            (),
            "List the containers under the state root.",
        ),
        Command(
            "spec",
            (
                Option(("--rootless",), "rootless", "flag", False, "Write a configuration for an unprivileged caller."),
                _BUNDLE,
            ),
            (),
            "Write a default config.json into the bundle directory.",
        ),
        Command(
            "exec",
            (
                Option(
                    ("--process", "-p"),
                    "process",
                    "str",
                    None,
                    "Read the process from FILE (a runtime-spec process object); flags override it.",
                    metavar="FILE",
                ),
                Option(("--tty", "-t"), "tty", "flag", False, "Give the process a pseudoterminal."),
                Option(("--detach", "-d"), "detach", "flag", False, "Return once the process has started."),
                Option(
                    ("--console-socket",),
                    "console_socket",
                    "str",
                    None,
                    "Unix socket that receives the pseudoterminal master (with --tty and --detach).",
                    metavar="PATH",
                ),
                Option(("--cwd",), "cwd", "str", None, "Working directory in the container.", metavar="DIR"),
                Option(("--env", "-e"), "env", "multi", (), "Set NAME=VALUE in the environment (repeatable).", metavar="NAME=VALUE"),
                Option(("--user", "-u"), "user", "str", None, "Run as UID[:GID] in the container.", metavar="UID[:GID]"),
                Option(
                    ("--additional-gids", "-g"),
                    "additional_gids",
                    "multi",
                    (),
                    "Add a supplementary group id (repeatable).",
                    metavar="GID",
                ),
                Option(("--cap", "-c"), "cap", "multi", (), "Add a capability to the process (repeatable).", metavar="CAP"),
                Option(("--no-new-privs",), "no_new_privs", "flag", False, "Set no_new_privs for the process."),
                Option(("--apparmor",), "apparmor", "str", None, "AppArmor profile for the process.", metavar="PROFILE"),
                Option(("--process-label",), "process_label", "str", None, "SELinux label for the process.", metavar="LABEL"),
                Option(("--pid-file",), "pid_file", "str", None, "Write the process's PID to FILE.", metavar="FILE"),
                Option(
                    ("--preserve-fds",),
                    "preserve_fds",
                    "int",
                    0,
                    "Pass N extra file descriptors (3 to 3+N-1) to the process.",
                    metavar="N",
                ),
                Option(("--ignore-paused",), "ignore_paused", "flag", False, "Allow exec in a paused container."),
            ),
            (_ID, Argument("COMMAND", required=False, help="Program and its arguments", variadic=True)),
            "Run a new process in a running container.",
            hot=True,
            interspersed=False,
        ),
        Command("pause", (), (_ID,), "Freeze every process of a running container (needs its cgroup)."),
        Command("resume", (), (_ID,), "Thaw a paused container."),
        Command(
            "ps",
            (
                Option(
                    ("--format", "-f"),
                    "format",
                    "choice",
                    "table",
                    "Output format: ps(1) output, or a JSON array of PIDs.",
                    choices=("table", "json"),
                ),
            ),
            (_ID, Argument("PS_ARGS", required=False, help="Arguments for ps(1) [default: -ef]", variadic=True)),
            "List the processes of a container.",
            interspersed=False,
        ),
        Command("features", (), (), "Print the features this runtime supports, as JSON."),
        Command(
            "doctor",
            (
                Option(
                    ("--format", "-f"),
                    "format",
                    "choice",
                    "table",
                    "Output format.",
                    choices=("table", "json"),
                ),
            ),
            (),
            "Check that this machine and user can run rootless containers.",
        ),
    )
}


def _defaults(options) -> dict:
    return {option.dest: list(option.default) if option.kind == "multi" else option.default for option in options}


def _lookup(options, token: str):
    """Return (option, inline value) for an option token, or (None, None)."""
    name, equals, value = token.partition("=")
    for option in options:
        if name in option.flags:
            if equals:
                if not name.startswith("--") or option.kind == "flag":
                    return None, None
                return option, value
            return option, None
    return None, None


def _convert(option: Option, value: str):
    if option.kind == "int":
        if not value.isdigit():
            return None
        return int(value)
    if option.kind == "choice" and value not in option.choices:
        return None
    return value


_FAILED = object()


def _parse_options(options, tokens, allow_positionals, interspersed=True):
    """Parse tokens into (values, positionals), or return _FAILED."""
    values = _defaults(options)
    positionals = []
    index = 0
    only_positionals = False
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if only_positionals or not token.startswith("-") or token == "-":
            if not allow_positionals:
                return _FAILED, index - 1
            positionals.append(token)
            if not interspersed:
                only_positionals = True
            continue
        if token == "--":
            only_positionals = True
            continue
        option, inline = _lookup(options, token)
        if option is None:
            return _FAILED, index
        if option.kind == "flag":
            values[option.dest] = True
            continue
        if inline is None:
            if index >= len(tokens):
                return _FAILED, index
            inline = tokens[index]
            index += 1
        converted = _convert(option, inline)
        if converted is None:
            return _FAILED, index
        if option.kind == "multi":
            values[option.dest].append(converted)
        else:
            values[option.dest] = converted
    return (values, positionals), index


def fast_parse(argv: list[str]) -> Invocation | None:
    """Parse a hot command's plain command line, or return None to let click handle it."""
    index = 0
    global_tokens = []
    while index < len(argv) and argv[index].startswith("-"):
        token = argv[index]
        option, inline = _lookup(GLOBAL_OPTIONS, token)
        if option is None:
            return None
        global_tokens.append(token)
        index += 1
        if option.kind != "flag" and inline is None:
            if index >= len(argv):
                return None
            global_tokens.append(argv[index])
            index += 1
    if index >= len(argv):
        return None

    command = COMMANDS.get(argv[index])
    if command is None or not command.hot:
        return None
    parsed, _ = _parse_options(GLOBAL_OPTIONS, global_tokens, allow_positionals=False)
    if parsed is _FAILED:
        return None
    global_values, _ = parsed

    parsed, _ = _parse_options(command.options, argv[index + 1 :], allow_positionals=True, interspersed=command.interspersed)
    if parsed is _FAILED:
        return None
    values, positionals = parsed
    required = sum(1 for argument in command.arguments if argument.required)
    variadic = any(argument.variadic for argument in command.arguments)
    if len(positionals) < required or (len(positionals) > len(command.arguments) and not variadic):
        return None
    return Invocation(command.name, global_values, values, positionals)
