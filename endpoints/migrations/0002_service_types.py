"""The service types of the EGI federation (name, description, allowed in production unmonitored)."""

import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "service_types.json"


def load(apps, schema_editor):
    ServiceType = apps.get_model("endpoints", "ServiceType")
    for name, description, exception in json.loads(DATA.read_text(encoding="utf-8")):
        ServiceType.objects.get_or_create(name=name, defaults={"description": description, "monitoring_exception": exception})


class Migration(migrations.Migration):
    dependencies = [("endpoints", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
