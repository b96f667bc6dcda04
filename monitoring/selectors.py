"""Reads of alert rules and events. Monitoring watches the host, not a user's data: every signed-in user
sees the same alerts (the rules are edited by staff in the admin)."""

from __future__ import annotations

from django.db.models import QuerySet

from monitoring.models import AlertEvent, AlertRule

OPEN_MAX = 50


def rule_list(*, enabled: bool = True) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(enabled=enabled)


def event_list(*, open_only: bool = False) -> QuerySet[AlertEvent]:
    """Newest first (the model's ordering), with their rules."""
    events = AlertEvent.objects.select_related("rule")
    return events.filter(resolved_at__isnull=True) if open_only else events


def event_open_count() -> int:
    return AlertEvent.objects.filter(resolved_at__isnull=True).count()


def events_open() -> list[AlertEvent]:
    return list(event_list(open_only=True)[:OPEN_MAX])


def events_for_dashboard() -> list[AlertEvent]:
    """Every open alert and the recent history, newest first."""
    recent = {*event_list(open_only=True)[:OPEN_MAX], *event_list()[:20]}
    return sorted(recent, key=lambda e: e.opened_at, reverse=True)
