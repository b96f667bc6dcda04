"""Chat's tests talk to backends: each starts and ends with the gateway's state wiped. /ws clients are in
tests/fixtures/chat.py."""

from __future__ import annotations

import pytest

from tests.fixtures.chat import connect_as as connect_as  # re-exported for tests/orchestration until it switches


@pytest.fixture(autouse=True)
def clean_gateway_state(clean_gateway_state):
    """tests.fixtures.llm's, for every test here."""
