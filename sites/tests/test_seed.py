"""seed_federation: deterministic, coherent, classified by §7.1, unique keys, flushable."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from endpoints.models import Downtime, EndpointLocation, EndpointProperty, Service, ServiceGroup, ServiceProperty
from sites.models import NGI, Project, Site, SiteProperty
from sites.synthetic import (
    MARK,
    FederationBuilder,
    SeedOptions,
    SyntheticDataExists,
    classify,
    flush_synthetic,
    seed,
)
from sites.tests.factories import SiteFactory

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def build(sites=12, seed_value=7):
    return FederationBuilder(SeedOptions(sites=sites, seed=seed_value, now=NOW)).build()


def signature():
    """Everything that must repeat for the same seed, with times relative to NOW (ids excluded)."""

    def rel(moment):
        return (moment - NOW).total_seconds()

    downtimes = Downtime.objects.select_related("site").prefetch_related("services", "endpoints")
    return {
        "projects": sorted(Project.objects.values_list("name", flat=True)),
        "ngis": sorted(NGI.objects.values_list("name", "email")),
        "sites": sorted(Site.objects.values_list("short_name", "ngi__name", "domain", "certification_status")),
        "services": sorted(Service.objects.values_list("site__short_name", "service_type__name", "hostname")),
        "endpoints": sorted(EndpointLocation.objects.values_list("service__hostname", "name", "url")),
        "properties": sorted(SiteProperty.objects.values_list("parent__short_name", "key", "value"))
        + sorted(ServiceProperty.objects.values_list("parent__hostname", "key", "value"))
        + sorted(EndpointProperty.objects.values_list("parent__name", "key", "value")),
        "scopes": sorted(Service.objects.values_list("hostname", "scopes__name")),
        "groups": sorted(ServiceGroup.objects.values_list("name", "services__hostname")),
        "downtimes": sorted(
            (
                d.site.short_name,
                d.severity,
                d.classification,
                d.description,
                rel(d.start),
                rel(d.end),
                rel(d.created),
                tuple(sorted(s.hostname for s in d.services.all())),
                tuple(sorted(e.name for e in d.endpoints.all())),
            )
            for d in downtimes
        ),
    }


def test_same_seed_gives_identical_data_and_other_seed_differs():
    first_counts = build()
    first = signature()
    assert flush_synthetic() > 0
    assert not Site.objects.exists() and not Downtime.objects.exists() and not Project.objects.exists()
    assert build() == first_counts
    assert signature() == first
    flush_synthetic()
    build(seed_value=8)
    other = signature()
    assert other["sites"] != first["sites"]
    assert other["downtimes"] != first["downtimes"]


def test_counts_scale_with_sites_and_options():
    counts = FederationBuilder(
        SeedOptions(sites=20, seed=3, services_per_site=5, downtimes_per_service=2, now=NOW)
    ).build()
    assert counts["sites"] == Site.objects.count() == 20
    assert counts["projects"] == 1  # one per 200 sites, at least one
    assert counts["ngis"] == NGI.objects.count() == round(20 / 9)
    assert counts["services"] == Service.objects.count()
    assert 60 <= counts["services"] <= 140  # about 5 per site
    assert counts["endpoints"] == EndpointLocation.objects.count() >= counts["services"]
    assert counts["downtimes"] == Downtime.objects.count() == 2 * counts["services"]
    assert counts["service_groups"] == ServiceGroup.objects.count() == 1


@pytest.fixture
def federation():
    return build(sites=40, seed_value=4)


def test_relations_are_coherent(federation):
    assert all(ngi.projects.exists() for ngi in NGI.objects.all())
    assert not Site.objects.filter(services=None).exists()
    assert not Service.objects.filter(endpoints=None).exists()
    assert not Downtime.objects.filter(services=None).exists()
    for downtime in Downtime.objects.prefetch_related("services", "endpoints"):
        # §7.1: one site per downtime; endpoints only of affected services.
        assert {s.site_id for s in downtime.services.all()} == {downtime.site_id}
        assert {e.service_id for e in downtime.endpoints.all()} <= {s.pk for s in downtime.services.all()}
    for group in ServiceGroup.objects.all():
        assert group.services.exists() and group.description.endswith(MARK)
    assert SiteProperty.objects.exists() and ServiceProperty.objects.exists() and EndpointProperty.objects.exists()
    # (host, type) unique across different sites (§2.5)
    pairs = Service.objects.values_list("hostname", "service_type_id", "site_id")
    owners = {}
    for host, type_id, site_id in pairs:
        assert owners.setdefault((host, type_id), site_id) == site_id


def test_scopes_follow_the_reserved_rules(federation):
    wlcg_ngis = set(NGI.objects.filter(scopes__name="wlcg").values_list("pk", flat=True))
    wlcg_sites = Site.objects.filter(scopes__name="wlcg")
    assert wlcg_sites.exists(), "seed 4 is chosen to give wlcg sites"
    assert all(site.ngi_id in wlcg_ngis for site in wlcg_sites)
    wlcg_site_ids = set(wlcg_sites.values_list("pk", flat=True))
    wlcg_services = Service.objects.filter(scopes__name="wlcg")
    assert wlcg_services.exists()
    assert all(service.site_id in wlcg_site_ids for service in wlcg_services)
    for model in (NGI, Site, Service, ServiceGroup):
        for obj in model.objects.prefetch_related("scopes"):
            assert any(not s.reserved for s in obj.scopes.all()), f"{obj} lacks a non-reserved scope"


def test_downtimes_are_classified_by_the_24_hour_rule(federation):
    downtimes = list(Downtime.objects.all())
    for downtime in downtimes:
        assert downtime.classification == classify(downtime.start, downtime.created)
        assert downtime.start < downtime.end
        assert downtime.created <= NOW
        assert downtime.start >= downtime.created - timedelta(hours=48)  # §7.1 rule 5
    assert {d.classification for d in downtimes} == {"SCHEDULED", "UNSCHEDULED"}
    assert {d.severity for d in downtimes} == {"OUTAGE", "WARNING"}
    assert any(d.end <= NOW for d in downtimes)
    assert any(d.start <= NOW < d.end for d in downtimes)
    assert any(d.start > NOW for d in downtimes)


def test_classify_boundaries():
    assert classify(NOW + timedelta(hours=24, minutes=1), NOW) == "SCHEDULED"
    assert classify(NOW + timedelta(hours=24), NOW) == "UNSCHEDULED"
    assert classify(NOW - timedelta(hours=2), NOW) == "UNSCHEDULED"


def test_primary_keys_are_unique_gocdb_keys(federation):
    for model in (Site, Downtime):
        rows = list(model.objects.values_list("pk", "primary_key"))
        assert all(key == f"{pk}G0" for pk, key in rows)
        assert len({key for _, key in rows}) == len(rows)


def test_generated_rows_pass_model_validation(federation):
    for model in (Project, NGI, Site, Service, EndpointLocation, ServiceGroup, SiteProperty, ServiceProperty):
        for obj in model.objects.all()[:300]:
            obj.full_clean()
    for obj in list(Downtime.objects.all()[:300]) + list(EndpointProperty.objects.all()[:300]):
        obj.full_clean()
    for service in Service.objects.select_related("service_type"):
        assert service.monitored or not service.production or service.service_type.monitoring_exempt


def test_flush_leaves_other_data_alone():
    own = SiteFactory(short_name="REAL-SITE")
    build()
    flush_synthetic()
    assert list(Site.objects.values_list("short_name", flat=True)) == ["REAL-SITE"]
    assert NGI.objects.get() == own.ngi


def test_second_seed_without_flush_is_refused():
    build()
    with pytest.raises(SyntheticDataExists):
        build()
    counts, seconds = seed(SeedOptions(sites=12, seed=7, now=NOW), flush=True)
    assert counts["sites"] == Site.objects.count() == 12 and seconds > 0


def test_command_prints_time_and_counts():
    out = StringIO()
    call_command("seed_federation", "--sites", "12", "--seed", "4", "--downtimes-per-service", "1", stdout=out)
    text = out.getvalue()
    assert "Seeded a synthetic federation (seed 4) in" in text
    assert "sites 12" in text and f"downtimes {Downtime.objects.count():,}" in text
    with pytest.raises(CommandError, match="--flush"):
        call_command("seed_federation", "--sites", "12", stdout=StringIO())
    call_command("seed_federation", "--sites", "12", "--flush", stdout=StringIO())
    assert Site.objects.count() == 12
    with pytest.raises(CommandError):
        call_command("seed_federation", "--sites", "0", stdout=StringIO())
