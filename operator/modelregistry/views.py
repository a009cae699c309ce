"""What the commands show: tables, the upload's progress bar, the live view of conditions.

Live displays go to stderr and only to a terminal; in a log (CI, a pipe) the
conditions are printed once per change instead, and stdout keeps the result.
rich is imported only for a terminal: a script's start stays short.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelregistry.client.versions import VersionSummary, condition

Body = dict[str, Any]
CONDITION_COLUMNS = ("TYPE", "STATUS", "REASON", "MESSAGE")


def table(rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns, as kubectl prints them; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def age(timestamp: str, now: datetime | None = None) -> str:
    """`5m`, `3h`, `2d`, as kubectl's AGE column."""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "?"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def versions_table(versions: Sequence[VersionSummary], now: datetime | None = None) -> str:
    if not versions:
        return "No ModelVersions found."
    rows = [("NAME", "MODEL", "VERSION", "STAGE", "ASKED", "READY", "REASON", "DIGEST", "AGE")]
    rows += [
        (
            v.name,
            v.model,
            str(v.version) if v.version is not None else "-",
            v.stage or "-",
            v.stage_asked,
            v.ready,
            v.reason or "-",
            (v.digest or "-")[:19],
            age(v.created, now),
        )
        for v in versions
    ]
    return table(rows)


def conditions_rows(body: Body) -> list[tuple[str, str, str, str]]:
    conditions = (body.get("status") or {}).get("conditions") or []
    return [
        (
            str(c.get("type", "")),
            str(c.get("status", "")),
            str(c.get("reason", "")),
            str(c.get("message", "")),
        )
        for c in conditions
    ]


def status_text(body: Body) -> str:
    """`modelregistry status`: what the version is, then its conditions."""
    summary = VersionSummary.of(body)
    artifact = (body.get("status") or {}).get("artifact") or {}
    number = summary.version if summary.version is not None else "(not assigned yet)"
    lines = [
        f"{summary.name}: Model {summary.model}, version {number}",
        f"stage:     {summary.stage or 'None'} (asked: {summary.stage_asked})",
        f"artifact:  {(body.get('spec') or {}).get('artifact', {}).get('uri', '-')}",
        f"digest:    {summary.digest or '-'}"
        + (f" (verified {artifact['verifiedAt']})" if artifact.get("verifiedAt") else ""),
        "",
    ]
    rows = conditions_rows(body)
    lines.append(table([CONDITION_COLUMNS, *rows]) if rows else "(no conditions yet)")
    return "\n".join(lines)


def status_value(body: Body) -> Body:
    """`status -o json|yaml`."""
    return {
        **VersionSummary.of(body).as_dict(),
        "namespace": body["metadata"].get("namespace"),
        "conditions": (body.get("status") or {}).get("conditions") or [],
        "artifact": (body.get("status") or {}).get("artifact"),
    }


class UploadProgress:
    """A progress bar on stderr, shown once the first bytes are sent (not while checking).

    Called with the bytes of each PUT or part as it completes, from the upload's threads.
    """

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.label = label
        self.shown = sys.stderr.isatty()
        self.lock = threading.Lock()
        self.progress: Any = None
        self.task: Any = None

    def __call__(self, sent: int) -> None:
        if not self.shown:
            return
        with self.lock:
            if self.progress is None:
                self.progress, self.task = _progress_bar(self.total, self.label)
                self.progress.start()
        self.progress.advance(self.task, sent)

    def __enter__(self) -> UploadProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            if self.progress is not None:
                self.progress.stop()


def _progress_bar(total: int, label: str) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    return progress, progress.add_task(label, total=total)


class ConditionsView:
    """The conditions while `--wait` waits: live on a terminal, a line per change in a log."""

    def __init__(self) -> None:
        self.live: Any = None
        self.printed: set[tuple[str, str, str, str]] = set()

    def __enter__(self) -> ConditionsView:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(stderr=True), refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, body: Body) -> None:
        rows = conditions_rows(body)
        if self.live is not None:
            from rich.table import Table

            title = f"{body['metadata']['name']}: waiting for Ready"
            grid = Table(title=title, title_justify="left")
            for column in CONDITION_COLUMNS:
                grid.add_column(column, overflow="fold")
            for row in rows:
                grid.add_row(*row)
            self.live.update(grid)
            return
        for row in rows:
            if row not in self.printed:
                self.printed.add(row)
                print(f"  {row[0]}={row[1]} {row[2]}: {row[3]}", file=sys.stderr, flush=True)


def ready_line(body: Body) -> str:
    """The last line of `register --wait`: Ready, and what the stage asked for waits for."""
    summary = VersionSummary.of(body)
    granted = condition(body, "StageGranted") or {}
    line = f"{summary.name} is Ready: version {summary.version}, stage {summary.stage or 'None'}"
    if granted.get("status") == "False":
        line += f" ({granted.get('reason')}: {granted.get('message')})"
    return line
