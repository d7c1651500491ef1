"""Reading an SSM receiver's queue (accounting.md §4.2, §4.3 B): `ssmreceive` verifies each message's
signature and writes `{body, signer, empaid}` into the dirq Queue `<path>/incoming`; this reader stores each
message for the site whose accounting service has the signer's host DN, and moves a refused one to
`<path>/reject` with the reason, as APEL's loader does."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from dirq.queue import Queue

from egiportal.errors import error_code

from . import services

logger = logging.getLogger(__name__)

INCOMING_SCHEMA = {"body": "string", "signer": "string", "empaid": "string?"}
REJECT_SCHEMA = {"body": "string", "signer": "string", "empaid": "string?", "error": "string"}


@dataclass
class Received:
    accepted: int = 0
    duplicates: int = 0
    rejected: list = field(default_factory=list)


def queues(path):
    """The incoming and reject queues of an SSM receiver's message path (`path`, or `path` ending in
    /incoming)."""
    root = Path(path)
    if root.name == "incoming":
        root = root.parent
    return Queue(str(root / "incoming"), schema=INCOMING_SCHEMA), Queue(str(root / "reject"), schema=REJECT_SCHEMA)


def receive(path, limit=None):
    """Store every message waiting in the queue at `path` (at most `limit`); returns what happened."""
    incoming, reject = queues(path)
    result = Received()
    for name in incoming:
        if limit is not None and result.accepted + result.duplicates + len(result.rejected) >= limit:
            break
        if not incoming.lock(name):
            continue  # another reader has it
        try:
            element = incoming.get(name)
        except Exception as exc:  # a half-written or corrupt element: leave it locked for an operator
            logger.warning("dirq element %s cannot be read: %s", name, exc)
            continue
        body, signer, empaid = element.get("body", ""), element.get("signer", ""), element.get("empaid") or ""
        try:
            done = services.ingest(services.sender_for_signer(signer), body, message_id=empaid, source="dirq")
        except Exception as exc:
            if error_code(exc) is None:
                incoming.unlock(name)
                raise
            reason = " ".join(getattr(exc, "messages", [str(exc)]))
            reject.add({"body": body, "signer": signer, "empaid": empaid, "error": reason})
            result.rejected.append((empaid or name, reason))
        else:
            result.duplicates += done.duplicate
            result.accepted += not done.duplicate
        incoming.remove(name)
    incoming.purge()
    return result
