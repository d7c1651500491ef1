"""Factories of the core's models (users, virtual organisations, API tokens) for every app's tests.

The core's test helpers import no app, like the core itself: site and endpoint factories are in
`sites/tests/factories.py` and `endpoints/tests/factories.py`.
"""

import factory

from egiportal.models import APIToken, VirtualOrganisation, VOMembership


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


class VOFactory(factory.django.DjangoModelFactory):
    """A virtual organisation, as Check-in names them (vo0.example.org)."""

    class Meta:
        model = VirtualOrganisation
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"vo{n}.example.org")
    description = "A test VO"


def vo_member(user, vo, source=VOMembership.Source.LOCAL, **kwargs):
    """Make `user` a member of `vo` (a VirtualOrganisation or a VO name); `manager=True` for a VO manager."""
    if isinstance(vo, str):
        vo = VOFactory(name=vo)
    kwargs.setdefault("roles", ["member"])
    return VOMembership.objects.create(user=user, vo=vo, source=source, **kwargs)


def api_token(user, description="tests", **kwargs):
    """A personal API token of `user`; returns (token, secret)."""
    token = APIToken(user=user, description=description, **kwargs)
    secret = token.issue()
    token.save()
    return token, secret
