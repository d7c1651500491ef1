"""Factories of the endpoints app (service types, services, endpoint locations, service groups,
downtimes) for every app's tests."""

from datetime import timedelta

import factory
from django.utils import timezone

from endpoints.models import Downtime, EndpointLocation, Service, ServiceGroup, ServiceType
from sites.tests.factories import SiteFactory, egi_scope


def service_type(name="org.openstack.nova"):
    return ServiceType.objects.get_or_create(name=name, defaults={"description": f"{name} service"})[0]


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        skip_postgeneration_save = True

    site = factory.SubFactory(SiteFactory)
    service_type = factory.LazyFunction(service_type)
    hostname = factory.Sequence(lambda n: f"host{n}.example.org")
    description = "A service"
    production = True
    monitored = True

    @factory.post_generation
    def scopes(self, create, extracted, **kwargs):
        if create:
            self.scopes.set(extracted if extracted is not None else [egi_scope()])


class EndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EndpointLocation

    service = factory.SubFactory(ServiceFactory)
    name = factory.Sequence(lambda n: f"endpoint{n}")
    url = factory.LazyAttribute(lambda o: f"https://{o.service.hostname}:5000/v3")
    interface_name = factory.LazyAttribute(lambda o: o.service.service_type.name)


class ServiceGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceGroup

    name = factory.Sequence(lambda n: f"group_{n}")
    description = "A service group"


class DowntimeFactory(factory.django.DjangoModelFactory):
    """A downtime of one service; pass `services=[...]` for others (of the same site)."""

    class Meta:
        model = Downtime
        skip_postgeneration_save = True

    site = factory.LazyAttribute(lambda o: o.service.site)
    severity = "OUTAGE"
    classification = "SCHEDULED"
    description = "Planned maintenance"
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=4))
    primary_key = factory.Sequence(lambda n: f"{800000 + n}G0")

    class Params:
        service = factory.SubFactory(ServiceFactory)

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create:
            self.services.set(extracted if extracted is not None else [Service.objects.filter(site=self.site).first()])
