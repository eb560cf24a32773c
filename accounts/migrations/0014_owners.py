from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_quota_buckets"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="owned_applications",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The applications they own, as last read live from their Cognito groups.",
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="applications",
            field=models.CharField(
                blank=True,
                help_text="The applications the attempt concerned, as ' billing crm ' (owners').",
                max_length=2048,
            ),
        ),
    ]
