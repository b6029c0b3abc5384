"""The init pipe: the messages between `create` (the parent) and the container init.

The pipe is a SOCK_SEQPACKET socketpair, so every message arrives whole and
a peer that exits shows up as end-of-file. A message is one JSON object
with a "type" field, optionally carrying file descriptors (SCM_RIGHTS).

The chain and the order of messages:

    parent                                child (forked by the parent)
    ------                                -----
    CGROUP_READY ->                           sent right after fork when the child gets
                                              a cgroup; the child goes on meanwhile and
                                              waits for it before the cgroup namespace
                          <- USERNS_CREATED   after unshare(CLONE_NEWUSER)
    write uid_map/gid_map
    USERNS_MAPPED [fds] ->                    setresuid(0), other namespaces; the fds are
                                              trees the parent idmapped (real root only)
                                              fork the init when a new PID or
                                              time namespace needs one:
                          <- INIT_PID {pid}   (host PID of the init); the child exits
                                          init: mounts, devices
                          <- RUN_HOOKS        only when prestart/createRuntime hooks exist
    run prestart, createRuntime hooks
    HOOKS_DONE {state} ->                     createContainer hooks, pivot_root, ...
                          <- PTY_MASTER [fd]  foreground run with process.terminal only
                          <- SECCOMP_FD [fd]  a filter with SCMP_ACT_NOTIFY was loaded
    send it to linux.seccomp.listenerPath
                          <- READY            then the init blocks opening exec.fifo

At any point the child may send ERROR {kind, message} and exit, or LOG
{level, message, fields} for the parent to write. `start` then opens
exec.fifo for reading; the init writes one byte and execs the process.
"""

from __future__ import annotations

import os
import struct

import _socket

from .. import jsonutil
from ..errors import InitError, rebuild

CGROUP_READY = "cgroup-ready"
USERNS_CREATED = "userns-created"
USERNS_MAPPED = "userns-mapped"
INIT_PID = "init-pid"
RUN_HOOKS = "run-hooks"
HOOKS_DONE = "hooks-done"
PTY_MASTER = "pty-master"
SECCOMP_FD = "seccomp-fd"
READY = "ready"
ERROR = "error"
LOG = "log"

MAX_MESSAGE = 1 << 20
MAX_FDS = 64


class InitPipe:
    """One end of the init pipe."""

    __slots__ = ("sock", "received")

    def __init__(self, sock) -> None:
        self.sock = sock
        # Types of messages that arrived early, while another one was awaited.
        self.received: set[str] = set()

    @classmethod
    def pair(cls) -> tuple["InitPipe", "InitPipe"]:
        """Return (parent end, child end); neither is inherited across exec."""
        parent, child = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        return cls(parent), cls(child)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message_type: str, fds=(), **fields) -> None:
        fields["type"] = message_type
        data = jsonutil.dumps(fields).encode()
        if fds:
            self.sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
        else:
            self.sock.send(data)

    def receive(self) -> tuple[dict | None, list[int]]:
        """Return (message, fds), or (None, []) when the peer has closed its end."""
        fd_space = _socket.CMSG_SPACE(MAX_FDS * 4)
        data, ancillary, _flags, _address = self.sock.recvmsg(MAX_MESSAGE, fd_space)
        fds = []
        for level, kind, payload in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                count = len(payload) // 4
                fds.extend(struct.unpack(f"{count}i", payload[: count * 4]))
        if not data:
            return None, fds
        return jsonutil.loads(data), fds

    def expect(self, message_type: str, early: tuple[str, ...] = (), keep_fds: bool = False):
        """Wait for one message of the given type; raise on ERROR or end-of-file.

        Messages whose type is in `early` may come first: they are recorded
        in `received` and skipped. With keep_fds, return (message, fds);
        otherwise received fds are closed and the message is returned.
        """
        if message_type in self.received:
            self.received.discard(message_type)
            return ({"type": message_type}, []) if keep_fds else {"type": message_type}
        while True:
            message, fds = self.receive()
            if not keep_fds or message is None or message["type"] != message_type:
                for fd in fds:
                    os.close(fd)
                fds = []
            if message is None:
                raise InitError(f"the parent closed the init pipe while the init waited for {message_type!r}")
            if message["type"] == ERROR:
                raise rebuild(message.get("kind", ""), message.get("message", "unknown error"))
            if message["type"] in early:
                self.received.add(message["type"])
                continue
            if message["type"] != message_type:
                raise InitError(f"unexpected init pipe message {message['type']!r} (expected {message_type!r})")
            return (message, fds) if keep_fds else message

    def send_error(self, error: BaseException) -> None:
        kind = type(error).__name__
        self.send(ERROR, kind=kind, message=str(error) or kind)

    def send_log(self, level: int, message: str, fields: dict) -> None:
        self.send(LOG, level=level, message=message, fields=fields)

    def shutdown_write(self) -> None:
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
