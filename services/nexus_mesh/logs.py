"""Process-wide logging set-up for services and commands: one JSON object per line.

Each line carries the ``trace_id``/``span_id`` of the span current where it was logged, so a
log line leads to its trace and a trace to its log lines. Credentials never reach the output:
JWTs, bearer tokens, passwords in URLs and the values of secret-named keys (``token``,
``NEXUS_JWT_SECRET``, ``sasl_plain_password``, ``api_key``...) are masked in the message, in
``extra=`` fields (nested ones too) and in exception text, however they were written:
``key=value``, ``key: value``, quoted, as JSON or as a Python ``repr``.

A broker outage makes aiokafka log the same few errors many times a second per connection;
:class:`RepeatFilter` lets the first of each through and then one per window, with a count of
what it held back.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from typing import Any, Literal

import orjson
from opentelemetry import trace

from nexus_mesh.settings import report_unknown_variables

LogFormat = Literal["json", "text"]
MASK = "***"

# A key whose value is a credential: it ends in one of these words, so ``NEXUS_JWT_SECRET``,
# ``sasl_plain_password``, ``refresh_token``, ``clientSecret`` and ``X-Api-Key`` are, while
# ``tokens``, ``token_type``, ``secret_name`` and ``max_tokens`` (counts and names) are not;
# of the ``*_key`` names only those of credentials (``secret_key``, ``aws_secret_access_key``,
# ``private_key``), not ``partition_key`` or ``message_key``.
# ``pwd`` is left out on purpose: ``PWD=`` is the working directory.
_CREDENTIAL_NAME = (
    r"[\w.-]*?(?:token|secret|passw(?:or)?d|passphrase|(?:api|private|secret|access|signing)"
    r"[_-]?key)"
)
_CREDENTIAL_NAME_RE = re.compile(_CREDENTIAL_NAME, re.IGNORECASE)

_SECRETS = re.compile(
    # a JWT, whatever surrounds it; it starts where a token character does not precede it, so
    # a long run of "eyJ" is tried once, not from each of its positions (quadratic)
    r"(?P<jwt>(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)"
    # an Authorization header's credentials, whatever their scheme (Basic, Digest, ...)
    r"|(?P<authz>(?<![\w.-])authorization(?:\\*[\"'])?[ \t]*[=:][ \t]*(?:\\*[\"'])?"
    r"(?:[a-z]+[ \t]+)?)[^&\s'\",;]+"
    # an Authorization value and the bearer.<jwt> WebSocket subprotocol, but not the next
    # key=value pair after a "token_type=bearer"
    r"|(?P<bearer>bearer[ .])(?![\w.-]*=[^=&\s'\",;])[^&\s'\",;]+"
    # scheme://user:password@host
    r"|(?P<userinfo>://[^/\s:@'\"]+:)[^/\s@'\"]+(?=@)"
    # A secret-named key, then = or : (after the key's closing quote in JSON and reprs). Only a
    # key bound to a value counts, so "password reset requested" keeps its words. The lookbehind
    # makes the key start where its identifier starts (and keeps the scan linear).
    rf"|(?P<key>(?<![\w.-]){_CREDENTIAL_NAME}(?:\\*[\"'])?[ \t]*[=:][ \t]*)"
    r"(?:"
    # a quoted value, backslash escapes included, as repr() and JSON write them: the whole
    # value goes, spaces and all; b'...' is a repr()'d bytes value
    r"(?P<open>b?(?P<quote>[\"']))(?:\\[\s\S]|(?!(?P=quote))[^\\])*(?P=quote)"
    # a value quoted with escaped quotes: JSON inside a JSON string, or a repr() of one
    r"|(?P<escaped>\\+[\"'])[\s\S]*?(?P=escaped)"
    # a quote that never closes (a line cut short): the rest of the line
    r"|(?P<unclosed>\\*b?[\"'])[^\n]*"
    # a bare value
    r"|[^&\s'\",;]+"
    r")",
    re.IGNORECASE,
)

# Attributes every LogRecord has; anything else came in through ``extra=`` and is kept.
# Not fields of a JSON line: the record's own, and the repeat filter's grouping key (the
# line says its producer and fault already).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "repeat_key"}

# Values that orjson writes itself and that cannot hold a credential; anything else that is
# not a container is written as its (masked) str().
_PLAIN = (bool, int, float, datetime, date, time_of_day, uuid.UUID)
# Nested deeper than this (a container holding itself, say), a value is written as masked text.
_MAX_DEPTH = 8


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``."""
    return _SECRETS.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    if match.group("jwt"):
        return MASK
    for prefix in ("authz", "bearer", "userinfo"):
        if match.group(prefix):
            return match.group(prefix) + MASK
    # Keep the key and the quotes so the line still reads (and parses) as it was written.
    key = match.group("key")
    if match.group("open"):
        return key + match.group("open") + MASK + match.group("quote")
    if match.group("escaped"):
        return key + match.group("escaped") + MASK + match.group("escaped")
    return key + (match.group("unclosed") or "") + MASK


def _is_secret_key(key: object) -> bool:
    """Whether a field called ``key`` holds a credential (``password``, ``access_token``...)."""
    return isinstance(key, str) and _CREDENTIAL_NAME_RE.fullmatch(key) is not None


def _redact_fields(fields: Mapping[Any, Any], depth: int = 0) -> dict[str, Any]:
    """``fields`` for the JSON line: a secret-named key's value is masked whatever its type."""
    return {
        # orjson takes str keys only; an int key used to lose the whole line
        str(key): MASK if _is_secret_key(key) else _redact_value(value, depth + 1)
        for key, value in fields.items()
    }


def _redact_value(value: object, depth: int) -> object:
    """``value`` for the JSON line, its credentials masked: containers walked, text redacted."""
    if value is None or isinstance(value, _PLAIN):
        return value
    if isinstance(value, str):
        return redact(value)
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return _redact_fields(value, depth)
        if isinstance(value, list | tuple | set | frozenset):
            return [_redact_value(item, depth + 1) for item in value]
    # Any other object (a dataclass, a settings object, bytes) as the text its repr()/str()
    # shows, where its credentials are found like anywhere else.
    return redact(str(value))


def _masked_args(record: logging.LogRecord) -> logging.LogRecord:
    """``record``, or a copy whose ``%(password)s``-style arguments are masked.

    A value substituted by name loses its key in the message text, where :func:`redact` could
    no longer tell it is a credential.
    """
    args = record.args
    if not isinstance(args, Mapping) or not any(_is_secret_key(key) for key in args):
        return record
    masked = logging.makeLogRecord(record.__dict__)
    masked.args = {key: MASK if _is_secret_key(key) else value for key, value in args.items()}
    return masked


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
            "message": redact(_masked_args(record).getMessage()),
        }
        if self._service:
            line["service"] = self._service
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["trace_id"] = f"{span_context.trace_id:032x}"
            line["span_id"] = f"{span_context.span_id:016x}"
        extra = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        }
        line.update(_redact_fields(extra))
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = redact("".join(traceback.format_exception(*record.exc_info)))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        return orjson.dumps(line, default=str).decode()


class RedactingFormatter(logging.Formatter):
    """The human-readable format, with the same masking and the trace id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(_masked_args(record)))
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            text += f" [trace {span_context.trace_id:032x}]"
        return text


# Distinct repeat keys one template is split by; the rest share one window.
MAX_REPEAT_KEYS = 32
OTHER_REPEAT_KEYS = "(others)"


class _Template:
    """What :class:`RepeatFilter` knows of one message template."""

    __slots__ = ("since", "suppressed")

    def __init__(self, since: float) -> None:
        self.since = since  # when the last record of this template was let through
        self.suppressed = 0  # records held back since then


class RepeatFilter(logging.Filter):
    """Let one record per message template through per ``window_s``, counting the others.

    A template is the logger name and the unformatted message (``"Unable connect to node with
    id %s: %s"``), so a broker outage's hundreds of lines a second collapse to one per window
    per kind of error while any new kind still shows at once. A record's ``repeat_key`` (set
    with ``extra=``, a short bounded text) splits a template further. The first record let
    through after a window in which records were held back says how many: its message ends in
    ``(repeated N times in the last S s)`` and it carries ``repeated=N`` (a JSON field).

    Only records from the logger ``name`` and its children are limited (as
    :class:`logging.Filter` matches names); others pass untouched. At most ``max_templates`` are
    remembered, the least recently seen forgotten first, so memory stays bounded whatever is
    logged. Counts are reported by the next record of the same template: held-back records that
    are never followed by one stay uncounted, which needs no timer thread.
    """

    def __init__(
        self,
        name: str = "",
        *,
        window_s: float = 30.0,
        max_templates: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name)
        self.window_s = window_s
        self.max_templates = max_templates
        self._clock = clock
        self._templates: OrderedDict[tuple[str, str], _Template] = OrderedDict()
        # (logger, template) -> the repeat keys it has been split by, at most
        # MAX_REPEAT_KEYS: the keys come from records (a producer's ce_source), and one
        # producer varying its source per record must not make every line a first one.
        self._splits: dict[tuple[str, str], set[str]] = {}
        # Handler.handle() calls filters outside the handler's lock, and aiokafka's loggers may
        # be used from more than one thread.
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not super().filter(record):
            return True  # not one of ours
        template = record.msg if isinstance(record.msg, str) else str(record.msg)
        # A caller may split one template by what its lines are about (``extra=
        # {"repeat_key": ...}``: a bad record's producer and error), so that one producer's
        # flood does not hide another's first line.
        repeat_key = getattr(record, "repeat_key", None)
        now = self._clock()
        with self._lock:
            if repeat_key is not None:
                repeat_key = self._split(record.name, template, str(repeat_key))
            key = (record.name, template if repeat_key is None else f"{template}\x00{repeat_key}")
            seen = self._templates.get(key)
            if seen is None:
                self._templates[key] = _Template(now)
                if len(self._templates) > self.max_templates:
                    self._templates.popitem(last=False)
                return True
            self._templates.move_to_end(key)
            if now - seen.since < self.window_s:
                seen.suppressed += 1
                return False
            suppressed, elapsed = seen.suppressed, now - seen.since
            seen.since, seen.suppressed = now, 0
        if suppressed:
            # Appended to the template, not the formatted text, so every formatter shows it;
            # it holds no "%", so formatting with the record's args is unaffected.
            times = "time" if suppressed == 1 else "times"
            record.msg = f"{template} (repeated {suppressed} {times} in the last {elapsed:.0f} s)"
            record.repeated = suppressed
        return True

    def _split(self, name: str, template: str, repeat_key: str) -> str:
        """``repeat_key``, or one shared key for all past the first MAX_REPEAT_KEYS seen."""
        if len(self._splits) > self.max_templates:
            self._splits.clear()  # templates are the code's own; this bounds a bug's growth
        keys = self._splits.setdefault((name, template), set())
        if repeat_key in keys:
            return repeat_key
        if len(keys) < MAX_REPEAT_KEYS:
            keys.add(repeat_key)
            return repeat_key
        return OTHER_REPEAT_KEYS


def configure_logging(
    level: str = "INFO", *, fmt: LogFormat = "json", service: str | None = None
) -> None:
    """Log to stderr at ``level``: JSON lines by default, ``fmt="text"`` for a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # On the handler, not the "aiokafka" logger: a logger's filters see only records logged on
    # that very logger, and aiokafka logs on its modules' loggers (aiokafka.client, ...).
    handler.addFilter(RepeatFilter("aiokafka"))
    # Refused handshakes are one line each, and anyone can make them: a flood is held back.
    handler.addFilter(RepeatFilter("nexus_gateway.websocket"))
    # So are records a producer gets wrong (undecodable, misplaced, oversized): one line per
    # record would be thousands a second from one bad producer, on every pod reading them.
    for delivery in ("nexus_gateway.fanout", "nexus_gateway.catchup", "nexus_gateway.record_rules"):
        handler.addFilter(RepeatFilter(delivery))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # aiokafka is chatty at INFO about every (re)connection.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # Settings are read before logging is set up: what they found unknown is told now.
    report_unknown_variables()
