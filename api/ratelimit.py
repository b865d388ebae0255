"""Per-client rate limits for login and upload, as FastAPI dependencies.

Built on `limits` (the library under slowapi) with in-process moving windows: one `RateLimiter`
per app, so tests and apps never share counters. A request over the limit gets 429 with a
`Retry-After` header. Behind a reverse proxy run uvicorn with `--proxy-headers` so that the
client address is the real one.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.errors import APIError

__all__ = ["RateLimiter", "rate_limited"]


class RateLimiter:
    def __init__(self, *, enabled: bool, limits_by_scope: dict[str, str]) -> None:
        self.enabled = enabled
        self._limits = {scope: parse(text) for scope, text in limits_by_scope.items()}
        self._strategy = MovingWindowRateLimiter(MemoryStorage())

    def check(self, scope: str, client: str) -> None:
        if not self.enabled:
            return
        item = self._limits[scope]
        if not self._strategy.hit(item, scope, client):
            reset_at, _remaining = self._strategy.get_window_stats(item, scope, client)
            retry_after = max(1, math.ceil(reset_at - time.time()))
            raise APIError(
                429,
                f"too many {scope} requests; limit is {item}, retry in {retry_after} s",
                code="rate_limited",
                headers={"Retry-After": str(retry_after)},
            )


def rate_limited(scope: str):  # type: ignore[no-untyped-def]
    """Dependency factory: `Depends(rate_limited("login"))`."""

    def dependency(request: Request) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        client = request.client.host if request.client else "unknown"
        limiter.check(scope, client)

    return dependency
