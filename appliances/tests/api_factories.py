"""Marketplace objects for the REST API tests: appliances, versions and images made directly (not through
the services), and a published, verified version as an integrity check and publication leave it."""

from datetime import timedelta

from django.utils import timezone

from appliances.choices import IntegrityStatus, VersionState
from appliances.models import ApplianceVersion, Image, VirtualAppliance
from egiportal.tests.factories import UserFactory

SHA512 = "ab" * 64
COUNTER = iter(range(10**9))


def appliance(owner=None, **kwargs):
    n = next(COUNTER)
    kwargs.setdefault("name", f"api-appliance-{n}")
    kwargs.setdefault("title", f"API appliance {n}")
    return VirtualAppliance.objects.create(owner=owner or UserFactory(), **kwargs)


def version(of=None, **kwargs):
    kwargs.setdefault("version", f"1.{next(COUNTER)}")
    kwargs.setdefault("expires", timezone.now() + timedelta(days=180))
    return ApplianceVersion.objects.create(appliance=of or appliance(), **kwargs)


def image(of=None, **kwargs):
    n = next(COUNTER)
    kwargs.setdefault("url", f"http://127.0.0.1:9/images/image-{n}.qcow2")
    kwargs.setdefault("format", "qcow2")
    kwargs.setdefault("os_name", "Ubuntu")
    kwargs.setdefault("os_version", "24.04")
    return Image.objects.create(version=of or version(), **kwargs)


def published(of=None, images=1, **kwargs):
    """A published, verified version of `of` (a new appliance by default) with verified images."""
    now = timezone.now()
    found = version(of, state=VersionState.PUBLISHED, status=IntegrityStatus.VERIFIED, published=now, **kwargs)
    for _ in range(images):
        image(found, size=1024, sha512=SHA512, verified=now)
    return found
