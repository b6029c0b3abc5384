"""Waiting in the foreground for a container process: signal forwarding and the pty proxy.

Used by `run` and `exec`: the process is a child of userrunc (directly, or
as its subreaper), so its exit status comes from waitpid.
"""

from __future__ import annotations

import os

import _signal

# Signals that are not forwarded: SIGCHLD is ours, SIGWINCH resizes the pty,
# and SIGKILL and SIGSTOP cannot be caught.
_NOT_FORWARDED = {"SIGCHLD", "SIGCLD", "SIGKILL", "SIGSTOP", "SIGWINCH", "SIGPIPE", "SIGURG"}


class Forwarder:
    """Forwards the signals userrunc receives to the container's process.

    It is installed before the process exists, so no signal takes the
    default action and leaves a container or process behind. Signals that
    arrive before attach() are delivered by flush().
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


def wait_for(pid: int, pty_master: int | None, forwarder: Forwarder) -> int:
    """Wait for pid, copying the pty if there is one; return its exit status (128+N for signal N)."""
    import select

    pidfd = forwarder.pidfd
    try:
        if pty_master is not None:
            from .terminal import Proxy

            proxy = Proxy(pty_master)
            forwarder.resize = proxy.resize
            with proxy:
                _pump(proxy, pidfd, select)
        else:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            while not poller.poll():
                pass
        _, status = os.waitpid(pid, 0)
    finally:
        if pty_master is not None:
            os.close(pty_master)
    reap_children()
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _pump(proxy, pidfd: int, select) -> None:
    poller = select.poll()
    registered = set()
    exited = False
    while True:
        requested = set(proxy.poll_fds())
        for fd in requested - registered:
            poller.register(fd, select.POLLIN)
        for fd in registered - requested:
            poller.unregister(fd)
        registered = requested
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


def reap_children() -> None:
    """Reap orphans that were reparented to us as the subreaper."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
