"""`delete`: remove a container, killing its init first if it was created but not started.

A running container needs --force. Deleting runs the poststop hooks after
the processes are gone, then removes the cgroup and the state directory.
"""

from __future__ import annotations

from .. import hooks, log, store
from ..cgroups import destroy_quietly
from ..container import Container
from ..errors import ContainerNotFound, InvalidState
from ..status import PAUSED, RUNNING, STOPPED

KILL_TIMEOUT = 10.0


def destroy(container: Container, force: bool) -> None:
    """Stop what is left of the container, run poststop hooks and remove its state."""
    status = container.status()
    if status in (RUNNING, PAUSED) and not force:
        raise InvalidState(
            container.id,
            status,
            f"cannot delete container {container.id!r}: it is {status}; stop it first or use --force",
        )
    if status != STOPPED:
        container.signal_all(9)
        if status == PAUSED:
            # A frozen task dies of SIGKILL only once thawed (cgroup v1).
            container.cgroup.set_frozen(False)
        if not container.wait_for_exit(KILL_TIMEOUT):
            raise InvalidState(container.id, status, f"container {container.id!r} did not exit within {KILL_TIMEOUT:.0f} s of SIGKILL")
    elif container.cgroup is not None and container.cgroup.pids():
        container.signal_all(9)
    destroy_quietly(container.cgroup)
    spec_hooks = container.state.get("hooks")
    if hooks.has(spec_hooks, "poststop"):
        state = container.oci_state()
        hooks.run(spec_hooks, "poststop", dict(state, status=STOPPED))
    container.directory.remove()


def run(invocation) -> int:
    force = bool(invocation.options.get("force"))
    container_id = invocation.args[0]
    try:
        container = Container.load(invocation.globals, container_id)
    except ContainerNotFound:
        if force:
            _remove_leftover(invocation.globals, container_id)
            return 0
        raise
    with container:
        destroy(container, force)
    return 0


def _remove_leftover(global_options: dict, container_id: str) -> None:
    """With --force, remove a directory that a crashed create left without state.json."""
    try:
        directory = store.ContainerDir.open(store.state_root(global_options), container_id)
    except ContainerNotFound:
        return
    try:
        if not directory.has_state():
            log.debug(f"removing the state directory of {container_id}, which has no state.json")
            directory.remove()
    finally:
        directory.close()
