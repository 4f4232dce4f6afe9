"""Token buckets per key, in memory: how often one app may ask for access.

Each key (an app asking for one user) holds up to ``capacity`` tokens that refill at
``per_minute``; a call that finds the bucket empty is refused with the seconds until the next
token. Buckets that are full again carry no information, so they are dropped when the table
grows; if that is not enough the oldest are dropped, so memory stays bounded however many
keys an attacker invents.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

MAX_KEYS = 1024


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, capacity: int, per_minute: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(capacity)
        self._per_sec = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}

    def take(self, key: Hashable) -> int | None:
        """Spend one token for ``key``: ``None`` when allowed, else seconds to wait."""
        now = self._clock()
        bucket = self._refilled(key, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self._per_sec))

    def _refilled(self, key: Hashable, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._drop_full(now)
            bucket = self._buckets[key] = _Bucket(self._capacity, now)
        bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.at) * self._per_sec)
        bucket.at = now
        return bucket

    def _drop_full(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * self._per_sec >= self._capacity:
                del self._buckets[key]
        # Still full of busy keys: forget the oldest half rather than grow without bound.
        for key in list(self._buckets)[:len(self._buckets) - MAX_KEYS // 2]:
            del self._buckets[key]
