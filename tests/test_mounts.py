"""Mount types and options, read back from /proc/self/mountinfo inside the container, as root and rootless."""

from __future__ import annotations

import os
import socket
import stat

import pytest

import support
from test_rootfs_support import config_with_mounts, fails_cleanly, host_mount, owned_dir, parse_mountinfo, run_bundle, run_mounts


def _mounts_of(result):
    assert result.returncode == 0, result
    return parse_mountinfo(result.stdout)


def _tmpfs(destination, *options):
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": list(options)}


def _bind(destination, source, *options):
    return {"destination": destination, "type": "bind", "source": str(source), "options": ["bind", *options]}


# -- tmpfs and the per-mount flags ------------------------------------------------


def test_tmpfs_size_mode_uid_gid(runtime):
    _bundle, result = run_mounts(
        runtime,
        [_tmpfs("/data", "size=1m", "mode=1750", "uid=1", "gid=2", "nr_inodes=100")],
        args=["sh", "-c", "cat /proc/self/mountinfo; stat -c '%a %u %g' /data"],
    )
    mounts = _mounts_of(result)
    assert mounts["/data"].fstype == "tmpfs"
    # mountinfo shows uid= and gid= as host ids, so stat checks them.
    assert {"size=1024k", "mode=1750", "nr_inodes=100"} <= mounts["/data"].super_options
    assert result.stdout.splitlines()[-1] == "1750 1 2"


TMPFS_FLAGS = ["ro", "rw", "nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime"]


def test_tmpfs_flags_shown(runtime):
    _bundle, result = run_mounts(runtime, [_tmpfs(f"/flag/{option}", option) for option in TMPFS_FLAGS])
    mounts = _mounts_of(result)
    for option in TMPFS_FLAGS:
        assert option in mounts[f"/flag/{option}"].options, option


def test_tmpfs_atime_modes(runtime):
    _bundle, result = run_mounts(
        runtime,
        [_tmpfs("/strict", "strictatime"), _tmpfs("/atime", "noatime", "atime"), _tmpfs("/diratime", "nodiratime", "diratime")],
    )
    mounts = _mounts_of(result)
    assert not {"relatime", "noatime"} & mounts["/strict"].options
    assert "noatime" not in mounts["/atime"].options
    assert "nodiratime" not in mounts["/diratime"].options


def test_tmpfs_sync_and_dirsync(runtime):
    _bundle, result = run_mounts(runtime, [_tmpfs("/sync", "sync"), _tmpfs("/dirsync", "dirsync")])
    mounts = _mounts_of(result)
    assert "sync" in mounts["/sync"].super_options
    assert "dirsync" in mounts["/dirsync"].super_options


def test_noexec_stops_exec(runtime):
    _bundle, result = run_mounts(
        runtime,
        [_tmpfs("/data", "noexec")],
        args=["sh", "-c", "cp /bin/busybox /data/x && /data/x true; echo status=$?"],
    )
    assert result.stdout.splitlines()[-1] == "status=126"


def test_read_only_tmpfs_with_bind_beneath(runtime):
    source = owned_dir(runtime, "source")
    (source / "file").write_text("from host\n")
    _bundle, result = run_mounts(
        runtime,
        [_tmpfs("/data", "ro", "mode=755"), _bind("/data/sub/dir", source)],
        args=["sh", "-c", "cat /proc/self/mountinfo; cat /data/sub/dir/file; touch /data/new 2>/dev/null || echo refused"],
    )
    mounts = _mounts_of(result)
    assert "ro" in mounts["/data"].options
    assert "rw" in mounts["/data/sub/dir"].options
    assert result.stdout.splitlines()[-2:] == ["from host", "refused"]


def test_tmpcopyup_copies_the_directory(runtime):
    _bundle, result = run_mounts(
        runtime,
        [_tmpfs("/etc", "tmpcopyup", "ro")],
        args=["sh", "-c", "cat /proc/self/mountinfo; grep -c : /etc/passwd; ls -l /etc/passwd | cut -c1-10"],
    )
    mounts = _mounts_of(result)
    assert mounts["/etc"].fstype == "tmpfs"
    assert "ro" in mounts["/etc"].options
    assert result.stdout.splitlines()[-2:] == ["3", "-rw-r--r--"]


def test_tmpcopyup_leaves_rootfs_unchanged(runtime):
    config = config_with_mounts(runtime, [_tmpfs("/etc", "tmpcopyup")], args=["sh", "-c", "echo changed > /etc/passwd"])
    config["root"]["readonly"] = False
    bundle, result = run_bundle(runtime, config)
    assert result.returncode == 0, result
    assert (bundle.rootfs / "etc" / "passwd").read_text().startswith("root:x:0:0")


def test_remount_changes_earlier_mount(runtime):
    remount = {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["remount", "ro", "nosuid"]}
    _bundle, result = run_mounts(runtime, [_tmpfs("/data", "size=1m"), remount])
    mounts = _mounts_of(result)
    assert {"ro", "nosuid"} <= mounts["/data"].options
    assert "size=1024k" in mounts["/data"].super_options


# -- bind mounts ----------------------------------------------------------------------


def test_bind_directory_and_file(runtime):
    source = owned_dir(runtime, "dir")
    (source / "inside").write_text("dir\n")
    file_source = runtime.workdir / "file.txt"
    file_source.write_text("file\n")
    _bundle, result = run_mounts(
        runtime,
        [_bind("/mnt/dir", source), _bind("/mnt/new/file.txt", file_source, "ro")],
        args=["sh", "-c", "cat /proc/self/mountinfo; cat /mnt/dir/inside /mnt/new/file.txt"],
    )
    mounts = _mounts_of(result)
    assert "ro" in mounts["/mnt/new/file.txt"].options
    assert result.stdout.splitlines()[-2:] == ["dir", "file"]


def test_bind_socket_fifo_and_char_device(runtime):
    sock_path = runtime.workdir / "sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    fifo_path = runtime.workdir / "fifo"
    os.mkfifo(fifo_path)
    try:
        _bundle, result = run_mounts(
            runtime,
            [_bind("/run/sock", sock_path), _bind("/run/fifo", fifo_path), _bind("/run/null", "/dev/null")],
            args=["sh", "-c", "stat -c '%F' /run/sock /run/fifo /run/null; echo gone > /run/null && echo wrote"],
        )
    finally:
        listener.close()
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["socket", "fifo", "character special file", "wrote"]


def test_bind_relative_source_is_in_bundle(runtime):
    config = config_with_mounts(runtime, [_bind("/data", "extra")], args=["cat", "/data/note"])
    bundle = runtime.bundle(config)
    (bundle.path / "extra").mkdir()
    (bundle.path / "extra" / "note").write_text("bundle\n")
    support.chown_tree(bundle.path, runtime.uid, runtime.gid)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout == "bundle\n"


BIND_FLAGS = ["ro", "nosuid", "nodev", "noexec"]
ATIME_OPTIONS = ["noatime", "nodiratime", "rnoatime", "rnodiratime"]


def test_bind_flags_shown(runtime):
    source = owned_dir(runtime, "source")
    _bundle, result = run_mounts(runtime, [_bind(f"/flag/{option}", source, option) for option in BIND_FLAGS])
    mounts = _mounts_of(result)
    for option in BIND_FLAGS:
        assert option in mounts[f"/flag/{option}"].options, option


def test_bind_atime_options(runtime):
    source = owned_dir(runtime, "source")
    entries = [
        {"destination": f"/flag/{option}", "type": "bind", "source": str(source), "options": ["rbind", option]} for option in ATIME_OPTIONS
    ]
    _bundle, result = run_mounts(runtime, entries)
    mounts = _mounts_of(result)
    for option in ATIME_OPTIONS:
        options = mounts[f"/flag/{option}"].options
        if runtime.rootless:
            # The kernel locks the atime mode of a host mount in a user
            # namespace; the bind keeps the source's relatime instead of failing.
            assert "relatime" in options, option
            assert option.lstrip("r") not in options, option
        else:
            assert option.lstrip("r") in options, option


def test_bind_rw_is_writable(runtime):
    source = owned_dir(runtime, "source")
    _bundle, result = run_mounts(runtime, [_bind("/data", source, "rw")], args=["sh", "-c", "echo hi > /data/out"])
    assert result.returncode == 0, result
    assert (source / "out").read_text() == "hi\n"


def test_bind_and_rbind_with_submount(root_runtime):
    runtime = root_runtime
    source = owned_dir(runtime, "tree")
    (source / "sub").mkdir()
    with host_mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=source / "sub"):
        (source / "sub" / "marker").write_text("sub\n")
        _bundle, result = run_mounts(
            runtime,
            [
                _bind("/plain", source),
                {"destination": "/recursive", "type": "bind", "source": str(source), "options": ["rbind", "ro"]},
                {"destination": "/rro", "type": "bind", "source": str(source), "options": ["rbind", "rro"]},
            ],
        )
    mounts = _mounts_of(result)
    assert "/plain/sub" not in mounts
    assert mounts["/recursive/sub"].fstype == "tmpfs"
    # ro applies to the top mount only; rro to every mount of the tree.
    assert "ro" in mounts["/recursive"].options
    assert "rw" in mounts["/recursive/sub"].options
    assert "ro" in mounts["/rro"].options
    assert "ro" in mounts["/rro/sub"].options


RECURSIVE_OPTIONS = {"rnosuid": "nosuid", "rnodev": "nodev", "rnoexec": "noexec", "rro": "ro"}


def test_recursive_options_shown(runtime):
    source = owned_dir(runtime, "source")
    entries = [
        {"destination": f"/flag/{option}", "type": "bind", "source": str(source), "options": ["rbind", option]}
        for option in RECURSIVE_OPTIONS
    ]
    _bundle, result = run_mounts(runtime, entries)
    mounts = _mounts_of(result)
    for option, shown in RECURSIVE_OPTIONS.items():
        assert shown in mounts[f"/flag/{option}"].options, option


def test_recursive_read_only_on_tmpfs(runtime):
    _bundle, result = run_mounts(runtime, [_tmpfs("/data", "rro"), _tmpfs("/data/inner")])
    mounts = _mounts_of(result)
    assert "ro" in mounts["/data"].options
    assert "ro" in mounts["/data/inner"].options


@pytest.mark.parametrize(
    "option, field",
    [
        ("private", None),
        ("rprivate", None),
        ("shared", "shared"),
        ("rshared", "shared"),
        ("slave", "master"),
        ("rslave", "master"),
        ("unbindable", "unbindable"),
        ("runbindable", "unbindable"),
    ],
)
def test_propagation_option(runtime, option, field):
    source = owned_dir(runtime, "source")
    if field == "master":
        # A relative source is in the bundle: rootfs/data is the shared
        # mount of the first entry, so the second joins its peer group
        # before it becomes a slave of it.
        mounts = [_bind("/data", source, "shared"), _bind("/view", "rootfs/data", option)]
    else:
        mounts = [_bind("/view", source, option)]
    _bundle, result = run_mounts(runtime, mounts)
    view = _mounts_of(result)["/view"]
    if field is None:
        assert not view.optional, view
    else:
        assert view.has_optional(field), view


def test_unknown_option_is_filesystem_data(runtime):
    _bundle, result = run_mounts(runtime, [_tmpfs("/data", "nr_blocks=64", "nr_inodes=50")])
    assert {"size=256k", "nr_inodes=50"} <= _mounts_of(result)["/data"].super_options


# -- other filesystems ----------------------------------------------------------------


def test_proc_sysfs_devpts_mqueue_cgroup2(runtime):
    _bundle, result = run_mounts(
        runtime,
        [
            {"destination": "/extra/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/extra/sys", "type": "sysfs", "source": "sysfs", "options": ["ro", "nosuid"]},
            {"destination": "/extra/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "ptmxmode=0600", "mode=0600"]},
            {"destination": "/extra/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nodev"]},
            {"destination": "/extra/cgroup", "type": "cgroup2", "source": "cgroup2", "options": ["ro"]},
        ],
    )
    mounts = _mounts_of(result)
    assert mounts["/extra/proc"].fstype == "proc"
    assert {"nosuid", "noexec", "nodev"} <= mounts["/extra/proc"].options
    # A rootless container without its own network namespace gets a bind of the host's /sys.
    assert mounts["/extra/sys"].fstype == "sysfs"
    assert "ro" in mounts["/extra/sys"].options
    assert mounts["/extra/pts"].fstype == "devpts"
    assert {"ptmxmode=600", "mode=600"} <= mounts["/extra/pts"].super_options
    assert mounts["/extra/mqueue"].fstype == "mqueue"
    assert mounts["/extra/cgroup"].fstype == "cgroup2"
    assert "ro" in mounts["/extra/cgroup"].options


def test_cgroup_v1_type(runtime):
    _bundle, result = run_mounts(
        runtime,
        [{"destination": "/extra/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid"]}],
        args=["sh", "-c", "cat /proc/self/mountinfo; ls /extra/cgroup"],
    )
    assert result.returncode == 0, result
    mounts = parse_mountinfo(result.stdout)
    assert "ro" in mounts["/extra/cgroup"].options
    assert any(path.startswith("/extra/cgroup/") and info.fstype in ("cgroup", "cgroup2") for path, info in mounts.items())


def test_ramfs_passes_data(runtime):
    _bundle, result = run_mounts(
        runtime,
        [{"destination": "/ram", "type": "ramfs", "source": "ramfs", "options": ["mode=700", "nosuid"]}],
    )
    mounts = _mounts_of(result)
    assert mounts["/ram"].fstype == "ramfs"
    assert "mode=700" in mounts["/ram"].super_options
    assert "nosuid" in mounts["/ram"].options


def test_overlay(runtime):
    lower = owned_dir(runtime, "lower")
    (lower / "old").write_text("lower\n")
    os.chown(lower / "old", runtime.uid, runtime.gid)
    upper = owned_dir(runtime, "upper")
    work = owned_dir(runtime, "work")
    data = f"lowerdir={lower},upperdir={upper},workdir={work}"
    _bundle, result = run_mounts(
        runtime,
        [{"destination": "/merged", "type": "overlay", "source": "overlay", "options": data.split(",")}],
        args=["sh", "-c", "cat /merged/old; echo new > /merged/new; cat /proc/self/mountinfo"],
    )
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[0] == "lower"
    assert parse_mountinfo(result.stdout)["/merged"].fstype == "overlay"
    assert (upper / "new").read_text() == "new\n"
    assert not (lower / "new").exists()


def test_overlay_relative_dirs_are_in_bundle(runtime):
    options = ["lowerdir=lower", "upperdir=upper", "workdir=work"]
    config = config_with_mounts(
        runtime, [{"destination": "/merged", "type": "overlay", "source": "overlay", "options": options}], args=["cat", "/merged/f"]
    )
    bundle = runtime.bundle(config)
    for name in ("lower", "upper", "work"):
        (bundle.path / name).mkdir()
    (bundle.path / "lower" / "f").write_text("relative\n")
    support.chown_tree(bundle.path, runtime.uid, runtime.gid)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout == "relative\n"


# -- user namespaces: locked flags -----------------------------------------------------


def test_rootless_bind_keeps_locked_read_only(rootless_runtime):
    runtime = rootless_runtime
    source = owned_dir(runtime, "locked")
    with host_mount("-t", "tmpfs", "-o", "ro,nosuid,nodev,noexec,noatime", "tmpfs", target=source):
        _bundle, result = run_mounts(runtime, [_bind("/data", source, "rw", "suid", "dev", "exec", "strictatime")])
    mounts = _mounts_of(result)
    assert {"ro", "nosuid", "nodev", "noexec", "noatime"} <= mounts["/data"].options


def test_rootless_readonly_path_on_locked_mount(rootless_runtime):
    runtime = rootless_runtime
    source = owned_dir(runtime, "locked")
    with host_mount("-t", "tmpfs", "-o", "nosuid,nodev,relatime", "tmpfs", target=source):
        _bundle, result = run_mounts(runtime, [_bind("/data", source)], readonlyPaths=["/data"])
    mounts = _mounts_of(result)
    assert {"ro", "nosuid", "nodev", "relatime"} <= mounts["/data"].options


# -- idmapped mounts --------------------------------------------------------------------


def test_idmap_bind_as_root(root_runtime):
    runtime = root_runtime
    source = owned_dir(runtime, "owned")
    os.chown(source, 0, 0)
    (source / "by-root").write_text("x")
    os.chown(source / "by-root", 0, 0)
    (source / "by-1000").write_text("x")
    os.chown(source / "by-1000", 1000, 1000)
    mount = _bind("/data", source, "idmap")
    mount["uidMappings"] = [{"containerID": 0, "hostID": 5000, "size": 2000}]
    mount["gidMappings"] = [{"containerID": 0, "hostID": 7000, "size": 2000}]
    _bundle, result = run_mounts(
        runtime, [mount], args=["sh", "-c", "stat -c '%n %u %g' /data/by-root /data/by-1000; cat /proc/self/mountinfo"]
    )
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[:2] == ["/data/by-root 5000 7000", "/data/by-1000 6000 8000"]
    assert "idmapped" in parse_mountinfo(result.stdout)["/data"].options
    assert os.stat(source / "by-root").st_uid == 0


def test_idmap_rootless_on_container_tmpfs(rootless_runtime):
    runtime = rootless_runtime
    config = config_with_mounts(runtime, [], args=["sh", "-c", "stat -c '%u %g' /scratch/file /shifted/file; cat /proc/self/mountinfo"])
    bundle = runtime.bundle(config)
    (bundle.rootfs / "scratch").mkdir()
    (bundle.rootfs / "scratch" / "file").write_text("x")
    support.chown_tree(bundle.rootfs / "scratch", runtime.uid, runtime.gid)
    # tmpcopyup fills a tmpfs that the container's user namespace owns, so
    # the container may idmap it: container uid 0 shows as container uid 100.
    idmapped = _bind("/shifted", bundle.rootfs / "scratch", "idmap")
    idmapped["uidMappings"] = [{"containerID": 0, "hostID": support.SUBID_START + 99, "size": 1}]
    idmapped["gidMappings"] = [{"containerID": 0, "hostID": support.SUBID_START + 99, "size": 1}]
    config["mounts"] += [_tmpfs("/scratch", "tmpcopyup"), idmapped]
    bundle.config = config
    bundle.write()
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[:2] == ["0 0", "100 100"]
    assert "idmapped" in parse_mountinfo(result.stdout)["/shifted"].options
