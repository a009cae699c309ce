"""The audit trail of a version's granted stage: append-only, bounded, never dropped unseen.

New entries go at the end of `status.history`. When the list would pass
`HISTORY_LIMIT`, its oldest entries move into `status.historySummary`,
which counts them and keeps the time of the first and the last; the API
server's admission policy (`admission.py`) admits no other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelregistry.api.lifecycle import HISTORY_LIMIT, HistoryEntry, HistorySummary


@dataclass(frozen=True)
class History:
    entries: tuple[HistoryEntry, ...]
    summary: HistorySummary | None


def append(
    entries: Sequence[HistoryEntry],
    summary: HistorySummary | None,
    added: Sequence[HistoryEntry],
    limit: int = HISTORY_LIMIT,
) -> History:
    """`entries` + `added`, the oldest beyond `limit` counted into the summary."""
    combined = [*entries, *added]
    overflow = max(0, len(combined) - limit)
    if not overflow:
        return History(tuple(combined), summary)
    moved = combined[:overflow]
    count = (summary.count if summary else 0) + overflow
    first = summary.first if summary and summary.first else moved[0].time
    return History(
        tuple(combined[overflow:]),
        HistorySummary(count=count, first=first, last=moved[-1].time),
    )


def last_move_to(entries: Sequence[HistoryEntry], stage: str) -> HistoryEntry | None:
    """The newest entry that moved the version to `stage`."""
    return next((e for e in reversed(entries) if e.to == stage), None)
