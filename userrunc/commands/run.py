"""`run`: create and start a container; in the foreground, wait for it and return its status.

In the foreground, userrunc forwards the signals it receives to the
container's init, copies a pseudoterminal to its own stdio when
process.terminal is set, and deletes the container when it exits (unless
--keep). The state directory is unlocked while the container runs, so
`state`, `kill` and `list` work on it meanwhile.
"""

from __future__ import annotations

import os

import _signal

from .. import log
from ..container import Container
from ..errors import ContainerNotFound
from .create import create_container
from .delete import destroy
from .start import start_container

# Signals that are not forwarded: SIGCHLD is ours, SIGWINCH resizes the pty,
# and SIGKILL and SIGSTOP cannot be caught.
_NOT_FORWARDED = {"SIGCHLD", "SIGCLD", "SIGKILL", "SIGSTOP", "SIGWINCH", "SIGPIPE", "SIGURG"}


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
        status = _wait(created, forwarder)
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


class Forwarder:
    """Forwards the signals userrunc receives to the container's init.

    It is installed before create, so no signal between create and the end
    of the wait takes the default action and leaves the container behind.
    Signals that arrive before the init exists are delivered after start.
    """

    def __init__(self) -> None:
        self.pidfd = None
        self.pending: list[int] = []
        self.resize = None
        self.installed: list[int] = []
        for name in dir(_signal):
            if not name.startswith("SIG") or name.startswith("SIG_") or name in _NOT_FORWARDED:
                continue
            number = getattr(_signal, name)
            if isinstance(number, int) and number < _signal.NSIG and number not in self.installed:
                try:
                    _signal.signal(number, self._handle)
                except (OSError, ValueError):
                    continue
                self.installed.append(number)
        _signal.signal(_signal.SIGWINCH, self._handle_resize)

    def attach(self, pid: int) -> None:
        self.pidfd = os.pidfd_open(pid)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for number in pending:
            self._send(number)

    def _handle(self, number, _frame) -> None:
        if self.pidfd is None:
            if number == _signal.SIGINT:
                raise KeyboardInterrupt
            self.pending.append(number)
            return
        self._send(number)

    def _handle_resize(self, _number, _frame) -> None:
        if self.resize is not None:
            self.resize()

    def _send(self, number: int) -> None:
        try:
            _signal.pidfd_send_signal(self.pidfd, number)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        for number in self.installed:
            _signal.signal(number, _signal.SIG_DFL)
        _signal.signal(_signal.SIGWINCH, _signal.SIG_DFL)
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _cleanup_after_failed_start(container: Container, created) -> None:
    try:
        destroy(container, force=True)
    except Exception as error:  # noqa: BLE001 - the start error matters more
        log.warning(f"cleanup after the failed start: {error}")
    finally:
        container.close()
        if created.pty_master is not None:
            os.close(created.pty_master)
        _reap_children()


def _wait(created, forwarder: Forwarder) -> int:
    """Wait for the init, copying the pty if there is one; return its exit status (128+N for signal N)."""
    import select

    pidfd = forwarder.pidfd
    try:
        if created.pty_master is not None:
            from ..terminal import Proxy

            proxy = Proxy(created.pty_master)
            forwarder.resize = proxy.resize
            with proxy:
                _pump(proxy, pidfd, select)
        else:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            while not poller.poll():
                pass
        _, status = os.waitpid(created.pid, 0)
    finally:
        if created.pty_master is not None:
            os.close(created.pty_master)
    _reap_children()
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _pump(proxy, pidfd: int, select) -> None:
    poller = select.poll()
    registered = set()
    exited = False
    while True:
        wanted = set(proxy.poll_fds())
        for fd in wanted - registered:
            poller.register(fd, select.POLLIN)
        for fd in registered - wanted:
            poller.unregister(fd)
        registered = wanted
        if not exited:
            poller.register(pidfd, select.POLLIN)
        events = poller.poll(100 if exited else -1)
        if not exited:
            poller.unregister(pidfd)
        if not events and exited:
            return
        for fd, _event in events:
            if fd == pidfd:
                exited = True
            elif not proxy.on_readable(fd):
                return


def _reap_children() -> None:
    """Reap orphans that were reparented to us as the subreaper."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
