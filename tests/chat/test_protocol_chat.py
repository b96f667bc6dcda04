"""chat:send / cancel / resume / history over /ws, against the real llama.cpp server and the fake."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat.models import Conversation, Message
from tests.fixtures.chat import connect_as
from tests.fixtures.llm import MODEL, make_backend
from tests.fixtures.users import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]


def stream_of(frames: list[dict]) -> tuple[list[int], str]:
    deltas = [f for f in frames if f["type"] == "chat:streaming"]
    return [f["seq"] for f in deltas], "".join(f["delta"] for f in deltas)


async def test_send_streams_tokens_and_stores_both_messages(alice_ws, llama):
    await alice_ws.send(type="chat:send", id="s1", content="Name three colours.", options={"max_tokens": 24})
    frames = await alice_ws.until("chat:done", "chat:error")
    started, done = frames[0], frames[-1]
    assert started["type"] == "chat:started" and started["id"] == "s1"
    assert done["type"] == "chat:done" and done["id"] == "s1"
    seqs, text = stream_of(frames)
    assert seqs == list(range(len(seqs)))  # no gaps
    assert text == done["content"]
    assert done["model"] == MODEL and done["finish_reason"] in {"stop", "length"}
    assert done["timings"]["ttft_ms"] > 0 and done["usage"]["completion_tokens"] >= 0
    conversation = await Conversation.objects.aget(pk=started["conversation_id"])
    assert conversation.title == "Name three colours."
    messages = [m async for m in Message.objects.filter(conversation=conversation).order_by("id")]
    assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "complete")]
    assert messages[1].pk == started["assistant_message_id"] and messages[1].content == text
    assert messages[1].backend == "llama1"


async def test_a_second_send_continues_the_conversation(alice_ws, llama):
    await alice_ws.send(type="chat:send", content="Hello", options={"max_tokens": 8})
    first = await alice_ws.until("chat:done")
    conversation_id = first[0]["conversation_id"]
    await alice_ws.send(
        type="chat:send", content="And again", conversation_id=conversation_id, options={"max_tokens": 8}
    )
    second = await alice_ws.until("chat:done")
    assert second[0]["conversation_id"] == conversation_id
    assert await Message.objects.filter(conversation_id=conversation_id).acount() == 4


async def test_cancel_ends_with_done_cancelled_and_keeps_the_partial_text(alice_ws, fake):
    await sync_to_async(make_backend)("f1", fake.url)
    fake.state.tokens_per_s = 20
    fake.state.answer_tokens = 200
    await alice_ws.send(type="chat:send", id="c", content="long please", model="fake-ok")
    started = await alice_ws.recv()
    await alice_ws.until("chat:streaming")
    await alice_ws.send(type="chat:cancel", message_id=started["assistant_message_id"])
    frames = await alice_ws.until("chat:done", "chat:error")
    done = frames[-1]
    assert done["type"] == "chat:done" and done["finish_reason"] == "cancelled"
    message = await Message.objects.aget(pk=started["assistant_message_id"])
    assert message.status == "partial" and message.content == done["content"] and message.content


async def test_client_leaving_mid_answer_does_not_stop_it(fake, db):
    await sync_to_async(make_backend)("f1", fake.url)
    fake.state.tokens_per_s = 100
    fake.state.answer_tokens = 60
    user = await make_user("alice")
    client = await connect_as(user)
    await client.send(type="chat:send", content="go", model="fake-ok")
    started = await client.recv()
    await client.until("chat:streaming")
    await client.close()  # tab closed
    message_id = started["assistant_message_id"]
    for _ in range(100):
        message = await Message.objects.aget(pk=message_id)
        if message.status != "streaming":
            break
        await asyncio.sleep(0.1)
    assert message.status == "complete"
    assert len(message.content.split()) == 60

    again = await connect_as(user)  # and it can be resumed: chat:done at once for a finished message
    await again.send(type="chat:resume", id="r", message_id=message_id, after_seq=10**6)
    done = (await again.until("chat:done"))[-1]
    assert done["content"] == message.content and done["id"] == "r"
    await again.close()


async def test_resume_after_reconnect_continues_without_gaps(fake, db):
    await sync_to_async(make_backend)("f1", fake.url)
    fake.state.tokens_per_s = 40
    fake.state.answer_tokens = 60
    user = await make_user("alice")
    first = await connect_as(user)
    await first.send(type="chat:send", content="go", model="fake-ok")
    started = await first.recv()
    seen = [f for f in await first.until("chat:streaming") if f["type"] == "chat:streaming"]
    seen += [await first.recv()]
    await first.close()  # network blip
    last_seq = seen[-1]["seq"]

    second = await connect_as(user)
    await second.send(type="chat:resume", message_id=started["assistant_message_id"], after_seq=last_seq)
    frames = await second.until("chat:done")
    seqs, rest = stream_of(frames)
    assert seqs[0] == last_seq + 1 and seqs == list(range(last_seq + 1, last_seq + 1 + len(seqs)))
    assert "".join(f["delta"] for f in seen) + rest == frames[-1]["content"]
    await second.close()


async def test_backend_dying_mid_stream_gives_chat_error_and_a_partial_message(alice_ws, fake):
    await sync_to_async(make_backend)("f1", fake.url)
    await alice_ws.send(type="chat:send", content="go", model="fake-cut")
    frames = await alice_ws.until("chat:error", "chat:done")
    error = frames[-1]
    assert error["type"] == "chat:error" and error["code"] == "backend_unavailable"
    _, streamed = stream_of(frames)
    assert error["partial_content"] == streamed and streamed
    message = await Message.objects.aget(pk=error["message_id"])
    assert message.status == "partial" and message.content == streamed


async def test_no_backend_gives_chat_error_and_keeps_the_question(alice_ws):
    await alice_ws.send(type="chat:send", content="anyone there?")
    frames = await alice_ws.until("chat:error", "chat:done")
    assert frames[0]["type"] == "chat:started" and frames[-1]["type"] == "chat:error"
    assert frames[-1]["code"] == "backend_unavailable"
    statuses = [(m.role, m.status) async for m in Message.objects.order_by("id")]
    assert statuses == [("user", "complete"), ("assistant", "failed")]


async def test_history_lists_conversations_and_pages_messages(alice_ws, fake):
    await sync_to_async(make_backend)("f1", fake.url)
    await alice_ws.send(type="chat:send", content="one", model="fake-ok")
    conversation_id = (await alice_ws.until("chat:done"))[0]["conversation_id"]
    for word in ("two", "three"):
        await alice_ws.send(type="chat:send", content=word, conversation_id=conversation_id, model="fake-ok")
        await alice_ws.until("chat:done")
    await alice_ws.send(type="chat:history", id="h")
    listing = await alice_ws.recv()
    assert listing["conversations"][0]["id"] == conversation_id and listing["conversations"][0]["message_count"] == 6

    await alice_ws.send(type="chat:history", conversation_id=conversation_id, limit=4)
    page = await alice_ws.recv()
    assert [m["role"] for m in page["messages"]] == ["user", "assistant", "user", "assistant"]
    assert page["messages"][0]["content"] == "two" and page["has_more"] is True
    await alice_ws.send(type="chat:history", conversation_id=conversation_id, limit=4, before=page["messages"][0]["id"])
    older = await alice_ws.recv()
    assert next(m["content"] for m in older["messages"]) == "one" and older["has_more"] is False


async def test_bob_cannot_read_resume_cancel_or_write_into_alices_conversation(alice_ws, fake):
    await sync_to_async(make_backend)("f1", fake.url)
    await alice_ws.send(type="chat:send", content="secret", model="fake-ok")
    frames = await alice_ws.until("chat:done")
    conversation_id, message_id = frames[0]["conversation_id"], frames[0]["assistant_message_id"]
    bob = await connect_as(await make_user("bob"))
    for frame in (
        {"type": "chat:history", "conversation_id": conversation_id},
        {"type": "chat:resume", "message_id": message_id},
        {"type": "chat:cancel", "message_id": message_id},
        {"type": "chat:send", "content": "x", "conversation_id": conversation_id},
    ):
        await bob.send(**frame, id="b")
        reply = await bob.recv()
        assert reply["type"] == "error" and reply["code"] == "not_found", frame
    await bob.send(type="chat:history")
    assert (await bob.recv())["conversations"] == []
    await bob.close()
    assert await Message.objects.filter(conversation_id=conversation_id).acount() == 2


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "chat:send"}, "content"),
        ({"type": "chat:send", "content": ""}, "content"),
        ({"type": "chat:send", "content": 5}, "content"),
        ({"type": "chat:send", "content": "x" * 32001}, "content"),
        ({"type": "chat:send", "content": "x", "conversation_id": "1"}, "conversation_id"),
        ({"type": "chat:send", "content": "x", "options": {"temperature": 9}}, "options.temperature"),
        ({"type": "chat:send", "content": "x", "options": {"max_tokens": True}}, "options.max_tokens"),
        ({"type": "chat:cancel"}, "message_id"),
        ({"type": "chat:resume", "message_id": 1, "after_seq": "x"}, "after_seq"),
        ({"type": "chat:history", "limit": 501}, "limit"),
        ({"type": "task:subscribe"}, "task_id"),
    ],
)
async def test_bad_fields_are_named_and_leave_nothing_half_written(alice_ws, frame, field):
    await alice_ws.send(**frame, id="bad")
    error = await alice_ws.recv()
    assert error["type"] == "error" and error["code"] == "bad_request" and error["id"] == "bad"
    assert f"'{field}'" in error["message"]
    assert await Message.objects.acount() == 0 and await Conversation.objects.acount() == 0


async def test_rate_limit_answers_with_retry_after(alice_ws, settings):
    settings.WS_MESSAGES_PER_MINUTE = 40  # burst of 10
    replies = []
    for i in range(14):
        await alice_ws.send(type="ping", id=str(i))
        replies.append(await alice_ws.recv())
    limited = [r for r in replies if r["type"] == "error"]
    assert limited and limited[0]["code"] == "rate_limited" and limited[0]["retry_after_s"] > 0
    assert sum(r["type"] == "pong" for r in replies) == 10


async def test_a_refused_send_does_not_spend_the_general_budget(alice_ws, settings):
    settings.WS_MESSAGES_PER_MINUTE = 40  # burst of 10
    settings.WS_CHAT_SENDS_PER_MINUTE = 20  # burst of 5
    codes = []
    for i in range(7):
        await alice_ws.send(type="chat:send", content="", id=f"s{i}")  # past the limit: bad_request
        codes.append((await alice_ws.recv())["code"])
    assert codes == ["bad_request"] * 5 + ["rate_limited"] * 2
    replies = []
    for i in range(5):  # 10 - 5 sends: the two refused sends took nothing
        await alice_ws.send(type="ping", id=str(i))
        replies.append((await alice_ws.recv())["type"])
    assert replies == ["pong"] * 5


async def test_monitoring_subscription_sends_metrics_at_once(alice_ws, llama):
    await alice_ws.send(type="monitoring:subscribe", id="m")
    assert await alice_ws.recv() == {"type": "monitoring:subscribed", "id": "m", "interval_s": 10}
    metrics = await alice_ws.recv()
    assert metrics["type"] == "monitoring:metrics"
    assert (
        0 <= metrics["cpu"]["percent"] <= 100
        and metrics["memory"]["total"] > 0
        and len(metrics["cpu"]["load_avg"]) == 3
    )
    assert metrics["llm"]["backends"] == [
        {"name": "llama1", "status": "up", "circuit": "closed", "in_flight": 0, "latency_ms": None}
    ]
    assert metrics["host"] and metrics["hosts"] == {} and metrics["alerts"] == []
    await alice_ws.send(type="monitoring:unsubscribe", id="u")
    assert (await alice_ws.recv())["type"] == "monitoring:unsubscribed"


async def test_task_types_are_wired(alice_ws):
    await alice_ws.send(type="task:subscribe", task_id=7, id="t")
    assert (await alice_ws.recv())["code"] == "not_found"
    await alice_ws.send(type="task:unsubscribe", task_id=7, id="t")
    assert await alice_ws.recv() == {"type": "task:unsubscribed", "id": "t", "task_id": 7}


async def test_validate_adds_a_verdict_to_chat_done(alice_ws, fake):
    await sync_to_async(make_backend)("f1", fake.url)
    await alice_ws.send(type="chat:send", content="x", model="fake-length", validate=True)
    done = (await alice_ws.until("chat:done"))[-1]
    assert done["validation"]["verdict"] in {"supported", "uncertain", "likely_hallucinated"}
    assert [c["name"] for c in done["validation"]["checks"]] == ["truncated"]
    await alice_ws.send(type="chat:send", content="x", model="fake-ok")
    assert "validation" not in (await alice_ws.until("chat:done"))[-1]


async def test_an_answer_whose_server_died_is_closed_as_partial_on_resume(alice_ws):
    """A crash leaves a message `streaming` with nobody writing it: resume settles it, keeping the text."""
    from chat.models import Conversation

    conversation = await Conversation.objects.acreate(user=alice_ws.user, title="t")
    orphan = await Message.objects.acreate(
        conversation=conversation, role="assistant", status="streaming", content="half an ans"
    )
    await alice_ws.send(type="chat:resume", id="r", message_id=orphan.pk)
    frames = await alice_ws.until("chat:done", "chat:error", timeout=30)
    assert frames[-1]["type"] == "chat:error" and frames[-1]["partial_content"] == "half an ans"
    await orphan.arefresh_from_db()
    assert orphan.status == "partial" and orphan.content == "half an ans"


async def test_the_connection_manager_counts_connections_per_user(alice_ws):
    from chat.connections import connections_count

    assert (await connections_count()).get(alice_ws.user.pk) == 1
    second = await connect_as(alice_ws.user)
    assert (await connections_count()).get(alice_ws.user.pk) == 2
    await second.close()
    assert (await connections_count()).get(alice_ws.user.pk) == 1


async def test_one_metrics_sample_per_interval_is_shared_by_all_subscribers(settings, db):
    from monitoring.live import BROADCASTER

    settings.MONITORING_INTERVAL_S = 0.5
    settings.WS_MESSAGES_PER_MINUTE = 100_000  # 100 subscriptions of one user at once
    user = await make_user("watcher")
    clients = await asyncio.gather(*(connect_as(user) for _ in range(100)))
    before = BROADCASTER.samples_taken
    for client in clients:
        await client.send(type="monitoring:subscribe")
    for client in clients:
        assert (await client.recv())["type"] == "monitoring:subscribed"
        assert (await client.recv())["type"] == "monitoring:metrics"  # at once
    started = asyncio.get_running_loop().time()
    for client in clients:  # every subscriber gets the next tick
        assert (await client.recv(timeout=5))["type"] == "monitoring:metrics"
    elapsed = asyncio.get_running_loop().time() - started
    taken = BROADCASTER.samples_taken - before
    assert taken <= 3 + int(elapsed / 0.5), taken  # per interval, not per subscriber
    await asyncio.gather(*(client.close() for client in clients))
    await asyncio.sleep(0.6)
    assert not BROADCASTER.subscribers  # disconnect stops delivery
