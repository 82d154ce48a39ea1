from django.db import migrations


def create_row(apps, schema_editor):
    # The one row of site settings; empty values mean "the environment's default".
    apps.get_model("operations", "SiteSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("operations", "0001_initial")]

    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
