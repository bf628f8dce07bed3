from django.db import migrations


def backfill_server_count(apps, schema_editor):
    """Runs made before Dag.server_count: their distinct agents, one UPDATE over every DAG."""
    Dag = apps.get_model("upgrades", "Dag")
    SubTask = apps.get_model("upgrades", "SubTask")
    quote = schema_editor.connection.ops.quote_name
    dags, sub_tasks = quote(Dag._meta.db_table), quote(SubTask._meta.db_table)
    schema_editor.execute(
        f"UPDATE {dags} SET server_count = (SELECT COUNT(*) FROM (SELECT DISTINCT s.agent_ip, s.agent_port "
        f"FROM {sub_tasks} s WHERE s.dag_id = {dags}.id) agents)"
    )


class Migration(migrations.Migration):
    dependencies = [("upgrades", "0009_parity_operations_real_clusters")]

    operations = [migrations.RunPython(backfill_server_count, migrations.RunPython.noop)]
