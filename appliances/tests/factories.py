"""Factories of the marketplace (categories, appliances, versions, images) for every app's tests.

`published_appliance()` gives an appliance with a published, verified version whose images carry a size
and checksum, as an integrity check leaves them: enough to add it to a VO list and publish, without
running a check."""

from datetime import timedelta

import factory
from django.utils import timezone

from appliances.choices import IntegrityStatus, VersionState
from appliances.models import ApplianceVersion, Category, Image, VirtualAppliance
from egiportal.tests.factories import UserFactory

SHA512 = "ab" * 64


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class ApplianceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VirtualAppliance
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"appliance-{n}")
    title = factory.LazyAttribute(lambda o: f"Appliance {o.name}")
    description = "A test appliance"
    owner = factory.SubFactory(UserFactory)


class VersionFactory(factory.django.DjangoModelFactory):
    """A working version that expires in half a year."""

    class Meta:
        model = ApplianceVersion

    appliance = factory.SubFactory(ApplianceFactory)
    version = factory.Sequence(lambda n: f"1.{n}")
    expires = factory.LazyFunction(lambda: timezone.now() + timedelta(days=180))


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Image

    version = factory.SubFactory(VersionFactory)
    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/images/image-{n}.qcow2")
    format = "qcow2"
    os_name = "Ubuntu"
    os_version = "24.04"


def verified(image, size=1024):
    """`image` as a successful integrity check leaves it."""
    image.size, image.sha512, image.verified = size, SHA512, timezone.now()
    image.save(update_fields=["size", "sha512", "verified"])
    return image


def published_version(appliance, images=1, **kwargs):
    """A published, verified version of `appliance` with `images` verified images. As services.save_version
    and publish_version do, its images carry on the identifiers (guid) of the previous published version's
    and that version is archived."""
    now = timezone.now()
    previous = appliance.versions.filter(state=VersionState.PUBLISHED)
    guids = list(Image.objects.filter(version__in=previous).order_by("id").values_list("guid", flat=True))
    previous.update(state=VersionState.ARCHIVED, archived=now)
    version = VersionFactory(
        appliance=appliance, state=VersionState.PUBLISHED, status=IntegrityStatus.VERIFIED, published=now, **kwargs
    )
    for index in range(images):
        carried = {"guid": guids[index]} if index < len(guids) else {}
        verified(ImageFactory(version=version, **carried))
    return version


def published_appliance(images=1, **kwargs):
    appliance = ApplianceFactory(**kwargs)
    published_version(appliance, images=images)
    return appliance
