"""`state`: print a container's OCI state as JSON."""

from __future__ import annotations

import os

from .. import jsonutil
from ..container import Container


def run(invocation) -> int:
    with Container.load(invocation.globals, invocation.args[0]) as container:
        state = container.oci_state()
    os.write(1, (jsonutil.dumps_pretty(state) + "\n").encode())
    return 0
