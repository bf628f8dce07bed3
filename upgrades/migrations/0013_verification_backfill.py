from django.db import migrations


def _version(build_version):
    return build_version.split("_", 1)[0]


def _key(version):
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def backfill_verification_values(apps, schema_editor):
    """Simulated clusters made before 0011: their sys tenant, and every server's min_observer_version, both at the
    lowest version the cluster runs (what OceanBase holds between upgrades). Real clusters are read from their agent."""
    Cluster = apps.get_model("upgrades", "Cluster")
    Server = apps.get_model("upgrades", "Server")
    Tenant = apps.get_model("upgrades", "Tenant")
    for cluster in Cluster.objects.filter(backend="simulated").iterator():
        servers = list(Server.objects.filter(cluster_id=cluster.pk))
        if not servers:
            continue
        lowest = min((_version(server.build_version) for server in servers), key=_key)
        if not Tenant.objects.filter(cluster_id=cluster.pk).exists():
            Tenant.objects.create(cluster_id=cluster.pk, tenant_id=1, name="sys", compatible=lowest)
        for server in servers:
            if "min_observer_version" not in (server.parameters or {}):
                server.parameters = {**(server.parameters or {}), "min_observer_version": lowest}
                server.save(update_fields=["parameters"])


class Migration(migrations.Migration):
    dependencies = [("upgrades", "0012_verification")]

    operations = [migrations.RunPython(backfill_verification_values, migrations.RunPython.noop)]
