"""Container state on disk: the state root, one locked directory per container.

Layout: <root>/<id>/ (mode 0700) contains state.json and, between create
and start, exec.fifo. The root is --root, else /run/userrunc for real root, else
$XDG_RUNTIME_DIR/userrunc.

Every command on a container holds an exclusive flock on the container's
directory while it works, so commands on one id are serialised and commands
on different ids run in parallel. A lock taken on a directory that delete has
removed meanwhile is detected by comparing inode numbers.
"""

from __future__ import annotations

import fcntl
import os

from . import jsonutil, log
from .errors import ContainerExists, ContainerNotFound, InvalidArgument, StateDirError

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
MAX_ID_LENGTH = 255  # NAME_MAX: the id is a directory name.

_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-")


def validate_id(container_id: str) -> str:
    """Return the id if it is valid, else raise InvalidArgument naming it."""
    if (
        not container_id
        or container_id in (".", "..")
        or len(container_id) > MAX_ID_LENGTH
        or not _ID_CHARACTERS.issuperset(container_id)
    ):
        raise InvalidArgument(
            f"invalid container id {container_id!r}: use 1 to {MAX_ID_LENGTH} characters from "
            "A-Z a-z 0-9 _ + . - (and not '.' or '..')"
        )
    return container_id


def in_initial_user_namespace() -> bool:
    """Return True when this process is in the host's (initial) user namespace."""
    try:
        with open("/proc/self/uid_map", "rb") as handle:
            fields = handle.read().split()
    except OSError:
        return True
    return fields == [b"0", b"0", b"4294967295"]


def is_real_root() -> bool:
    return os.geteuid() == 0 and in_initial_user_namespace()


def is_rootless(global_options: dict) -> bool:
    """Return whether to treat the caller as unprivileged, from --rootless."""
    choice = global_options.get("rootless") or "auto"
    if choice == "true":
        return True
    if choice == "false":
        return False
    return not is_real_root()


def _owned_directory(path: str, uid: int) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_uid == uid and (info.st_mode & 0o170000) == 0o040000


def state_root(global_options: dict) -> str:
    """Return the state root for this caller (the directory may not exist yet)."""
    explicit = global_options.get("root")
    if explicit:
        return os.path.abspath(explicit)
    if is_real_root():
        return "/run/userrunc"
    uid = os.geteuid()
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and _owned_directory(runtime_dir, uid):
        return os.path.join(runtime_dir, "userrunc")
    fallback = f"/run/user/{uid}"
    if _owned_directory(fallback, uid):
        if runtime_dir:
            log.debug(
                f"XDG_RUNTIME_DIR {runtime_dir} is not a directory owned by uid {uid}; using {fallback}",
                runtime_dir=runtime_dir,
            )
        return os.path.join(fallback, "userrunc")
    if runtime_dir:
        problem = f"XDG_RUNTIME_DIR={runtime_dir} is not a directory owned by uid {uid} (as after su or sudo)"
    else:
        problem = "XDG_RUNTIME_DIR is not set"
    if os.path.exists("/run/systemd/system"):
        session = f"log in through a session that creates {fallback} (or run 'loginctl enable-linger'), "
    else:
        session = ""
    raise StateDirError(
        f"cannot choose a state directory: {problem}, and {fallback} does not exist or is not yours; "
        f"{session}set XDG_RUNTIME_DIR to a directory you own, or pass --root DIR"
    )


def _open_root(root: str, create: bool) -> int:
    if create:
        try:
            os.makedirs(root, mode=0o700, exist_ok=True)
        except OSError as error:
            raise StateDirError(f"cannot create state root {root}: {error.strerror}; pass --root DIR") from None
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise StateDirError(f"cannot open state root {root}: {error.strerror}") from None


class ContainerDir:
    """A container's state directory, opened and exclusively locked."""

    __slots__ = ("container_id", "root", "path", "fd", "root_fd")

    def __init__(self, container_id: str, root: str, fd: int, root_fd: int) -> None:
        self.container_id = container_id
        self.root = root
        self.path = os.path.join(root, container_id)
        self.fd = fd
        self.root_fd = root_fd

    @classmethod
    def create(cls, root: str, container_id: str) -> "ContainerDir":
        """Make and lock the directory of a new container; raise ContainerExists if it is there."""
        validate_id(container_id)
        root_fd = _open_root(root, create=True)
        try:
            os.mkdir(container_id, 0o700, dir_fd=root_fd)
        except FileExistsError:
            os.close(root_fd)
            raise ContainerExists(container_id) from None
        except OSError as error:
            os.close(root_fd)
            raise StateDirError(f"cannot create state directory {root}/{container_id}: {error.strerror}") from None
        fd = os.open(container_id, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root_fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return cls(container_id, root, fd, root_fd)

    @classmethod
    def open(cls, root: str, container_id: str) -> "ContainerDir":
        """Open and lock an existing container's directory; raise ContainerNotFound."""
        validate_id(container_id)
        try:
            root_fd = _open_root(root, create=False)
        except FileNotFoundError:
            raise ContainerNotFound(container_id, root) from None
        try:
            fd = os.open(container_id, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root_fd)
        except (FileNotFoundError, NotADirectoryError):
            os.close(root_fd)
            raise ContainerNotFound(container_id, root) from None
        except OSError as error:
            os.close(root_fd)
            if error.errno == 40:  # ELOOP: the name is a symlink, which userrunc never makes.
                raise ContainerNotFound(container_id, root) from None
            raise StateDirError(f"cannot open state directory {root}/{container_id}: {error.strerror}") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        handle = cls(container_id, root, fd, root_fd)
        if not handle._still_linked():
            handle.close()
            raise ContainerNotFound(container_id, root)
        return handle

    def _still_linked(self) -> bool:
        try:
            named = os.stat(self.container_id, dir_fd=self.root_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        opened = os.fstat(self.fd)
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def read_state(self) -> dict:
        """Return state.json; raise ContainerNotFound if a create never finished."""
        try:
            fd = os.open(STATE_FILE, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            raise ContainerNotFound(self.container_id, self.root) from None
        try:
            data = b""
            while chunk := os.read(fd, 65536):
                data += chunk
        finally:
            os.close(fd)
        try:
            return jsonutil.loads(data)
        except ValueError as error:
            raise StateDirError(f"corrupt state file {self.path}/{STATE_FILE}: {error}; delete it with --force") from None

    def has_state(self) -> bool:
        try:
            os.stat(STATE_FILE, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def write_state(self, state: dict) -> None:
        """Replace state.json atomically: write a temporary file, then rename it."""
        temporary = "." + STATE_FILE + ".tmp"
        data = jsonutil.dumps(state).encode()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600, dir_fd=self.fd)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(temporary, STATE_FILE, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def fifo_exists(self) -> bool:
        try:
            os.stat(EXEC_FIFO, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def remove(self) -> None:
        """Remove the directory and everything in it, keeping the lock until the end."""
        for name in os.listdir(self.fd):
            try:
                os.unlink(name, dir_fd=self.fd)
            except IsADirectoryError:
                os.rmdir(name, dir_fd=self.fd)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.container_id, dir_fd=self.root_fd)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1


def list_ids(root: str) -> list[str]:
    """Return the ids of the containers under root, sorted."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    except OSError as error:
        raise StateDirError(f"cannot read state root {root}: {error.strerror}") from None
    ids = []
    for name in names:
        try:
            validate_id(name)
        except InvalidArgument:
            continue
        ids.append(name)
    return sorted(ids)
