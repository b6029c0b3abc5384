"""Signal names and numbers, from the interpreter's _signal module.

The public `signal` module builds enums at import (about 3 ms here), so
the names come straight from `_signal`.
"""

from __future__ import annotations

import _signal

from .errors import InvalidArgument


def _table() -> dict[str, int]:
    names = {}
    for name in dir(_signal):
        if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(getattr(_signal, name), int):
            names[name] = getattr(_signal, name)
    return names


def parse(text: str) -> int:
    """Return the number of a signal given as TERM, SIGTERM, 15 or SIGRTMIN+3; raise InvalidArgument."""
    value = text.strip()
    if value.isdigit():
        number = int(value)
        if 1 <= number <= _signal.SIGRTMAX:
            return number
        raise InvalidArgument(f"invalid signal {text!r}: numbers go from 1 to {_signal.SIGRTMAX}")
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    table = _table()
    if name in table:
        return table[name]
    for base, sign in (("SIGRTMIN+", 1), ("SIGRTMAX-", -1)):
        if name.startswith(base) and name[len(base):].isdigit():
            number = (_signal.SIGRTMIN if sign > 0 else _signal.SIGRTMAX) + sign * int(name[len(base):])
            if _signal.SIGRTMIN <= number <= _signal.SIGRTMAX:
                return number
    raise InvalidArgument(f"invalid signal {text!r}: use a name such as TERM or SIGKILL, or a number (see kill -l)")


def name(number: int) -> str:
    for key, value in _table().items():
        if value == number and key not in ("SIGIOT", "SIGPOLL", "SIGCLD"):
            return key
    return str(number)
