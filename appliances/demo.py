"""The marketplace's demo: a catalogue of appliances whose small image files the portal serves itself on
loopback (so that "Verify" and a site's download work without a network), and two published VO lists.
`manage.py load_demo_marketplace` loads it; `make demo` runs that after `load_demo`.
"""

import hashlib
import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from egiportal.models import VirtualOrganisation

from . import publishing, services
from .choices import AcceleratorType, ImageFormat, IntegrityStatus, ListState
from .models import ApplianceVersion, Category, Image, VirtualAppliance

IMAGE_SIZE = 64 * 1024
QCOW2_MAGIC = b"QFI\xfb\x00\x00\x00\x03"
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,120}\.(qcow2|raw|ova)\Z")


def image_bytes(file_name):
    """The demo file `file_name`: a qcow2 header and 64 KiB of bytes derived from the name, the same on
    every machine, so that its SHA-512 is known before anything is served."""
    blocks, counter = [QCOW2_MAGIC], 0
    while sum(map(len, blocks)) < IMAGE_SIZE:
        blocks.append(hashlib.sha512(f"{file_name}:{counter}".encode()).digest())
        counter += 1
    return b"".join(blocks)[:IMAGE_SIZE]


@require_safe
def demo_image(request, file_name):
    """Serve a demo image file; only in demo mode."""
    if not settings.DEMO or not FILE_NAME.match(file_name):
        raise Http404("No such demo image.")
    response = HttpResponse(image_bytes(file_name), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def image_url(file_name):
    return f"{settings.PORTAL_URL}/demo-images/{file_name}"


# name: (title, categories, OS name, OS version, format, description, versions, extra)
# versions are (version string, days ago it was published; None = a working version not yet verified).
CATALOGUE = {
    "egi.ubuntu.24.04": ("EGI Ubuntu 24.04", ["Operating systems"], "Ubuntu", "24.04", "qcow2",
                         "Ubuntu 24.04 LTS base image with cloud-init, for every EGI cloud site.",
                         [("2026.09.1", 80), ("2026.11.1", 10)], {}),
    "egi.ubuntu.22.04": ("EGI Ubuntu 22.04", ["Operating systems"], "Ubuntu", "22.04", "qcow2",
                         "Ubuntu 22.04 LTS base image with cloud-init.", [("2026.10.1", 40)], {}),
    "egi.almalinux.9": ("EGI AlmaLinux 9", ["Operating systems"], "AlmaLinux", "9.4", "qcow2",
                        "AlmaLinux 9 base image, RHEL compatible.", [("9.4-1", 60), ("9.4-2", 5)], {}),
    "egi.rockylinux.9": ("EGI Rocky Linux 9", ["Operating systems"], "Rocky Linux", "9.4", "qcow2",
                         "Rocky Linux 9 base image.", [("9.4-20261001", 50)], {}),
    "egi.debian.12": ("EGI Debian 12", ["Operating systems"], "Debian", "12", "qcow2",
                      "Debian 12 (bookworm) base image.", [("12.7-1", 30)], {}),
    "egi.docker": ("EGI Docker", ["Containers and orchestration"], "Ubuntu", "24.04", "qcow2",
                   "Ubuntu with Docker Engine and Compose, ready to run containers.",
                   [("27.1-1", 70), ("27.3-1", 3)], {}),
    "egi.jupyter.notebooks": ("Jupyter notebooks", ["Notebooks", "Data analytics"], "Ubuntu", "22.04", "qcow2",
                              "JupyterHub with the scientific Python stack.", [("4.1-1", 345)], {}),
    "egi.gpu.cuda": ("GPU base with CUDA", ["Machine learning"], "Ubuntu", "22.04", "qcow2",
                     "Ubuntu with the NVIDIA driver and CUDA 12 for GPU flavours.", [("12.4-1", 20)],
                     {"accelerator_type": AcceleratorType.GPU, "accelerators_minimum": 1}),
    "egi.pytorch": ("PyTorch workstation", ["Machine learning"], "Ubuntu", "22.04", "qcow2",
                    "PyTorch and JupyterLab on CUDA.", [("2.4-1", 15)],
                    {"accelerator_type": AcceleratorType.GPU, "accelerators_minimum": 1, "ram_minimum": 8192}),
    "egi.galaxy": ("Galaxy bioinformatics", ["Bioinformatics", "Workflow systems"], "Rocky Linux", "9.4", "qcow2",
                   "A Galaxy server for bioinformatics workflows.", [("24.1-1", 25)], {"ram_minimum": 4096}),
    "egi.root.cern": ("ROOT data analysis", ["Physics", "Data analytics"], "AlmaLinux", "9.4", "raw",
                      "CERN ROOT with Python bindings, for HEP analysis.", [("6.32-1", 35)], {}),
    "egi.kubernetes": ("Kubernetes node", ["Containers and orchestration"], "Ubuntu", "24.04", "qcow2",
                       "A node image for Kubernetes clusters (kubeadm, containerd).", [("1.31-1", 12), ("1.31-2", None)],
                       {}),
}  # fmt: skip
# VO: appliances in its published list.
LISTS = {
    "fedcloud.egi.eu": [
        "egi.ubuntu.24.04", "egi.ubuntu.22.04", "egi.almalinux.9", "egi.rockylinux.9", "egi.debian.12",
        "egi.docker", "egi.jupyter.notebooks", "egi.kubernetes",
    ],
    "vo.access.egi.eu": ["egi.ubuntu.24.04", "egi.jupyter.notebooks", "egi.gpu.cuda", "egi.pytorch"],
}  # fmt: skip


def _version(actor, appliance, version_string, days_ago, spec):
    title, _categories, os_name, os_version, image_format, _description, _versions, extra = spec
    now = timezone.now()
    published_at = now - timedelta(days=days_ago or 0)
    # Each version lives a year from its publication: the notebooks one, 345 days old, shows expiry warnings.
    version = ApplianceVersion(appliance=appliance, version=version_string, expires=published_at + timedelta(days=365))
    version, _note = services.save_version(actor, version)
    file_name = f"{appliance.name}-{version_string}.{'raw' if image_format == 'raw' else 'qcow2'}"
    # A new version carries the published image on (same identifier in the lists), with its own file.
    image = version.images.first() or Image(version=version)
    image.url = image_url(file_name)
    image.format = ImageFormat(image_format)
    image.os_name, image.os_version = os_name, os_version
    image.ram_minimum = extra.get("ram_minimum", 1024)
    image.ram_recommended = max(extra.get("ram_minimum", 1024), 4096)
    image.cores_minimum, image.cores_recommended = 1, 2
    image.accelerator_type = extra.get("accelerator_type", "")
    image.accelerators_minimum = extra.get("accelerators_minimum")
    image.description = f"{title} {version_string}"
    services.save_image(actor, image)
    if days_ago is None:
        return version
    data = image_bytes(file_name)
    Image.objects.filter(pk=image.pk).update(
        size=len(data), sha512=hashlib.sha512(data).hexdigest(), verified=published_at
    )
    ApplianceVersion.objects.filter(pk=version.pk).update(status=IntegrityStatus.VERIFIED)
    services.publish_version(actor, version)
    ApplianceVersion.objects.filter(pk=version.pk).update(published=published_at)
    return version


def load(stdout=None):
    """Load the catalogue and publish the demo lists (idempotent: what exists is left as it is)."""
    User = get_user_model()
    author = User.objects.get(username="user")
    manager = User.objects.get(username="vomanager")
    created = []
    for name, spec in CATALOGUE.items():
        if VirtualAppliance.objects.filter(name=name).exists():
            continue
        title, categories, *_rest = spec
        appliance = VirtualAppliance(name=name, title=title, description=spec[5])
        services.save_appliance(author, appliance, categories=list(Category.objects.filter(name__in=categories)))
        # The first version of each; later ones come after the lists are published, so that those show
        # outdated entries.
        _version(author, appliance, *spec[6][0], spec)
        created.append(appliance)
    for vo_name, names in LISTS.items():
        vo = VirtualOrganisation.objects.get(name=vo_name)
        if vo.image_lists.filter(state=ListState.PUBLISHED).exists():
            continue
        for name in names:
            publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name=name))
        publishing.publish_list(manager, vo)
    for appliance in created:
        for version_string, days_ago in CATALOGUE[appliance.name][6][1:]:
            _version(author, appliance, version_string, days_ago, CATALOGUE[appliance.name])
    return created
