"""`pause` and `resume`: freeze and thaw all processes of a container through its cgroup."""

from __future__ import annotations

from ..container import Container
from ..errors import InvalidState
from ..status import PAUSED, RUNNING


def set_paused(invocation, paused: bool) -> int:
    with Container.load(invocation.globals, invocation.args[0]) as container:
        status = container.status()
        expected_status = RUNNING if paused else PAUSED
        if status != expected_status:
            action = "pause" if paused else "resume"
            raise InvalidState(container.id, status, f"cannot {action} container {container.id!r}: it is {status}")
        if container.cgroup is None:
            raise InvalidState(
                container.id,
                status,
                f"cannot pause container {container.id!r}: it has no cgroup of its own "
                "(unprivileged on cgroup v1, or --cgroup-manager disabled); pausing needs one: "
                "run it as root, or without root on cgroup v2 with --systemd-cgroup",
            )
        container.cgroup.set_frozen(paused)
    return 0


def run(invocation) -> int:
    return set_paused(invocation, True)
