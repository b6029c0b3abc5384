"""`run`: create and start a container; in the foreground, wait for it and return its status.

In the foreground, userrunc forwards the signals it receives to the
container's init, copies a pseudoterminal to its own stdio when
process.terminal is set, and deletes the container when it exits (unless
--keep). The state directory is unlocked while the container runs, so
`state`, `kill` and `list` work on it meanwhile.
"""

from __future__ import annotations

import os

from .. import log
from ..container import Container
from ..errors import ContainerNotFound
from ..foreground import Forwarder, reap_children, wait_for
from .create import create_container
from .delete import destroy
from .start import start_container


def run(invocation) -> int:
    detach = bool(invocation.options.get("detach"))
    forwarder = None if detach else Forwarder()
    try:
        directory, created, state = create_container(invocation, foreground=not detach)
        container = Container(directory, state)
        if forwarder is not None:
            forwarder.attach(created.pid)
        try:
            start_container(container)
        except BaseException:
            _cleanup_after_failed_start(container, created)
            raise
        if detach:
            container.close()
            if created.pty_master is not None:
                os.close(created.pty_master)
            return 0
        container.close()
        forwarder.flush()
        status = wait_for(created.pid, created.pty_master, forwarder)
    finally:
        if forwarder is not None:
            forwarder.close()
    if not invocation.options.get("keep"):
        try:
            with Container.load(invocation.globals, state["id"]) as finished:
                destroy(finished, force=True)
        except ContainerNotFound:
            pass
    return status


def _cleanup_after_failed_start(container: Container, created) -> None:
    try:
        destroy(container, force=True)
    except Exception as error:  # noqa: BLE001 - the start error matters more
        log.warning(f"cleanup after the failed start: {error}")
    finally:
        container.close()
        if created.pty_master is not None:
            os.close(created.pty_master)
        reap_children()
