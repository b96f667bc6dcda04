"""The per-process copy of the backends and the catalogue: a request never waits for a reload it
can do without, concurrent callers share one load, and forget() is never answered by a load that
started before it."""

from __future__ import annotations

import asyncio

import pytest

from llm.localcache import STALE_FACTOR, LocalCache

TTL = 0.2


class Source:
    """A value that changes, and a load that takes `delay_s` and counts its calls."""

    def __init__(self, delay_s: float = 0.05):
        self.value = "v1"
        self.calls = 0
        self.delay_s = delay_s
        self.fail = False

    async def load(self) -> str:
        self.calls += 1
        seen = self.value
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("the database is away")
        return seen


@pytest.fixture
def ttl(settings):
    settings.LLM_LOCAL_CACHE_S = TTL
    return TTL


async def test_a_fresh_copy_is_served_without_a_load(ttl):
    source = Source()
    cache = LocalCache(source.load, "test")
    assert await cache.get() == "v1"
    source.value = "v2"
    assert await cache.get() == "v1"
    assert source.calls == 1


async def test_an_old_copy_is_served_at_once_while_one_reload_runs(ttl):
    source = Source(delay_s=0.1)
    cache = LocalCache(source.load, "test")
    await cache.get()
    source.value = "v2"
    await asyncio.sleep(ttl * 1.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answers = await asyncio.gather(*(cache.get() for _ in range(10)))
    assert answers == ["v1"] * 10  # nobody waited for the reload…
    assert loop.time() - started < source.delay_s / 2
    assert source.calls == 2  # …and ten callers started one
    await asyncio.sleep(source.delay_s * 2)
    assert await cache.get() == "v2"
    assert source.calls == 2


async def test_callers_with_no_copy_share_one_load(ttl):
    source = Source()
    cache = LocalCache(source.load, "test")
    assert await asyncio.gather(*(cache.get() for _ in range(8))) == ["v1"] * 8
    assert source.calls == 1


async def test_a_copy_too_old_is_not_served(ttl, settings):
    source = Source()
    cache = LocalCache(source.load, "test")
    await cache.get()
    source.value = "v2"
    settings.LLM_LOCAL_CACHE_S = 0.01  # the copy is now older than STALE_FACTOR cache times
    await asyncio.sleep(0.01 * STALE_FACTOR * 1.5)
    assert await cache.get() == "v2"


async def test_forget_is_not_answered_by_a_load_started_before_it(ttl):
    source = Source(delay_s=0.1)
    cache = LocalCache(source.load, "test")
    first = asyncio.ensure_future(cache.get())
    await asyncio.sleep(0.02)  # the first load has read "v1"
    source.value = "v2"
    cache.forget()
    assert await cache.get() == "v2"
    assert await first == "v1"
    assert await cache.get() == "v2"  # the older load did not overwrite the newer copy


async def test_a_failed_reload_keeps_the_old_copy(ttl, caplog):
    source = Source()
    cache = LocalCache(source.load, "test")
    await cache.get()
    source.fail = True
    await asyncio.sleep(ttl * 1.2)
    assert await cache.get() == "v1"
    await asyncio.sleep(source.delay_s * 2)
    assert "reloading test failed: the database is away" in caplog.text
    assert await cache.get() == "v1"
    source.fail = False
    source.value = "v2"
    assert await cache.get() == "v1"  # still served while the next reload runs
    await asyncio.sleep(source.delay_s * 2)
    assert await cache.get() == "v2"


async def test_a_cache_time_of_zero_loads_every_time(settings):
    settings.LLM_LOCAL_CACHE_S = 0
    source = Source(delay_s=0)
    cache = LocalCache(source.load, "test")
    await cache.get()
    source.value = "v2"
    assert await cache.get() == "v2"
    assert source.calls == 2
