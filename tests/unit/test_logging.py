"""JSON log lines (MODELREGISTRY_LOG_FORMAT=json): exact lines, and the object each is about."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import cast

import kopf
import pytest

from modelregistry import logs

# 2030-01-01T00:00:00.250Z
CREATED = 1893456000.25
VERSION_REF = '"kind": "ModelVersion", "namespace": "team-a", "name": "fraud-1", "uid": "u-1"'


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines go, as the operator writes them in JSON, to a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ObjectContext())
    logger = logging.getLogger("modelregistry.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)
    logger.propagate = True


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("modelregistry.reconciler", logging.INFO, "", 0, message, args, None)
    made.created = CREATED
    made.__dict__.update(extra)
    return made


def test_a_line_about_nothing_has_time_level_logger_and_message() -> None:
    line = logs.JsonFormatter().format(record("listed %d Models", 3))
    assert line == (
        '{"time": "2030-01-01T00:00:00.250Z", "level": "INFO", '
        '"logger": "modelregistry.reconciler", "message": "listed 3 Models"}'
    )


def test_a_line_about_an_object_names_it_after_the_message() -> None:
    ref = {"kind": "ModelVersion", "namespace": "team-a", "name": "fraud-1", "uid": "u-1"}
    line = logs.JsonFormatter().format(record("pass failed", k8s_ref=ref))
    assert line == (
        '{"time": "2030-01-01T00:00:00.250Z", "level": "INFO", '
        '"logger": "modelregistry.reconciler", "message": "pass failed", ' + VERSION_REF + "}"
    )


def test_a_multi_line_message_and_its_traceback_stay_on_one_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        failed = record("two\nlines")
        failed.exc_info = __import__("sys").exc_info()
    line = logs.JsonFormatter().format(failed)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "two\nlines"
    assert parsed["exception"].startswith("Traceback (most recent call last):")
    assert parsed["exception"].endswith("ValueError: bad\nvalue")


def test_every_line_of_a_pass_names_its_object_and_none_after_it(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = lines
    with logs.concerning("ModelVersion", "team-a", "fraud-1", "u-1"):
        logger.info("inside")
    logger.info("after")
    inside, after = (json.loads(line) for line in out.getvalue().splitlines())
    assert {k: inside[k] for k in ("kind", "namespace", "name", "uid", "message")} == {
        "kind": "ModelVersion",
        "namespace": "team-a",
        "name": "fraud-1",
        "uid": "u-1",
        "message": "inside",
    }
    assert set(after) == {"time", "level", "logger", "message"}


def test_tasks_started_in_a_pass_name_its_object_and_concurrent_passes_keep_their_own(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = lines

    async def a_pass(name: str, turn: asyncio.Event, next_turn: asyncio.Event) -> None:
        with logs.concerning("ModelVersion", "team-a", name, f"uid-{name}"):
            await turn.wait()

            async def hashing() -> None:
                logger.info("hashing")

            await asyncio.create_task(hashing())
            await asyncio.to_thread(logger.info, "in a thread")
            next_turn.set()

    async def scenario() -> None:
        first, second, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
        passes = asyncio.gather(a_pass("b", second, done), a_pass("a", first, second))
        first.set()
        await passes

    asyncio.run(scenario())
    seen = [
        (line["name"], line["message"]) for line in map(json.loads, out.getvalue().splitlines())
    ]
    assert seen == [("a", "hashing"), ("a", "in a thread"), ("b", "hashing"), ("b", "in a thread")]


def test_a_line_that_names_its_object_wins_over_the_pass(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = lines
    with logs.concerning("ModelVersion", "team-a", "fraud-1", "u-1"):
        logger.warning(
            "refresh failed", extra=logs.about("Model", {"namespace": "team-a", "name": "fraud"})
        )
    line = json.loads(out.getvalue())
    assert (line["kind"], line["name"], "uid" in line) == ("Model", "fraud", False)


def test_kopfs_object_loggers_lines_name_their_object_too(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    _, out = lines
    kopf_objects = logging.getLogger("kopf.objects")
    handler = logging.getLogger("modelregistry.test").handlers[0]
    kopf_objects.addHandler(handler)
    try:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"namespace": "team-a", "name": "fraud-1-check", "uid": "p-1"},
        }
        kopf.LocalObjectLogger(
            body=kopf.Body(cast(kopf.RawBody, pod)), settings=kopf.OperatorSettings()
        ).warning("gone")
    finally:
        kopf_objects.removeHandler(handler)
    line = json.loads(out.getvalue())
    assert {k: line[k] for k in ("logger", "message", "kind", "namespace", "name", "uid")} == {
        "logger": "kopf.objects",
        "message": "gone",
        "kind": "Pod",
        "namespace": "team-a",
        "name": "fraud-1-check",
        "uid": "p-1",
    }


PROGRAM = """
import logging, warnings
from modelregistry.logs import concerning
from modelregistry.runner import configure_logging
configure_logging(verbose=False, json_lines=JSON)
with concerning("ModelVersion", "team-a", "fraud-1", "u-1"):
    logging.getLogger("modelregistry.reconciler").info("verified")
warnings.warn("careful")
"""


def logged(json_lines: bool) -> list[str]:
    """What a fresh process configured as the operator is writes to stderr."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.replace("JSON", str(json_lines))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return done.stderr.splitlines()


def test_the_json_setting_writes_every_line_warnings_too_as_json() -> None:
    verified, warned = map(json.loads, logged(json_lines=True))
    assert {k: v for k, v in verified.items() if k != "time"} == {
        "level": "INFO",
        "logger": "modelregistry.reconciler",
        "message": "verified",
        "kind": "ModelVersion",
        "namespace": "team-a",
        "name": "fraud-1",
        "uid": "u-1",
    }
    assert (warned["level"], warned["logger"]) == ("WARNING", "py.warnings")
    assert "UserWarning: careful" in warned["message"]


def test_text_stays_the_default_and_unchanged() -> None:
    verified, *warned = logged(json_lines=False)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO modelregistry.reconciler: verified", verified
    )
    assert "UserWarning: careful" in warned[0]
