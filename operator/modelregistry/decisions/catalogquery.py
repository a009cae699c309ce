"""What a catalog search asks, parsed from what a person typed.

`modelregistry search --where 'auc>=0.9' --dataset events@2024-06 --since 7d`
becomes a `Query`; every value that cannot be understood is refused with a
`QueryError` that quotes it, names its flag and shows how to write it.
Matching and the split between the API server and the client are in
`decisions/catalog.py`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, get_args

from modelregistry.api.lifecycle import Stage
from modelregistry.api.meta import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, SHA256_DIGEST_PATTERN

STAGES: Final[tuple[str, ...]] = get_args(Stage)
DATASET_ROLES: Final = ("training", "validation", "test", "evaluation", "other")

COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
# Longest first, so `=>` is reported as itself rather than as `=`.
_ANY_OPERATOR: Final = re.compile(r">=|<=|==|!=|=>|=<|>|<|=")
_MISTAKES: Final = {"=": "==", "=>": ">=", "=<": "<="}
# Metric names as spec.metrics keys are written: a letter or _, then letters, digits, _ . : / -
_METRIC: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]*$")
_NUMBER: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_WHERE_USAGE: Final = (
    "write a metric, one of >= > <= < == !=, and a number, such as --where 'auc>=0.9'; "
    "repeat --where for more conditions (all must hold)"
)
_DURATION: Final = re.compile(r"^(?:\d+[smhdw])+$")
_DURATION_PART: Final = re.compile(r"(\d+)([smhdw])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME_USAGE: Final = (
    "write a duration back from now (30m, 12h, 7d, 2w, 1d12h) or an RFC 3339 time "
    "(2026-01-05T09:30:00Z, or a date: 2026-01-05)"
)
_COMMIT: Final = re.compile(r"^[0-9a-f]{4,64}$")
_DIGEST: Final = re.compile(SHA256_DIGEST_PATTERN)
_NAME: Final = re.compile(DNS_SUBDOMAIN_PATTERN)
_ALIAS: Final = re.compile(DNS_LABEL_PATTERN)


class QueryError(ValueError):
    """A search term that cannot be understood; the message names it and the fix."""


@dataclass(frozen=True)
class MetricCondition:
    """`--where 'auc>=0.9'`: a metric of spec.metrics compared with a number."""

    metric: str
    operator: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.operator}{_number(self.value)}"

    def holds(self, metrics: Mapping[str, object]) -> bool:
        """Whether the metrics meet it; a missing, non-numeric or NaN metric meets nothing."""
        actual = metrics.get(self.metric)
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        if math.isnan(actual):
            return False
        return COMPARISONS[self.operator](float(actual), self.value)


def parse_where(expression: str) -> MetricCondition:
    """`auc>=0.9`, `loss < 0.2`, `f1 != 0`: one comparison."""
    text = expression.strip()
    quoted = f"--where {expression!r}"
    found = _ANY_OPERATOR.search(text)
    if found is None:
        raise QueryError(f"{quoted} has no comparison: {_WHERE_USAGE}")
    op = found.group()
    if op in _MISTAKES:
        fixed = f"{text[: found.start()]}{_MISTAKES[op]}{text[found.end() :]}"
        raise QueryError(
            f"{quoted}: {op!r} is not a comparison; write --where {fixed.replace(' ', '')!r}"
        )
    metric, number = text[: found.start()].strip(), text[found.end() :].strip()
    if not metric:
        raise QueryError(f"{quoted} names no metric before {op!r}: {_WHERE_USAGE}")
    if _METRIC.match(metric) is None:
        raise QueryError(
            f"{quoted}: {metric!r} is not a metric name (a letter or _, then letters, digits, "
            f"_ . : / -): {_WHERE_USAGE}"
        )
    if _ANY_OPERATOR.search(number) is not None:
        raise QueryError(f"{quoted} holds more than one comparison: {_WHERE_USAGE}")
    if _NUMBER.match(number) is None:
        raise QueryError(f"{quoted}: {number!r} is not a number: {_WHERE_USAGE}")
    value = float(number)
    if not math.isfinite(value):
        raise QueryError(f"{quoted}: {number!r} is too large a number: {_WHERE_USAGE}")
    return MetricCondition(metric, op, value)


@dataclass(frozen=True)
class DatasetMatch:
    """`--dataset NAME[@VERSION|@sha256:DIGEST]`: a dataset of spec.lineage.datasets."""

    name: str | None = None
    version: str | None = None
    digest: str | None = None
    role: str | None = None

    def __str__(self) -> str:
        text = (self.name or "") + (
            f"@{self.version or self.digest}" if self.version or self.digest else ""
        )
        return text + (f" ({self.role})" if self.role else "")

    def holds(self, datasets: Sequence[Mapping[str, object]]) -> bool:
        """Whether one dataset has everything asked (name, version or digest, role)."""
        wanted = {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "role": self.role,
        }
        return any(
            all(value is None or dataset.get(key) == value for key, value in wanted.items())
            for dataset in datasets
        )


def parse_dataset(text: str, role: str | None = None) -> DatasetMatch:
    """`events`, `events@2024-06`, `events@sha256:…`, or `@2024-06` (any name)."""
    quoted = f"--dataset {text!r}"
    usage = "write NAME, NAME@VERSION, NAME@sha256:DIGEST or @VERSION (a version of any dataset)"
    name, at, after = text.strip().rpartition("@") if "@" in text else (text.strip(), "", "")
    if at and not after:
        raise QueryError(f"{quoted} has nothing after '@': {usage}")
    if not name and not after:
        raise QueryError(f"{quoted} is empty: {usage}")
    version = digest = None
    if after.startswith("sha256:"):
        if _DIGEST.match(after) is None:
            raise QueryError(
                f"{quoted}: {after!r} is not a digest (sha256: and 64 lowercase hex "
                f"digits): {usage}"
            )
        digest = after
    elif after:
        version = after
    return DatasetMatch(name or None, version, digest, _role(role))


def _role(role: str | None) -> str | None:
    if role is not None and role not in DATASET_ROLES:
        raise QueryError(
            f"--dataset-role {role!r} is not a dataset role: write one of "
            f"{', '.join(DATASET_ROLES)}"
        )
    return role


def parse_commit(text: str) -> str:
    """A commit or its first hex digits (at least 4): matched as a prefix."""
    commit = text.strip().lower()
    if _COMMIT.match(commit) is None:
        raise QueryError(
            f"--commit {text!r} is not a commit: write its hex digits, at least the first 4 "
            "(the commit recorded in spec.lineage.code.commit begins with them)"
        )
    return commit


def parse_time(text: str, now: datetime, flag: str) -> datetime:
    """`7d` (that long before `now`), or an RFC 3339 time or date, as an aware UTC datetime."""
    value = text.strip()
    if _DURATION.match(value):
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(value))
        return now - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value.upper())  # RFC 3339 allows t and z
    except ValueError:
        raise QueryError(
            f"{flag} {text!r} is neither a duration nor a time: {_TIME_USAGE}"
        ) from None
    if "T" not in value.upper() and len(value) == 10:  # a date: its midnight, UTC
        return parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        raise QueryError(
            f"{flag} {text!r} has no time zone: add Z (UTC) or an offset such as +02:00, as "
            "RFC 3339 asks: 2026-01-05T09:30:00Z"
        )
    return parsed.astimezone(UTC)


def parse_stage(text: str, flag: str) -> str:
    """A stage, whatever its case: None, Staging, Production or Archived."""
    for stage in STAGES:
        if text.strip().lower() == stage.lower():
            return stage
    raise QueryError(f"{flag} {text!r} is not a stage: write one of {', '.join(STAGES)}")


def parse_name(text: str, flag: str) -> str:
    if _NAME.match(text) is None or len(text) > 253:
        raise QueryError(
            f"{flag} {text!r} is not an object name: lowercase letters, digits, '-' and '.' "
            "(RFC 1123), as the Model's metadata.name"
        )
    return text


def parse_alias(text: str) -> str:
    for stage in STAGES:
        if text.lower() == stage.lower():
            raise QueryError(
                f"--alias {text!r} is a stage, not an alias: write --stage {stage} for the version "
                "granted it"
            )
    if _ALIAS.match(text) is None or len(text) > 63:
        raise QueryError(
            f"--alias {text!r} is not an alias name: aliases are RFC 1123 labels (lowercase "
            "letters, digits, '-'), as in the Model's spec.aliases"
        )
    return text


@dataclass(frozen=True)
class Query:
    """Everything a search asks; each part must hold (an empty Query matches every version)."""

    model: str | None = None
    labels: str | None = None  # a label selector, for the API server alone
    stage: str | None = None  # granted: status.stage (absent reads as None)
    asked: str | None = None  # spec.stage (absent reads as None)
    aliases: tuple[str, ...] = ()  # aliases of its Model that resolve to the version
    tags: tuple[str, ...] = ()  # tags of its Model
    owner: str | None = None  # its Model's spec.owner
    task: str | None = None  # its Model's spec.task
    where: tuple[MetricCondition, ...] = ()
    datasets: tuple[DatasetMatch, ...] = ()
    commit: str | None = None  # a prefix of spec.lineage.code.commit
    run: str | None = None  # spec.lineage.trainingRun.id
    digest: str | None = None  # the verified digest, status.artifact.digest
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created at or before

    @property
    def asks_models(self) -> bool:
        """Whether a version's Model must be known to judge it."""
        return bool(self.aliases or self.tags or self.owner or self.task)


def parse_query(
    *,
    now: datetime,
    model: str | None = None,
    labels: str | None = None,
    stage: str | None = None,
    asked: str | None = None,
    aliases: Sequence[str] = (),
    tags: Sequence[str] = (),
    owner: str | None = None,
    task: str | None = None,
    where: Sequence[str] = (),
    datasets: Sequence[str] = (),
    dataset_role: str | None = None,
    commit: str | None = None,
    run: str | None = None,
    digest: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Query:
    """The Query of these flags' values; raises QueryError at the first one that is wrong."""
    if dataset_role is not None and not datasets:
        raise QueryError(
            "--dataset-role narrows --dataset: name the dataset too, such as "
            f"--dataset events --dataset-role {dataset_role}"
        )
    if digest is not None and _DIGEST.match(digest) is None:
        raise QueryError(
            f"--digest {digest!r} is not a digest: write sha256: and 64 lowercase hex digits, as "
            "`modelregistry digest PATH` prints it"
        )
    query = Query(
        model=parse_name(model, "--model") if model is not None else None,
        labels=labels or None,
        stage=parse_stage(stage, "--stage") if stage is not None else None,
        asked=parse_stage(asked, "--asked") if asked is not None else None,
        aliases=tuple(parse_alias(a) for a in aliases),
        tags=tuple(tags),
        owner=owner,
        task=task,
        where=tuple(parse_where(w) for w in where),
        datasets=tuple(parse_dataset(d, dataset_role) for d in datasets),
        commit=parse_commit(commit) if commit is not None else None,
        run=run,
        digest=digest,
        since=parse_time(since, now, "--since") if since is not None else None,
        until=parse_time(until, now, "--until") if until is not None else None,
    )
    if query.since is not None and query.until is not None and query.since > query.until:
        raise QueryError(
            f"--since {since} is after --until {until}: no version can be created in between; "
            "swap them"
        )
    return query


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
