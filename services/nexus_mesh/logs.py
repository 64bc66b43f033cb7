"""Process-wide logging set-up for services and commands: one JSON object per line.

Each line carries the ``trace_id``/``span_id`` of the span current where it was logged, so a
log line leads to its trace and a trace to its log lines. Credentials never reach the output:
JWTs, bearer tokens and ``token=``/``secret=``/``password=`` values are masked in the message
and in exception text, whatever the code that logged them passed in.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from opentelemetry import trace

LogFormat = Literal["json", "text"]
MASK = "***"

_SECRETS = re.compile(
    r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # a JWT, whatever surrounds it
    # an Authorization value, the bearer.<jwt> subprotocol, ?token= and friends
    r"|(?P<name>bearer[ .]|(?:access_|id_)?token=|secret=|passw(?:or)?d=)[^&\s'\",;]+",
    re.IGNORECASE,
)

# Attributes every LogRecord has; anything else came in through ``extra=`` and is kept.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``."""
    return _SECRETS.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    return (match.group("name") or "") + MASK


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "trace_id", "span_id", ...}`` per record."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if self._service:
            line["service"] = self._service
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["trace_id"] = f"{span_context.trace_id:032x}"
            line["span_id"] = f"{span_context.span_id:016x}"
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = redact("".join(traceback.format_exception(*record.exc_info)))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        return orjson.dumps(line, default=str).decode()


class RedactingFormatter(logging.Formatter):
    """The human-readable format, with the same masking and the trace id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            text += f" [trace {span_context.trace_id:032x}]"
        return text


def configure_logging(
    level: str = "INFO", *, fmt: LogFormat = "json", service: str | None = None
) -> None:
    """Log to stderr at ``level``: JSON lines by default, ``fmt="text"`` for a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # aiokafka is chatty at INFO about every (re)connection.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
