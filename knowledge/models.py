"""Knowledge bases, their sources (files, pasted text, scraped pages) and the embedded chunks of each."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class KnowledgeBase(models.Model):
    """A user's collection of sources, searched together; all its chunks share one embedding model."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="knowledge_bases")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    embedding_model = models.CharField(
        max_length=200, blank=True, help_text="The model that embedded this base's chunks; chosen at first ingest."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["user", "name"])]

    def __str__(self) -> str:
        return self.name


class Source(models.Model):
    """One document in a knowledge base: its extracted text and the state of its ingestion."""

    class Kind(models.TextChoices):
        FILE = "file"
        TEXT = "text"
        URL = "url"

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    kb = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    title = models.CharField(max_length=300, blank=True)
    original_name = models.CharField(max_length=255, blank=True, help_text="As uploaded; shown, never used as a path.")
    mime = models.CharField(max_length=100, blank=True, help_text="Detected from the content, not the name.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    error = models.TextField(blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    url = models.CharField(max_length=2048, blank=True, help_text="The page address (web page sources).")
    stored_name = models.CharField(max_length=64, blank=True, help_text="Generated file name under the data folder.")
    text = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["kb", "-created_at"])]

    def __str__(self) -> str:
        return self.title or self.original_name or self.url or f"source {self.pk}"

    @property
    def display_title(self) -> str:
        return str(self)


class Chunk(models.Model):
    """A piece of a source's text with its embedding (float32, L2-normalised) and the heading it sits under."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="chunks")
    kb = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    text = models.TextField()
    heading = models.CharField(max_length=500, blank=True)
    token_count = models.PositiveIntegerField(default=0)
    embedding = models.BinaryField(null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source_id", "index"]
        indexes = [models.Index(fields=["kb"]), models.Index(fields=["source", "index"])]

    def __str__(self) -> str:
        return f"{self.source_id}#{self.index}"
