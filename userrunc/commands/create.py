"""`create`: set a container up and leave its init waiting for `start`."""

from __future__ import annotations

import os
import time

from .. import OCI_VERSION, config, hooks, log, store


def load_bundle(options: dict) -> tuple[str, str, dict, str]:
    """Return (bundle, config path, validated spec, rootfs path) for --bundle and --config."""
    from ..errors import UserruncError

    bundle = os.path.abspath(options.get("bundle") or ".")
    if not os.path.isdir(bundle):
        raise UserruncError(f"bundle {bundle} is not a directory (--bundle)")
    config_path = options.get("config") or os.path.join(bundle, "config.json")
    if not os.path.isabs(config_path):
        config_path = os.path.abspath(config_path)
    with log.step("load config"):
        spec = config.load(config_path)
    rootfs = config.resolve_paths(spec, bundle)
    return bundle, config_path, spec, rootfs


def create_container(invocation, foreground: bool):
    """Create the container; return (directory, Created, state). The directory stays locked."""
    from ..cgroups import manager_name
    from ..process.parent import CreateRequest, check_preserved_fds, create

    options = invocation.options
    global_options = invocation.globals
    container_id = store.validate_id(invocation.args[0])
    check_preserved_fds(options.get("preserve_fds") or 0)
    bundle, config_path, spec, rootfs = load_bundle(options)
    rootless = store.is_rootless(global_options)
    cgroup_manager = manager_name(global_options)
    root = store.state_root(global_options)
    directory = store.ContainerDir.create(root, container_id)
    try:
        request = CreateRequest(
            container_id=container_id,
            bundle=bundle,
            spec=spec,
            rootfs=rootfs,
            container_dir=directory,
            console_socket=options.get("console_socket"),
            no_pivot=options.get("no_pivot"),
            no_new_keyring=options.get("no_new_keyring"),
            preserve_fds=options.get("preserve_fds") or 0,
            rootless=rootless,
            privileged=store.is_real_root(),
            maps_any_id=os.geteuid() == 0,
            foreground=foreground,
            cgroup_manager=cgroup_manager,
        )
        with log.step("create"):
            created = create(request)
        try:
            state = {
                "ociVersion": OCI_VERSION,
                "id": container_id,
                "pid": created.pid,
                "initStartTime": created.start_time,
                "bundle": bundle,
                "configPath": config_path,
                "rootfs": rootfs,
                "created": log.format_time(time.time()),
                "owner": _owner(),
                "annotations": spec.get("annotations") or {},
                "namespaces": created.namespaces,
                "cgroup": created.cgroup.record() if created.cgroup is not None else None,
                "hooks": hooks.remove_unused(spec.get("hooks")),
                "rootless": rootless,
            }
            directory.write_state(state)
            if options.get("pid_file"):
                write_pid_file(options["pid_file"], created.pid)
        except BaseException:
            _kill_created(created)
            raise
    except BaseException:
        directory.remove()
        directory.close()
        raise
    return directory, created, state


def _kill_created(created) -> None:
    from ..cgroups import destroy_quietly
    from ..status import open_pidfd

    fd = open_pidfd(created.pid, created.start_time)
    if fd is not None:
        import _signal

        try:
            _signal.pidfd_send_signal(fd, 9)
        except ProcessLookupError:
            pass
        os.close(fd)
    if created.child_pid:
        try:
            os.waitpid(created.child_pid, 0)
        except ChildProcessError:
            pass
    destroy_quietly(created.cgroup)


def _owner() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def write_pid_file(path: str, pid: int) -> None:
    """Write the PID atomically (a temporary file renamed into place), as runc does."""
    from ..errors import UserruncError

    path = os.path.abspath(path)
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.tmp")
    try:
        with open(temporary, "w") as handle:
            handle.write(str(pid))
        os.rename(temporary, path)
    except OSError as error:
        raise UserruncError(f"cannot write --pid-file {path}: {error.strerror}") from None


def run(invocation) -> int:
    directory, created, _state = create_container(invocation, foreground=False)
    directory.close()
    if created.pty_master is not None:
        os.close(created.pty_master)
    return 0
