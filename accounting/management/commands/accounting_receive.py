"""`manage.py accounting_receive PATH`: store the messages an SSM receiver wrote into its dirq queue."""

from django.core.management.base import BaseCommand

from accounting import receiver


class Command(BaseCommand):
    help = "Store the accounting messages waiting in an SSM receiver's dirq queue (PATH or PATH/incoming)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--limit", type=int, default=None, help="at most this many messages")

    def handle(self, path, limit, **options):
        result = receiver.receive(path, limit)
        self.stdout.write(
            f"{result.accepted} message(s) stored, {result.duplicates} already stored, {len(result.rejected)} rejected."
        )
        for name, reason in result.rejected:
            self.stdout.write(f"  rejected {name}: {reason}")
