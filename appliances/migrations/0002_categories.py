"""The catalogue's categories; portal administrators may add more in the admin."""

from django.db import migrations

CATEGORIES = [
    "Operating systems",
    "Bioinformatics",
    "Physics",
    "Chemistry",
    "Earth sciences",
    "Astronomy",
    "Data analytics",
    "Machine learning",
    "Notebooks",
    "Containers and orchestration",
    "Workflow systems",
    "Monitoring",
    "Storage",
]


def add(apps, schema_editor):
    Category = apps.get_model("appliances", "Category")
    for name in CATEGORIES:
        Category.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("appliances", "0001_initial")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
