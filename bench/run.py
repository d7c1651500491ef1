"""Benchmark of the busiest pages on a synthetic federation ten times EGI's size (`make bench`).

Needs PostgreSQL: DATABASE_URL, or postgres://postgres@127.0.0.1:5432/egiportal_bench by default
(created when missing). Migrates, seeds 3,500 sites unless that federation is already there, then
times N requests per page through Django's test client in-process, counting queries.

    .venv/bin/python bench/run.py [--sites 3500] [--seed 1] [--requests 30] [--reseed]

The portal starts as under the WSGI server (egiportal/wsgi.py: everything imported, then gc.freeze).
Measured: the busiest browser pages; the REST API's lists of 100 services and sites (full and brief) and
a bulk create of 1,000 service properties; the PI's first pages and its unpaged replies; the hostile
scope and property filters of issue 11 (40 scope names, 60 extensions / property terms) beside a 1 s target;
the marketplace's signing of a 500-image list and its catalogue of 2,000 appliances (bench/marketplace.py);
accounting's ingestion, summaries over 1,000,000 records and pivot views (bench/accounting_bench.py).
"""

import argparse
import json
import math
import os
import re
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
REST_TARGET_MS, REST_TARGET_QUERIES = 60, 10
BULK_PROPERTIES, BULK_PER_PARENT, BULK_TARGET_S = 1000, 10, 2
PROPERTIES_PATH = "/api/v1/service-properties/"
BENCH_KEY_PREFIX = "bench."
FULL_TARGET_S, FULL_TARGET_MB = 3, 150
HOSTILE_TARGET_MS, HOSTILE_REQUESTS = 1000, 5
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


def available(path):
    """`path` if this portal serves it yet, else None (the report then says "not available")."""
    from django.urls import Resolver404, resolve

    try:
        resolve(path.partition("?")[0])
        return path
    except Resolver404:
        return None


def pages():
    """(label, path or None) of the measured pages."""
    from egiportal.models import related_count
    from endpoints.models import Downtime, Service
    from sites.models import Site

    # The site with most services and downtimes: the detail page's worst case. Counted by subqueries:
    # joining both relations at once multiplies them (minutes on 300,000 downtimes).
    services, downtimes = related_count(Service.objects.all(), "site"), related_count(Downtime.objects.all(), "site")
    site = Site.objects.annotate(n=services + downtimes).order_by("-n", "pk").first()
    return [
        ("site list", available("/sites/")),
        ("service list", available("/services/")),
        ("site detail", site.get_absolute_url() if site else None),
    ]


def rest_pages():
    """(label, path or None) of the measured REST lists: the first 100 services (with their properties,
    scopes and endpoints) in full and brief form; sites likewise, for comparison."""
    return [
        ("services", available("/api/v1/services/?limit=100")),
        ("services brief", available("/api/v1/services/?limit=100&brief=1")),
        ("sites", available("/api/v1/sites/?limit=100")),
        ("sites brief", available("/api/v1/sites/?limit=100&brief=1")),
    ]


def bulk_properties_payload(parents):
    """BULK_PROPERTIES new properties, BULK_PER_PARENT on each of `parents`, in the shape the
    service-properties endpoint takes as one POST (all saved or none)."""
    return [
        {"parent": parent.pk, "key": f"{BENCH_KEY_PREFIX}{n}", "value": f"bench value {n}"}
        for parent in parents
        for n in range(BULK_PER_PARENT)
    ][:BULK_PROPERTIES]


def bulk_create(client):
    """(status, seconds, queries) of one POST of BULK_PROPERTIES service properties with a portal
    administrator's write-enabled token, or None without the endpoint. The properties are removed
    afterwards, so every run starts from the seeded federation."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from egiportal import services
    from egiportal.models import APIToken
    from endpoints.models import Service, ServiceProperty

    path = available(PROPERTIES_PATH)
    if path is None:
        return None
    ServiceProperty.objects.filter(key__startswith=BENCH_KEY_PREFIX).delete()  # left by an interrupted run
    count = math.ceil(BULK_PROPERTIES / BULK_PER_PARENT)
    # Services without properties: the per-entity limit (MAX_PROPERTIES_PER_ENTITY) leaves them room.
    parents = list(Service.objects.filter(properties__isnull=True).order_by("pk")[:count])
    if len(parents) < count:
        sys.exit(f"The bulk create needs {count} services without properties; the federation has {len(parents)}.")
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    APIToken.objects.filter(user=admin).delete()
    _, secret = services.create_api_token(admin, "bench bulk create", write_enabled=True)
    body = json.dumps(bulk_properties_payload(parents))
    try:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.post(
                path, body, content_type="application/json", headers={"Authorization": f"Token {secret}"}
            )
            seconds = time.perf_counter() - started
        created = ServiceProperty.objects.filter(key__startswith=BENCH_KEY_PREFIX).count()
    finally:
        ServiceProperty.objects.filter(key__startswith=BENCH_KEY_PREFIX).delete()
        APIToken.objects.filter(user=admin).delete()
    if response.status_code != 201 or created != BULK_PROPERTIES:
        print(f"Bulk create answered {response.status_code} with {created} properties: {response.content[:300]!r}")
    return response.status_code, seconds, len(captured.captured_queries)


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


def hostile_pages():
    """(label, path, expected status) of the hostile filters of issue 11: every scope name or extensions
    term was a subquery of its own and stalled PostgreSQL for a minute. The issue's own queries (40 names,
    60 terms) and the largest ones the caps let through, each now one bounded query."""
    from django.conf import settings

    names = [a + b for a in "abcdefghij" for b in "abcdefghijklmnopqrstuvwxyz"]
    scopes = ",".join(names[:40])
    at_cap = ",".join(["EGI"] + names[: settings.FILTER_MAX_SCOPES - 1])
    terms = settings.FILTER_MAX_PROPERTY_TERMS
    extensions = "".join(f"(k{i}=v)" for i in range(terms))
    mixed = "".join(f"{('AND', 'OR', 'NOT')[i % 3]}(k{i}=v)" for i in range(terms))
    properties = "&".join(f"property=k{i}=v" for i in range(60))
    site_list = "/gocdbpi/public/?method=get_site_list"
    return [
        ("PI scope_match=all, 40 names", f"{site_list}&scope_match=all&scope={scopes}", 200),
        (f"PI scope_match=all, {settings.FILTER_MAX_SCOPES} names", f"{site_list}&scope_match=all&scope={at_cap}", 200),
        ("PI extensions (a=b) x 60", f"{site_list}&extensions={'(a=b)' * 60}", 200),
        ("PI extensions, 60 terms", f"{site_list}&extensions={''.join(f'(k{i}=v)' for i in range(60))}", 200),
        (f"PI extensions, {terms} terms", f"{site_list}&extensions={extensions}", 200),
        (f"PI extensions, {terms} AND/OR/NOT", f"{site_list}&extensions={mixed}", 200),
        ("PI get_downtime site_ext.", f"/gocdbpi/public/?method=get_downtime&site_extensions={mixed}", 200),
        ("/services/ property x 60", f"/services/?{properties}", 400),
        (f"/services/ property x {terms}", "/services/?" + "&".join(f"property=k{i}=v" for i in range(terms)), 200),
        ("REST property x 60", f"/api/v1/services/?{properties}", 400),
        (f"REST property x {terms}", "/api/v1/services/?" + "&".join(f"property=k{i}=v" for i in range(terms)), 200),
    ]


def report_hostile(results):
    print(f"\n{'hostile filter':<34}{'status':>7}{'median ms':>11}{'p95 ms':>9}{'queries':>9}  target")
    for label, expected, (status, median, p95, queries) in results:
        ok = status == expected and median < HOSTILE_TARGET_MS
        print(f"{label:<34}{status:>7}{median:>11.1f}{p95:>9.1f}{queries:>9}  {'met' if ok else 'MISSED'}")
    print(
        f"{HOSTILE_REQUESTS} timed requests each after {WARMUP} warm-up requests. Target: under {HOSTILE_TARGET_MS} ms "
        "median (60 distinct terms are over the cap: the PI's error, a 400 in the browser and REST)."
    )


def peak_rss_mb():
    """This process's peak resident size. Linux's VmHWM belongs to the process's own memory map; ru_maxrss
    would also count the parent's size at fork (Linux keeps it across exec), i.e. the bench's own."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) / 1024
    except (OSError, AttributeError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def full_pi(method):
    """Time and peak memory of one unpaged PI call, read to the end as a client would (child process)."""
    from django.db import connection
    from django.test import Client

    client = Client()
    client.get("/gocdbpi/public/?method=get_service_types")  # warm up imports and the connection
    baseline = peak_rss_mb()
    connection.force_debug_cursor = True
    connection.queries_log.clear()
    started = time.perf_counter()
    response = client.get(f"/gocdbpi/public/?method={method}")
    size = records = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        records += chunk.startswith(b"  <")  # one chunk per child of <results>
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
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


def report_rest(results, bulk, requests):
    print(f"\n{'REST API, first 100':<22}{'path':<40}{'status':>7}{'median ms':>11}{'p95 ms':>9}{'queries':>9}  target")
    for label, path, result in results:
        if result is None:
            print(f"{label:<22}{'-':<40}{'not available':>36}")
            continue
        status, median, p95, queries = result
        ok = status == 200 and median < REST_TARGET_MS and queries < REST_TARGET_QUERIES
        print(f"{label:<22}{path:<40}{status:>7}{median:>11.1f}{p95:>9.1f}{queries:>9}  {'met' if ok else 'MISSED'}")
    print(
        f"{requests} timed requests per list after {WARMUP} warm-up requests, anonymous. "
        f"Target: under {REST_TARGET_MS} ms median with under {REST_TARGET_QUERIES} queries."
    )
    label = f"bulk create of {BULK_PROPERTIES:,} service properties"
    if bulk is None:
        print(f"\n{label}: not available ({PROPERTIES_PATH} is not served yet)")
        return
    status, seconds, queries = bulk
    ok = status == 201 and seconds < BULK_TARGET_S
    print(
        f"\n{label} ({BULK_PER_PARENT} on each of {math.ceil(BULK_PROPERTIES / BULK_PER_PARENT)} services), one POST "
        f"to {PROPERTIES_PATH}: status {status}, {seconds:.2f} s, {queries} queries  {'met' if ok else 'MISSED'}"
    )
    print(f"Timed once, with a write-enabled token; removed afterwards. Target: under {BULK_TARGET_S} s.")


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


def through_gunicorn(timeout=10):
    """The unpaged get_downtime through gunicorn.conf.py with its worker timeout lowered to `timeout`
    seconds: read to the end over HTTP on loopback and parsed as it arrives (lxml), so a reply that a
    killed worker cut short shows as malformed. Returns a dict of the figures."""
    import socket
    import subprocess
    import urllib.request

    from lxml import etree

    from endpoints.models import Downtime

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_TIMEOUT": str(timeout),
    }
    env["GUNICORN_ACCESSLOG"] = env["GUNICORN_ERRORLOG"] = os.devnull
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "egiportal.wsgi"], cwd=ROOT, env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        started, size, records, error = time.perf_counter(), 0, 0, None
        parser = etree.XMLPullParser(events=("end",), tag="DOWNTIME")
        url = f"http://127.0.0.1:{port}/gocdbpi/public/?method=get_downtime"
        with urllib.request.urlopen(url, timeout=600) as reply:
            while chunk := reply.read(1 << 20):
                size += len(chunk)
                parser.feed(chunk)
                for _, element in parser.read_events():
                    records += 1
                    element.clear()
        try:
            parser.close()
        except etree.XMLSyntaxError as exc:
            error = str(exc)
        seconds = time.perf_counter() - started
    except Exception as exc:  # a reply cut mid-chunk surfaces here as an incomplete read
        seconds, error = time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    finally:
        server.terminate()
        server.wait(60)
    expected = Downtime.services.through.objects.count()  # GOCDB lists a downtime once per service
    return {
        "timeout": timeout,
        "seconds": seconds,
        "bytes": size,
        "records": records,
        "expected": expected,
        "error": error,
    }


def report_gunicorn(r):
    ok = r["error"] is None and r["records"] == r["expected"] and r["seconds"] > r["timeout"]
    print(
        f"\nget_downtime unpaged through gunicorn.conf.py (worker timeout lowered to {r['timeout']} s): "
        f"{r['bytes'] / 2**20:.1f} MB, {r['records']:,} of {r['expected']:,} DOWNTIME records, {r['seconds']:.1f} s, "
        f"{'well-formed' if r['error'] is None else 'CUT: ' + r['error'][:120]}  {'met' if ok else 'MISSED'}"
    )
    print("Target: the whole reply arrives, well-formed, although it streams for longer than the worker timeout.")


def main():
    args = parse_args()
    url = database_url()
    ensure_database(url)
    setup_django()
    from django.core.management import call_command
    from django.test import Client

    if args.full:
        import egiportal.wsgi  # noqa: F401 (starts as the WSGI server does: gc.freeze after loading)

        return full_pi(args.full)
    call_command("migrate", verbosity=0, interactive=False)
    print(seed(args))
    import egiportal.wsgi  # noqa: F401 (starts as the WSGI server does: gc.freeze after loading)

    client = Client(raise_request_exception=False)
    results = [(label, path, measure(client, path, args.requests) if path else None) for label, path in pages()]
    report(results, args.requests)
    rest = [(label, path, measure(client, path, args.requests) if path else None) for label, path in rest_pages()]
    report_rest(rest, bulk_create(client), args.requests)
    pi = [(label, measure(client, path, args.requests, headers)) for label, path, headers in pi_pages()]
    full = {method: run_full(method) for method in ("get_service_endpoint", "get_downtime")}
    report_pi(pi, full, args.requests)
    hostile = [(label, expected, measure(client, path, HOSTILE_REQUESTS)) for label, path, expected in hostile_pages()]
    report_hostile(hostile)
    import marketplace  # bench/marketplace.py, beside this script

    sign = marketplace.sign_bench()
    marketplace.seed_catalogue()
    catalogue = [
        (label, path, measure(client, path, args.requests) if available(path) else None)
        for label, path in marketplace.pages()
    ]
    marketplace.report(sign, catalogue)
    import accounting_bench  # bench/accounting_bench.py, beside this script (not the app `accounting`)

    ingest = accounting_bench.ingest_bench()
    seeded = accounting_bench.seed_records()
    summary = accounting_bench.summary_bench()
    pivots = [
        (label, path, measure(client, path, args.requests) if available(path) else None)
        for label, path in accounting_bench.pivot_pages()
    ]
    accounting_bench.report(ingest, seeded, summary, pivots)
    report_gunicorn(through_gunicorn())


if __name__ == "__main__":
    main()
