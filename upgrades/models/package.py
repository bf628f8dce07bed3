from django.db import models


def package_path(instance, filename):
    return f"rpms/{instance.sha256[:2]}/{instance.sha256}/{filename}"


class Package(models.Model):
    """An RPM in the fleet-wide store. The same file uploaded twice is one row (sha256 is unique)."""

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

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["name", "version", "release_distribution", "arch"], name="package_lookup")]

    def __str__(self):
        return self.rpm_name

    @property
    def rpm_name(self):
        return f"{self.name}-{self.version}-{self.release_distribution}.{self.arch}.rpm"

    @property
    def build_version(self):
        return f"{self.version}-{self.release}"
