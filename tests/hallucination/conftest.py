"""Fixtures for the hallucination detector: the scripted fake server registered as a backend (deterministic
judge and regeneration behaviour: fake-judge, fake-right, fake-wrong, fake-cool, fake-grounded) and the real
llama.cpp server with the test model (tests.fixtures.llm). The source and its answers are in
tests/fixtures/hallucination.py."""

from __future__ import annotations

import pytest

from tests.fixtures.llm import make_backend


@pytest.fixture(autouse=True)
def clean_gateway_state(clean_gateway_state):
    """tests.fixtures.llm's, for every test here."""


@pytest.fixture
def scripted(fake):
    """The fake server as a backend: its models answer as tests/fakes/openai_server.scripted_answer says."""
    make_backend("scripted", fake.url)
    return fake
