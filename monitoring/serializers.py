"""JSON shapes of monitoring's rows, for the API, the dashboard page and the live /ws feed."""

from __future__ import annotations

from django.utils import timezone

from monitoring.models import AlertEvent


def alert_event_json(event: AlertEvent) -> dict:
    end = event.resolved_at or timezone.now()
    return {
        "id": event.pk,
        "rule": event.rule.describe(),
        "metric": event.rule.metric,
        "host": event.host,
        "subject": event.subject,
        "message": event.message,
        "value": event.value,
        "peak": event.peak,
        "threshold": event.rule.threshold,
        "opened_at": event.opened_at.isoformat(),
        "resolved_at": event.resolved_at.isoformat() if event.resolved_at else None,
        "duration_s": int((end - event.breach_started_at).total_seconds()),
        "open": event.resolved_at is None,
    }
