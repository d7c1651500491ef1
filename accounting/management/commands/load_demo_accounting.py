"""`manage.py load_demo_accounting`: months of usage of the demo's cloud sites, made by cASO's record classes
(run by `make demo` after `load_demo` and `load_demo_marketplace`)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounting import demo


class Command(BaseCommand):
    help = "Load months of demo usage for the demo's cloud sites (cASO-made messages, as an SSM receiver passes them)."

    def handle(self, *args, **options):
        stored, duplicates = demo.load()
        self.stdout.write(f"Accounting: {stored} message(s) stored, {duplicates} already there.")
        first, now = demo.month_starts(timezone.now(), demo.MONTHS)[0], timezone.now()
        span = f"{first.year}/{first.month}/{now.year}/{now.month}"
        self.stdout.write(f"  views: {settings.PORTAL_URL}/accounting/")
        self.stdout.write(
            f"  classic: {settings.PORTAL_URL}/accounting/cloud/sum_elap_processors/SITE/DATE/{span}/egi/onlyinfrajobs/JSON/"
        )
