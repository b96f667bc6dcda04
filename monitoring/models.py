from django.db import models


class Sample(models.Model):
    """A host's figures at one moment (raw) or averaged over a minute or an hour (rolled up)."""

    class Resolution(models.IntegerChoices):
        RAW = 0, "raw"
        MINUTE = 60, "1 minute"
        HOUR = 3600, "1 hour"

    host = models.CharField(max_length=100)
    resolution = models.PositiveIntegerField(choices=Resolution.choices, default=Resolution.RAW)
    ts = models.DateTimeField()
    cpu_percent = models.FloatField()
    load_1 = models.FloatField(default=0.0)
    memory_percent = models.FloatField()
    memory_used = models.BigIntegerField(default=0)
    disk_percent = models.FloatField()
    net_sent_per_s = models.FloatField(default=0.0)
    net_recv_per_s = models.FloatField(default=0.0)
    gpu_util_percent = models.FloatField(null=True, blank=True)
    gpu_memory_percent = models.FloatField(null=True, blank=True)
    gpu_temperature_c = models.FloatField(null=True, blank=True)
    gpu_power_w = models.FloatField(null=True, blank=True)
    # backend name → {up (0..1), in_flight, latency_ms}: averages once rolled up
    backends = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1, help_text="Raw samples averaged into this row.")

    class Meta:
        ordering = ["ts"]
        constraints = [models.UniqueConstraint(fields=["host", "resolution", "ts"], name="sample_host_res_ts")]
        indexes = [models.Index(fields=["resolution", "ts"])]

    def __str__(self) -> str:
        return f"{self.host} {self.get_resolution_display()} {self.ts:%Y-%m-%d %H:%M:%S}"


class AlertRule(models.Model):
    """`metric > threshold for duration_s` on a host (or every host), or a backend down that long."""

    class Metric(models.TextChoices):
        CPU = "cpu_percent", "CPU %"
        MEMORY = "memory_percent", "Memory %"
        DISK = "disk_percent", "Disk %"
        GPU_TEMPERATURE = "gpu_temperature_c", "GPU temperature °C"
        BACKEND_DOWN = "backend_down", "LLM backend down"

    name = models.CharField(max_length=100)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    threshold = models.FloatField(default=90.0, help_text="Ignored for 'backend down'.")
    duration_s = models.PositiveIntegerField(default=120, help_text="How long the condition must hold.")
    host = models.CharField(max_length=100, blank=True, help_text="Empty: every host.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["metric", "host"]

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        minutes = f"{self.duration_s // 60} min" if self.duration_s % 60 == 0 else f"{self.duration_s} s"
        where = f" on {self.host}" if self.host else ""
        if self.metric == self.Metric.BACKEND_DOWN:
            return f"an LLM backend down for {minutes}"
        unit = " °C" if self.metric == self.Metric.GPU_TEMPERATURE else "%"
        return f"{self.get_metric_display().split(' ')[0]} > {self.threshold:g}{unit} for {minutes}{where}"


class AlertEvent(models.Model):
    """One breach of a rule, from when it had lasted the rule's duration until it cleared."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    host = models.CharField(max_length=100, blank=True)
    subject = models.CharField(max_length=100, blank=True, help_text="The backend, for 'backend down'.")
    message = models.CharField(max_length=300)
    value = models.FloatField(null=True, blank=True)
    peak = models.FloatField(null=True, blank=True)
    breach_started_at = models.DateTimeField()
    opened_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set while open, NULL once resolved: at most one open event per rule, host and subject.
    open_key = models.CharField(max_length=250, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return self.message

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
