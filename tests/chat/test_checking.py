"""The hallucination check of chat answers (`validate: true`): the verdict and its evidence come with
chat:done and are stored; a bad answer is written again (grounded, cooler, another model) and the best
attempt replaces what streamed; a check that cannot finish keeps the answer, marked unchecked."""

from __future__ import annotations

import pytest

from chat.models import Message
from core import jobs
from knowledge import retrieval
from knowledge import services as kb_services
from tests.fakes.openai_server import RIGHT_ANSWER, WRONG_ANSWER
from tests.fixtures.chat import connect_as
from tests.fixtures.jobs import wait_job
from tests.fixtures.llm import make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]

VERDICTS = {"supported", "uncertain", "likely_hallucinated"}
EIFFEL = (
    "# The Eiffel Tower\n\nThe Eiffel Tower in Paris was completed in 1889 by the company of Gustave Eiffel. "
    "It was built as the entrance arch of the 1889 World's Fair and is 330 metres tall."
)


@pytest.fixture(autouse=True)
def fresh_index():
    retrieval.cache_clear()
    yield
    retrieval.cache_clear()


@pytest.fixture
def faked(fake):
    make_backend("f1", fake.url)
    return fake


@pytest.fixture
def paris(alice, llama2):
    kb = kb_services.kb_create(user=alice, name="Paris", description="")
    source = kb_services.source_add_text(user=alice, kb=kb, title="Eiffel Tower", text=EIFFEL)
    job = jobs.job_run(source.job_id) or wait_job(source.job_id)
    assert job.status == "succeeded", job.error
    return kb


def streamed(frames: list[dict]) -> str:
    return "".join(f["delta"] for f in frames if f["type"] == "chat:streaming")


async def test_a_checked_answer_carries_its_verdict_and_keeps_it(alice, faked, settings):
    settings.HALLUCINATION_SAMPLES = 2
    ws = await connect_as(alice)
    try:
        await ws.send(type="chat:send", id="v", content="Say something.", model="fake-ok", validate=True)
        frames = await ws.until("chat:done", "chat:error")
        done = frames[-1]
        assert done["type"] == "chat:done", done
        checking = [f for f in frames if f["type"] == "chat:validating"]
        assert checking and checking[0]["stage"] == "checking" and checking[0]["id"] == "v"
        assert frames.index(checking[0]) > max(i for i, f in enumerate(frames) if f["type"] == "chat:streaming")
        validation = done["validation"]
        assert validation["verdict"] in VERDICTS and 0.0 <= validation["score"] <= 1.0
        assert {s["name"] for s in validation["signals"]} >= {"consistency", "specifics", "uncertainty"}
        assert validation["sentences"] and validation["attempts"][0]["strategy"] == "first"
        assert validation["checks"][0]["passed"] is True
        assert done["content"] == streamed(frames)  # nothing replaced
        # the samples for the consistency signal were asked of the same model
        assert faked.state.chat_calls.count("fake-ok") >= 1 + 2
        message = await Message.objects.aget(pk=done["message_id"])
        assert message.validation == validation and message.status == "complete"
        # resume of a finished message gives the same verdict
        await ws.send(type="chat:resume", message_id=done["message_id"], id="r")
        again = (await ws.until("chat:done"))[-1]
        assert again["validation"] == validation
    finally:
        await ws.close()


async def test_a_hallucinated_answer_is_written_again_and_the_better_one_shown(alice, paris, faked, settings):
    settings.HALLUCINATION_MAX_RECOVERY = 2
    ws = await connect_as(alice)
    try:
        await ws.send(
            type="chat:send",
            content="When was the Eiffel Tower completed, and by whom?",
            model="fake-cool",
            validate=True,
            knowledge_base_ids=[paris.pk],
        )
        frames = await ws.until("chat:done", "chat:error")
        done = frames[-1]
        assert done["type"] == "chat:done", done
        assert streamed(frames).strip() == WRONG_ANSWER  # what streamed: the invented answer
        stages = [(f["stage"], f.get("attempt")) for f in frames if f["type"] == "chat:validating"]
        assert stages[0] == ("checking", None) and ("recovering", 2) in stages
        validation = done["validation"]
        attempts = validation["attempts"]
        assert [a["strategy"] for a in attempts] == ["first", "grounded", "lower_temperature"]
        assert attempts[0]["verdict"] != "supported" and attempts[2]["temperature"] == 0.2
        assert validation["chosen"] == 2 and validation["replaced"] is True
        assert validation["verdict"] == "supported" and validation["score"] == attempts[2]["score"]
        assert done["content"].strip() == RIGHT_ANSWER  # the shown answer is the best attempt
        assert "lower temperature" in validation["notice"]
        message = await Message.objects.aget(pk=done["message_id"])
        assert message.content.strip() == RIGHT_ANSWER and message.validation == validation
        assert message.citations and message.citations[0]["source_title"] == "Eiffel Tower"
    finally:
        await ws.close()


async def test_without_recovery_the_invented_details_are_flagged(alice, paris, faked, settings):
    settings.HALLUCINATION_MAX_RECOVERY = 0
    ws = await connect_as(alice)
    try:
        await ws.send(
            type="chat:send",
            content="When was the Eiffel Tower completed?",
            model="fake-wrong",
            validate=True,
            knowledge_base_ids=[paris.pk],
        )
        done = (await ws.until("chat:done", "chat:error"))[-1]
        validation = done["validation"]
        assert validation["verdict"] in {"uncertain", "likely_hallucinated"} and len(validation["attempts"]) == 1
        flagged = [s for s in validation["sentences"] if s["label"] != "supported"]
        assert flagged and "1925" in flagged[0]["text"]
        assert any("1925" in reason for reason in flagged[0]["evidence"].values())
        assert done["content"][flagged[0]["start"] : flagged[0]["end"]] == flagged[0]["text"]
        assert "unsupported" in validation["notice"]
    finally:
        await ws.close()


async def test_a_check_that_runs_out_of_time_keeps_the_answer_unchecked(alice, faked, settings):
    settings.HALLUCINATION_TIMEOUT_S = 0
    ws = await connect_as(alice)
    try:
        await ws.send(type="chat:send", content="hi", model="fake-ok", validate=True)
        frames = await ws.until("chat:done", "chat:error")
        done = frames[-1]
        assert done["type"] == "chat:done" and done["content"] == streamed(frames)
        assert done["validation"]["verdict"] == "unchecked" and "did not finish" in done["validation"]["error"]
        message = await Message.objects.aget(pk=done["message_id"])
        assert message.status == "complete" and message.validation["verdict"] == "unchecked"
    finally:
        await ws.close()
