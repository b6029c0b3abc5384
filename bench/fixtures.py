"""What the benchmark sets up before it measures: compiled modules, the user, bundles, crun's namespace.

Everything lives under WORK_DIR, except the bench user (and its lines in
/etc/subuid and /etc/subgid) and the __pycache__ directories that compileall
writes into the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import subprocess

from spawn import Identity, Output, run_checked

WORK_DIR = "/var/tmp/userrunc-bench"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The test suite creates urtest with 200000:65536; the bench reuses it when
# it has subordinate ids, and otherwise creates urbench.
USER_CANDIDATES = ("urtest", "urbench")
CREATED_USER = "urbench"
SUBID_COUNT = 65536
SUBID_FIRST_START = 300000
# crun 1.8.1 rejects ociVersion 1.2.0 ("unknown version specified").
ROOT_OCI_VERSION = "1.1.0"


class SetupError(Exception):
    """The benchmark cannot set up what it needs; the message names what to fix."""


class BenchUser:
    __slots__ = ("name", "uid", "gid", "home", "xdg_runtime_dir")

    def __init__(self, entry: pwd.struct_passwd, home: str) -> None:
        self.name = entry.pw_name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        # The user's work directory, used as HOME and to hold its bundle.
        self.home = home
        self.xdg_runtime_dir = os.path.join(home, "xdg")

    def identity(self, cwd: str | None = None, extra_env: dict | None = None) -> Identity:
        env = {
            "PATH": PATH,
            "HOME": self.home,
            "USER": self.name,
            "LOGNAME": self.name,
            "XDG_RUNTIME_DIR": self.xdg_runtime_dir,
        }
        env.update(extra_env or {})
        return Identity(self.uid, self.gid, env, cwd or self.home)


def root_identity(cwd: str = WORK_DIR, mount_ns_fd: int = -1, extra_env: dict | None = None) -> Identity:
    env = {"PATH": PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root"}
    env.update(extra_env or {})
    return Identity(0, 0, env, cwd, mount_ns_fd)


def compile_checkout(checkout: str, python: str, output: Output) -> None:
    """Compile userrunc's modules, because an unprivileged user cannot write __pycache__ into the checkout."""
    run_checked([python, "-m", "compileall", "-q", "userrunc", "idmap", "net"], root_identity(cwd=checkout), output, output)


def stale_bytecode(checkout: str) -> list[str]:
    """Return the sources under userrunc/, idmap/ and net/ whose __pycache__ file is missing or out of date.

    An unprivileged user recompiles such a module on every import, so a
    source edited during the benchmark makes the later rootless runs slower.
    """
    stale = []
    for package in ("userrunc", "idmap", "net"):
        for directory, _dirs, files in os.walk(os.path.join(checkout, package)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                source = os.path.join(directory, name)
                if not _bytecode_matches(source):
                    stale.append(os.path.relpath(source, checkout))
    return sorted(stale)


def _bytecode_matches(source: str) -> bool:
    """Check the timestamp header of the source's .pyc (PEP 552): flags 0, then source mtime and size."""
    try:
        with open(importlib.util.cache_from_source(source), "rb") as handle:
            header = handle.read(16)
        info = os.stat(source)
    except OSError:
        return False
    if len(header) < 16 or header[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(header[4:8], "little") != 0:
        return False
    mtime = int.from_bytes(header[8:12], "little")
    size = int.from_bytes(header[12:16], "little")
    return mtime == int(info.st_mtime) & 0xFFFFFFFF and size == info.st_size & 0xFFFFFFFF


def _read_subids(path: str) -> list[tuple[str, int, int]]:
    entries = []
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.strip().split(":")
                if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                    entries.append((fields[0], int(fields[1]), int(fields[2])))
    except FileNotFoundError:
        pass
    return entries


def _has_subids(name: str, uid: int) -> bool:
    owners = (name, str(uid))
    return all(any(entry[0] in owners for entry in _read_subids(path)) for path in ("/etc/subuid", "/etc/subgid"))


def _free_subid_start() -> int:
    used = _read_subids("/etc/subuid") + _read_subids("/etc/subgid")
    start = SUBID_FIRST_START
    while any(start < first + count and first < start + SUBID_COUNT for _name, first, count in used):
        start += SUBID_COUNT
    return start


def choose_user(requested: str | None) -> pwd.struct_passwd:
    """Return the bench user: the requested one, urtest or urbench; create urbench when neither has subordinate ids."""
    candidates = (requested,) if requested else USER_CANDIDATES
    for name in candidates:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if _has_subids(entry.pw_name, entry.pw_uid):
            return entry
    if requested and requested != CREATED_USER:
        raise SetupError(f"user {requested} does not exist or has no entry in /etc/subuid and /etc/subgid")
    try:
        entry = pwd.getpwnam(CREATED_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", CREATED_USER], check=True)
        entry = pwd.getpwnam(CREATED_USER)
    start = _free_subid_start()
    span = f"{start}-{start + SUBID_COUNT - 1}"
    subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, CREATED_USER], check=True)
    return entry


def prepare_user(entry: pwd.struct_passwd) -> BenchUser:
    """Make the user's work directory and its own XDG_RUNTIME_DIR (mode 0700), both empty of old bundles."""
    home = os.path.join(WORK_DIR, "user-" + entry.pw_name)
    user = BenchUser(entry, home)
    os.makedirs(home, exist_ok=True)
    os.chown(home, user.uid, user.gid)
    os.chmod(home, 0o755)
    os.makedirs(user.xdg_runtime_dir, exist_ok=True)
    os.chown(user.xdg_runtime_dir, user.uid, user.gid)
    os.chmod(user.xdg_runtime_dir, 0o700)
    return user


def check_user_can_run(user: BenchUser, python: str, output: Output) -> None:
    try:
        run_checked([python, "-c", "import userrunc.main"], user.identity(), output, output)
    except Exception as error:
        raise SetupError(
            f"user {user.name} cannot import userrunc from the checkout ({error}); "
            "make the checkout and its parent directories readable and searchable by other users"
        ) from None


def build_bundles(checkout: str, user: BenchUser, output: Output) -> tuple[str, str]:
    """Build the root and the rootless busybox bundle with contrib/busybox-bundle.sh; return their paths.

    The root bundle's config.json gets ociVersion ROOT_OCI_VERSION and no
    linux.resources: crun 1.8.1 loads an eBPF device filter for the
    deny-all device rule, raising RLIMIT_MEMLOCK first, and fails where
    root lacks CAP_SYS_RESOURCE (as on the machine this was written on).
    userrunc, runc and crun all run this same file.
    """
    script = os.path.join(checkout, "contrib", "busybox-bundle.sh")
    root_bundle = os.path.join(WORK_DIR, "root-bundle")
    rootless_bundle = os.path.join(user.home, "bundle")
    for bundle in (root_bundle, rootless_bundle):
        if os.path.lexists(bundle):
            shutil.rmtree(bundle)

    run_checked(["/bin/sh", script, root_bundle, "--", "/bin/true"], root_identity(), output, output)
    config_path = os.path.join(root_bundle, "config.json")
    with open(config_path) as handle:
        config = json.load(handle)
    config["ociVersion"] = ROOT_OCI_VERSION
    config.get("linux", {}).pop("resources", None)
    with open(config_path, "w") as handle:
        json.dump(config, handle, indent=2)
        handle.write("\n")

    run_checked(["/bin/sh", script, rootless_bundle, "--rootless", "--", "/bin/true"], user.identity(), output, output)
    return root_bundle, rootless_bundle


def open_cgroup2_mount_namespace() -> int:
    """Return an fd of a private mount namespace with cgroup2 mounted on /sys/fs/cgroup, for crun.

    `unshare --mount --propagation private` keeps the mount out of the
    host's namespace. The helper exits once the fd is open; the fd keeps
    the namespace alive until the driver closes it or exits.
    """
    unshare = shutil.which("unshare", path=PATH)
    if unshare is None:
        raise SetupError("unshare (util-linux) is not installed; crun needs it here")
    script = "mount -t cgroup2 none /sys/fs/cgroup && echo ready && exec cat >/dev/null"
    holder = subprocess.Popen(
        [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = holder.stdout.readline()
        if line.strip() != b"ready":
            holder.stdin.close()
            message = holder.stderr.read().decode("utf-8", "replace").strip()
            raise SetupError(f"cannot mount cgroup2 in a private mount namespace for crun: {message or 'no output'}")
        fd = os.open(f"/proc/{holder.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()
    return fd
