from django.db import models


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    CERTIFY = "certification", "Certification changed"
    ROLE_REQUEST = "role_request", "Role requested"
    ROLE_GRANT = "role_grant", "Role granted"
    ROLE_REJECT = "role_reject", "Role rejected"
    ROLE_REVOKE = "role_revoke", "Role revoked"
    DOWNTIME_END = "downtime_end", "Downtime ended"
