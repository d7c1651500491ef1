"""Integrity checks through a real Celery worker on Redis, downloading from a real local HTTP server:
good images verify (and with "Verify & publish" publish), a wrong checksum or a 404 fails, a cancel stops
the download, and a worker killed mid-job leaves the job to be resumed or failed, never verified."""

import hashlib
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from appliances import services
from appliances.choices import IntegrityStatus, JobState, VersionState
from appliances.models import ApplianceVersion, Image, IntegrityJob, VirtualAppliance
from appliances.testing import ImageServer
from egiportal.tests.factories import UserFactory

BODY = b"QFI\xfb" + bytes(range(256)) * 1024  # 256 KiB


def version_with(author, urls, declared=None):
    appliance = services.save_appliance(author, VirtualAppliance(name="checked", title="Checked"))
    version, _note = services.save_version(author, ApplianceVersion(appliance=appliance, version="1.0"))
    for n, url in enumerate(urls):
        image = Image(version=version, url=url, format="qcow2", os_name="Ubuntu", os_version="24.04")
        image.declared_sha512 = declared or ""
        image.hypervisors = ["KVM", "QEMU"][n % 2]
        services.save_image(author, image)
    return version


def wait_for(condition, what, worker, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"Not within {timeout} s: {what}. Worker log:\n{worker.log()}")


def finished(job):
    return lambda: IntegrityJob.objects.filter(pk=job.pk).exclude(state__in=[JobState.QUEUED, JobState.RUNNING]).first()


@pytest.mark.worker
def test_verify_and_publish_through_a_real_worker(worker):
    author = UserFactory(username="author")
    with ImageServer() as server:
        server.add("/a.qcow2", BODY)
        server.add("/b.qcow2", BODY[::-1])
        version = version_with(author, [server.url("/a.qcow2"), server.url("/b.qcow2")])
        job = services.request_integrity_check(author, version, publish=True)
        done = wait_for(finished(job), "the check over", worker)
        assert done.state == JobState.SUCCEEDED, (done.error, worker.log())
        assert [r.method for r in server.requests][:2] == ["HEAD", "GET"]
    version.refresh_from_db()
    assert version.status == IntegrityStatus.VERIFIED and version.state == VersionState.PUBLISHED
    sums = sorted(version.images.values_list("sha512", flat=True))
    assert sums == sorted([hashlib.sha512(BODY).hexdigest(), hashlib.sha512(BODY[::-1]).hexdigest()])
    assert set(version.images.values_list("size", flat=True)) == {len(BODY)}


@pytest.mark.worker
@pytest.mark.parametrize("case", ["wrong checksum", "404", "redirect"])
def test_a_failed_check_never_verifies_nor_publishes(worker, case):
    author = UserFactory(username="author")
    with ImageServer() as server:
        server.add("/a.qcow2", BODY)
        server.add_status("/missing.qcow2", 404)
        server.add_redirect("/moved.qcow2", "/a.qcow2")
        path, declared = {
            "wrong checksum": ("/a.qcow2", "0" * 128),
            "404": ("/missing.qcow2", None),
            "redirect": ("/moved.qcow2", None),
        }[case]
        version = version_with(author, [server.url(path)], declared)
        job = services.request_integrity_check(author, version, publish=True)
        done = wait_for(finished(job), "the check over", worker)
    assert done.state == JobState.FAILED and done.error, worker.log()
    version.refresh_from_db()
    assert version.status == IntegrityStatus.FAILED and version.state == VersionState.WORKING
    assert not version.images.exclude(sha512="").exists()


@pytest.mark.worker
def test_a_cancelled_check_stops_the_download(worker):
    author = UserFactory(username="author")
    with ImageServer() as server:
        server.add("/slow.qcow2", BODY * 8, chunk_size=16 * 1024, delay=0.1)
        version = version_with(author, [server.url("/slow.qcow2")])
        job = services.request_integrity_check(author, version)
        wait_for(lambda: IntegrityJob.objects.get(pk=job.pk).progress, "the download started", worker)
        services.cancel_integrity_check(author, IntegrityJob.objects.get(pk=job.pk))
        done = wait_for(finished(job), "the check over", worker)
        sent = sum(r.bytes_sent for r in server.requests if r.method == "GET")
    assert done.state == JobState.CANCELED, (done.error, worker.log())
    assert ApplianceVersion.objects.get(pk=version.pk).status == IntegrityStatus.CANCELED
    assert sent < len(BODY * 8)


@pytest.mark.worker
def test_a_worker_killed_mid_check_leaves_it_to_be_resumed_never_verified(worker, settings):
    author = UserFactory(username="author")
    settings.INTEGRITY_HEARTBEAT_TIMEOUT = 2
    with ImageServer() as server:
        server.add("/slow.qcow2", BODY * 4, chunk_size=16 * 1024, delay=0.05)
        version = version_with(author, [server.url("/slow.qcow2")])
        job = services.request_integrity_check(author, version)
        wait_for(lambda: IntegrityJob.objects.get(pk=job.pk).progress, "the download started", worker)
        worker.kill()
        killed = IntegrityJob.objects.get(pk=job.pk)
        assert killed.state == JobState.RUNNING and killed.attempts == 1
        assert ApplianceVersion.objects.get(pk=version.pk).status == IntegrityStatus.VERIFYING
        worker.restart(INTEGRITY_HEARTBEAT_TIMEOUT="2")
        time.sleep(2.5)  # the dead run's heartbeat goes stale
        assert job.pk in services.resume_integrity_checks()
        done = wait_for(finished(job), "the resumed check over", worker)
    assert done.state == JobState.SUCCEEDED and done.attempts >= 2, (done.error, worker.log())
    assert ApplianceVersion.objects.get(pk=version.pk).status == IntegrityStatus.VERIFIED


@pytest.mark.django_db
def test_a_check_out_of_attempts_fails_and_a_second_delivery_does_nothing(settings):
    author = UserFactory(username="author")
    version = version_with(author, ["http://127.0.0.1:9/a.qcow2"])
    job = services.request_integrity_check(author, version)  # not committed: no worker is asked
    stale = timezone.now() - timedelta(seconds=settings.INTEGRITY_HEARTBEAT_TIMEOUT + 5)
    IntegrityJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, heartbeat=stale, attempts=settings.INTEGRITY_MAX_ATTEMPTS
    )
    assert services.run_integrity_check(job.pk) is None  # out of attempts: not claimed
    services.resume_integrity_checks()
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "worker died" in job.error
    assert ApplianceVersion.objects.get(pk=version.pk).status == IntegrityStatus.FAILED
