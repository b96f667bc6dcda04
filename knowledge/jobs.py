"""Ingestion and re-embedding as core Job rows: extract → chunk → embed → save, with progress per step
and per embedding batch to `task:*` subscribers. The handlers are entry points: the work is in
extract, chunking and embedding; this module sequences it and keeps the source row's status true."""

from __future__ import annotations

import hashlib

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.jobs import JobCancelled, Reporter
from core.models import Job
from knowledge import chunking, embedding, extract, services
from knowledge.models import Chunk, KnowledgeBase, Source

STEPS = [("extract", "Extract text"), ("chunk", "Split into chunks"), ("embed", "Embed chunks"), ("save", "Save")]
URL_STEPS = [("scrape", "Fetch the page"), *STEPS[1:]]
# Progress fractions at which each step starts (embedding is the long one).
STARTS = {"extract": 0.0, "scrape": 0.0, "chunk": 0.2, "embed": 0.25, "save": 0.95}


class _Steps:
    """The job's subtasks as a checklist: one running at a time, the rest pending/succeeded/failed."""

    def __init__(self, report: Reporter, steps: list[tuple[str, str]]) -> None:
        self.report = report
        self.rows = [{"id": sid, "title": title, "status": "pending"} for sid, title in steps]
        self.current: str | None = None

    def start(self, sid: str, line: str | None = None) -> None:
        self.report.check_cancelled()
        for row in self.rows:
            if row["id"] == self.current:
                row["status"] = "succeeded"
            if row["id"] == sid:
                row["status"] = "running"
        self.current = sid
        self.report.update(progress=STARTS[sid], subtasks=self.rows, log_line=line)

    def finish(self) -> None:
        for row in self.rows:
            if row["id"] == self.current:
                row["status"] = "succeeded"
        self.report.update(subtasks=self.rows)

    def fail(self) -> None:
        for row in self.rows:
            if row["id"] == self.current:
                row["status"] = "failed"
            elif row["status"] == "pending":
                row["status"] = "skipped"
        self.report.update(subtasks=self.rows)


def embed_input(heading: str, text: str) -> str:
    """What is embedded for a chunk: its heading path gives a short chunk its context."""
    return f"{heading}\n\n{text}" if heading else text


def _model_for(kb: KnowledgeBase) -> str:
    """The base's embedding model, chosen once (at its first ingestion) and then kept until re-embedded."""
    if kb.embedding_model:
        return kb.embedding_model
    chosen = async_to_sync(embedding.embedding_model_choose)()
    # Two first ingestions at once must agree: the first to write wins.
    KnowledgeBase.objects.filter(pk=kb.pk, embedding_model="").update(embedding_model=chosen)
    kb.refresh_from_db(fields=["embedding_model"])
    return kb.embedding_model


def _source(job: Job) -> Source | None:
    return Source.objects.select_related("kb").filter(pk=job.params.get("source_id")).first()


def _mark(source: Source, status: str, error: str = "", **fields) -> None:
    Source.objects.filter(pk=source.pk).update(status=status, error=error[:2000], updated_at=timezone.now(), **fields)


def ingest_job(job: Job, report: Reporter) -> dict:
    source = _source(job)
    if source is None:
        report.log("the source was deleted before it could be indexed")
        return {"skipped": "source deleted"}
    steps = _Steps(report, STEPS)
    _mark(source, Source.Status.PROCESSING)
    try:
        steps.start("extract", f"extracting text from {source.display_title}")
        if source.kind == Source.Kind.FILE:
            path = services.source_path(source)
            if path is None or not path.is_file():
                raise extract.ExtractError(f"the stored file of {source.display_title} is missing; upload it again")
            extracted = extract.extract(path.read_bytes(), source.original_name)
            text = extracted.text
            Source.objects.filter(pk=source.pk).update(text=text)
        else:
            text = source.text
        result = _index(source, text, steps, report)
    except JobCancelled:
        _mark(source, Source.Status.FAILED, "cancelled")
        raise
    except Exception as exc:
        steps.fail()
        _mark(source, Source.Status.FAILED, str(exc) or repr(exc))
        raise
    return result


def ingest_url_job(job: Job, report: Reporter) -> dict:
    from browser.errors import Cancelled
    from browser.jobs import job_dir, run_in_browser_thread
    from browser.scrape import scrape

    source = _source(job)
    if source is None:
        report.log("the source was deleted before the page could be fetched")
        return {"skipped": "source deleted"}
    steps = _Steps(report, URL_STEPS)
    _mark(source, Source.Status.PROCESSING)
    try:
        steps.start("scrape", f"fetching {source.url}")

        def progress(fraction: float, message: str) -> None:
            report.update(progress=STARTS["chunk"] * fraction, log_line=message)

        def work(emit, cancelled):
            return scrape(source.url, out_dir=job_dir(job.pk), options={}, on_progress=emit, cancelled=cancelled)

        try:
            page = run_in_browser_thread(work, report, progress)
        except Cancelled:
            raise JobCancelled() from None
        text = extract.normalise(page.get("text") or "")
        if not text:
            raise extract.ExtractError(f"{source.url} has no readable text")
        title = " ".join((page.get("title") or "").split())[: services.TITLE_MAX] or source.url[: services.TITLE_MAX]
        data = text.encode()
        Source.objects.filter(pk=source.pk).update(
            text=text, title=title, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
        )
        source.title = title
        report.log(f"read {len(text):,} characters ({page.get('text_source')}) from {page.get('final_url')}")
        result = _index(source, text, steps, report)
    except JobCancelled:
        _mark(source, Source.Status.FAILED, "cancelled")
        raise
    except Exception as exc:
        steps.fail()
        _mark(source, Source.Status.FAILED, str(exc) or repr(exc))
        raise
    return {**result, "url": source.url, "final_url": page.get("final_url"), "title": source.title}


def _index(source: Source, text: str, steps: _Steps, report: Reporter) -> dict:
    """Chunk, embed and save `text` as the source's chunks, replacing the old ones in one transaction."""
    steps.start("chunk")
    pieces = chunking.chunk_text(
        text, max_tokens=settings.KNOWLEDGE_CHUNK_TOKENS, overlap=settings.KNOWLEDGE_CHUNK_OVERLAP
    )
    if not pieces:
        raise extract.ExtractError(f"{source.display_title} has no text to index")
    limit = settings.KNOWLEDGE_MAX_CHUNKS_PER_SOURCE
    if len(pieces) > limit:
        raise extract.ExtractError(
            f"{source.display_title} makes {len(pieces):,} chunks (at most {limit:,}, KNOWLEDGE_MAX_CHUNKS_PER_SOURCE); "
            "split it into smaller documents"
        )
    kb = source.kb
    steps.start("embed", f"{len(pieces)} chunks to embed")
    model = _model_for(kb)
    report.log(f"embedding with {model}")
    inputs = [embed_input(p.heading, p.text) for p in pieces]

    def on_batch(done: int, total: int) -> None:
        report.check_cancelled()
        span = STARTS["save"] - STARTS["embed"]
        report.update(progress=STARTS["embed"] + span * done / total, log_line=f"embedded {done}/{total} chunks")

    vectors = embedding.embed_texts(model, inputs, on_batch=on_batch)
    steps.start("save")
    with transaction.atomic():
        kb.refresh_from_db(fields=["embedding_model"])
        if kb.embedding_model != model:
            # The base was re-embedded with another model while this ran: use that one too.
            model = kb.embedding_model
            vectors = embedding.embed_texts(model, inputs)
        if not Source.objects.select_for_update().filter(pk=source.pk).exists():
            report.log("the source was deleted while it was being indexed; nothing saved")
            return {"skipped": "source deleted"}
        Chunk.objects.filter(source=source).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    source=source,
                    kb_id=source.kb_id,
                    index=p.index,
                    text=p.text,
                    heading=p.heading[:500],
                    token_count=p.token_count,
                    embedding=vector,
                    embedding_model=model,
                )
                for p, vector in zip(pieces, vectors, strict=True)
            ],
            batch_size=500,
        )
        _mark(source, Source.Status.READY, chunk_count=len(pieces))
        KnowledgeBase.objects.filter(pk=source.kb_id).update(updated_at=timezone.now())
    steps.finish()
    tokens = sum(p.token_count for p in pieces)
    report.log(f"indexed {len(pieces)} chunks ({tokens:,} tokens) with {model}")
    return {"source_id": source.pk, "chunks": len(pieces), "tokens": tokens, "embedding_model": model}


REEMBED_PASSES = 3


def reembed_job(job: Job, report: Reporter) -> dict:
    kb = KnowledgeBase.objects.filter(pk=job.params.get("kb_id")).first()
    if kb is None:
        report.log("the knowledge base was deleted")
        return {"skipped": "knowledge base deleted"}
    model = job.params["model"]
    previous = kb.embedding_model
    rows = [
        {"id": "embed", "title": f"Embed every chunk with {model}", "status": "running"},
        {"id": "switch", "title": "Switch the knowledge base to the new model", "status": "pending"},
    ]
    report.update(progress=0.0, subtasks=rows, log_line=f"re-embedding {kb.name} with {model} (was {previous or '—'})")
    done_total = 0
    try:
        for attempt in range(REEMBED_PASSES):
            # Chunks saved by an ingestion that ran meanwhile still carry the old model: a later pass takes them.
            todo = list(
                Chunk.objects.filter(kb=kb)
                .exclude(embedding_model=model)
                .order_by("id")
                .values_list("id", "heading", "text")
            )
            if not todo:
                break
            total = len(todo)

            def on_batch(done: int, total: int = total, attempt: int = attempt) -> None:
                report.check_cancelled()
                share = 0.9 if attempt == 0 else 0.05
                report.update(
                    progress=min(0.95, 0.9 * (attempt > 0) + share * done / total),
                    log_line=f"embedded {done}/{total} chunks",
                )

            vectors = embedding.embed_texts(model, [embed_input(h, t) for _id, h, t in todo], on_batch=on_batch)
            report.check_cancelled()
            with transaction.atomic():
                objs = [
                    Chunk(pk=cid, embedding=vector, embedding_model=model)
                    for (cid, _h, _t), vector in zip(todo, vectors, strict=True)
                ]
                Chunk.objects.bulk_update(objs, ["embedding", "embedding_model"], batch_size=500)
                if attempt == 0:
                    rows[0]["status"], rows[1]["status"] = "succeeded", "running"
                    KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model=model, updated_at=timezone.now())
            done_total += len(todo)
        else:
            report.log("chunks kept arriving with the old model; re-embed again once ingestion is over")
        KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model=model, updated_at=timezone.now())
    except Exception:
        for row in rows:
            if row["status"] == "running":
                row["status"] = "failed"
        report.update(subtasks=rows)
        raise
    rows[0]["status"] = rows[1]["status"] = "succeeded"
    report.update(progress=1.0, subtasks=rows, log_line=f"{done_total} chunks re-embedded with {model}")
    return {"kb_id": kb.pk, "model": model, "previous_model": previous, "chunks": done_total}
