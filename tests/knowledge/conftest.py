"""Fixtures for the knowledge base: documents of every supported type built in the test (a PDF written by
hand, a .docx by python-docx), a base for alice, the llama.cpp embedding backend, a page server on
127.0.0.1 for URL sources, and helpers to wait for jobs."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest

from core.models import Job
from knowledge import retrieval, services
from knowledge.models import KnowledgeBase
from tests.llm.conftest import MODEL, clean_gateway_state, fake, llama2, llm_url_2  # noqa: F401 - fixtures
from tests.scrape.conftest import RecordingServer, Reply, html  # noqa: F401 - re-exported for the tests

EMBED_MODEL = MODEL  # the second llama.cpp server serves embeddings for the test model


def pdf_bytes(*pages: list[str], title: str = "") -> bytes:
    """A small valid PDF, one page per list of lines, with real text (Helvetica) that pypdf extracts."""
    objects: list[bytes] = []
    kids = []
    font_id = 3
    page_ids = []
    next_id = 4
    for _ in pages:
        page_ids.append((next_id, next_id + 1))
        next_id += 2
    info_id = next_id if title else None
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{p} 0 R" for p, _c in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for (_page_id, content_id), lines in zip(page_ids, pages, strict=True):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {content_id} 0 R >>".encode()
        )
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops += [f"({escaped}) Tj", "T*"]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    if info_id:
        objects.append(f"<< /Title ({title}) >>".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R"
    if info_id:
        trailer += f" /Info {info_id} 0 R"
    out.write(f"{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def docx_bytes(blocks: list[tuple[str, str]], *, title: str = "") -> bytes:
    """A .docx built by python-docx: blocks of ("h1"/"h2"/"p"/"li", text)."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for kind, text in blocks:
        if kind.startswith("h"):
            document.add_heading(text, level=int(kind[1]))
        elif kind == "li":
            document.add_paragraph(text, style="List Bullet")
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def wait_job(job_id: int, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.2)
    job = Job.objects.get(pk=job_id)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout} s: {job.log}")


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


def stored_files() -> list[Path]:
    from django.conf import settings

    root = Path(settings.DATA_DIR) / "knowledge"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


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
