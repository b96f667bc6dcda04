"""Celery entry points of the gateway: the catalogue refresh (beat). Benchmarks and long texts are
core Job rows (llm/jobs.py)."""

from __future__ import annotations

import asyncio

from celery import shared_task

from llm import catalogue, services


@shared_task(name="llm.catalogue_refresh")
def catalogue_refresh() -> int:
    """Beat keeps the 5-minute model cache warm, so requests rarely wait for discovery."""
    services.backends_sync_from_settings()
    entry = asyncio.run(catalogue.catalogue_refresh())
    return sum(len(b["models"]) for b in entry["backends"].values())
