"""Fixtures for the knowledge base: a base for alice, the llama.cpp embedding backend, a page server on
127.0.0.1 for URL sources, and each test starting with no stored files. Documents to upload, the corpus and
`wait_job` are in tests/fixtures (knowledge, jobs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge import retrieval, services
from knowledge.models import KnowledgeBase
from tests.fixtures.web import RecordingServer


@pytest.fixture(autouse=True)
def clean_gateway_state(clean_gateway_state):
    """tests.fixtures.llm's, for every test here."""


@pytest.fixture(autouse=True)
def knowledge_isolated(settings):
    """Each test starts with an empty search cache and no stored files. (The data folder is the pass's own,
    shared with the Celery worker, which must read what the test stored.)"""
    settings.KNOWLEDGE_EMBEDDING_MODEL = ""
    retrieval.cache_clear()
    shutil.rmtree(Path(settings.DATA_DIR) / "knowledge", ignore_errors=True)
    yield
    retrieval.cache_clear()
    shutil.rmtree(Path(settings.DATA_DIR) / "knowledge", ignore_errors=True)


@pytest.fixture
def kb(alice) -> KnowledgeBase:
    return services.kb_create(user=alice, name="Alice's notes", description="for tests")


@pytest.fixture(scope="session")
def page_server():
    server = RecordingServer("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def site(page_server) -> RecordingServer:
    page_server.seen.clear()
    page_server.routes.clear()
    return page_server


@pytest.fixture
def allow_test_host(settings):
    settings.BROWSER_ALLOWED_NETWORKS = ["127.0.0.1/32"]
