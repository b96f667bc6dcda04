"""A task answered by one model: nothing is compared, so it never ends "high confidence"; and its answer is
checked for hallucinations exactly as chat checks the same text (same samples rule, embedder and judge), so
both give the same score and verdict."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from chat.checking import check_answer
from core import jobs
from orchestration import decisions, services
from orchestration.models import Subtask, Task
from tests.fakes.openai_server import RIGHT_ANSWER

pytestmark = [pytest.mark.django_db(transaction=True)]

QUESTION = "When was the Eiffel Tower completed, and by whom?"


def run_task(alice, **body) -> Task:
    """A task run to its end in this process (as the worker runs it)."""
    task = services.task_create(user=alice, enqueue=False, **body)
    jobs.job_run(task.job_id)
    return Task.objects.get(pk=task.pk)


@pytest.mark.parametrize("strategy", ["cross_validate", "vote", "judge"])
def test_one_model_ends_unchecked_and_never_high_confidence(alice, scripted, settings, strategy):
    settings.HALLUCINATION_SAMPLES = 1
    task = run_task(alice, prompt="Capital of France?", models=["fake-agree-1"], strategy=strategy)
    assert task.status == "succeeded", task.error
    assert task.decision["method"] == "single" and task.decision["support"] is None
    assert "nothing to compare" in task.decision["reasoning"]
    assert task.confidence <= 0.5  # it was 1.0: "High confidence 100%" for an answer nobody checked
    answer = Subtask.objects.get(task=task, key="answer-0")
    assert answer.hallucination_score is not None
    assert task.confidence == min(1 - answer.hallucination_score, decisions.UNCHECKED_CONFIDENCE_MAX)


def test_the_same_text_scores_the_same_in_chat_and_in_the_orchestrator(alice, scripted, settings):
    # fake-cool writes the right answer at a low temperature and an invented one at the samples' 1.0, so the
    # consistency signal has something to say; with one model the orchestrator used to draw no samples at all
    # (its score came from hedging alone: 0.00, "supported") while chat flagged the same text.
    settings.HALLUCINATION_SAMPLES = 2
    settings.HALLUCINATION_MAX_RECOVERY = 0
    settings.HALLUCINATION_JUDGE_MODEL = ""
    task = run_task(alice, prompt=QUESTION, models=["fake-cool"], options={"temperature": 0.2})
    assert task.status == "succeeded", task.error
    answer = Subtask.objects.get(task=task, key="answer-0")
    assert answer.content.strip() == RIGHT_ANSWER
    in_task = answer.data["hallucination"]

    async def progress(_event: dict) -> None:
        return None

    _content, _model, in_chat = async_to_sync(check_answer)(
        messages=[{"role": "user", "content": QUESTION}],
        content=answer.content,
        finish_reason="stop",
        model="fake-cool",
        temperature=0.2,
        fallbacks=[],
        sources=[],
        progress=progress,
    )
    assert in_chat["verdict"] == in_task["verdict"]
    assert in_chat["score"] == in_task["score"] == answer.hallucination_score
    assert in_chat["score"] > 0  # the samples disagree with it: not "0.00 supported"
    assert in_task["signals"]["consistency"]["used"] is True  # samples were drawn from the one model
    assert {s["name"]: s["used"] for s in in_chat["signals"]} == {
        name: s["used"] for name, s in in_task["signals"].items()
    }
