"""A hostile rootfs cannot make userrunc mount or create anything outside it.

Each test plants symlinks in the bundle's rootfs that point at a sentinel
directory outside the bundle, runs a container through the CLI, and checks
that the sentinel stays empty and unmounted. Every test runs as root and
rootless, with openat2 and with the user-space walk that replaces it on
kernels without openat2 (selected by USERRUNC_NO_OPENAT2).
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

import pytest

import support
from test_rootfs_support import config_with_mounts, fails_cleanly, owned_dir, parse_mountinfo

RESOLVERS = {"openat2": None, "walk": {"USERRUNC_NO_OPENAT2": "1"}}


@pytest.fixture(params=sorted(RESOLVERS))
def resolver_env(request):
    return RESOLVERS[request.param]


def _sentinel(runtime) -> Path:
    return owned_dir(runtime, "sentinel")


def _assert_untouched(sentinel: Path) -> None:
    assert os.listdir(sentinel) == []
    assert not support.mounts_under(sentinel)


def _bundle(runtime, mounts, args=None, **linux):
    config = config_with_mounts(runtime, mounts, args, **linux)
    return runtime.bundle(config)


def _plant(bundle, name: str, target: str) -> Path:
    link = bundle.rootfs / name.lstrip("/")
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    os.lchown(link, bundle.runtime.uid, bundle.runtime.gid)
    return link


def _run(runtime, bundle, env):
    return runtime("run", "-b", str(bundle), runtime.container_id(), env=env)


def _tmpfs(destination):
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}


def test_absolute_symlink_stays_in_rootfs(runtime, resolver_env):
    sentinel = _sentinel(runtime)
    source = owned_dir(runtime, "source")
    bundle = _bundle(
        runtime,
        [_tmpfs("/evil/tmpfs"), {"destination": "/evil/bind", "type": "bind", "source": str(source), "options": ["bind"]}],
        args=["cat", "/proc/self/mountinfo"],
    )
    _plant(bundle, "evil", str(sentinel))
    result = _run(runtime, bundle, resolver_env)
    assert result.returncode == 0, result
    _assert_untouched(sentinel)
    mounts = parse_mountinfo(result.stdout)
    assert mounts[f"{sentinel}/tmpfs"].fstype == "tmpfs"
    assert f"{sentinel}/bind" in mounts
    assert (bundle.rootfs / str(sentinel).lstrip("/") / "tmpfs").is_dir()


def test_dotdot_symlink_stays_in_rootfs(runtime, resolver_env):
    sentinel = _sentinel(runtime)
    bundle = _bundle(runtime, [_tmpfs("/up/mnt"), _tmpfs("/../../../../up2/mnt")], args=["cat", "/proc/self/mountinfo"])
    _plant(bundle, "up", "../" * 20 + str(sentinel).lstrip("/"))
    _plant(bundle, "up2", "/../../../.." + str(sentinel))
    result = _run(runtime, bundle, resolver_env)
    assert result.returncode == 0, result
    _assert_untouched(sentinel)
    assert f"{sentinel}/mnt" in parse_mountinfo(result.stdout)


def test_dangling_symlink_target_created_in_rootfs(runtime, resolver_env):
    sentinel = _sentinel(runtime)
    bundle = _bundle(runtime, [_tmpfs("/dangling/deeper/mnt")], args=["cat", "/proc/self/mountinfo"])
    _plant(bundle, "dangling", f"{sentinel}/made/here")
    _plant(bundle, "file-link", "/etc/missing.conf")
    file_source = runtime.workdir / "conf"
    file_source.write_text("conf\n")
    bundle.config["mounts"].append({"destination": "/file-link", "type": "bind", "source": str(file_source), "options": ["bind"]})
    bundle.write()
    result = _run(runtime, bundle, resolver_env)
    assert result.returncode == 0, result
    _assert_untouched(sentinel)
    assert (bundle.rootfs / str(sentinel).lstrip("/") / "made" / "here" / "deeper" / "mnt").is_dir()
    assert (bundle.rootfs / "etc" / "missing.conf").is_file()
    assert f"{sentinel}/made/here/deeper/mnt" in parse_mountinfo(result.stdout)


def test_symlink_loop_fails_cleanly(runtime, resolver_env):
    bundle = _bundle(runtime, [_tmpfs("/loop1/mnt")])
    _plant(bundle, "loop1", "loop2")
    _plant(bundle, "loop2", "/loop1")
    result = _run(runtime, bundle, resolver_env)
    fails_cleanly(
        runtime,
        result,
        "userrunc: run: mounts[7] /loop1/mnt: cannot create directory /loop1/mnt in the rootfs: Too many levels of symbolic links",
    )


def test_self_loop_while_creating_fails_cleanly(runtime, resolver_env):
    bundle = _bundle(runtime, [_tmpfs("/self/mnt")])
    _plant(bundle, "self", "self/a")
    result = _run(runtime, bundle, resolver_env)
    assert result.returncode == 1, result
    assert result.err_lines == [
        "userrunc: run: mounts[7] /self/mnt: cannot create directory /self/mnt in the rootfs: Too many levels of symbolic links"
    ]


def test_masked_and_readonly_symlinks_stay_in_rootfs(runtime, resolver_env):
    sentinel = _sentinel(runtime)
    host_data = owned_dir(runtime, "hostdata")
    (host_data / "secret").write_text("host secret\n")
    bundle = _bundle(
        runtime,
        [],
        args=["sh", "-c", "cat /proc/self/mountinfo; cat /masked-inside; echo end"],
        maskedPaths=["/masked-host", "/masked-inside", "/masked-dir"],
        readonlyPaths=["/readonly-host"],
    )
    _plant(bundle, "masked-host", f"{host_data}/secret")
    _plant(bundle, "readonly-host", str(sentinel))
    _plant(bundle, "masked-dir", str(host_data))
    (bundle.rootfs / "inside-file").write_text("visible\n")
    _plant(bundle, "masked-inside", "/inside-file")
    support.chown_tree(bundle.path, runtime.uid, runtime.gid)
    result = _run(runtime, bundle, resolver_env)
    assert result.returncode == 0, result
    _assert_untouched(sentinel)
    assert not support.mounts_under(host_data)
    assert (host_data / "secret").read_text() == "host secret\n"
    mounts = parse_mountinfo(result.stdout)
    # The link inside the rootfs is followed there and masked with /dev/null.
    assert "/inside-file" in mounts
    assert result.stdout.splitlines()[-1] == "end"
    assert str(host_data) not in mounts
    assert str(sentinel) not in mounts


def test_device_paths_stay_in_rootfs(runtime, resolver_env):
    sentinel = _sentinel(runtime)
    config = config_with_mounts(runtime, [], ["ls", "/dev/"])
    # Without a tmpfs on /dev, devices are made in the rootfs's own /dev,
    # which here is a symlink to a host directory.
    config["mounts"] = [m for m in config["mounts"] if not m["destination"].startswith("/dev")]
    config["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}]
    bundle = runtime.bundle(config)
    (bundle.rootfs / "dev").rmdir()
    _plant(bundle, "dev", str(sentinel))
    result = _run(runtime, bundle, resolver_env)
    assert result.returncode == 0, result
    _assert_untouched(sentinel)
    assert result.stdout.split() == ["null"]
    assert (bundle.rootfs / str(sentinel).lstrip("/") / "null").exists()


def test_bind_source_symlink_in_rootfs_is_host_path(root_runtime):
    """Bind sources are host paths by definition; only destinations are resolved in the rootfs."""
    runtime = root_runtime
    source = owned_dir(runtime, "source")
    (source / "file").write_text("host\n")
    bundle = _bundle(runtime, [{"destination": "/data", "type": "bind", "source": str(source), "options": ["bind", "ro"]}], args=["cat", "/data/file"])
    result = _run(runtime, bundle, None)
    assert result.stdout == "host\n"


_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), _RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


@pytest.mark.slow
def test_directory_swapped_for_symlink(runtime, resolver_env):
    """A host process swaps a destination directory and a symlink to the sentinel while containers start."""
    sentinel = _sentinel(runtime)
    source = owned_dir(runtime, "source")
    bundle = _bundle(
        runtime,
        [_tmpfs("/target/tmpfs"), {"destination": "/target/bind", "type": "bind", "source": str(source), "options": ["bind"]}],
        args=["true"],
        maskedPaths=["/target/masked"],
        readonlyPaths=["/target"],
    )
    (bundle.rootfs / "target" / "masked").mkdir(parents=True)
    _plant(bundle, "swap", str(sentinel))
    support.chown_tree(bundle.path, runtime.uid, runtime.gid)
    stop = threading.Event()
    swaps = 0

    def swapper():
        nonlocal swaps
        while not stop.is_set():
            _exchange(bundle.rootfs / "target", bundle.rootfs / "swap")
            swaps += 1

    thread = threading.Thread(target=swapper)
    thread.start()
    try:
        outcomes = [_run(runtime, bundle, resolver_env).returncode for _ in range(8)]
    finally:
        stop.set()
        thread.join()
    assert swaps > 8
    # A run may fail when a path vanishes mid-setup; none may touch the host.
    assert set(outcomes) <= {0, 1}
    _assert_untouched(sentinel)
