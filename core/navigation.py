"""The capabilities the shell links to; `ready` turns true as each one's issue lands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    slug: str
    label: str
    path: str
    summary: str
    staff_only: bool = False
    ready: bool = False


SECTIONS: tuple[Section, ...] = (
    Section(
        "chat",
        "Chat",
        "/chat/",
        "Talk to your local models with live token streaming; nothing is lost on a network blip.",
        ready=True,
    ),
    Section(
        "models",
        "Models",
        "/models/",
        "Every backend and model: health, circuit state, load and unload, benchmarks, side-by-side comparison.",
        ready=True,
    ),
    Section(
        "tasks",
        "Orchestrator",
        "/orchestration/",
        "One task answered by several models, cross-checked, with a judge when they disagree.",
        ready=True,
    ),
    Section(
        "knowledge",
        "Knowledge",
        "/knowledge/",
        "Files, notes and scraped pages, chunked and embedded, grounding answers and catching hallucinations.",
        ready=True,
    ),
    Section(
        "browser",
        "Browser",
        "/browser/",
        "Scrape pages and run browser automations in headless Chromium, safely: no private addresses.",
        ready=True,
    ),
    Section(
        "monitoring",
        "Monitoring",
        "/monitoring/",
        "CPU, memory, disk, network, GPU and model servers, live, with history and alerts.",
        ready=True,
    ),
    Section(
        "integrations",
        "Integrations",
        "/integrations/",
        "GitHub, Google, Slack, Discord and Notion accounts, usable from workflows.",
    ),
    Section(
        "training",
        "Training",
        "/training/",
        "Datasets from your rated conversations, fine-tuning jobs with live loss, model versions.",
    ),
    Section("terminal", "Terminal", "/terminal/", "A shell on the host in the browser, several tabs.", staff_only=True),
)

SECTIONS_BY_SLUG = {section.slug: section for section in SECTIONS}


def sections_for(user) -> list[Section]:
    return [s for s in SECTIONS if not s.staff_only or getattr(user, "is_staff", False)]
