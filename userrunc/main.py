"""Entry point: route hot commands straight to their module, the rest to click."""

from __future__ import annotations

import gc
import os
import sys

from . import log
from .errors import UserruncError
from .options import Invocation, fast_parse


def main() -> None:
    """Run userrunc with sys.argv and exit without the interpreter's shutdown.

    The console script calls this. A command creates few reference cycles
    and exits soon, so the garbage collector is off: it ran five times during
    the imports of a `run`, 1.3 ms in all. After flushing what is buffered,
    the exit skips the interpreter's teardown, 3.8 ms of a `run`. Both
    numbers were measured with bench/.
    """
    gc.disable()
    status = run(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    log.flush()
    os._exit(status)


def run(argv: list[str]) -> int:
    """Run userrunc with `argv` and return the exit status."""
    invocation = fast_parse(argv)
    if invocation is None:
        from .cli import run_click

        return run_click(argv)
    return execute(invocation)


def execute(invocation: Invocation) -> int:
    """Run a parsed command; turn every UserruncError into one line on stderr."""
    settings = invocation.globals
    log.configure(settings["log"], settings["log_format"], settings["debug"])
    try:
        module = __import__(f"userrunc.commands.{invocation.command}", fromlist=["run"])
        status = module.run(invocation)
    except UserruncError as error:
        log.report_error(f"{invocation.command}: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        log.report_error(f"{invocation.command}: interrupted")
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence for bugs
        if settings["debug"]:
            import traceback

            traceback.print_exc()
        log.report_error(
            f"{invocation.command}: internal error: {type(error).__name__}: {error} (rerun with --debug for a traceback)"
        )
        return 1
    return status or 0
