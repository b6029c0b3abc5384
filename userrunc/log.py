"""Logging with runc's options: --log FILE, --log-format text|json, --debug.

Records go through the standard logging module, but that module costs about
10 ms to import here, a third of a whole `run`. So a record below the
threshold returns before anything is imported, and `logging` is imported on
the first record that is really written.

Inside the container init a sink replaces the handler: records travel over
the init pipe and the parent writes them, so the init never writes to a file
or a stream that belongs to the container.
"""

from __future__ import annotations

import os
import sys
import time

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
LEVEL_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error"}

_threshold = WARNING
_path: str | None = None
_format = "text"
_logger = None
_sink = None


def configure(path: str | None = None, log_format: str = "text", debug: bool = False) -> None:
    """Set where records go, in which format, and whether debug records are kept."""
    global _threshold, _path, _format, _logger
    _threshold = DEBUG if debug else WARNING
    _path = path or None
    _format = log_format
    _logger = None


def settings() -> tuple[str | None, str, bool]:
    return _path, _format, _threshold <= DEBUG


def set_sink(sink) -> None:
    """Send every record to `sink(level, message, fields)` instead of a handler."""
    global _sink
    _sink = sink


def enabled(level: int) -> bool:
    return level >= _threshold


def debug(message: str, **fields) -> None:
    if DEBUG >= _threshold:
        _emit(DEBUG, message, fields)


def info(message: str, **fields) -> None:
    if INFO >= _threshold:
        _emit(INFO, message, fields)


def warning(message: str, **fields) -> None:
    if WARNING >= _threshold:
        _emit(WARNING, message, fields)


def error(message: str, **fields) -> None:
    _emit(ERROR, message, fields)


def emit(level: int, message: str, fields: dict) -> None:
    """Write a record that came from elsewhere (the init pipe), if its level passes."""
    if level >= _threshold:
        _emit(level, message, fields)


class _NoStep:
    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


class _Step:
    __slots__ = ("name", "start")

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = 0.0

    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb):
        elapsed_ms = (time.monotonic() - self.start) * 1000
        outcome = "failed" if exc_type else "done"
        _emit(DEBUG, f"{self.name}: {outcome} in {elapsed_ms:.2f} ms", {"step": self.name, "ms": round(elapsed_ms, 3)})
        return False


_NO_STEP = _NoStep()


def step(name: str):
    """Time a step of create or start; the duration is logged at debug level."""
    if DEBUG >= _threshold:
        return _Step(name)
    return _NO_STEP


def _emit(level: int, message: str, fields: dict) -> None:
    if _sink is not None:
        try:
            _sink(level, message, fields)
            return
        except OSError:
            # The parent is gone; the record has nowhere useful to go.
            return
    logger = _logger or _make_logger()
    logger.log(level, message, extra={"userrunc_fields": fields})


def flush() -> None:
    """Flush the log handler, if one was made; called before an exit that skips interpreter teardown."""
    if _logger is not None:
        for handler in _logger.handlers:
            try:
                handler.flush()
            except (OSError, ValueError):
                pass


def format_time(created: float) -> str:
    seconds = int(created)
    micros = int((created - seconds) * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def format_json_record(level: int, message: str, fields: dict, created: float | None = None) -> str:
    """Return one JSON log line in runc's shape: level, msg, time, then fields."""
    from . import jsonutil

    record = {"level": LEVEL_NAMES.get(level, "info"), "msg": message, "time": format_time(created or time.time())}
    for key, value in fields.items():
        record.setdefault(key, value)
    return jsonutil.dumps(record)


def _quote(value) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "-_./:@+" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_text_record(level: int, message: str, fields: dict, created: float | None = None) -> str:
    """Return one log line in logfmt, as runc writes with --log-format text."""
    parts = [f"time={_quote(format_time(created or time.time()))}", f"level={LEVEL_NAMES.get(level, 'info')}", f"msg={_quote(message)}"]
    parts.extend(f"{key}={_quote(value)}" for key, value in fields.items())
    return " ".join(parts)


def format_console_record(level: int, message: str, fields: dict) -> str:
    """Return one line for stderr: `userrunc: warning: message`, then fields in logfmt."""
    line = f"userrunc: {LEVEL_NAMES.get(level, 'info')}: {message}"
    if fields:
        line += " (" + " ".join(f"{key}={_quote(value)}" for key, value in fields.items()) + ")"
    return line


def _make_logger():
    global _logger
    import logging

    class Formatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            fields = getattr(record, "userrunc_fields", {})
            message = record.getMessage()
            if _format == "json":
                return format_json_record(record.levelno, message, fields, record.created)
            if not _path:
                # A person reads stderr: the same form as the error line.
                return format_console_record(record.levelno, message, fields)
            return format_text_record(record.levelno, message, fields, record.created)

    logger = logging.getLogger("userrunc")
    logger.propagate = False
    logger.setLevel(DEBUG)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    if _path:
        handler = logging.FileHandler(_path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Formatter())
    logger.addHandler(handler)
    _logger = logger
    return logger


def report_error(message: str, program: str = "userrunc") -> None:
    """Report a fatal error: one line on stderr, plus a record in the log file.

    With --log-format json and no --log file, the stderr line itself is the
    JSON record, so that callers such as podman can parse it.
    """
    if _path:
        try:
            _emit(ERROR, message, {})
        except OSError:
            pass
    if _format == "json" and not _path:
        line = format_json_record(ERROR, message, {})
    else:
        line = f"{program}: {message}"
    try:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    except OSError:
        pass
