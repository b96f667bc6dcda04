"""Chat grounded in knowledge bases: the model is given the best chunks as numbered sources, the answer
carries citations that link to them (live, stored and in history), and only the user's own bases attach."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from chat import grounding
from chat.models import Conversation, Message
from core import jobs
from knowledge import retrieval
from knowledge import services as kb_services
from tests.fixtures.chat import connect_as
from tests.fixtures.jobs import wait_job
from tests.fixtures.llm import make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]

DOCS = {
    "Bread": "# Baking bread\n\nYeast ferments the sugars in flour and releases carbon dioxide, which makes the "
    "dough rise. Knead the dough for ten minutes and bake it at 220 degrees.",
    "Tides": "# Tides\n\nThe gravity of the moon pulls the oceans and causes tides. Spring tides happen at new moon "
    "and full moon, neap tides at the quarters.",
    "Git": "# Version control\n\nGit records commits in a repository. A branch points at a commit; merging joins "
    "two branches and rebasing replays commits on another base.",
}


@pytest.fixture(autouse=True)
def fresh_index():
    retrieval.cache_clear()
    yield
    retrieval.cache_clear()


@pytest.fixture
def notes(alice, llama2):
    kb = kb_services.kb_create(user=alice, name="Kitchen and sea", description="")
    for title, text in DOCS.items():
        source = kb_services.source_add_text(user=alice, kb=kb, title=title, text=text)
        job = jobs.job_run(source.job_id) or wait_job(source.job_id)
        assert job.status == "succeeded", job.error
    return kb


@pytest.fixture
def faked(fake):
    make_backend("f1", fake.url)
    return fake


def chat_bodies(fake) -> list[dict]:
    return [body for kind, body in fake.state.requests if kind == "chat"]


async def test_answers_are_grounded_and_cite_their_sources(alice, notes, faked):
    ws = await connect_as(alice)
    try:
        await ws.send(
            type="chat:send",
            id="g",
            content="Why does the dough rise when yeast ferments?",
            model="fake-ok",
            knowledge_base_ids=[notes.pk],
        )
        frames = await ws.until("chat:done", "chat:error")
        done = frames[-1]
        assert done["type"] == "chat:done", done
        citations = done["citations"]
        assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
        assert citations[0]["source_title"] == "Bread" and citations[0]["kb_id"] == notes.pk
        assert citations[0]["page"] == f"/knowledge/{notes.pk}/sources/{citations[0]['source_id']}/#chunk-0"
        assert "Yeast ferments" in citations[0]["excerpt"]
        # the model was told: the sources, numbered, in the system prompt
        asked = chat_bodies(faked)[-1]["messages"]
        assert [m["role"] for m in asked] == ["user"]  # in the user turn: some templates drop system prompts
        assert "[1] Bread" in asked[0]["content"] and "cite it as [n]" in asked[0]["content"]
        assert "Yeast ferments the sugars" in asked[0]["content"]
        assert asked[0]["content"].endswith("Question: Why does the dough rise when yeast ferments?")
        # stored on the message, and in history
        message = await Message.objects.aget(pk=done["message_id"])
        assert message.citations == citations
        await ws.send(type="chat:history", conversation_id=done["conversation_id"], id="h")
        history = (await ws.until("chat:history"))[-1]
        assert history["messages"][-1]["citations"] == citations
        assert "citations" not in history["messages"][0]  # the question has none
        # the conversation keeps its bases: the next question is grounded without naming them again
        conversation = await Conversation.objects.aget(pk=done["conversation_id"])
        assert [kb.pk async for kb in conversation.knowledge_bases.all()] == [notes.pk]
        await ws.send(
            type="chat:send",
            content="What does the moon do to the oceans?",
            model="fake-ok",
            conversation_id=conversation.pk,
        )
        second = (await ws.until("chat:done", "chat:error"))[-1]
        assert second["citations"][0]["source_title"] == "Tides"
        # detaching (an empty list) stops grounding
        await ws.send(
            type="chat:send",
            content="And now without notes?",
            model="fake-ok",
            conversation_id=conversation.pk,
            knowledge_base_ids=[],
        )
        third = (await ws.until("chat:done", "chat:error"))[-1]
        assert "citations" not in third
        assert chat_bodies(faked)[-1]["messages"][0]["role"] == "user"
    finally:
        await ws.close()


async def test_someone_elses_knowledge_base_is_refused_and_nothing_is_stored(alice, bob, faked):
    bobs = await sync_to_async(kb_services.kb_create)(user=bob, name="Bob's", description="")
    ws = await connect_as(alice)
    try:
        await ws.send(type="chat:send", id="x", content="hello", model="fake-ok", knowledge_base_ids=[bobs.pk])
        error = await ws.recv()
        assert error["type"] == "error" and error["code"] == "bad_request" and error["id"] == "x"
        assert "knowledge_base_ids" in error["message"] and str(bobs.pk) in error["message"]
        assert not await Conversation.objects.filter(user=alice).aexists()
        await ws.send(type="chat:send", id="y", content="hello", model="fake-ok", knowledge_base_ids=["1"])
        error = await ws.recv()
        assert error["code"] == "bad_request" and "list of integers" in error["message"]
        await ws.send(type="ping", id="p")  # still usable
        assert (await ws.recv())["type"] == "pong"
    finally:
        await ws.close()


async def test_nothing_found_is_said_and_the_answer_still_comes(alice, notes, faked):
    ws = await connect_as(alice)
    try:
        await ws.send(type="chat:send", content="zyxwv qqqq", model="fake-ok", knowledge_base_ids=[notes.pk])
        done = (await ws.until("chat:done", "chat:error"))[-1]
        assert done["type"] == "chat:done" and done["content"]
        if "citations" not in done:  # a vector search always finds something; keywords alone may not
            assert "matched" in done["grounding_warning"]
    finally:
        await ws.close()


def test_settings_attach_only_own_bases(alice_client, alice, bob):
    mine = kb_services.kb_create(user=alice, name="Mine", description="")
    theirs = kb_services.kb_create(user=bob, name="Theirs", description="")
    conversation = Conversation.objects.create(user=alice, title="t")
    url = f"/chat/api/conversations/{conversation.pk}"

    def patch(body: dict):
        return alice_client.patch(url, data=json.dumps(body), content_type="application/json")

    response = patch({"system_prompt": "", "model": "", "knowledge_base_ids": [mine.pk]})
    assert response.status_code == 200 and response.json()["knowledge_base_ids"] == [mine.pk]
    response = patch({"system_prompt": "", "model": "", "knowledge_base_ids": [mine.pk, theirs.pk]})
    assert response.status_code == 400 and f"no knowledge base {theirs.pk}" in response.json()["error"]
    assert list(conversation.knowledge_bases.values_list("pk", flat=True)) == [mine.pk]  # unchanged
    response = patch({"system_prompt": "", "model": "", "knowledge_base_ids": "all"})
    assert response.status_code == 400 and "list of integers" in response.json()["error"]
    listed = alice_client.get("/chat/api/conversations").json()["conversations"]
    assert listed[0]["knowledge_base_ids"] == [mine.pk]


def test_sources_go_before_the_last_question():
    g = grounding.Grounding(
        citations=[{"n": 1, "source_title": "A", "heading": "Intro"}, {"n": 2, "source_title": "B", "heading": ""}],
        sources=["alpha text", "beta text"],
    )
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "q"},
    ]
    merged = grounding.grounded_messages(history, g)
    assert merged[:3] == history[:3]  # the instructions and earlier turns as they were
    assert merged[3]["role"] == "user" and merged[3]["content"].startswith(grounding.INSTRUCTIONS)
    assert "[1] A — Intro\nalpha text" in merged[3]["content"] and "[2] B\nbeta text" in merged[3]["content"]
    assert merged[3]["content"].endswith("\n\nQuestion: q") and len(merged) == 4
    assert grounding.grounded_messages([{"role": "user", "content": "q"}], grounding.Grounding()) == [
        {"role": "user", "content": "q"}
    ]
