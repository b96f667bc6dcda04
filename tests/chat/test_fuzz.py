"""Random frames at the /ws dispatcher: every one gets a reply, no exception escapes, the
connection stays usable."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Message
from tests.fixtures.chat import connect_as
from tests.fixtures.users import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]

USER_NUMBERS = itertools.count()
TYPES = [
    "ping",
    "chat:send",
    "chat:cancel",
    "chat:resume",
    "chat:history",
    "monitoring:unsubscribe",
    "task:subscribe",
    "task:unsubscribe",
    "nope",
    "",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | json_values},
    optional={
        "id": st.text(max_size=70) | json_values,
        "content": json_values,
        "conversation_id": json_values,
        "message_id": json_values,
        "after_seq": json_values,
        "limit": json_values,
        "before": json_values,
        "task_id": json_values,
        "options": json_values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(frames | json_values, min_size=1, max_size=5))
async def test_random_frames_never_crash_the_dispatcher(batch):
    user = await make_user(f"fuzz{next(USER_NUMBERS)}")
    client = await connect_as(user)
    try:
        for frame in batch:
            if isinstance(frame, dict) and frame.get("type") == "chat:send":
                frame = {**frame, "content": 5}  # keep the fuzzer off the model: a type error on content
            await client.ws.send_to(text_data=json.dumps(frame))
            reply = await client.recv(timeout=10)
            assert reply["type"] != "error" or reply["code"] in {
                "bad_request",
                "unknown_type",
                "not_found",
                "rate_limited",
                "forbidden",
            }, reply
        await client.send(type="ping", id="alive")
        while (reply := await client.recv(timeout=10))["type"] != "pong":
            pass
        assert reply["id"] == "alive"
    finally:
        await client.close()
    assert not await Message.objects.filter(conversation__user=user).aexists()
