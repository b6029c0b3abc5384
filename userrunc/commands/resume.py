"""`resume`: thaw a paused container (see pause.py)."""

from __future__ import annotations

from .pause import set_paused


def run(invocation) -> int:
    return set_paused(invocation, False)
