"""JSON parsing and writing for the hot commands, without importing `json`.

`import json` pulls in `re` (json.decoder compiles regular expressions at
import), which costs about 4 ms here: more than a tenth of a whole `run`.
The C accelerator `_json` that `json` itself uses does the real work
without `re`, so this module drives it directly. The output and the errors
match `json.loads` and compact `json.dumps`; on a Python without `_json`,
the module falls back to `json`.
"""

from __future__ import annotations

try:
    import _json
except ImportError:  # pragma: no cover - CPython always builds _json
    _json = None


class _ScannerContext:
    """The attributes that the C scanner reads from json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str):
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scanner = _json.make_scanner(_ScannerContext()) if _json else None
_WHITESPACE = " \t\n\r"


def _decode_error(message: str, text: str, position: int) -> Exception:
    from json import JSONDecodeError

    return JSONDecodeError(message, text, position)


def loads(text: str | bytes):
    """Parse a JSON document; raise json.JSONDecodeError (a ValueError) when it is invalid."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    if _scanner is None:
        import json

        return json.loads(text)
    length = len(text)
    start = 0
    while start < length and text[start] in _WHITESPACE:
        start += 1
    try:
        value, end = _scanner(text, start)
    except StopIteration as stop:
        raise _decode_error("Expecting value", text, stop.value) from None
    except (ValueError, SystemError):
        # The C scanner imports json.decoder to build its error, and that
        # import fails from inside the scanner when json was never imported
        # (CPython 3.11 reports a SystemError). Errors are rare, so the
        # standard parser produces the message instead.
        import json

        return json.loads(text)
    finally:
        _ScannerContext.memo.clear()
    while end < length and text[end] in _WHITESPACE:
        end += 1
    if end != length:
        raise _decode_error("Extra data", text, end)
    return value


def _raise_unserializable(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encoder = (
    _json.make_encoder(None, _raise_unserializable, _json.encode_basestring, None, ":", ",", False, False, True)
    if _json
    else None
)


def dumps(value) -> str:
    """Return compact JSON (no spaces), as json.dumps(value, separators=(",", ":"), ensure_ascii=False)."""
    if _encoder is None:
        import json

        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return "".join(_encoder(value, 0))


def dumps_pretty(value, indent: str = "  ", level: int = 0) -> str:
    """Return JSON indented like json.dumps(value, indent=2, ensure_ascii=False)."""
    pad = indent * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{dumps(str(key))}: {dumps_pretty(item, indent, level + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent * level + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [pad + dumps_pretty(item, indent, level + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + indent * level + "]"
    return dumps(value)
