"""The suite's fixtures live in tests/fixtures, by topic, and are loaded here (pytest_plugins belongs in this
top-level conftest only). The real servers (llama.cpp, MariaDB, Redis) are started by tests/stack.py before
pytest runs. A package's conftest.py keeps what only that package uses, and makes a shared fixture autouse
where that package needs it (as tests/llm does with clean_gateway_state)."""

from __future__ import annotations

import importlib

pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.users",
    "tests.fixtures.llm",
    "tests.fixtures.chat",
    "tests.fixtures.pages",
]

_MOVED = {"ROOT": "tests.fixtures.stack", "wait_until": "tests.fixtures.stack", "make_user": "tests.fixtures.users"}


def __getattr__(name: str):
    """tests/orchestration still imports these from here (until it takes them from tests.fixtures). Looked up
    lazily, so that the plugins above are imported by pytest first (and get their asserts rewritten)."""
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
