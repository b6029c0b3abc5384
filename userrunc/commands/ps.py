"""`ps`: the processes of a container, as ps(1) rows or a JSON array of PIDs."""

from __future__ import annotations

import json
import subprocess

from ..container import Container
from ..errors import UserruncError
from ..status import STOPPED


def container_pids(container: Container) -> list[int]:
    if container.status() == STOPPED:
        return []
    if container.cgroup is not None:
        pids = container.cgroup.pids()
        if pids:
            return sorted(pids)
    from ..container import _pids_in_namespace_of

    if "pid" in container.state.get("namespaces", []):
        return sorted(_pids_in_namespace_of(container.pid, container.state.get("initStartTime")))
    return [container.pid]


def run(invocation) -> int:
    with Container.load(invocation.globals, invocation.args[0]) as container:
        pids = container_pids(container)
    if invocation.options.get("format") == "json":
        print(json.dumps(pids))
        return 0
    ps_args = invocation.args[1:] or ["-ef"]
    try:
        output = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise UserruncError(f"cannot run ps {' '.join(ps_args)}: {error}") from None
    lines = output.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    if "PID" not in header:
        raise UserruncError(f"ps {' '.join(ps_args)} printed no PID column")
    column = header.index("PID")
    listed = set(pids)
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in listed:
            print(line)
    return 0
