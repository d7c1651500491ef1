"""Writing the audit log. Services call `record()` inside their transaction, so a rolled-back change
leaves no audit row and a committed one always has one."""

from django.contrib.contenttypes.models import ContentType

from .context import audit_note, current_request_id
from .models import AuditLog


def record(actor, action, obj, before=None, after=None, message=""):
    """Log `action` by `actor` on `obj`; `before`/`after` are snapshots (dicts) or None."""
    return AuditLog.objects.create(
        user=actor if actor is not None and actor.is_authenticated else None,
        user_name=getattr(actor, "username", "") or "system",
        request_id=current_request_id(),
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=obj.pk,
        object_repr=str(obj)[:255],
        before=before,
        after=after,
        message="; ".join(part for part in (message, audit_note.get()) if part)[:500],
    )
