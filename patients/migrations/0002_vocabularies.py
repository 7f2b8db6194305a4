from django.db import migrations


def load(apps, schema_editor):
    from patients.vocabulary import load_vocabularies

    load_vocabularies(apps.get_model("patients", "Drug"), apps.get_model("patients", "BiomarkerKind"))


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
