"""Who is connected (shared by every process through Redis), per-user rate limits, and the
consumers this process holds (closed with 4012 on shutdown so clients reconnect elsewhere)."""

from __future__ import annotations

import contextlib
import time
import weakref

from django.conf import settings

from chat.protocol import CLOSE_RESTARTING
from llm import state

CONNS_KEY = "orch:ws:conns"
CONN_TTL_S = 90  # a connection not seen for this long (its process died) no longer counts
# "Server restarting: reconnect, then chat:resume". Not 1012: Autobahn (daphne) lets servers send
# only 1000 and 3000-4999.
RESTART_CLOSE_CODE = CLOSE_RESTARTING

LOCAL: weakref.WeakSet = weakref.WeakSet()

# Token bucket: refill `rate` tokens per second up to `burst`; one token per message.
_BUCKET = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or ARGV[2])
local stamp = tonumber(redis.call('HGET', KEYS[1], 'ts') or ARGV[3])
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
tokens = math.min(burst, tokens + (now - stamp) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(wait)}
"""


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
    now = time.time()
    for key, rate, burst in checks:
        allowed, wait = await state.client().eval(_BUCKET, 1, key, rate, burst, now)
        if not int(allowed):
            return max(0.05, float(wait))
    return 0.0


async def connection_add(consumer, user_id: int) -> None:
    LOCAL.add(consumer)
    await state.client().zadd(CONNS_KEY, {f"{consumer.channel_name}|{user_id}": time.time()})


async def connection_touch(consumer, user_id: int) -> None:
    await state.client().zadd(CONNS_KEY, {f"{consumer.channel_name}|{user_id}": time.time()})


async def connection_remove(consumer, user_id: int) -> None:
    LOCAL.discard(consumer)
    await state.client().zrem(CONNS_KEY, f"{consumer.channel_name}|{user_id}")


async def connections_count() -> dict[int, int]:
    """Open connections per user id, across every process."""
    client = state.client()
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
