"""`start`: let a created container's init exec the user process.

`start` opens exec.fifo for reading, which releases the init blocked in
opening it for writing. The init writes "0", runs the startContainer hooks
and execs; its end of the fifo is close-on-exec, so end-of-file means the
exec happened. Text after the "0" is an error message from the init. A
pidfd of the init is polled beside the fifo, so an init that died makes
`start` fail at once instead of hanging.
"""

from __future__ import annotations

import os
import select

from .. import hooks, log
from ..container import Container
from ..errors import InitError, InvalidState
from ..status import CREATED, RUNNING
from ..store import EXEC_FIFO


def start_container(container: Container) -> None:
    """Start a created container and run its poststart hooks; the directory must be locked."""
    status = container.status()
    if status == RUNNING:
        raise InvalidState(container.id, status, f"container {container.id!r} is already running")
    if status != CREATED:
        raise InvalidState(container.id, status, f"cannot start container {container.id!r}: it is {status}")
    pidfd = container.pidfd()
    if pidfd is None:
        raise InvalidState(container.id, "stopped", f"cannot start container {container.id!r}: its init process has exited")
    try:
        fifo = os.open(EXEC_FIFO, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=container.directory.fd)
    except FileNotFoundError:
        os.close(pidfd)
        raise InvalidState(container.id, RUNNING, f"container {container.id!r} is already running") from None
    try:
        with log.step("start: wait for exec"):
            output = _read_until_exec(fifo, pidfd, container.id)
    finally:
        os.close(fifo)
        os.close(pidfd)
    try:
        os.unlink(EXEC_FIFO, dir_fd=container.directory.fd)
    except FileNotFoundError:
        pass
    if not output.startswith(b"0"):
        raise InitError(f"container {container.id!r}: the init process exited before it was started")
    if len(output) > 1:
        raise InitError(f"container {container.id!r} failed to start: {output[1:].decode('utf-8', 'replace')}")
    spec_hooks = container.state.get("hooks")
    if hooks.has(spec_hooks, "poststart"):
        state = container.oci_state()
        hooks.run(spec_hooks, "poststart", state)


def _read_until_exec(fifo: int, pidfd: int, container_id: str) -> bytes:
    poller = select.poll()
    poller.register(fifo, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    output = b""
    started = False
    while True:
        events = dict(poller.poll())
        if events.get(fifo):
            try:
                chunk = os.read(fifo, 65536)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                if started:
                    return output
                # A writer came and went without writing: the init died.
                return output
            if chunk:
                output += chunk
                started = True
                continue
        if events.get(pidfd) and not events.get(fifo):
            # The init exited. Whatever it wrote is still in the fifo.
            try:
                output += os.read(fifo, 65536)
            except BlockingIOError:
                pass
            if not output:
                raise InitError(f"cannot start container {container_id!r}: its init process exited")
            return output


def run(invocation) -> int:
    with Container.load(invocation.globals, invocation.args[0]) as container:
        start_container(container)
    return 0
