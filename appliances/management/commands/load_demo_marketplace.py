"""`manage.py load_demo_marketplace`: the marketplace's demo catalogue and published VO lists (run by
`make demo` after `load_demo`, whose users and VOs it needs)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from appliances import demo, publishing
from appliances.choices import ListState
from appliances.models import VOImageList


class Command(BaseCommand):
    help = "Load the demo marketplace: appliances, versions, images served by the portal, published VO lists."

    def handle(self, *args, **options):
        with transaction.atomic():
            created = demo.load()
        signer = publishing.signer()
        self.stdout.write(f"Marketplace: {len(created)} appliance(s) added, {len(demo.CATALOGUE)} in the demo.")
        for image_list in VOImageList.objects.filter(state=ListState.PUBLISHED).select_related("vo"):
            self.stdout.write(f"  {image_list.vo}: {settings.PORTAL_URL}/store/vo/{image_list.vo}/image.list")
        self.stdout.write(f"  signer DN: {signer.dn}")
        self.stdout.write(f"  signer CA: {signer.ca_dn}")
        if settings.IMAGE_LIST_DEMO_PKI_DIR and not settings.IMAGE_LIST_SIGNER_CERT:
            pki = publishing.signing.ensure_demo_pki(Path(settings.IMAGE_LIST_DEMO_PKI_DIR))
            self.stdout.write(f"  demo CA certificate: {pki.ca_cert}")
            self.stdout.write(f"  verify: openssl smime -verify -in image.list -CAfile {pki.ca_bundle}")
