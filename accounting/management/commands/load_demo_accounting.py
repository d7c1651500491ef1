"""`manage.py load_demo_accounting`: months of usage of the demo's cloud sites, made by cASO's record classes
(run by `make demo` after `load_demo` and `load_demo_marketplace`)."""

from django.core.management.base import BaseCommand

from accounting import demo


class Command(BaseCommand):
    help = "Load months of demo usage for the demo's cloud sites (cASO-made messages, as an SSM receiver passes them)."

    def handle(self, *args, **options):
        stored, duplicates = demo.load()
        self.stdout.write(f"Accounting: {stored} message(s) stored, {duplicates} already there.")
        self.stdout.write("  usage: /accounting/   classic: /accounting/cloud/sum_elap_processors/SITE/DATE/...")
