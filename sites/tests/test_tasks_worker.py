"""The role-request notification through a real Celery worker on Redis (no eager mode, no mocks), also
when the worker is killed mid-task and when Redis is unreachable at request time."""

import email
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from egiportal.celery import app
from egiportal.models import OutboxMessage
from egiportal.tests.factories import UserFactory
from sites import services
from sites.models import Role
from sites.tasks import notify_role_request
from sites.tests.factories import SiteFactory, grant


@pytest.mark.worker
def test_role_request_mail_is_sent_by_a_real_worker(worker):
    site = SiteFactory(short_name="WORKER-SITE")
    manager = UserFactory(username="ngi-manager", email="ngi.manager@example.org")
    grant(manager, "NGI_OPS_MAN", site.ngi)
    requester = UserFactory(username="requester", first_name="Rita", last_name="Quest")

    role = services.request_role(requester, site, "SITE_ADMIN")

    messages = worker.wait_for_messages(count=1, timeout=60)
    assert Role.objects.get(pk=role.pk).status == Role.Status.PENDING
    assert len(messages) == 1, worker.log()
    message = messages[0]
    assert message["To"] == "ngi.manager@example.org"
    assert message["Subject"] == "Role request: Site Administrator over WORKER-SITE"
    body = message.get_payload(decode=True).decode()
    assert f"{worker.portal_url}/roles/requests/" in body
    assert "Rita Quest (requester" in body
    assert "sites.tasks.notify_role_request" in worker.log()


def request_with_an_approver(name):
    """A site with an NGI manager to write to, and a pending request for its Site Administrator role."""
    site = SiteFactory(short_name=name)
    manager = UserFactory(username=f"manager-{name.lower()}", email=f"manager@{name.lower()}.example.org")
    grant(manager, "NGI_OPS_MAN", site.ngi)
    requester = UserFactory(username=f"requester-{name.lower()}")
    return site, manager, requester


def wait_until(condition, what, worker, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"Not within {timeout} s: {what}. Worker log:\n{worker.log()}")


def assert_done_once(worker, message, role):
    """The row is done and the e-mail was written once, even when the message is delivered once more."""
    wait_until(lambda: OutboxMessage.objects.get(pk=message.pk).done_at is not None, "the outbox row done", worker)
    notify_role_request.apply_async([role.pk], {"outbox_id": message.pk})  # a duplicate delivery
    wait_until(lambda: "is done already" in worker.log(), "the duplicate seen as done", worker)
    assert len(worker.messages()) == 1, worker.log()


class MailServer:
    """A small SMTP server on loopback. It holds its first connection without a greeting, as a mail server
    that hangs, and accepts mail on the later ones; `messages` is what it accepted."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.messages, self.held, self.stalled = [], [], threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            if not self.held:
                self.held.append(connection)
                self.stalled.set()
            else:
                threading.Thread(target=self.session, args=(connection,), daemon=True).start()

    def session(self, connection):
        with connection, connection.makefile("rb") as lines:

            def reply(text):
                connection.sendall(text.encode() + b"\r\n")

            reply("220 mail.test")
            for line in lines:
                command = line.decode().strip().upper()
                if command.startswith(("EHLO", "HELO", "MAIL", "RCPT", "RSET", "NOOP")):
                    reply("250 OK")
                elif command == "DATA":
                    reply("354 End with <CRLF>.<CRLF>")
                    body = b"".join(iter(lambda: lines.readline(), b".\r\n"))
                    self.messages.append(email.message_from_bytes(body))
                    reply("250 Queued")
                elif command == "QUIT":
                    return reply("221 Bye")
                else:
                    reply("502 Not implemented")

    def close(self):
        self.socket.close()
        for connection in self.held:
            connection.close()


def pool_child(worker):
    """The pid of the prefork pool's one child process, which runs the tasks."""
    pid = worker.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.worker
def test_a_pool_process_killed_while_sending_the_mail_loses_nothing_and_mails_once(worker):
    """The process running the task dies (SIGKILL) while the mail server hangs: the message was not
    acknowledged (acks_late), the worker puts it back (reject_on_worker_lost), a new pool process sends
    the e-mail, once."""
    mail_server = MailServer()
    try:
        smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
        worker.restart(pool="prefork", **smtp, EMAIL_PORT=str(mail_server.port))
        site, manager, requester = request_with_an_approver("LOST-PROCESS-SITE")

        role = services.request_role(requester, site, "SITE_ADMIN")

        assert mail_server.stalled.wait(60), worker.log()  # the task is running: it is sending the mail
        message = OutboxMessage.objects.get()
        assert (message.attempts, message.done_at) == (1, None)
        os.kill(pool_child(worker), signal.SIGKILL)

        wait_until(lambda: len(mail_server.messages) == 1, "the e-mail sent by a new pool process", worker)
        [mail] = mail_server.messages
        assert mail["To"] == manager.email
        assert mail["Subject"] == "Role request: Site Administrator over LOST-PROCESS-SITE"
        wait_until(lambda: OutboxMessage.objects.get(pk=message.pk).done_at is not None, "the row done", worker)
        notify_role_request.apply_async([role.pk], {"outbox_id": message.pk})  # a duplicate delivery
        wait_until(lambda: "is done already" in worker.log(), "the duplicate seen as done", worker)
        assert len(mail_server.messages) == 1, worker.log()
        assert OutboxMessage.objects.get().attempts == 2
        assert "WorkerLostError" in worker.log()
    finally:
        mail_server.close()


@pytest.mark.worker
def test_a_worker_killed_while_sending_the_mail_loses_nothing_and_mails_once(worker):
    """The whole worker dies (SIGKILL, as with a lost machine) while the mail server hangs: the message it
    held unacknowledged goes back to the queue after the broker's visibility timeout (2 s here, an hour
    by default), and the next worker sends the e-mail, once."""
    with socket.create_server(("127.0.0.1", 0)) as mail_server:  # accepts, then never greets
        mail_server.settimeout(60)
        slow_smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}
        worker.restart(**slow_smtp, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(mail_server.getsockname()[1]))
        site, manager, requester = request_with_an_approver("KILLED-SITE")

        role = services.request_role(requester, site, "SITE_ADMIN")

        connection_from_worker, _ = mail_server.accept()  # the worker is inside the task, sending
        message = OutboxMessage.objects.get()
        assert (message.attempts, message.done_at) == (1, None)
        worker.kill()
        connection_from_worker.close()

    assert OutboxMessage.objects.get().done_at is None
    # The next worker writes mail to files again; Redis gives it the unacknowledged message after 2 s.
    worker.restart(CELERY_BROKER_VISIBILITY_TIMEOUT="2")
    [mail] = worker.wait_for_messages(count=1, timeout=60)
    assert mail["To"] == manager.email
    assert mail["Subject"] == "Role request: Site Administrator over KILLED-SITE"
    assert_done_once(worker, message, role)
    assert OutboxMessage.objects.get().attempts == 2


@pytest.mark.worker
def test_a_role_request_while_redis_is_unreachable_is_mailed_once_by_the_relay(worker, client, broker_down):
    """Redis is unreachable when the request is saved: the request succeeds, the e-mail waits in the
    outbox; when Redis is back, the periodic relay hands it to the worker, which sends it once."""
    site, manager, requester = request_with_an_approver("OUTAGE-SITE")
    client.force_login(requester)

    with broker_down():
        response = client.post(reverse("sites:role_request", args=[site.pk]), {"role_type": "SITE_ADMIN"})

    assert response.status_code == 302
    role = Role.objects.get(user=requester, status=Role.Status.PENDING)
    message = OutboxMessage.objects.get()
    assert (message.task, message.args) == ("sites.tasks.notify_role_request", [role.pk])
    assert (message.dispatched_at, message.done_at, message.attempts) == (None, None, 0)
    assert "Connection refused" in message.last_error

    # Redis is back: beat sends the relay task (here without its wait of OUTBOX_RELAY_AFTER seconds).
    app.send_task(settings.CELERY_BEAT_SCHEDULE["relay-outbox"]["task"], kwargs={"min_age": 0})
    [mail] = worker.wait_for_messages(count=1, timeout=60)
    assert mail["To"] == manager.email
    assert_done_once(worker, message, role)
    message.refresh_from_db()
    assert (message.attempts, message.last_error) == (1, "")
    assert message.dispatched_at is not None
