"""Workflows: ordered steps, each step's output a variable for the steps after it.

Step types (every step has a `name`, unique in the workflow, and a `type`):
- prompt:          {"prompt", "model"?, "system"?, "temperature"?, "max_tokens"?} → the model's answer
- cross_validate:  {"prompt", "models", "strategy"?, "tiebreaker"?, "judge_model"?, "knowledge_base_ids"?,
                    "options"?} → the chosen answer; also `confidence`, `method`, `task_id`
- scrape:          {"url"} → the page's readable text; also `title`, `url`
- retrieve:        {"query", "knowledge_base_ids", "k"?} → the best chunks as numbered sources; also `hits`
- transform:       {"template_id" or "template", "variables"?} → the template rendered (no model call)
- branch:          {"value", "op"?, "threshold", "then"?, "else"?} → "then" or "else"; jumps to the step named
                   by `then`/`else` when the value compares true/false ("next" by default, "end" stops)

Text fields take placeholders: `{{ inputs.NAME }}` (the run's inputs, declared on the workflow) and
`{{ steps.NAME.output }}` or any other field of an earlier step's result (`{{ steps.check.confidence }}`).
A placeholder may only name an earlier step, and branches only jump forward, so every run ends.
A run keeps each step's result as it ends; a run taken over by another worker replays the stored results
and goes on from the first step without one.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from django.utils import timezone

from core.jobs import JobCancelled, Reporter
from core.models import Job
from orchestration import variables
from orchestration.models import Status, Task, Template, WorkflowRun

STEP_TYPES = ("prompt", "cross_validate", "scrape", "retrieve", "transform", "branch")
STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_STEPS = 50
TEXT_MAX = 100_000
OUTPUT_MAX = 200_000
OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
       "==": lambda a, b: a == b, "!=": lambda a, b: a != b}  # fmt: skip
FIELDS: dict[str, dict[str, bool]] = {  # field -> required
    "prompt": {"prompt": True, "model": False, "system": False, "temperature": False, "max_tokens": False},
    "cross_validate": {"prompt": True, "models": True, "strategy": False, "tiebreaker": False, "judge_model": False,
                       "knowledge_base_ids": False, "options": False},
    "scrape": {"url": True},
    "retrieve": {"query": True, "knowledge_base_ids": True, "k": False},
    "transform": {"template_id": False, "template": False, "variables": False},
    "branch": {"value": True, "op": False, "threshold": True, "then": False, "else": False},
}  # fmt: skip
TEMPLATED = {"prompt": ("prompt", "system"), "cross_validate": ("prompt",), "scrape": ("url",), "retrieve": ("query",),
             "transform": ("template",), "branch": ("value",)}  # fmt: skip


class StepError(Exception):
    """A step could not produce its output; the message names the step and the reason."""


def _input_error(message: str):
    from orchestration.services import OrchestrationInputError

    return OrchestrationInputError(message)


def _check_placeholders(text: str, where: str, inputs: set[str], earlier: list[str]) -> None:
    for path in variables.placeholders(text):
        parts = path.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            if parts[1] not in inputs:
                raise _input_error(f"{where}: {{{{ {path} }}}} is not a declared input (declared: "
                                   f"{', '.join(sorted(inputs)) or 'none'})")  # fmt: skip
        elif parts[0] == "steps" and len(parts) >= 3:
            if parts[1] not in earlier:
                raise _input_error(f"{where}: {{{{ {path} }}}} names no earlier step (earlier: "
                                   f"{', '.join(earlier) or 'none'})")  # fmt: skip
        else:
            raise _input_error(f"{where}: {{{{ {path} }}}}: use {{{{ inputs.NAME }}}} or {{{{ steps.NAME.output }}}}")


def steps_validate(*, user, steps: Any, inputs: list[dict]) -> list[dict]:
    """The steps checked (types, fields, references) and normalised; OrchestrationInputError names the step."""
    from orchestration.services import OrchestrationInputError, _knowledge_bases, _options

    if not isinstance(steps, list) or not steps:
        raise _input_error('steps: a list of steps, e.g. [{"name": "answer", "type": "prompt", "prompt": "…"}]')
    if len(steps) > MAX_STEPS:
        raise _input_error(f"steps: at most {MAX_STEPS}")
    names = []
    for i, step in enumerate(steps):
        name = step.get("name") if isinstance(step, dict) else None
        if not isinstance(name, str) or not STEP_NAME.match(name):
            raise _input_error(
                f"steps[{i}]: name: lower-case letters, digits and _ (at most 40, starting with a letter)"
            )
        if name in names:
            raise _input_error(f"steps[{i}]: the name {name!r} is used twice")
        names.append(name)
    declared = {s["name"] for s in inputs}
    out = []
    for i, step in enumerate(steps):
        name = step["name"]
        where = f"step {name!r}"
        kind = step.get("type")
        if kind not in STEP_TYPES:
            raise _input_error(f"{where}: type: one of {', '.join(STEP_TYPES)}, not {kind!r}")
        allowed = FIELDS[kind]
        extra = sorted(set(step) - set(allowed) - {"name", "type"})
        if extra:
            raise _input_error(f"{where}: unknown field {extra[0]!r} for a {kind} step (fields: {', '.join(allowed)})")
        for field, required in allowed.items():
            if required and step.get(field) in (None, "", []):
                raise _input_error(f"{where}: {field} is required for a {kind} step")
        clean = {"name": name, "type": kind, **{k: step[k] for k in allowed if step.get(k) is not None}}
        for field in TEMPLATED[kind]:
            if field in clean:
                if not isinstance(clean[field], str) or len(clean[field]) > TEXT_MAX:
                    raise _input_error(f"{where}: {field}: text of at most {TEXT_MAX:,} characters")
                _check_placeholders(clean[field], f"{where}: {field}", declared, names[:i])
        try:
            _validate_kind(user, clean, names[i + 1 :], where, declared, names[:i])
            if "knowledge_base_ids" in clean:
                clean["knowledge_base_ids"] = _knowledge_bases(user, clean["knowledge_base_ids"],
                                                               f"{where}: knowledge_base_ids")  # fmt: skip
            if "options" in clean:
                clean["options"] = _options(clean["options"])
        except OrchestrationInputError as exc:
            message = str(exc)
            raise _input_error(message if message.startswith(where) else f"{where}: {message}") from None
        out.append(clean)
    return out


def _validate_kind(user, step: dict, later: list[str], where: str, inputs: set[str], earlier: list[str]) -> None:
    from orchestration.services import ALL_LOADED, OrchestrationInputError

    kind = step["type"]
    if kind in ("prompt", "cross_validate") and "model" in step and not isinstance(step["model"], str):
        raise OrchestrationInputError("model: a model name")
    if kind == "prompt":
        if "temperature" in step and (isinstance(step["temperature"], bool) or not isinstance(step["temperature"], (int, float))
                                      or not 0 <= step["temperature"] <= 2):  # fmt: skip
            raise OrchestrationInputError("temperature: a number from 0 to 2")
        if "max_tokens" in step and (not isinstance(step["max_tokens"], int) or isinstance(step["max_tokens"], bool)
                                     or not 1 <= step["max_tokens"] <= 32_768):  # fmt: skip
            raise OrchestrationInputError("max_tokens: a whole number from 1 to 32768")
    if kind == "cross_validate":
        models = step["models"]
        if models != ALL_LOADED and (not isinstance(models, list) or not all(isinstance(m, str) and m for m in models)):
            raise OrchestrationInputError(f'models: a list of model names, or "{ALL_LOADED}"')
        for field, choices in (("strategy", Task.Strategy.values), ("tiebreaker", Task.Tiebreaker.values)):
            if field in step and step[field] not in choices:
                raise OrchestrationInputError(f"{field}: one of {', '.join(choices)}")
    if kind == "retrieve" and "k" in step and (not isinstance(step["k"], int) or not 1 <= step["k"] <= 50):
        raise OrchestrationInputError("k: a whole number from 1 to 50")
    if kind == "transform":
        has_id, has_text = "template_id" in step, "template" in step
        if has_id == has_text:
            raise OrchestrationInputError(
                "give template_id (one of your templates) or template (inline text), one of them"
            )
        mapping = step.get("variables", {})
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise OrchestrationInputError("variables: an object of template variable → text (placeholders allowed)")
        for key, text in mapping.items():
            _check_placeholders(text, f"variables.{key}", inputs, earlier)
        if has_id:
            template = Template.objects.filter(user=user, pk=step["template_id"]).first() if isinstance(
                step["template_id"], int) else None  # fmt: skip
            if template is None:
                raise OrchestrationInputError(f"template_id: you have no template {step['template_id']}")
            declared = {s["name"] for s in template.variables}
            unknown = sorted(set(mapping) - declared)
            if unknown:
                raise OrchestrationInputError(f"variables: the template has no variable {unknown[0]!r}")
        elif mapping:
            raise OrchestrationInputError("variables: only with template_id (an inline template uses placeholders)")
    if kind == "branch":
        if step.get("op", ">=") not in OPS:
            raise OrchestrationInputError(f"op: one of {' '.join(OPS)}")
        threshold = step["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise OrchestrationInputError("threshold: a number")
        for field in ("then", "else"):
            target = step.get(field, "next")
            if target not in ("next", "end") and target not in later:
                raise OrchestrationInputError(
                    f'{field}: "next", "end" or the name of a later step (later: {", ".join(later) or "none"})'
                )


# --- running ---


def _now_iso() -> str:
    return timezone.now().isoformat()


class WorkflowRunner:
    """Runs a WorkflowRun's steps in order inside its job (see the module docstring)."""

    def __init__(self, run: WorkflowRun, report: Reporter) -> None:
        self.run = run
        self.report = report
        self.steps: list[dict] = run.steps
        self.outputs: dict = dict(run.outputs or {})
        self.context: dict = {"inputs": run.inputs, "steps": {}}

    def checklist(self) -> list[dict]:
        rows = []
        for step in self.steps:
            state = self.outputs.get(step["name"], {})
            rows.append({"id": step["name"], "title": f"{step['type']}: {step['name']}",
                         "status": state.get("status", "pending"), "completed_at": state.get("completed_at"),
                         "kind": step["type"], "model": step.get("model", "")})  # fmt: skip
        return rows

    def _save(self, progress: float | None = None, log_line: str | None = None) -> None:
        WorkflowRun.objects.filter(pk=self.run.pk).update(outputs=self.outputs)
        self.report.update(progress=progress, subtasks=self.checklist(), log_line=log_line)

    def execute(self) -> dict:
        if self.run.status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED):
            return self.summary()
        now = timezone.now()
        WorkflowRun.objects.filter(pk=self.run.pk).update(status=Status.RUNNING, started_at=self.run.started_at or now)
        total = len(self.steps)
        index = 0
        last_output: Any = None
        while index < total:
            step = self.steps[index]
            name = step["name"]
            stored = self.outputs.get(name)
            if stored and stored.get("status") in ("succeeded", "skipped"):
                result = stored  # done by an earlier attempt: replayed, not run again
            else:
                self.report.check_cancelled()
                self.outputs[name] = {"status": "running", "started_at": _now_iso()}
                self._save(progress=index / total, log_line=f"step {name} ({step['type']}) started")
                started = time.perf_counter()
                try:
                    result = self._step(step, index, total)
                except (JobCancelled, asyncio.CancelledError):
                    self.outputs[name] = {**self.outputs[name], "status": "cancelled", "completed_at": _now_iso()}
                    self._save()
                    raise JobCancelled() from None
                except Exception as exc:
                    error = f"step {name!r} ({step['type']}): {exc}"
                    self.outputs[name] = {**self.outputs[name], "status": "failed", "error": str(exc)[:2000],
                                          "completed_at": _now_iso()}  # fmt: skip
                    for later in self.steps[index + 1 :]:
                        self.outputs.setdefault(later["name"], {"status": "skipped", "completed_at": _now_iso()})
                    self._save(log_line=f"step {name} failed: {exc}")
                    raise StepError(error) from exc
                result = {**self.outputs[name], **result, "status": "succeeded", "completed_at": _now_iso(),
                          "ms": round((time.perf_counter() - started) * 1000, 1)}  # fmt: skip
                self.outputs[name] = result
                self._save(progress=(index + 1) / total, log_line=f"step {name} done")
            if result.get("status") == "succeeded":
                self.context["steps"][name] = {k: v for k, v in result.items() if k not in ("status",)}
                last_output = result.get("output")
            target = result.get("jump") if step["type"] == "branch" else "next"
            following = index + 1 if target in (None, "next") else total if target == "end" else self._index(target)
            for skipped in self.steps[index + 1 : following]:
                if skipped["name"] not in self.outputs:
                    self.outputs[skipped["name"]] = {"status": "skipped", "completed_at": _now_iso(),
                                                     "reason": f"branch {name} jumped to {target}"}  # fmt: skip
            if following > index + 1:
                self._save()
            index = following
        return self._finish(last_output)

    def _index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s["name"] == name)

    def _finish(self, last_output: Any) -> dict:
        result = {"run_id": self.run.pk, "output": last_output,
                  "steps": {s["name"]: self.outputs.get(s["name"], {}).get("status") for s in self.steps}}  # fmt: skip
        written = WorkflowRun.objects.filter(pk=self.run.pk, finished_at__isnull=True).update(
            status=Status.SUCCEEDED, result=result, outputs=self.outputs, finished_at=timezone.now(), error=""
        )
        self.run.refresh_from_db()
        return result if written else self.summary()

    def summary(self) -> dict:
        return self.run.result or {"run_id": self.run.pk, "status": self.run.status, "error": self.run.error}

    def end(self, status: str, error: str) -> None:
        WorkflowRun.objects.filter(pk=self.run.pk, finished_at__isnull=True).update(
            status=status, error=error[:2000], outputs=self.outputs, finished_at=timezone.now()
        )

    # --- the steps ---

    def _render(self, text: str, field: str) -> str:
        try:
            return variables.render(text, self.context)
        except variables.RenderError as exc:
            raise StepError(f"{field}: {exc} (was that step skipped by a branch, or did it fail?)") from None

    def _step(self, step: dict, index: int, total: int) -> dict:
        kind = step["type"]
        if kind == "prompt":
            return self._prompt(step)
        if kind == "cross_validate":
            return self._cross_validate(step, index, total)
        if kind == "scrape":
            return self._scrape(step)
        if kind == "retrieve":
            return self._retrieve(step)
        if kind == "transform":
            return self._transform(step)
        return self._branch(step)

    def _prompt(self, step: dict) -> dict:
        from llm import gateway
        from orchestration.jobs import watched

        prompt = self._render(step["prompt"], "prompt")
        system = self._render(step.get("system", ""), "system")
        messages = ([{"role": "system", "content": system}] if system.strip() else []) + [
            {"role": "user", "content": prompt}
        ]
        request = gateway.ChatRequest(messages=messages, model=step.get("model") or None,
                                      temperature=step.get("temperature"), max_tokens=step.get("max_tokens"))  # fmt: skip
        result = asyncio.run(watched(gateway.chat(request), self.report.job.pk))
        return {"output": result.content[:OUTPUT_MAX], "model": result.model, "latency_ms": result.timings.get("total_ms"),
                "tokens": result.usage.get("completion_tokens"),
                "flags": [f.code for f in result.flags]}  # fmt: skip

    def _cross_validate(self, step: dict, index: int, total: int) -> dict:
        from orchestration import services
        from orchestration.jobs import run_task_async

        task = Task.objects.filter(workflow_run=self.run, step_name=step["name"]).first()
        if task is None:
            try:
                task = services.task_create(
                    user=self.run.user, prompt=self._render(step["prompt"], "prompt"), models=step["models"],
                    strategy=step.get("strategy"), tiebreaker=step.get("tiebreaker"),
                    judge_model=step.get("judge_model"), knowledge_base_ids=step.get("knowledge_base_ids"),
                    options=step.get("options"), workflow_run=self.run, step_name=step["name"],
                    title=f"{self.run.workflow.name} · {step['name']}",
                )  # fmt: skip
            except services.OrchestrationInputError as exc:
                raise StepError(str(exc)) from None

        def progress(fraction: float) -> None:
            self.report.update(progress=(index + fraction) / total)

        summary = run_task_async(task, self.report, progress=progress)
        task.refresh_from_db()
        if task.status != Status.SUCCEEDED:
            raise StepError(task.error or f"the task ended {task.status}")
        decision = task.decision or {}
        return {"output": task.final_answer, "confidence": task.confidence, "method": decision.get("method"),
                "winner": decision.get("label"), "model": decision.get("model"), "task_id": task.pk,
                "agreement": _mean_score(task.agreement), "summary": summary}  # fmt: skip

    def _scrape(self, step: dict) -> dict:
        from browser.errors import Cancelled
        from browser.jobs import job_dir, run_in_browser_thread
        from browser.scrape import scrape
        from browser.services import BrowserInputError, _url

        try:
            url = _url(self._render(step["url"], "url").strip())
        except BrowserInputError as exc:
            raise StepError(str(exc)) from None

        def work(emit, cancelled):
            return scrape(url, out_dir=job_dir(self.report.job.pk), options={}, on_progress=emit, cancelled=cancelled)

        try:
            page = run_in_browser_thread(work, self.report, lambda fraction, message: None)
        except Cancelled:
            raise JobCancelled() from None
        return {"output": (page.get("text") or "")[:OUTPUT_MAX], "title": page.get("title") or "",
                "url": page.get("final_url") or url}  # fmt: skip

    def _retrieve(self, step: dict) -> dict:
        from chat.grounding import citation_of
        from knowledge import retrieval

        query = self._render(step["query"], "query")
        found = retrieval.search_detailed(user=self.run.user, kb_ids=step["knowledge_base_ids"], query=query,
                                          k=step.get("k", 5))  # fmt: skip
        hits = found.hits
        text = "\n\n".join(f"[{n}] {h['source_title']}\n{h['text'].strip()}" for n, h in enumerate(hits, start=1))
        return {"output": text, "count": len(hits), "hits": [citation_of(n, h) for n, h in enumerate(hits, start=1)],
                "warnings": found.warnings}  # fmt: skip

    def _transform(self, step: dict) -> dict:
        from orchestration import services

        if "template" in step:
            return {"output": self._render(step["template"], "template")}
        template = Template.objects.filter(user=self.run.user, pk=step["template_id"]).first()
        if template is None:
            raise StepError(f"template {step['template_id']} no longer exists")
        values = {key: self._render(text, f"variables.{key}") for key, text in step.get("variables", {}).items()}
        try:
            text, _values = services.template_render(template=template, values=values)
        except services.OrchestrationInputError as exc:
            raise StepError(f"template {template.name!r}: {exc}") from None
        return {"output": text, "template": template.name}

    def _branch(self, step: dict) -> dict:
        raw = self._render(step["value"], "value").strip()
        try:
            value = float(raw)
        except ValueError:
            raise StepError(f"value: {step['value']} is {raw!r}, not a number") from None
        op = step.get("op", ">=")
        taken = "then" if OPS[op](value, float(step["threshold"])) else "else"
        jump = step.get(taken, "next")
        return {"output": taken, "value": value, "jump": jump,
                "reason": f"{value:g} {op} {step['threshold']:g} is {taken == 'then'}"}  # fmt: skip


def _mean_score(agreement: dict | None) -> float | None:
    scores = [s for s in (agreement or {}).get("scores", []) if s is not None]
    return round(sum(scores) / len(scores), 4) if scores else None


def workflow_job(job: Job, report: Reporter) -> dict:
    run = WorkflowRun.objects.select_related("workflow", "user").get(pk=job.params["run_id"])
    runner = WorkflowRunner(run, report)
    try:
        return runner.execute()
    except JobCancelled:
        runner.end(Status.CANCELLED, "cancelled")
        report.partial = runner.summary()
        raise
    except Exception as exc:
        runner.end(Status.FAILED, str(exc))
        report.partial = {"run_id": run.pk, "error": str(exc)[:2000]}
        raise
