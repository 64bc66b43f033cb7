"""Assemble and compile the source of one generated function.

Injection safety: generated source contains only identifiers chosen by the generators
(``f12``, ``_c3``, fixed parameter and helper names, and the attribute names of our own
``Metadata`` dataclass), Python keywords and operators, and literals written with
:func:`literal`, which accepts only str/int/bytes/bool/None and writes them with ``repr()``.
Every schema-derived string (field names, symbols, defaults, record names) therefore reaches
the compiled code as a quoted literal or as a namespace constant, never as code, whatever a
schema file contains.
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_INDENT = "    "


def literal(value: str | int | bytes | bool | None) -> str:
    """``value`` as a Python literal (``repr`` of these types always parses back to it)."""
    if value is not None and not isinstance(value, str | int | bytes):
        raise TypeError(f"not a literal type: {type(value).__name__}")
    return repr(value)


def tuple_of(items: Sequence[str]) -> str:
    """A tuple display of the expressions ``items``."""
    return "(" + "".join(f"{item}, " for item in items) + ")"


class Source:
    """Lines of one function body plus the namespace its constants live in."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = dict(namespace)
        self._lines: list[str] = []
        self._depth = 1
        self._counter = itertools.count()

    def line(self, text: str) -> None:
        self._lines.append(_INDENT * self._depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """``header`` (``if ...:``, ``for ...:``) with the lines emitted inside indented."""
        self.line(header)
        self._depth += 1
        before = len(self._lines)
        try:
            yield
        finally:
            if len(self._lines) == before:
                self.line("pass")
            self._depth -= 1

    def var(self, hint: str) -> str:
        """A fresh local name; ``hint`` is one of the generators' own fixed prefixes."""
        if not hint.isidentifier():
            raise ValueError(f"bad hint {hint!r}")
        return f"{hint}{next(self._counter)}"

    def const(self, value: object, hint: str = "c") -> str:
        """A namespace name bound to ``value``, for anything that is not a plain literal."""
        name = f"_{self.var(hint)}"
        self.namespace[name] = value
        return name

    def compile(self, name: str, parameters: Sequence[str], label: str) -> Callable[..., Any]:
        """The function ``def name(parameters): <lines>``; ``label`` names it in tracebacks."""
        text = f"def {name}({', '.join(parameters)}):\n" + "\n".join(self._lines) + "\n"
        filename = f"<nexus-avro {label}>"
        code = compile(text, filename, "exec")
        # Register the text so tracebacks and profilers can show generated lines.
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        namespace = dict(self.namespace)
        exec(code, namespace)  # noqa: S102 - our own generated text, see the module docstring
        function: Callable[..., Any] = namespace[name]
        return function
