"""Who is connected (shared by every process through Redis), per-user rate limits, and the
consumers this process holds (closed with 4012 on shutdown so clients reconnect elsewhere)."""

from __future__ import annotations

import contextlib
import time
import weakref

from django.conf import settings

from chat.protocol import CLOSE_RESTARTING
from core import redis_clients

CONNS_KEY = "orch:ws:conns"
CONN_TTL_S = 90  # a connection not seen for this long (its process died) no longer counts
# "Server restarting: reconnect, then chat:resume". Not 1012: Autobahn (daphne) lets servers send
# only 1000 and 3000-4999.
RESTART_CLOSE_CODE = CLOSE_RESTARTING

LOCAL: weakref.WeakSet = weakref.WeakSet()

# Token buckets, all of a message's in one round trip: KEYS are the buckets, ARGV is `now`, then
# `rate, burst` per bucket. Each refills `rate` tokens per second up to `burst`; a message takes
# one token from every bucket, and only when each has one (a refused message costs nothing).
_BUCKETS = """
local now = tonumber(ARGV[1])
local tokens, wait = {}, 0
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local held = tonumber(redis.call('HGET', key, 't') or burst)
  local stamp = tonumber(redis.call('HGET', key, 'ts') or now)
  tokens[i] = math.min(burst, held + math.max(0, now - stamp) * rate)
  if tokens[i] < 1 then wait = math.max(wait, (1 - tokens[i]) / rate) end
end
local allowed = wait == 0 and 1 or 0
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 't', tokens[i] - allowed, 'ts', now)
  redis.call('EXPIRE', key, math.ceil(burst / rate) + 1)
end
return {allowed, tostring(wait)}
"""
_buckets_script = None


def type_limits() -> dict[str, tuple[int, int]]:
    """Per message type: (messages per minute, burst), on top of the general limit."""
    sends = settings.WS_CHAT_SENDS_PER_MINUTE
    return {"chat:send": (sends, max(5, sends // 4)), "chat:resume": (120, 20)}


async def rate_limit_check(user_id: int, kind: str) -> float:
    """0 when allowed; otherwise seconds until the next message of this type is."""
    general = settings.WS_MESSAGES_PER_MINUTE
    checks = [(f"orch:rl:{user_id}:all", general / 60.0, max(10, general // 4))]
    limits = type_limits()
    if kind in limits:
        per_minute, burst = limits[kind]
        checks.append((f"orch:rl:{user_id}:{kind}", per_minute / 60.0, burst))
    global _buckets_script
    if _buckets_script is None:
        _buckets_script = redis_clients.client().register_script(_BUCKETS)  # EVALSHA: the script is sent once
    args: list = [time.time()]
    for _key, rate, burst in checks:
        args += [rate, burst]
    allowed, wait = await _buckets_script(
        keys=[key for key, _r, _b in checks], args=args, client=redis_clients.client()
    )
    return 0.0 if int(allowed) else max(0.05, float(wait))


async def connection_add(consumer, user_id: int) -> None:
    LOCAL.add(consumer)
    await redis_clients.client().zadd(CONNS_KEY, {f"{consumer.channel_name}|{user_id}": time.time()})


async def connection_touch(consumer, user_id: int) -> None:
    await redis_clients.client().zadd(CONNS_KEY, {f"{consumer.channel_name}|{user_id}": time.time()})


async def connection_remove(consumer, user_id: int) -> None:
    LOCAL.discard(consumer)
    await redis_clients.client().zrem(CONNS_KEY, f"{consumer.channel_name}|{user_id}")


async def connections_count() -> dict[int, int]:
    """Open connections per user id, across every process."""
    client = redis_clients.client()
    await client.zremrangebyscore(CONNS_KEY, 0, time.time() - CONN_TTL_S)
    counts: dict[int, int] = {}
    for member in await client.zrange(CONNS_KEY, 0, -1):
        user_id = int(member.rsplit("|", 1)[1])
        counts[user_id] = counts.get(user_id, 0) + 1
    return counts


async def connections_close_all() -> None:
    for consumer in list(LOCAL):
        with contextlib.suppress(Exception):  # the socket may already be gone
            await consumer.close(code=RESTART_CLOSE_CODE)
