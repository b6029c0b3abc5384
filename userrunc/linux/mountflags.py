"""Mount flags and the OCI mount options that map to them.

The option names are those of the runtime-spec and mount(8): flags for
mount(2), propagation types, recursive attributes for mount_setattr(2)
(`rro`, `rnosuid`, ...), and userrunc-level extensions (`tmpcopyup`,
`idmap`). Every other option is filesystem data, passed on as it is.
"""

from __future__ import annotations

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 0x10000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

# Option name -> (clears the flag instead of setting it, flag).
FLAG_OPTIONS = {
    "defaults": (False, 0),
    "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY),
    "nosuid": (False, MS_NOSUID),
    "suid": (True, MS_NOSUID),
    "nodev": (False, MS_NODEV),
    "dev": (True, MS_NODEV),
    "noexec": (False, MS_NOEXEC),
    "exec": (True, MS_NOEXEC),
    "sync": (False, MS_SYNCHRONOUS),
    "async": (True, MS_SYNCHRONOUS),
    "dirsync": (False, MS_DIRSYNC),
    "remount": (False, MS_REMOUNT),
    "mand": (False, MS_MANDLOCK),
    "nomand": (True, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME),
    "atime": (True, MS_NOATIME),
    "nodiratime": (False, MS_NODIRATIME),
    "diratime": (True, MS_NODIRATIME),
    "relatime": (False, MS_RELATIME),
    "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME),
    "nostrictatime": (True, MS_STRICTATIME),
    "lazytime": (False, MS_LAZYTIME),
    "nolazytime": (True, MS_LAZYTIME),
    "iversion": (False, MS_I_VERSION),
    "noiversion": (True, MS_I_VERSION),
    "silent": (False, MS_SILENT),
    "loud": (True, MS_SILENT),
    "nosymfollow": (False, MS_NOSYMFOLLOW),
    "symfollow": (True, MS_NOSYMFOLLOW),
    "acl": (False, MS_POSIXACL),
    "noacl": (True, MS_POSIXACL),
    "bind": (False, MS_BIND),
    "rbind": (False, MS_BIND | MS_REC),
}

PROPAGATION_OPTIONS = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}

# Recursive options, applied with mount_setattr(2) and AT_RECURSIVE:
# name -> (clears the attribute instead of setting it, attribute).
RECURSIVE_OPTIONS = {
    "rro": (False, MOUNT_ATTR_RDONLY),
    "rrw": (True, MOUNT_ATTR_RDONLY),
    "rnosuid": (False, MOUNT_ATTR_NOSUID),
    "rsuid": (True, MOUNT_ATTR_NOSUID),
    "rnodev": (False, MOUNT_ATTR_NODEV),
    "rdev": (True, MOUNT_ATTR_NODEV),
    "rnoexec": (False, MOUNT_ATTR_NOEXEC),
    "rexec": (True, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
    # The atime modes are one field: setting one replaces the others.
    "rrelatime": (False, MOUNT_ATTR_RELATIME),
    "rnorelatime": (True, MOUNT_ATTR_RELATIME),
    "rnoatime": (False, MOUNT_ATTR_NOATIME),
    "ratime": (True, MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, MOUNT_ATTR_STRICTATIME),
}
RECURSIVE_ATIME_OPTIONS = frozenset({"rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime", "rnostrictatime"})

EXTENSION_OPTIONS = frozenset({"tmpcopyup", "idmap", "ridmap"})

_FLAG_NAMES = (
    (MS_RDONLY, "MS_RDONLY"),
    (MS_NOSUID, "MS_NOSUID"),
    (MS_NODEV, "MS_NODEV"),
    (MS_NOEXEC, "MS_NOEXEC"),
    (MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
    (MS_REMOUNT, "MS_REMOUNT"),
    (MS_MANDLOCK, "MS_MANDLOCK"),
    (MS_DIRSYNC, "MS_DIRSYNC"),
    (MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"),
    (MS_NOATIME, "MS_NOATIME"),
    (MS_NODIRATIME, "MS_NODIRATIME"),
    (MS_BIND, "MS_BIND"),
    (MS_MOVE, "MS_MOVE"),
    (MS_REC, "MS_REC"),
    (MS_SILENT, "MS_SILENT"),
    (MS_POSIXACL, "MS_POSIXACL"),
    (MS_UNBINDABLE, "MS_UNBINDABLE"),
    (MS_PRIVATE, "MS_PRIVATE"),
    (MS_SLAVE, "MS_SLAVE"),
    (MS_SHARED, "MS_SHARED"),
    (MS_RELATIME, "MS_RELATIME"),
    (MS_I_VERSION, "MS_I_VERSION"),
    (MS_STRICTATIME, "MS_STRICTATIME"),
    (MS_LAZYTIME, "MS_LAZYTIME"),
)


def describe_flags(flags: int) -> str:
    """Return flags as names joined by '|', for error messages."""
    return "|".join(name for bit, name in _FLAG_NAMES if flags & bit)


class MountOptions:
    """An OCI mount's options sorted by how they are applied."""

    __slots__ = ("flags", "cleared", "propagation", "attr_set", "attr_clear", "recursive", "data", "extensions")

    def __init__(self) -> None:
        self.flags = 0
        self.cleared = 0
        self.propagation: list[int] = []
        self.attr_set = 0
        self.attr_clear = 0
        # The recursive option names as written, for error messages.
        self.recursive: list[str] = []
        self.data: list[str] = []
        self.extensions: set[str] = set()

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & MS_BIND)

    def recursive_names(self) -> str:
        return ",".join(self.recursive)


def parse_options(options) -> MountOptions:
    """Sort OCI mount options into flags, propagation, recursive attributes and data."""
    parsed = MountOptions()
    for option in options or ():
        if option in FLAG_OPTIONS:
            clears, flag = FLAG_OPTIONS[option]
            if clears:
                parsed.flags &= ~flag
                parsed.cleared |= flag
            else:
                parsed.flags |= flag
                parsed.cleared &= ~flag
        elif option in PROPAGATION_OPTIONS:
            parsed.propagation.append(PROPAGATION_OPTIONS[option])
        elif option in RECURSIVE_OPTIONS:
            parsed.recursive.append(option)
            clears, attribute = RECURSIVE_OPTIONS[option]
            if option in RECURSIVE_ATIME_OPTIONS:
                # Changing the atime mode needs the whole field in attr_clear.
                parsed.attr_clear |= MOUNT_ATTR__ATIME
                if not clears:
                    parsed.attr_set = (parsed.attr_set & ~MOUNT_ATTR__ATIME) | attribute
            elif clears:
                parsed.attr_clear |= attribute
                parsed.attr_set &= ~attribute
            else:
                parsed.attr_set |= attribute
                parsed.attr_clear &= ~attribute
        elif option in EXTENSION_OPTIONS:
            parsed.extensions.add(option)
        else:
            parsed.data.append(option)
    return parsed
