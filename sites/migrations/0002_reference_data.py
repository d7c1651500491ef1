"""Countries (ISO 3166) and the sample scopes of GOCDB (EGI, Local; wlcg reserved)."""

import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"
SCOPES = [("EGI", "Resources of the EGI federation", False), ("Local", "Resources for local use only", False),
          ("wlcg", "Resources of the Worldwide LHC Computing Grid", True)]


def load(apps, schema_editor):
    Country = apps.get_model("sites", "Country")
    Scope = apps.get_model("sites", "Scope")
    countries = json.loads((DATA / "countries.json").read_text(encoding="utf-8"))
    Country.objects.bulk_create([Country(code=c["code"], name=c["name"]) for c in countries], ignore_conflicts=True)
    for name, description, reserved in SCOPES:
        Scope.objects.get_or_create(name=name, defaults={"description": description, "reserved": reserved})


class Migration(migrations.Migration):
    dependencies = [("sites", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
