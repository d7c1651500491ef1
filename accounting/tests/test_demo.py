"""The accounting demo of `make demo`: months of cASO-made usage for every demo cloud site, through the
signer path, with one month missing at one site; loading it again stores nothing new."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounting import demo
from accounting.choices import MessageState
from accounting.models import AcceleratorSummary, CloudRecord, CloudSummary, IPSummary, RawMessage, StorageSummary

pytestmark = pytest.mark.django_db


def test_the_demo_has_usage_for_every_cloud_site_and_loads_once(reference_data):
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo_accounting", stdout=StringIO())
    sites = [service.site for service in demo.accounting_services()]
    assert len(sites) >= 3
    assert set(CloudSummary.objects.values_list("site", flat=True)) == {site.pk for site in sites}
    assert IPSummary.objects.exists() and StorageSummary.objects.exists() and AcceleratorSummary.objects.exists()
    assert not RawMessage.objects.exclude(state=MessageState.ACCEPTED).exists()
    months = lambda site: set(CloudSummary.objects.filter(site=site).values_list("year", "month"))  # noqa: E731
    assert len(months(sites[demo.GAP_SITE_INDEX])) < len(months(sites[0])) == demo.MONTHS
    counts = (RawMessage.objects.count(), CloudRecord.objects.count(), CloudSummary.objects.count())
    out = StringIO()
    call_command("load_demo_accounting", stdout=out)
    assert "0 message(s) stored" in out.getvalue()
    assert (RawMessage.objects.count(), CloudRecord.objects.count(), CloudSummary.objects.count()) == counts
