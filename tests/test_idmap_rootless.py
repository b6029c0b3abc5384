"""Automatic subordinate-id mapping for unprivileged callers, its errors, and `doctor`, with real users."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import support
from userrunc.idmap import free_range


def _automatic_config(runtime):
    """The rootless config without explicit mappings, so userrunc picks them."""
    config = runtime.config()
    config["linux"].pop("uidMappings")
    config["linux"].pop("gidMappings")
    return config


def _doctor(runtime, *args):
    return runtime("doctor", "--format", "json", *args)


def _by_name(checks):
    found = {}
    for check in checks:
        found.setdefault(check["check"], []).append(check)
    return found


def test_full_mapping_chown_inside(rootless_runtime):
    runtime = rootless_runtime
    config = _automatic_config(runtime)
    config["root"]["readonly"] = False
    script = "cat /proc/self/uid_map; touch /tmp/f && chown 1000:1000 /tmp/f && stat -c %u:%g /tmp/f"
    bundle = runtime.bundle(config=config, args=["sh", "-c", script])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["0", str(runtime.uid), "1"]
    assert lines[1].split() == ["1", str(support.SUBID_START), str(support.SUBID_COUNT)]
    assert lines[2] == "1000:1000"
    host = os.stat(bundle.rootfs / "tmp" / "f")
    # Container id 1000 is the 1000th subordinate id (container id 1 is the first).
    assert (host.st_uid, host.st_gid) == (support.SUBID_START + 999, support.SUBID_START + 999)
    assert result.stderr == ""


def test_setgroups_and_su_inside(rootless_runtime):
    runtime = rootless_runtime
    config = _automatic_config(runtime)
    bundle = runtime.bundle(config=config, args=["su", "-s", "/bin/sh", "user", "-c", "id -u; id -G; cat /proc/self/setgroups"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["1000", "1000", "allow"]


def test_unmapped_gid_and_additional_gid(rootless_runtime):
    runtime = rootless_runtime
    config = _automatic_config(runtime)
    bundle = runtime.bundle(config=config, user={"uid": 0, "gid": 0, "additionalGids": [70000]})
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: process.user.additionalGids[0] 70000 is not mapped in the container's user namespace "
        f"(gid_map: 0 {runtime.gid} 1; 1 {support.SUBID_START} {support.SUBID_COUNT})"
    ]
    bundle = runtime.bundle(config=config, user={"uid": 0, "gid": 90000})
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 1
    assert result.err_lines == [
        f"userrunc: run: process.user.gid 90000 is not mapped in the container's user namespace "
        f"(gid_map: 0 {runtime.gid} 1; 1 {support.SUBID_START} {support.SUBID_COUNT}); "
        "map it with linux.gidMappings or /etc/subgid ranges"
    ]


def test_spec_rootless_writes_full_mapping(rootless_runtime):
    runtime = rootless_runtime
    target = runtime.workdir / "spec"
    target.mkdir()
    os.chown(target, runtime.uid, runtime.gid)
    assert runtime("spec", "--rootless", "--bundle", str(target)).returncode == 0
    linux = json.loads((target / "config.json").read_text())["linux"]
    assert linux["uidMappings"] == [
        {"containerID": 0, "hostID": runtime.uid, "size": 1},
        {"containerID": 1, "hostID": support.SUBID_START, "size": support.SUBID_COUNT},
    ]
    assert linux["gidMappings"][1] == {"containerID": 1, "hostID": support.SUBID_START, "size": support.SUBID_COUNT}


def test_doctor_all_good_for_user_with_ranges(rootless_runtime):
    result = _doctor(rootless_runtime)
    checks = _by_name(json.loads(result.stdout))
    assert checks["user namespaces"][0]["status"] == "ok"
    assert checks["subuid ranges"][0]["status"] == "ok"
    assert checks["subuid ranges"][0]["detail"] == f"urtest: {support.SUBID_START}-{support.SUBID_START + 65535} (65536 ids)"
    assert checks["newuidmap"][0]["status"] == "ok"
    assert checks["state directory"][0]["status"] == "ok"
    assert result.returncode == 0


def test_doctor_table(rootless_runtime):
    result = rootless_runtime("doctor")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "DETAIL"]
    assert any(line.startswith("user namespaces") and " ok " in line for line in lines)


def test_user_without_ranges_gets_single_mapping(runtime_for, user_without_ranges):
    runtime = runtime_for(user_without_ranges)
    config = _automatic_config(runtime)
    for mount in config["mounts"]:
        mount["options"] = [item for item in mount.get("options", []) if not item.startswith("gid=")]
    bundle = runtime.bundle(config=config, args=["sh", "-c", "cat /proc/self/uid_map /proc/self/setgroups"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert [line.split() for line in result.stdout.splitlines()] == [["0", str(runtime.uid), "1"], ["deny"]]
    first, last = free_range()
    assert result.err_lines == [
        f"userrunc: warning: /etc/subuid has no entry for urnorange, so only uid {runtime.uid} and gid {runtime.gid} "
        f"are mapped (to root); an administrator can add one, e.g. "
        f"'usermod --add-subuids {first}-{last} --add-subgids {first}-{last} urnorange'"
    ]


def test_doctor_for_user_without_ranges(runtime_for, user_without_ranges):
    runtime = runtime_for(user_without_ranges)
    result = _doctor(runtime)
    checks = _by_name(json.loads(result.stdout))
    subuid = checks["subuid ranges"][0]
    assert subuid["status"] == "warning"
    assert subuid["detail"] == "no entry for urnorange in /etc/subuid: containers get only your own uid (mapped to root)"
    first, last = free_range()
    assert subuid["fix"] == (
        f"usermod --add-subuids {first}-{last} urnorange (as root; this range is above every range in /etc/subuid and /etc/subgid)"
    )
    assert first >= support.SUBID_START + support.SUBID_COUNT
    assert result.returncode == 0


def test_malformed_line_is_skipped_and_reported(runtime_for, user_with_malformed_line):
    runtime = runtime_for(user_with_malformed_line)
    config = _automatic_config(runtime)
    for mount in config["mounts"]:
        mount["options"] = [item for item in mount.get("options", []) if not item.startswith("gid=")]
    bundle = runtime.bundle(config=config, args=["cat", "/proc/self/uid_map"])
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert [line.split() for line in result.stdout.splitlines()] == [["0", str(runtime.uid), "1"]]
    checks = _by_name(json.loads(_doctor(runtime).stdout))
    # Other users' lines may be malformed too; this test looks at its own.
    syntax = [check for check in checks["/etc/subuid syntax"] if "urbadline:" in check["detail"]]
    assert len(syntax) == 1
    assert syntax[0]["status"] == "warning"
    assert "is malformed" in syntax[0]["detail"]
    assert "urbadline:lots:65536" in syntax[0]["detail"]
    with open("/etc/subuid") as handle:
        number = [line.rstrip("\n") for line in handle].index("urbadline:lots:65536") + 1
    assert syntax[0]["detail"].startswith(f"line {number} of /etc/subuid is malformed")


def _in_mount_namespace_with_broken_newuidmap(runtime, args):
    """Run userrunc as the test user where /usr/bin/newuidmap is a copy without setuid."""
    broken = runtime.workdir / "newuidmap-copy"
    shutil.copy("/usr/bin/newuidmap", broken)
    os.chmod(broken, 0o755)
    inner = " ".join(runtime.command(args))
    script = f"mount --bind {broken} /usr/bin/newuidmap && exec {inner}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env=runtime.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(runtime.workdir),
    )


def test_unusable_newuidmap_is_a_clear_error(rootless_runtime):
    runtime = rootless_runtime
    bundle = runtime.bundle(config=_automatic_config(runtime), args=["true"])
    container_id = runtime.container_id()
    result = _in_mount_namespace_with_broken_newuidmap(runtime, ["run", "-b", str(bundle), container_id])
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("userrunc: run: ")
    assert "/usr/bin/newuidmap" in lines[0]
    assert "setuid" in lines[0]
    assert not (runtime.state_root / container_id).exists()


def test_doctor_with_unusable_newuidmap(rootless_runtime):
    runtime = rootless_runtime
    result = _in_mount_namespace_with_broken_newuidmap(runtime, ["doctor", "--format", "json"])
    checks = _by_name(json.loads(result.stdout))
    assert checks["newuidmap"][0]["status"] == "failed"
    assert "/usr/bin/newuidmap" in checks["newuidmap"][0]["detail"]
    assert checks["newgidmap"][0]["status"] == "ok"
    assert result.returncode == 1


def test_mapping_beyond_granted_range_is_rejected(rootless_runtime):
    runtime = rootless_runtime
    config = runtime.config()
    config["linux"]["uidMappings"] = [
        {"containerID": 0, "hostID": runtime.uid, "size": 1},
        {"containerID": 1, "hostID": support.SUBID_START, "size": support.SUBID_COUNT + 1},
    ]
    bundle = runtime.bundle(config=config)
    container_id = runtime.container_id()
    result = runtime("run", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("userrunc: run: invalid config.json: linux.uidMappings: ")
    assert str(support.SUBID_START) in result.err_lines[0]
    assert not (runtime.state_root / container_id).exists()


def _inside_single_user_namespace(runtime, prelude, args):
    """Run userrunc as the test user inside `unshare --user --map-root-user`, after a shell prelude."""
    inner = " ".join(runtime.command(args, root_option=False)[len(runtime.command([], root_option=False)) - 1 :])
    userrunc = support.USERRUNC
    script = f"{prelude} exec {userrunc} {inner[len(userrunc) + 1:]}"
    command = ["setpriv", f"--reuid={runtime.uid}", f"--regid={runtime.gid}", "--clear-groups",
               "unshare", "--user", "--map-root-user", "sh", "-c", script]
    return subprocess.run(command, env=runtime.environment(), capture_output=True, text=True, timeout=60, cwd=str(runtime.workdir))


def test_user_namespace_limit_zero(rootless_runtime):
    runtime = rootless_runtime
    bundle = runtime.bundle(config=_automatic_config(runtime), args=["true"])
    container_id = runtime.container_id()
    # The limit is per user namespace, so this changes nothing outside the test.
    result = _inside_single_user_namespace(
        runtime, "echo 0 > /proc/sys/user/max_user_namespaces &&", ["run", "-b", str(bundle), container_id]
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("userrunc: run: cannot create a user namespace: ")
    assert "user.max_user_namespaces" in lines[0]
    assert not (runtime.state_root / container_id).exists()


def test_nested_namespace_cannot_map_subordinate_ids(rootless_runtime):
    runtime = rootless_runtime
    config = runtime.config()
    bundle = runtime.bundle(config=config, args=["true"])
    container_id = runtime.container_id()
    # In a namespace that maps one id, the full mapping of config.json cannot be written.
    result = _inside_single_user_namespace(runtime, "", ["run", "-b", str(bundle), container_id])
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("userrunc: run: ")
    assert not (runtime.state_root / container_id).exists()


def test_nested_namespace_runs_with_single_mapping(rootless_runtime):
    runtime = rootless_runtime
    config = _automatic_config(runtime)
    for mount in config["mounts"]:
        mount["options"] = [item for item in mount.get("options", []) if not item.startswith("gid=")]
    bundle = runtime.bundle(config=config, args=["cat", "/proc/self/uid_map"])
    result = _inside_single_user_namespace(runtime, "", ["run", "-b", str(bundle), runtime.container_id()])
    assert result.returncode == 0, result
    assert result.stdout.split() == ["0", "0", "1"]
