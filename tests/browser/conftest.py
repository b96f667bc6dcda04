"""The browser pages' tests on the orchestrator: the scripted fake server as a backend named "fake"."""

from __future__ import annotations

import pytest

from tests.fixtures.llm import make_backend


@pytest.fixture
def scripted(fake):
    """The fake server as a backend: fake-agree-* say Paris, fake-disagree says Lyon, fake-orch-judge judges."""
    make_backend("fake", fake.url)
    return fake
