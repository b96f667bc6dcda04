"""Scripted agreeing and disagreeing models drive the consensus and the tiebreakers deterministically, on the
real Celery worker, through the JSON API."""

from __future__ import annotations

import pytest

from tests.orchestration.conftest import ORCH_RIGHT, ORCH_WRONG, create_task, detail, wait_task

pytestmark = [pytest.mark.django_db(transaction=True)]

AGREEING = ["fake-agree-1", "fake-agree-2", "fake-agree-3"]
SPLIT = ["fake-agree-1", "fake-agree-2", "fake-disagree"]


def test_agreeing_answers_reach_a_consensus_with_every_subtask_recorded(alice_client, scripted, celery_worker):
    created = create_task(alice_client, prompt="What is the capital of France?", models=AGREEING)
    assert created["status"] == "pending" and created["job_id"]
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    got = detail(alice_client, task.pk)
    assert got["final_answer"] == ORCH_RIGHT
    assert got["decision"]["method"] == "consensus" and got["decision"]["support"] == 1.0
    assert got["agreement"]["matrix"] == [[None, 1, 1], [1, None, 1], [1, 1, None]]
    assert [a["agreement_score"] for a in got["answers"]] == [1.0, 1.0, 1.0]
    assert len(got["subtasks"]) == 3 + 6 + 1
    assert all(s["status"] == "succeeded" and s["completed_at"] for s in got["subtasks"])
    for answer in got["answers"]:
        assert answer["latency_ms"] > 0 and answer["completion_tokens"] > 0
        assert answer["hallucination_score"] is not None and answer["hallucination"]["verdict"]
        assert answer["flags"] == []
    assert {r["verdict"] for r in got["reviews"]} == {"agree"}
    assert all(r["claims"] and r["claims"][0]["verdict"] == "agree" for r in got["reviews"])
    assert 0.5 < got["confidence"] <= 1.0
    metrics = got["metrics"]
    assert metrics["answers"] == {"asked": 3, "succeeded": 3, "failed": 0}
    assert metrics["reviews"] == {"agree": 6} and metrics["tokens"]["completion"] > 0
    assert metrics["wall_ms"] >= metrics["slowest_answer_ms"] > 0
    # The job behind task:update carries the same checklist, and the task's summary as its result.
    job = task.job
    assert job.status == "succeeded" and job.progress == 1.0
    assert [s["id"] for s in job.subtasks] == [s["id"] for s in got["subtasks"]]
    assert job.result["final_answer"] == ORCH_RIGHT and job.result["method"] == "consensus"
    assert "answer-0 (fake-agree-1) succeeded in" in job.log and "review-2-1 (fake-agree-3) succeeded" in job.log


def test_knowledge_bases_ground_the_answers_the_reviews_and_the_detector(alice_client, scripted, kb, celery_worker):
    created = create_task(
        alice_client, prompt="What is the capital of France?", models=AGREEING[:2], knowledge_base_ids=[kb.pk]
    )
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    got = detail(alice_client, task.pk)
    assert got["sources"][0]["source_title"] == "France" and got["sources"][0]["n"] == 1
    chats = [body for kind, body in scripted.state.requests if kind == "chat"]
    answer_call = next(b for b in chats if b["messages"][-1]["content"] == "What is the capital of France?")
    assert (
        "[1] France" in answer_call["messages"][0]["content"]
        and "on the Seine" in answer_call["messages"][0]["content"]
    )
    review_call = next(b for b in chats if "ANSWER TO CHECK" in b["messages"][-1]["content"])
    assert "SOURCES:\n[1] Paris is the capital of France, on the Seine." in review_call["messages"][-1]["content"]
    assert {a["hallucination"]["mode"] for a in got["answers"]} == {"sources"}


def test_disagreement_goes_to_the_judge_with_answers_and_reviews(alice_client, scripted, celery_worker):
    created = create_task(
        alice_client, prompt="What is the capital of France?", models=SPLIT, judge_model="fake-orch-judge"
    )
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    got = detail(alice_client, task.pk)
    assert got["agreement"]["matrix"] == [[None, 1, 0], [1, None, 0], [0, 0, None]]
    assert [a["agreement_score"] for a in got["answers"]] == [0.5, 0.5, 0.0]
    decision = got["decision"]
    assert decision["method"] == "judge" and decision["judge_model"] == "fake-orch-judge"
    assert decision["label"] == "A" and "says Paris" in decision["reasoning"]
    assert got["final_answer"] == ORCH_RIGHT
    # support: B's agreement, C's disagreement, the judge's ruling → 2 of 3
    assert decision["support"] == pytest.approx(2 / 3, abs=1e-3)
    ruling = next(s for s in got["subtasks"] if s["id"] == "decision")
    assert ruling["model"] == "fake-orch-judge" and ruling["status"] == "succeeded"
    judged = [body for kind, body in scripted.state.requests if kind == "chat" and body["model"] == "fake-orch-judge"]
    assert len(judged) == 1
    asked = judged[0]["messages"][-1]["content"]
    assert ORCH_WRONG in asked and "REVIEWS:" in asked and "C on A: disagree" in asked


def test_the_vote_tiebreaker_counts_agreeing_reviews(alice_client, scripted, celery_worker):
    created = create_task(alice_client, prompt="Capital of France?", models=SPLIT, tiebreaker="vote")
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    assert task.decision["method"] == "vote" and task.decision["votes"] == {"A": 1, "B": 1, "C": 0}
    assert task.decision["label"] in ("A", "B") and task.final_answer == ORCH_RIGHT
    assert not [body for kind, body in scripted.state.requests if "You are the judge" in str(body)]


def test_the_vote_strategy_asks_each_model_for_a_ballot(alice_client, scripted, celery_worker):
    created = create_task(alice_client, prompt="Capital of France?", models=SPLIT, strategy="vote")
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    got = detail(alice_client, task.pk)
    assert got["reviews"] == [] and len(got["ballots"]) == 3
    # A sees B and C: picks B; B sees A and C: picks A; C (Lyon) sees no Lyon answer and takes the first, A.
    assert [b["choice_label"] for b in got["ballots"]] == ["B", "A", "A"]
    assert got["decision"]["votes"] == {"A": 2, "B": 1, "C": 0} and got["decision"]["label"] == "A"
    assert got["decision"]["support"] == pytest.approx(2 / 3, abs=1e-3)


def test_the_judge_strategy_asks_the_judge_directly(alice_client, scripted, celery_worker):
    created = create_task(
        alice_client,
        prompt="Capital of France?",
        models=["fake-disagree", "fake-agree-1"],
        strategy="judge",
        judge_model="fake-orch-judge",
    )
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    assert task.decision["method"] == "judge" and task.decision["label"] == "B"
    assert task.final_answer == ORCH_RIGHT
    assert task.subtasks.count() == 3  # two answers and the ruling: no reviews


def test_unreadable_reviews_are_recorded_as_unparsed_and_the_task_still_ends(alice_client, scripted, celery_worker):
    created = create_task(alice_client, prompt="Capital of France?", models=["fake-garbage", "fake-agree-1"])
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    got = detail(alice_client, task.pk)
    by_reviewer = {r["reviewer_label"]: r for r in got["reviews"]}
    assert by_reviewer["A"]["verdict"] == "unparsed" and by_reviewer["A"]["raw"].startswith("lorem ipsum")
    assert by_reviewer["B"]["verdict"] == "disagree"
    assert got["agreement"]["matrix"] == [[None, None], [0, None]]
    # The judge (by default the first model) is fake-garbage too: its ruling cannot be read either.
    assert got["decision"]["method"] == "vote" and "could not be read" in got["decision"]["reasoning"]
    assert got["final_answer"]
