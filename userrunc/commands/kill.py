"""`kill`: send a signal to a container's init, or with --all to all its processes."""

from __future__ import annotations

from .. import signals
from ..container import Container
from ..errors import InvalidState
from ..status import STOPPED


def run(invocation) -> int:
    number = signals.parse(invocation.args[1] if len(invocation.args) > 1 else "SIGTERM")
    with Container.load(invocation.globals, invocation.args[0]) as container:
        if invocation.options.get("all"):
            container.signal_all(number)
            return 0
        status = container.status()
        if status == STOPPED or not container.signal_init(number):
            raise InvalidState(container.id, STOPPED, f"cannot kill container {container.id!r}: it is not running")
    return 0
