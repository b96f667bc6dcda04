"""The writes of monitoring: alert rules evaluated on each sample (a breach must last the rule's duration to open an event,
and the event resolves on the first sample where the condition no longer holds)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import redis_clients
from monitoring import live_state
from monitoring.models import AlertEvent, AlertRule

log = logging.getLogger(__name__)


def conditions(rule: AlertRule, snapshot: dict) -> list[tuple[str, float | None, bool]]:
    """(subject, value, breached) for each thing the rule watches in this sample."""
    metric = rule.metric
    if metric == AlertRule.Metric.BACKEND_DOWN:
        return [
            (b["name"], 0.0 if b["status"] != "up" else 1.0, b["status"] != "up")
            for b in snapshot.get("llm", {}).get("backends", [])
        ]
    if metric == AlertRule.Metric.GPU_TEMPERATURE:
        gpus = snapshot.get("gpu") or []
        return [(f"gpu{g['index']}", g["temperature_c"], g["temperature_c"] > rule.threshold) for g in gpus]
    value = {
        AlertRule.Metric.CPU: snapshot["cpu"]["percent"],
        AlertRule.Metric.MEMORY: snapshot["memory"]["percent"],
        AlertRule.Metric.DISK: max([d["percent"] for d in snapshot.get("disks", [])] or [snapshot["disk"]["percent"]]),
    }[metric]
    return [("", value, value > rule.threshold)]


def _for(seconds: float) -> str:
    return f"{round(seconds)} s" if seconds < 90 else f"{round(seconds / 60)} min"


def message_for(rule: AlertRule, host: str, subject: str, value: float | None, since: datetime, now: datetime) -> str:
    lasted = _for(max(0.0, (now - since).total_seconds()))
    if rule.metric == AlertRule.Metric.BACKEND_DOWN:
        return f"LLM backend {subject} is down (for {lasted})"
    unit = " °C" if rule.metric == AlertRule.Metric.GPU_TEMPERATURE else "%"
    what = rule.get_metric_display().split(" ")[0] + (f" {subject}" if subject else "")
    return f"{what} at {value:.0f}{unit} on {host} (over {rule.threshold:g}{unit} for {lasted})"


def evaluate(snapshot: dict, *, now: datetime | None = None) -> list[AlertEvent]:
    """Open and resolve events for one host's sample; returns the events that changed."""
    now = now or timezone.now()
    host = snapshot["host"]
    redis = redis_clients.sync_client()
    changed: list[AlertEvent] = []
    for rule in AlertRule.objects.filter(enabled=True):
        if rule.host and rule.host != host:
            continue
        # Backends are not a host's: their events carry no host, so every sampler agrees on one.
        event_host = "" if rule.metric == AlertRule.Metric.BACKEND_DOWN else host
        seen = set()
        for subject, value, breached in conditions(rule, snapshot):
            key = f"{rule.pk}:{event_host}:{subject}"
            seen.add(key)
            if breached:
                redis.hsetnx(live_state.BREACHES, key, now.timestamp())
                since = datetime.fromtimestamp(float(redis.hget(live_state.BREACHES, key)), tz=now.tzinfo)
                event = AlertEvent.objects.filter(open_key=key).first()
                if event is not None:
                    event.value = value
                    event.peak = max(event.peak or value, value) if value is not None else event.peak
                    event.message = message_for(rule, host, subject, value, since, now)
                    event.save(update_fields=["value", "peak", "message"])
                elif now - since >= timedelta(seconds=rule.duration_s):
                    try:
                        with transaction.atomic():
                            event = AlertEvent.objects.create(
                                rule=rule,
                                host=event_host,
                                subject=subject,
                                value=value,
                                peak=value,
                                breach_started_at=since,
                                opened_at=now,
                                open_key=key,
                                message=message_for(rule, host, subject, value, since, now),
                            )
                    except IntegrityError:
                        continue  # another host's sampler opened it a moment ago
                    log.warning("alert opened: %s", event.message)
                    changed.append(event)
            else:
                redis.hdel(live_state.BREACHES, key)
                event = AlertEvent.objects.filter(open_key=key).first()
                if event is not None:
                    event.resolved_at = now
                    event.open_key = None
                    event.value = value
                    event.save(update_fields=["resolved_at", "open_key", "value"])
                    log.warning("alert resolved: %s", event.message)
                    changed.append(event)
        # A subject that is gone (a GPU removed, a backend deleted or disabled) no longer alerts.
        for event in AlertEvent.objects.filter(rule=rule, host=event_host, resolved_at__isnull=True):
            if event.open_key not in seen:
                redis.hdel(live_state.BREACHES, event.open_key)
                event.resolved_at, event.open_key = now, None
                event.save(update_fields=["resolved_at", "open_key"])
                changed.append(event)
    return changed
