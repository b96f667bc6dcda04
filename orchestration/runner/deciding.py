"""Agreement, decision and metrics of a task run: a part of TaskRunner (the rules are in decisions.py)."""

from __future__ import annotations

import asyncio
import time

from django.conf import settings

from orchestration import decisions, verdicts
from orchestration.models import Subtask, Task
from orchestration.runner.common import DECISION_MAX_TOKENS, State, _describe, _now


class Deciding:
    """TaskRunner's agreement matrix, decision (consensus, vote or judge) and run metrics."""

    def _review_rows(self) -> list[Subtask]:
        return [r for r in self.rows.values() if r.kind == Subtask.Kind.REVIEW]

    def _hallucination_scores(self) -> dict[int, float | None]:
        return {s: self.rows[f"answer-{s}"].hallucination_score for s in range(len(self.models))}

    async def _agreement(self, ok: list[int]) -> dict:
        reviews = []
        for row in self._review_rows():
            _, i, j = row.key.split("-")
            verdict = row.data.get("verdict", verdicts.UNPARSED) if row.status == State.SUCCEEDED else row.status
            reviews.append((int(i), int(j), verdict))
        agreement = decisions.agreement_matrix(self.models, reviews)
        for slot in ok:
            row = self.rows[f"answer-{slot}"]
            if row.agreement_score != agreement["scores"][slot]:
                self._write(row, agreement_score=agreement["scores"][slot])
        return agreement

    async def _decide(self, ok: list[int], agreement: dict) -> dict:
        row = self.rows["decision"]
        strategy = self.task.strategy
        if row.status == State.SUCCEEDED and row.data.get("winner") in ok:
            return dict(row.data)  # decided by an earlier attempt
        self._write(row, status=State.RUNNING, started_at=_now())
        risk = self._hallucination_scores()
        if len(ok) == 1:
            decision = {
                "method": "single",
                "winner": ok[0],
                "support": None,
                "reasoning": "Only one model answered, so there was nothing to compare.",
            }
        elif strategy == Task.Strategy.CROSS_VALIDATE:
            decision = await self._decide_reviews(ok, agreement, row)
        elif strategy == Task.Strategy.VOTE:
            ballots = [r for r in self.rows.values() if r.kind == Subtask.Kind.VOTE and r.status == State.SUCCEEDED]
            decision = decisions.vote_by_ballots(ok, [r.data.get("choice") for r in ballots], risk)
        else:
            decision = await self._judge(ok, row, reviews=None)
            if decision["method"] == "judge":
                decision["support"] = decisions.support_with_ruling(None, decision["winner"])
        decision["label"] = verdicts.label(decision["winner"])
        decision["model"] = self.models[decision["winner"]]
        fields = {"status": State.SUCCEEDED, "completed_at": _now(), "data": decision}
        if decision.get("judge_failed"):
            fields.update(status=State.FAILED, error=decision["judge_failed"])
        row.title = {
            "consensus": "Decision: consensus",
            "judge": "Decision: judge",
            "vote": "Decision: vote",
            "single": "Decision: one answer",
        }.get(decision["method"], "Decision")
        fields["title"] = row.title
        await self._write(row, **fields)
        return decision

    async def _decide_reviews(self, ok: list[int], agreement: dict, row: Subtask) -> dict:
        reviews = [r for r in self._review_rows() if r.status != State.SKIPPED]
        read = [r.data.get("verdict") for r in reviews if r.status == State.SUCCEEDED]
        read = [v for v in read if v in (verdicts.AGREE, verdicts.DISAGREE)]
        risk = self._hallucination_scores()
        agreed = decisions.consensus(ok, agreement, read, len(reviews), risk)
        if agreed is not None:
            return agreed
        if self.task.tiebreaker == Task.Tiebreaker.VOTE:
            return decisions.vote_by_reviews(ok, agreement, read, len(reviews), risk)
        by_slot: dict[int, list[dict]] = {}
        for review in reviews:
            if review.status == State.SUCCEEDED:
                data = review.data
                by_slot.setdefault(data["target"], []).append(
                    {"reviewer": data["reviewer"], "verdict": data.get("verdict"), "reasons": data.get("reasons", "")}
                )
        decision = await self._judge(ok, row, reviews=by_slot)
        if decision["method"] != "judge":
            fallback = decisions.vote_by_reviews(ok, agreement, read, len(reviews), risk)
            fallback["reasoning"] = f"{decision['reasoning']} Decided by the reviews instead: {fallback['reasoning']}"
            fallback["judge_model"] = decision.get("judge_model")
            fallback["judge_failed"] = decision.get("judge_failed")
            fallback["raw"] = decision.get("raw", "")
            return fallback
        decision["support"] = decisions.support_with_ruling(agreement, decision["winner"])
        return decision

    def judge_model(self, ok: list[int]) -> str:
        return self.task.judge_model or settings.ORCHESTRATION_JUDGE_MODEL or self.models[ok[0]]

    async def _judge(self, ok: list[int], row: Subtask, *, reviews: dict | None) -> dict:
        """The judge model's ruling; on failure or an unreadable reply, {"method": "fallback", …}."""
        model = self.judge_model(ok)
        row.model = model
        self._write(row, model=model)
        answers = {s: self._content(s) for s in ok}
        started = time.perf_counter()
        try:
            result = await self._chat(
                messages=verdicts.judge_messages(question=self.task.prompt, answers=answers, reviews=reviews),
                model=model,
                temperature=0.0,
                json=True,
                max_tokens=DECISION_MAX_TOKENS,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed judge falls back to the reviews, recorded
            winner = decisions.rank(ok, lambda s: 0, self._hallucination_scores())
            return {
                "method": "fallback",
                "winner": winner,
                "support": None,
                "judge_model": model,
                "judge_failed": f"the judge {model} failed: {_describe(exc)}",
                "reasoning": f"The judge {model} failed ({_describe(exc)}).",
            }
        measured = self._measured(result, started)
        self._write(row, content=result.content, **measured)
        choice = verdicts.choice_parse(result.content, set(ok))
        if not choice.parsed:
            winner = decisions.rank(ok, lambda s: 0, self._hallucination_scores())
            return {
                "method": "fallback",
                "winner": winner,
                "support": None,
                "judge_model": model,
                "raw": result.content[:2000],
                "reasoning": (
                    f"The judge's ruling could not be read; answer {verdicts.label(winner)} has the fewest signs "
                    "of hallucination."
                ),
            }
        return {
            "method": "judge",
            "winner": choice.slot,
            "support": None,
            "judge_model": model,
            "reasoning": choice.reason or "(the judge gave no reason)",
        }

    # --- the end ---

    def _metrics(self, ok: list[int], decision: dict) -> dict:
        rows = list(self.rows.values())
        answers = [r for r in rows if r.kind == Subtask.Kind.ANSWER]
        checks = [r for r in rows if r.kind in (Subtask.Kind.REVIEW, Subtask.Kind.VOTE) and r.latency_ms is not None]
        judged = self.rows["decision"].latency_ms or 0.0
        slowest_answer = max((r.latency_ms or 0.0 for r in answers if r.status == State.SUCCEEDED), default=0.0)
        slowest_check = max((r.latency_ms for r in checks), default=0.0)
        critical = slowest_answer + slowest_check + judged
        wall = (time.perf_counter() - self._started) * 1000
        metrics = {
            "answers": {"asked": len(self.models), "succeeded": len(ok), "failed": len(self.models) - len(ok)},
            "tokens": {
                "prompt": sum(r.prompt_tokens or 0 for r in rows),
                "completion": sum(r.completion_tokens or 0 for r in rows),
            },
            "model_time_ms": round(sum(r.latency_ms or 0.0 for r in rows), 1),
            "slowest_answer_ms": round(slowest_answer, 1),
            "critical_path_ms": round(critical, 1),
            "wall_ms": round(wall, 1),
            "overhead_ms": None if self.resumed else round(wall - critical, 1),
            "phase_wall_ms": {name: round(ms, 1) for name, ms in self._phase_ms.items()},
            "resumed": self.resumed,
        }
        reviews = [r for r in rows if r.kind == Subtask.Kind.REVIEW]
        if reviews:
            tally: dict[str, int] = {}
            for r in reviews:
                key = r.data.get("verdict", verdicts.UNPARSED) if r.status == State.SUCCEEDED else r.status
                tally[key] = tally.get(key, 0) + 1
            metrics["reviews"] = tally
        return metrics
