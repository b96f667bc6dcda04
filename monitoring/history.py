"""Downsampling (raw → 1-minute → 1-hour averages), pruning on retention, and chart series."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from monitoring.models import Sample

AVERAGED = (
    "cpu_percent",
    "load_1",
    "memory_percent",
    "memory_used",
    "disk_percent",
    "net_sent_per_s",
    "net_recv_per_s",
    "gpu_util_percent",
    "gpu_memory_percent",
    "gpu_temperature_c",
    "gpu_power_w",
)
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
# The resolution each range is drawn at (a few hundred to ~1,500 points).
RANGE_RESOLUTION = {"1h": Sample.Resolution.RAW, "24h": Sample.Resolution.MINUTE, "7d": Sample.Resolution.HOUR}
FINER = {Sample.Resolution.MINUTE: Sample.Resolution.RAW, Sample.Resolution.HOUR: Sample.Resolution.MINUTE}


def bucket_start(ts: datetime, seconds: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def average(rows: list[Sample], *, host: str, resolution: int, ts: datetime) -> Sample:
    """One row standing for `rows`, weighted by how many raw samples each already stands for."""
    total = sum(r.count for r in rows)
    fields = {}
    for name in AVERAGED:
        present = [(getattr(r, name), r.count) for r in rows if getattr(r, name) is not None]
        weight = sum(c for _, c in present)
        fields[name] = sum(v * c for v, c in present) / weight if weight else None
    fields["memory_used"] = int(fields["memory_used"] or 0)
    backends: dict[str, dict] = {}
    for name in {n for r in rows for n in r.backends}:
        entries = [(r.backends[name], r.count) for r in rows if name in r.backends]
        merged = {}
        for key in ("up", "in_flight", "latency_ms"):
            present = [(e[key], c) for e, c in entries if e.get(key) is not None]
            weight = sum(c for _, c in present)
            merged[key] = round(sum(v * c for v, c in present) / weight, 3) if weight else None
        backends[name] = merged
    return Sample(host=host, resolution=resolution, ts=ts, backends=backends, count=total, **fields)


def rollup(resolution: int, *, now: datetime | None = None) -> int:
    """Average every complete bucket not yet rolled up; returns the rows written."""
    now = now or timezone.now()
    source = FINER[resolution]
    end = bucket_start(now, resolution)  # only buckets that cannot receive more samples
    written = 0
    for host in Sample.objects.filter(resolution=source).values_list("host", flat=True).distinct():
        last = Sample.objects.filter(host=host, resolution=resolution).aggregate(m=Max("ts"))["m"]
        rows = Sample.objects.filter(host=host, resolution=source, ts__lt=end)
        if last is not None:
            rows = rows.filter(ts__gte=last + timedelta(seconds=resolution))
        buckets: dict[datetime, list[Sample]] = defaultdict(list)
        for row in rows.order_by("ts").iterator(chunk_size=2000):
            buckets[bucket_start(row.ts, resolution)].append(row)
        made = [average(b, host=host, resolution=resolution, ts=ts) for ts, b in sorted(buckets.items())]
        Sample.objects.bulk_create(made, ignore_conflicts=True, batch_size=500)
        written += len(made)
    return written


def prune(*, now: datetime | None = None) -> dict[str, int]:
    """Drop what retention no longer keeps (rolled-up rows stand for the raw ones)."""
    now = now or timezone.now()
    keep = {
        Sample.Resolution.RAW: timedelta(hours=settings.MONITORING_RAW_RETENTION_H),
        Sample.Resolution.MINUTE: timedelta(days=settings.MONITORING_MINUTE_RETENTION_D),
        Sample.Resolution.HOUR: timedelta(days=settings.MONITORING_HOUR_RETENTION_D),
    }
    deleted = {}
    for resolution, age in keep.items():
        count, _ = Sample.objects.filter(resolution=resolution, ts__lt=now - age).delete()
        deleted[Sample.Resolution(resolution).label] = count
    from monitoring.models import AlertEvent

    AlertEvent.objects.filter(resolved_at__lt=now - timedelta(days=settings.MONITORING_ALERT_RETENTION_D)).delete()
    return deleted


def maintain(*, now: datetime | None = None) -> dict:
    """Beat's job: roll up, then prune, in that order, so nothing is dropped before it is averaged."""
    written = {"minute": rollup(Sample.Resolution.MINUTE, now=now), "hour": rollup(Sample.Resolution.HOUR, now=now)}
    return {"rolled_up": written, "pruned": prune(now=now)}


def point(row: Sample) -> dict:
    return {
        "ts": int(row.ts.timestamp() * 1000),
        "cpu": round(row.cpu_percent, 1),
        "load_1": round(row.load_1, 2),
        "memory": round(row.memory_percent, 1),
        "disk": round(row.disk_percent, 1),
        "sent_per_s": round(row.net_sent_per_s, 1),
        "recv_per_s": round(row.net_recv_per_s, 1),
        "gpu_util": row.gpu_util_percent,
        "gpu_memory": row.gpu_memory_percent,
        "gpu_temperature": row.gpu_temperature_c,
        "backends": row.backends,
    }


def series(*, host: str, range_name: str, now: datetime | None = None) -> dict:
    """The points of a range: its resolution's rows, then finer rows not yet rolled up."""
    now = now or timezone.now()
    start = now - RANGES[range_name]
    resolution = RANGE_RESOLUTION[range_name]
    rows: list[Sample] = []
    cursor, level = start, resolution
    while level is not None:
        found = list(Sample.objects.filter(host=host, resolution=level, ts__gte=cursor).order_by("ts"))
        rows += found
        if found:
            cursor = found[-1].ts + timedelta(seconds=max(int(level), 1))
        level = FINER.get(level)
    points = [point(r) for r in rows]
    return {
        "host": host,
        "range": range_name,
        "resolution_s": int(resolution),
        "finest_resolution_s": int(min((r.resolution for r in rows), default=resolution)),
        "points": thin(points, MAX_POINTS),
    }


MAX_POINTS = 1500


def thin(points: list[dict], limit: int) -> list[dict]:
    """Average runs of neighbouring points so a chart never gets more than `limit` of them
    (e.g. a week of minutes before the hourly roll-up has run)."""
    if len(points) <= limit:
        return points
    size = -(-len(points) // limit)
    thinned = []
    for start in range(0, len(points), size):
        group = points[start : start + size]
        merged = {"ts": group[0]["ts"], "backends": group[-1]["backends"]}
        for key in group[0]:
            if key in merged:
                continue
            values = [p[key] for p in group if p[key] is not None]
            merged[key] = round(sum(values) / len(values), 2) if values else None
        thinned.append(merged)
    return thinned


def hosts() -> list[str]:
    return sorted(Sample.objects.values_list("host", flat=True).distinct())
