"""The model gateway's tests start and end with its state wiped (tests.fixtures.llm.clean_gateway_state)."""

from __future__ import annotations

import pytest

# Re-exported for tests/orchestration/conftest.py until it takes them from tests.fixtures.
from tests.fixtures.llm import MODEL as MODEL
from tests.fixtures.llm import fake as fake
from tests.fixtures.llm import llama as llama
from tests.fixtures.llm import llama2 as llama2
from tests.fixtures.llm import llm_url_2 as llm_url_2
from tests.fixtures.llm import make_backend as make_backend


@pytest.fixture(autouse=True)
def clean_gateway_state(clean_gateway_state):
    """tests.fixtures.llm's, for every test here (and wherever this one is imported: tests/orchestration)."""
