"""The app shape every app keeps (issue 16), checked on the source so a new app starts right:

- no import cycle among first-party modules, counting imports inside functions too (a cycle hidden behind a
  function-local import is still a cycle);
- pages in views.py, JSON in api.py, shapes in serializers.py, reads in selectors.py: a views.py or api.py
  that touches `.objects.` fails, and so does an app with web endpoints that lacks one of the four files;
- one error envelope: no JSON endpoint module builds its own `{"error": ...}` response.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "core",
    "chat",
    "llm",
    "knowledge",
    "browser",
    "orchestration",
    "monitoring",
    "hallucination",
    "orchestrator_site",
)
# Apps with pages and JSON endpoints of their own (hallucination is a library the others call).
WEB_APPS = ("core", "chat", "llm", "knowledge", "browser", "orchestration", "monitoring")
STANDARD_FILES = ("views.py", "api.py", "serializers.py", "selectors.py", "services.py", "urls.py", "apps.py")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """First-party modules `name` imports, anywhere in the file (TYPE_CHECKING blocks excepted)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                out.add(target)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    """The check itself: a → b at the top, b → a inside a function, is a cycle."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_first_party_modules():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # Package __init__ modules are entered by every import of their children; they import nothing of ours.
    assert _cycles(graph) == []


@pytest.mark.parametrize("app", WEB_APPS)
def test_every_web_app_has_the_standard_files(app):
    missing = [f for f in STANDARD_FILES if not (ROOT / app / f).exists()]
    assert not missing, f"{app}/ lacks {', '.join(missing)} (docs/architecture.md says what goes in each)"


@pytest.mark.parametrize("app", WEB_APPS)
@pytest.mark.parametrize("module", ["views.py", "api.py"])
def test_views_and_api_read_through_selectors(app, module):
    path = ROOT / app / module
    text = path.read_text() if path.exists() else ""
    offenders = [
        f"{app}/{module}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if ".objects." in line
    ]
    assert not offenders, "reads belong in selectors.py:\n" + "\n".join(offenders)


@pytest.mark.parametrize("app", WEB_APPS)
def test_json_errors_come_from_the_one_envelope(app):
    """`JsonResponse({"error": ...` outside core/http.py is a second error shape in the making."""
    for module in ("views.py", "api.py"):
        path = ROOT / app / module
        text = path.read_text() if path.exists() else ""
        assert not re.search(r"JsonResponse\(\s*\{\s*[\"']error[\"']", text), f"{app}/{module} builds its own error"
        assert "def _error" not in text, f"{app}/{module} has its own _error helper: use core.http.error_response"
