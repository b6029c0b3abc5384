"""Seccomp: validating `linux.seccomp` and loading it as a filter through libseccomp.

The binding is a thin ctypes layer over libseccomp.so.2. The library is
loaded on first use, so this module imports and `validate()` works on a
machine without libseccomp. There `install()` and `library_version()` raise
NotSupported, and `features()` reports `enabled: false`.

libseccomp reports failures as negative errno values in the return code, not
in `errno`, so every call is checked with `_check`.
"""

from __future__ import annotations

import ctypes
import errno
import os

from .. import jsonutil, log
from ..config import show_value, type_name
from ..errors import InvalidConfig, NotSupported, SystemCallError, UserruncError

# Action values from seccomp.h. SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry a
# 16-bit value (the errno, or the value a tracer reads) in their low bits.
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
ACTIONS_WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
MAX_ERRNO_RET = 0xFFFF

# The libseccomp API level (seccomp_api_get(3)) that each newer action needs.
_ACTION_API_LEVEL = {"SCMP_ACT_KILL_PROCESS": 3, "SCMP_ACT_LOG": 3, "SCMP_ACT_NOTIFY": 5}

OPERATORS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}

# The architectures that runtime-spec 1.2 lists (as of libseccomp 2.5.0),
# then the ones that libseccomp 2.6.0 added.
SPEC_ARCHITECTURES = (
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
)
ARCHITECTURES = SPEC_ARCHITECTURES + ("SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB")
_ARCH_PREFIX = "SCMP_ARCH_"

# Filter attributes (enum scmp_filter_attr in seccomp.h).
_ATTR_CTL_NNP = 3
_ATTR_CTL_TSYNC = 4
_ATTR_CTL_LOG = 6
_ATTR_CTL_SSB = 7
_ATTR_CTL_OPTIMIZE = 8
_ATTR_API_SYSRAWRC = 9
_ATTR_CTL_WAITKILL = 10

# Each seccomp(2) flag of the spec, with the filter attribute that sets it
# and the first libseccomp version that has that attribute.
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": (_ATTR_CTL_TSYNC, "SCMP_FLTATR_CTL_TSYNC", (2, 2, 0)),
    "SECCOMP_FILTER_FLAG_LOG": (_ATTR_CTL_LOG, "SCMP_FLTATR_CTL_LOG", (2, 4, 0)),
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": (_ATTR_CTL_SSB, "SCMP_FLTATR_CTL_SSB", (2, 5, 0)),
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": (_ATTR_CTL_WAITKILL, "SCMP_FLTATR_CTL_WAITKILL", (2, 6, 0)),
}

MAX_SYSCALL_ARGUMENTS = 6
MAX_UINT64 = 0xFFFFFFFFFFFFFFFF
# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107
# __NR_SCMP_ERROR: the syscall name is unknown to libseccomp.
_NR_SCMP_ERROR = -1
# NOTE: the binary tree threshold is a judgment call, not a measurement.
_BINARY_TREE_MIN_SYSCALLS = 32


class _ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp: one comparison of a syscall argument."""

    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


_lib = None
_lib_error: str | None = None


def _library():
    """Load libseccomp.so.2 once and declare the functions used. Raise NotSupported if it is missing."""
    global _lib, _lib_error
    if _lib is not None:
        return _lib
    if _lib_error is not None:
        raise NotSupported(_lib_error)
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as error:
        _lib_error = f"linux.seccomp needs libseccomp.so.2, which cannot be loaded ({error}); install libseccomp2"
        raise NotSupported(_lib_error) from None

    ctx = ctypes.c_void_p
    lib.seccomp_version.argtypes = ()
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    lib.seccomp_api_get.argtypes = ()
    lib.seccomp_api_get.restype = ctypes.c_uint
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    lib.seccomp_init.restype = ctx
    lib.seccomp_release.argtypes = (ctx,)
    lib.seccomp_release.restype = None
    lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = (ctx, ctypes.c_uint32)
    lib.seccomp_arch_add.restype = ctypes.c_int
    lib.seccomp_attr_set.argtypes = (ctx, ctypes.c_int, ctypes.c_uint32)
    lib.seccomp_attr_set.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = (ctx, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp))
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_load.argtypes = (ctx,)
    lib.seccomp_load.restype = ctypes.c_int
    lib.seccomp_notify_fd.argtypes = (ctx,)
    lib.seccomp_notify_fd.restype = ctypes.c_int
    _lib = lib
    return lib


def load_library() -> None:
    """Load libseccomp now, while its file is still visible; raise NotSupported if it is missing.

    The container init calls this before pivot_root, after which the host's
    /usr/lib is out of sight and dlopen would fail.
    """
    _library()


def _version_tuple() -> tuple[int, int, int]:
    version = _library().seccomp_version().contents
    return (version.major, version.minor, version.micro)


def library_version() -> str:
    """Return the version of the loaded libseccomp, such as "2.5.4". Raise NotSupported without the library."""
    return ".".join(str(part) for part in _version_tuple())


def _api_level() -> int:
    return _library().seccomp_api_get()


def _resolve_arch(name: str) -> int:
    """Return libseccomp's token for an SCMP_ARCH_* name, or 0 if the library does not know it."""
    if not name.startswith(_ARCH_PREFIX) or len(name) == len(_ARCH_PREFIX):
        return 0
    return _library().seccomp_arch_resolve_name(name[len(_ARCH_PREFIX) :].lower().encode("ascii", "replace"))


# --- validation ---------------------------------------------------------------


def _wrong_type(value, path: str, description: str) -> InvalidConfig:
    return InvalidConfig(path, f"expected {description}, got {type_name(value)} {show_value(value)}")


def _check_object(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise _wrong_type(value, path, "an object")
    return value


def _check_string(value, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(value, path, "a string")
    return value


def _check_string_array(value, path: str) -> list:
    if not isinstance(value, list):
        raise _wrong_type(value, path, "an array of strings")
    for index, item in enumerate(value):
        _check_string(item, f"{path}[{index}]")
    return value


def _check_integer(value, path: str, high: int, description: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong_type(value, path, description)
    if value < 0 or value > high:
        raise InvalidConfig(path, f"expected {description}, got {value}")
    return value


def _require(container: dict, key: str, path: str):
    # A null property counts as missing, as Go runtimes read it.
    value = container.get(key)
    if value is None:
        raise InvalidConfig(f"{path}.{key}", "missing required property")
    return value


def _check_action(value, path: str) -> str:
    _check_string(value, path)
    if value not in ACTIONS:
        raise InvalidConfig(path, f"invalid action {show_value(value)}; valid actions: {', '.join(ACTIONS)}")
    return value


def _check_errno_ret(value, action: str, path: str) -> None:
    _check_integer(value, path, MAX_ERRNO_RET, f"an integer from 0 to {MAX_ERRNO_RET}")
    if action not in ACTIONS_WITH_ERRNO:
        raise InvalidConfig(
            path,
            f"action {action} takes no errno value; remove the property or use {' or '.join(ACTIONS_WITH_ERRNO)}",
        )


def _check_architecture(value, path: str) -> None:
    _check_string(value, path)
    if value in ARCHITECTURES:
        return
    if value.startswith(_ARCH_PREFIX) and _lib_error is None:
        # A libseccomp newer than this list may know more architectures.
        try:
            if _resolve_arch(value):
                return
        except NotSupported:
            pass
    raise InvalidConfig(path, f"invalid architecture {show_value(value)}; valid architectures: {', '.join(ARCHITECTURES)}")


def _check_arg(arg, path: str) -> None:
    _check_object(arg, path)
    _check_integer(
        _require(arg, "index", path),
        f"{path}.index",
        MAX_SYSCALL_ARGUMENTS - 1,
        f"an integer from 0 to {MAX_SYSCALL_ARGUMENTS - 1} (a syscall has {MAX_SYSCALL_ARGUMENTS} arguments)",
    )
    _check_integer(_require(arg, "value", path), f"{path}.value", MAX_UINT64, "an integer from 0 to 2^64-1")
    value_two = arg.get("valueTwo")
    if value_two is not None:
        _check_integer(value_two, f"{path}.valueTwo", MAX_UINT64, "an integer from 0 to 2^64-1")
    op = _check_string(_require(arg, "op", path), f"{path}.op")
    if op not in OPERATORS:
        raise InvalidConfig(f"{path}.op", f"invalid operator {show_value(op)}; valid operators: {', '.join(OPERATORS)}")


def _check_syscall(entry, path: str) -> str:
    """Check one syscalls[] entry and return its action."""
    _check_object(entry, path)
    names = _require(entry, "names", path)
    _check_string_array(names, f"{path}.names")
    if not names:
        raise InvalidConfig(f"{path}.names", "expected at least one syscall name, got an empty array")
    for index, name in enumerate(names):
        if not name:
            raise InvalidConfig(f"{path}.names[{index}]", "expected a syscall name, got an empty string")
    action = _check_action(_require(entry, "action", path), f"{path}.action")
    errno_ret = entry.get("errnoRet")
    if errno_ret is not None:
        _check_errno_ret(errno_ret, action, f"{path}.errnoRet")
    args = entry.get("args")
    if args is not None:
        if not isinstance(args, list):
            raise _wrong_type(args, f"{path}.args", "an array")
        for index, arg in enumerate(args):
            _check_arg(arg, f"{path}.args[{index}]")
    return action


def validate(seccomp, path: str = "linux.seccomp") -> None:
    """Check the types and values of a `linux.seccomp` object without loading a filter.

    Raise InvalidConfig naming the JSON path of the first bad property.
    Unknown properties are ignored, as the runtime spec requires.
    """
    _check_object(seccomp, path)
    default_action = _check_action(_require(seccomp, "defaultAction", path), f"{path}.defaultAction")
    default_errno = seccomp.get("defaultErrnoRet")
    if default_errno is not None:
        _check_errno_ret(default_errno, default_action, f"{path}.defaultErrnoRet")

    architectures = seccomp.get("architectures")
    if architectures is not None:
        _check_string_array(architectures, f"{path}.architectures")
        for index, name in enumerate(architectures):
            _check_architecture(name, f"{path}.architectures[{index}]")

    flags = seccomp.get("flags")
    if flags is not None:
        _check_string_array(flags, f"{path}.flags")
        for index, flag in enumerate(flags):
            if flag not in FLAGS:
                raise InvalidConfig(f"{path}.flags[{index}]", f"invalid flag {show_value(flag)}; valid flags: {', '.join(FLAGS)}")

    # Go runtimes write an unset string as "", so "" means no listener.
    listener_path = seccomp.get("listenerPath")
    if listener_path is not None:
        _check_string(listener_path, f"{path}.listenerPath")
        size = len(os.fsencode(listener_path))
        if size > MAX_SOCKET_PATH:
            raise InvalidConfig(
                f"{path}.listenerPath",
                f"a UNIX socket path has at most {MAX_SOCKET_PATH} bytes, got {size} bytes in {show_value(listener_path)}",
            )
    metadata = seccomp.get("listenerMetadata")
    if metadata is not None:
        _check_string(metadata, f"{path}.listenerMetadata")
        if metadata and not listener_path:
            raise InvalidConfig(
                f"{path}.listenerMetadata",
                "is set without listenerPath, which the spec forbids; set listenerPath or remove listenerMetadata",
            )

    notify_path = f"{path}.defaultAction" if default_action == "SCMP_ACT_NOTIFY" else None
    syscalls = seccomp.get("syscalls")
    if syscalls is not None:
        if not isinstance(syscalls, list):
            raise _wrong_type(syscalls, f"{path}.syscalls", "an array")
        for index, entry in enumerate(syscalls):
            action = _check_syscall(entry, f"{path}.syscalls[{index}]")
            if action == "SCMP_ACT_NOTIFY" and notify_path is None:
                notify_path = f"{path}.syscalls[{index}].action"
    # The notify fd can only reach a seccomp agent through listenerPath.
    # A listenerPath without SCMP_ACT_NOTIFY is not an error, because the spec says that it is then ignored.
    if notify_path is not None and not listener_path:
        raise InvalidConfig(
            notify_path,
            f"SCMP_ACT_NOTIFY needs {path}.listenerPath, the UNIX socket of the seccomp agent that receives the notify fd; "
            "set listenerPath or use another action",
        )


# Syscalls that the container init makes between loading a filter and handing
# the notify fd to the parent: sendmsg carries the fd, sendto carries debug
# log records, and the others come from Python's allocator and libseccomp's
# seccomp_release(). Under SCMP_ACT_NOTIFY each would wait for an agent that
# has no fd yet, so the init would hang.
CONTAINER_HANDOFF_SYSCALLS = ("sendmsg", "sendto", "brk", "mmap", "munmap", "mremap", "madvise")


def check_container_notify(seccomp: dict, path: str = "linux.seccomp") -> None:
    """Reject SCMP_ACT_NOTIFY where it would stop a container init from sending the notify fd.

    install() itself accepts these filters, for callers that fetch the fd
    another way. Call validate() first.
    """
    if seccomp["defaultAction"] == "SCMP_ACT_NOTIFY":
        raise InvalidConfig(
            f"{path}.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action of a container, because the init could not send "
            "the notify fd to the seccomp agent; list the syscalls to notify in syscalls[] instead",
        )
    for index, entry in enumerate(seccomp.get("syscalls") or ()):
        if entry["action"] != "SCMP_ACT_NOTIFY":
            continue
        for name_index, name in enumerate(entry["names"]):
            if name in CONTAINER_HANDOFF_SYSCALLS:
                raise InvalidConfig(
                    f"{path}.syscalls[{index}].names[{name_index}]",
                    f"SCMP_ACT_NOTIFY cannot apply to {name}, which the container init needs to send the notify fd "
                    f"to the seccomp agent ({', '.join(CONTAINER_HANDOFF_SYSCALLS)} are reserved)",
                )


# --- building and loading the filter ------------------------------------------


def _action_value(action: str, errno_ret) -> int:
    value = ACTIONS[action]
    if action in ACTIONS_WITH_ERRNO:
        value |= (errno.EPERM if errno_ret is None else errno_ret) & MAX_ERRNO_RET
    return value


def _check(rc: int, operation: str, detail: str) -> None:
    if rc < 0:
        raise SystemCallError(operation, -rc, detail)


def _check_api_level(seccomp: dict, api_level: int) -> None:
    actions = [("defaultAction", seccomp["defaultAction"])]
    for index, entry in enumerate(seccomp.get("syscalls") or ()):
        actions.append((f"syscalls[{index}].action", entry["action"]))
    for where, action in actions:
        needed = _ACTION_API_LEVEL.get(action, 1)
        if api_level < needed:
            raise NotSupported(
                f"linux.seccomp.{where}: {action} needs libseccomp API level {needed}, but libseccomp "
                f"{library_version()} on this kernel has level {api_level}"
            )


def _set_flag(lib, ctx, flag: str, index: int) -> None:
    attribute, attribute_name, since = FLAGS[flag]
    rc = lib.seccomp_attr_set(ctx, attribute, 1)
    if rc == 0:
        return
    version = _version_tuple()
    if version < since:
        raise NotSupported(
            f"linux.seccomp.flags[{index}]: {flag} needs libseccomp {'.'.join(map(str, since))} or later "
            f"({attribute_name}), but the loaded libseccomp is {library_version()}"
        )
    raise NotSupported(
        f"linux.seccomp.flags[{index}]: {flag} is not supported by libseccomp {library_version()} "
        f"with this kernel (setting {attribute_name} failed: {os.strerror(-rc)})"
    )


def _add_architectures(lib, ctx, architectures) -> None:
    for index, name in enumerate(architectures or ()):
        token = _resolve_arch(name)
        if not token:
            raise NotSupported(f"linux.seccomp.architectures[{index}]: libseccomp {library_version()} does not support {name}")
        rc = lib.seccomp_arch_add(ctx, token)
        # The native architecture is in every new filter, and a list may repeat a name.
        if rc == -errno.EEXIST:
            continue
        if rc == -errno.EDOM:
            raise NotSupported(
                f"linux.seccomp.architectures[{index}]: {name} has another byte order than this machine's "
                f"architecture ({os.uname().machine}), and libseccomp cannot mix byte orders in one filter"
            )
        _check(rc, "seccomp_arch_add", f"linux.seccomp.architectures[{index}] {name}")


def _conditions(args) -> list:
    return [
        _ArgCmp(arg["index"], OPERATORS[arg["op"]], arg["value"], arg.get("valueTwo") or 0)
        for arg in args or ()
    ]


def _add_rules(lib, ctx, entry: dict, index: int, default_value: int, resolved: dict) -> tuple[int, bool]:
    """Add the rules of one syscalls[] entry. Return the number of rules added and whether any of them notifies."""
    action = entry["action"]
    value = _action_value(action, entry.get("errnoRet"))
    where = f"linux.seccomp.syscalls[{index}]"
    if value == default_value:
        # libseccomp rejects a rule whose action is the default action with EACCES, and the rule would change nothing.
        log.debug("seccomp rule skipped: its action is the default action", rule=where, action=action)
        return 0, False

    conditions = _conditions(entry.get("args"))
    indexes = [condition.arg for condition in conditions]
    if len(set(indexes)) == len(indexes):
        groups = [conditions]
    else:
        # libseccomp rejects two comparisons of one argument in one rule (EINVAL), so each condition becomes its own rule and any single match triggers the action.
        groups = [[condition] for condition in conditions]

    added = 0
    for name in entry["names"]:
        number = resolved.get(name)
        if number is None:
            number = lib.seccomp_syscall_resolve_name(name.encode("utf-8", "surrogateescape"))
            resolved[name] = number
        if number == _NR_SCMP_ERROR:
            log.debug("unknown seccomp syscall ignored", syscall=name, rule=where)
            continue
        for group in groups:
            array = (_ArgCmp * len(group))(*group) if group else None
            rc = lib.seccomp_rule_add_array(ctx, value, number, len(group), array)
            _check(rc, "seccomp_rule_add", f"syscall {name}, action {action}, {where}")
            added += 1
    return added, added > 0 and action == "SCMP_ACT_NOTIFY"


def install(seccomp) -> int | None:
    """Build the filter of a `linux.seccomp` object and load it into the calling thread.

    With SECCOMP_FILTER_FLAG_TSYNC, the filter applies to every thread of the
    process. Return the notify fd when the default action or a loaded rule is
    SCMP_ACT_NOTIFY, else None. The caller owns the fd and passes it on with
    send_listener_fd(). Raise InvalidConfig for a bad object, NotSupported
    for what this libseccomp or kernel lacks, SystemCallError when a
    libseccomp call fails.

    NOTE: this function accepts SCMP_ACT_NOTIFY as the default action and on
    write or sendmsg. After the load, such syscalls of the caller wait for an
    agent, which has no fd yet unless the parent takes it with pidfd_getfd(2).
    The container init calls check_container_notify() first, which rejects both.
    """
    validate(seccomp)
    lib = _library()
    _check_api_level(seccomp, _api_level())

    default_action = seccomp["defaultAction"]
    default_value = _action_value(default_action, seccomp.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default_value)
    if not ctx:
        raise UserruncError(f"seccomp_init failed: libseccomp {library_version()} rejected the default action {default_action}")
    try:
        return _build_and_load(lib, ctx, seccomp, default_value)
    finally:
        lib.seccomp_release(ctx)


def _build_and_load(lib, ctx, seccomp: dict, default_value: int) -> int | None:
    # no_new_privs belongs to process.noNewPrivileges, and libseccomp sets it on load unless SCMP_FLTATR_CTL_NNP is 0.
    _check(lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0), "seccomp_attr_set", "SCMP_FLTATR_CTL_NNP")
    # Without this, libseccomp 2.5.4 reports every kernel error of seccomp_load as ECANCELED.
    lib.seccomp_attr_set(ctx, _ATTR_API_SYSRAWRC, 1)

    _add_architectures(lib, ctx, seccomp.get("architectures"))
    for index, flag in enumerate(seccomp.get("flags") or ()):
        _set_flag(lib, ctx, flag, index)

    notify = seccomp["defaultAction"] == "SCMP_ACT_NOTIFY"
    resolved: dict = {}
    rules = 0
    for index, entry in enumerate(seccomp.get("syscalls") or ()):
        added, notifies = _add_rules(lib, ctx, entry, index, default_value, resolved)
        rules += added
        notify = notify or notifies

    syscalls_with_rules = sum(1 for number in resolved.values() if number != _NR_SCMP_ERROR)
    # A binary tree search shortens long filters. libseccomp before 2.6.0 cannot build the tree for a filter without rules.
    if rules and syscalls_with_rules >= _BINARY_TREE_MIN_SYSCALLS:
        rc = lib.seccomp_attr_set(ctx, _ATTR_CTL_OPTIMIZE, 2)
        if rc < 0:
            log.debug("seccomp binary tree optimization not available", error=os.strerror(-rc))

    if seccomp.get("listenerPath") and not notify:
        log.debug("seccomp listenerPath ignored: no loaded rule uses SCMP_ACT_NOTIFY", listener=seccomp["listenerPath"])

    rc = lib.seccomp_load(ctx)
    if rc == -errno.EACCES:
        raise SystemCallError(
            "seccomp_load", errno.EACCES, "loading a filter needs CAP_SYS_ADMIN in the user namespace or process.noNewPrivileges"
        )
    _check(rc, "seccomp_load", f"{rules} rules")

    if not notify:
        return None
    notify_fd = lib.seccomp_notify_fd(ctx)
    _check(notify_fd, "seccomp_notify_fd", "the filter uses SCMP_ACT_NOTIFY")
    return notify_fd


# --- the seccomp agent ---------------------------------------------------------


def send_listener_fd(listener_path: str, metadata: str | None, notify_fd: int, state: dict) -> None:
    """Send the notify fd and the container process state to the seccomp agent at listenerPath.

    The message is one JSON document (ociVersion, fds, pid, metadata, state)
    with the fd in SCM_RIGHTS, on a new SOCK_STREAM connection that is closed
    afterwards, as runtime-spec 1.2 requires. `state` is the container's
    OCI state, and its `pid` is sent as the process ID. Raise SystemCallError
    when the agent cannot be reached.
    """
    import socket

    from .. import OCI_VERSION

    process_state = {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": state["pid"]}
    if metadata:
        process_state["metadata"] = metadata
    process_state["state"] = state
    payload = jsonutil.dumps(process_state).encode("utf-8")

    detail = "seccomp listenerPath"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        try:
            connection.connect(listener_path)
        except OSError as error:
            raise SystemCallError(f"connect {listener_path}", error.errno or 0, detail) from None
        try:
            sent = socket.send_fds(connection, [payload], [notify_fd])
            # The spec allows more sendmsg calls for the rest, without the fd.
            if sent < len(payload):
                connection.sendall(payload[sent:])
        except OSError as error:
            raise SystemCallError(f"sendmsg {listener_path}", error.errno or 0, detail) from None


# --- features ------------------------------------------------------------------


def _flag_supported(lib, flag: str) -> bool:
    ctx = lib.seccomp_init(ACTIONS["SCMP_ACT_ALLOW"])
    if not ctx:
        return False
    try:
        return lib.seccomp_attr_set(ctx, FLAGS[flag][0], 1) == 0
    finally:
        lib.seccomp_release(ctx)


def features() -> dict:
    """Return the `seccomp` object of the `features` output from what the loaded libseccomp supports."""
    try:
        lib = _library()
    except NotSupported:
        return {"enabled": False}
    api_level = _api_level()
    return {
        "enabled": True,
        "actions": [action for action in ACTIONS if api_level >= _ACTION_API_LEVEL.get(action, 1)],
        "operators": list(OPERATORS),
        "archs": [name for name in ARCHITECTURES if _resolve_arch(name)],
        "knownFlags": list(FLAGS),
        "supportedFlags": [flag for flag in FLAGS if _flag_supported(lib, flag)],
    }
