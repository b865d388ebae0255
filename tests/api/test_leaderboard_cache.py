"""LeaderboardCache: TTL, one rebuild at a time, stale body served during a rebuild."""

from __future__ import annotations

import threading

from api.leaderboard import LeaderboardCache


class FakeClock:
    """A monotonic clock that moves only when told: the TTL tests do not race real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_serves_fresh_then_rebuilds_after_ttl():
    clock = FakeClock()
    cache = LeaderboardCache(ttl_seconds=0.05, clock=clock)
    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return f"v{len(builds)}".encode()

    assert cache.get_or_build((1, "public"), build) == b"v1"
    assert cache.get_or_build((1, "public"), build) == b"v1"
    clock.now += 0.06
    assert cache.lookup((1, "public")) == (b"v1", False)
    assert cache.get_or_build((1, "public"), build) == b"v2"
    cache.invalidate()
    assert cache.lookup((1, "public")) == (None, False)


def test_cache_with_zero_ttl_always_builds():
    cache = LeaderboardCache(ttl_seconds=0.0)
    assert cache.get_or_build((1, "public"), lambda: b"a") == b"a"
    assert cache.get_or_build((1, "public"), lambda: b"b") == b"b"
    assert cache.lookup((1, "public")) == (None, False)


def test_cache_serves_stale_body_while_one_thread_rebuilds():
    clock = FakeClock()
    cache = LeaderboardCache(ttl_seconds=0.05, clock=clock)
    cache.get_or_build((1, "public"), lambda: b"old")
    clock.now += 0.06
    release = threading.Event()
    started = threading.Event()

    def slow_build() -> bytes:
        started.set()
        release.wait(5)
        return b"new"

    builder = threading.Thread(target=cache.get_or_build, args=((1, "public"), slow_build))
    builder.start()
    assert started.wait(5)
    # A second caller neither waits nor builds: it gets the previous board.
    assert cache.lookup((1, "public")) == (b"old", True)
    assert cache.get_or_build((1, "public"), lambda: b"duplicate build") == b"old"
    release.set()
    builder.join(5)
    assert cache.lookup((1, "public"))[0] == b"new"
