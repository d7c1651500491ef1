from django.db import models


class EntityKind(models.TextChoices):
    """The owned-entity types that roles are held over (specs/gocdb.md §2.1)."""

    PROJECT = "project", "Project"
    NGI = "ngi", "NGI"
    SITE = "site", "Site"
    SERVICEGROUP = "servicegroup", "Service group"


class CertificationStatus(models.TextChoices):
    CANDIDATE = "Candidate"
    UNCERTIFIED = "Uncertified"
    CERTIFIED = "Certified"
    SUSPENDED = "Suspended"
    CLOSED = "Closed"


class Infrastructure(models.TextChoices):
    """GOCDB's "production status" of a site."""

    PRODUCTION = "Production"
    TEST = "Test"
    SC = "SC", "SC"
    PPS = "PPS", "PPS"


class RoleType(models.TextChoices):
    """Role types of RoleActionMappings.xml; the value is GOCDB's alias, the label its RoleType.name."""

    COD_STAFF = "COD_STAFF", "COD Staff"
    COD_ADMIN = "COD_ADMIN", "COD Administrator"
    EGI_CSIRT_OFFICER = "EGI_CSIRT_OFFICER", "EGI CSIRT Officer"
    COO = "COO", "Chief Operations Officer"
    NGI_OPS_MAN = "NGI_OPS_MAN", "NGI Operations Manager"
    NGI_OPS_DEP_MAN = "NGI_OPS_DEP_MAN", "NGI Operations Deputy Manager"
    NGI_SEC_OFFICER = "NGI_SEC_OFFICER", "NGI Security Officer"
    REG_STAFF_ROD = "REG_STAFF_ROD", "Regional Staff (ROD)"
    REG_FIRST_LINE_SUPPORT = "REG_FIRST_LINE_SUPPORT", "Regional First Line Support"
    SITE_ADMIN = "SITE_ADMIN", "Site Administrator"
    SITE_SECOFFICER = "SITE_SECOFFICER", "Site Security Officer"
    SITE_OPS_DEP_MAN = "SITE_OPS_DEP_MAN", "Site Operations Deputy Manager"
    SITE_OPS_MAN = "SITE_OPS_MAN", "Site Operations Manager"
    SERVICE_GROUP_ADMIN = "SERVICE_GROUP_ADMIN", "Service Group Administrator"


class RoleStatus(models.TextChoices):
    PENDING = "STATUS_PENDING", "Pending"
    GRANTED = "STATUS_GRANTED", "Granted"


class Action(models.TextChoices):
    """Actions of RoleConstants.php that the portal checks."""

    EDIT_OBJECT = "edit"
    GRANT_ROLE = "grant_role"
    REJECT_ROLE = "reject_role"
    REVOKE_ROLE = "revoke_role"
    NGI_ADD_SITE = "ngi_add_site"
    SITE_ADD_SERVICE = "site_add_service"
    SITE_EDIT_CERT_STATUS = "site_edit_cert_status"
    READ_PERSONAL_DATA = "read_personal_data"


class AuditAction(models.TextChoices):
    """The audit actions of this app, beside the core's created/updated/deleted."""

    CERTIFY = "certification", "Certification changed"
    ROLE_REQUEST = "role_request", "Role requested"
    ROLE_GRANT = "role_grant", "Role granted"
    ROLE_REJECT = "role_reject", "Role rejected"
    ROLE_REVOKE = "role_revoke", "Role revoked"
