"""Run an automation script (goto, click, type, press, wait_for, extract, screenshot, pdf) in one fresh browser
context. The script is validated completely before anything runs, so a typo in step 7 costs nothing; at run
time a failing step stops the script with its error recorded and the later steps marked skipped.

A script is a list of objects, for example:

    [{"action": "goto", "url": "https://example.com/login"},
     {"action": "type", "selector": "#user", "text": "alice"},
     {"action": "click", "selector": "button[type=submit]"},
     {"action": "wait_for", "selector": ".welcome"},
     {"action": "extract", "selector": ".welcome", "as": "text"}]
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser import ssrf
from browser.driver import outside_browser
from browser.errors import BrowserCrashed, BrowserError, JobTimeout, PoolBusy, Refused, ScriptError
from browser.options import AUTOMATE, WAIT_UNTIL, Options, validate_options
from browser.pool import BrowserPool, get_pool
from browser.session import PageSession, first_line

SELECTOR_MAX_CHARS = 1000
TEXT_MAX_CHARS = 10_000
WAIT_MAX_MS = 60_000
EXTRACT_MODES = ("text", "attribute", "list", "html")
WAIT_STATES = ("visible", "attached", "hidden", "detached")

# action -> {argument: (type, required)}
ACTIONS: dict[str, dict[str, tuple[type, bool]]] = {
    "goto": {"url": (str, True), "wait_until": (str, False)},
    "click": {"selector": (str, True)},
    "type": {"selector": (str, True), "text": (str, True)},
    "press": {"key": (str, True), "selector": (str, False)},
    "wait_for": {"selector": (str, False), "ms": (int, False), "state": (str, False)},
    "extract": {"selector": (str, True), "as": (str, False), "name": (str, False)},
    "screenshot": {"full_page": (bool, False)},
    "pdf": {},
}

StepProgress = Callable[[int, int, dict[str, Any]], None]


@dataclass(frozen=True)
class Step:
    """One validated step. `index` counts from 0 (as in the results); messages say "step {index + 1}"."""

    index: int
    action: str
    args: dict[str, Any] = field(default_factory=dict)

    def where(self) -> str:
        return f"step {self.index + 1} ({self.action})"


def validate_script(steps: Any) -> list[Step]:
    """The script as Steps; ScriptError naming the step number (from 1) and action for the first problem.
    Already validated Steps are accepted as they are."""
    limit = settings.BROWSER_MAX_SCRIPT_STEPS
    if isinstance(steps, list) and steps and all(isinstance(s, Step) for s in steps):
        steps = [{"action": s.action, **s.args} for s in steps]
    if not isinstance(steps, list):
        raise ScriptError(f"a script is a list of steps, not {type(steps).__name__}")
    if not steps:
        raise ScriptError("the script has no steps")
    if len(steps) > limit:
        raise ScriptError(f"the script has {len(steps)} steps; at most {limit} are allowed (BROWSER_MAX_SCRIPT_STEPS)")
    return [_validate_step(index, raw) for index, raw in enumerate(steps)]


def _validate_step(index: int, raw: Any) -> Step:
    number = index + 1
    if not isinstance(raw, dict) or not isinstance(raw.get("action"), str):
        raise ScriptError(f'step {number}: each step must be an object with an "action"')
    action = raw["action"]
    if action not in ACTIONS:
        raise ScriptError(f'step {number}: unknown action "{action}"; the actions are: {", ".join(ACTIONS)}')
    where = f"step {number} ({action})"
    spec = ACTIONS[action]
    args = {key: value for key, value in raw.items() if key != "action"}
    for key in args:
        if key not in spec:
            takes = ", ".join(f'"{name}"' for name in spec) or "no arguments"
            raise ScriptError(f'{where}: unknown argument "{key}"; {action} takes {takes}')
    for key, (kind, required) in spec.items():
        if key not in args:
            if required:
                raise ScriptError(f'{where}: "{key}" is required')
            continue
        value = args[key]
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            names = {str: "a string", int: "an integer", bool: "true or false"}
            raise ScriptError(f'{where}: "{key}" must be {names[kind]}, not {value!r}')
        if kind is str and not value.strip() and key != "text":
            raise ScriptError(f'{where}: "{key}" must not be empty')
        if key == "selector" and len(value) > SELECTOR_MAX_CHARS:
            raise ScriptError(f'{where}: "selector" is longer than {SELECTOR_MAX_CHARS} characters')
    _validate_values(where, action, args, first=index == 0)
    return Step(index=index, action=action, args=args)


def _validate_values(where: str, action: str, args: dict[str, Any], *, first: bool) -> None:
    if first and action != "goto":
        raise ScriptError(f"{where}: a script must start with a goto step")
    if action == "goto":
        try:
            target = ssrf.split_url(args["url"])
        except Refused as error:
            raise ScriptError(f"{where}: {error}") from None
        reason = ssrf.port_refusal(target.port)
        if reason:
            raise ScriptError(f"{where}: {reason}")
        if args.get("wait_until", "load") not in WAIT_UNTIL:
            raise ScriptError(f'{where}: "wait_until" must be one of {", ".join(WAIT_UNTIL)}')
    elif action == "type" and len(args["text"]) > TEXT_MAX_CHARS:
        raise ScriptError(f'{where}: "text" is longer than {TEXT_MAX_CHARS} characters')
    elif action == "press" and len(args["key"]) > 50:
        raise ScriptError(f'{where}: "key" must be a key name such as "Enter" or "Control+A"')
    elif action == "wait_for":
        if ("selector" in args) == ("ms" in args):
            raise ScriptError(f'{where}: give either "selector" or "ms"')
        if "ms" in args and not 0 <= args["ms"] <= WAIT_MAX_MS:
            raise ScriptError(f'{where}: "ms" must be from 0 to {WAIT_MAX_MS}')
        if "state" in args and ("ms" in args or args["state"] not in WAIT_STATES):
            raise ScriptError(f'{where}: "state" goes with "selector" and is one of {", ".join(WAIT_STATES)}')
    elif action == "extract":
        mode = args.get("as", "text")
        if mode not in EXTRACT_MODES:
            raise ScriptError(f'{where}: "as" must be one of {", ".join(EXTRACT_MODES)}, not {mode!r}')
        if (mode == "attribute") != ("name" in args):
            raise ScriptError(f'{where}: "name" (the attribute to read) goes with "as": "attribute", and only with it')


def validate_automation_options(options: dict[str, Any] | None) -> Options:
    """The options of an automation job (those of a scrape minus wait_for_selector, screenshot and pdf,
    which are steps here); OptionError names a bad one."""
    return validate_options(options, allowed=AUTOMATE)


def run_script(
    steps: Any,
    *,
    out_dir: Path,
    options: dict[str, Any] | None = None,
    on_progress: StepProgress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    pool: BrowserPool | None = None,
) -> dict[str, Any]:
    """Validates and runs a script; returns {status ok|failed|cancelled, error, steps: [{index, action, status,
    result|error, ms}], final_url, title, files, blocked, truncated, timings}. Raises ScriptError/OptionError
    before anything runs; BrowserCrashed, MemoryLimitExceeded, PoolBusy or a job-level JobTimeout when the
    browser itself failed (the steps so far are on the error's `partial` attribute)."""
    script = validate_script(steps)
    opts = validate_automation_options(options)
    started = time.monotonic()
    resolver = ssrf.Resolver()
    results: list[dict[str, Any]] = [{"index": s.index, "action": s.action, "status": "skipped"} for s in script]
    outcome: dict[str, Any] = {"status": "ok", "error": None, "cancelled": False, "final_url": None, "title": None}
    files: list[str] = []
    job_state: dict[str, Any] = {"blocked": [], "truncated": False}
    pool = pool or get_pool()
    current: Step | None = None
    try:
        with pool.context(
            viewport=opts.viewport,
            javascript=opts.javascript,
            timeout_s=opts.timeout_s,
            max_bytes=opts.max_bytes,
            resolver=resolver,
        ) as job:
            try:
                for step in script:
                    with outside_browser():  # the callback may use Django's ORM
                        stop = cancelled()
                    if stop:
                        outcome.update(status="cancelled", cancelled=True, error=f"cancelled before {step.where()}")
                        break
                    current = step
                    mark = time.monotonic()
                    entry = results[step.index]
                    try:
                        value = _run_step(job, step, out_dir=out_dir, resolver=resolver, wait_until=opts.wait_until)
                    except _StepFailed as failure:
                        entry.update(status="failed", error=str(failure), ms=_ms(mark))
                        outcome.update(status="failed", error=f"{step.where()}: {failure}")
                        _report(on_progress, step, len(script), entry)
                        break
                    entry.update(status="ok", result=value, ms=_ms(mark))
                    if step.action in ("screenshot", "pdf"):
                        files.append(value[step.action])
                    _report(on_progress, step, len(script), entry)
                current = None
                with contextlib.suppress(PlaywrightError):  # a finished script stays finished
                    outcome["final_url"] = job.page.url
                    outcome["title"] = job.page.title()
            finally:
                job_state.update(blocked=job.blocked, truncated=job.truncated)
    except (BrowserCrashed, PoolBusy, JobTimeout) as error:
        if current is not None:
            results[current.index].update(status="failed", error=str(error))
        error.partial = _result(outcome | {"status": "failed", "error": str(error)}, results, files, job_state, started)
        raise
    return _result(outcome, results, files, job_state, started)


class _StepFailed(Exception):
    """A step did not work (element missing, refused URL, …): recorded on the step, the script stops."""


def _run_step(job: PageSession, step: Step, *, out_dir: Path, resolver: ssrf.Resolver, wait_until: str) -> Any:
    page, args = job.page, step.args
    try:
        if step.action == "goto":
            ssrf.check_url(args["url"], resolver)
            response = job.goto(args["url"], wait_until=args.get("wait_until", wait_until))
            return {"url": page.url, "status": response.status if response is not None else None}
        if step.action == "click":
            page.click(args["selector"], timeout=job.remaining_ms())
            return None
        if step.action == "type":
            page.fill(args["selector"], args["text"], timeout=job.remaining_ms())
            return None
        if step.action == "press":
            if "selector" in args:
                page.press(args["selector"], args["key"], timeout=job.remaining_ms())
            else:
                page.keyboard.press(args["key"])
            return None
        if step.action == "wait_for":
            if "ms" in args:
                if args["ms"] > job.remaining_ms():
                    raise _StepFailed(f"waiting {args['ms']} ms would pass the job's {job.timeout_s:g} s time limit")
                page.wait_for_timeout(args["ms"])
            else:
                page.wait_for_selector(args["selector"], state=args.get("state", "visible"), timeout=job.remaining_ms())
            return None
        if step.action == "extract":
            return _extract(job, args)
        out_dir.mkdir(parents=True, exist_ok=True)
        if step.action == "screenshot":
            path = out_dir / f"step-{step.index + 1}.png"
            page.screenshot(path=str(path), full_page=args.get("full_page", True), timeout=job.remaining_ms())
            return {"screenshot": str(path)}
        path = out_dir / f"step-{step.index + 1}.pdf"
        page.pdf(path=str(path), print_background=True)
        return {"pdf": str(path)}
    except PlaywrightTimeoutError as error:
        target = f' "{args["selector"]}"' if "selector" in args else ""
        raise _StepFailed(
            f"timed out waiting for{target or ' the page'} (the job's time limit is {job.timeout_s:g} s): "
            f"{first_line(error)}"
        ) from None
    except BrowserCrashed:
        raise
    except BrowserError as error:  # Refused, NavigationFailed, TooLarge, ResolveError, a step-level JobTimeout
        raise _StepFailed(str(error)) from None
    except PlaywrightError as error:
        if job.page_crashed or not _browser_alive(job):
            raise  # the pool turns it into BrowserCrashed
        raise _StepFailed(first_line(error)) from None


def _extract(job: PageSession, args: dict[str, Any]) -> Any:
    page, selector, mode = job.page, args["selector"], args.get("as", "text")
    if mode == "list":
        return page.locator(selector).all_inner_texts()
    page.wait_for_selector(selector, state="attached", timeout=job.remaining_ms())
    element = page.locator(selector).first
    if mode == "text":
        return element.inner_text(timeout=job.remaining_ms())
    if mode == "attribute":
        return element.get_attribute(args["name"], timeout=job.remaining_ms())
    return element.evaluate("(e) => e.outerHTML", timeout=job.remaining_ms())


def _browser_alive(job: PageSession) -> bool:
    browser = job.context.browser
    return browser is not None and browser.is_connected()


def _report(on_progress: StepProgress | None, step: Step, total: int, entry: dict[str, Any]) -> None:
    if on_progress is not None:
        with outside_browser():  # the callback may use Django's ORM
            on_progress(step.index, total, dict(entry))


def _result(
    outcome: dict[str, Any],
    results: list[dict[str, Any]],
    files: list[str],
    job_state: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    return {
        **outcome,
        "steps": results,
        "files": files,
        "blocked": job_state["blocked"],
        "truncated": job_state["truncated"],
        "timings": {"total_ms": _ms(started)},
    }


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)
