"""`manage.py seed_federation`: a deterministic synthetic federation for load tests and benchmarks."""

from django.core.management.base import BaseCommand, CommandError

from sites.synthetic import SeedOptions, SyntheticDataExists, seed, synthetic_counts


def positive_int(value):
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def non_negative_float(value):
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Build a synthetic federation (projects, NGIs, sites, services, endpoints, scopes, properties, "
        "service groups, downtimes). The same --seed always gives the same data. Defaults to EGI's size."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sites", type=positive_int, default=350, help="number of sites (default 350)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--services-per-site", type=non_negative_float, default=8.6, help="average services per site (8.6)"
        )
        parser.add_argument(
            "--downtimes-per-service", type=non_negative_float, default=10.0, help="average downtimes per service (10)"
        )
        parser.add_argument("--flush", action="store_true", help="delete earlier synthetic data first")

    def handle(self, *args, **options):
        seed_options = SeedOptions(
            sites=options["sites"],
            seed=options["seed"],
            services_per_site=options["services_per_site"],
            downtimes_per_service=options["downtimes_per_service"],
        )
        try:
            created, seconds = seed(seed_options, flush=options["flush"])
        except SyntheticDataExists as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Seeded a synthetic federation (seed {seed_options.seed}) in {seconds:.1f} s.")
        self.stdout.write("Created: " + ", ".join(f"{name} {count:,}" for name, count in created.items()))
        self.stdout.write("Rows now: " + ", ".join(f"{name} {count:,}" for name, count in synthetic_counts().items()))
