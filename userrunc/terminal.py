"""Pseudoterminals for process.terminal.

The init opens /dev/ptmx of the container's own devpts instance, so the
pty belongs to the container. The master goes to --console-socket (one
SCM_RIGHTS message whose data is the pty's name, the protocol podman's
conmon speaks), or, for `run` in the foreground, to userrunc itself, which
copies between the master and its own terminal.
"""

from __future__ import annotations

import fcntl
import os
import struct

from .errors import SystemCallError, UserruncError

TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430
TIOCGPTPEER = 0x5441
TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413


def create_pty(console_size: dict | None) -> tuple[int, int, str]:
    """Open a new pty pair in the container's devpts; return (master, slave, slave path)."""
    try:
        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise UserruncError(
            f"cannot open /dev/ptmx for process.terminal: {error.strerror} (the config needs a devpts mount on /dev/pts)"
        ) from None
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
        # TIOCGPTPEER opens the slave from the master without a path lookup,
        # so a symlink planted in /dev/pts cannot substitute another file.
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        os.close(master)
        raise SystemCallError("set up the pseudoterminal", error.errno) from None
    if console_size:
        set_size(master, console_size.get("height", 0), console_size.get("width", 0))
    return master, slave, f"/dev/pts/{number}"


def set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def make_controlling(slave: int) -> None:
    """Make the pty slave the controlling terminal and the stdio of the init (a session leader)."""
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)


def send_master(socket_fd: int, master: int, name: str) -> None:
    """Send the master fd over the connected --console-socket."""
    import _socket

    sock = _socket.socket(fileno=socket_fd)
    try:
        sock.sendmsg([name.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", master))])
    except OSError as error:
        raise UserruncError(f"send the pty master to --console-socket: {error.strerror}") from None
    finally:
        sock.detach()


def connect_console_socket(path: str) -> int:
    """Connect to the --console-socket path; return the socket fd (not inherited across exec)."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except OSError as error:
        sock.close()
        raise UserruncError(f"cannot connect to --console-socket {path}: {error.strerror}") from None
    return sock.detach()


def window_size(fd: int) -> tuple[int, int] | None:
    try:
        rows, columns, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return rows, columns


class Proxy:
    """Copies between userrunc's stdin/stdout and a pty master, for `run` in the foreground."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.saved_mode = None
        self.stdin_open = True

    def __enter__(self) -> "Proxy":
        if os.isatty(0):
            import termios
            import tty

            self.saved_mode = termios.tcgetattr(0)
            # TCSANOW, not setraw's default TCSAFLUSH, which would throw away
            # what the user typed before the container started.
            tty.setraw(0, termios.TCSANOW)
            self.resize()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.saved_mode is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, self.saved_mode)

    def resize(self) -> None:
        size = window_size(0)
        if size:
            set_size(self.master, *size)

    def poll_fds(self) -> list[int]:
        return [self.master, 0] if self.stdin_open else [self.master]

    def on_readable(self, fd: int) -> bool:
        """Copy what fd has; return False when the master side is finished."""
        if fd == self.master:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return False
            if not data:
                return False
            _write_all(1, data)
            return True
        data = os.read(0, 65536)
        if not data:
            self.stdin_open = False
            # End-of-file on our stdin becomes the terminal's EOF character.
            _write_all(self.master, b"\x04")
            return True
        _write_all(self.master, data)
        return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            import select

            select.select([], [fd], [])
            continue
        view = view[written:]
