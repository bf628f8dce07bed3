from django.conf import settings
from django.db import models


def package_path(instance, filename):
    return f"rpms/{instance.sha256[:2]}/{instance.sha256}/{filename}"


class Package(models.Model):
    """An RPM in the fleet-wide store.

    Its identity is name-version-release_distribution-arch, one row each (a database constraint), plus the
    md5 of header+payload (signature tag 1004, which signing does not change): another file of the same
    identity and md5 (e.g. the signed copy of an unsigned upload) is the same package and the first stays;
    another md5 is refused (upgrades.services.packages). The same file uploaded twice is one row (sha256 is
    unique too).
    """

    name = models.CharField(max_length=128)
    version = models.CharField(max_length=64)
    # obshell's split of the rpm Release "101000062023110109.el7": release = build number, distribution = el7.
    release = models.CharField(max_length=64)
    distribution = models.CharField(max_length=32)
    release_distribution = models.CharField(max_length=128)
    arch = models.CharField(max_length=16)
    size = models.BigIntegerField()
    payload_size = models.BigIntegerField(default=0)
    md5 = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=package_path, max_length=500)
    filename = models.CharField(max_length=255)
    upgrade_dep_yaml = models.TextField(blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # Who uploaded it: a cluster's token (cluster and token), a browser user, or none of them (a command, or a
    # row older than these fields). Tokens list what their cluster uploaded plus the uploads of users and
    # commands (the fleet-wide store), and delete only their cluster's uploads.
    uploaded_by_cluster = models.ForeignKey(
        "upgrades.Cluster", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_by_token = models.ForeignKey(
        "upgrades.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The user id and key id of the key in PACKAGE_KEYRING whose signature was verified on upload; empty when
    # no keyring was configured then.
    signer = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version", "release_distribution", "arch"], name="package_identity_unique"
            )
        ]

    def __str__(self):
        return self.rpm_name

    @property
    def rpm_name(self):
        return f"{self.name}-{self.version}-{self.release_distribution}.{self.arch}.rpm"

    @property
    def build_version(self):
        return f"{self.version}-{self.release}"


class PackageSync(models.Model):
    """One package pushed to a real cluster's agent (`POST /api/v1/upgrade/package`), as background work a worker
    claims; its progress is shown on the cluster page and the upgrade preview."""

    class State(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        DONE = "done"
        FAILED = "failed"

    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.CASCADE, related_name="package_syncs")
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="syncs")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    bytes_sent = models.PositiveBigIntegerField(default=0)
    total_bytes = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    owner = models.CharField(max_length=128, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.package} → {self.cluster}: {self.state}"

    @property
    def percent(self):
        return int(100 * self.bytes_sent / self.total_bytes) if self.total_bytes else 0
