"""The quota buckets (one row per Cognito quota category) replace bulk work's single pace slot."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0012_events"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuotaBucket",
            fields=[
                ("category", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("next_at", models.FloatField()),
                ("factor", models.FloatField(default=1.0)),
                ("updated_at", models.FloatField()),
                ("decreased_at", models.FloatField(default=0.0)),
            ],
            options={"default_permissions": ()},
        ),
        migrations.DeleteModel(name="BulkPace"),
    ]
