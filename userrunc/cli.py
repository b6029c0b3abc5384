"""The click command-line interface, built from the table in options.py.

Every command runs through here when the fast parser in options.py declines
a command line: help, usage errors, and the commands that are not hot.
"""

from __future__ import annotations

import sys

import click

from . import OCI_VERSION, __version__, log
from .main import execute
from .options import COMMANDS, GLOBAL_OPTIONS, Invocation

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _click_option(option):
    kwargs = {"help": option.help, "show_default": False}
    if option.kind == "flag":
        kwargs["is_flag"] = True
        kwargs["default"] = False
    elif option.kind == "int":
        kwargs["type"] = click.IntRange(min=0)
        kwargs["default"] = option.default
    elif option.kind == "multi":
        kwargs["multiple"] = True
        kwargs["type"] = str
    elif option.kind == "choice":
        kwargs["type"] = click.Choice(option.choices)
        kwargs["default"] = option.default
    else:
        kwargs["type"] = str
        kwargs["default"] = option.default
    if option.metavar:
        kwargs["metavar"] = option.metavar
    return click.option(*option.flags, option.dest, **kwargs)


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    python = ".".join(str(part) for part in sys.version_info[:3])
    click.echo(f"userrunc version {__version__}\nspec: {OCI_VERSION}\npython: {python}")
    ctx.exit(0)


def _make_command(command):
    def callback(**values):
        ctx = click.get_current_context()
        args = []
        for argument in command.arguments:
            value = values.pop(argument.name.lower())
            if argument.variadic:
                args.extend(value)
            elif value is not None:
                args.append(value)
        for option in command.options:
            if option.kind == "multi":
                values[option.dest] = list(values[option.dest])
        invocation = Invocation(command.name, dict(ctx.obj["globals"]), values, args)
        if ctx.obj.get("parse_only"):
            return invocation
        return execute(invocation)

    for argument in reversed(command.arguments):
        extra = {"nargs": -1} if argument.variadic else {}
        metavar = argument.name if argument.required else f"[{argument.name}]"
        if argument.variadic:
            metavar += "..."
        callback = click.argument(argument.name.lower(), metavar=metavar, required=argument.required, **extra)(callback)
    for option in reversed(command.options):
        callback = _click_option(option)(callback)
    settings = dict(CONTEXT_SETTINGS, allow_interspersed_args=command.interspersed)
    return click.command(command.name, help=command.help, context_settings=settings)(callback)


def _make_group():
    def callback(**values):
        ctx = click.get_current_context()
        ctx.obj.setdefault("globals", {}).update(values)

    callback = click.option(
        "--version",
        "-v",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_print_version,
        help="Print the version and exit.",
    )(callback)
    for option in reversed(GLOBAL_OPTIONS):
        callback = _click_option(option)(callback)
    group = click.group(
        "userrunc",
        context_settings=CONTEXT_SETTINGS,
        help="userrunc: a rootless-first OCI container runtime with a runc-compatible command line.",
    )(callback)
    for command in COMMANDS.values():
        group.add_command(_make_command(command))
    return group


cli = _make_group()


def _usage_line(error: click.UsageError) -> str:
    """Return the usage error as one line, prefixed with the subcommand when there is one."""
    ctx = error.ctx
    path = ctx.command_path if ctx is not None else "userrunc"
    command = path[len("userrunc ") :]
    prefix = f"{command}: " if command else ""
    return f"{prefix}{error.format_message()} (see '{path} --help')"


def run_click(argv: list[str]) -> int:
    """Run the click CLI on argv and return the exit status.

    Usage errors become one line on stderr and exit status 1, as runc does.
    Without arguments, the help is printed, as runc does.
    """
    if not argv:
        argv = ["--help"]
    try:
        result = cli.main(args=argv, prog_name="userrunc", standalone_mode=False, obj={})
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:
        _configure_for_usage_error(argv)
        log.report_error(_usage_line(error))
        return 1
    except click.Abort:
        log.report_error("aborted")
        return 130
    except click.ClickException as error:
        log.report_error(error.format_message())
        return 1
    if isinstance(result, int):
        return result
    return 0


def _configure_for_usage_error(argv: list[str]) -> None:
    """Honour --log-format json for a usage error, as far as the arguments can be read."""
    log_format = "text"
    log_path = None
    for index, token in enumerate(argv):
        if token.startswith("--log-format="):
            log_format = token.split("=", 1)[1]
        elif token == "--log-format" and index + 1 < len(argv):
            log_format = argv[index + 1]
        elif token.startswith("--log="):
            log_path = token.split("=", 1)[1]
        elif token == "--log" and index + 1 < len(argv):
            log_path = argv[index + 1]
    if log_format not in ("text", "json"):
        log_format = "text"
    log.configure(log_path, log_format, False)


def parse_only(argv: list[str]) -> Invocation | None:
    """Parse argv with click without running anything; for tests of the fast parser."""
    try:
        result = cli.main(args=argv, prog_name="userrunc", standalone_mode=False, obj={"parse_only": True})
    except (click.UsageError, click.exceptions.Exit):
        return None
    return result if isinstance(result, Invocation) else None
