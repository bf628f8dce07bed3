from django.db import models
from django.utils.translation import gettext_lazy as _


class Edition(models.TextChoices):
    COMMUNITY = "community"
    BUSINESS = "business"
    STANDALONE = "standalone"


class Backend(models.TextChoices):
    SIMULATED = "simulated"
    OBSHELL = "obshell"


# The rpm names each edition's route needs (spec 4, step 8) and may upload (spec 3.1).
REQUIRED_PACKAGES = {
    Edition.COMMUNITY: ("oceanbase-ce", "oceanbase-ce-libs"),
    Edition.BUSINESS: ("oceanbase",),
    Edition.STANDALONE: ("oceanbase-standalone",),
}
TARGET_PACKAGE = {edition: names[0] for edition, names in REQUIRED_PACKAGES.items()}


class Cluster(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    edition = models.CharField(max_length=16, choices=Edition.choices, default=Edition.COMMUNITY)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.SIMULATED)
    shared_storage = models.BooleanField(default=False)
    # A real cluster's agent, reached by the obshell backend. The password is Fernet-encrypted at rest.
    agent_host = models.CharField(max_length=255, blank=True)
    agent_port = models.PositiveIntegerField(default=2886)
    agent_password_encrypted = models.TextField(blank=True)
    # Every HOST:PORT the DBA gave, dialled in order (agent_host:agent_port first); never an address an agent reports.
    agent_addresses = models.JSONField(default=list, blank=True)
    ob_password_encrypted = models.TextField(blank=True)  # root@sys, Fernet-encrypted (FIELD_ENCRYPTION_KEY)
    # Pinned public keys, address → base64 PKCS#1 (agents have one key each), and a change awaiting an admin.
    agent_public_key = models.JSONField(default=dict, blank=True)
    agent_key_change = models.JSONField(default=dict, blank=True)
    unreachable_since = models.DateTimeField(null=True, blank=True)
    # Why traffic to the agent stopped ("credentials rejected", "public key changed"), empty while it flows.
    contact_problem = models.CharField(max_length=200, blank=True)
    # A maintenance DAG on the agent that is not an upgrade (scale-out, tenant work): shown as the holder, never
    # mirrored. {"id", "name", "state"}; empty when none.
    agent_maintenance = models.JSONField(default=dict, blank=True)
    # Simulated health findings that the pre-checks read (spec 4 steps 5 and 7), e.g. {"tablets_merging": true};
    # `python_missing` / `mysql_connector_missing` are true (every host) or a list of host IPs.
    health = models.JSONField(default=dict, blank=True)
    # The last POST /api/v1/upgrade/params/backup: GV$OB_PARAMETERS rows in obshell's ObParameters shape, which
    # POST /api/v1/upgrade/params/restore applies when its body names none (upgrades/services/parameters.py).
    parameters_backup = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    topology_refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def target_package_name(self):
        return TARGET_PACKAGE[self.edition]

    @property
    def required_package_names(self):
        return REQUIRED_PACKAGES[self.edition]

    def agent_server(self):
        """The server whose agent is the cluster agent (coordinator): the first server, in zone order."""
        return self.servers.select_related("zone").order_by("zone__position", "id").first()


class Zone(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE"
        INACTIVE = "INACTIVE"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(max_length=64)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["cluster", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="zone_unique_name")]

    def __str__(self):
        return f"{self.cluster.name}/{self.name}"


class Server(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE"
        INACTIVE = "INACTIVE"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="servers")
    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="servers")
    ip = models.GenericIPAddressField()
    agent_port = models.PositiveIntegerField(default=2886)
    sql_port = models.PositiveIntegerField(default=2881)
    rpc_port = models.PositiveIntegerField(default=2882)
    arch = models.CharField(max_length=16, default="x86_64")
    distribution = models.CharField(max_length=16, default="el7")
    # OB's BUILD_VERSION form without the tail: "<version>_<build>", e.g. 4.2.1.0_100000102023092807.
    build_version = models.CharField(max_length=64)
    # The obshell agent's VERSION-RELEASE, e.g. 4.2.1.0-100000102023092807 (obshell's all_agent.version), and when
    # it last (re)started: "Restart obshell" (of an obshell or an OB upgrade) changes both.
    agent_version = models.CharField(max_length=64, blank=True)
    agent_started_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    process_running = models.BooleanField(default=True)
    with_rootserver = models.BooleanField(default=False)
    # Simulated cluster-scope parameter values set on this server (ALTER SYSTEM SET ... SERVER = ...); a
    # parameter not here has its default (upgrades/services/parameters.py).
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["cluster", "zone__position", "id"]
        constraints = [models.UniqueConstraint(fields=["cluster", "ip", "agent_port"], name="server_unique_agent")]
        # The fleet page reads the distinct builds the fleet runs and filters clusters by build.
        indexes = [models.Index(fields=["build_version"], name="server_build")]

    def __str__(self):
        return f"{self.ip}:{self.agent_port}"

    @property
    def agent_address(self):
        return f"{self.ip}:{self.agent_port}"

    @property
    def version(self):
        return self.build_version.split("_", 1)[0]

    @property
    def build(self):
        parts = self.build_version.split("_", 1)
        return parts[1] if len(parts) == 2 else ""


class Tenant(models.Model):
    """A tenant of a simulated cluster (DBA_OB_TENANTS, without the META tenants), with its `compatible`: the data
    version the upgrade's post script raises to the build's version (`RUN UPGRADE JOB`). A real cluster's tenants
    are read from its agent, never stored."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="tenants")
    tenant_id = models.PositiveIntegerField()
    name = models.CharField(max_length=128)
    compatible = models.CharField(max_length=64)

    class Meta:
        ordering = ["cluster", "tenant_id"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "tenant_id"], name="tenant_unique_id"),
            models.UniqueConstraint(fields=["cluster", "name"], name="tenant_unique_name"),
        ]

    def __str__(self):
        return f"{self.cluster.name}/{self.name}"


class Fault(models.Model):
    """A fault injected into a simulated cluster; fires on the next DAG reaching the named node."""

    class Kind(models.TextChoices):
        FAIL = "fail", _("Fail")
        HANG = "hang", _("Hang")
        CRASH = "crash", _("Crash")
        FAIL_ROLLBACK = "fail_rollback", _("Fail Rollback")

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="faults")
    node_name = models.CharField(max_length=128)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, null=True, blank=True, related_name="faults")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FAIL)
    times_remaining = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        target = f" on {self.server}" if self.server_id else ""
        return f"{self.kind} x{self.times_remaining} at {self.node_name!r}{target}"
