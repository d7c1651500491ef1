from django.db import models


class AuditAction(models.TextChoices):
    """The marketplace's own audit actions, beside the core's created/updated/deleted."""

    PUBLISH_VERSION = "publish_version", "Published an appliance version"
    ARCHIVE_VERSION = "archive_version", "Archived an appliance version"
    PUBLISH_LIST = "publish_list", "Published an image list"
    REVERT_LIST = "revert_list", "Reverted an image list draft"
    INTEGRITY = "integrity", "Checked image integrity"


class VersionState(models.TextChoices):
    """A version's role in its appliance's life (appdb-hepix.md §2.2): at most one working (being edited)
    and one published (what lists take); earlier published ones are archived."""

    WORKING = "working", "Working"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class IntegrityStatus(models.TextChoices):
    """Where a version's integrity check stands (§3): a version is published only once verified."""

    INIT = "init", "Not verified"
    VERIFYING = "verifying", "Verifying"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Cancelled"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Cancelled"


class ImageFormat(models.TextChoices):
    """Disk and container formats, lowercase as atrope and Glance expect them (rule 10 of §0)."""

    QCOW2 = "qcow2", "QCOW2"
    RAW = "raw", "raw"
    VMDK = "vmdk", "VMDK"
    VHD = "vhd", "VHD"
    VHDX = "vhdx", "VHDX"
    VDI = "vdi", "VDI"
    ISO = "iso", "ISO"
    OVA = "ova", "OVA"


class Hypervisor(models.TextChoices):
    """AppDB's hypervisor enumeration (§1.4)."""

    KVM = "KVM", "KVM"
    QEMU = "QEMU", "QEMU"
    QEMU_KVM = "QEMU-KVM", "QEMU-KVM"
    XEN = "Xen", "Xen"
    VIRTUALBOX = "VirtualBox", "VirtualBox"
    HYPER_V = "Hyper-V", "Hyper-V"
    VMWARE = "VMWare", "VMWare"


class Architecture(models.TextChoices):
    X86_64 = "x86_64", "x86_64"
    I386 = "i386", "i386"
    AARCH64 = "aarch64", "aarch64"
    PPC64LE = "ppc64le", "ppc64le"
    S390X = "s390x", "s390x"
    RISCV64 = "riscv64", "riscv64"


class OSFamily(models.TextChoices):
    LINUX = "Linux", "Linux"
    WINDOWS = "Windows", "Windows"
    BSD = "BSD", "BSD"
    OTHER = "Other", "Other"


class AcceleratorType(models.TextChoices):
    GPU = "GPU", "GPU"
    FPGA = "FPGA", "FPGA"


class ContextFormat(models.TextChoices):
    """Contextualisation formats an image understands (AppDB's `contextformats`, Cloud-Init by default)."""

    CLOUD_INIT = "cloud-init", "Cloud-Init"
    CLOUDBASE_INIT = "cloudbase-init", "Cloudbase-Init"
    ONE_CONTEXT = "one-context", "OpenNebula context"
    IGNITION = "ignition", "Ignition"


class ListState(models.TextChoices):
    """A VO's image lists (§2.4): one draft being curated, one published; earlier published ones are obsolete."""

    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    OBSOLETE = "obsolete", "Obsolete"


class EntryState(models.TextChoices):
    """How a list entry stands against its appliance (§2.4, §4.1-4.2), worst first."""

    DELETED = "deleted", "Appliance deleted"
    EXPIRED = "expired", "Expired"
    OUTDATED = "outdated", "Outdated"
    EXPIRING = "expiring", "Expiring soon"
    UP_TO_DATE = "up_to_date", "Up to date"
