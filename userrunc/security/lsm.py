"""process.apparmorProfile and process.selinuxLabel: the LSM label of the container process.

A label takes effect at the next execve once it is written to the exec
attribute of the calling thread in procfs. The init opens that file before
pivot_root, from the host's /proc, and checks that it is on a real procfs.
A container that mounts its own /proc (or a tmpfs over it) must not be able
to turn the write into a no-op and run unconfined. The write itself happens
just before execve, after the startContainer hooks, because the exec of a
hook would consume the label.

A config that requests a label on a host without that LSM fails, as in
runc, so a container never runs silently without the requested confinement.
"""

from __future__ import annotations

import os

from ..errors import NotSupported, SystemCallError, UserruncError

APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
PROC_FILESYSTEMS = "/proc/filesystems"


def apparmor_enabled() -> bool:
    try:
        with open(APPARMOR_ENABLED, "rb") as handle:
            return handle.read().strip() == b"Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    """Return whether SELinux is active, which is when the kernel has registered selinuxfs."""
    try:
        with open(PROC_FILESYSTEMS, "rb") as handle:
            return any(line.split()[-1:] == [b"selinuxfs"] for line in handle)
    except OSError:
        return False


def check(process: dict) -> None:
    """Raise NotSupported when the config requests a label of an LSM that this host does not run."""
    profile = process.get("apparmorProfile")
    if profile and not apparmor_enabled():
        raise NotSupported(
            f"process.apparmorProfile {profile!r}: AppArmor is not enabled on this host "
            f"({APPARMOR_ENABLED} is missing or not Y); remove apparmorProfile from config.json to run without it"
        )
    label = process.get("selinuxLabel")
    if label and not selinux_enabled():
        raise NotSupported(
            f"process.selinuxLabel {label!r}: SELinux is not enabled on this host "
            f"(no selinuxfs in {PROC_FILESYSTEMS}); remove selinuxLabel from config.json to run without it"
        )


class ExecLabel:
    """An open exec attribute file and the label to write into it before execve."""

    __slots__ = ("fd", "payload", "field")

    def __init__(self, fd: int, payload: bytes, field: str) -> None:
        self.fd = fd
        self.payload = payload
        self.field = field


def open_exec_labels(process: dict) -> list[ExecLabel]:
    """Open the exec attribute files for the requested labels; call before pivot_root.

    NOTE: this path has not run on a host with AppArmor or SELinux. The
    test machine has neither, so only the errors of check() are tested.
    """
    labels = []
    try:
        profile = process.get("apparmorProfile")
        if profile:
            # Since Linux 5.8 AppArmor has its own directory, so a stacked LSM cannot take the write.
            fd = _open_attr(("/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec"), "process.apparmorProfile")
            labels.append(ExecLabel(fd, f"exec {profile}".encode(), "process.apparmorProfile"))
        label = process.get("selinuxLabel")
        if label:
            fd = _open_attr(("/proc/thread-self/attr/exec",), "process.selinuxLabel")
            labels.append(ExecLabel(fd, label.encode(), "process.selinuxLabel"))
    except BaseException:
        close_exec_labels(labels)
        raise
    return labels


def _open_attr(candidates: tuple[str, ...], field: str) -> int:
    error = None
    for path in candidates:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError as missing:
            error = missing
            continue
        except OSError as failure:
            raise SystemCallError(f"{field}: open {path}", failure.errno) from None
        if not _on_procfs(fd):
            os.close(fd)
            raise UserruncError(f"{field}: {path} is not on procfs, so the label cannot be set safely")
        return fd
    raise SystemCallError(f"{field}: open {candidates[-1]}", error.errno if error else 0)


def _on_procfs(fd: int) -> bool:
    # Imported here, so that `features`, which imports this module, does not load ctypes.
    from ..linux import syscalls

    try:
        return syscalls.fstatfs_type(fd) == syscalls.PROC_SUPER_MAGIC
    except OSError:
        return False


def write_exec_labels(labels: list[ExecLabel]) -> None:
    """Write each label into its exec attribute; the next execve of this thread applies it."""
    for label in labels:
        try:
            os.write(label.fd, label.payload)
        except OSError as error:
            raise SystemCallError(f"{label.field}: set the exec label {label.payload.decode()!r}", error.errno) from None


def close_exec_labels(labels: list[ExecLabel]) -> None:
    for label in labels:
        try:
            os.close(label.fd)
        except OSError:
            pass
