"""Factories of the sites app (projects, NGIs, sites, roles, API credentials) for every app's tests."""

import factory

from egiportal.tests.factories import UserFactory
from sites.choices import RoleStatus
from sites.models import NGI, APICredential, Country, Project, Role, Scope, Site


# Migrations seed scopes, countries and service types; a transactional test (browser, worker) flushes
# them, so the factories re-create what they need.
def egi_scope():
    return Scope.objects.get_or_create(name="EGI", defaults={"description": "Resources of the EGI federation"})[0]


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project{n}")
    description = "A project"


class ScopedFactory(factory.django.DjangoModelFactory):
    """Gives the object the EGI scope, or the `scopes=[...]` given."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True

    @factory.post_generation
    def scopes(self, create, extracted, **kwargs):
        if create:
            self.scopes.set(extracted if extracted is not None else [egi_scope()])


class NGIFactory(ScopedFactory):
    class Meta:
        model = NGI

    name = factory.Sequence(lambda n: f"NGI_T{n}")
    description = "An NGI"
    email = factory.LazyAttribute(lambda o: f"ops@{o.name.lower().replace('_', '-')}.example.org")


class SiteFactory(ScopedFactory):
    class Meta:
        model = Site

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


class ScopeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scope
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"scope_t{n}")
    description = "A scope tag"
