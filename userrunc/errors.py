"""Exceptions that userrunc reports to users.

Every error a user can cause or meet is a subclass of UserruncError. The CLI
prints its message as one line on stderr and exits with `exit_code`. Other
exceptions are bugs, and get a traceback only with --debug. Callers test for
well-known states by class (ContainerNotFound, ContainerExists, InvalidState),
never by message text.
"""

from __future__ import annotations


class UserruncError(Exception):
    """Base class of the errors that the CLI reports as one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(UserruncError):
    """A command-line argument is invalid (container id, signal, flag value)."""


class InvalidConfig(UserruncError):
    """config.json is malformed, or a field has the wrong type or value.

    `path` is the JSON path of the field (for example `process.args[0]`).
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"invalid config.json: {path}: {problem}" if path else f"invalid config.json: {problem}")
        self.path = path
        self.problem = problem


class NotSupported(UserruncError):
    """The configuration requests a feature that userrunc does not implement yet."""


class ContainerNotFound(UserruncError):
    def __init__(self, container_id: str, root: str = "") -> None:
        # Root and each user have separate state roots, so the message names
        # the one that was searched.
        where = f" in {root}" if root else ""
        super().__init__(f"container {container_id!r} does not exist{where}")
        self.container_id = container_id


class ContainerExists(UserruncError):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container {container_id!r} already exists")
        self.container_id = container_id


class InvalidState(UserruncError):
    """The container is in a state that does not allow the operation."""

    def __init__(self, container_id: str, status: str, message: str) -> None:
        super().__init__(message)
        self.container_id = container_id
        self.status = status


class StateDirError(UserruncError):
    """The state directory cannot be found, created or trusted."""


class SystemCallError(UserruncError):
    """A system call failed; the message names the call, the value and errno."""

    def __init__(self, operation: str, errno: int, detail: str = "") -> None:
        import os

        reason = os.strerror(errno) if errno else "failed"
        text = f"{operation}: {reason}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)
        self.operation = operation
        self.errno = errno


class MountError(SystemCallError):
    """mount(2) or one of the new mount API calls failed."""

    def __init__(self, source: str, target: str, fstype: str, flags: int, data: str, errno: int, hint: str = "") -> None:
        from .linux.mountflags import describe_flags

        description = f"mount {source or 'none'} on {target}"
        if fstype:
            description += f" type {fstype}"
        flag_names = describe_flags(flags)
        extra = []
        if flag_names:
            extra.append(f"flags {flag_names}")
        if data:
            extra.append(f"data {data!r}")
        if extra:
            description += " (" + ", ".join(extra) + ")"
        super().__init__(description, errno, hint)
        self.source = source
        self.target = target
        self.fstype = fstype
        self.flags = flags
        self.data = data


class HookError(UserruncError):
    """A hook exited non-zero, timed out or could not be started."""


class InitError(UserruncError):
    """The container init failed; the message came over the init pipe."""


class CgroupError(UserruncError):
    """A cgroup could not be created, joined or removed."""


def rebuild(kind: str, message: str) -> UserruncError:
    """Recreate an error that the init sent over the init pipe by class name.

    Attributes other than the message (JSON path, errno) do not travel. A
    name that is not a UserruncError subclass becomes InitError.
    """
    cls = globals().get(kind)
    if not (isinstance(cls, type) and issubclass(cls, UserruncError)):
        cls = InitError
    error = cls.__new__(cls)
    UserruncError.__init__(error, message)
    return error
