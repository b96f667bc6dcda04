from django.db import migrations

DEFAULT_RULES = [
    ("CPU busy", "cpu_percent", 90, 120),
    ("Memory nearly full", "memory_percent", 90, 120),
    ("Disk nearly full", "disk_percent", 90, 300),
    ("GPU hot", "gpu_temperature_c", 85, 60),
    ("LLM backend down", "backend_down", 0, 60),
]


def create(apps, schema_editor):
    rule = apps.get_model("monitoring", "AlertRule")
    for name, metric, threshold, duration in DEFAULT_RULES:
        rule.objects.get_or_create(
            metric=metric, host="", defaults={"name": name, "threshold": threshold, "duration_s": duration}
        )


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_history_alerts")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
