"""The DAG row lock. Every writer of a DAG (workers, the scheduler, operators) takes it first, in the same
order everywhere, so they serialize per DAG and never deadlock."""

from django.db import connection

from upgrades.models import Dag


def uses_row_locks():
    return connection.features.has_select_for_update_skip_locked


def lock_dag_row(dag_id):
    """Serialize with every other writer of this DAG without reading it (SQLite's write transactions are
    already exclusive, so this is a PostgreSQL row lock only)."""
    if uses_row_locks():
        list(Dag.objects.select_for_update(of=("self",)).filter(pk=dag_id).values_list("id", flat=True))


def lock_dag(dag_id, *, skip_locked=False):
    """Lock the DAG row for this transaction (a no-op on SQLite, whose write transactions are exclusive).

    With skip_locked, returns None when another transaction holds it.
    """
    # The frozen plan is large JSON that only the executor reads.
    qs = Dag.objects.select_related("cluster").defer("plan")
    if uses_row_locks():
        qs = qs.select_for_update(skip_locked=skip_locked, of=("self",))
    return qs.filter(pk=dag_id).first()
