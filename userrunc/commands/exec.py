"""`exec`: run a new process in a running container, as runc exec does.

The process starts from the container's own process object in its
config.json (or from --process FILE), with the command line and the flags
on top. It joins every namespace of the container's init and its cgroup.
In the foreground, exec forwards signals, copies a pseudoterminal with
--tty, and returns the process's exit status (128+N for signal N).
"""

from __future__ import annotations

import copy
import os

from .. import config as config_module
from .. import jsonutil, log
from ..container import Container
from ..errors import InvalidArgument, InvalidConfig, InvalidState, UserruncError
from ..status import CREATED, PAUSED, RUNNING


def _load_process(container: Container, options: dict) -> tuple[dict, dict]:
    """Return (process, the container's config) for the new process, before the flags."""
    config_path = container.state.get("configPath") or os.path.join(container.state["bundle"], "config.json")
    try:
        spec = config_module.load(config_path)
    except UserruncError as error:
        raise UserruncError(f"cannot read the container's configuration: {error}") from None
    if not options.get("process"):
        return copy.deepcopy(spec["process"]), spec
    path = options["process"]
    try:
        with open(path, "rb") as handle:
            process = jsonutil.loads(handle.read())
    except OSError as error:
        raise UserruncError(f"cannot read --process {path}: {error.strerror}") from None
    except ValueError as error:
        raise UserruncError(f"invalid --process {path}: malformed JSON: {error}") from None
    return process, spec


def _parse_user(text: str) -> tuple[int, int | None]:
    uid_text, _sep, gid_text = text.partition(":")
    if not uid_text.isdigit() or (gid_text and not gid_text.isdigit()):
        raise InvalidArgument(f"invalid --user {text!r}: expected UID or UID:GID as numbers")
    return int(uid_text), int(gid_text) if gid_text else None


def build_process(process: dict, options: dict, command: list[str]) -> dict:
    """Apply the command line and the flags of exec to a process object."""
    if command:
        process["args"] = list(command)
    elif not options.get("process"):
        raise InvalidArgument("exec needs a command to run, or --process FILE")

    if options.get("env"):
        process["env"] = list(process.get("env") or []) + list(options["env"])
    if options.get("cwd"):
        process["cwd"] = options["cwd"]

    if options.get("user"):
        uid, gid = _parse_user(options["user"])
        user = dict(process.get("user") or {"uid": 0, "gid": 0})
        user["uid"] = uid
        if gid is not None:
            user["gid"] = gid
        process["user"] = user
    if options.get("additional_gids"):
        gids = []
        for item in options["additional_gids"]:
            if not item.isdigit():
                raise InvalidArgument(f"invalid --additional-gids {item!r}: expected a number")
            gids.append(int(item))
        user = dict(process.get("user") or {"uid": 0, "gid": 0})
        user["additionalGids"] = list(user.get("additionalGids") or []) + gids
        process["user"] = user

    if options.get("cap"):
        capabilities = dict(process.get("capabilities") or {})
        # A non-root process keeps a capability across execve only as ambient,
        # which the kernel allows only when it is inheritable too.
        for set_name in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            names = list(capabilities.get(set_name) or [])
            names.extend(name for name in options["cap"] if name not in names)
            capabilities[set_name] = names
        process["capabilities"] = capabilities

    if options.get("no_new_privs"):
        process["noNewPrivileges"] = True
    if options.get("apparmor"):
        process["apparmorProfile"] = options["apparmor"]
    if options.get("process_label"):
        process["selinuxLabel"] = options["process_label"]
    process["terminal"] = bool(options.get("tty")) or (bool(process.get("terminal")) and bool(options.get("process")))
    return process


def _validate(process: dict, from_file: str | None) -> None:
    try:
        config_module.validate_process(process)
    except InvalidConfig as error:
        where = f"--process {from_file}" if from_file else "the exec process"
        raise UserruncError(f"invalid {where}: {error.path}: {error.problem}") from None


def run(invocation) -> int:
    from ..process.parent import check_preserved_fds

    options = invocation.options
    container_id, command = invocation.args[0], invocation.args[1:]
    check_preserved_fds(options.get("preserve_fds") or 0)
    detach = bool(options.get("detach"))
    container = Container.load(invocation.globals, container_id)
    try:
        status = container.status()
        if status != RUNNING and not (status == PAUSED and options.get("ignore_paused")):
            hint = {PAUSED: "; resume it first, or pass --ignore-paused", CREATED: "; start it first"}.get(status, "")
            raise InvalidState(container.id, status, f"cannot exec in container {container.id!r}: it is {status}{hint}")
        process, spec = _load_process(container, options)
        process = build_process(process, options, command)
        _validate(process, options.get("process"))
        if process["terminal"] and detach and not options.get("console_socket"):
            raise UserruncError("exec --tty --detach needs --console-socket to receive the pty master")
        if options.get("console_socket") and not process["terminal"]:
            raise UserruncError("--console-socket was given without --tty; remove one of them")
        from ..process.exec_parent import start_process

        started = start_process(container, spec, process, options, foreground=not detach)
    finally:
        container.close()
    if options.get("pid_file"):
        from .create import write_pid_file

        write_pid_file(options["pid_file"], started.pid)
    if detach:
        return 0
    log.debug(f"exec: waiting for process {started.pid}")
    from ..process.exec_parent import wait

    return wait(started)
