"""The circuit breaker every process shares through Redis, with in-flight requests and latency per backend.

The breaker is closed → open after `failure_threshold` consecutive failures → after `cooldown_s`
exactly one caller gets the half-open probe (a Redis lock) → its success closes the circuit, its
failure opens it again. It works the same for a group of one backend (LiteLLM never cools those).
Each transition is one Lua script, so concurrent processes cannot interleave half-way.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from core import redis_clients

PREFIX = "orch:llm"
FAILURE_THRESHOLD = 3
COOLDOWN_S = 15.0
PROBE_TIMEOUT_S = 120
INFLIGHT_MAX_AGE_S = 900  # a request older than this is assumed dead (its process crashed)
EWMA_ALPHA = 0.3

_ALLOW = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return 'closed' end
local now = tonumber(ARGV[1])
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
if now < opened + tonumber(ARGV[2]) then return 'open' end
if redis.call('SET', KEYS[2], ARGV[4], 'NX', 'EX', ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'half_open')
  return 'probe'
end
return 'open'
"""

_FAILURE = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last_error', ARGV[3], 'last_failure_at', ARGV[1])
if state == 'half_open' or failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1])
  redis.call('DEL', KEYS[2])
  return 'open'
end
return state
"""

_SUCCESS = """
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0)
redis.call('DEL', KEYS[2])
local old = redis.call('GET', KEYS[3])
local value = tonumber(ARGV[1])
if value >= 0 then
  if old then value = tonumber(ARGV[2]) * value + (1 - tonumber(ARGV[2])) * tonumber(old) end
  redis.call('SET', KEYS[3], value)
end
return 'closed'
"""


def _keys(name: str) -> tuple[str, str, str, str]:
    return (f"{PREFIX}:cb:{name}", f"{PREFIX}:cb:{name}:probe", f"{PREFIX}:ewma:{name}", f"{PREFIX}:inflight:{name}")


@dataclass
class BackendState:
    name: str
    circuit: str  # closed | open | half_open
    failures: int
    in_flight: int
    latency_ms: float | None
    last_error: str


async def breaker_allow(name: str) -> str:
    """'closed' (go), 'probe' (go: you are the one half-open probe) or 'open' (do not call)."""
    cb, probe, _, _ = _keys(name)
    return await redis_clients.client().eval(
        _ALLOW, 2, cb, probe, time.time(), COOLDOWN_S, PROBE_TIMEOUT_S, uuid.uuid4().hex
    )


async def breaker_failure(name: str, error: str) -> str:
    cb, probe, _, _ = _keys(name)
    return await redis_clients.client().eval(_FAILURE, 2, cb, probe, time.time(), FAILURE_THRESHOLD, error[:300])


async def breaker_success(name: str, *, latency_ms: float | None = None) -> None:
    cb, probe, ewma, _ = _keys(name)
    await redis_clients.client().eval(
        _SUCCESS, 3, cb, probe, ewma, -1 if latency_ms is None else latency_ms, EWMA_ALPHA
    )


async def breaker_reset(name: str) -> None:
    cb, probe, ewma, inflight = _keys(name)
    await redis_clients.client().delete(cb, probe, ewma, inflight)


async def inflight_add(name: str) -> str:
    token = uuid.uuid4().hex
    await redis_clients.client().zadd(_keys(name)[3], {token: time.time()})
    return token


async def inflight_remove(name: str, token: str) -> None:
    await redis_clients.client().zrem(_keys(name)[3], token)


async def states(names: list[str]) -> dict[str, BackendState]:
    """Circuit, in-flight and latency of each backend, in one round trip."""
    return (await states_and_sticky(names, sticky_key=None))[0]


async def states_and_sticky(names: list[str], *, sticky_key: str | None) -> tuple[dict[str, BackendState], str | None]:
    """states(), and the backend a conversation last used (`sticky_key`), in the same round trip."""
    now = time.time()
    pipe = redis_clients.client().pipeline(transaction=False)
    for name in names:
        cb, _, ewma, inflight = _keys(name)
        pipe.hgetall(cb)
        pipe.zremrangebyscore(inflight, 0, now - INFLIGHT_MAX_AGE_S)
        pipe.zcard(inflight)
        pipe.get(ewma)
    if sticky_key:
        pipe.get(f"{PREFIX}:sticky:{sticky_key}")
    results = await pipe.execute() if names or sticky_key else []
    found = {}
    for i, name in enumerate(names):
        cb, _, count, ewma = results[i * 4 : i * 4 + 4]
        found[name] = BackendState(
            name=name,
            circuit=cb.get("state", "closed"),
            failures=int(cb.get("failures", 0)),
            in_flight=int(count),
            latency_ms=float(ewma) if ewma is not None else None,
            last_error=cb.get("last_error", ""),
        )
    return found, (results[-1] if sticky_key else None)
