"""The chat page and its JSON API: rename, delete, instructions, rating, regenerate; owners only."""

from __future__ import annotations

import pytest

from chat import services
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice):
    started = services.chat_start(user=alice, content="What is the tide?")
    services.message_finish(message_id=started.assistant_message.pk, content="It is the sea rising.", status="complete")
    return started.conversation


def test_chat_page_lists_only_my_conversations(alice_client, conversation, bob):
    services.chat_start(user=bob, content="bob's private question")
    page = alice_client.get("/chat/")
    assert page.status_code == 200
    assert b"What is the tide?" in page.content and b"bob&#x27;s private" not in page.content
    assert alice_client.get(f"/chat/c/{conversation.pk}/").status_code == 200


def test_another_users_conversation_is_404_everywhere(client, bob, conversation):
    client.force_login(bob)
    assert client.get(f"/chat/c/{conversation.pk}/").status_code == 404
    assert (
        client.patch(
            f"/chat/api/conversations/{conversation.pk}", {"title": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.delete(f"/chat/api/conversations/{conversation.pk}").status_code == 404
    answer = conversation.messages.get(role="assistant")
    assert (
        client.post(f"/chat/api/messages/{answer.pk}/rate", {"rating": 1}, content_type="application/json").status_code
        == 404
    )
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_rename_search_and_delete(alice_client, conversation):
    response = alice_client.patch(
        f"/chat/api/conversations/{conversation.pk}", {"title": "  Tides  "}, content_type="application/json"
    )
    assert response.json()["title"] == "Tides"
    found = alice_client.get("/chat/api/conversations?q=sea rising").json()["conversations"]
    assert [c["id"] for c in found] == [conversation.pk]
    assert alice_client.get("/chat/api/conversations?q=volcano").json()["conversations"] == []
    assert (
        alice_client.patch(
            f"/chat/api/conversations/{conversation.pk}", {"title": " "}, content_type="application/json"
        ).status_code
        == 400
    )
    assert alice_client.delete(f"/chat/api/conversations/{conversation.pk}").status_code == 200
    assert not Message.objects.exists()


def test_instructions_and_model_per_conversation(alice_client, conversation):
    response = alice_client.patch(
        f"/chat/api/conversations/{conversation.pk}", {"system_prompt": "Answer briefly.", "model": "m1"},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert (conversation.system_prompt, conversation.model) == ("Answer briefly.", "m1")
    from chat.selectors import history_for_model

    new = services.chat_start(user=conversation.user, content="next", conversation_id=conversation.pk)
    sent = history_for_model(conversation=conversation, upto=new.assistant_message)
    assert sent[0] == {"role": "system", "content": "Answer briefly."}
    assert sent[-1] == {"role": "user", "content": "next"}


def test_rating_with_a_note(alice_client, conversation):
    answer = conversation.messages.get(role="assistant")
    response = alice_client.post(
        f"/chat/api/messages/{answer.pk}/rate", {"rating": -1, "note": "wrong"}, content_type="application/json"
    )
    assert response.json() == {"id": answer.pk, "rating": -1, "note": "wrong"}
    question = conversation.messages.get(role="user")
    assert (
        alice_client.post(
            f"/chat/api/messages/{question.pk}/rate", {"rating": 1}, content_type="application/json"
        ).status_code
        == 400
    )
    assert (
        alice_client.post(
            f"/chat/api/messages/{answer.pk}/rate", {"rating": 5}, content_type="application/json"
        ).status_code
        == 400
    )


def test_regenerate_asks_the_same_question_again(alice, conversation):
    answer = conversation.messages.get(role="assistant")
    new = services.message_regenerate(user=alice, pk=answer.pk)
    from chat.selectors import history_for_model

    sent = history_for_model(conversation=conversation, upto=new)
    assert sent == [{"role": "user", "content": "What is the tide?"}]  # not the old answer
    with pytest.raises(services.ChatInputError, match="still being written"):
        services.message_regenerate(user=alice, pk=new.pk)


def test_history_query_count_does_not_grow_with_the_conversation(alice, django_assert_max_num_queries):
    started = services.chat_start(user=alice, content="q0")
    for i in range(30):
        services.chat_start(user=alice, content=f"q{i}", conversation_id=started.conversation.pk)
    from chat.selectors import conversation_list, message_page

    with django_assert_max_num_queries(2):
        page, has_more = message_page(conversation=started.conversation, limit=50)
        rows = list(conversation_list(user=alice))
    assert len(page) == 50 and has_more and rows[0].message_count == 62


def test_connection_counts_are_staff_only(alice_client, client, staff):
    assert alice_client.get("/chat/api/connections").status_code == 403
    client.force_login(staff)
    assert "connections" in client.get("/chat/api/connections").json()


def test_staff_see_live_connection_counts_on_the_home_page(client, staff, alice):
    from django.test import Client

    client.force_login(staff)
    assert b'id="ws-connections"' in client.get("/").content
    other = Client()
    other.force_login(alice)
    assert b'id="ws-connections"' not in other.get("/").content


def test_a_finished_answer_moves_its_conversation_up_once(alice):
    """Finishing is one transaction: the message's final state and the conversation's updated_at;
    a second finish of the same message changes neither."""
    older = services.chat_start(user=alice, content="first")
    newer = services.chat_start(user=alice, content="second")
    Conversation.objects.filter(pk=older.conversation.pk).update(updated_at="2020-01-01T00:00:00Z")
    assert services.message_finish(message_id=older.assistant_message.pk, content="done", status="complete") == 1
    older.conversation.refresh_from_db()
    assert older.conversation.updated_at > newer.conversation.updated_at
    stamp = older.conversation.updated_at
    assert services.message_finish(message_id=older.assistant_message.pk, content="again", status="failed") == 0
    older.conversation.refresh_from_db()
    assert older.conversation.updated_at == stamp
    assert Message.objects.get(pk=older.assistant_message.pk).content == "done"
