"""Running one task: every model answers in parallel, the answers are checked (each reviewed by the other
models, or voted on, or judged), one is chosen with a confidence, and everything is measured.

Every subtask is a row that is saved as soon as it ends, so a run that dies half-way resumes where it was:
the answers and reviews already stored are kept, the rest is asked again, and the final result is written
by one conditional UPDATE (`finished_at IS NULL`), so a task is finished exactly once however many workers
ran it. The checklist that `task:update` carries is published through a coalescing flusher: a burst of
subtask changes becomes one message, and no model call waits for a publish.

How the answer is chosen and how sure it is: decisions.py (the rules) and deciding.py (the calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from django.conf import settings

from chat.grounding import retrieve
from llm import gateway
from llm.validation import response_check
from orchestration import decisions, verdicts
from orchestration.models import Status, Subtask, Task
from orchestration.runner.common import (
    ANSWER_MAX_TOKENS,
    DONE,
    EMPTY_RETRIES,
    PREVIEW_CHARS,
    REVIEW_MAX_TOKENS,
    STREAM_PUBLISH_S,
    Publish,
    State,
    TaskError,
    _describe,
    _now,
    _report_summary,
    _tokens,
    _user_of,
    checklist_entry,
    min_answers,
    plan,
    task_summary,
)
from orchestration.runner.deciding import Deciding

log = logging.getLogger("orchestration.runner")


class TaskRunner(Deciding):
    """Runs one task to its end (see the module docstring); `publish(checklist, progress, log)` is told of changes."""

    def __init__(self, task: Task, *, publish: Publish | None = None) -> None:
        self.task = task
        self.publish = publish
        self.models: list[str] = list(task.model_names)
        self.options: dict = dict(task.options or {})
        self.rows: dict[str, Subtask] = {}
        self.sources: list[str] = []
        self.messages: list[dict] = []
        self.progress = task.progress
        self.resumed = False
        self._writes: dict[str, asyncio.Task] = {}
        self._dirty = False
        self._flusher: asyncio.Task | None = None
        self._started = time.perf_counter()
        self._phase_ms: dict[str, float] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._limits_lock = asyncio.Lock()
        self._partial: dict[str, list[str]] = {}
        self._log_lines: list[str] = []
        self._streamed_at = 0.0

    # --- the run ---

    async def run(self) -> dict:
        task = self.task
        self._started = time.perf_counter()
        task.status, task.started_at = Status.RUNNING, task.started_at or _now()
        await Task.objects.filter(pk=task.pk).aupdate(status=task.status, started_at=task.started_at, error="")
        await self._plan()
        await self._ground()
        self._changed()
        await self._answers()
        ok = self.answer_slots()
        need = min_answers(len(self.models))
        if len(ok) < need:
            failures = "; ".join(
                f"{verdicts.label(s)} {self.models[s]}: {self.rows[f'answer-{s}'].error or 'failed'}"
                for s in range(len(self.models))
                if s not in ok
            )
            raise TaskError(
                f"only {len(ok)} of {len(self.models)} models answered and {need} are needed "
                f"(ORCHESTRATION_MIN_ANSWERS): {failures}"
            )
        await self._skip_unusable(ok)
        checks: list[Awaitable] = []
        if task.strategy == Task.Strategy.CROSS_VALIDATE and len(ok) >= 2:
            checks.append(self._reviews(ok))
        if task.strategy == Task.Strategy.VOTE and len(ok) >= 2:
            checks.append(self._ballots(ok))
        if self.options.get("hallucination_check", True):
            checks.append(self._hallucination(ok))
        started = time.perf_counter()
        await asyncio.gather(*checks)
        self._phase_ms["checks"] = (time.perf_counter() - started) * 1000
        agreement = await self._agreement(ok)
        decision = await self._decide(ok, agreement)
        return await self._finish(ok, agreement, decision)

    def answer_slots(self) -> list[int]:
        return [s for s in range(len(self.models)) if self.rows[f"answer-{s}"].status == State.SUCCEEDED]

    # --- the plan: one row per model call, created once, kept across attempts ---

    async def _plan(self) -> None:
        planned = plan(self.task)
        await Subtask.objects.abulk_create(
            [
                Subtask(task=self.task, key=k, kind=kind, title=title[:300], model=model, position=i)
                for i, (k, kind, title, model) in enumerate(planned)
            ],
            ignore_conflicts=True,
        )
        self.rows = {row.key: row async for row in Subtask.objects.filter(task=self.task)}
        # A row left running, failed or cancelled by an earlier attempt is asked again; finished ones are kept.
        again = [r for r in self.rows.values() if r.status != State.SUCCEEDED]
        self.resumed = any(r.status == State.SUCCEEDED for r in self.rows.values())
        if again:
            await Subtask.objects.filter(pk__in=[r.pk for r in again]).aupdate(
                status=State.PENDING, error="", started_at=None, completed_at=None
            )
            for row in again:
                row.status, row.error, row.started_at, row.completed_at = State.PENDING, "", None, None

    async def _ground(self) -> None:
        """The knowledge-base chunks for the prompt, as numbered sources in the system prompt."""
        system = self.task.system_prompt.strip()
        if self.task.knowledge_base_ids:
            user = await _user_of(self.task)
            grounding = await retrieve(user=user, kb_ids=list(self.task.knowledge_base_ids), query=self.task.prompt)
            self.sources = list(grounding.sources)
            if grounding.citations:
                system = f"{system}\n\n{grounding.system_text}".strip()
            sources = grounding.citations or ([{"warning": grounding.warning}] if grounding.warning else [])
            if sources != self.task.sources:
                self.task.sources = sources
                await Task.objects.filter(pk=self.task.pk).aupdate(sources=sources)
        self.messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": self.task.prompt}
        ]

    # --- rows: saved in order per row, published coalesced ---

    def _log_take(self) -> str:
        lines, self._log_lines = self._log_lines, []
        return "\n".join(lines)

    def _write(self, row: Subtask, **fields) -> asyncio.Task:
        for name, value in fields.items():
            setattr(row, name, value)
        if fields.get("status") in DONE:
            took = f" in {row.latency_ms:,.0f} ms" if row.latency_ms is not None and "latency_ms" in fields else ""
            why = f": {row.error}" if row.error else ""
            self._log_lines.append(f"{row.key}{f' ({row.model})' if row.model else ''} {row.status}{took}{why}"[:500])
        previous = self._writes.get(row.key)

        async def write() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):  # its own failure was logged; this write still happens
                    await asyncio.shield(previous)
            await Subtask.objects.filter(pk=row.pk).aupdate(**fields)

        self._writes[row.key] = asyncio.ensure_future(write())
        self._changed()
        return self._writes[row.key]

    def _changed(self) -> None:
        done = sum(1 for r in self.rows.values() if r.status in DONE)
        self.progress = max(self.progress, round(0.02 + 0.96 * done / max(1, len(self.rows)), 4))
        if self.publish is None:
            return
        self._dirty = True
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())

    def checklist(self) -> list[dict]:
        entries = []
        for row in sorted(self.rows.values(), key=lambda r: r.position):
            entry = checklist_entry(row)
            parts = self._partial.get(row.key)
            if parts and row.status == State.RUNNING:
                entry["text"] = "".join(parts)[:PREVIEW_CHARS]  # the answer so far
            entries.append(entry)
        return entries

    async def _flush(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self.publish(self.checklist(), self.progress, self._log_take())
            except Exception:  # a lost update is repaired by the next one; the run goes on
                log.warning("task %s: publishing progress failed", self.task.pk, exc_info=True)

    async def settle(self) -> None:
        """Wait for every pending row write and publish (before the end of the run is reported)."""
        pending = [w for w in self._writes.values() if not w.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _call(self, row: Subtask, work: Callable[[], Awaitable[dict]]) -> bool:
        """Run one model call as a row: running, then succeeded with what `work` returns, or failed."""
        self._write(row, status=State.RUNNING, started_at=_now(), error="")
        try:
            fields = await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of one call is that subtask's, recorded on it
            if not isinstance(exc, (TaskError, ValueError)):
                log.info("task %s %s failed: %s", self.task.pk, row.key, exc)
            await self._write(row, status=State.FAILED, error=_describe(exc), completed_at=_now())
            return False
        await self._write(row, status=State.SUCCEEDED, completed_at=_now(), **fields)
        return True

    async def _limit(self, model: str) -> asyncio.Semaphore:
        """How many calls to `model` this task makes at once: what its backends accept together (their
        max_concurrency), so a single-slot server (llama.cpp's Python server interrupts the request it is
        serving when another arrives) is asked one thing at a time and several servers share the work."""
        async with self._limits_lock:  # one semaphore per model, even when the first calls start together
            if model not in self._limits:
                try:
                    found = await gateway.candidates(model)
                    capacity = sum({b.name: b.max_concurrency for b, _info, _state in found}.values())
                except Exception:  # unknown here means the call itself will say what is wrong
                    log.warning("task %s: the backends of %s could not be listed", self.task.pk, model, exc_info=True)
                    capacity = 0
                self._limits[model] = asyncio.Semaphore(max(1, capacity or len(self.models) ** 2))
        return self._limits[model]

    async def _chat(self, *, messages: list[dict], model: str, max_tokens: int, temperature=None, json=False):
        request = gateway.ChatRequest(
            messages=messages, model=model, max_tokens=max_tokens, temperature=temperature, expect_json=json
        )
        async with await self._limit(model):
            try:
                return await gateway.chat(request)
            except gateway.GatewayError as exc:
                if json and exc.code == "bad_request":
                    # Some servers refuse `response_format` (LM Studio wants a schema): ask again without it.
                    request.expect_json = False
                    return await gateway.chat(request)
                raise

    @staticmethod
    def _measured(result, started: float) -> dict:
        return {
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "prompt_tokens": _tokens(result.usage, "prompt_tokens"),
            "completion_tokens": _tokens(result.usage, "completion_tokens"),
        }

    # --- answers ---

    async def _stream(self, slot: int):
        """One answer, streamed: the text so far rides on the task's updates (`text` on the running answer's
        checklist entry, at most every STREAM_PUBLISH_S), so a page shows the answers as they are written."""
        model, key = self.models[slot], f"answer-{slot}"
        request = gateway.ChatRequest(
            messages=self.messages,
            model=model,
            temperature=self.options.get("temperature"),
            max_tokens=self.options.get("max_tokens") or ANSWER_MAX_TOKENS,
        )
        parts: list[str] = []
        start = end = None
        async with await self._limit(model):
            self._partial[key] = parts
            try:
                async for event in gateway.chat_stream(request):
                    if isinstance(event, gateway.StreamDelta):
                        parts.append(event.text)
                        if time.monotonic() - self._streamed_at >= STREAM_PUBLISH_S:
                            self._streamed_at = time.monotonic()
                            self._changed()
                    elif isinstance(event, gateway.StreamStart):
                        start = event
                    else:
                        end = event
            finally:
                self._partial.pop(key, None)
        content = "".join(parts)
        return gateway.ChatResult(
            content=content,
            model=start.model,
            backend=start.backend,
            finish_reason=end.finish_reason,
            usage=end.usage,
            timings=end.timings,
            attempts=end.attempts,
            flags=response_check(content, end.finish_reason),
        )

    async def _answers(self) -> None:
        started = time.perf_counter()
        todo = [s for s in range(len(self.models)) if self.rows[f"answer-{s}"].status != State.SUCCEEDED]
        await asyncio.gather(*(self._call(self.rows[f"answer-{s}"], self._answer_work(s)) for s in todo))
        self._phase_ms["answers"] = (time.perf_counter() - started) * 1000

    def _answer_work(self, slot: int) -> Callable[[], Awaitable[dict]]:
        async def work() -> dict:
            started = time.perf_counter()
            for _try in range(EMPTY_RETRIES + 1):  # an empty answer is asked for once more before it counts
                result = await self._stream(slot)
                if result.content.strip():
                    break
            flags = [{"code": f.code, "reason": f.reason} for f in result.flags]
            if not result.content.strip():
                raise TaskError(f"the model answered with no text ({EMPTY_RETRIES + 1} times)")
            data = {
                "backend": result.backend,
                "served_by": result.model,
                "finish_reason": result.finish_reason,
                "flags": flags,
                "timings": result.timings,
                "attempts": [a.to_dict() for a in result.attempts],
            }
            return {"content": result.content, "data": data, **self._measured(result, started)}

        return work

    async def _skip_unusable(self, ok: list[int]) -> None:
        """Reviews and ballots that involve a model with no answer cannot happen: skipped, not failed."""
        for row in self.rows.values():
            if row.kind == Subtask.Kind.REVIEW:
                _, i, j = row.key.split("-")
                usable = int(i) in ok and int(j) in ok
            elif row.kind == Subtask.Kind.VOTE:
                usable = int(row.key.split("-")[1]) in ok
            else:
                continue
            if not usable and row.status != State.SKIPPED:
                self._write(row, status=State.SKIPPED, completed_at=_now(), error="its model gave no answer")

    # --- checks ---

    def _content(self, slot: int) -> str:
        return self.rows[f"answer-{slot}"].content

    async def _reviews(self, ok: list[int]) -> None:
        calls = []
        for i in ok:
            for j in ok:
                row = self.rows.get(f"review-{i}-{j}")
                if i != j and row is not None and row.status != State.SUCCEEDED:
                    calls.append(self._call(row, self._review_work(i, j)))
        await asyncio.gather(*calls)

    def _review_work(self, reviewer: int, target: int) -> Callable[[], Awaitable[dict]]:
        async def work() -> dict:
            started = time.perf_counter()
            result = await self._chat(
                messages=verdicts.review_messages(
                    question=self.task.prompt, answer=self._content(target), sources=self.sources
                ),
                model=self.models[reviewer],
                temperature=0.0,
                json=True,
                max_tokens=self.options.get("review_max_tokens") or REVIEW_MAX_TOKENS,
            )
            review = verdicts.review_parse(result.content)
            data = {
                "reviewer": reviewer,
                "target": target,
                **review.to_dict(),
                "flags": [{"code": f.code, "reason": f.reason} for f in result.flags],
            }
            return {"content": result.content, "data": data, **self._measured(result, started)}

        return work

    async def _ballots(self, ok: list[int]) -> None:
        calls = []
        for voter in ok:
            row = self.rows[f"vote-{voter}"]
            if row.status != State.SUCCEEDED:
                calls.append(self._call(row, self._ballot_work(voter, ok)))
        await asyncio.gather(*calls)

    def _ballot_work(self, voter: int, ok: list[int]) -> Callable[[], Awaitable[dict]]:
        async def work() -> dict:
            offered = {s: self._content(s) for s in ok if s != voter}
            started = time.perf_counter()
            result = await self._chat(
                messages=verdicts.ballot_messages(question=self.task.prompt, answers=offered),
                model=self.models[voter],
                temperature=0.0,
                json=True,
                max_tokens=self.options.get("review_max_tokens") or REVIEW_MAX_TOKENS,
            )
            choice = verdicts.choice_parse(result.content, set(offered))
            data = {
                "voter": voter,
                "choice": choice.slot,
                "label": verdicts.label(choice.slot) if choice.parsed else None,
                "verdict": "voted" if choice.parsed else verdicts.UNPARSED,
                "reason": choice.reason,
            }
            return {"content": result.content, "data": data, **self._measured(result, started)}

        return work

    async def _hallucination(self, ok: list[int]) -> None:
        """The detector's score for each answer, called as chat calls it (hallucination/answer_check.py): the
        other answers are its samples (with one answer, more are drawn from its model), the chunks its sources."""
        try:
            # Imported here: the detector is optional (and heavy), and its absence only skips the scores.
            from hallucination.answer_check import answer_check, embedder
        except ImportError:
            log.warning("the hallucination detector is not installed; answers are not scored")
            return
        embed = embedder()
        timeout = float(getattr(settings, "HALLUCINATION_TIMEOUT_S", 180))

        async def one(slot: int) -> None:
            row = self.rows[f"answer-{slot}"]
            if row.hallucination_score is not None:
                return
            others = [self._content(s) for s in ok if s != slot]
            try:
                report = await asyncio.wait_for(
                    answer_check(
                        row.content,
                        messages=self.messages,
                        model=self.models[slot],
                        sources=self.sources,
                        other_answers=others,
                        max_tokens=self.options.get("max_tokens"),
                        embed=embed,
                    ),
                    timeout,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the answer stays, unscored, and says why
                log.warning("task %s: hallucination check of %s failed", self.task.pk, row.key, exc_info=True)
                await self._write(row, data={**row.data, "hallucination": {"error": _describe(exc)}})
                return
            await self._write(
                row,
                hallucination_score=round(report.score, 4),
                data={**row.data, "hallucination": _report_summary(report)},
            )

        await asyncio.gather(*(one(s) for s in ok))

    async def _finish(self, ok: list[int], agreement: dict, decision: dict) -> dict:
        winner = decision["winner"]
        confidence = decisions.confidence(decision.get("support"), self.rows[f"answer-{winner}"].hallucination_score)
        await self.settle()
        fields = {
            "status": Status.SUCCEEDED,
            "final_answer": self._content(winner),
            "confidence": confidence,
            "decision": decision,
            "agreement": agreement,
            "metrics": self._metrics(ok, decision),
            "progress": 1.0,
            "finished_at": _now(),
            "error": "",
        }
        written = await Task.objects.filter(pk=self.task.pk, finished_at__isnull=True).aupdate(**fields)
        if written:
            for name, value in fields.items():
                setattr(self.task, name, value)
        else:  # another attempt finished it first: its result stands
            self.task = await Task.objects.aget(pk=self.task.pk)
        return task_summary(self.task)

    async def end_unfinished(self, status: str, error: str = "") -> None:
        """After a failure or a cancel: rows still open end with the task; the task records how it ended."""
        await self.settle()
        row_status = State.CANCELLED if status == Status.CANCELLED else State.SKIPPED
        open_rows = [r for r in self.rows.values() if r.status not in DONE]
        for row in open_rows:
            row.status, row.completed_at = row_status, _now()
        if open_rows:
            await Subtask.objects.filter(pk__in=[r.pk for r in open_rows]).aupdate(
                status=row_status, completed_at=_now()
            )
        ended = await Task.objects.filter(pk=self.task.pk, finished_at__isnull=True).aupdate(
            status=status, error=error[:2000], finished_at=_now()
        )
        if ended:  # else it had already ended (its final write won a race with the cancel): that stands
            self.task.status, self.task.error = status, error[:2000]
        if self.publish is not None:
            await self.publish(self.checklist(), self.progress, self._log_take())
