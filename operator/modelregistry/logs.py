"""JSON log lines that name the object they are about (MODELREGISTRY_LOG_FORMAT=json).

A line is about an object when it was logged during that object's pass
(`concerning`, set by the reconciler: a context variable, so the tasks and
threads a pass starts inherit it), or when it says so itself with
`extra=about(...)`. Kopf's per-object loggers already attach the same
reference (`k8s_ref`), so their lines name their object too.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

# Kopf's name for the reference, so one formatter reads its lines and ours.
REF = "k8s_ref"
# Fields of the reference a line carries, in the order written.
FIELDS = ("kind", "namespace", "name", "uid")

_current: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "modelregistry_log_object", default=None
)


def _ref(kind: str, namespace: object, name: object, uid: object) -> dict[str, str]:
    found = {"kind": kind, "namespace": namespace, "name": name, "uid": uid}
    return {key: value for key, value in found.items() if isinstance(value, str) and value}


def about(kind: str, body: Mapping[str, Any]) -> dict[str, object]:
    """`extra=` for one line about the object `body` (its metadata is enough)."""
    meta = body.get("metadata", body)
    if not isinstance(meta, Mapping):
        meta = {}
    return {REF: _ref(kind, meta.get("namespace"), meta.get("name"), meta.get("uid"))}


@contextlib.contextmanager
def concerning(kind: str, namespace: str, name: str, uid: str) -> Iterator[None]:
    """Every line logged inside (and in the tasks started inside) is about this object."""
    token = _current.set(_ref(kind, namespace, name, uid))
    try:
        yield
    finally:
        _current.reset(token)


class ObjectContext(logging.Filter):
    """Attach the object of the current pass to a line that names none itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, REF):
            current = _current.get()
            if current is not None:
                setattr(record, REF, current)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the object's fields."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, str] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = getattr(record, REF, None)
        if isinstance(ref, Mapping):
            for key in FIELDS:
                value = ref.get(key)
                if isinstance(value, str) and value:
                    line[key] = value
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line)
