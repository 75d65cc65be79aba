"""Time, injected: the real one runs on anyio; tests pass a fake that never sleeps."""

from __future__ import annotations

from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class AnyioClock:
    """The event loop's monotonic clock."""

    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
