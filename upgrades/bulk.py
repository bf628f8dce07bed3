"""A lean bulk INSERT for the thousands of sub-task rows a large DAG needs at creation."""

from django.db import connection


def insert_rows(model, rows):
    """INSERT `rows` (dicts of field attname -> plain value) with one executemany; every other column takes
    its model default, prepared for the database once. bulk_create prepares every value of every row
    through the field machinery, which dominated creating a 3,000-sub-task DAG; the values here (ints,
    strings, booleans) need no preparation. No primary keys are returned."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = list(rows[0])
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields if f.attname not in given}
    columns = given + list(defaults)
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(model._meta.db_table),
        ", ".join(quote(model._meta.get_field(name).column) for name in columns),
        ", ".join(["%s"] * len(columns)),
    )
    tail = tuple(defaults.values())
    with connection.cursor() as cursor:
        cursor.executemany(sql, [tuple(row[name] for name in given) + tail for row in rows])
