"""argparse ``type=`` converters shared by the commands: a bad value is one usage line, never
a traceback from deep inside the command (DESIGN.md section 9)."""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type[int] | type[float], what: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def port(text: str) -> int:
    """A TCP port, 0 meaning "any free one"."""
    value = int(_number(text, int, "a port number"))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535; 0: any free)")
    return value


def fixed_port(text: str) -> int:
    """A TCP port something already listens on (0 makes no sense there)."""
    value = int(_number(text, int, "a port number"))
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1-65535)")
    return value


def at_least_one(text: str) -> int:
    value = int(_number(text, int, "a whole number"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def seconds(text: str) -> float:
    """A duration that may be zero (e.g. "do not wait")."""
    value = float(_number(text, float, "a number of seconds"))
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def positive_seconds(text: str) -> float:
    value = float(_number(text, float, "a number of seconds"))
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value
