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
        f"/chat/api/conversations/{conversation.pk}",
        {"system_prompt": "Answer briefly.", "model": "m1"},
        content_type="application/json",
    )
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


def _two_questions(alice):
    first = services.chat_start(user=alice, content="Question one?")
    services.message_finish(message_id=first.assistant_message.pk, content="Answer one.", status="complete")
    second = services.chat_start(user=alice, content="Question two?", conversation_id=first.conversation.pk)
    services.message_finish(message_id=second.assistant_message.pk, content="Answer two.", status="complete")
    return first.conversation, first.assistant_message, second.assistant_message


def _reads(conversation) -> list[str]:
    from chat.selectors import message_page

    page, _ = message_page(conversation=conversation)
    return [m.content for m in page]


def test_a_regenerated_answer_takes_the_old_ones_place_and_keeps_it_as_a_version(alice_client, alice):
    conversation, a1, _ = _two_questions(alice)
    new = services.message_regenerate(user=alice, pk=a1.pk)
    services.message_finish(message_id=new.pk, content="Answer one, again.", status="complete")
    # In question one's place, not under question two; the old answer is no longer shown.
    assert _reads(conversation) == ["Question one?", "Answer one, again.", "Question two?", "Answer two."]
    from chat.selectors import conversation_list, history_for_model

    assert conversation_list(user=alice).get(pk=conversation.pk).message_count == 4
    # What the model sees next is the conversation as it reads.
    third = services.chat_start(user=alice, content="Question three?", conversation_id=conversation.pk)
    sent = [m["content"] for m in history_for_model(conversation=conversation, upto=third.assistant_message)]
    assert sent == ["Question one?", "Answer one, again.", "Question two?", "Answer two.", "Question three?"]
    services.message_finish(message_id=third.assistant_message.pk, content="Answer three.", status="complete")

    # Flip back to the first version over HTTP: it is shown again, in the same place.
    shown = alice_client.post(f"/chat/api/messages/{a1.pk}/show")
    assert shown.status_code == 200
    assert shown.json()["version_ids"] == [a1.pk, new.pk] and shown.json()["position"] == a1.pk
    assert _reads(conversation)[:4] == ["Question one?", "Answer one.", "Question two?", "Answer two."]
    # A third version of answer one: still in its place, three versions to flip through.
    third_version = services.message_regenerate(user=alice, pk=a1.pk)
    services.message_finish(message_id=third_version.pk, content="Answer one, third.", status="complete")
    assert _reads(conversation)[1] == "Answer one, third."
    from chat.selectors import version_ids

    assert version_ids([third_version])[third_version.pk] == [a1.pk, new.pk, third_version.pk]


def test_versions_show_in_the_socket_history_and_paging_goes_by_position(alice):
    conversation, a1, _ = _two_questions(alice)
    new = services.message_regenerate(user=alice, pk=a1.pk)
    services.message_finish(message_id=new.pk, content="Answer one, again.", status="complete")
    from chat.selectors import message_page

    page, has_more = message_page(conversation=conversation, limit=2)
    assert [m.content for m in page] == ["Question two?", "Answer two."] and has_more
    older, has_more = message_page(conversation=conversation, limit=2, before=page[0].position)
    assert [m.content for m in older] == ["Question one?", "Answer one, again."] and not has_more

    from chat import serializers
    from chat.selectors import version_ids

    versions = version_ids(older)
    rows = [serializers.message_json(m, version_ids=versions.get(m.pk)) for m in older]
    assert rows[1]["version_ids"] == [a1.pk, new.pk] and rows[1]["position"] == a1.pk
    assert "version_ids" not in rows[0]


def test_versions_are_owned_capped_and_not_flipped_while_writing(alice_client, alice, bob):
    from django.test import Client

    conversation, a1, _ = _two_questions(alice)
    bobs = Client()
    bobs.force_login(bob)
    assert bobs.post(f"/chat/api/messages/{a1.pk}/show").status_code == 404
    from chat.selectors import NotFound

    with pytest.raises(NotFound):  # the HTTP view turns this into 404 (tests/chat/test_e2e_daphne.py)
        services.message_regenerate(user=bob, pk=a1.pk)
    assert not Message.objects.filter(version_of=a1).exists()

    writing = services.message_regenerate(user=alice, pk=a1.pk)  # still streaming
    refused = alice_client.post(f"/chat/api/messages/{a1.pk}/show")
    assert refused.status_code == 400 and "still being written" in refused.json()["error"]
    question = conversation.messages.get(content="Question one?")
    assert alice_client.post(f"/chat/api/messages/{question.pk}/show").status_code == 400
    services.message_finish(message_id=writing.pk, content="x", status="complete")

    for i in range(services.MAX_VERSIONS - 2):
        v = services.message_regenerate(user=alice, pk=a1.pk)
        services.message_finish(message_id=v.pk, content=f"v{i}", status="complete")
    with pytest.raises(services.ChatInputError, match=f"already has {services.MAX_VERSIONS} versions"):
        services.message_regenerate(user=alice, pk=a1.pk)
    assert Message.objects.filter(hidden=False, role="assistant", conversation=conversation).count() == 2


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
