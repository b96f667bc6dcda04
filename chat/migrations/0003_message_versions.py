import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_grounding_validation")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="version_of",
            field=models.ForeignKey(
                blank=True,
                help_text="The first answer this one is another version of.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="versions",
                to="chat.message",
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="hidden",
            field=models.BooleanField(default=False, help_text="Another version of this answer is shown instead."),
        ),
    ]
