"""Rate limits for login and upload, checked before a request's body is read.

`BodyLimit` (api.body_limits) asks `limited_scope(method, path)` for each request and
checks the limit before reading a byte of the body, so a flood costs no memory: the
`login` scope (log in and sign up, pages and JSON) counts per client address; the `upload`
scope counts per account once the token is checked (one abuser behind a shared address
or proxy does not throttle the others, and many addresses do not lift one account's limit).

Built on `limits` (the library under slowapi) with moving windows. Where the counters live:
in the process by default (the embedded server: one process, no services), or in Redis when
a `redis://` URL is configured (`rate_limit_storage_url`, else a Redis `broker_url`), so
that `unlearn serve --workers 4` or several hosts share one count instead of each process
allowing the full limit. A request over the limit gets 429 with a `Retry-After` header.
Behind a reverse proxy run uvicorn with `--proxy-headers` so that the client address is the
real one.
"""

from __future__ import annotations

import math
import time
from typing import cast

from limits import parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import Scope

from api.errors import APIError

__all__ = ["KEY_PREFIX", "RateLimiter", "client_address", "limited_scope", "rate_limit_storage_url"]

KEY_PREFIX = "unlearn-limits"
# POST routes that create a session or an account: the `login` scope, per client address.
LOGIN_ROUTES = frozenset({"/login", "/register", "/api/v1/auth/login", "/api/v1/auth/register"})


def rate_limit_storage_url(settings: object) -> str:
    """The configured Redis URL for the counters, or "" for in-process counters."""
    explicit = str(getattr(settings, "rate_limit_storage_url", "") or "")
    if explicit:
        return explicit
    broker = str(getattr(settings, "broker_url", "") or "")
    return broker if broker.startswith(("redis://", "rediss://")) else ""


class RateLimiter:
    def __init__(
        self,
        *,
        enabled: bool,
        limits_by_scope: dict[str, str],
        storage_url: str = "",
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        self.enabled = enabled
        self._limits = {scope: parse(text) for scope, text in limits_by_scope.items()}
        storage: Storage = (
            cast(Storage, storage_from_string(storage_url, key_prefix=key_prefix))
            if storage_url
            else MemoryStorage()
        )
        self.storage_kind = type(storage).__name__
        self._strategy = MovingWindowRateLimiter(storage)

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


def limited_scope(method: str, path: str, *, upload: bool) -> str | None:
    """The scope limiting this request ("login" or "upload"), or None; `upload` says
    whether the route takes an upload (`api.body_limits.upload_route`)."""
    if upload:
        return "upload"
    if method == "POST" and path.rstrip("/") in LOGIN_ROUTES:
        return "login"
    return None


def client_address(scope: Scope) -> str:
    """The address the login scope counts by (the proxy's, unless uvicorn runs with
    `--proxy-headers`)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
