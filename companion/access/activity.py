"""The record of what apps did: one entry per request made with an app token.

Recording sits on the request path, so there it is an append to a queue in memory and nothing
more. The queue goes to the database in one batch every few seconds (with the grants' last-use
times, ``app.py``), and before anyone reads the record. At most ``MAX_PENDING`` entries wait:
past that the oldest are dropped (and counted), so a flood of requests cannot grow memory
without end. After each batch every grant it touched keeps only its newest ``keep()`` rows
(``BODHI_APP_ACTIVITY_PER_GRANT``; 0 records nothing); rows older than the app history days and
rows of deleted grants go with the hourly purge.

An entry is the request's outline only: method, path (never the query string, which may hold a
key), the model it named, status and duration. Never a body, prompt, header or token.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from companion.core import events
from companion.core.events import EventBus
from companion.storage.app_activity import ActivityRecord, AppActivityRepository, StoredActivity

# Entries waiting for the next batch, at most: about 20 s of 500 requests a second.
MAX_PENDING = 10_000
# Longer paths and model names are cut: the record is for reading, not for replay.
MAX_TEXT = 300

AppCall = ActivityRecord


def app_call(*, grant_id: str, app: str, user_id: str, at: float, method: str, path: str,
             model: str | None, status: int, duration_ms: int) -> AppCall:
    """One entry, with its free text cut to ``MAX_TEXT``."""
    return ActivityRecord(grant_id, app, user_id, round(at, 3), method[:16], path[:MAX_TEXT],
                          None if model is None else model[:MAX_TEXT], status, duration_ms)


def activity_json(row: StoredActivity) -> dict[str, Any]:
    return {"id": row.id, "at": row.at, "method": row.method, "path": row.path,
            "model": row.model, "status": row.status, "duration_ms": row.duration_ms}


@dataclass
class ActivityCounts:
    recorded: int = 0
    dropped: int = 0


class AppActivity:
    def __init__(self, repo: AppActivityRepository, keep: Callable[[], int] = lambda: 1000,
                 max_pending: int = MAX_PENDING, bus: EventBus | None = None) -> None:
        self._repo = repo
        self._bus = bus
        self._keep = keep
        self._pending: deque[AppCall] = deque(maxlen=max_pending)
        self.counts = ActivityCounts()

    def record(self, call: AppCall) -> None:
        """Queue one entry (no I/O: this runs on every app request)."""
        if self._keep() <= 0:
            return
        if len(self._pending) == self._pending.maxlen:
            self.counts.dropped += 1
        self._pending.append(call)
        self.counts.recorded += 1

    async def flush(self) -> None:
        """Write the queued entries in one batch, then trim the grants they belong to."""
        if not self._pending:
            return
        batch = list(self._pending)
        self._pending.clear()
        await self._repo.insert_many(batch)
        await self._repo.keep_newest(sorted({call.grant_id for call in batch}),
                                     max(self._keep(), 0))
        self._announce(batch)

    def _announce(self, batch: list[AppCall]) -> None:
        """One ``grant.used`` per grant in the batch, to its user, once the rows are readable."""
        if self._bus is None:
            return
        used: dict[str, tuple[AppCall, int]] = {}
        for call in batch:
            _, count = used.get(call.grant_id, (call, 0))
            used[call.grant_id] = (call, count + 1)
        for grant_id, (last, count) in used.items():
            self._bus.publish(events.GRANT_USED, {"id": grant_id, "app": last.app,
                                                  "last_used_at": int(last.at),
                                                  "requests": count}, user_id=last.user_id)

    async def page(self, grant_id: str, page: int, page_size: int
                   ) -> tuple[list[dict[str, Any]], int]:
        """A grant's entries, newest first, including those still queued."""
        await self.flush()
        rows = await self._repo.page_for_grant(grant_id, page_size, (page - 1) * page_size)
        return [activity_json(row) for row in rows], await self._repo.count_for_grant(grant_id)

    async def purge(self, before: float) -> int:
        """Delete entries older than ``before`` and those of grants that are gone."""
        await self.flush()
        return await self._repo.purge(before)
