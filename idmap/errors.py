"""Exceptions raised by userrunc.idmap.

Every message is one line that names the cause and the fix, so a command line
tool can print ``str(error)`` as it is. Callers that need the details read the
attributes instead of parsing the text.
"""

from __future__ import annotations

# Package names for the error messages. Both packages install newuidmap,
# newgidmap and getsubids from shadow.
HELPER_PACKAGES = "the uidmap package (Debian, Ubuntu) or shadow-utils (Fedora)"


class IdMapError(Exception):
    """Base class of every error raised by userrunc.idmap."""

    def __init__(self, message: str) -> None:
        # A message from another program (a helper's stderr) may contain line
        # breaks, but the contract is one line per error.
        self.message = " ".join(message.split("\n")).strip()
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class HelperMissing(IdMapError):
    """newuidmap or newgidmap is not installed."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class HelperNotPrivileged(IdMapError):
    """newuidmap or newgidmap is installed but cannot gain the capability it needs."""

    def __init__(self, message: str, *, name: str = "", path: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.path = path
        self.reason = reason


class NoSubordinateRanges(IdMapError):
    """The user has no subordinate id range in /etc/subuid or /etc/subgid."""

    def __init__(self, message: str, *, kind: str = "", user: str | int = "", source: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.user = user
        # The file that was read, or "getsubids" when nsswitch.conf selects another source.
        self.source = source


class SubordinateLookupFailed(IdMapError):
    """The subordinate id ranges could not be read (unreadable file, getsubids failure)."""

    def __init__(self, message: str, *, kind: str = "", source: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.source = source


class InvalidMapping(IdMapError):
    """A mapping list that the kernel or the caller's grants would reject."""

    def __init__(self, message: str, *, kind: str = "", index: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        # Position of the offending mapping in the list, or None for an error
        # about the list as a whole.
        self.index = index


class RangesTooSmall(InvalidMapping):
    """The subordinate ranges hold fewer ids than a mapping requests."""


class HelperFailed(IdMapError):
    """newuidmap or newgidmap exited with an error."""

    def __init__(
        self, message: str, *, name: str = "", argv: list[str] | None = None, status: int = 0, stderr: str = ""
    ) -> None:
        super().__init__(message)
        self.name = name
        self.argv = argv if argv is not None else []
        # Exit status as os.waitstatus_to_exitcode returns it: negative for a signal.
        self.status = status
        self.stderr = stderr


class MapWriteFailed(IdMapError):
    """A direct write to /proc/PID/uid_map, gid_map or setgroups failed."""

    def __init__(self, message: str, *, path: str = "", errno: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class UserNamespacesUnavailable(IdMapError):
    """The kernel or its configuration does not let the caller create a user namespace."""

    def __init__(self, message: str, *, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno

    @classmethod
    def from_errno(cls, errno: int, *, proc: str = "/proc") -> UserNamespacesUnavailable:
        """Build the error for a failed unshare(CLONE_NEWUSER), with the cause found on this host."""
        from .userns import explain_userns_failure

        return cls(explain_userns_failure(errno, proc=proc), errno=errno)
