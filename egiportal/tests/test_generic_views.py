import csv
import io

import pytest
from django.urls import reverse

from egiportal.views import csv_safe
from sites.tests.factories import SiteFactory


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("plain", "plain"),
        (None, ""),
        (3, "3"),
    ],
)
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


@pytest.mark.django_db
def test_csv_export_neutralises_formulas(client):
    SiteFactory(short_name="SITE-F", official_name="=cmd.exe")
    response = client.get(reverse("sites:site_list"), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    row = next(r for r in rows if "SITE-F" in r)
    assert "'=cmd.exe" in row and "=cmd.exe" not in row


@pytest.mark.django_db
def test_model_forms_refuse_to_save_around_the_services():
    from sites.forms import SiteForm

    with pytest.raises(NotImplementedError, match="save_with"):
        SiteForm(actor=None).save()
