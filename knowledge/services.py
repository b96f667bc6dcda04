"""Writes to knowledge bases: create/rename/delete bases, add sources (files, text, URLs), re-scrape,
re-embed. Everything that can be checked before a job is queued is checked here, so a bad upload is a
400 naming the problem and nothing is stored."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from core import jobs
from core.errors import InputError
from core.models import Job
from core.validation import web_url
from knowledge import embedding, extract
from knowledge.models import KnowledgeBase, Source

log = logging.getLogger(__name__)

NAME_MAX = 100
DESCRIPTION_MAX = 2000
TITLE_MAX = 300
TEXT_MAX_CHARS = 2_000_000
MODEL_MAX = 200
FILES_PER_UPLOAD = 20
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|docx|html|md|txt)$")


class KnowledgeInputError(InputError):
    """The request cannot be carried out; the message says what to fix."""


def max_upload_bytes() -> int:
    return settings.KNOWLEDGE_MAX_UPLOAD_MB * 1024 * 1024


# --- storage: generated names only; an uploaded name never reaches the file system ---


def kb_dir(kb_id: int) -> Path:
    return Path(settings.DATA_DIR) / "knowledge" / str(int(kb_id))


def source_path(source: Source) -> Path | None:
    """Where a file source's bytes are, or None (not a file source, or a name we did not generate)."""
    if not source.stored_name or not STORED_NAME.match(source.stored_name):
        return None
    return kb_dir(source.kb_id) / source.stored_name


def _store(kb_id: int, data: bytes, ext: str) -> str:
    folder = kb_dir(kb_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{ext}"
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return name


def _unlink(source: Source) -> None:
    path = source_path(source)
    if path is not None:
        path.unlink(missing_ok=True)


# --- knowledge bases ---


def _name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise KnowledgeInputError("name: give the knowledge base a name")
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise KnowledgeInputError(f"name: at most {NAME_MAX} characters")
    return name


def _description(description) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise KnowledgeInputError("description: must be text")
    if len(description) > DESCRIPTION_MAX:
        raise KnowledgeInputError(f"description: at most {DESCRIPTION_MAX} characters")
    return description.strip()


def kb_create(*, user, name, description="") -> KnowledgeBase:
    """A new, empty knowledge base; raises KnowledgeInputError for a missing or too long name."""
    return KnowledgeBase.objects.create(user=user, name=_name(name), description=_description(description))


def kb_update(*, kb: KnowledgeBase, name=None, description=None) -> KnowledgeBase:
    """Rename or re-describe; fields left as None keep their value."""
    fields = ["updated_at"]
    if name is not None:
        kb.name = _name(name)
        fields.append("name")
    if description is not None:
        kb.description = _description(description)
        fields.append("description")
    kb.save(update_fields=fields)
    return kb


def kb_delete(*, kb: KnowledgeBase) -> None:
    """Delete the base, its sources, chunks and stored files; its running jobs are asked to stop."""
    _cancel_jobs(Job.objects.filter(pk__in=kb.sources.exclude(job=None).values("job")))
    folder = kb_dir(kb.pk)
    kb.delete()
    shutil.rmtree(folder, ignore_errors=True)


def _cancel_jobs(qs) -> None:
    for job in qs.exclude(status__in=Job.FINISHED):
        with contextlib.suppress(jobs.JobError):  # it ended meanwhile
            jobs.job_cancel(job)


# --- sources ---


@dataclass
class Upload:
    """An uploaded file after validation: its bytes, detected type and display name."""

    name: str
    data: bytes
    detected: extract.Detected
    sha256: str


def read_upload(upload: UploadedFile) -> Upload:
    """Read an upload up to the size cap and detect its type by content; raises KnowledgeInputError."""
    name = extract.display_name(upload.name)
    cap = max_upload_bytes()
    too_large = KnowledgeInputError(f"{name} is larger than {settings.KNOWLEDGE_MAX_UPLOAD_MB} MB")
    if upload.size is not None and upload.size > cap:
        raise too_large
    parts, size = [], 0
    for part in upload.chunks():
        size += len(part)
        if size > cap:
            raise too_large
        parts.append(part)
    data = b"".join(parts)
    try:
        detected = extract.detect(data, upload.name or "")
    except extract.ExtractError as exc:
        raise KnowledgeInputError(str(exc)) from None
    return Upload(name=name, data=data, detected=detected, sha256=hashlib.sha256(data).hexdigest())


def _title_from_name(name: str) -> str:
    stem, dot, _ext = name.rpartition(".")
    return (stem if dot and stem else name)[:TITLE_MAX]


def sources_add_files(*, user, kb: KnowledgeBase, uploads: list[UploadedFile]) -> list[Source]:
    """Store each file under a generated name and queue its ingestion. All or nothing: if any file is
    refused (empty, too large, not a supported type by its content), nothing is stored."""
    if not uploads:
        raise KnowledgeInputError("file: choose at least one file (txt, md, html, pdf or docx)")
    if len(uploads) > FILES_PER_UPLOAD:
        raise KnowledgeInputError(f"file: at most {FILES_PER_UPLOAD} files at once")
    checked = [read_upload(upload) for upload in uploads]
    stored: list[str] = []
    try:
        with transaction.atomic():
            sources = []
            for item in checked:
                stored_name = _store(kb.pk, item.data, item.detected.ext)
                stored.append(stored_name)
                source = Source.objects.create(
                    kb=kb,
                    kind=Source.Kind.FILE,
                    title=_title_from_name(item.name),
                    original_name=item.name,
                    mime=item.detected.mime,
                    size_bytes=len(item.data),
                    sha256=item.sha256,
                    stored_name=stored_name,
                )
                _ingest_queue(user=user, source=source)
                sources.append(source)
    except BaseException:
        for name in stored:
            (kb_dir(kb.pk) / name).unlink(missing_ok=True)
        raise
    KnowledgeBase.objects.filter(pk=kb.pk).update(updated_at=timezone.now())
    return sources


def source_add_text(*, user, kb: KnowledgeBase, title, text) -> Source:
    """A pasted text as a source, ingested in the background."""
    if not isinstance(text, str) or not text.strip():
        raise KnowledgeInputError("text: paste the text to add")
    if len(text) > TEXT_MAX_CHARS:
        raise KnowledgeInputError(f"text: at most {TEXT_MAX_CHARS:,} characters; upload a file instead")
    if "\x00" in text:
        raise KnowledgeInputError("text: contains NUL characters; paste plain text")
    if title is not None and not isinstance(title, str):
        raise KnowledgeInputError("title: must be text")
    title = " ".join((title or "").split())[:TITLE_MAX] or " ".join(text.split())[:60] or "Pasted text"
    body = extract.normalise(text)
    data = body.encode()
    with transaction.atomic():
        source = Source.objects.create(
            kb=kb,
            kind=Source.Kind.TEXT,
            title=title,
            mime="text/plain",
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            text=body,
        )
        _ingest_queue(user=user, source=source)
    return source


def source_add_url(*, user, kb: KnowledgeBase, url) -> Source:
    """A web page as a source: scraped by the browser service, then ingested."""
    url = web_url(url, error=KnowledgeInputError)
    with transaction.atomic():
        source = Source.objects.create(kb=kb, kind=Source.Kind.URL, title=url[:TITLE_MAX], url=url, mime="text/html")
        _ingest_queue(user=user, source=source)
    return source


def source_rescrape(*, user, source: Source) -> Job:
    """Fetch a URL source again and replace its chunks (the old ones stay searchable until then)."""
    if source.kind != Source.Kind.URL:
        raise KnowledgeInputError("only web page sources can be re-scraped; upload the file again instead")
    if source.job_id and Job.objects.filter(pk=source.job_id).exclude(status__in=Job.FINISHED).exists():
        raise KnowledgeInputError("this page is being fetched already; wait for that job to end")
    with transaction.atomic():
        return _ingest_queue(user=user, source=source)


def source_reingest(*, user, source: Source) -> Job:
    """Run a source's ingestion again (after a failure, or with new chunk settings)."""
    if source.kind == Source.Kind.URL:
        return source_rescrape(user=user, source=source)
    with transaction.atomic():
        return _ingest_queue(user=user, source=source)


def _ingest_queue(*, user, source: Source) -> Job:
    kind = "knowledge.ingest_url" if source.kind == Source.Kind.URL else "knowledge.ingest"
    verb = "Scrape and index" if source.kind == Source.Kind.URL else "Index"
    job = jobs.job_create(
        user=user,
        kind=kind,
        title=f"{verb} {source.display_title}"[:300],
        params={"source_id": source.pk, "kb_id": source.kb_id},
    )
    Source.objects.filter(pk=source.pk).update(job=job, status=Source.Status.PENDING, error="")
    source.job, source.status, source.error = job, Source.Status.PENDING, ""
    return job


def source_delete(*, source: Source) -> None:
    """Delete a source, its chunks and its stored file; a job still working on it is asked to stop."""
    if source.job_id:
        _cancel_jobs(Job.objects.filter(pk=source.job_id))
    kb_id = source.kb_id
    source.delete()
    _unlink(source)
    KnowledgeBase.objects.filter(pk=kb_id).update(updated_at=timezone.now())


# --- re-embedding ---


def kb_reembed(*, user, kb: KnowledgeBase, model) -> Job:
    """Queue re-embedding every chunk of the base with `model`; the base switches when all are done."""
    if not isinstance(model, str) or not model.strip():
        raise KnowledgeInputError("model: name the embedding model, as the backends list it")
    model = model.strip()
    if len(model) > MODEL_MAX:
        raise KnowledgeInputError(f"model: at most {MODEL_MAX} characters")
    if embedding.is_local(model):
        try:
            embedding.local_require()
        except embedding.EmbeddingError as exc:
            raise KnowledgeInputError(f"model: {exc}") from None
        model = embedding.LOCAL_MODEL_ID
    known = None if model == embedding.LOCAL_MODEL_ID else _catalogue_models()
    if known is not None and model not in known:
        listed = ", ".join(sorted(known)[:10]) or "none"
        raise KnowledgeInputError(f"model: no enabled backend lists {model!r} (they list: {listed})")
    running = Job.objects.filter(
        user=user, kind="knowledge.reembed", params__kb_id=kb.pk, status__in=[Job.Status.PENDING, Job.Status.RUNNING]
    )
    if running.exists():
        raise KnowledgeInputError("this knowledge base is being re-embedded already; wait for that job to end")
    return jobs.job_create(
        user=user,
        kind="knowledge.reembed",
        title=f"Re-embed {kb.name} with {model}"[:300],
        params={"kb_id": kb.pk, "model": model},
    )


def _catalogue_models() -> set[str] | None:
    """Model ids the backends list, or None when the catalogue cannot be read (then the job will say)."""
    from llm.catalogue import catalogue_get, models_by_id

    try:
        return set(models_by_id(async_to_sync(catalogue_get)()))
    except Exception:  # Redis or discovery down: let the job report it
        log.warning("model catalogue unavailable; re-embed model not checked", exc_info=True)
        return None
