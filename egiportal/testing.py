"""Factories and helpers shared by every app's tests."""

from datetime import timedelta

import factory
from django.utils import timezone

from endpoints.models import Downtime, EndpointLocation, Service, ServiceGroup, ServiceType
from sites.choices import RoleStatus
from sites.models import NGI, APICredential, Country, Project, Role, Scope, Site


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "egiportal.User"
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.django.Password("pw")


# Migrations seed scopes, countries and service types; a transactional test (browser, worker) flushes
# them, so the factories re-create what they need.
def egi_scope():
    return Scope.objects.get_or_create(name="EGI", defaults={"description": "Resources of the EGI federation"})[0]


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project{n}")
    description = "A project"


class NGIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NGI
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"NGI_T{n}")
    description = "An NGI"
    email = factory.LazyAttribute(lambda o: f"ops@{o.name.lower().replace('_', '-')}.example.org")

    @factory.post_generation
    def scopes(self, create, extracted, **kwargs):
        if create:
            self.scopes.set(extracted if extracted is not None else [egi_scope()])


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        skip_postgeneration_save = True

    short_name = factory.Sequence(lambda n: f"SITE-T{n}")
    official_name = factory.LazyAttribute(lambda o: f"Official {o.short_name}")
    ngi = factory.SubFactory(NGIFactory)
    country = factory.LazyFunction(
        lambda: Country.objects.get_or_create(code="NL", defaults={"name": "Netherlands"})[0]
    )
    description = "A site"
    domain = "example.org"
    email = "site@example.org"
    telephone = "+31 20 123 4567"
    certification_status = "Certified"
    primary_key = factory.Sequence(lambda n: f"{900000 + n}G0")

    @factory.post_generation
    def scopes(self, create, extracted, **kwargs):
        if create:
            self.scopes.set(extracted if extracted is not None else [egi_scope()])


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


def grant(user, role_type, entity, status=RoleStatus.GRANTED):
    """Give `user` a role over `entity` (a Project, NGI, Site or ServiceGroup)."""
    return Role.objects.create(user=user, role_type=role_type, owned_entity=entity.ownedentity_ptr, status=status)


def user_with(role_type, entity, **kwargs):
    """A new user holding a granted `role_type` over `entity`."""
    user = UserFactory(**kwargs)
    grant(user, role_type, entity)
    return user


def api_credential(site, user=None, kind=APICredential.Kind.X509, identifier=None, allow_write=False):
    """An API credential of `site`; for portal tokens returns (credential, secret)."""
    user = user or UserFactory()
    credential = APICredential(site=site, user=user, kind=kind, allow_write=allow_write, identifier=identifier or "")
    if kind == APICredential.Kind.TOKEN:
        secret = credential.issue_token()
        credential.save()
        return credential, secret
    credential.identifier = identifier or f"/DC=org/DC=example/CN=robot-{site.pk}-{user.pk}"
    credential.save()
    return credential
