"""Shared pieces of the HEPiX tests: the demo PKI, a valid list, and the real openssl command line."""

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from appliances import hepix
from appliances.signing import ensure_demo_pki, load_signer
from conftest import require_or_skip

SHA512 = "5c548a09467df6ff6ee77659a8cfe15115ef366b94baa30c47e079b711119652a17c8f947ab437e70c799480b4b5dc3d68a3b22581b3318db35dd3364e83dab0"
LIST_ID = "76fdee70-8119-5d33-9f40-3c57e1c60df1"
IMAGE_ID = "c0482bc2-bf41-5d49-8a0c-a750174a186b"


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the real openssl; without it fail under CI=true, else skip."""
    binary = shutil.which("openssl")
    require_or_skip(binary is not None, "the openssl command is not installed")
    return subprocess.run([binary, *args], input=input, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def demo_pki(tmp_path_factory):
    return ensure_demo_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def signer(demo_pki):
    return load_signer(demo_pki.signer_cert, demo_pki.signer_key, demo_pki.chain)


def list_fields(**overrides) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    fields = {
        "dc:identifier": LIST_ID,
        "dc:title": "VO demo.egi.eu image list.",
        "dc:description": "This is a VO-wide image list for demo.egi.eu VO.",
        "dc:date:created": now - timedelta(minutes=1),
        "dc:date:expires": datetime(2499, 12, 31, 22, tzinfo=UTC),
        "dc:source": "https://portal.example.org/",
        "hv:uri": "https://portal.example.org/store/vo/demo.egi.eu/image.list",
        "hv:version": (now - timedelta(minutes=1)).strftime("%Y%m%d%H%M%S"),
        "ad:vo": "demo.egi.eu",
    }
    return {**fields, **overrides}


def endorser_fields(signer, **overrides) -> dict:
    fields = {
        "dc:creator": "EGI Portal",
        "hv:ca": signer.ca_dn,
        "hv:dn": signer.dn,
        "hv:email": "support@example.org",
    }
    return {**fields, **overrides}


def image_fields(**overrides) -> dict:
    fields = {
        "dc:identifier": IMAGE_ID,
        "dc:title": "Image for CernVM [Scientific Linux/6.0/KVM]",
        "dc:description": "",
        "dc:date:expires": datetime.now(UTC) + timedelta(days=365),
        "hv:uri": "https://images.example.org/cernvm-3.3.0.qcow2",
        "hv:size": 121243136,
        "hv:version": "3.3.0-1",
        "hv:format": "qcow2",
        "hv:hypervisor": "KVM",
        "sl:arch": "x86_64",
        "sl:os": "Linux",
        "sl:osname": "Scientific Linux",
        "sl:osversion": "6.0",
        "sl:checksum:sha512": SHA512,
        "ad:mpuri": f"https://portal.example.org/store/vo/image/{IMAGE_ID}:484/",
        "ad:group": "General group",
        "ad:user:fullname": "Bruce Wayne",
        "ad:user:guid": "9d9dd6cf-b61a-4a4a-b1df-b5731adf717c",
        "ad:user:uri": "https://portal.example.org/store/person/bruce.wayne",
        "hv:ram_minimum": 512,
        "hv:core_minimum": 1,
    }
    return {**fields, **overrides}


def valid_document(signer, images=None) -> dict:
    return hepix.build_document(list_fields(), endorser_fields(signer), [image_fields()] if images is None else images)
