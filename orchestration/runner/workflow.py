"""Running a workflow inside its job: the steps (steps.py) in order, each step's output a variable for the
steps after it. A run keeps each step's result as it ends; a run taken over by another worker replays the
stored results and goes on from the first step without one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.utils import timezone

from browser.errors import Cancelled
from browser.jobs import job_dir, run_in_browser_thread
from browser.scrape import scrape
from browser.services import BrowserInputError, url_check
from chat.grounding import citation_of
from core.jobs import JobCancelled, Reporter
from core.models import Job
from knowledge import retrieval
from llm import gateway
from orchestration import services, variables
from orchestration.models import Status, Task, Template, WorkflowRun
from orchestration.runner import job as job_runner
from orchestration.steps import OPS
from orchestration.validation import OrchestrationInputError

OUTPUT_MAX = 200_000


class StepError(Exception):
    """A step could not produce its output; the message names the step and the reason."""


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
            rows.append(
                {
                    "id": step["name"],
                    "title": f"{step['type']}: {step['name']}",
                    "status": state.get("status", "pending"),
                    "completed_at": state.get("completed_at"),
                    "kind": step["type"],
                    "model": step.get("model", ""),
                }
            )
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
                    self.outputs[name] = {
                        **self.outputs[name],
                        "status": "failed",
                        "error": str(exc)[:2000],
                        "completed_at": _now_iso(),
                    }
                    for later in self.steps[index + 1 :]:
                        self.outputs.setdefault(later["name"], {"status": "skipped", "completed_at": _now_iso()})
                    self._save(log_line=f"step {name} failed: {exc}")
                    raise StepError(error) from exc
                result = {
                    **self.outputs[name],
                    **result,
                    "status": "succeeded",
                    "completed_at": _now_iso(),
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }
                self.outputs[name] = result
                self._save(progress=(index + 1) / total, log_line=f"step {name} done")
            if result.get("status") == "succeeded":
                self.context["steps"][name] = {k: v for k, v in result.items() if k not in ("status",)}
                last_output = result.get("output")
            target = result.get("jump") if step["type"] == "branch" else "next"
            following = index + 1 if target in (None, "next") else total if target == "end" else self._index(target)
            for skipped in self.steps[index + 1 : following]:
                if skipped["name"] not in self.outputs:
                    self.outputs[skipped["name"]] = {
                        "status": "skipped",
                        "completed_at": _now_iso(),
                        "reason": f"branch {name} jumped to {target}",
                    }
            if following > index + 1:
                self._save()
            index = following
        return self._finish(last_output)

    def _index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s["name"] == name)

    def _finish(self, last_output: Any) -> dict:
        result = {
            "run_id": self.run.pk,
            "output": last_output,
            "steps": {s["name"]: self.outputs.get(s["name"], {}).get("status") for s in self.steps},
        }
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
        prompt = self._render(step["prompt"], "prompt")
        system = self._render(step.get("system", ""), "system")
        messages = ([{"role": "system", "content": system}] if system.strip() else []) + [
            {"role": "user", "content": prompt}
        ]
        request = gateway.ChatRequest(
            messages=messages,
            model=step.get("model") or None,
            temperature=step.get("temperature"),
            max_tokens=step.get("max_tokens"),
        )
        result = asyncio.run(job_runner.watched(gateway.chat(request), self.report.job.pk))
        return {
            "output": result.content[:OUTPUT_MAX],
            "model": result.model,
            "latency_ms": result.timings.get("total_ms"),
            "tokens": result.usage.get("completion_tokens"),
            "flags": [f.code for f in result.flags],
        }

    def _cross_validate(self, step: dict, index: int, total: int) -> dict:
        task = Task.objects.filter(workflow_run=self.run, step_name=step["name"]).first()
        if task is None:
            try:
                task = services.task_create(
                    user=self.run.user,
                    prompt=self._render(step["prompt"], "prompt"),
                    models=step["models"],
                    strategy=step.get("strategy"),
                    tiebreaker=step.get("tiebreaker"),
                    judge_model=step.get("judge_model"),
                    knowledge_base_ids=step.get("knowledge_base_ids"),
                    options=step.get("options"),
                    workflow_run=self.run,
                    step_name=step["name"],
                    title=f"{self.run.workflow.name} · {step['name']}",
                )
            except OrchestrationInputError as exc:
                raise StepError(str(exc)) from None

        def progress(fraction: float) -> None:
            self.report.update(progress=(index + fraction) / total)

        summary = job_runner.run_task(task, self.report, progress=progress)
        task.refresh_from_db()
        if task.status != Status.SUCCEEDED:
            raise StepError(task.error or f"the task ended {task.status}")
        decision = task.decision or {}
        return {
            "output": task.final_answer,
            "confidence": task.confidence,
            "method": decision.get("method"),
            "winner": decision.get("label"),
            "model": decision.get("model"),
            "task_id": task.pk,
            "agreement": _mean_score(task.agreement),
            "summary": summary,
        }

    def _scrape(self, step: dict) -> dict:
        try:
            url = url_check(self._render(step["url"], "url").strip())
        except BrowserInputError as exc:
            raise StepError(str(exc)) from None

        def work(emit, cancelled):
            return scrape(url, out_dir=job_dir(self.report.job.pk), options={}, on_progress=emit, cancelled=cancelled)

        try:
            page = run_in_browser_thread(work, self.report, lambda fraction, message: None)
        except Cancelled:
            raise JobCancelled() from None
        return {
            "output": (page.get("text") or "")[:OUTPUT_MAX],
            "title": page.get("title") or "",
            "url": page.get("final_url") or url,
        }

    def _retrieve(self, step: dict) -> dict:
        query = self._render(step["query"], "query")
        found = retrieval.search_detailed(
            user=self.run.user, kb_ids=step["knowledge_base_ids"], query=query, k=step.get("k", 5)
        )
        hits = found.hits
        text = "\n\n".join(f"[{n}] {h['source_title']}\n{h['text'].strip()}" for n, h in enumerate(hits, start=1))
        return {
            "output": text,
            "count": len(hits),
            "hits": [citation_of(n, h) for n, h in enumerate(hits, start=1)],
            "warnings": found.warnings,
        }

    def _transform(self, step: dict) -> dict:
        if "template" in step:
            return {"output": self._render(step["template"], "template")}
        template = Template.objects.filter(user=self.run.user, pk=step["template_id"]).first()
        if template is None:
            raise StepError(f"template {step['template_id']} no longer exists")
        values = {key: self._render(text, f"variables.{key}") for key, text in step.get("variables", {}).items()}
        try:
            text, _values = services.template_render(template=template, values=values)
        except OrchestrationInputError as exc:
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
        return {
            "output": taken,
            "value": value,
            "jump": jump,
            "reason": f"{value:g} {op} {step['threshold']:g} is {taken == 'then'}",
        }


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
