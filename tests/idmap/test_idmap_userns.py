"""Unit tests for explain_userns_failure against a fake /proc tree."""

from __future__ import annotations

import errno
import os

import pytest

from userrunc.idmap import UserNamespacesUnavailable, explain_userns_failure

INITIAL_MAP = "         0          0 4294967295\n"


@pytest.fixture
def proc(tmp_path):
    """Build a /proc of an unrestricted host: user namespaces enabled, one thread, no seccomp."""
    root = tmp_path / "proc"
    (root / "sys" / "kernel").mkdir(parents=True)
    (root / "sys" / "user").mkdir(parents=True)
    (root / "self" / "ns").mkdir(parents=True)
    (root / "self" / "ns" / "user").write_text("")
    (root / "sys" / "user" / "max_user_namespaces").write_text("1000\n")
    (root / "self" / "uid_map").write_text(INITIAL_MAP)
    (root / "self" / "gid_map").write_text(INITIAL_MAP)
    (root / "self" / "status").write_text("Name:\tpython\nThreads:\t1\nSeccomp:\t0\n")
    return root


def explain(error_number: int, proc) -> str:
    return explain_userns_failure(error_number, proc=str(proc))


def set_status(proc, threads: int = 1, seccomp: int = 0) -> None:
    (proc / "self" / "status").write_text(f"Name:\tpython\nThreads:\t{threads}\nSeccomp:\t{seccomp}\n")


def test_unprivileged_clone_disabled(proc):
    (proc / "sys" / "kernel" / "unprivileged_userns_clone").write_text("0\n")
    assert explain(errno.EPERM, proc) == (
        "creating a user namespace failed with EPERM (Operation not permitted): unprivileged user namespaces "
        f"are disabled ({proc}/sys/kernel/unprivileged_userns_clone is 0); enable them with: "
        "sysctl -w kernel.unprivileged_userns_clone=1 (add it to /etc/sysctl.d/ to keep it after a reboot)"
    )


def test_sysctl_blamed_only_for_its_errno(proc):
    (proc / "sys" / "kernel" / "unprivileged_userns_clone").write_text("0\n")
    (proc / "sys" / "kernel" / "apparmor_restrict_unprivileged_userns").write_text("1\n")
    set_status(proc, threads=2)
    message = explain(errno.EINVAL, proc)
    assert "unprivileged_userns_clone" not in message
    assert "AppArmor" not in message
    assert "this process has 2 threads" in message


def test_apparmor_denial_with_eacces(proc):
    (proc / "sys" / "kernel" / "apparmor_restrict_unprivileged_userns").write_text("1\n")
    assert explain(errno.EACCES, proc).startswith(
        "creating a user namespace failed with EACCES (Permission denied): AppArmor restricts"
    )


def test_unprivileged_clone_enabled_is_not_blamed(proc):
    (proc / "sys" / "kernel" / "unprivileged_userns_clone").write_text("1\n")
    assert "unprivileged_userns_clone is" not in explain(errno.EPERM, proc)


def test_max_user_namespaces_zero(proc):
    (proc / "sys" / "user" / "max_user_namespaces").write_text("0\n")
    assert explain(errno.ENOSPC, proc) == (
        "creating a user namespace failed with ENOSPC (No space left on device): user namespaces are disabled "
        f"({proc}/sys/user/max_user_namespaces is 0); allow them with, for example: "
        "sysctl -w user.max_user_namespaces=15000 (add it to /etc/sysctl.d/ to keep it after a reboot)"
    )


def test_apparmor_restriction(proc):
    (proc / "sys" / "kernel" / "apparmor_restrict_unprivileged_userns").write_text("1\n")
    assert explain(errno.EPERM, proc) == (
        "creating a user namespace failed with EPERM (Operation not permitted): AppArmor restricts unprivileged "
        f"user namespaces ({proc}/sys/kernel/apparmor_restrict_unprivileged_userns is 1); load an AppArmor "
        "profile with a 'userns,' rule for this program, or lift the restriction with: "
        "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
    )


def test_nested_namespace_limit(proc):
    (proc / "self" / "uid_map").write_text("         0       1000          1\n")
    assert explain(errno.ENOSPC, proc) == (
        "creating a user namespace failed with ENOSPC (No space left on device): the caller already runs inside "
        "a user namespace (uid map '0 1000 1'), so either the nesting limit of 32 user namespaces or "
        "user.max_user_namespaces (1000 here) of this or an outer namespace was reached; run the container "
        "from a less nested namespace, or raise the limit with sysctl -w user.max_user_namespaces=N in the "
        "namespace that reached it"
    )


def test_nesting_limit_on_older_kernels(proc):
    assert explain(errno.EUSERS, proc) == (
        "creating a user namespace failed with EUSERS (Too many users): the kernel's nesting limit of 32 user "
        "namespaces was reached; run the container from a less nested namespace"
    )


def test_per_user_limit(proc):
    assert explain(errno.ENOSPC, proc) == (
        "creating a user namespace failed with ENOSPC (No space left on device): the per-user limit "
        "user.max_user_namespaces (1000) was reached; stop unused containers or raise it with: "
        "sysctl -w user.max_user_namespaces=2000"
    )


def test_multithreaded_caller(proc):
    set_status(proc, threads=3)
    assert explain(errno.EINVAL, proc) == (
        "creating a user namespace failed with EINVAL (Invalid argument): the kernel creates a user namespace "
        "only for a single-threaded process, but this process has 3 threads; create the namespace before "
        "starting threads, or in a forked child"
    )


def test_kernel_without_user_namespaces(proc):
    (proc / "self" / "ns" / "user").unlink()
    assert explain(errno.EINVAL, proc) == (
        "creating a user namespace failed with EINVAL (Invalid argument): the kernel has no user namespace "
        f"support ({proc}/self/ns/user does not exist); use a kernel built with CONFIG_USER_NS=y"
    )


def test_unmapped_effective_uid(proc):
    euid = os.geteuid()
    # A map that covers every id except the caller's own.
    (proc / "self" / "uid_map").write_text(f"0 0 {euid}\n" if euid else "1 1 10\n")
    described = f"'0 0 {euid}'" if euid else "'1 1 10'"
    assert explain(errno.EPERM, proc) == (
        f"creating a user namespace failed with EPERM (Operation not permitted): the caller's effective uid {euid} "
        f"is not mapped in its own user namespace (uid map {described}); run as a uid that the namespace maps"
    )


def test_seccomp_filter(proc):
    set_status(proc, seccomp=2)
    assert explain(errno.EPERM, proc) == (
        "creating a user namespace failed with EPERM (Operation not permitted): a seccomp filter is active on "
        "this process (Seccomp: 2 in /proc/self/status) and may reject unshare; if this runs inside another "
        "container, allow unshare and clone with CLONE_NEWUSER in that container's seccomp profile"
    )


def test_unknown_cause(proc):
    assert explain(errno.EPERM, proc) == (
        "creating a user namespace failed with EPERM (Operation not permitted): no known cause was found "
        "(checked kernel.unprivileged_userns_clone, user.max_user_namespaces, "
        "kernel.apparmor_restrict_unprivileged_userns, the caller's mapping, threads and seccomp); check the "
        "kernel log (dmesg) for denials by a security module, and whether the caller runs in a chroot"
    )


def test_unknown_cause_inside_namespace(proc):
    euid = os.geteuid()
    (proc / "self" / "uid_map").write_text(f"{euid} 1000 1\n")
    (proc / "self" / "gid_map").write_text(f"{os.getegid()} 1000 1\n")
    assert explain(errno.EPERM, proc) == (
        "creating a user namespace failed with EPERM (Operation not permitted): the caller runs inside a user "
        f"namespace (uid map '{euid} 1000 1'), where a nested namespace can map only ids of that map; check "
        "the outer runtime's settings for nested user namespaces"
    )


def test_unknown_errno(proc):
    message = explain(errno.ENOMEM, proc)
    assert message.startswith("creating a user namespace failed with ENOMEM (Cannot allocate memory): no known cause")


def test_explanation_is_one_line(proc):
    for error_number in (errno.EPERM, errno.ENOSPC, errno.EINVAL):
        assert "\n" not in explain(error_number, proc)


def test_error_class_from_errno(proc):
    (proc / "sys" / "user" / "max_user_namespaces").write_text("0\n")
    error = UserNamespacesUnavailable.from_errno(errno.ENOSPC, proc=str(proc))
    assert error.errno == errno.ENOSPC
    assert str(error) == explain(errno.ENOSPC, proc)


def test_real_proc_gives_one_line():
    message = explain_userns_failure(errno.EPERM)
    assert message.startswith("creating a user namespace failed with EPERM")
    assert "\n" not in message
