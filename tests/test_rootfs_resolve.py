"""Path resolution inside a root: openat2(RESOLVE_IN_ROOT) and the user-space walk agree, and creation stays inside."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from userrunc.linux import resolve, syscalls


@pytest.fixture
def tree(tmp_path):
    """A root with hostile symlinks, and an outside directory they point at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root")
    (root / "dir" / "sub").mkdir(parents=True)
    os.symlink(str(outside), root / "abs")
    os.symlink("../../../../../../" + str(outside).lstrip("/"), root / "dir" / "up")
    os.symlink("/etc/passwd", root / "passwd-link")
    os.symlink("sub/../../etc", root / "dir" / "relative")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink("/missing/target", root / "dangling")
    os.symlink(str(outside) + "/secret", root / "abs-file")
    fd = os.open(root, syscalls.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    yield root, outside, fd
    os.close(fd)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    os.close(fd)
    return info.st_dev, info.st_ino


def _outcome(function, *args):
    try:
        return _identity(function(*args))
    except OSError as error:
        return errno.errorcode[error.errno]


PATHS = [
    "/",
    "etc/passwd",
    "/etc/../etc/./passwd",
    "/../../../etc/passwd",
    "abs",
    "abs/secret",
    "dir/up",
    "dir/up/secret",
    "passwd-link",
    "dir/relative/passwd",
    "loop-a",
    "loop-a/x",
    "dangling",
    "abs-file",
    "etc/passwd/x",
    "dir/sub/../../etc/passwd",
]


@pytest.mark.parametrize("path", PATHS)
def test_walk_agrees_with_openat2(tree, path):
    _root, _outside, fd = tree
    in_kernel = _outcome(lambda: syscalls.openat2(fd, path.lstrip("/") or ".", syscalls.O_PATH, 0, syscalls.RESOLVE_IN_ROOT))
    in_user_space = _outcome(resolve.walk, fd, path)
    assert in_user_space == in_kernel


@pytest.mark.parametrize("path", ["abs", "abs/secret", "dir/up/secret", "abs-file", "/../../outside"])
def test_no_path_reaches_outside(tree, path):
    root, outside, fd = tree
    outside_ids = {_identity(os.open(outside, syscalls.O_PATH)), _identity(os.open(outside / "secret", syscalls.O_PATH))}
    for opener in (resolve.open_in_root, resolve.walk):
        assert _outcome(opener, fd, path) not in outside_ids


def test_loop_raises_eloop(tree):
    _root, _outside, fd = tree
    with pytest.raises(OSError) as raised:
        resolve.walk(fd, "loop-a")
    assert raised.value.errno == errno.ELOOP


def test_reopen_with_flags(tree):
    _root, _outside, fd = tree
    opened = resolve.walk(fd, "passwd-link", os.O_RDONLY)
    try:
        assert os.read(opened, 10) == b"root"
    finally:
        os.close(opened)
    with pytest.raises(NotADirectoryError):
        resolve.walk(fd, "passwd-link", syscalls.O_PATH | os.O_DIRECTORY)


def test_create_follows_dangling_symlink_inside(tree):
    root, outside, fd = tree
    created = resolve.create_in_root(fd, "/dangling/deeper", "dir")
    os.close(created)
    assert (root / "missing" / "target" / "deeper").is_dir()
    assert not os.path.exists("/missing")


def test_create_through_absolute_symlink_stays_inside(tree):
    root, outside, fd = tree
    created = resolve.create_in_root(fd, "/abs/new/file", "file", 0o600)
    os.close(created)
    inside = root / str(outside).lstrip("/") / "new" / "file"
    assert stat.S_IMODE(inside.stat().st_mode) == 0o600
    assert sorted(os.listdir(outside)) == ["secret"]


def test_create_kind_mismatch(tree):
    _root, _outside, fd = tree
    with pytest.raises(FileExistsError):
        resolve.create_in_root(fd, "/etc/passwd", "dir")
    with pytest.raises(FileExistsError):
        resolve.create_in_root(fd, "/etc", "file")


def test_create_through_loop_raises_eloop(tree):
    _root, _outside, fd = tree
    with pytest.raises(OSError) as raised:
        resolve.create_in_root(fd, "/loop-a/x", "dir")
    assert raised.value.errno == errno.ELOOP


def test_create_under_file_raises_enotdir(tree):
    _root, _outside, fd = tree
    with pytest.raises(NotADirectoryError):
        resolve.create_in_root(fd, "/etc/passwd/x", "dir")


def test_enosys_selects_walk(tree, monkeypatch):
    root, _outside, fd = tree
    calls = []

    def no_openat2(*args):
        calls.append(args)
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(resolve, "_openat2_missing", False)
    monkeypatch.setattr(syscalls, "openat2", no_openat2)
    passwd = _identity(os.open(root / "etc" / "passwd", syscalls.O_PATH))
    assert _identity(resolve.open_in_root(fd, "/etc/passwd")) == passwd
    assert _identity(resolve.open_in_root(fd, "passwd-link")) == passwd
    # After the first ENOSYS the walk is used without trying openat2 again.
    assert len(calls) == 1
    # /abs names a host directory, which does not exist inside the root.
    with pytest.raises(FileNotFoundError):
        resolve.open_in_root(fd, "/abs")
