from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("speech_processing", "0007_audio_replaces"),
    ]

    operations = [
        migrations.AddField(
            model_name="audiobook",
            name="source_fingerprint",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
