"""A Kafka outage does not flood the logs: aiokafka's repeated errors collapse to one per window."""

from __future__ import annotations

import json
import logging

import pytest

from nexus_mesh.logs import (
    MAX_REPEAT_KEYS,
    JsonFormatter,
    LogFormat,
    RepeatFilter,
    configure_logging,
)

UNREACHABLE = "Unable connect to node with id %s: %s"
REFUSED = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9092)")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    """The formatted lines a handler would have written."""

    def __init__(self, repeats: RepeatFilter, formatter: logging.Formatter | None = None) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.addFilter(repeats)
        self.setFormatter(formatter or logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def log(self, name: str, msg: str, *args: object, level: int = logging.ERROR) -> None:
        self.handle(logging.LogRecord(name, level, __file__, 1, msg, args, None))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def out(clock: Clock) -> Lines:
    return Lines(RepeatFilter("aiokafka", window_s=30, clock=clock))


def test_repeats_within_the_window_are_held_back(out: Lines, clock: Clock) -> None:
    for _ in range(500):
        out.log("aiokafka.client", UNREACHABLE, 1, REFUSED)
        clock.now += 0.01
    assert out.lines == [f"aiokafka.client: Unable connect to node with id 1: {REFUSED}"]


def test_the_next_line_after_the_window_says_how_many_were_held_back(
    out: Lines, clock: Clock
) -> None:
    out.log("aiokafka.client", UNREACHABLE, 1, REFUSED)
    for _ in range(412):
        clock.now += 0.05
        out.log("aiokafka.client", UNREACHABLE, 2, REFUSED)
    clock.now = 1031.0
    out.log("aiokafka.client", UNREACHABLE, 3, REFUSED)
    assert out.lines[1:] == [
        f"aiokafka.client: Unable connect to node with id 3: {REFUSED}"
        " (repeated 412 times in the last 31 s)"
    ]
    # and a new window starts there: the count is not reported twice
    clock.now += 1
    out.log("aiokafka.client", UNREACHABLE, 3, REFUSED)
    clock.now += 30
    out.log("aiokafka.client", UNREACHABLE, 3, REFUSED)
    assert out.lines[2:] == [
        f"aiokafka.client: Unable connect to node with id 3: {REFUSED}"
        " (repeated 1 time in the last 31 s)"
    ]


def test_after_a_quiet_window_the_line_is_plain(out: Lines, clock: Clock) -> None:
    out.log("aiokafka.client", "Unable to update metadata from %s", [1])
    clock.now += 120
    out.log("aiokafka.client", "Unable to update metadata from %s", [1])
    assert out.lines == ["aiokafka.client: Unable to update metadata from [1]"] * 2


def test_a_different_message_or_logger_still_gets_through(out: Lines, clock: Clock) -> None:
    for _ in range(100):
        out.log("aiokafka.client", UNREACHABLE, 1, REFUSED)
        out.log("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s", 1, REFUSED)
        out.log("aiokafka.producer.sender", "Got error produce response: %s", REFUSED)
        out.log("aiokafka.conn", UNREACHABLE, 1, REFUSED)  # same text, another logger
    assert len(out.lines) == 4


def test_other_loggers_are_never_held_back(out: Lines) -> None:
    for attempt in range(50):
        out.log("nexus_gateway.app", "publish failed, retrying", level=logging.WARNING)
        out.log("aiokafkaish", "not aiokafka's %s", attempt)
    assert len(out.lines) == 100


def test_the_count_is_a_json_field(clock: Clock) -> None:
    out = Lines(RepeatFilter("aiokafka", window_s=30, clock=clock), JsonFormatter())
    for _ in range(7):
        out.log("aiokafka.producer.sender", "Got error produce response: %s", REFUSED)
    clock.now += 30
    out.log("aiokafka.producer.sender", "Got error produce response: %s", REFUSED)
    last = json.loads(out.lines[-1])
    assert last["repeated"] == 6
    assert last["message"].endswith("(repeated 6 times in the last 30 s)")
    assert "repeated" not in json.loads(out.lines[0])


def test_memory_is_bounded_by_forgetting_the_least_recently_seen(clock: Clock) -> None:
    out = Lines(RepeatFilter("aiokafka", window_s=30, max_templates=2, clock=clock))
    out.log("aiokafka.a", "first")
    out.log("aiokafka.b", "second")
    out.log("aiokafka.a", "first")  # held back; "second" is now the least recently seen
    out.log("aiokafka.c", "third")  # forgets "second"
    out.log("aiokafka.b", "second")  # new again: through, and forgets "first"
    out.log("aiokafka.c", "third")  # still remembered: held back
    assert out.lines == [
        "aiokafka.a: first",
        "aiokafka.b: second",
        "aiokafka.c: third",
        "aiokafka.b: second",
    ]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_burst_of_aiokafka_errors_is_a_line_or_two(
    fmt: LogFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", fmt=fmt, service="nexus-gateway")
    client = logging.getLogger("aiokafka.client")
    for _ in range(1000):
        client.error(UNREACHABLE, 1, REFUSED)
    logging.getLogger("aiokafka.consumer.fetcher").error(
        "Failed fetch messages from %s: %s", 1, REFUSED
    )
    for _ in range(3):
        logging.getLogger("nexus_gateway.app").warning("kafka unavailable, refusing publishes")
    lines = capsys.readouterr().err.splitlines()
    unreachable = [line for line in lines if "Unable connect to node with id 1" in line]
    assert 1 <= len(unreachable) <= 2, lines[:5]
    assert sum("Failed fetch messages from 1" in line for line in lines) == 1
    assert sum("kafka unavailable, refusing publishes" in line for line in lines) == 3
    assert len(lines) <= 6


@pytest.mark.usefixtures("restore_logging")
def test_a_producer_s_flood_of_bad_records_is_a_line_per_kind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """5,000 records framed for another registry were 5,000 warnings on every gateway reading
    them; each kind of skipped record now shows once, the next kind still at once."""
    configure_logging("INFO", fmt="text", service="nexus-gateway")
    fanout = logging.getLogger("nexus_gateway.fanout")
    for offset in range(5000):
        fanout.warning("skipping undecodable record %s-%s@%s (%s): %s", "t", 0, offset, "x", "y")
    fanout.warning("skipping record %s-%s@%s (%s): type %s is not sent on %s", "t", 0, 1, "x", 2, 3)
    logging.getLogger("nexus_gateway.catchup").warning("replay: skipping %s", 1)
    logging.getLogger("nexus_gateway.catchup").warning("replay: skipping %s", 2)
    lines = capsys.readouterr().err.splitlines()
    assert sum("skipping undecodable record" in line for line in lines) == 1
    assert sum("is not sent on" in line for line in lines) == 1
    assert sum("replay: skipping" in line for line in lines) == 1


@pytest.mark.usefixtures("restore_logging")
def test_one_producer_s_flood_does_not_hide_another_s_first_bad_record(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each team reads the log for its own producer: the lines are held back per producer
    and kind of fault (the gateway's repeat_key), not per message template."""
    configure_logging("INFO", fmt="text", service="nexus-gateway")
    fanout = logging.getLogger("nexus_gateway.fanout")
    template = "skipping undecodable record %s-%s@%s (%s): %s"
    for offset in range(1000):
        fanout.warning(template, "t", 0, offset, "a", "bad", extra={"repeat_key": "a Schema"})
    fanout.warning(template, "t", 0, 1, "b", "bad", extra={"repeat_key": "b Schema"})
    fanout.warning(template, "t", 0, 2, "a", "bad", extra={"repeat_key": "a Framing"})
    lines = capsys.readouterr().err.splitlines()
    assert sum("skipping undecodable record" in line for line in lines) == 3


@pytest.mark.usefixtures("restore_logging")
def test_a_producer_varying_its_source_per_record_is_still_held_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """CloudEvents sources like ``/orders/123`` differ per record: past the first 32 keys a
    template's lines share one window, or every bad record would be a line of its own."""
    configure_logging("INFO", fmt="json", service="nexus-gateway")
    fanout = logging.getLogger("nexus_gateway.fanout")
    template = "skipping undecodable record %s-%s@%s (%s): %s"
    for offset in range(2000):
        source = f"'/orders/{offset}' Schema"
        fanout.warning(template, "t", 0, offset, source, "bad", extra={"repeat_key": source})
    lines = capsys.readouterr().err.splitlines()
    assert MAX_REPEAT_KEYS <= len(lines) <= MAX_REPEAT_KEYS + 1
    assert all("repeat_key" not in json.loads(line) for line in lines)  # not a log field
