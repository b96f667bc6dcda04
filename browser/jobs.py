"""Scrape and automation jobs: a core Job row each, run on the `browser` queue, with progress per
step to `task:*` subscribers, cancellation between steps, and files kept under the data folder."""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings

from core.jobs import JobCancelled, Reporter
from core.models import Job

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def job_dir(job_id: int) -> Path:
    """Where a job's screenshots and PDFs live: DATA_DIR/browser/<job id>/."""
    path = Path(settings.DATA_DIR) / "browser" / str(job_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_file(job: Job, name: str) -> Path | None:
    """A file of this job, only if the job lists it (no path from a request is ever trusted)."""
    if not FILE_NAME.match(name) or name not in files_of(job):
        return None
    path = Path(settings.DATA_DIR) / "browser" / str(job.pk) / name
    return path if path.is_file() else None


def files_of(job: Job) -> list[str]:
    """The screenshots and PDFs a job wrote, by file name."""
    result = job.result or {}
    names = [result.get("screenshot"), result.get("pdf"), *result.get("files", [])]
    for step in result.get("steps", []):
        value = step.get("result")
        if isinstance(value, dict):
            names += [value.get("screenshot"), value.get("pdf")]
    return list(dict.fromkeys(Path(n).name for n in names if isinstance(n, str) and n))


def _relative(result: dict) -> dict:
    """Store file names, not absolute paths: the data folder can move."""
    for key in ("screenshot", "pdf"):
        if result.get(key):
            result[key] = Path(result[key]).name
    if result.get("files"):
        result["files"] = [Path(f).name for f in result["files"]]
    for step in result.get("steps", []):
        value = step.get("result")
        if isinstance(value, dict):
            for key in ("screenshot", "pdf"):
                if isinstance(value.get(key), str):
                    value[key] = Path(value[key]).name
    return result


# Playwright's sync API marks an event loop as running in the thread that drives it, and Django then
# refuses every ORM call there. So each worker process drives its browsers from one thread of
# their own, and the job's thread keeps the database: progress comes back through a queue and a
# cancel request goes out as an Event.
_BROWSER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser")
CANCEL_POLL_S = 0.5


def run_in_browser_thread(work: Callable, report: Reporter, on_event: Callable[..., None]):
    """Run `work(emit, cancelled)` on the browser thread; `emit(*args)` calls `on_event(*args)` here."""
    events: queue.Queue = queue.Queue()
    cancel = threading.Event()
    future = _BROWSER_THREAD.submit(work, lambda *args: events.put(args), cancel.is_set)
    last_check = 0.0
    while True:
        with contextlib.suppress(queue.Empty):
            on_event(*events.get(timeout=CANCEL_POLL_S))
        if time.monotonic() - last_check >= CANCEL_POLL_S:
            last_check = time.monotonic()
            if not cancel.is_set() and report.cancelled():
                cancel.set()
        if future.done() and events.empty():
            return future.result()


def _raise_if_cancelled(report: Reporter) -> None:
    if report.cancelled():
        raise JobCancelled()


def scrape_job(job: Job, report: Reporter) -> dict:
    from browser.errors import Cancelled
    from browser.scrape import scrape

    url, options = job.params["url"], job.params.get("options", {})
    out = job_dir(job.pk)
    report.update(progress=0.05, subtasks=[{"id": "load", "title": f"Load {url}", "status": "running"}])
    report.log(f"scraping {url}")

    def progress(fraction: float, message: str) -> None:
        report.update(progress=fraction, log_line=message)

    def work(emit, cancelled):
        return scrape(url, out_dir=out, options=options, on_progress=emit, cancelled=cancelled)

    try:
        result = run_in_browser_thread(work, report, progress)
    except Cancelled:
        raise JobCancelled() from None
    except Exception:
        report.update(subtasks=[{"id": "load", "title": f"Load {url}", "status": "failed"}])
        raise
    _raise_if_cancelled(report)
    report.update(subtasks=[{"id": "load", "title": f"Load {url}", "status": "succeeded"}])
    if result.get("blocked"):
        report.log(f"{len(result['blocked'])} request(s) refused (not public addresses)")
    return _relative(result)


def automate_job(job: Job, report: Reporter) -> dict:
    from browser.automate import run_script

    options = job.params.get("options", {})
    raw_steps = job.params["steps"]
    subtasks = [{"id": i, "title": _title(step), "status": "pending"} for i, step in enumerate(raw_steps)]
    if subtasks:
        subtasks[0]["status"] = "running"
    report.update(progress=0.0, subtasks=subtasks)

    def progress(index: int, total: int, entry: dict) -> None:
        subtasks[index]["status"] = STEP_STATUS.get(entry.get("status"), "failed")
        if index + 1 < total and subtasks[index]["status"] == "succeeded":
            subtasks[index + 1]["status"] = "running"
        line = f"step {index + 1} ({entry.get('action')}): {entry.get('status')}"
        if entry.get("error"):
            line += f" — {entry['error']}"
        report.update(progress=(index + 1) / total, subtasks=subtasks, log_line=line)

    def work(emit, cancelled):
        return run_script(raw_steps, out_dir=job_dir(job.pk), options=options, on_progress=emit, cancelled=cancelled)

    try:
        result = run_in_browser_thread(work, report, progress)
    except Exception as exc:
        partial = getattr(exc, "partial", None)
        if partial is not None:
            report.partial = _relative(partial)
        raise
    result = _relative(result)
    for row, step in zip(subtasks, result.get("steps", []), strict=False):
        row["status"] = STEP_STATUS.get(step.get("status"), row["status"])
    report.update(subtasks=subtasks)
    if result.get("status") == "cancelled":
        report.partial = result
        raise JobCancelled()
    if result.get("status") == "failed":
        report.partial = result
        raise RuntimeError(result.get("error") or "a step failed")
    return result


STEP_STATUS = {"ok": "succeeded", "failed": "failed", "skipped": "skipped"}


def _title(step: dict) -> str:
    action = step.get("action", "?")
    detail = step.get("url") or step.get("selector") or step.get("key") or (f"{step['ms']} ms" if "ms" in step else "")
    return f"{action} {detail}".strip()[:120]
