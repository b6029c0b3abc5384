"""`list`: the containers under the state root, as a table or JSON.

State files are replaced atomically (written to a temporary file, then
renamed), so `list` reads them without taking the per-container locks and
does not wait for a command in progress.
"""

from __future__ import annotations

import json
import os

from .. import status as status_module
from .. import store


def _load(root: str, container_id: str) -> dict | None:
    path = os.path.join(root, container_id, store.STATE_FILE)
    try:
        with open(path, "rb") as handle:
            state = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    fifo = os.path.exists(os.path.join(root, container_id, store.EXEC_FIFO))
    frozen = None
    if state.get("cgroup"):
        from ..cgroups import load_manager

        manager = load_manager(state["cgroup"])
        frozen = manager.frozen if manager is not None else None
    return status_module.oci_state(state, status_module.container_status(state, fifo, frozen))


def run(invocation) -> int:
    root = store.state_root(invocation.globals)
    states = [state for state in (_load(root, item) for item in store.list_ids(root)) if state is not None]
    options = invocation.options
    if options.get("quiet"):
        for state in states:
            print(state["id"])
        return 0
    if options.get("format") == "json":
        print(json.dumps(states))
        return 0
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    for state in states:
        rows.append((state["id"], str(state["pid"]), state["status"], state["bundle"], state["created"], state["owner"]))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("   ".join(value.ljust(width) for value, width in zip(row, widths)) + "   " + row[-1])
    return 0
