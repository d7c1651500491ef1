"""Benchmark of the busiest pages on a synthetic federation ten times EGI's size (`make bench`).

Needs PostgreSQL: DATABASE_URL, or postgres://postgres@127.0.0.1:5432/egiportal_bench by default
(created when missing). Migrates, seeds 3,500 sites unless that federation is already there, then
times N requests per page through Django's test client in-process, counting queries.

    .venv/bin/python bench/run.py [--sites 3500] [--seed 1] [--requests 30] [--reseed]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/egiportal_bench"
SEED_RECORD = ROOT / "var" / "bench-seed.json"
TARGET_MS, TARGET_QUERIES = 100, 15
PI_TARGET_MS = 50
FULL_TARGET_S, FULL_TARGET_MB = 3, 150
WARMUP = 3


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=3500, help="sites of the synthetic federation (3500)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic federation (1)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (30)")
    parser.add_argument("--reseed", action="store_true", help="rebuild the federation even if it is there")
    parser.add_argument("--full", metavar="METHOD", help=argparse.SUPPRESS)  # one unpaged PI call, in a child
    return parser.parse_args()


def database_url():
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(f"bench/run.py needs PostgreSQL; DATABASE_URL is {url!r}. Unset it to use {DEFAULT_DATABASE_URL}.")
    return url


def ensure_database(url):
    """Create the benchmark database if it does not exist yet."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(server, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"Created database {name}.")
    except psycopg.OperationalError as exc:
        sys.exit(f"Cannot reach PostgreSQL at {server}: {exc}")


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "egiportal.settings")
    # whitenoise warns once about the uncollected static root; irrelevant to page timings.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def seed(args):
    """Seed unless the same-sized synthetic federation is there; returns a line about the seed time."""
    from django.core.management import call_command
    from django.db import connection

    from sites.synthetic import synthetic_sites

    records = json.loads(SEED_RECORD.read_text()) if SEED_RECORD.exists() else {}
    database = connection.settings_dict["NAME"]
    record = records.get(database) if isinstance(records.get(database), dict) else {}
    present = synthetic_sites().count()
    same = record.get("sites") == args.sites and record.get("seed") == args.seed
    if present == args.sites and (same or not record) and not args.reseed:
        when = f"{record['seconds']:.1f} s on {record['when']}" if same else "not recorded"
        return f"Reusing the synthetic federation of {present:,} sites (--reseed rebuilds it); its seed took {when}."
    print(f"Seeding a synthetic federation of {args.sites:,} sites (seed {args.seed})...", flush=True)
    started = time.perf_counter()
    call_command("seed_federation", sites=args.sites, seed=args.seed, flush=True)
    seconds = time.perf_counter() - started
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    records[database] = {"sites": args.sites, "seed": args.seed, "seconds": round(seconds, 1), "when": when}
    SEED_RECORD.parent.mkdir(exist_ok=True)
    SEED_RECORD.write_text(json.dumps(records, indent=1))
    return f"seed_federation --sites {args.sites} took {seconds:.1f} s (flush of earlier synthetic data included)."


def pages():
    """(label, path or None) of the measured pages."""
    from django.urls import Resolver404, resolve

    from egiportal.models import related_count
    from endpoints.models import Downtime, Service
    from sites.models import Site

    def available(path):
        try:
            resolve(path)
            return path
        except Resolver404:
            return None

    # The site with most services and downtimes: the detail page's worst case. Counted by subqueries:
    # joining both relations at once multiplies them (minutes on 300,000 downtimes).
    services, downtimes = related_count(Service.objects.all(), "site"), related_count(Downtime.objects.all(), "site")
    site = Site.objects.annotate(n=services + downtimes).order_by("-n", "pk").first()
    return [
        ("site list", available("/sites/")),
        ("service list", available("/services/")),
        ("site detail", site.get_absolute_url() if site else None),
    ]


def pi_pages():
    """(label, path, headers) of the measured PI pages: the first page (100) of three methods."""
    from django.contrib.auth import get_user_model

    from sites.models import APICredential, Site

    # get_site is a private method: the bench calls it with a portal token of the first site.
    user, _ = get_user_model().objects.get_or_create(username="bench")
    APICredential.objects.filter(user=user).delete()
    credential = APICredential(site=Site.objects.order_by("pk").first(), user=user, kind=APICredential.Kind.TOKEN)
    secret = credential.issue_token()
    credential.save()
    bearer = {"Authorization": f"Bearer {secret}"}
    base = "/gocdbpi/public/?next_cursor=0&method="
    return [
        ("get_service_endpoint", base + "get_service_endpoint", {}),
        ("get_site", base + "get_site", bearer),
        ("get_downtime", base + "get_downtime", {}),
    ]


def full_pi(method):
    """Time and peak memory of one unpaged PI call, read to the end as a client would (child process)."""
    import resource

    from django.db import connection
    from django.test import Client

    client = Client()
    client.get("/gocdbpi/public/?method=get_service_types")  # warm up imports and the connection
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    connection.force_debug_cursor = True
    connection.queries_log.clear()
    started = time.perf_counter()
    response = client.get(f"/gocdbpi/public/?method={method}")
    size = records = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        records += chunk.startswith(b"  <")  # one chunk per child of <results>
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queries = len(connection.queries)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "baseline_mb": baseline,
                "bytes": size,
                "records": records,
                "queries": queries,
            }
        )
    )


def run_full(method):
    """Run `full_pi(method)` in a fresh interpreter, so its peak memory is its own."""
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--full", method], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(client, path, requests, headers=None):
    """(status, median ms, p95 ms, queries) of `requests` GETs after a warm-up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get():
        response = client.get(path, headers=headers)
        if response.streaming:
            b"".join(response.streaming_content)
        return response

    for _ in range(WARMUP):
        get()
    times, queries, status = [], 0, None
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = get()
            times.append((time.perf_counter() - started) * 1000)
        status, queries = response.status_code, max(queries, len(captured.captured_queries))
    times.sort()
    p95 = times[max(0, math.ceil(0.95 * len(times)) - 1)]
    return status, statistics.median(times), p95, queries


def report(results, requests):
    print(f"\n{'page':<14}{'path':<24}{'status':>7}{'median ms':>11}{'p95 ms':>9}{'queries':>9}  target")
    for label, path, result in results:
        if result is None:
            print(f"{label:<14}{path or '-':<24}{'not available':>36}")
            continue
        status, median, p95, queries = result
        ok = status == 200 and median < TARGET_MS and queries < TARGET_QUERIES
        print(f"{label:<14}{path:<24}{status:>7}{median:>11.1f}{p95:>9.1f}{queries:>9}  {'met' if ok else 'MISSED'}")
    print(f"\n{requests} timed requests per page after {WARMUP} warm-up requests, anonymous, in-process test client.")
    print(f"Target: each page under {TARGET_MS} ms median with under {TARGET_QUERIES} queries.")


def report_pi(results, full, requests):
    print(f"\n{'PI method, first page of 100':<30}{'status':>7}{'median ms':>11}{'p95 ms':>9}{'queries':>9}  target")
    for label, (status, median, p95, queries) in results:
        ok = status == 200 and median < PI_TARGET_MS
        print(f"{label:<30}{status:>7}{median:>11.1f}{p95:>9.1f}{queries:>9}  {'met' if ok else 'MISSED'}")
    print(
        f"{requests} timed requests per method after {WARMUP} warm-up requests. Target: under {PI_TARGET_MS} ms median."
    )
    print(
        f"\n{'PI method, unpaged':<24}{'records':>9}{'MB out':>8}{'seconds':>9}{'peak MB':>9}{'+MB':>7}{'queries':>9}  target"
    )
    for method, r in full.items():
        ok = r["seconds"] < FULL_TARGET_S and r["peak_mb"] < FULL_TARGET_MB
        target = ("met" if ok else "MISSED") if method == "get_service_endpoint" else "-"
        print(
            f"{method:<24}{r['records']:>9,}{r['bytes'] / 2**20:>8.1f}{r['seconds']:>9.2f}{r['peak_mb']:>9.1f}"
            f"{r['peak_mb'] - r['baseline_mb']:>7.1f}{r['queries']:>9}  {target}"
        )
    print(
        f"Whole reply streamed and read in a fresh process; peak MB is the process's peak resident size, +MB its "
        f"growth during the call. Target (get_service_endpoint): under {FULL_TARGET_S} s and {FULL_TARGET_MB} MB."
    )


def main():
    args = parse_args()
    url = database_url()
    ensure_database(url)
    setup_django()
    from django.core.management import call_command
    from django.test import Client

    if args.full:
        return full_pi(args.full)
    call_command("migrate", verbosity=0, interactive=False)
    print(seed(args))
    client = Client(raise_request_exception=False)
    results = [(label, path, measure(client, path, args.requests) if path else None) for label, path in pages()]
    report(results, args.requests)
    pi = [(label, measure(client, path, args.requests, headers)) for label, path, headers in pi_pages()]
    full = {method: run_full(method) for method in ("get_service_endpoint", "get_downtime")}
    report_pi(pi, full, args.requests)


if __name__ == "__main__":
    main()
