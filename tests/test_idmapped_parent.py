"""Idmapped bind mounts built by the parent, for real root running a container with a user namespace."""

from __future__ import annotations

import json
import os

import support


def _shifted_config(runtime):
    config = runtime.config()
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    return config


def _shared_dir(runtime):
    shared = runtime.workdir / "shared"
    shared.mkdir()
    (shared / "rootfile").touch()
    (shared / "userfile").touch()
    os.chown(shared / "userfile", 1000, 1000)
    return shared


def _owners(output):
    return {line.split()[-1]: (line.split()[2], line.split()[3]) for line in output.splitlines() if line.startswith("-")}


def test_idmap_uses_container_namespace(root_runtime):
    runtime = root_runtime
    shared = _shared_dir(runtime)
    config = _shifted_config(runtime)
    config["mounts"].append({"destination": "/mnt/plain", "type": "bind", "source": str(shared), "options": ["bind"]})
    config["mounts"].append({"destination": "/mnt/mapped", "type": "bind", "source": str(shared), "options": ["bind", "idmap"]})
    bundle = runtime.bundle(config=config, args=["sh", "-c", "ls -ln /mnt/plain; echo --; ls -ln /mnt/mapped"])
    support.chown_tree(bundle.path, 300000, 300000)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    plain, mapped = result.stdout.split("--\n")
    assert _owners(plain) == {"rootfile": ("65534", "65534"), "userfile": ("65534", "65534")}
    assert _owners(mapped) == {"rootfile": ("0", "0"), "userfile": ("1000", "1000")}


def test_idmap_with_own_mappings(root_runtime):
    runtime = root_runtime
    shared = _shared_dir(runtime)
    config = _shifted_config(runtime)
    # On disk uid 1000 is shown as host uid 301000, which is uid 1000+1000 in the container.
    config["mounts"].append(
        {
            "destination": "/mnt/mapped",
            "type": "bind",
            "source": str(shared),
            "options": ["bind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 301000, "size": 2000}],
            "gidMappings": [{"containerID": 0, "hostID": 301000, "size": 2000}],
        }
    )
    bundle = runtime.bundle(config=config, args=["ls", "-ln", "/mnt/mapped"])
    support.chown_tree(bundle.path, 300000, 300000)
    result = runtime("run", "-b", str(bundle), runtime.container_id())
    assert result.returncode == 0, result
    assert _owners(result.stdout) == {"rootfile": ("1000", "1000"), "userfile": ("2000", "2000")}


def test_idmap_in_joined_user_namespace(root_runtime):
    runtime = root_runtime
    shared = _shared_dir(runtime)
    first = runtime.bundle(config=_shifted_config(runtime), args=["sleep", "60"])
    support.chown_tree(first.path, 300000, 300000)
    first_id = runtime.container_id("first")
    assert runtime("run", "-d", "-b", str(first), first_id).returncode == 0
    pid = json.loads(runtime("state", first_id).stdout)["pid"]
    config = runtime.config()
    config["linux"]["namespaces"].append({"type": "user", "path": f"/proc/{pid}/ns/user"})
    config["mounts"].append({"destination": "/mnt/mapped", "type": "bind", "source": str(shared), "options": ["bind", "idmap"]})
    second = runtime.bundle(config=config, args=["ls", "-ln", "/mnt/mapped"])
    support.chown_tree(second.path, 300000, 300000)
    result = runtime("run", "-b", str(second), runtime.container_id("second"))
    assert result.returncode == 0, result
    assert _owners(result.stdout) == {"rootfile": ("0", "0"), "userfile": ("1000", "1000")}
    assert runtime("delete", "--force", first_id).returncode == 0
