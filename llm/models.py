from django.conf import settings
from django.db import models

from core import crypto


class Backend(models.Model):
    """A model server the gateway routes to (LM Studio, Ollama, llama.cpp, any OpenAI-compatible)."""

    class Kind(models.TextChoices):
        LMSTUDIO = "lmstudio", "LM Studio"
        OLLAMA = "ollama", "Ollama"
        LLAMACPP = "llamacpp", "llama.cpp server"
        OPENAI = "openai", "OpenAI-compatible"

    name = models.SlugField(max_length=64, unique=True)
    # Not URLField: LAN host names without a dot ("http://gpubox:1234/v1") are normal here.
    base_url = models.CharField(max_length=300, help_text="The OpenAI-compatible root, e.g. http://127.0.0.1:1234/v1")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OPENAI)
    api_key_encrypted = models.TextField(blank=True, default="", editable=False)
    weight = models.PositiveSmallIntegerField(default=1, help_text="Relative share of traffic among equals.")
    max_concurrency = models.PositiveSmallIntegerField(default=4, help_text="Requests in flight at most.")
    enabled = models.BooleanField(default=True)
    connect_timeout_s = models.FloatField(default=5.0)
    first_token_timeout_s = models.FloatField(default=60.0)
    idle_timeout_s = models.FloatField(default=30.0, help_text="Longest pause between streamed tokens.")
    from_environment = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key(self) -> str:
        return crypto.decrypt(self.api_key_encrypted)

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.api_key_encrypted = crypto.encrypt(value or "")

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)

    @property
    def root_url(self) -> str:
        """The server root without the /v1 suffix (LM Studio, Ollama and llama.cpp extras live there)."""
        url = self.base_url.rstrip("/")
        return url[:-3] if url.endswith("/v1") else url


class BenchmarkResult(models.Model):
    """Time to first token, tokens/s and latency of one model on one backend, over N runs."""

    backend = models.ForeignKey(Backend, on_delete=models.CASCADE, related_name="benchmarks")
    model = models.CharField(max_length=200, db_index=True)
    runs = models.PositiveSmallIntegerField()
    prompt = models.TextField()
    max_tokens = models.PositiveIntegerField()
    ttft_ms_min = models.FloatField()
    ttft_ms_median = models.FloatField()
    ttft_ms_max = models.FloatField()
    tokens_per_s_min = models.FloatField()
    tokens_per_s_median = models.FloatField()
    tokens_per_s_max = models.FloatField()
    latency_ms_min = models.FloatField()
    latency_ms_median = models.FloatField()
    latency_ms_max = models.FloatField()
    completion_tokens_median = models.FloatField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model} on {self.backend}: {self.tokens_per_s_median:.1f} tok/s"
